"""What the review saw in Chromium, checked where it showed: the sign-up page (every error at once,
the terms, the « ou » between the two ways in, the « Formule » choice), the debit IBAN field,
IBANs and numbers in tables, and the invoice whose payment is under way."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import Page, expect

from models.libeo.accounts.services import create_account, verify_account
from models.libeo.invoices.services import create_libeo_invoice, invoice_data
from models.libeo.payments.models import Channel, InitiatorRole
from models.libeo.payments.order import Initiator, pay_invoice

from .test_einvoice_import import connected, shots  # noqa: F401 (fixtures)
from .test_meg_achats import log_in as meg_log_in

EMAIL, PASSWORD = "claire@boulangerie-martin.fr", "croissants-au-beurre-2026"
DEBTOR_IBAN = "FR76 3000 4008 2200 0000 1583 859"


def overflows(page: Page, selector: str) -> bool:
    """Whether the element's content is wider than its box (cut off, or scrolled inside it)."""
    page.wait_for_load_state()  # the stylesheets too: a box measured before them has another width
    return page.locator(selector).evaluate("e => e.scrollWidth > e.clientWidth + 1")


def lines_of(locator) -> int:
    """How many lines an inline element takes: one box per line."""
    return locator.evaluate("e => e.getClientRects().length")


@pytest.fixture
def libeo_account(live_server):
    from models.libeo import db

    with live_server.apps.libeo.app_context():
        account = create_account("Boulangerie Martin SARL", "83451234500002", EMAIL, PASSWORD,
                                 full_name="Claire Martin")
        verify_account(account, "vérifié par le support de Libeo", "tests")
        invoice = create_libeo_invoice(account, invoice_data(
            number="FA-2026-000123456", supplier_name="Minoterie Dupuis", supplier_iban="FR7630006000010000000791963",
            supplier_bic=None, issue_date=date.today(), due_date=date.today(), amount_cents=123_456))
        db.session.commit()
        pay_invoice(account, invoice, Initiator(EMAIL, InitiatorRole.USER, Channel.LIBEO))
        db.session.commit()


def libeo_log_in(page: Page) -> None:
    page.goto("/libeo/connexion")
    page.get_by_label("Adresse e-mail").fill(EMAIL)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()


def test_sign_up_says_every_problem_at_once_and_links_the_terms(page: Page, live_server, libeo_oauth_client, shots):
    page.goto("/libeo/inscription")
    # « ou » between « Me connecter avec MEG » and the form, drawn as a separator, not a cramped word.
    separator = page.locator(".or-separator")
    expect(separator).to_have_text("ou")
    assert separator.evaluate("e => getComputedStyle(e, '::before').borderTopWidth") == "1px"
    page.get_by_label("Adresse e-mail").fill("pas-une-adresse")
    page.get_by_label("Mot de passe").fill("court")
    page.get_by_label("Nom de l'entreprise").fill("Boulangerie Martin SARL")
    page.get_by_label("SIRET").fill("834 512 345 00003")
    page.get_by_role("button", name="Créer mon compte").click()
    for message in ("Cette adresse e-mail n'est pas valide.", "Le mot de passe doit comporter au moins 10 caractères.",
                    "clé de contrôle incorrecte",
                    "Acceptez les conditions générales d'utilisation pour créer votre compte."):
        expect(page.locator("form")).to_contain_text(message)
    shots(page, "signup-every-error")
    with page.expect_popup() as popup:
        page.get_by_role("link", name="conditions générales d'utilisation").click()
    terms = popup.value
    expect(terms.get_by_role("heading", level=1)).to_have_text("Conditions générales d'utilisation de Libeo")
    expect(terms.locator("body")).to_contain_text("9 € HT par mois (10,80 € TTC)")


def test_the_debit_iban_is_shown_whole_and_ibans_and_numbers_never_wrap(page: Page, live_server, libeo_account, shots):
    libeo_log_in(page)
    page.get_by_role("link", name="Configuration").click()
    iban = page.get_by_label("IBAN du compte à débiter")
    iban.fill(DEBTOR_IBAN)
    assert not overflows(page, "#iban"), "the IBAN is cut off in its field"
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_label("IBAN du compte à débiter")).to_have_value(DEBTOR_IBAN)
    shots(page, "debit-iban")
    page.get_by_role("link", name="Paiements").click()
    row = page.get_by_role("row").filter(has_text="FA-2026-000123456")
    assert lines_of(row.get_by_role("link", name="FA-2026-000123456")) == 1
    assert lines_of(row.locator(".iban")) == 1
    shots(page, "payments-table")


def test_users_at_the_plan_limit_get_an_explanation_not_a_form(page: Page, live_server, libeo_account):
    libeo_log_in(page)
    page.goto("/libeo/configuration/utilisateurs")
    expect(page.get_by_test_id("user-limit")).to_contain_text("Votre formule Gratuit inclut 1 utilisateur")
    expect(page.get_by_role("button", name="Inviter")).to_have_count(0)
    page.get_by_role("link", name="« Expert-comptable »").click()
    expect(page).to_have_url(f"{live_server.url}/libeo/configuration/expert-comptable")


def test_an_invoice_being_paid_shows_its_locked_fields_before_anything_is_typed(page: Page, live_server, connected,
                                                                              shots):
    meg_log_in(page, "admin@boulangerie-martin.fr")
    page.goto("/meg/achats/reglements")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Payer")).first
    number = row.get_by_role("cell").first.inner_text().strip()
    row.get_by_role("link", name="Payer").click()
    page.get_by_role("button", name="Confirmer le paiement").click()
    expect(page.get_by_role("status").filter(has_text="Paiement programmé le")).to_be_visible()
    page.get_by_role("row").filter(has_text=number).get_by_role("link", name=number).click()
    page.get_by_role("link", name="Modifier").click()
    expect(page.get_by_test_id("lock-reason")).to_contain_text(
        "son fournisseur, son montant et son mode de règlement ne peuvent plus changer")
    for label in ("Fournisseur", "Montant TTC (€)", "Mode de règlement"):
        expect(page.get_by_label(label)).to_be_disabled()
    for label in ("Numéro", "Date de facture", "Échéance"):
        expect(page.get_by_label(label)).to_be_enabled()
    shots(page, "locked-invoice-form")
    page.get_by_label("Numéro").fill(f"{number}-B")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("status").filter(has_text=f"La facture {number}-B est modifiée.")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Virement par Libeo")
