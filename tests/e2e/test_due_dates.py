"""Due dates a person sees, in Chromium at 1280 px and on a 390 px phone: « En retard » and « Échéance
proche » in the lists, and « Cette semaine » (to pay, leaving the bank, awaiting approval) on each home."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from core.calendar import next_business_day
from core.dates import paris_today, week_of
from tests.helpers import page_width

from .test_einvoice_import import shots  # noqa: F401 (fixture)
from .test_meg_achats import log_in

EMAIL, PASSWORD = "claire@boulangerie-martin.fr", "croissants-au-beurre-2026"


@pytest.fixture(params=[1280, 390], ids=lambda width: f"{width}px")
def width(request, page: Page) -> int:
    page.set_viewport_size({"width": request.param, "height": 900})
    return request.param


def due_in(live_server, number_suffix: str, days: int) -> str:
    """Moves a demo invoice of Boulangerie Martin's due date to ``days`` from today; returns its number."""
    from models.meg import Company, SupplierInvoice, db

    with live_server.apps.meg.app_context():
        company = db.session.scalar(select(Company).where(Company.name == "Boulangerie Martin SARL"))
        invoice = db.session.scalar(select(SupplierInvoice).where(SupplierInvoice.company_id == company.id,
                                                                  SupplierInvoice.number.endswith(number_suffix)))
        invoice.due_date = paris_today() + timedelta(days=days)
        db.session.commit()
        return invoice.number


def test_meg_flags_late_and_soon_due_invoices_and_sums_up_the_week(page: Page, live_server, width, shots):
    soon = due_in(live_server, "-002", 7)
    log_in(page, "admin@boulangerie-martin.fr")
    page.goto("/meg/achats/")
    late_row = page.get_by_role("row").filter(has_text="-005")
    expect(late_row.get_by_test_id("due-flag")).to_have_text("En retard")
    expect(page.get_by_role("row").filter(has_text=soon).get_by_test_id("due-flag")).to_have_text("Échéance proche")
    expect(page.get_by_role("row").filter(has_text="-001").get_by_test_id("due-flag")).to_have_count(0)
    expect(page.get_by_role("row").filter(has_text="-007").get_by_test_id("due-flag")).to_have_count(0)  # paid
    week = page.get_by_test_id("this-week")
    start, end = week_of()
    expect(week.get_by_role("heading", name="Cette semaine")).to_contain_text(f"du {start:%d/%m/%Y} au {end:%d/%m/%Y}")
    # Late: 950,00 € (-005), 34,50 € (-006), 25,99 € (-008); the one due in 7 days counts if before Sunday.
    late_total = "1 010,49 €"
    expect(week.get_by_test_id("week-to-pay")).to_contain_text(f"dont 3 en retard ({late_total})")
    expect(week.get_by_test_id("week-leaving")).to_contain_text("Virements qui partent cette semaine")
    expect(week.get_by_test_id("week-leaving")).to_contain_text("0,00 € aucun virement")
    expect(week.get_by_test_id("week-awaiting")).to_contain_text("0,00 € aucun paiement")
    shots(page, f"meg-this-week-{width}")
    assert page_width(page) <= width
    page.get_by_role("link", name="Règlements").first.click()
    expect(page.get_by_role("row").filter(has_text="-005").get_by_test_id("due-flag")).to_have_text("En retard")
    assert page_width(page) <= width


def test_libeo_flags_and_sums_up_the_week(page: Page, live_server, width, shots):
    from models.libeo import db
    from models.libeo.accounts.services import create_account, verify_account
    from models.libeo.invoices.services import create_libeo_invoice, invoice_data
    from models.libeo.payments.models import Channel, InitiatorRole
    from models.libeo.payments.order import Initiator, pay_invoice

    today = paris_today()
    _, sunday = week_of(today)
    with live_server.apps.libeo.app_context():
        account = create_account("Boulangerie Martin SARL", "83451234500002", EMAIL, PASSWORD,
                                 full_name="Claire Martin")
        account.debtor_iban = "FR7630004008220000001583859"
        verify_account(account, "vérifié par le support de Libeo", "tests")
        for number, due, cents in (("LATE-1", today - timedelta(days=10), 95_000),
                                   ("SOON-1", today + timedelta(days=3), 12_000),
                                   ("LATER-1", today + timedelta(days=40), 5_000),
                                   ("PAID-1", today + timedelta(days=2), 20_000)):
            invoice = create_libeo_invoice(account, invoice_data(
                number=number, supplier_name=f"Fournisseur {number}", supplier_iban="FR7630006000010000000791963",
                supplier_bic=None, issue_date=today - timedelta(days=20), due_date=due, amount_cents=cents))
        db.session.commit()
        execution = next_business_day(today)
        pay_invoice(account, invoice, Initiator(EMAIL, InitiatorRole.USER, Channel.LIBEO), execution_date=execution)
        db.session.commit()
    page.goto("/libeo/connexion")
    page.get_by_label("Adresse e-mail").fill(EMAIL)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Factures", exact=True)).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="LATE-1").get_by_test_id("due-flag")).to_have_text("En retard")
    expect(page.get_by_role("row").filter(has_text="SOON-1").get_by_test_id("due-flag")).to_have_text(
        "Échéance proche")
    expect(page.get_by_role("row").filter(has_text="LATER-1").get_by_test_id("due-flag")).to_have_count(0)
    expect(page.get_by_role("row").filter(has_text="PAID-1").get_by_test_id("due-flag")).to_have_count(0)
    week = page.get_by_test_id("this-week")
    expect(week.get_by_test_id("week-to-pay")).to_contain_text("dont 1 en retard (950,00 €)")
    if execution <= sunday:  # leaving this week, or held for an approval (a new IBAN): in the summary either way
        expect(week).to_contain_text("200,00 €")
    shots(page, f"libeo-this-week-{width}")
    assert page_width(page) <= width
