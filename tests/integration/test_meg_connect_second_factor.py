"""« Me connecter avec MEG » for a Libeo person who enrolled a second factor: the API key MEG receives is
issued only once they pass « Confirmez votre identité », as creating a key in « Intégrations » asks. A wrong
or replayed code is refused in French and no key exists; the right one issues the key and connects MEG.
A person who enrolled nothing keeps today's flow (tests/integration/test_meg_connect.py)."""

from __future__ import annotations

import re
from html import unescape

import pyotp
import pytest
from sqlalchemy import select, update

from core.dates import utcnow
from core.second_factor import seal, totp_step
from models.libeo import Account, ApiKey, LibeoUser, TotpFactor
from models.libeo import db as libeo_db
from tests.conftest import PUBLIC_URL
from tests.helpers import totp_code as code

from .conftest import GARAGE_SIRET, libeo_account
from .test_meg_connect import (
    Browser,
    active_keys,
    answer_consent,
    consent_and_come_back,
    meg_connection,
    page_text,
    payer_links,
    return_to_of,
)

pytestmark = pytest.mark.usefixtures("demo", "libeo_oauth_client")

ATELIER = "atelier@garage-leroy.fr"
CONFIRM = f"{PUBLIC_URL}/libeo/connexion-meg/confirmer"



def challenge_of(response) -> str:
    return re.search(r'name="sca_challenge" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def enrolled_account_without_key(libeo_app) -> str:
    """Garage Leroy's Libeo account, its MEG key revoked, its person with an authentication app."""
    libeo_account(libeo_app, name="Garage Leroy", siret=GARAGE_SIRET, email=ATELIER)
    secret = pyotp.random_base32()
    with libeo_app.app_context():
        user = libeo_db.session.scalar(select(LibeoUser).where(LibeoUser.email == ATELIER))
        libeo_db.session.execute(update(ApiKey).values(revoked_at=utcnow()))
        libeo_db.session.add(TotpFactor(user_id=user.id, secret=seal(secret, libeo_app.config["SECRET_KEY"]),
                                        created_at=utcnow(), confirmed_at=utcnow()))
        libeo_db.session.commit()
    return secret


def sign_in_through_meg(browser: Browser, meg_app) -> tuple[object, str]:
    """MEG's « Payer » → « compte existant » → logged into Libeo → MEG's consent again: Libeo's answer."""
    browser.meg_login()
    link = payer_links(browser)[0]
    browser.get(link)
    notice = consent_and_come_back(browser, meg_app)
    login_url = unescape(re.search(r'href="([^"]+)">Me connecter à ce compte Libeo',
                                   notice.get_data(as_text=True))[1])
    logged_in = browser.post(login_url, data={"email": ATELIER, "password": "mot-de-passe-solide-42"})
    return answer_consent(browser, meg_app, browser.follow(logged_in)), return_to_of(link)


def test_an_enrolled_person_confirms_with_a_code_before_the_key_is_issued(apps, meg_app, libeo_app):
    secret = enrolled_account_without_key(libeo_app)
    browser = Browser(apps)
    answer, invoice_page = sign_in_through_meg(browser, meg_app)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/libeo/connexion-meg/confirmer")
    asked = browser.get(answer.headers["Location"])
    assert asked.status_code == 200
    shown = page_text(asked)
    assert "Confirmez votre identité" in shown
    assert "Créer ou révoquer une clé d'API" in shown and "Connecter Libeo à MEG" in shown
    assert active_keys(libeo_app) == [] and meg_connection(meg_app) is None

    missing = browser.post(CONFIRM, data={"sca_challenge": challenge_of(asked), "sca_code": ""})
    assert missing.status_code == 422 and "Saisissez un code" in page_text(missing)
    good = code(secret)
    wrong = browser.post(CONFIRM, data={"sca_challenge": challenge_of(missing),
                                        "sca_code": f"{(int(good) + 1) % 10**6:06d}"})
    assert wrong.status_code == 422 and "Code incorrect" in page_text(wrong)
    assert active_keys(libeo_app) == [] and meg_connection(meg_app) is None

    # The code already used in its window (say, a moment ago in « Intégrations ») is refused.
    with libeo_app.app_context():
        libeo_db.session.execute(update(TotpFactor).values(last_step=totp_step(secret, good, None)))
        libeo_db.session.commit()
    replayed = browser.post(CONFIRM, data={"sca_challenge": challenge_of(wrong), "sca_code": good})
    assert replayed.status_code == 422 and "Ce code a déjà servi" in page_text(replayed)
    assert active_keys(libeo_app) == [] and meg_connection(meg_app) is None

    done = browser.post(CONFIRM, data={"sca_challenge": challenge_of(replayed), "sca_code": code(secret, 1)})
    assert done.status_code == 302 and done.headers["Location"] == invoice_page.replace("#", "&connexion=etablie#")
    assert len(active_keys(libeo_app)) == 1
    assert meg_connection(meg_app) is not None and meg_connection(meg_app).account_name == "Garage Leroy"
    # What was kept for the confirmation is gone: the page cannot issue a second key.
    again = browser.get(CONFIRM)
    assert again.status_code == 302 and again.headers["Location"].endswith("/libeo/connexion-meg")
    assert len(active_keys(libeo_app)) == 1


def test_without_the_code_no_key_even_when_the_page_is_left(apps, meg_app, libeo_app):
    enrolled_account_without_key(libeo_app)
    browser = Browser(apps)
    answer, _ = sign_in_through_meg(browser, meg_app)
    assert answer.headers["Location"].endswith("/libeo/connexion-meg/confirmer")
    browser.get("/libeo/factures/")
    assert active_keys(libeo_app) == [] and meg_connection(meg_app) is None


def test_an_account_requiring_it_sends_a_person_without_factor_to_enrol_first(apps, meg_app, libeo_app):
    libeo_account(libeo_app, name="Garage Leroy", siret=GARAGE_SIRET, email=ATELIER)
    with libeo_app.app_context():
        libeo_db.session.execute(update(ApiKey).values(revoked_at=utcnow()))
        libeo_db.session.execute(update(Account).values(require_strong_auth=True))
        libeo_db.session.commit()
    browser = Browser(apps)
    answer, _ = sign_in_through_meg(browser, meg_app)
    assert answer.headers["Location"].endswith("/libeo/connexion-meg/confirmer")
    sent = browser.get(answer.headers["Location"])
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/libeo/securite/")
    assert "Votre compte Libeo exige la double authentification" in page_text(browser.follow(sent))
    assert active_keys(libeo_app) == [] and meg_connection(meg_app) is None
