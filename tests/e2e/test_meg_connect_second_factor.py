"""« Me connecter avec MEG » in a browser, for a Libeo person with an authentication app: « Confirmez votre
identité » comes before Libeo issues the key MEG receives; a wrong code is refused and no key exists."""

from __future__ import annotations

import time

import pyotp
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

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
    expect(page.get_by_test_id("step-up-lines")).to_contain_text("Connecter Libeo à MEG")
    assert _state(live_server) == (0, False)

    page.get_by_label("Code à 6 chiffres").fill("000000" if totp.now() != "000000" else "111111")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("step-up-error")).to_contain_text("Code incorrect")
    assert _state(live_server) == (0, False)

    page.get_by_label("Code à 6 chiffres").fill(totp.at(time.time()))
    page.keyboard.press("Enter")
    expect(page.get_by_text("Vous êtes connecté au compte Libeo")).to_be_visible()
    assert _state(live_server) == (1, True)
