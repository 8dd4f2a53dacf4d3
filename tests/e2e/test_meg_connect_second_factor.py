"""« Me connecter avec MEG » in a browser, for a Libeo person with an authentication app: « Confirmez votre
identité » comes before Libeo binds the MEG sign-in to their account and issues the key MEG receives; a wrong
code is refused and no key exists. For a MEG « Achats » administrator with an authentication app, MEG's
consent screen asks its code before Libeo may deliver the key."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.helpers import totp_code

from .test_meg_achats import log_in as meg_log_in

pytestmark = pytest.mark.usefixtures("libeo_oauth_client")

GARAGE_SIRET = "85123456700002"
ATELIER, PASSWORD = "atelier@garage-leroy.fr", "mot-de-passe-solide-42"


def _enrolled_account(live_server) -> str:
    from core.dates import utcnow
    from core.second_factor import seal
    from models.libeo import TotpFactor, db
    from models.libeo.accounts.services import create_account

    secret = pyotp.random_base32()
    libeo = live_server.apps.libeo
    with libeo.app_context():
        account = create_account("Garage Leroy", GARAGE_SIRET, ATELIER, PASSWORD, full_name="Marc Leroy")
        db.session.flush()
        db.session.add(TotpFactor(user_id=account.users[0].id, secret=seal(secret, libeo.config["SECRET_KEY"]),
                                  created_at=utcnow(), confirmed_at=utcnow()))
        db.session.commit()
    return secret


def _state(live_server) -> tuple[int, bool]:
    from models.libeo import ApiKey
    from models.libeo import db as libeo_db
    from models.meg import LibeoConnection
    from models.meg import db as meg_db

    with live_server.apps.libeo.app_context():
        keys = len(libeo_db.session.scalars(select(ApiKey.id).where(ApiKey.revoked_at.is_(None))).all())
    with live_server.apps.meg.app_context():
        connected = meg_db.session.scalar(select(LibeoConnection.id)) is not None
    return keys, connected


def _links(live_server) -> int:
    from models.libeo import MegIdentity
    from models.libeo import db as libeo_db

    with live_server.apps.libeo.app_context():
        return len(libeo_db.session.scalars(select(MegIdentity.id)).all())


def test_the_key_for_meg_waits_for_the_code_of_the_app(page: Page, live_server):
    totp = pyotp.TOTP(_enrolled_account(live_server))
    meg_log_in(page, "gerant@garage-leroy.fr")
    page.goto("/libeo/connexion")
    page.get_by_label("Adresse e-mail").fill(ATELIER)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()

    page.goto("/libeo/connexion-meg")
    page.get_by_role("link", name="Me connecter avec MEG").click()
    page.get_by_role("button", name="Autoriser").click()
    expect(page.get_by_role("heading", name="Confirmez votre identité")).to_be_visible()
    expect(page.get_by_test_id("step-up-lines")).to_contain_text("« Me connecter avec MEG » ouvrira ce compte Libeo")
    expect(page.get_by_test_id("step-up-lines")).to_contain_text("Connecter Libeo à MEG")
    assert _state(live_server) == (0, False) and _links(live_server) == 0

    page.get_by_label("Code à 6 chiffres").fill("000000" if totp.now() != "000000" else "111111")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("step-up-error")).to_contain_text("Code incorrect")
    assert _state(live_server) == (0, False)

    page.get_by_label("Code à 6 chiffres").fill(totp.at(time.time()))
    page.keyboard.press("Enter")
    expect(page.get_by_text("Vous êtes connecté au compte Libeo")).to_be_visible()
    assert _state(live_server) == (1, True)


def test_megs_consent_asks_the_code_of_an_administrator_with_an_app(page: Page, live_server):
    meg_log_in(page, "gerant@garage-leroy.fr")
    page.get_by_role("link", name="Sécurité").click()
    page.get_by_role("button", name="Activer une application d'authentification").click()
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    page.get_by_label("Code à 6 chiffres").fill(totp_code(secret, -1, margin=10))
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("recovery-codes").get_by_role("listitem")).to_have_count(10)

    page.get_by_role("navigation", name="Modules").get_by_role("link", name="Achats").click()
    page.get_by_role("link", name="Règlements").click()
    pay_link = page.get_by_role("row").filter(has=page.get_by_role("link", name="Payer")).first.get_by_role(
        "link", name="Payer")
    invoice_url = parse_qs(urlsplit(pay_link.get_attribute("href")).query)["return_to"][0]
    pay_link.click()
    page.get_by_role("link", name="Me connecter avec MEG").click()

    # MEG's consent screen: the code, for the right to connect Libeo; a wrong one keeps the person there.
    expect(page.get_by_role("heading", name="Libeo souhaite accéder à votre compte MEG")).to_be_visible()
    code = page.get_by_label("Code de double authentification")
    code.fill("000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    page.get_by_role("button", name="Autoriser").click()
    expect(page.locator("main")).to_contain_text("Code incorrect")
    expect(page.get_by_role("heading", name="Libeo souhaite accéder à votre compte MEG")).to_be_visible()
    page.get_by_label("Code de double authentification").fill(totp_code(secret))
    page.get_by_role("button", name="Autoriser").click()

    expect(page.get_by_role("heading", name="Créer votre compte Libeo")).to_be_visible()
    page.get_by_label("Gratuit", exact=True).check()
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_label("J'accepte les conditions générales d'utilisation").check()
    page.get_by_role("button", name="Créer mon compte Libeo").click()
    expect(page).to_have_url(invoice_url)  # back on the invoice, « Payer » now works
    assert _state(live_server) == (1, True)
