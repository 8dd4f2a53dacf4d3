"""MEG as OpenID Connect provider: the authorization code dance, run for real."""

from __future__ import annotations

import logging
import re
import threading
import time
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select, text, update

from models.meg import User, db
from models.meg.demo import create_demo_data
from models.meg.oauth import OAuthAuthorizationCode, OAuthToken, digest
from tests.conftest import build_apps

from .conftest import (
    ISSUER,
    REDIRECT,
    access_token_for,
    authorize_query,
    basic,
    bearer,
    company_id,
    consent,
    counts,
    exchange,
    get_code,
    new_client,
    pkce,
    redirect_params,
)

# --- discovery ----------------------------------------------------------------------------------


def test_discovery_document(client):
    response = client.get("/meg/.well-known/openid-configuration")
    assert response.status_code == 200
    metadata = response.json
    OpenIDProviderMetadata(metadata).validate()
    assert metadata["issuer"] == ISSUER
    assert metadata["authorization_endpoint"] == f"{ISSUER}/oauth/authorize"
    assert metadata["jwks_uri"] == f"{ISSUER}/oauth/jwks"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert set(metadata["scopes_supported"]) == {"openid", "profile", "email", "company", "libeo_key"}
    assert {"company_name", "company_siret", "company_achats_admin"} <= set(metadata["claims_supported"])


# --- the successful dance -----------------------------------------------------------------------


def test_full_flow_gives_a_signed_id_token_and_the_company(client, demo, meg_auth, meg_app):
    client_id, secret = new_client(meg_app)
    meg_auth.login("admin@boulangerie-martin.fr")
    verifier, challenge = pkce()
    url = authorize_query(client_id, challenge, nonce="n-0S6_WzA2Mj")

    page = client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Compta Cloud souhaite accéder à votre compte MEG" in unescape(html)
    assert "Boulangerie Martin SARL" in html
    assert "votre adresse e-mail (admin@boulangerie-martin.fr)" in html
    assert "son nom et son SIRET" in html
    assert "le droit de connecter Libeo à MEG" in html
    assert 'value="Autoriser"' in html and 'value="Refuser"' in html
    assert page.headers["Cache-Control"] == "no-store"
    # The answer is a redirect from a form: the client's site must be a form target.
    assert "form-action 'self' https://app.example.com;" in page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in page.headers["Content-Security-Policy"]

    location, params = redirect_params(consent(client, url, company_id(meg_app, "Boulangerie Martin SARL")))
    assert location.startswith(REDIRECT + "?")
    assert params["state"] == "etat-123"

    response = exchange(client, params["code"], client_id, secret, verifier)
    assert response.status_code == 200, response.json
    token = response.json
    assert token["token_type"].lower() == "bearer"
    assert 0 < token["expires_in"] <= 3600
    assert "refresh_token" not in token
    assert response.headers["Cache-Control"] == "no-store"

    jwks = KeySet.import_key_set(client.get("/meg/oauth/jwks").json)
    id_token = jwt.decode(token["id_token"], jwks, algorithms=["RS256"])
    claims = id_token.claims
    assert id_token.header["alg"] == "RS256"
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": client_id},
        nonce={"essential": True, "value": "n-0S6_WzA2Mj"},
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
    ).validate(claims)
    assert claims["email"] == "admin@boulangerie-martin.fr"
    assert claims["name"] == "Claire Martin"
    assert claims["company_name"] == "Boulangerie Martin SARL"
    assert claims["company_siret"] == "83451234500002"
    assert claims["company_achats_admin"] is True

    # Signed by MEG's key only: another key does not verify it.
    with pytest.raises(BadSignatureError):
        jwt.decode(token["id_token"], RSAKey.generate_key(2048), algorithms=["RS256"])

    info = client.get("/meg/oauth/userinfo", headers=bearer(token["access_token"]))
    assert info.status_code == 200
    assert info.json == {
        "sub": claims["sub"],
        "name": "Claire Martin",
        "email": "admin@boulangerie-martin.fr",
        "company_id": company_id(meg_app, "Boulangerie Martin SARL"),
        "company_name": "Boulangerie Martin SARL",
        "company_siret": "83451234500002",
        "company_achats_admin": True,
        "company_siret_trusted": True,
    }


def test_the_signing_key_is_kept(apps, tmp_path):
    first = apps.root.test_client().get("/meg/oauth/jwks").json
    again = build_apps(tmp_path).root.test_client().get("/meg/oauth/jwks").json
    assert first == again
    assert "d" not in first["keys"][0]  # the private part is never published
    key_file = next((tmp_path / "meg_oauth").iterdir())
    assert key_file.stat().st_mode & 0o077 == 0


