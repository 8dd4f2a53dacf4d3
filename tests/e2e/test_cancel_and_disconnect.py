"""In Chromium: « Annuler le paiement » from MEG's invoice, the IBAN Libeo pays after the supplier's changed, and
« Supprimer la connexion » listing the payments in flight and following them afterwards; at 1280 and 390 px."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.helpers import page_width

from .test_einvoice_import import LIBEO_EMAIL, LIBEO_PASSWORD, connected, shots  # noqa: F401 (fixtures)
from .test_meg_achats import log_in

WIDTHS = {"desktop": 1280, "phone": 390}
NEW_IBAN = "FR76 3000 4008 2200 0000 1583 859"


def fits(page: Page, screen: str) -> None:
    assert page_width(page) <= WIDTHS[screen]


def pay_first(page: Page) -> str:
    """« Payer » on the first invoice of « Règlements » that offers it; its number."""
    page.goto("/meg/achats/reglements")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Payer")).first
    number = row.get_by_role("cell").first.inner_text().strip()
    row.get_by_role("link", name="Payer").click()
    page.get_by_role("button", name="Confirmer le paiement").click()
    expect(page.get_by_text("Paiement programmé le").first).to_be_visible()
    return number


@pytest.mark.parametrize("screen", WIDTHS)
def test_cancel_a_scheduled_payment_from_meg_as_in_libeo(page: Page, live_server, connected, shots, screen):  # noqa: F811
    page.set_viewport_size({"width": WIDTHS[screen], "height": 900})
    log_in(page, "admin@boulangerie-martin.fr")
    number = pay_first(page)
    page.get_by_role("link", name=number, exact=True).click()
    expect(page.get_by_test_id("paid-to")).to_contain_text("tel que Libeo le paiera")
    page.get_by_role("link", name="Annuler le paiement").click()

    expect(page.get_by_role("heading", name="Annuler ce paiement ?")).to_be_visible()
    expect(page.get_by_text("le paiement ne compte plus dans les paiements du mois")).to_be_visible()
    fits(page, screen)
    shots(page, f"meg-cancel-ask-{screen}")
    page.get_by_role("button", name="Oui, annuler le paiement").click()

    expect(page.get_by_text(f"Le paiement de la facture {number} est annulé dans Libeo")).to_be_visible()
    expect(page.get_by_text("Annulé").first).to_be_visible()
    expect(page.get_by_role("link", name="Payer")).to_be_visible()  # to pay again, another day or IBAN
    fits(page, screen)
    shots(page, f"meg-cancel-done-{screen}")

    # Libeo shows it cancelled too, without any sync pass.
    page.goto("/libeo/connexion")
    page.get_by_label("Adresse e-mail").fill(LIBEO_EMAIL)
    page.get_by_label("Mot de passe").fill(LIBEO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.goto("/libeo/paiements/")
    expect(page.get_by_role("row").filter(has_text=number)).to_contain_text("Annulé")


@pytest.mark.parametrize("screen", WIDTHS)
def test_the_invoice_says_the_payment_goes_to_the_old_iban(page: Page, live_server, connected, shots, screen):  # noqa: F811
    page.set_viewport_size({"width": WIDTHS[screen], "height": 900})
    log_in(page, "admin@boulangerie-martin.fr")
    number = pay_first(page)
    page.get_by_role("link", name=number, exact=True).click()
    supplier = page.locator("dt:text('Fournisseur') + dd").inner_text().strip()
    page.goto("/meg/achats/fournisseurs")
    page.get_by_role("row").filter(has_text=supplier).get_by_role("link", name=re.compile("Modifier")).click()
    page.get_by_label("IBAN").fill(NEW_IBAN)
    page.get_by_label("BIC (facultatif)").fill("")  # the new bank's, deduced from the IBAN
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("Le nouvel IBAN servira aux prochains paiements")).to_be_visible()

    page.goto("/meg/achats/reglements")
    page.get_by_role("row").filter(has_text=number).get_by_test_id("old-iban").click()
    warning = page.get_by_test_id("old-iban")
    expect(warning).to_contain_text("Le paiement programmé part vers l'ancien IBAN")
    expect(warning).to_contain_text("annulez-le et payez à nouveau pour utiliser le nouveau")
    expect(page.get_by_role("link", name="Annuler le paiement")).to_be_visible()
    fits(page, screen)
    shots(page, f"meg-old-iban-{screen}")


@pytest.mark.parametrize("screen", WIDTHS)
def test_disconnect_lists_the_payments_in_flight_then_follows_them(page: Page, live_server, connected, shots, screen):  # noqa: F811
    page.set_viewport_size({"width": WIDTHS[screen], "height": 900})
    log_in(page, "admin@boulangerie-martin.fr")
    number = pay_first(page)
    page.goto("/meg/achats/options")
    page.get_by_role("link", name="Supprimer la connexion").click()
    in_flight = page.get_by_test_id("in-flight")
    expect(in_flight.get_by_role("row").filter(has_text=number)).to_contain_text("Programmé le")
    expect(in_flight.get_by_role("link", name="Annuler le paiement")).to_be_visible()
    fits(page, screen)
    shots(page, f"meg-disconnect-ask-{screen}")
    page.get_by_role("button", name="Oui, supprimer la connexion").click()

    expect(page.get_by_test_id("following").first).to_contain_text("Connexion supprimée — suivi des 1 paiement(s)")
    fits(page, screen)
    shots(page, f"meg-disconnect-following-{screen}")
    page.get_by_role("link", name="Règlements").click()
    expect(page.get_by_test_id("following")).to_contain_text("Connexion supprimée — suivi des 1 paiement(s)")
    expect(page.get_by_test_id("pay-blocked")).to_contain_text("« Payer » ne fonctionne plus")
    expect(page.get_by_role("link", name="Payer")).to_have_count(0)
    expect(page.get_by_role("row").filter(has_text=number)).to_contain_text("Programmé le")
    shots(page, f"meg-settlements-following-{screen}")
    fits(page, screen)


def refuse_in_libeo(live_server, reason: str) -> None:
    """A Libeo administrator refuses the held payment, with ``reason``."""
    from sqlalchemy import select

    from models.libeo import Account, LibeoUser, Payment, PaymentStatus, db
    from models.libeo.payments.approvals import refuse_payment

    with live_server.apps.libeo.app_context():
        held = db.session.scalar(select(Payment).where(Payment.status == PaymentStatus.AWAITING_APPROVAL))
        account = db.session.get(Account, held.account_id)
        admin = db.session.scalar(select(LibeoUser).where(LibeoUser.account_id == account.id))
        refuse_payment(account, held, admin, reason)
        db.session.commit()


@pytest.mark.parametrize("screen", WIDTHS)
def test_after_a_refusal_for_a_new_iban_the_reason_comes_before_payer(page: Page, live_server, connected, shots,  # noqa: F811
                                                                      screen):
    from models.meg.libeo_link.sync import sync_pass

    page.set_viewport_size({"width": WIDTHS[screen], "height": 900})
    log_in(page, "admin@boulangerie-martin.fr")
    number = pay_first(page)  # Libeo learns the supplier's IBAN…
    page.get_by_role("link", name=number, exact=True).click()
    page.get_by_role("link", name="Annuler le paiement").click()
    page.get_by_role("button", name="Oui, annuler le paiement").click()
    supplier = page.locator("dt:text('Fournisseur') + dd").inner_text().strip()
    page.goto("/meg/achats/fournisseurs")  # …then a « new RIB » arrives by e-mail
    page.get_by_role("row").filter(has_text=supplier).get_by_role("link", name=re.compile("Modifier")).click()
    page.get_by_label("IBAN").fill(NEW_IBAN)
    page.get_by_label("BIC (facultatif)").fill("")
    page.get_by_role("button", name="Enregistrer").click()
    page.goto("/meg/achats/reglements")
    page.get_by_role("row").filter(has_text=number).get_by_role("link", name="Payer").click()
    page.get_by_role("button", name="Confirmer le paiement").click()
    expect(page.get_by_text("il attend l'approbation d'un administrateur dans Libeo")).to_be_visible()
    refuse_in_libeo(live_server, "RIB non confirmé par téléphone")
    with live_server.apps.meg.app_context():
        sync_pass()

    page.goto("/meg/achats/reglements")
    row = page.get_by_role("row").filter(has_text=number)
    expect(row).to_contain_text("Annulé — approbation refusée : RIB non confirmé par téléphone")
    expect(row.get_by_role("link", name="Payer", exact=True)).to_have_count(0)  # no one-click « Payer »
    row.get_by_test_id("fraud-refusal").click()
    box = page.get_by_test_id("fraud-refusal")
    expect(box).to_contain_text("retenu pour nouvel IBAN du fournisseur : « RIB non confirmé par téléphone »")
    fits(page, screen)
    shots(page, f"meg-fraud-refusal-{screen}")
    box.get_by_role("link", name="Payer de nouveau").click()
    confirm = page.get_by_role("region", name=f"Payer la facture {number} avec Libeo")
    expect(confirm.get_by_test_id("fraud-refusal")).to_contain_text("RIB non confirmé par téléphone")
    fits(page, screen)
    shots(page, f"meg-fraud-refusal-confirm-{screen}")
    confirm.get_by_label("J'ai vérifié l'IBAN auprès du fournisseur").check()
    confirm.get_by_role("button", name="Confirmer le paiement").click()
    expect(page.get_by_text("il attend l'approbation d'un administrateur dans Libeo")).to_be_visible()
