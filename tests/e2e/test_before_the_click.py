"""What a person must know before clicking, seen in Chromium at 1280 px and on a 390 px phone:
the plan's quota on MEG's « Payer » panel, the upgrade instead of « Confirmer le paiement » once the
month's payments are used, and what an invoice refused for the quota reads afterwards."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from core.dates import utcnow
from tests.helpers import page_width

from .test_einvoice_import import LIBEO_EMAIL, connected, shots  # noqa: F401 (fixtures)
from .test_meg_achats import log_in

WIDTHS = [1280, 390]


@pytest.fixture(params=WIDTHS, ids=lambda width: f"{width}px")
def width(request, page: Page) -> int:
    page.set_viewport_size({"width": request.param, "height": 900})
    return request.param


def pay_in_libeo(live_server, count: int) -> None:
    """``count`` payments made in Libeo directly (invoices entered in Libeo): they use the plan's quota."""
    from models.libeo import db
    from models.libeo.accounts.models import Account
    from models.libeo.invoices.services import create_libeo_invoice, invoice_data
    from models.libeo.payments.models import Channel, InitiatorRole
    from models.libeo.payments.order import Initiator, pay_invoice

    with live_server.apps.libeo.app_context():
        account = db.session.scalar(select(Account).where(Account.siret == "83451234500002"))
        for n in range(count):
            invoice = create_libeo_invoice(account, invoice_data(
                number=f"LIB-{utcnow().timestamp():.0f}-{n}", supplier_name="Minoterie Dupuis",
                supplier_iban="FR7630006000010000000791963", supplier_bic=None, issue_date=date.today(),
                due_date=date.today() + timedelta(days=20), amount_cents=10_000 + n))
            db.session.commit()
            pay_invoice(account, invoice, Initiator(LIBEO_EMAIL, InitiatorRole.USER, Channel.LIBEO))
            db.session.commit()


def sync_later(live_server) -> None:
    """A sync pass a little over a minute from now: the time a quiet company waits to be read."""
    from models.meg.libeo_link.sync import sync_pass

    with live_server.apps.meg.app_context():
        sync_pass(utcnow() + timedelta(seconds=61))


def open_pay_panel(page: Page, nth: int = 0) -> str:
    page.goto("/meg/achats/reglements")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Payer")).nth(nth)
    number = row.locator("td[data-label=\"Numéro\"]").inner_text().strip()
    row.get_by_role("link", name="Payer").click()
    expect(page.get_by_role("heading", name=f"Payer la facture {number} avec Libeo")).to_be_visible()
    return number


def test_the_quota_is_said_on_the_panel_and_the_upgrade_replaces_confirm_at_the_limit(
        page: Page, live_server, connected, width, shots):
    pay_in_libeo(live_server, 3)
    sync_later(live_server)  # MEG learns the month's count from Libeo's feed
    log_in(page, "admin@boulangerie-martin.fr")

    open_pay_panel(page)
    expect(page.get_by_test_id("plan-quota")).to_have_text("3 paiements sur 5 utilisés ce mois-ci (formule Gratuit).")
    page.get_by_role("button", name="Confirmer le paiement").click()
    expect(page.get_by_role("status").filter(has_text="Paiement programmé le")).to_be_visible()

    open_pay_panel(page)
    expect(page.get_by_test_id("plan-quota")).to_have_text("4 paiements sur 5 utilisés ce mois-ci (formule Gratuit).")
    shots(page, f"quota-4-of-5-{width}")
    page.get_by_role("button", name="Confirmer le paiement").click()
    expect(page.get_by_role("status").filter(has_text="Paiement programmé le")).to_be_visible()

    # The sixth: said before the click, and no « Confirmer » to click.
    open_pay_panel(page)
    expect(page.get_by_test_id("plan-quota")).to_have_text("5 paiements sur 5 utilisés ce mois-ci (formule Gratuit).")
    expect(page.get_by_test_id("quota-used-up")).to_contain_text(
        "Votre formule Gratuit ne permet plus de paiement ce mois-ci")
    expect(page.get_by_role("button", name="Confirmer le paiement")).to_have_count(0)
    upgrade = page.get_by_role("link", name="Passer à la formule Partnerships")
    expect(upgrade).to_have_attribute("href", f"{live_server.url}/libeo/abonnement")
    shots(page, f"quota-used-up-{width}")
    page.wait_for_load_state()  # the stylesheets too: a box measured before them has another width
    panel = page.locator("#confirmer").bounding_box()
    assert panel["x"] + panel["width"] <= width  # the panel and its buttons fit the screen


def test_an_invoice_refused_for_the_quota_says_so_not_like_a_bank_rejection(page: Page, live_server, connected,
                                                                            width, shots):
    pay_in_libeo(live_server, 4)
    sync_later(live_server)
    log_in(page, "admin@boulangerie-martin.fr")
    open_pay_panel(page)
    expect(page.get_by_test_id("plan-quota")).to_have_text("4 paiements sur 5 utilisés ce mois-ci (formule Gratuit).")
    pay_in_libeo(live_server, 1)  # the fifth, in Libeo, before MEG heard of it
    number = page.get_by_role("heading", name="Payer la facture").inner_text().split()[3]
    page.get_by_role("button", name="Confirmer le paiement").click()
    expect(page.get_by_role("alert").filter(has_text="paiements par mois, tous utilisés")).to_be_visible()
    page.goto("/meg/achats/reglements")
    row = page.get_by_role("row").filter(has_text=number)
    expect(row.locator("td[data-label=\"Règlement\"]")).to_contain_text("Non payée — limite de la formule atteinte")
    expect(page.locator("body")).not_to_contain_text("Refusé : Votre formule")
    shots(page, f"quota-refused-{width}")
    assert page_width(page) <= width
    # Its « Payer » now says the limit before the click.
    row.get_by_role("link", name="Payer").click()
    expect(page.get_by_test_id("quota-used-up")).to_be_visible()
    expect(page.get_by_role("button", name="Confirmer le paiement")).to_have_count(0)
