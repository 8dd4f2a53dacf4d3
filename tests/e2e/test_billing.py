"""« Abonnement » in a browser: Partnerships with a card in Stripe Elements (localstripe's Stripe.js).

localstripe runs on loopback and posts its signed events to the live server,
as Stripe posts to a deployed Libeo.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from core.dates import paris_today
from models.libeo import Account, Plan, db
from models.libeo.accounts.services import create_account
from models.libeo.billing.stripe_gateway import stripe_client
from models.libeo.billing.subscriptions import ensure_catalog
from models.libeo.invoices.services import create_libeo_invoice, invoice_data
from models.libeo.payments.models import Channel, InitiatorRole
from models.libeo.payments.order import Initiator, pay_invoice
from tests.helpers import page_width

WEBHOOK_SECRET = "whsec_e2e_libeo_billing"
EMAIL = "claire@boulangerie-martin.fr"
PASSWORD = "croissants-au-beurre-2026"


@pytest.fixture
def live_libeo_config(localstripe) -> dict:
    """Libeo's Stripe (and its CSP) pointed at this localstripe, before the app is built."""
    return {"LOCALSTRIPE_URL": localstripe.url, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}


@pytest.fixture(autouse=True)
def stripe_wired(live_server, localstripe) -> None:
    """A blank localstripe that knows the plan and posts its events to this live server."""
    localstripe.reset()
    localstripe.register_webhook(f"{live_server.url}/libeo/abonnement/webhook", WEBHOOK_SECRET)
    with live_server.apps.libeo.app_context():
        ensure_catalog(stripe_client(live_server.apps.libeo.config))


@pytest.fixture
def at_the_limit(live_server) -> list[int]:
    """A « Gratuit » account that made its 5 payments this month; returns its 6 invoices' ids."""
    with live_server.apps.libeo.app_context():
        account = create_account("Boulangerie Martin SARL", "83451234500002", EMAIL, PASSWORD,
                                 full_name="Claire Martin")
        invoices = [
            create_libeo_invoice(
                account,
                invoice_data(
                    number=f"F-2026-{n:03d}",
                    supplier_name="Minoterie Dupont",
                    supplier_iban="FR7630006000010000000791963",
                    supplier_bic=None,
                    issue_date=paris_today(),
                    due_date=paris_today(),
                    amount_cents=12_000 + n,
                ),
            )
            for n in range(1, 7)
        ]
        db.session.commit()
        for invoice in invoices[:5]:
            pay_invoice(account, invoice, Initiator(EMAIL, InitiatorRole.USER, Channel.LIBEO))
            db.session.commit()
        return [invoice.id for invoice in invoices]


def log_in(page: Page) -> None:
    page.goto("/libeo/connexion")
    page.get_by_label("Adresse e-mail").fill(EMAIL)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def type_card(page: Page, number: str) -> None:
    """localstripe's card Element: plain inputs named by their placeholder (Stripe's is an iframe)."""
    card = page.locator("#card-element")
    card.get_by_placeholder("number").fill(number)
    card.get_by_placeholder("exp_month").fill("12")
    card.get_by_placeholder("exp_year").fill("34")
    card.get_by_placeholder("cvc").fill("123")
    card.get_by_placeholder("postal_code").fill("75001")


def plan_of(live_server) -> Plan:
    with live_server.apps.libeo.app_context():
        return db.session.scalars(db.select(Account)).one().plan