def test_expert_picks_a_client_company_without_siret(client, demo, meg_auth, meg_app):
    client_id, secret = new_client(meg_app)
    meg_auth.login("expert@cabinet-durand.fr")
    verifier, challenge = pkce()
    url = authorize_query(client_id, challenge)
    html = client.get(url).get_data(as_text=True)
    for name in ("Boulangerie Martin SARL", "Garage Leroy SAS", "Association Les Amis du Quartier"):
        assert name in html
    association = company_id(meg_app, "Association Les Amis du Quartier")
    _, params = redirect_params(consent(client, url, association))
    access = exchange(client, params["code"], client_id, secret, verifier).json["access_token"]
    info = client.get("/meg/oauth/userinfo", headers=bearer(access)).json
    assert info["company_name"] == "Association Les Amis du Quartier"
    assert info["company_siret"] is None
    assert info["company_achats_admin"] is False


def test_a_company_of_someone_else_cannot_be_chosen(client, demo, meg_auth, meg_app):
    client_id, _ = new_client(meg_app)
    meg_auth.login("gerant@garage-leroy.fr")
    _, challenge = pkce()
    url = authorize_query(client_id, challenge)
    response = consent(client, url, company_id(meg_app, "Boulangerie Martin SARL"))
    assert response.status_code == 200  # the consent screen again, with the error
    assert "Garage Leroy SAS" in response.get_data(as_text=True)
    assert counts(meg_app) == (0, 0)


def test_only_asked_scopes_are_shared(client, demo, meg_auth, meg_app):
    client_id, secret = new_client(meg_app, scope="openid email")
    meg_auth.login("gerant@garage-leroy.fr")
    verifier, challenge = pkce()
    url = authorize_query(client_id, challenge, scope="openid email company")  # company not allowed
    html = client.get(url).get_data(as_text=True)
    assert "SIRET" not in html.split("recevra")[1]
    _, params = redirect_params(consent(client, url))
    token = exchange(client, params["code"], client_id, secret, verifier).json
    assert token["scope"] == "openid email"
    info = client.get("/meg/oauth/userinfo", headers=bearer(token["access_token"])).json
    assert set(info) == {"sub", "email"}
    assert info["email"] == "gerant@garage-leroy.fr"


def test_the_consent_list_reads_as_one_french_sentence(client, demo, meg_auth, meg_app):
    client_id, _ = new_client(meg_app)
    meg_auth.login("gerant@garage-leroy.fr")
    _, challenge = pkce()
    html = client.get(authorize_query(client_id, challenge)).get_data(as_text=True)
    items = [unescape(item) for item in re.findall(r"<li>(.*?)</li>",
                                                   html.split('class="consent-list"')[1].split("</ul>")[0])]
    assert len(items) >= 3
    assert all(item.endswith(" ;") for item in items[:-1]), items
    assert items[-1].endswith(".") and not items[-1].endswith(";."), items


# --- login and refusal --------------------------------------------------------------------------


def test_login_first_then_back_to_the_consent_screen(client, demo, meg_app):
    client_id, _ = new_client(meg_app)
    _, challenge = pkce()
    url = authorize_query(client_id, challenge)
    response = client.get(url)
    assert response.status_code == 302
    login = urlsplit(response.headers["Location"])
    assert login.path == "/meg/connexion" and not login.netloc
    next_url = parse_qs(login.query)["next"][0]
    assert next_url == url
    back = client.post(f"/meg/connexion?{login.query}",
                       data={"email": "admin@boulangerie-martin.fr", "password": "demo-meg-2026"})
    assert back.headers["Location"] == url
    assert "Compta Cloud souhaite accéder" in client.get(url).get_data(as_text=True)


def test_refusal_sends_access_denied_and_issues_nothing(client, demo, meg_auth, meg_app):
    client_id, _ = new_client(meg_app)
    meg_auth.login()
    _, challenge = pkce()
    location, params = redirect_params(consent(client, authorize_query(client_id, challenge), button="deny"))
    assert location.startswith(REDIRECT + "?")
    assert params["error"] == "access_denied"
    assert params["state"] == "etat-123"
    assert "code" not in params
    assert counts(meg_app) == (0, 0)


