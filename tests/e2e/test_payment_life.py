"""A payment's whole life in a browser, both products side by side.

« Payer » with a chosen « Date d'exécution » → « Fichier prêt — à transmettre
à votre banque » once Libeo put it in a SEPA file → « Transmis à la banque »
clicked in « Remises » → the bank's debit notification (camt.054) imported →
« Payée via Libeo le <booking date> » in MEG's « Factures »; another payment
cancelled in Libeo → « Annulé » in MEG. MEG learns each step through its sync
pass.
"""

from __future__ import annotations

import os
from datetime import timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import select

from core.calendar import next_business_day
from core.dates import date_fr, paris_today
from tests.helpers import sync_live as sync
from tests.integration.conftest import libeo_account

from .test_meg_achats import log_in

SHOTS = os.environ.get("SCREENSHOTS_DIR")


def shot(page: Page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/payment-life-{name}.png", full_page=True)


def execute_and_answer_as_the_bank(live_server, day) -> bytes:
    """Libeo's morning run, and the bank's debit notification (camt.054) on the file it produced."""
    from devtools.bank_simulator import statement_for
    from models.libeo import SepaBatch, db
    from models.libeo.payments.sepa import execute_due_payments

    with live_server.apps.libeo.app_context():
        execute_due_payments(None, day)
        batch = db.session.scalar(select(SepaBatch))
        # Booked today: a bank books nothing in the future (Libeo refuses such a file); the debit is dated
        # ``day`` all the same, never before the execution date the file asked for.
        return statement_for(batch.xml, booking_date=min(day, paris_today()))


def row_of(page: Page, number: str):
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=number, exact=True))


def test_the_whole_life_of_a_payment(page: Page, live_server, tmp_path):
    from models.libeo import Account, db
    from models.libeo.accounts.services import set_bank_account

    account_id, key = libeo_account(live_server.apps.libeo)
    with live_server.apps.libeo.app_context():
        set_bank_account(db.session.get(Account, account_id), "FR7630006000011234567890189", None)
        db.session.commit()
    log_in(page, "admin@boulangerie-martin.fr")
    page.goto("/meg/achats/options")
    page.get_by_label("Clé d'api LIBEO").fill(key)
    page.get_by_role("button", name="Enregistrer").click()

    # « Payer » → the confirmation → another date than the proposed one → « Confirmer le paiement ».
    day = next_business_day(paris_today() + timedelta(days=3))
    page.goto("/meg/achats/reglements")
    rows = page.get_by_role("row").filter(has=page.get_by_role("link", name="Payer"))
    paid_number = rows.first.get_by_role("cell").first.inner_text().strip()
    cancelled_number = rows.nth(1).get_by_role("cell").first.inner_text().strip()
    rows.first.get_by_role("link", name="Payer").click()
    confirm = page.get_by_role("region", name=f"Payer la facture {paid_number} avec Libeo")
    expect(confirm).to_contain_text("CREDIT AGRICOLE SA")
    shot(page, "1-confirmation")
    confirm.get_by_label("Date d'exécution").fill(day.isoformat())
    confirm.get_by_role("button", name="Confirmer le paiement").click()
    expect(page.get_by_role("status").filter(has_text=f"Paiement programmé le {date_fr(day)}")).to_be_visible()
    expect(row_of(page, paid_number)).to_contain_text(f"Programmé le {date_fr(day)}")

    # A second one, paid on its proposed date.
    row_of(page, cancelled_number).get_by_role("link", name="Payer").click()
    page.get_by_role("button", name="Confirmer le paiement").click()
    expect(row_of(page, cancelled_number)).to_contain_text("Programmé le")

    # Libeo writes the first's SEPA file: nothing sent yet, MEG says so after a sync pass.
    report = execute_and_answer_as_the_bank(live_server, day)
    sync(live_server)
    page.goto("/meg/achats/")
    expect(row_of(page, paid_number)).to_contain_text("Fichier prêt — à transmettre à votre banque")
    shot(page, "2-fichier-pret")

    # In Libeo: the bank's report imported in « Remises », then the second payment cancelled.
    page.goto("/libeo/connexion")
    page.get_by_label("Adresse e-mail").fill("claire@boulangerie-martin.fr")
    page.get_by_label("Mot de passe").fill("mot-de-passe-solide-42")
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_role("link", name="Remises").click()
    page.get_by_role("button", name="Transmis à la banque").click()
    expect(page.get_by_test_id("batch-status")).to_contain_text("Transmis à la banque le")
    (tmp_path / "camt054.xml").write_bytes(report)
    page.get_by_label("Relevé de la banque").set_input_files(str(tmp_path / "camt054.xml"))
    page.get_by_role("button", name="Importer le relevé").click()
    page.get_by_role("link", name="Paiements").click()
    expect(page.get_by_role("row").filter(has_text=paid_number)).to_contain_text(f"Débité le {date_fr(day)}")
    cancel_row = page.get_by_role("row").filter(has_text=cancelled_number)
    cancel_row.get_by_role("link", name="Annuler").click()
    expect(page.get_by_role("heading", name="Annuler ce paiement ?")).to_be_visible()  # asked first
    page.get_by_role("button", name="Oui, annuler le paiement").click()
    expect(page.locator("main")).to_contain_text(f"Le paiement de la facture {cancelled_number} est annulé")
    shot(page, "3-libeo-paiements")

    # MEG, after one sync pass: paid in « Factures », gone from « Règlements »; the other « Annulé ».
    sync(live_server)
    page.goto("/meg/achats/")
    expect(row_of(page, paid_number)).to_contain_text(f"Payée via Libeo le {date_fr(day)}")
    expect(row_of(page, cancelled_number)).to_contain_text("Annulé")
    shot(page, "4-factures")
    page.goto("/meg/achats/reglements")
    expect(page.locator("main")).not_to_contain_text(paid_number)
    expect(row_of(page, cancelled_number).get_by_role("link", name="Payer")).to_be_visible()
