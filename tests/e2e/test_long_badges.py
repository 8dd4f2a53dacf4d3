"""Long states in a browser, at 1280 px and on a 390 px phone: a payment refused with a long reason and one
still to approve, on MEG « Règlements » and on Libeo « Paiements ». The walk of release 2 saw
« Règlements » grow to 1 876 px at 1280 and 698 px at 390, Libeo « Paiements » to 489 px at 390: a badge
wraps inside its column instead, and no page scrolls sideways."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.helpers import page_width

from .test_einvoice_import import LIBEO_EMAIL, LIBEO_PASSWORD, connected, shots  # noqa: F401 (fixtures)
from .test_meg_achats import log_in

# A refusal as an administrator types it: long, and its words long too (300 characters at most).
REASON = ("Après vérification téléphonique auprès du fournisseur, les coordonnées bancaires "
          "communiquées par courriel ne correspondent pas à celles de notre contrat d'approvisionnement "
          "pluriannuel, merci de nous transmettre un relevé d'identité bancaire signé par la direction")


@pytest.fixture(params=[1280, 390], ids=lambda width: f"{width}px")
def width(request, page: Page) -> int:
    page.set_viewport_size({"width": request.param, "height": 900})
    return request.param


@pytest.fixture
def long_states(live_server, connected) -> str:  # noqa: F811 (fixture)
    """Every payment is held for approval in Libeo; MEG pays two invoices, Libeo refuses one with REASON.
    Returns the refused invoice's number."""
    from models.libeo import Payment
    from models.libeo import db as libeo_db
    from models.libeo.accounts.models import Account, LibeoUser
    from models.libeo.accounts.services import set_approval_rules
    from models.libeo.payments.approvals import refuse_payment
    from models.meg import Company, SupplierInvoice, User
    from models.meg import db as meg_db
    from models.meg.achats.models import PaymentMode
    from models.meg.libeo_link.paying import pay_invoice
    from models.meg.libeo_link.sync import sync_pass

    apps = live_server.apps
    with apps.libeo.app_context():
        account = libeo_db.session.scalar(select(Account).where(Account.siret == "83451234500002"))
        set_approval_rules(account, 0, False, LIBEO_EMAIL)
        libeo_db.session.commit()
    with apps.meg.app_context():
        company = meg_db.session.scalar(select(Company).where(Company.name == "Boulangerie Martin SARL"))
        admin = meg_db.session.scalar(select(User).where(User.email == "admin@boulangerie-martin.fr"))
        invoices = meg_db.session.scalars(select(SupplierInvoice).where(
            SupplierInvoice.company_id == company.id, SupplierInvoice.payment_mode == PaymentMode.LIBEO)
            .order_by(SupplierInvoice.id)).all()[:2]
        for invoice in invoices:
            pay_invoice(invoice, admin)
            meg_db.session.commit()
        refused = invoices[0].number
    with apps.libeo.app_context():
        account = libeo_db.session.scalar(select(Account).where(Account.siret == "83451234500002"))
        first = libeo_db.session.scalars(select(Payment).order_by(Payment.id)).first()
        user = libeo_db.session.scalar(select(LibeoUser).where(LibeoUser.email == LIBEO_EMAIL))
        refuse_payment(account, first, user, REASON)
        libeo_db.session.commit()
    with apps.meg.app_context():
        sync_pass()
    return refused


def _fits(page: Page, width: int) -> None:
    assert page_width(page) <= width
    main = page.get_by_role("main").bounding_box()
    assert main["x"] + main["width"] <= width


def test_meg_reglements_wraps_a_long_refusal_inside_its_column(page: Page, live_server, long_states, width, shots):
    log_in(page, "admin@boulangerie-martin.fr")
    page.goto("/meg/achats/reglements")
    row = page.get_by_role("row").filter(has_text=long_states)
    badge = row.locator("td[data-label=\"Règlement\"] .badge").first
    expect(badge).to_contain_text("Annulé — approbation refusée : Après vérification téléphonique")
    expect(page.get_by_role("row").filter(has_text="À approuver").first).to_be_visible()
    shots(page, f"long-badges-reglements-{width}")
    _fits(page, width)
    box = badge.bounding_box()
    assert box["x"] + box["width"] <= width
    assert box["height"] > 2 * 16  # on several lines, not one 2 000 px line


def test_libeo_paiements_wraps_a_long_refusal_on_a_phone(page: Page, live_server, long_states, width, shots):
    page.goto("/libeo/connexion")
    page.get_by_label("Adresse e-mail").fill(LIBEO_EMAIL)
    page.get_by_label("Mot de passe").fill(LIBEO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.goto("/libeo/paiements/")
    expect(page.get_by_role("heading", name="Paiements", exact=True)).to_be_visible()
    badge = page.locator(".badge").filter(has_text="Après vérification téléphonique").first
    expect(badge).to_be_visible()
    shots(page, f"long-badges-paiements-{width}")
    _fits(page, width)
    box = badge.bounding_box()
    assert box["x"] + box["width"] <= width


def test_meg_invoice_page_wraps_its_states_on_a_phone(page: Page, live_server, long_states, width, shots):
    """« À approuver dans Libeo (règle d'approbation du compte) » ran past the « Règlement par Libeo » card at
    390 px, and the invoice's page scrolled sideways (408 px)."""
    from models.meg import PaymentAttempt
    from models.meg import db as meg_db

    with live_server.apps.meg.app_context():  # the first paid was refused, the second is held
        refused, held = meg_db.session.scalars(select(PaymentAttempt.invoice_id).order_by(PaymentAttempt.id)).all()
    log_in(page, "admin@boulangerie-martin.fr")
    for invoice_id, words in ((held, "À approuver dans Libeo"), (refused, "Après vérification téléphonique")):
        page.goto(f"/meg/achats/factures/{invoice_id}")
        badge = page.locator(".pay-card .badge").filter(has_text=words).first
        expect(badge).to_be_visible()
        shots(page, f"long-badges-invoice-{invoice_id}-{width}")
        _fits(page, width)
        box = badge.bounding_box()
        assert box["x"] + box["width"] <= width