def test_prompt_none_cannot_skip_consent(client, demo, meg_auth, meg_app):
    client_id, _ = new_client(meg_app)
    _, challenge = pkce()
    _, params = redirect_params(client.get(authorize_query(client_id, challenge, prompt="none")))
    assert params["error"] == "login_required"
    meg_auth.login()
    _, params = redirect_params(client.get(authorize_query(client_id, challenge, prompt="none")))
    assert params["error"] == "consent_required"
    assert params["state"] == "etat-123"
    assert counts(meg_app) == (0, 0)


def test_the_consent_form_needs_its_csrf_token(tmp_path):
    apps = build_apps(tmp_path, meg={"WTF_CSRF_ENABLED": True})
    with apps.meg.app_context():
        create_demo_data()
    browser = apps.root.test_client()
    browser.post("/meg/connexion", data={"email": "admin@boulangerie-martin.fr", "password": "demo-meg-2026"})
    client_id, _ = new_client(apps.meg)
    _, challenge = pkce()
    response = consent(browser, authorize_query(client_id, challenge), company_id(apps.meg, "Boulangerie Martin SARL"))
    assert response.status_code == 400
    assert counts(apps.meg) == (0, 0)


# --- refused, with no token issued ------------------------------------------------------------


REDIRECT_VARIANTS = [
    "https://app.example.com/callback/",  # trailing slash
    "https://APP.example.com/callback",  # case of the host
    "https://app.example.com/Callback",  # case of the path
    "https://app.example.com/callback?next=/admin",  # query
    "http://app.example.com/callback",  # scheme
    "https://app.example.com:443/callback",  # explicit port, even the default one
    "https://app.example.com:8443/callback",  # port
    "https://evil.app.example.com/callback",  # subdomain
    "https://user@app.example.com/callback",  # userinfo
    "https://app.example.com@evil.example/callback",  # userinfo pointing elsewhere
    "https://app.example.com.evil.example/callback",  # suffix
    "https://app.example.com/callback#x",  # fragment
    "https://app.example.com/callback%2F",  # encoding
]


@pytest.mark.parametrize("variant", REDIRECT_VARIANTS)
def test_redirect_uri_must_match_exactly_at_authorization(client, demo, meg_auth, meg_app, variant):
    client_id, _ = new_client(meg_app)
    meg_auth.login()
    _, challenge = pkce()
    url = authorize_query(client_id, challenge, redirect_uri=variant)
    for response in (client.get(url), consent(client, url, company_id(meg_app, "Boulangerie Martin SARL"))):
        assert response.status_code == 400
        assert "Location" not in response.headers
        assert "Aucune information n'a été transmise" in unescape(response.get_data(as_text=True))
    assert counts(meg_app) == (0, 0)


@pytest.mark.parametrize("variant", REDIRECT_VARIANTS + ["https://app.example.com/other", ""])
def test_redirect_uri_must_match_exactly_at_the_token_endpoint(client, demo, meg_auth, meg_app, variant):
    client_id, secret = new_client(meg_app, redirect_uris=(REDIRECT, "https://app.example.com/other"))
    meg_auth.login()
    verifier, challenge = pkce()
    code = get_code(client, client_id, challenge, company_id(meg_app, "Boulangerie Martin SARL"))
    response = exchange(client, code, client_id, secret, verifier, redirect_uri=variant)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"
    assert counts(meg_app) == (1, 0)


def test_unknown_client_gets_no_redirect(client, demo, meg_auth):
    meg_auth.login()
    _, challenge = pkce()
    response = client.get(authorize_query("inconnu", challenge))
    assert response.status_code == 400
    assert "Location" not in response.headers


@pytest.mark.parametrize(
    "changes",
    [
        {"code_challenge": None, "code_challenge_method": None},  # no PKCE at all
        {"code_challenge_method": None},  # the method left out means plain
        {"code_challenge_method": "plain"},
        {"code_challenge_method": "S512"},
        {"code_challenge": "trop-court"},
    ],
    ids=["no-pkce", "no-method", "plain", "unknown-method", "malformed"],
)
def test_pkce_s256_is_required(client, demo, meg_auth, meg_app, changes):
    client_id, _ = new_client(meg_app)
    meg_auth.login()
    _, challenge = pkce()
    url = authorize_query(client_id, challenge, **changes)
    for response in (client.get(url), consent(client, url, company_id(meg_app, "Boulangerie Martin SARL"))):
        location, params = redirect_params(response)
        assert location.startswith(REDIRECT + "?")
        assert params["error"] == "invalid_request"
        assert "code" not in params
    assert counts(meg_app) == (0, 0)


