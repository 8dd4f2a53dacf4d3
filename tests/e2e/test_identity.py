"""Identity in a browser: a look-alike supplier in MEG, a SIRET MEG has not confirmed, path 1 vouching.

Screenshots of each screen go to $E2E_SHOTS (a folder) when it is set, to
be looked at; otherwise to the test's temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .test_meg_achats import log_in

FRAUD_IBAN = "FR7630006000000000000201054"


@pytest.fixture
def shots(tmp_path, request):
    folder = Path(os.environ.get("E2E_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> None:
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(folder / f"{request.node.name}-{name}-{width}.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})

    return take


def test_a_lookalike_supplier_is_questioned_before_it_is_saved(page: Page, shots):
    log_in(page, "admin@boulangerie-martin.fr")
    page.goto("/meg/achats/fournisseurs/nouveau")
    page.get_by_label("Nom").fill("Міnoterie Dupuіs")  # Cyrillic М and і
    page.get_by_label("IBAN").fill(FRAUD_IBAN)
    page.get_by_role("button", name="Enregistrer").click()
    # First, how the bank will read the name (« Minoterie Dupuis »); saving again asks about the look-alike.
    expect(page.get_by_text("Le nom sera transmis à la banque ainsi")).to_be_visible()
    page.get_by_role("button", name="Enregistrer").click()
    warning = page.get_by_test_id("lookalike-warning")
    expect(warning).to_contain_text("Fournisseur à vérifier.")
    expect(warning).to_contain_text("« [М][і]noterie » mêle des lettres d'écriture latine et d'écriture cyrillique")
    expect(warning).to_contain_text("ressemble au fournisseur « Minoterie Dupuis » déjà enregistré")
    shots(page, "warning")
    page.get_by_label("Confirmer malgré l'avertissement").check()
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("Le fournisseur « Міnoterie Dupuіs » est enregistré.")).to_be_visible()


def test_a_siret_meg_has_not_confirmed_is_said_on_the_company_card(page: Page, shots):
    log_in(page, "president@amis-du-quartier.fr")
    page.goto("/meg/entreprise/fiche")
    page.get_by_label("SIRET (facultatif)").fill("556 677 888 00001")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("est celui de « TRANSPORTS VICTOR »")).to_be_visible()
    expect(page.get_by_test_id("siret-trust")).to_contain_text("SIRET à confirmer")
    shots(page, "unconfirmed")


def test_the_expert_comptable_confirms_a_siret(page: Page, shots):
    log_in(page, "president@amis-du-quartier.fr")
    page.goto("/meg/entreprise/fiche")
    page.get_by_label("SIRET (facultatif)").fill("556 677 888 00001")
    page.get_by_role("button", name="Enregistrer").click()
    page.get_by_role("button", name="Se déconnecter").click()
    log_in(page, "expert@cabinet-durand.fr")
    page.get_by_label("Changer d'entreprise").select_option(label="Association Les Amis du Quartier")
    page.get_by_role("button", name="Ouvrir").click()
    page.get_by_role("link", name="Fiche de l'entreprise").click()
    shots(page, "accountant")
    page.get_by_role("button", name="Confirmer le SIRET").click()
    expect(page.get_by_test_id("siret-trust")).to_contain_text(
        "SIRET confirmé par l'expert-comptable Hélène Durand (expert@cabinet-durand.fr).")


def test_libeo_signup_asks_for_the_debit_iban(page: Page, shots):
    page.goto("/libeo/inscription")
    expect(page.get_by_label("IBAN du compte à débiter (facultatif)")).to_be_visible()
    shots(page, "signup")
