"""« Me connecter avec MEG » in a browser, for identity: a SIRET typed in MEG takes no one's Libeo account (the
issue's second case, through the screens), and the account created from MEG is asked for its debit IBAN."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from .test_identity import shots  # noqa: F401
from .test_meg_achats import log_in

pytestmark = pytest.mark.usefixtures("libeo_oauth_client")

VICTIM_SIRET = "55667788800001"  # « TRANSPORTS VICTOR » in the registry


def _through_meg(page: Page) -> None:
    page.goto("/libeo/connexion-meg")
    page.get_by_role("link", name="Me connecter avec MEG").click()
    expect(page.get_by_role("heading", name="Libeo souhaite accéder à votre compte MEG")).to_be_visible()
    page.get_by_role("button", name="Autoriser").click()


def test_a_victims_siret_typed_in_meg_takes_nothing_in_libeo(page: Page, live_server, shots):  # noqa: F811
    from models.libeo import Account, db
    from models.libeo.accounts.keys import issue_meg_api_key
    from models.libeo.accounts.services import create_account

    with live_server.apps.libeo.app_context():
        victim = create_account("Transports Victor", VICTIM_SIRET, "victor@transports.fr", "camions-rouges-2026")
        key = issue_meg_api_key(victim)
        db.session.commit()
        victim_id = victim.id

    log_in(page, "president@amis-du-quartier.fr")
    page.goto("/meg/entreprise/fiche")
    page.get_by_label("SIRET (facultatif)").fill("556 677 888 00001")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_test_id("siret-trust")).to_contain_text("SIRET à confirmer")
    _through_meg(page)
    expect(page.get_by_text("Un compte Libeo existe déjà")).to_be_visible()
    shots(page, "compte-existant")

    with live_server.apps.libeo.app_context():
        kept = db.session.get(Account, victim_id)
        assert (kept.siret, kept.lost_siret, kept.is_verified) == (VICTIM_SIRET, None, False)
        assert db.session.scalar(select(Account.id).where(Account.siret == VICTIM_SIRET)) == victim_id
    answer = page.request.get("/libeo/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert answer.status == 200  # the victim's key still works


def test_the_account_created_from_meg_is_asked_for_its_debit_iban(page: Page, live_server, shots):  # noqa: F811
    from models.libeo import Account, db

    log_in(page, "gerant@garage-leroy.fr")
    _through_meg(page)
    expect(page.get_by_role("heading", name="Créer votre compte Libeo")).to_be_visible()
    iban = page.get_by_label("IBAN du compte à débiter (facultatif)")
    iban.fill("BR18 0036 0305 0000 1000 9795 493C 1")
    page.get_by_label("Mot de passe").fill("pistons-et-bougies-2026")
    page.get_by_label("J'accepte les conditions générales d'utilisation").check()
    page.get_by_role("button", name="Créer mon compte Libeo").click()
    expect(page.get_by_text("hors de la zone SEPA (Brésil, BR)")).to_be_visible()
    shots(page, "iban-refuse")
    page.get_by_label("IBAN du compte à débiter (facultatif)").fill("FR76 3000 6000 0112 3456 7890 189")
    page.get_by_label("Mot de passe").fill("pistons-et-bougies-2026")
    page.get_by_label("J'accepte les conditions générales d'utilisation").check()
    page.get_by_role("button", name="Créer mon compte Libeo").click()
    expect(page.get_by_role("heading", name="Créer votre compte Libeo")).to_have_count(0)
    with live_server.apps.libeo.app_context():
        assert db.session.scalar(select(Account.debtor_iban)) == "FR7630006000011234567890189"
