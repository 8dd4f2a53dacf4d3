"""« Me connecter avec MEG » for a MEG « Achats » administrator who enrolled an authentication app: MEG's
consent screen asks its code when Libeo asks the right to deliver the company's key (scope ``libeo_key``), the
authorization records that it was given, and MEG keeps a key Libeo delivers only with such a token — as
« Options » asks the code before saving a key. A person who never enrolled keeps today's flow
(tests/integration/test_meg_connect.py)."""

from __future__ import annotations

import re
from html import unescape

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from models.meg import db as meg_db
from models.meg.oauth import OAuthAuthorizationCode, OAuthToken
from tests.conftest import PUBLIC_URL
from tests.helpers import totp_code
from tests.meg.conftest import authorize_query, bearer, exchange, new_client, pkce, redirect_params
from tests.meg.conftest import company_id as meg_company_id

from .test_meg_connect import (
    GARAGE,
    GERANT,
    Browser,
    active_keys,
    company_id,
    consent_and_come_back,
    create_account_form,
    meg_connection,
    page_text,
    payer_links,
    return_to_of,
)

pytestmark = pytest.mark.usefixtures("demo", "libeo_oauth_client")

CODE_ASKED = "Code de double authentification"


def _enrol_meg_totp(browser) -> str:
    """MEG « Sécurité »: the authentication app, activated with its first code; returns its secret."""
    return _enrol(browser)[0]


def _enrol(browser) -> tuple[str, list[str]]:
    """The app's secret and the recovery codes MEG shows once (``browser``: a Browser or a test client)."""
    assert browser.post("/meg/securite/application").status_code == 302
    html = unescape(browser.get("/meg/securite/application").get_data(as_text=True))
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    done = browser.post("/meg/securite/application/confirmer", data={"code": totp_code(secret, -1)})
    assert done.status_code == 200, page_text(done)[:300]
    return secret, re.findall(r"<li>([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})</li>", done.get_data(as_text=True))


def _consent_page(browser: Browser):
    """« Me connecter avec MEG » → MEG's consent screen."""
    return browser.follow(browser.get("/libeo/connexion-meg/demarrer"))


def _authorize(browser: Browser, meg_app, code: str | None):
    return browser.post(browser.url, data={"allow": "1", "company_id": company_id(meg_app, GARAGE),
                                           **({"second_factor": code} if code is not None else {})})


def test_an_enrolled_meg_administrator_is_asked_a_code_before_libeo_delivers_the_key(apps, meg_app, libeo_app):
    """MEG: « once a person enrolled, saving the company's Libeo key asks for a code ». « Options » asks it;
    « Me connecter avec MEG » saves a key into MEG (``PUT /api/v1/libeo-key``) with the password alone. Whoever
    holds that password (not the phone) connects the company to a Libeo account they just made, verified."""
    browser = Browser(apps)
    browser.meg_login(GERANT)
    _enrol_meg_totp(browser)
    # « Options » would ask the code (tests/integration/test_second_factor_meg.py).
    assert CODE_ASKED in page_text(browser.get("/meg/achats/options"))

    browser.get(payer_links(browser)[0])
    consent_and_come_back(browser, meg_app)
    create_account_form(browser)

    assert meg_connection(meg_app, GARAGE) is None, (
        "the Libeo key was saved in MEG without the administrator's authentication-app code")


def test_the_consent_screen_asks_the_code_and_the_key_is_then_saved(apps, meg_app, libeo_app):
    browser = Browser(apps)
    browser.meg_login(GERANT)
    secret = _enrol_meg_totp(browser)
    link = payer_links(browser)[0]
    browser.get(link)
    consent = _consent_page(browser)
    shown = page_text(consent)
    assert CODE_ASKED in shown and "le droit de connecter Libeo à MEG" in shown

    # A wrong code: the consent screen again, in French, and nothing goes to Libeo.
    good = totp_code(secret)
    wrong = _authorize(browser, meg_app, f"{(int(good) + 1) % 10**6:06d}")
    assert wrong.status_code == 422 and "Code incorrect" in page_text(wrong)
    assert "Libeo souhaite accéder à votre compte MEG" in page_text(wrong)
    with meg_app.app_context():
        assert meg_db.session.scalar(select(OAuthAuthorizationCode.id)) is None

    answer = _authorize(browser, meg_app, good)
    assert answer.headers["Location"].startswith(f"{PUBLIC_URL}/libeo/connexion-meg/retour?")
    browser.follow(browser.get(answer.headers["Location"]))
    done = create_account_form(browser)
    assert done.headers["Location"] == return_to_of(link).replace("#", "&connexion=etablie#")
    assert meg_connection(meg_app, GARAGE).account_name == GARAGE
    assert len(active_keys(libeo_app)) == 1


