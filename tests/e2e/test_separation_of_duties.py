"""Who approves, in a browser: the account's rules (« Approbations »), « À approuver » saying who may decide,
and the expert-comptable paying through MEG, held in Libeo as the expert-comptable MEG signed for, whatever
a request body could have said (the issue's third case, through the screens)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from .test_approvals import LIBEO_EMAIL, _libeo_account, _libeo_log_in, shots  # noqa: F401
from .test_meg_achats import log_in

ACCOUNTANT = "expert@cabinet-durand.fr"


def _rules(page: Page, *, threshold: str = "", dual: str = "", requester: bool = False,
           accountant_payments: bool = False) -> None:
    page.goto("/libeo/configuration/approbations")
    page.get_by_label("Au-delà de … €, un paiement doit être approuvé").fill(threshold)
    page.get_by_label("Au-delà de … €, deux approbateurs sont nécessaires").fill(dual)
    for label, wanted in (("La personne qui a demandé un paiement ne peut pas l'approuver", requester),
                          ("Les paiements initiés par l'expert-comptable doivent être approuvés", accountant_payments)):
        page.get_by_label(label).set_checked(wanted)
    page.get_by_role("button", name="Enregistrer les règles").click()
    expect(page.get_by_role("status").filter(has_text="Les règles d'approbation sont enregistrées")).to_be_visible()


def _pay_in_libeo(page: Page, number: str, amount: str) -> None:
    """Libeo's own « Payer »: the signed-in administrator asks for the payment."""
    page.goto("/libeo/factures/nouvelle")
    page.get_by_label("Numéro").fill(number)
    page.get_by_label("Fournisseur", exact=True).fill("Minoterie Dupuis")
    page.get_by_label("IBAN du fournisseur").fill("FR76 3000 6000 0100 0000 0791 963")
    page.get_by_label("Date de facture").fill("2026-11-02")
    page.get_by_label("Échéance").fill("2026-12-31")
    page.get_by_label("Montant TTC (€)").fill(amount)
    page.get_by_role("button", name="Enregistrer").click()
    page.get_by_role("button", name="Payer", exact=True).click()


def test_the_requester_is_told_another_approver_must_decide_and_two_are_counted(page: Page, live_server,
                                                                                 shots):  # noqa: F811
    _libeo_account(live_server, held=False)
    _libeo_log_in(page)
    _rules(page, threshold="100", dual="1 000", requester=True)
    expect(page.get_by_role("status").filter(has_text="une seule personne peut approuver")).to_be_visible()
    expect(page.get_by_label("La personne qui a demandé un paiement ne peut pas l'approuver")).to_be_checked()
    shots(page, "1-regles")

    _pay_in_libeo(page, "MD-301", "1 500,00")
    page.goto("/libeo/a-approuver/")
    held = page.get_by_role("region").filter(has_text="MD-301")
    expect(held).to_contain_text("0 approbation sur 2")
    expect(held).to_contain_text("deux approbateurs approuvent ce paiement")
    expect(held.get_by_test_id("approval-blocker")).to_have_text(
        "Vous avez demandé ce paiement : un autre approbateur doit l'approuver.")
    expect(held.get_by_role("button", name="Approuver")).to_have_count(0)
    expect(held.get_by_role("button", name="Refuser")).to_be_visible()  # the requester may still withdraw it
    shots(page, "2-demandeur")