def test_plain_challenge_equal_to_verifier_is_refused(client, demo, meg_auth, meg_app):
    client_id, _ = new_client(meg_app)
    meg_auth.login()
    verifier, _ = pkce()
    url = authorize_query(client_id, verifier, code_challenge_method="plain")
    _, params = redirect_params(consent(client, url, company_id(meg_app, "Boulangerie Martin SARL")))
    assert params["error"] == "invalid_request"
    assert counts(meg_app) == (0, 0)


@pytest.mark.parametrize("verifier", [None, "", "un-verificateur-bien-forme-mais-pas-le-bon-0123456789", "x" * 20],
                         ids=["missing", "empty", "wrong", "malformed"])
def test_wrong_or_missing_verifier_is_refused(client, demo, meg_auth, meg_app, verifier):
    client_id, secret = new_client(meg_app)
    meg_auth.login()
    _, challenge = pkce()
    code = get_code(client, client_id, challenge, company_id(meg_app, "Boulangerie Martin SARL"))
    response = exchange(client, code, client_id, secret, verifier)
    assert response.status_code == 400
    assert response.json["error"] in {"invalid_grant", "invalid_request"}
    assert "access_token" not in response.json
    assert counts(meg_app) == (1, 0)


def test_the_challenge_itself_is_not_a_verifier(client, demo, meg_auth, meg_app):
    client_id, secret = new_client(meg_app)
    meg_auth.login()
    _, challenge = pkce()
    code = get_code(client, client_id, challenge, company_id(meg_app, "Boulangerie Martin SARL"))
    response = exchange(client, code, client_id, secret, challenge)
    assert response.json["error"] == "invalid_grant"
    assert counts(meg_app) == (1, 0)


def test_replayed_code_is_refused_and_revokes_its_tokens(client, demo, meg_auth, meg_app):
    client_id, secret = new_client(meg_app)
    meg_auth.login()
    verifier, challenge = pkce()
    code = get_code(client, client_id, challenge, company_id(meg_app, "Boulangerie Martin SARL"))
    first = exchange(client, code, client_id, secret, verifier)
    assert first.status_code == 200
    access = first.json["access_token"]
    assert client.get("/meg/oauth/userinfo", headers=bearer(access)).status_code == 200

    replay = exchange(client, code, client_id, secret, verifier)
    assert replay.status_code == 400
    assert replay.json["error"] == "invalid_grant"
    assert "access_token" not in replay.json
    assert counts(meg_app) == (1, 1)
    refused = client.get("/meg/oauth/userinfo", headers=bearer(access))
    assert refused.status_code == 401
    assert refused.json["error"] == "invalid_token"


def test_concurrent_exchanges_of_one_code_give_one_token(apps, demo, meg_app):
    browser = apps.root.test_client()
    browser.post("/meg/connexion", data={"email": "admin@boulangerie-martin.fr", "password": "demo-meg-2026"})
    client_id, secret = new_client(meg_app)
    verifier, challenge = pkce()
    code = get_code(browser, client_id, challenge, company_id(meg_app, "Boulangerie Martin SARL"))
    barrier = threading.Barrier(4)
    results = []

    def race():
        barrier.wait()
        results.append(exchange(apps.root.test_client(), code, client_id, secret, verifier).status_code)

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200, 400, 400, 400]
    with meg_app.app_context():
        tokens = db.session.scalars(select(OAuthToken)).all()
        # Whoever came second saw a replay: the one token issued is withdrawn.
        assert len(tokens) == 1 and tokens[0].revoked_at is not None


def test_expired_code_is_refused(client, demo, meg_auth, meg_app):
    client_id, secret = new_client(meg_app)
    meg_auth.login()
    verifier, challenge = pkce()
    code = get_code(client, client_id, challenge, company_id(meg_app, "Boulangerie Martin SARL"))
    with meg_app.app_context():
        item = db.session.scalar(select(OAuthAuthorizationCode))
        assert item.expires_at - time.time() <= 5 * 60
        db.session.execute(update(OAuthAuthorizationCode).values(expires_at=int(time.time()) - 1))
        db.session.commit()
    response = exchange(client, code, client_id, secret, verifier)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"
    assert counts(meg_app) == (1, 0)