def test_without_the_code_the_key_is_refused_and_the_person_told_how_to_connect(apps, meg_app, libeo_app):
    browser = Browser(apps)
    browser.meg_login(GERANT)
    secret = _enrol_meg_totp(browser)
    link = payer_links(browser)[0]
    browser.get(link)
    consent_and_come_back(browser, meg_app)  # « Autoriser » with the code left empty
    told = browser.follow(create_account_form(browser))

    assert browser.url == f"{PUBLIC_URL}/libeo/connexion-meg"
    shown = page_text(told)
    assert "la double authentification est activée pour vous dans MEG" in shown
    assert "Me connecter avec MEG" in shown and "Revenir à la facture dans MEG" in shown
    assert meg_connection(meg_app, GARAGE) is None
    assert active_keys(libeo_app) == []  # the key MEG refused is revoked: nobody holds it

    # « Me connecter avec MEG » again, the code typed this time: the account made meanwhile is connected.
    _consent_page(browser)
    answer = _authorize(browser, meg_app, totp_code(secret))
    landing = browser.follow(browser.get(answer.headers["Location"]))
    assert "La connexion est établie : « Payer » fonctionne maintenant dans MEG" in page_text(landing)
    assert "Revenir à la facture dans MEG" in page_text(landing)
    assert meg_connection(meg_app, GARAGE).account_name == GARAGE
    assert len(active_keys(libeo_app)) == 1


def test_the_token_records_whether_the_code_was_given(apps, meg_app, libeo_app):
    """The ID token says how the person signed in (``amr``, RFC 8176): « pwd », and « otp » with the code."""
    browser = Browser(apps)
    browser.meg_login(GERANT)
    secret = _enrol_meg_totp(browser)
    _consent_page(browser)
    browser.get(_authorize(browser, meg_app, totp_code(secret)).headers["Location"])
    _consent_page(browser)
    browser.get(_authorize(browser, meg_app, "").headers["Location"])
    with meg_app.app_context():
        assert [t.amr for t in meg_db.session.scalars(select(OAuthToken).order_by(OAuthToken.id))] == [
            "pwd otp", "pwd"]


def test_a_recovery_code_serves_once_on_the_consent_screen(apps, meg_app, libeo_app):
    browser = Browser(apps)
    browser.meg_login(GERANT)
    _, codes = _enrol(browser)
    _consent_page(browser)
    answer = _authorize(browser, meg_app, codes[0])
    assert answer.headers["Location"].startswith(f"{PUBLIC_URL}/libeo/connexion-meg/retour?")
    browser.get(answer.headers["Location"])
    _consent_page(browser)
    again = _authorize(browser, meg_app, codes[0])
    assert again.status_code == 422 and "Ce code de secours n'est pas valable, ou il a déjà servi" in page_text(again)


def test_an_administrator_who_never_enrolled_is_not_asked(apps, meg_app, libeo_app):
    browser = Browser(apps)
    browser.meg_login(GERANT)
    link = payer_links(browser)[0]
    browser.get(link)
    assert CODE_ASKED not in page_text(_consent_page(browser))
    answer = _authorize(browser, meg_app, None)
    browser.follow(browser.get(answer.headers["Location"]))
    said = return_to_of(link).replace("#", "&connexion=etablie#")  # MEG says the connection is made
    assert create_account_form(browser).headers["Location"] == said
    assert meg_connection(meg_app, GARAGE) is not None


def test_a_code_enrolled_after_the_consent_still_stops_the_key(apps, meg_app, libeo_app):
    """The token of a consent given before the person enrolled carries no code: once enrolled, it delivers
    no key (the rule is read when the key arrives, as the « Achats » rights are)."""
    browser = Browser(apps)
    browser.meg_login(GERANT)
    browser.get(payer_links(browser)[0])
    consent_and_come_back(browser, meg_app)
    _enrol_meg_totp(browser)
    create_account_form(browser)
    assert meg_connection(meg_app, GARAGE) is None


def _tokens(client, meg_app, code: str) -> dict:
    """The whole dance with a standard client, the consent given with ``code``: MEG's token response."""
    client_id, secret = new_client(meg_app)
    verifier, challenge = pkce()
    consent = client.post(authorize_query(client_id, challenge),
                          data={"allow": "1", "company_id": meg_company_id(meg_app), "second_factor": code})
    response = exchange(client, redirect_params(consent)[1]["code"], client_id, secret, verifier)
    assert response.status_code == 200, response.json
    return response.json


def test_megs_api_refuses_the_key_of_a_token_given_without_the_code(client, meg_auth, meg_app):
    """``PUT /api/v1/libeo-key`` itself: an enrolled administrator's token without the code is refused in
    French (RFC 9470's ``insufficient_user_authentication``) and nothing is saved. The ID token tells any
    client how the person signed in (``amr``)."""
    meg_auth.login("admin@boulangerie-martin.fr")
    secret, _ = _enrol(client)
    keys = KeySet.import_key_set(client.get("/meg/oauth/jwks").json)
    with_code = _tokens(client, meg_app, totp_code(secret))
    assert jwt.decode(with_code["id_token"], keys, algorithms=["RS256"]).claims["amr"] == ["pwd", "otp"]
    without = _tokens(client, meg_app, "")
    assert jwt.decode(without["id_token"], keys, algorithms=["RS256"]).claims["amr"] == ["pwd"]

    token = without["access_token"]
    response = client.put("/meg/api/v1/libeo-key", json={"api_key": "lbo_live_pas-une-vraie-cle"},
                          headers=bearer(token))
    assert response.status_code == 401
    assert response.json["error"]["code"] == "insufficient_user_authentication"
    assert "code de votre application d'authentification" in response.json["error"]["message"]
    assert 'error="insufficient_user_authentication"' in response.headers["WWW-Authenticate"]
    assert meg_connection(meg_app, "Boulangerie Martin SARL") is None