def test_the_expert_comptable_paying_through_meg_is_held_as_the_expert_comptable(page: Page, live_server,
                                                                                  shots):  # noqa: F811
    from models.libeo import Account, db

    account_id, key = _libeo_account(live_server, held=False)
    with live_server.apps.libeo.app_context():
        db.session.get(Account, account_id).accountant_email = ACCOUNTANT
        db.session.commit()
    _libeo_log_in(page)
    _rules(page, accountant_payments=True)
    page.get_by_role("button", name="Se déconnecter").click()

    log_in(page, "admin@boulangerie-martin.fr")
    page.goto("/meg/achats/options")
    page.get_by_label("Clé d'api LIBEO").fill(key)
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("« Boulangerie Martin SARL » (compte vérifié)").first).to_be_visible()
    page.get_by_role("button", name="Se déconnecter").click()

    log_in(page, ACCOUNTANT)
    page.get_by_label("Changer d'entreprise").select_option(label="Boulangerie Martin SARL")
    page.get_by_role("button", name="Ouvrir").click()
    page.get_by_role("link", name="Règlements").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Payer")).first
    row.get_by_role("link", name="Payer").click()
    page.get_by_role("button", name="Confirmer le paiement").click()
    expect(page.get_by_text("il attend l'approbation d'un administrateur dans Libeo")).to_be_visible()
    shots(page, "1-meg")
    page.get_by_role("button", name="Se déconnecter").click()

    _libeo_log_in(page)
    page.goto("/libeo/a-approuver/")
    held = page.get_by_role("region").first
    expect(held).to_contain_text(f"Paiement initié par l'expert-comptable ({ACCOUNTANT})")
    expect(held).to_contain_text(f"{ACCOUNTANT} (expert-comptable, via MEG")
    shots(page, "2-libeo")


def test_a_lookalike_supplier_created_in_meg_and_paid_is_held_in_libeo(page: Page, live_server,
                                                                        shots):  # noqa: F811
    """The issue's first case through MEG's own screens: « Міnoterie Dupuіs » (Cyrillic М, і) with a fraudster's
    IBAN, while Libeo knows « Minoterie Dupuis » on another: MEG asks before saving, and Libeo holds the payment."""
    from datetime import timedelta

    from core.dates import paris_today

    from .test_identity import FRAUD_IBAN

    _, key = _libeo_account(live_server, held=False)
    log_in(page, "admin@boulangerie-martin.fr")
    page.goto("/meg/achats/options")
    page.get_by_label("Clé d'api LIBEO").fill(key)
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("« Boulangerie Martin SARL » (compte vérifié)").first).to_be_visible()
    # Minoterie Dupuis is paid once on its IBAN: Libeo knows it.
    page.get_by_role("link", name="Règlements").click()
    row = page.get_by_role("row").filter(has_text="Minoterie Dupuis").filter(has=page.get_by_role("link", name="Payer"))
    row.first.get_by_role("link", name="Payer").click()
    page.get_by_role("button", name="Confirmer le paiement").click()
    expect(page.get_by_role("status").filter(has_text="Paiement programmé le")).to_be_visible()

    page.goto("/meg/achats/fournisseurs/nouveau")
    page.get_by_label("Nom").fill("Міnoterie Dupuіs")
    page.get_by_label("IBAN").fill(FRAUD_IBAN)
    page.get_by_role("button", name="Enregistrer").click()
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_test_id("lookalike-warning")).to_contain_text("Fournisseur à vérifier.")
    page.get_by_label("Confirmer malgré l'avertissement").check()
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("Le fournisseur « Міnoterie Dupuіs » est enregistré.")).to_be_visible()

    page.get_by_role("link", name="Factures", exact=True).click()
    page.get_by_role("link", name="Nouvelle facture").click()
    page.get_by_label("Numéro").fill("FRAUDE-1")
    page.get_by_label("Fournisseur").select_option(label="Міnoterie Dupuіs")
    page.get_by_label("Date de facture").fill(paris_today().isoformat())
    page.get_by_label("Échéance").fill((paris_today() + timedelta(days=20)).isoformat())
    page.get_by_label("Montant TTC (€)").fill("4 870,00")
    page.get_by_role("button", name="Enregistrer").click()
    page.get_by_role("link", name="Règlements").click()
    page.get_by_role("row").filter(has_text="FRAUDE-1").get_by_role("link", name="Payer").click()
    page.get_by_role("button", name="Confirmer le paiement").click()
    expect(page.get_by_text("il attend l'approbation d'un administrateur dans Libeo")).to_be_visible()
    shots(page, "1-meg")
    page.get_by_role("button", name="Se déconnecter").click()

    _libeo_log_in(page)
    page.goto("/libeo/a-approuver/")
    held = page.get_by_role("region").filter(has_text="FRAUDE-1")
    expect(held).to_contain_text("nom du fournisseur en écritures mélangées")
    expect(held).to_contain_text("nouvel IBAN du fournisseur")
    expect(held).to_contain_text("[М][і]noterie")
    shots(page, "2-libeo")
