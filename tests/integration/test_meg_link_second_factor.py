"""« Me connecter avec MEG » binds a MEG sign-in to a Libeo account that exists: a way into that account, with
neither its password nor its code from then on. So the binding asks the Libeo person's second factor first,
when they enrolled one or their account requires it (as inviting a user does in « Utilisateurs »), and a new
password ends the MEG sign-ins bound to that person: the next one asks to log into the account again."""

from __future__ import annotations

import re
from html import unescape

import pyotp
import pytest
from sqlalchemy import select, update

from core.dates import utcnow
from core.second_factor import seal
from models.libeo import Account, LibeoUser, MegIdentity, TotpFactor
from models.libeo import db as libeo_db
from models.libeo.journal import JournalEntry
from tests.conftest import PUBLIC_URL
from tests.helpers import totp_code

from .conftest import GARAGE_SIRET, libeo_account
from .test_meg_connect import (
    GERANT,
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

ATELIER, PASSWORD = "atelier@garage-leroy.fr", "mot-de-passe-solide-42"
NEW_PASSWORD = "tout-nouveau-secret-2027"
CONFIRM = f"{PUBLIC_URL}/libeo/connexion-meg/confirmer"


def _garage_account(libeo_app, *, enrolled: bool, required: bool) -> str | None:
    """Garage Leroy's Libeo account (with MEG's key), its person's authentication app if ``enrolled``."""
    libeo_account(libeo_app, name="Garage Leroy", siret=GARAGE_SIRET, email=ATELIER)
    secret = pyotp.random_base32() if enrolled else None
    with libeo_app.app_context():
        user = libeo_db.session.scalar(select(LibeoUser).where(LibeoUser.email == ATELIER))
        if secret:
            libeo_db.session.add(TotpFactor(user_id=user.id, secret=seal(secret, libeo_app.config["SECRET_KEY"]),
                                            created_at=utcnow(), confirmed_at=utcnow()))
        libeo_db.session.execute(update(Account).values(require_strong_auth=required))
        libeo_db.session.commit()
    return secret


def _links(libeo_app) -> list[str]:
    with libeo_app.app_context():
        return [link.user.email for link in libeo_db.session.scalars(select(MegIdentity))]


def _challenge(response) -> str:
    return re.search(r'name="sca_challenge" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def _change_password(apps, password: str = PASSWORD) -> None:
    owner = Browser(apps)
    owner.post("/libeo/connexion", data={"email": ATELIER, "password": password})
    changed = owner.post("/libeo/mot-de-passe", data={"current_password": password, "new_password": NEW_PASSWORD,
                                                      "confirm": NEW_PASSWORD})
    assert changed.status_code == 302


def test_binding_a_meg_sign_in_to_a_libeo_account_asks_its_second_factor(apps, meg_app, libeo_app):
    """An account that requires the second factor, its person enrolled. Someone who holds only the Libeo
    password logs in and clicks « Me connecter avec MEG » with a MEG identity of a company carrying that SIRET
    (no trust needed): the link is made before any verification. The person then changes the password (every
    session ends) — and the MEG sign-in still opens the account, with neither password nor code."""
    atelier, password = ATELIER, PASSWORD
    libeo_account(libeo_app, name="Garage Leroy", siret=GARAGE_SIRET, email=atelier)  # with MEG's key already
    with libeo_app.app_context():
        user = libeo_db.session.scalar(select(LibeoUser).where(LibeoUser.email == atelier))
        sealed = seal(pyotp.random_base32(), libeo_app.config["SECRET_KEY"])
        libeo_db.session.add(TotpFactor(user_id=user.id, secret=sealed, created_at=utcnow(), confirmed_at=utcnow()))
        libeo_db.session.execute(update(Account).values(require_strong_auth=True))
        libeo_db.session.commit()

    intruder = Browser(apps)
    intruder.meg_login(GERANT)
    assert intruder.post("/libeo/connexion", data={"email": atelier, "password": password}).status_code == 302
    consent_and_come_back(intruder, meg_app)
    with libeo_app.app_context():
        linked = libeo_db.session.scalar(select(MegIdentity))
    assert linked is None, "a MEG sign-in was bound to the account with the password alone, no second factor asked"

    # What that costs: the person changes the password, every session ends, the MEG sign-in still opens the account.
    owner = Browser(apps)
    owner.post("/libeo/connexion", data={"email": atelier, "password": password})
    changed = owner.post("/libeo/mot-de-passe", data={"current_password": password,
                                                      "new_password": "tout-nouveau-secret-2027",
                                                      "confirm": "tout-nouveau-secret-2027"})
    assert changed.status_code == 302
    later = Browser(apps)
    later.meg_login(GERANT)
    landing = consent_and_come_back(later, meg_app)
    assert "Vous êtes connecté au compte Libeo" not in page_text(landing)


@pytest.mark.parametrize("enrolled, required", [(True, False), (True, True)])
def test_the_binding_waits_for_the_code_then_links_and_connects(apps, meg_app, libeo_app, enrolled, required):
    secret = _garage_account(libeo_app, enrolled=enrolled, required=required)
    browser = Browser(apps)
    browser.meg_login(GERANT)
    assert browser.post("/libeo/connexion", data={"email": ATELIER, "password": PASSWORD}).status_code == 302
    link = payer_links(browser)[0]
    browser.get(link)

    answer = answer_consent(browser, meg_app, browser.follow(browser.get("/libeo/connexion-meg/demarrer")))
    assert answer.headers["Location"].endswith("/libeo/connexion-meg/confirmer")
    asked = browser.get(CONFIRM)
    shown = page_text(asked)
    assert asked.status_code == 200 and "Confirmez votre identité" in shown
    assert "« Me connecter avec MEG » ouvrira ce compte Libeo" in shown and GERANT in shown
    assert _links(libeo_app) == []

    wrong = browser.post(CONFIRM, data={"sca_challenge": _challenge(asked), "sca_code": "000000"
                                        if totp_code(secret) != "000000" else "111111"})
    assert wrong.status_code == 422 and "Code incorrect" in page_text(wrong)
    assert _links(libeo_app) == []

    done = browser.post(CONFIRM, data={"sca_challenge": _challenge(wrong), "sca_code": totp_code(secret)})
    said = return_to_of(link).replace("#", "&connexion=etablie#")  # MEG says the connection is made
    assert done.status_code == 302 and done.headers["Location"] == said
    assert _links(libeo_app) == [ATELIER]
    assert meg_connection(meg_app).account_name == "Garage Leroy"  # one verification for the link and the key
    assert len(active_keys(libeo_app)) == 1


def test_an_account_requiring_it_sends_a_person_without_factor_to_enrol_before_binding(apps, meg_app, libeo_app):
    _garage_account(libeo_app, enrolled=False, required=True)
    browser = Browser(apps)
    browser.meg_login(GERANT)
    assert browser.post("/libeo/connexion", data={"email": ATELIER, "password": PASSWORD}).status_code == 302
    answer = answer_consent(browser, meg_app, browser.follow(browser.get("/libeo/connexion-meg/demarrer")))
    sent = browser.get(answer.headers["Location"])
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/libeo/securite/")
    assert "Votre compte Libeo exige la double authentification" in page_text(browser.follow(sent))
    assert _links(libeo_app) == []


def test_a_person_without_factor_binds_as_today(apps, meg_app, libeo_app):
    _garage_account(libeo_app, enrolled=False, required=False)
    browser = Browser(apps)
    browser.meg_login(GERANT)
    assert browser.post("/libeo/connexion", data={"email": ATELIER, "password": PASSWORD}).status_code == 302
    consent_and_come_back(browser, meg_app)
    assert _links(libeo_app) == [ATELIER]


def test_a_new_password_ends_the_meg_sign_ins_bound_to_the_person(apps, meg_app, libeo_app):
    _garage_account(libeo_app, enrolled=False, required=False)
    browser = Browser(apps)
    browser.meg_login(GERANT)
    assert browser.post("/libeo/connexion", data={"email": ATELIER, "password": PASSWORD}).status_code == 302
    consent_and_come_back(browser, meg_app)
    assert _links(libeo_app) == [ATELIER]
    again = Browser(apps)
    again.meg_login(GERANT)
    assert "Vous êtes connecté au compte Libeo" in page_text(consent_and_come_back(again, meg_app))

    _change_password(apps)
    assert _links(libeo_app) == []
    with libeo_app.app_context():
        told = libeo_db.session.scalar(select(JournalEntry.message).where(JournalEntry.kind == "meg.unlinked"))
    assert "mot de passe" in told and ATELIER in told

    # The MEG sign-in now asks to log into the account, with the new password, to bind it again.
    later = Browser(apps)
    later.meg_login(GERANT)
    notice = consent_and_come_back(later, meg_app)
    assert later.url == f"{PUBLIC_URL}/libeo/connexion-meg/compte-existant"
    assert "Vous êtes connecté au compte Libeo" not in page_text(notice)
    login_url = unescape(re.search(r'href="([^"]+)">Me connecter à ce compte Libeo', notice.get_data(as_text=True))[1])
    assert later.post(login_url, data={"email": ATELIER, "password": PASSWORD}).status_code == 200  # old: refused
    logged_in = later.post(login_url, data={"email": ATELIER, "password": NEW_PASSWORD})
    answer_consent(later, meg_app, later.follow(logged_in))
    assert _links(libeo_app) == [ATELIER]


def test_only_a_new_password_ends_the_binding_and_megs_key_stays(apps, meg_app, libeo_app):
    """Another change of the person leaves the binding; a new password ends it and nothing else: MEG's key,
    delivered to the company, stays."""
    _garage_account(libeo_app, enrolled=False, required=False)
    browser = Browser(apps)
    browser.meg_login(GERANT)
    assert browser.post("/libeo/connexion", data={"email": ATELIER, "password": PASSWORD}).status_code == 302
    consent_and_come_back(browser, meg_app)
    keys = active_keys(libeo_app)
    with libeo_app.app_context():
        person = libeo_db.session.scalar(select(LibeoUser).where(LibeoUser.email == ATELIER))
        person.full_name = "Marc Leroy"
        person.end_sessions()  # « Se déconnecter » everywhere: not a new password
        libeo_db.session.commit()
    assert _links(libeo_app) == [ATELIER]
    _change_password(apps)
    assert _links(libeo_app) == [] and active_keys(libeo_app) == keys  # MEG's key stays: « Payer » still works
