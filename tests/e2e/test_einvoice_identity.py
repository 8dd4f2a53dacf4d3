"""In a browser: an e-invoice that carries a known supplier's IBAN under another legal identity is not filed
under it, and an invoice partly paid in advance shows its total and its amount due apart.

Screenshots of each screen (1280 px, then a phone's 390 px) go to ``$E2E_SHOTS`` when set."""

from __future__ import annotations

import os
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from devtools.einvoice_samples import MINOTERIE_IBAN, Line, Party, cii_xml, facturx_pdf, sample_invoice

from .test_einvoice_import import choose_file
from .test_meg_achats import log_in

VENDEUR = Party("LE VENDEUR", "55208131700018", "FR03552081317", "3 rue du Port", "13002", "Marseille")


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("E2E_SHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)

    def shoot(page: Page, name: str) -> None:
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(folder / f"identity-{name}-{width}.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})

    return shoot


def upload(page: Page, name: str, content: bytes, mime: str) -> None:
    page.goto("/meg/achats/factures/importer")
    choose_file(page, name, content, mime)
    page.get_by_role("button", name="Lire la facture").click()


def test_an_invoice_borrowing_a_known_iban_then_one_partly_paid_in_advance(page: Page, live_server, shots):
    log_in(page, "admin@boulangerie-martin.fr")
    borrowed = replace(sample_invoice(), number="LV-1", supplier=VENDEUR, iban=MINOTERIE_IBAN)
    upload(page, "lv-1.pdf", facturx_pdf(borrowed), "application/pdf")

    expect(page.get_by_test_id("iban-owner")).to_contain_text(
        "Ce fichier vient de LE VENDEUR (SIRET 55208131700018), pas de Minoterie Dupuis, dont il porte l'IBAN.")
    expect(page.get_by_test_id("file-seller")).to_contain_text("3 rue du Port, 13002 Marseille")
    expect(page.get_by_label("Fournisseur", exact=True)).to_have_value("nouveau")
    shots(page, "01-iban-of-another")
    page.get_by_role("button", name="Enregistrer la facture").click()
    expect(page.get_by_text("est déjà celui de Minoterie Dupuis")).to_be_visible()
    page.get_by_label("J'ai vérifié auprès du fournisseur : ce nouveau fournisseur partage cet IBAN").check()
    page.get_by_role("button", name="Enregistrer la facture").click()
    expect(page.get_by_role("status").filter(has_text="La facture LV-1 de LE VENDEUR est enregistrée")).to_be_visible()

    deposit = replace(sample_invoice(number="FA-2026-0671", prepaid_cents=20_100),
                      lines=(Line("Farine T65, sacs de 25 kg", 1, 63_616, Decimal("5.5")),))
    upload(page, "acompte.xml", cii_xml(deposit, "en16931"), "application/xml")
    expect(page.get_by_label("Net à payer (€)")).to_have_value("470,15")
    shots(page, "02-deposit-confirm")
    page.get_by_role("button", name="Enregistrer la facture").click()
    expect(page.get_by_test_id("total")).to_have_text("671,15 €")
    expect(page.get_by_test_id("amount-due")).to_have_text("470,15 €")
    shots(page, "03-deposit-invoice")
    page.get_by_role("link", name="Factures").first.click()
    expect(page.get_by_role("row").filter(has_text="FA-2026-0671")).to_contain_text("net à payer 470,15 €")
    shots(page, "04-list")
