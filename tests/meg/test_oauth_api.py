"""``PUT /meg/api/v1/libeo-key``: only a valid token with ``libeo_key``, of an Achats administrator."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import delete, func, select, update

from models.meg import ModuleRole, User, db
from models.meg.demo import create_demo_data
from models.meg.libeo_link.connection import LibeoConnection
from models.meg.oauth import OAuthToken
from tests.conftest import build_apps

from .conftest import (
    access_token_for,
    authorize_query,
    bearer,
    company_id,
    exchange,
    get_code,
    new_client,
    pkce,
    redirect_params,
)

URL = "/meg/api/v1/libeo-key"
ADMIN_ONLY = "Seul un administrateur du module « Achats » peut connecter Libeo."


def put_key(client, token, body=None):
    headers = bearer(token) if token else {}
    return client.put(URL, json={"api_key": "lbo_live_pas-une-vraie-cle"} if body is None else body, headers=headers)


def connections(meg_app):
    with meg_app.app_context():
        return db.session.scalar(select(func.count()).select_from(LibeoConnection))


@pytest.mark.parametrize("header", [None, "Bearer inconnu", "Bearer ", "Basic YTpi", "Bearer " + "x" * 5000])
def test_without_a_valid_token_it_is_401(client, demo, meg_app, header):
    response = client.put(URL, json={"api_key": "k"}, headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.json["error"]["message"] == "Jeton d'accès MEG absent, invalide, expiré ou révoqué."
    assert connections(meg_app) == 0


def test_token_without_the_libeo_key_scope_is_403(client, demo, meg_auth, meg_app):
    token = access_token_for(client, meg_app, meg_auth, "admin@boulangerie-martin.fr", scope="openid company")
    response = put_key(client, token)
    assert response.status_code == 403
    assert response.json["error"]["code"] == "insufficient_scope"
    assert "ne donne pas le droit de connecter Libeo" in response.json["error"]["message"]


@pytest.mark.parametrize("email, company", [
    ("compta@boulangerie-martin.fr", "Boulangerie Martin SARL"),  # Achats user, not administrator
    ("expert@cabinet-durand.fr", "Garage Leroy SAS"),  # the firm's accountant
])
def test_only_an_achats_administrator_may_deliver_a_key(client, demo, meg_auth, meg_app, email, company):
    token = access_token_for(client, meg_app, meg_auth, email, company=company)
    response = put_key(client, token)
    assert response.status_code == 403
    assert response.json == {"error": {"code": "forbidden", "message": ADMIN_ONLY}}
    assert connections(meg_app) == 0


def test_rights_withdrawn_after_consent_count(client, demo, meg_auth, meg_app):
    token = access_token_for(client, meg_app, meg_auth, "admin@boulangerie-martin.fr")
    with meg_app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == "admin@boulangerie-martin.fr"))
        db.session.execute(delete(ModuleRole).where(ModuleRole.user_id == user_id))
        db.session.commit()
    assert put_key(client, token).status_code == 403


def test_expired_token_is_401(client, demo, meg_auth, meg_app):
    token = access_token_for(client, meg_app, meg_auth, "admin@boulangerie-martin.fr")
    with meg_app.app_context():
        db.session.execute(update(OAuthToken).values(issued_at=int(time.time()) - 3601))
        db.session.commit()
    assert put_key(client, token).status_code == 401


def test_token_of_a_replayed_code_is_401(client, demo, meg_auth, meg_app):
    client_id, secret = new_client(meg_app)
    meg_auth.login("admin@boulangerie-martin.fr")
    verifier, challenge = pkce()
    code = get_code(client, client_id, challenge, company_id(meg_app, "Boulangerie Martin SARL"))
    token = exchange(client, code, client_id, secret, verifier).json["access_token"]
    assert exchange(client, code, client_id, secret, verifier).status_code == 400
    assert put_key(client, token).status_code == 401


@pytest.mark.parametrize("body", [["api_key"], {"api_key": 42}, {"cle": "x"}, "texte"])
def test_bad_body_is_400(client, demo, meg_auth, meg_app, body):
    token = access_token_for(client, meg_app, meg_auth, "admin@boulangerie-martin.fr")
    response = put_key(client, token, body)
    assert response.status_code == 400
    assert "api_key" in response.json["error"]["message"]
    assert connections(meg_app) == 0


@pytest.mark.parametrize("depth", [600, 900, 100_000])
def test_a_body_nested_too_deep_is_400_in_french(client, demo, meg_auth, meg_app, depth):
    token = access_token_for(client, meg_app, meg_auth, "admin@boulangerie-martin.fr")
    response = client.put(URL, data=b"[" * depth + b"]" * depth,
                          headers={**bearer(token), "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json["error"] == {"code": "invalid_request",
                                      "message": "Envoyez un objet JSON de la forme {\"api_key\": \"…\"}."}
    assert connections(meg_app) == 0


def test_a_key_libeo_refuses_is_422_and_nothing_is_saved(client, demo, meg_auth, meg_app):
    token = access_token_for(client, meg_app, meg_auth, "admin@boulangerie-martin.fr")
    response = put_key(client, token)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "libeo_key_refused"
    assert response.json["error"]["message"]
    assert connections(meg_app) == 0


def test_a_company_without_siret_cannot_connect(client, demo, meg_auth, meg_app):
    token = access_token_for(client, meg_app, meg_auth, "president@amis-du-quartier.fr",
                             company="Association Les Amis du Quartier")
    response = put_key(client, token)
    assert response.status_code == 422
    assert "SIRET" in response.json["error"]["message"]
    assert connections(meg_app) == 0


def test_token_and_api_need_no_csrf_token(tmp_path):
    apps = build_apps(tmp_path, meg={"WTF_CSRF_ENABLED": True})
    with apps.meg.app_context():
        create_demo_data()
    browser = apps.root.test_client()
    login = browser.get("/meg/connexion").get_data(as_text=True)
    csrf = login.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    browser.post("/meg/connexion", data={"email": "admin@boulangerie-martin.fr", "password": "demo-meg-2026",
                                         "csrf_token": csrf})
    client_id, secret = new_client(apps.meg)
    verifier, challenge = pkce()
    url = authorize_query(client_id, challenge)
    page = browser.get(url).get_data(as_text=True)
    csrf = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    _, params = redirect_params(browser.post(url, data={"allow": "1", "csrf_token": csrf,
                                                         "company_id": company_id(apps.meg,
                                                                                  "Boulangerie Martin SARL")}))
    token = exchange(apps.root.test_client(), params["code"], client_id, secret, verifier)
    assert token.status_code == 200
    response = put_key(apps.root.test_client(), token.json["access_token"])
    assert response.status_code == 422  # past CSRF: Libeo refused the made-up key


def libeo_key(libeo_app, name, siret, email):
    """A real key of a Libeo account, as Libeo shows it once."""
    from models.libeo import db as libeo_db
    from models.libeo.accounts.keys import issue_meg_api_key
    from models.libeo.accounts.services import create_account

    with libeo_app.app_context():
        account = create_account(name=name, siret=siret, email=email, password="mot-de-passe-solide-42",
                                 full_name="Claire Martin")
        libeo_db.session.commit()
        key = issue_meg_api_key(account)
        libeo_db.session.commit()
        return key


def test_an_administrator_delivers_a_real_libeo_key(client, demo, meg_auth, meg_app, libeo_app):
    key = libeo_key(libeo_app, "Boulangerie Martin SARL", "83451234500002", "claire@boulangerie-martin.fr")
    token = access_token_for(client, meg_app, meg_auth, "admin@boulangerie-martin.fr")
    response = put_key(client, token, {"api_key": key})
    assert response.status_code == 200, response.json
    assert response.json["connected"] is True
    assert response.json["account_name"] == "Boulangerie Martin SARL"
    with meg_app.app_context():
        connection = db.session.scalar(select(LibeoConnection))
        assert connection.company.name == "Boulangerie Martin SARL"
        assert key not in connection.key_ciphertext
    assert "La connexion est établie" in client.get("/meg/achats/options").get_data(as_text=True)


def test_a_key_of_another_siret_is_refused(client, demo, meg_auth, meg_app, libeo_app):
    key = libeo_key(libeo_app, "Garage Leroy SAS", "85123456700002", "marc@garage-leroy.fr")
    token = access_token_for(client, meg_app, meg_auth, "admin@boulangerie-martin.fr")
    response = put_key(client, token, {"api_key": key})
    assert response.status_code == 422
    assert "SIRET" in response.json["error"]["message"]
    assert connections(meg_app) == 0