@pytest.mark.parametrize("how", ["wrong-secret", "no-secret", "secret-post-wrong", "other-client"])
def test_client_must_authenticate(client, demo, meg_auth, meg_app, how):
    client_id, secret = new_client(meg_app)
    other_id, other_secret = new_client(meg_app, name="Autre")
    meg_auth.login()
    verifier, challenge = pkce()
    code = get_code(client, client_id, challenge, company_id(meg_app, "Boulangerie Martin SARL"))
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
    if how == "wrong-secret":
        response = client.post("/meg/oauth/token", data=form, headers=basic(client_id, secret[:-1] + "x"))
    elif how == "no-secret":
        response = client.post("/meg/oauth/token", data={**form, "client_id": client_id})
    elif how == "secret-post-wrong":
        response = client.post("/meg/oauth/token", data={**form, "client_id": client_id, "client_secret": "non"})
    else:
        response = client.post("/meg/oauth/token", data=form, headers=basic(other_id, other_secret))
    assert response.status_code in (400, 401)
    assert response.json["error"] in {"invalid_client", "invalid_grant"}
    assert counts(meg_app) == (1, 0)


def test_unknown_scope_is_refused(client, demo, meg_auth, meg_app):
    client_id, _ = new_client(meg_app)
    meg_auth.login()
    _, challenge = pkce()
    _, params = redirect_params(client.get(authorize_query(client_id, challenge, scope="openid admin")))
    assert params["error"] == "invalid_scope"


# --- nothing secret in clear --------------------------------------------------------------------


def test_secrets_codes_and_tokens_are_stored_hashed(client, demo, meg_auth, meg_app):
    client_id, secret = new_client(meg_app)
    meg_auth.login()
    verifier, challenge = pkce()
    code = get_code(client, client_id, challenge, company_id(meg_app, "Boulangerie Martin SARL"))
    access = exchange(client, code, client_id, secret, verifier).json["access_token"]
    with meg_app.app_context():
        dump = []
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(text(f'SELECT * FROM "{table.name}"')):
                dump.extend(str(value) for value in row)
    everything = "\n".join(dump)
    for plaintext in (secret, code, access):
        assert plaintext not in everything
        assert digest(plaintext) in everything
    assert client_id in everything  # the id is not a secret


def test_no_secret_reaches_the_logs_even_at_debug_level(client, demo, meg_auth, meg_app, caplog):
    caplog.set_level(logging.DEBUG)
    client_id, secret = new_client(meg_app)
    meg_auth.login()
    verifier, challenge = pkce()
    code = get_code(client, client_id, challenge, company_id(meg_app, "Boulangerie Martin SARL"))
    token = exchange(client, code, client_id, secret, verifier).json
    client.get("/meg/oauth/userinfo", headers=bearer(token["access_token"]))
    for plaintext in (secret, code, verifier, token["access_token"], token["id_token"]):
        assert plaintext not in caplog.text


def test_user_and_company_are_those_of_the_consent(client, demo, meg_auth, meg_app):
    access = access_token_for(client, meg_app, meg_auth, "gerant@garage-leroy.fr", company="Garage Leroy SAS")
    with meg_app.app_context():
        token = db.session.scalar(select(OAuthToken))
        assert token.user == db.session.scalar(select(User).where(User.email == "gerant@garage-leroy.fr"))
        assert token.company.name == "Garage Leroy SAS"
    assert client.get("/meg/oauth/userinfo", headers=bearer(access)).json["company_name"] == "Garage Leroy SAS"


@pytest.mark.parametrize("changes, extra", [
    ({"nonce": "n" * 3000}, ""),
    ({"state": "s" * 3000}, ""),
    ({"state": "été\x00\n"}, ""),
    ({"scope": "openid \u202e"}, ""),
    ({"code_challenge": "a" * 3000}, ""),
    ({"response_type": "token"}, ""),
    ({}, "&client_id=autre"),  # a parameter given twice
    ({}, "&redirect_uri=" + REDIRECT),
])
def test_odd_authorization_requests_get_an_answer_not_a_crash(client, demo, meg_auth, meg_app, changes, extra):
    client_id, _ = new_client(meg_app)
    meg_auth.login()
    _, challenge = pkce()
    url = authorize_query(client_id, challenge, **changes) + extra
    for response in (client.get(url), consent(client, url, company_id(meg_app, "Boulangerie Martin SARL"))):
        assert response.status_code in (200, 302, 400)


def test_odd_token_requests_get_an_answer_not_a_crash(client, demo, meg_app):
    client_id, secret = new_client(meg_app)
    for data in ({}, {"grant_type": "password"}, {"grant_type": "authorization_code"},
                 {"grant_type": "authorization_code", "code": "c" * 5000, "code_verifier": "v" * 5000}):
        response = client.post("/meg/oauth/token", data=data, headers=basic(client_id, secret))
        assert response.status_code == 400
        assert "error" in response.json
    assert client.post("/meg/oauth/token", data={"grant_type": "authorization_code"},
                       headers={"Authorization": "Basic %%%"}).status_code in (400, 401)
