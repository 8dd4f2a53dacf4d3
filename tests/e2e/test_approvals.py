"""Libeo's safeguards in a browser: « À approuver », and the hold as MEG shows it.

Screenshots of each screen go to $E2E_SHOTS (a folder) when it is set, to
be looked at; otherwise to the test's temporary folder.
"""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from core.calendar import earliest_execution_date
from core.dates import paris_today

from .test_meg_achats import log_in

LIBEO_EMAIL = "claire@boulangerie-martin.fr"
LIBEO_PASSWORD = "croissants-au-beurre-2026"
OLD_IBAN = "FR7630006000010000000791963"  # Minoterie Dupuis in MEG's demo data (Crédit Agricole)
NEW_IBAN = "FR7630004008220000001583859"  # BNP Paribas


@pytest.fixture
def shots(tmp_path, request):
    folder = Path(os.environ.get("E2E_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> None:
        page.screenshot(path=str(folder / f"{request.node.name}-{name}.png"), full_page=True)

    return take


def _libeo_account(live_server, *, held: bool) -> tuple[int, str]:
    """Boulangerie Martin in Libeo, verified, with its MEG key; with ``held``, two payments held for approval."""
    from models.libeo import db
    from models.libeo.accounts.keys import issue_meg_api_key
    from models.libeo.accounts.services import create_account, verify_account
    from models.libeo.payments.order import pay_invoice
    from tests.factories import initiator, libeo_invoice

    with live_server.apps.libeo.app_context():
        account = create_account("Boulangerie Martin SARL", "83451234500002", LIBEO_EMAIL, LIBEO_PASSWORD,
                                 full_name="Claire Martin")
        verify_account(account, "vérifié par le support de Libeo", "tests")
        key = issue_meg_api_key(account, actor=LIBEO_EMAIL)
        db.session.commit()
        if held:
            day = earliest_execution_date(paris_today())
            who = initiator("compta@boulangerie-martin.fr")
            for number, iban, cents in (("MD-101", OLD_IBAN, 48_650), ("MD-102", NEW_IBAN, 51_200),
                                        ("MD-101", OLD_IBAN, 48_650)):
                invoice = libeo_invoice(account, number, supplier_iban=iban, amount_cents=cents,
                                        issue_date=date(2026, 10, 1), due_date=date(2026, 10, 31))
                pay_invoice(account, invoice, who, day)
                db.session.commit()
        return account.id, key


def _libeo_log_in(page: Page) -> None:
    page.goto("/libeo/connexion")
    page.get_by_label("Adresse e-mail").fill(LIBEO_EMAIL)
    page.get_by_label("Mot de passe").fill(LIBEO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()


def test_an_administrator_approves_one_held_payment_and_refuses_another(page: Page, live_server, shots):
    _libeo_account(live_server, held=True)
    _libeo_log_in(page)

    nav = page.get_by_role("navigation", name="Navigation principale")
    counter = nav.get_by_test_id("awaiting-count")
    expect(counter).to_have_text("2")
    shots(page, "1-factures-compteur")
    nav.get_by_role("link", name=re.compile("^À approuver")).click()
    expect(page.get_by_role("heading", name="À approuver", exact=True)).to_be_visible()

    new_iban = page.get_by_role("region").filter(has_text="MD-102")
    expect(new_iban).to_contain_text("Retenu : nouvel IBAN du fournisseur")
    expect(new_iban).to_contain_text("payé jusqu'ici sur l'IBAN FR76 •••• •••• •••• •••• ••91 963 (CREDIT AGRICOLE SA)")
    expect(new_iban).to_contain_text("BNP PARIBAS")
    duplicate = page.get_by_role("region").filter(has_text="Retenu : doublon possible")
    expect(duplicate).to_contain_text("Doublon possible : la facture MD-101 de Minoterie Dupuis")
    shots(page, "2-a-approuver")

    new_iban.get_by_role("button", name="Approuver").click()
    expect(page.get_by_role("status").filter(has_text="approuvé : Programmé le")).to_contain_text("MD-102")
    expect(counter).to_have_text("1")
    shots(page, "3-approuve")

    duplicate = page.get_by_role("region").filter(has_text="Retenu : doublon possible")
    duplicate.get_by_role("button", name="Refuser").click()  # without a reason: the browser asks for one
    expect(page.get_by_role("region").filter(has_text="Retenu : doublon possible")).to_be_visible()
    duplicate.get_by_label("Motif du refus").fill("Facture déjà payée (saisie en double)")
    duplicate.get_by_role("button", name="Refuser").click()
    expect(page.get_by_role("status").filter(has_text="refusé : il est annulé")).to_be_visible()
    expect(page.get_by_text("Aucun paiement à approuver.")).to_be_visible()
    expect(nav.get_by_test_id("awaiting-count")).to_have_count(0)
    shots(page, "4-refuse")

    nav.get_by_role("link", name="Paiements").click()
    table = page.get_by_role("table")
    expect(table.get_by_role("row").filter(has_text="MD-102")).to_contain_text("Programmé le")
    expect(table).to_contain_text("Annulé — approbation refusée : Facture déjà payée (saisie en double)")
    shots(page, "5-paiements")

    nav.get_by_role("link", name="Journal").click()
    journal = page.get_by_role("table")
    expect(journal).to_contain_text("refusé : Facture déjà payée (saisie en double)")
    expect(journal).to_contain_text("approuvé : programmé le")
    shots(page, "6-journal")

    page.get_by_role("link", name="Configuration").click()
    page.get_by_role("link", name="Approbations").click()
    page.get_by_label("Au-delà de … €, un paiement doit être approuvé").fill("1 000")
    page.get_by_label("Les paiements initiés par l'expert-comptable doivent être approuvés").check()
    page.get_by_role("button", name="Enregistrer les règles").click()
    expect(page.get_by_role("status").filter(has_text="Les règles d'approbation sont enregistrées")).to_be_visible()
    shots(page, "7-regles")


def test_meg_shows_a_held_payment_then_its_approval(page: Page, live_server, shots):
    from models.meg.libeo_link.sync import sync_pass

    _, key = _libeo_account(live_server, held=False)

    def sync():
        from models.meg import db

        with live_server.apps.meg.app_context():
            sync_pass()
            db.session.remove()

    log_in(page, "admin@boulangerie-martin.fr")
    page.goto("/meg/achats/options")
    page.get_by_label("Clé d'api LIBEO").fill(key)
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("« Boulangerie Martin SARL » (compte vérifié)").first).to_be_visible()

    # Minoterie Dupuis is paid once to its IBAN…
    page.get_by_role("link", name="Règlements").click()
    row = page.get_by_role("row").filter(has_text="Minoterie Dupuis").filter(has=page.get_by_role("link", name="Payer"))
    row.get_by_role("link", name="Payer").click()
    page.get_by_role("button", name="Confirmer le paiement").click()
    expect(page.get_by_role("status").filter(has_text="Paiement programmé le")).to_be_visible()

    # …then its IBAN changes in MEG.
    page.get_by_role("link", name="Fournisseurs").click()
    page.get_by_role("row").filter(has_text="Minoterie Dupuis").get_by_role("link", name="Modifier").click()
    expect(page.get_by_text("FR76 3000 6000 0100 0000 0791 963").first).to_be_visible()
    shots(page, "1-fournisseur")
    page.get_by_label("IBAN", exact=True).fill(NEW_IBAN)
    page.get_by_role("button", name="Enregistrer").click()
    # The old bank's BIC no longer fits: MEG says so rather than send the transfer astray.
    expect(page.get_by_text("Ce BIC (AGRIFRPPXXX) n'est pas celui de la banque de cet IBAN (BNP PARIBAS : BNPAFRPP)")
           ).to_be_visible()
    shots(page, "1b-bic-incoherent")
    page.get_by_label("BIC (facultatif)").fill("")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text(
        "son prochain paiement attendra qu'un administrateur l'approuve dans Libeo")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="Minoterie Dupuis")).to_contain_text("BNP PARIBAS")
    shots(page, "2-fournisseurs")

    # A new invoice, entered twice by mistake: MEG warns.
    for attempt in range(2):
        page.get_by_role("link", name="Factures", exact=True).click()
        page.get_by_role("link", name="Nouvelle facture").click()
        page.get_by_label("Numéro").fill("MD-2026-050" if attempt == 0 else "MD-2026-050 bis")
        page.get_by_label("Fournisseur").select_option(label="Minoterie Dupuis")
        page.get_by_label("Date de facture").fill(paris_today().isoformat())
        page.get_by_label("Échéance").fill((paris_today() + timedelta(days=30)).isoformat())
        page.get_by_label("Montant TTC (€)").fill("1 850,00")
        page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("alert").filter(has_text="Doublon possible.")).to_contain_text("Facture MD-2026-050")
    shots(page, "3-doublon")
    page.get_by_role("link", name="Annuler").click()

    # « Payer » the new invoice: Libeo holds it, MEG says so and why.
    page.get_by_role("link", name="Règlements").click()
    row = page.get_by_role("row").filter(has_text="MD-2026-050")
    row.get_by_role("link", name="Payer").click()
    confirm = page.get_by_role("region", name=re.compile("Payer la facture MD-2026-050"))
    expect(confirm).to_contain_text("BNP PARIBAS")
    expect(confirm).to_contain_text("BNPAFRPP (déduit de l'IBAN)")
    shots(page, "4-confirmation")
    confirm.get_by_role("button", name="Confirmer le paiement").click()
    expect(page.get_by_text("il attend l'approbation d'un administrateur dans Libeo")).to_be_visible()
    sync()
    page.get_by_role("link", name="MD-2026-050").click()
    expect(page.get_by_text("À approuver dans Libeo (nouvel IBAN du fournisseur)").first).to_be_visible()
    expect(page.get_by_test_id("hold-details")).to_contain_text(
        "Ce fournisseur a été payé jusqu'ici sur l'IBAN FR76 •••• •••• •••• •••• ••91 963 (CREDIT AGRICOLE SA)")
    shots(page, "5-a-approuver-dans-libeo")
    invoice_url = page.url

    # In Libeo, the administrator approves; after a sync pass MEG shows it scheduled.
    _libeo_log_in(page)
    page.locator("a[href=\"/libeo/a-approuver/\"]").first.click()
    page.get_by_role("region").filter(has_text="MD-2026-050").get_by_role("button", name="Approuver").click()
    expect(page.get_by_role("status").filter(has_text="approuvé")).to_be_visible()
    sync()
    page.goto(invoice_url)
    expect(page.get_by_text(re.compile(r"Programmé le \d\d/\d\d/\d{4}")).first).to_be_visible()
    expect(page.get_by_test_id("hold-details")).to_have_count(0)
    shots(page, "6-programme")

    page.goto("/meg/achats/options")
    page.get_by_role("link", name="Journal").click()
    journal = page.get_by_role("table")
    expect(journal).to_contain_text("IBAN du fournisseur « Minoterie Dupuis » modifié")
    expect(journal).to_contain_text("Connexion à Libeo établie")
    shots(page, "7-journal-meg")

    from models.libeo import Payment, db

    with live_server.apps.libeo.app_context():
        statuses = [p.status.value for p in db.session.scalars(select(Payment).order_by(Payment.id))]
    assert statuses == ["scheduled", "scheduled"]
