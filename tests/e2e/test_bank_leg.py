"""The bank leg in a browser: « Remises » from the file ready to the bank's answers, a rejected payment asking for
the supplier's new IBAN on both products, an anomaly resolved by a person, « Marquer comme débité » with its date.
At 1280 and 390 pixels (``SCREENSHOTS_DIR`` keeps the screenshots)."""

from __future__ import annotations

import os

from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from core.calendar import previous_business_day
from core.dates import date_fr, paris_today
from tests.helpers import sync_live as sync
from tests.integration.conftest import libeo_account

from .test_meg_achats import log_in

SHOTS = os.environ.get("SCREENSHOTS_DIR")
def dated_constants() -> dict:
    """What this module derives from today, computed again when a run crosses midnight in Paris (tests/conftest.py)."""
    return {"RUN_DAY": previous_business_day(paris_today())}


(RUN_DAY,) = dated_constants().values()
WORDS = ("Compte du bénéficiaire clôturé le 30/11/2026 à la demande de son titulaire ; merci de contacter votre "
         "fournisseur pour obtenir ses nouvelles coordonnées bancaires.")


def shots(page: Page, name: str) -> None:
    """The page at 1280 px, then on a phone (390 px)."""
    if not SHOTS:
        return
    page.screenshot(path=f"{SHOTS}/bank-{name}-1280.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=f"{SHOTS}/bank-{name}-390.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def execute(live_server) -> bytes:
    from models.libeo import Payment, PaymentStatus, SepaBatch, db
    from models.libeo.payments.sepa import execute_due_payments

    with live_server.apps.libeo.app_context():
        db.session.execute(update(Payment).where(Payment.status == PaymentStatus.SCHEDULED)
                           .values(execution_date=RUN_DAY))
        db.session.commit()
        execute_due_payments(None, RUN_DAY)
        return db.session.scalar(select(SepaBatch.xml))


def end_to_end_ids(live_server) -> list[str]:
    from models.libeo import Payment, db

    with live_server.apps.libeo.app_context():
        return [f"LIBEO-{i}" for i in db.session.scalars(select(Payment.id).order_by(Payment.id))]


def upload(page: Page, tmp_path, name: str, content: bytes) -> None:
    page.goto("/libeo/remises/")
    (tmp_path / name).write_bytes(content)
    page.get_by_label("Relevé de la banque").set_input_files(str(tmp_path / name))
    page.get_by_role("button", name="Importer le relevé").click()


def test_the_bank_leg_on_remises_payments_and_megs_invoice(page: Page, live_server, tmp_path):
    from devtools.bank_simulator import statement_for, status_report_for
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

    # Three invoices paid from MEG « Règlements ».
    numbers = []
    for _ in range(3):
        page.goto("/meg/achats/reglements")
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Payer")).first
        numbers.append(row.get_by_role("cell").first.inner_text().strip())
        row.get_by_role("link", name="Payer").click()
        if len(numbers) == 1:
            shots(page, "01-meg-payer")
        page.get_by_role("button", name="Confirmer le paiement").click()
        expect(page.get_by_role("status").filter(has_text="Paiement programmé le")).to_be_visible()

    pain001 = execute(live_server)
    debited_e2e, rejected_e2e, returned_e2e = end_to_end_ids(live_server)
    sync(live_server)
    page.goto("/meg/achats/")
    expect(page.get_by_role("row").filter(has_text=numbers[0])).to_contain_text(
        "Fichier prêt — à transmettre à votre banque")

    page.goto("/libeo/connexion")
    page.get_by_label("Adresse e-mail").fill("claire@boulangerie-martin.fr")
    page.get_by_label("Mot de passe").fill("mot-de-passe-solide-42")
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_role("link", name="Remises").click()
    expect(page.get_by_test_id("batch-status")).to_have_text("Fichier prêt — à transmettre à votre banque")
    expect(page.get_by_test_id("debtor-iban")).to_contain_text("FR76 ••••")
    shots(page, "02-remises-fichier-pret")
    page.get_by_role("button", name="Transmis à la banque").click()
    expect(page.get_by_test_id("batch-status")).to_contain_text(f"Transmis à la banque le {date_fr(paris_today())}")

    # The bank's status report: one accepted, one rejected for a closed account (its words split in two).
    upload(page, tmp_path, "pain002.xml", status_report_for(
        pain001, {rejected_e2e: ("RJCT", "AC04")}, default="ACSP", texts={rejected_e2e: WORDS}))
    expect(page.get_by_role("status").first).to_contain_text("1 paiement rejeté, 2 paiements acceptés par la banque")
    shots(page, "03-remises-statut")

    # The debit notification: one debited, one returned after… nothing: both decided, then a contradiction.
    upload(page, tmp_path, "camt054.xml", statement_for(pain001, debited=[debited_e2e],
                                                        returns={returned_e2e: ("MS03", None)},
                                                        booking_date=RUN_DAY))
    expect(page.get_by_role("status").first).to_contain_text("1 paiement débité, 1 paiement rejeté")
    upload(page, tmp_path, "camt054-bis.xml", statement_for(pain001, debited=[], message_id="CAMT054-RETOUR",
                                                            returns={debited_e2e: ("AC06", None)},
                                                            booking_date=RUN_DAY))
    anomalies = page.get_by_test_id("anomalies")
    expect(anomalies).to_contain_text("Libeo le garde débité jusqu'à votre décision")
    shots(page, "04-remises-anomalie")
    anomalies.get_by_role("button", name="Garder").click()
    expect(page.get_by_role("status").first).to_contain_text("État gardé")

    # The rejected payment's page: the reason, the bank's words, the new IBAN asked for.
    page.get_by_role("link", name="Paiements").click()
    page.get_by_role("row").filter(has_text=numbers[1]).get_by_test_id("payment-status").click()
    expect(page.get_by_test_id("payment-status")).to_contain_text("Rejeté : compte du bénéficiaire clôturé (AC04)")
    expect(page.get_by_test_id("bank-text")).to_have_text(WORDS)
    expect(page.get_by_test_id("new-iban-required")).to_contain_text("son nouvel IBAN")
    shots(page, "05-libeo-paiement-rejete")
    page.goto("/libeo/paiements/")
    page.get_by_role("row").filter(has_text=numbers[0]).get_by_test_id("payment-status").click()
    expect(page.get_by_test_id("payment-status")).to_have_text(f"Débité le {date_fr(RUN_DAY)}")
    shots(page, "06-libeo-paiement-debite")

    # MEG: the same states and dates; « Payer » waits for the new IBAN.
    sync(live_server)
    page.goto("/meg/achats/")
    expect(page.get_by_role("row").filter(has_text=numbers[0])).to_contain_text(
        f"Payée via Libeo le {date_fr(RUN_DAY)}")
    shots(page, "07-meg-factures")
    page.goto("/meg/achats/reglements")
    expect(page.get_by_role("row").filter(has_text=numbers[1])).to_contain_text(
        "Nouvel IBAN du fournisseur nécessaire")
    page.get_by_role("row").filter(has_text=numbers[1]).get_by_role("link", name=numbers[1]).click()
    expect(page.get_by_test_id("new-iban-required")).to_contain_text("Demandez au fournisseur son nouvel IBAN")
    shots(page, "08-meg-facture-rejetee")
    page.goto("/meg/achats/")
    page.get_by_role("link", name=numbers[0], exact=True).click()
    expect(page.get_by_test_id("libeo-document")).to_have_text("Justificatif de paiement (PDF)")
    shots(page, "09-meg-facture-payee")


def test_mark_as_debited_asks_the_date_and_the_debit_iban_change(page: Page, live_server, tmp_path):
    from models.libeo import Account, db
    from models.libeo.accounts.services import set_bank_account

    account_id, key = libeo_account(live_server.apps.libeo)
    with live_server.apps.libeo.app_context():
        set_bank_account(db.session.get(Account, account_id), "FR7630006000011234567890189", None)
        db.session.get(Account, account_id).approval_threshold_cents = 1_000_000
        db.session.commit()
    log_in(page, "admin@boulangerie-martin.fr")
    page.goto("/meg/achats/options")
    page.get_by_label("Clé d'api LIBEO").fill(key)
    page.get_by_role("button", name="Enregistrer").click()
    page.goto("/meg/achats/reglements")
    page.get_by_role("row").filter(has=page.get_by_role("link", name="Payer")).first.get_by_role(
        "link", name="Payer").click()
    page.get_by_role("button", name="Confirmer le paiement").click()
    execute(live_server)

    page.goto("/libeo/connexion")
    page.get_by_label("Adresse e-mail").fill("claire@boulangerie-martin.fr")
    page.get_by_label("Mot de passe").fill("mot-de-passe-solide-42")
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_role("link", name="Paiements").click()
    page.get_by_role("link", name="Marquer comme débité").first.click()
    expect(page.get_by_label("Date du débit sur votre relevé")).to_have_value(paris_today().isoformat())
    shots(page, "10-marquer-comme-debite")
    page.get_by_label("Date du débit sur votre relevé").fill(RUN_DAY.isoformat())
    page.get_by_role("button", name="Confirmer : le virement est débité").click()
    expect(page.get_by_test_id("payment-status")).to_have_text(f"Débité le {date_fr(RUN_DAY)}")

    # The debit IBAN: with an approval rule, a second administrator must confirm.
    page.goto("/libeo/configuration/")
    page.get_by_label("IBAN du compte à débiter").fill("FR76 3000 4000 0312 3456 7890 143")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_test_id("debtor-iban-pending")).to_contain_text("Changement en attente de confirmation")
    shots(page, "11-configuration-iban-en-attente")
    page.get_by_role("link", name="Remises").click()
    expect(page.get_by_test_id("debtor-iban-change")).to_contain_text("en attente de la confirmation")
    shots(page, "12-remises-iban-en-attente")