def test_upgrade_pay_a_sixth_invoice_cancel_and_fall_back_at_period_end(page: Page, live_server, localstripe,
                                                                        at_the_limit):
    sixth = at_the_limit[5]
    log_in(page)

    # The 6th payment of the month is refused, with the way out.
    page.goto(f"/libeo/factures/{sixth}")
    page.get_by_role("button", name="Payer").click()
    expect(page.get_by_role("alert")).to_contain_text("5 paiements par mois")
    page.get_by_role("link", name="Passer à la formule Partnerships").click()

    expect(page.get_by_role("heading", name="Abonnement")).to_be_visible()
    expect(page.get_by_test_id("current-plan")).to_have_text("Gratuit")
    expect(page.get_by_test_id("usage")).to_have_text("5 / 5 paiements ce mois-ci")
    expect(page.get_by_role("heading",
                            name="Partnerships — 9 € HT / mois (10,80 € TTC), sans engagement")).to_be_visible()

    type_card(page, "4242424242424242")
    page.get_by_role("button", name="Passer à Partnerships — 9 € HT / mois").click()

    expect(page.get_by_role("status").filter(has_text="Bienvenue dans Partnerships")).to_be_visible()
    expect(page.get_by_test_id("current-plan")).to_have_text("Partnerships")
    expect(page.get_by_test_id("usage")).to_have_text("5 paiements ce mois-ci — illimité")

    # At once: the 6th invoice is paid.
    page.goto(f"/libeo/factures/{sixth}")
    page.get_by_role("button", name="Payer").click()
    expect(page.get_by_role("status").filter(has_text="F-2026-006")).to_contain_text("est programmé")

    # Cancel: the plan stays until the end of the paid period.
    page.get_by_role("link", name="Abonnement").click()
    page.get_by_role("link", name="Résilier l'abonnement").click()
    expect(page.get_by_role("heading", name="Résilier l'abonnement Partnerships ?")).to_be_visible()  # asked first
    page.get_by_role("button", name="Oui, résilier l'abonnement").click()
    expect(page.get_by_text(re.compile(
        r"Votre abonnement Partnerships prend fin le \d{2}/\d{2}/\d{4}\."))).to_be_visible()
    expect(page.get_by_test_id("current-plan")).to_have_text("Partnerships")
    assert plan_of(live_server) is Plan.PARTNERSHIPS

    # The period ends: Stripe deletes the subscription and tells Libeo through the webhook.
    with live_server.apps.libeo.app_context():
        subscription_id = db.session.scalars(db.select(Account)).one().stripe_subscription_id
        stripe_client(live_server.apps.libeo.config).v1.subscriptions.cancel(subscription_id)
    deadline = time.monotonic() + 15
    while plan_of(live_server) is not Plan.GRATUIT and time.monotonic() < deadline:
        time.sleep(0.2)
    page.reload()
    expect(page.get_by_test_id("current-plan")).to_have_text("Gratuit")
    expect(page.get_by_test_id("usage")).to_have_text("6 / 5 paiements ce mois-ci")
    expect(page.get_by_role("button", name="Passer à Partnerships — 9 € HT / mois")).to_be_visible()


def test_a_declined_card_leaves_the_account_on_gratuit(page: Page, live_server, at_the_limit):
    log_in(page)
    page.get_by_role("link", name="Abonnement").click()

    type_card(page, "4000000000000002")
    page.get_by_role("button", name="Passer à Partnerships — 9 € HT / mois").click()

    expect(page.get_by_role("alert")).to_have_text(
        "Votre carte a été refusée. Votre formule reste « Gratuit » : essayez avec une autre carte."
    )
    expect(page.get_by_test_id("current-plan")).to_have_text("Gratuit")
    expect(page.get_by_role("button", name="Passer à Partnerships — 9 € HT / mois")).to_be_enabled()
    assert plan_of(live_server) is Plan.GRATUIT


@pytest.mark.parametrize("width", [1280, 390], ids=lambda width: f"{width}px")
def test_the_subscription_invoices_are_on_abonnement_with_ht_tva_ttc_and_a_pdf(page: Page, live_server, at_the_limit,
                                                                               width, tmp_path):
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page)
    page.goto("/libeo/abonnement")
    expect(page.get_by_role("heading", name="Factures de l'abonnement")).to_have_count(0)  # none before a card
    type_card(page, "4242424242424242")
    page.get_by_role("button", name="Passer à Partnerships — 9 € HT / mois").click()
    expect(page.get_by_role("status").filter(has_text="Bienvenue dans Partnerships")).to_be_visible()

    invoices = page.get_by_test_id("subscription-invoices")
    row = invoices.get_by_role("row").nth(1)
    for label, value in (("Montant HT", "9,00 €"), ("TVA", "1,80 €"), ("Montant TTC", "10,80 €"),
                         ("Date", f"{paris_today():%d/%m/%Y}"), ("État", "Payée")):
        expect(row.locator(f'td[data-label="{label}"]')).to_have_text(value)
    assert page_width(page) <= width
    with page.expect_download() as download:
        row.get_by_role("link", name="Télécharger (PDF)").click()
    saved = tmp_path / "facture.pdf"
    download.value.save_as(saved)
    from pypdf import PdfReader

    text = " ".join(PdfReader(saved).pages[0].extract_text().replace("\xa0", " ").split())
    assert "Facture d'abonnement" in text and "Boulangerie Martin SARL" in text
    assert "Montant HT 9,00 €" in text and "TVA 1,80 €" in text and "Montant TTC 10,80 €" in text
