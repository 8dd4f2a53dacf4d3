"""« Nouvelle facture » in Libeo takes the invoice's PDF and shows it on the invoice's page, in Chromium at
1280 px and on a 390 px phone; a file that is no PDF is refused with its reason and nothing is saved. The
supplier's e-invoice fills the form: a Factur-X file with a deposit saves the invoice with its totals and
pays the amount due; a MINIMUM file asks for what it lacks, the rest filled."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.helpers import page_width

from .test_einvoice_import import shots  # noqa: F401 (fixture)

EMAIL, PASSWORD = "claire@boulangerie-martin.fr", "croissants-au-beurre-2026"
FILE_LABEL = "Fichier de la facture (PDF, Factur-X, CII ou UBL, facultatif)"


def a_pdf() -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, "Facture MD-2026-311 - Minoterie Dupuis")
    page.save()
    return out.getvalue()


@pytest.fixture
def signed_up(live_server):
    from models.libeo import db
    from models.libeo.accounts.services import create_account

    with live_server.apps.libeo.app_context():
        create_account("Boulangerie Martin SARL", "83451234500002", EMAIL, PASSWORD, full_name="Claire Martin")
        db.session.commit()


def fill_invoice(page: Page, number: str) -> None:
    page.get_by_label("Numéro", exact=True).fill(number)
    page.get_by_label("Fournisseur", exact=True).fill("Minoterie Dupuis")
    page.get_by_label("IBAN du fournisseur").fill("FR76 3000 6000 0100 0000 0791 963")
    page.get_by_label("Date de facture").fill(date.today().isoformat())
    page.get_by_label("Échéance").fill((date.today() + timedelta(days=30)).isoformat())
    page.get_by_label("Montant TTC (€)").fill("1 234,56")


@pytest.mark.parametrize("width", [1280, 390], ids=lambda width: f"{width}px")
def test_a_new_invoice_keeps_its_pdf(page: Page, live_server, signed_up, width, shots):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/libeo/connexion")
    page.get_by_label("Adresse e-mail").fill(EMAIL)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_role("link", name="Nouvelle facture").click()

    fill_invoice(page, "MD-2026-310")
    page.get_by_label(FILE_LABEL).set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"pas un PDF"}])
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("form.form-grid")).to_contain_text("Ce document n'est pas un PDF lisible")
    page.goto("/libeo/factures/")
    expect(page.get_by_role("row").filter(has_text="MD-2026-310")).to_have_count(0)  # nothing saved

    page.goto("/libeo/factures/nouvelle")
    fill_invoice(page, "MD-2026-311")
    page.get_by_label(FILE_LABEL).set_input_files(
        files=[{"name": "MD-2026-311.pdf", "mimeType": "application/pdf", "buffer": a_pdf()}])
    shots(page, f"libeo-new-invoice-file-{width}")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("status").filter(has_text="La facture MD-2026-311 est enregistrée")).to_be_visible()
    document = page.get_by_test_id("invoice-document")
    expect(document.get_by_role("link", name="Facture (PDF)")).to_be_visible()
    shots(page, f"libeo-invoice-with-file-{width}")
    assert page_width(page) <= width
    with page.expect_download() as download:
        document.get_by_role("link", name="Facture (PDF)").click()
    assert download.value.suggested_filename == "Facture MD-2026-311.pdf"


def sign_in(page: Page, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/libeo/connexion")
    page.get_by_label("Adresse e-mail").fill(EMAIL)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_role("link", name="Nouvelle facture").click()


@pytest.mark.parametrize("width", [1280, 390], ids=lambda width: f"{width}px")
def test_an_e_invoice_fills_the_new_invoice_and_its_totals_show(page: Page, live_server, signed_up, width, shots):
    from dataclasses import replace
    from decimal import Decimal

    from devtools.einvoice_samples import Line, facturx_pdf, sample_invoice

    # 636,16 € HT at 5,5 %: 671,15 € TTC, of which 201,00 € paid with the order.
    deposit = replace(sample_invoice(number="FA-2026-0671", prepaid_cents=20_100),
                      lines=(Line("Farine T65, sacs de 25 kg", 1, 63_616, Decimal("5.5")),))
    content = facturx_pdf(deposit, "en16931")
    sign_in(page, width)
    page.get_by_label(FILE_LABEL).set_input_files(
        files=[{"name": "FA-2026-0671.pdf", "mimeType": "application/pdf", "buffer": content}])
    page.get_by_role("button", name="Enregistrer").click()

    expect(page.get_by_role("status").filter(has_text="La facture FA-2026-0671 est enregistrée, lue dans le "
                                                      "fichier Factur-X (profil EN 16931)")).to_be_visible()
    expect(page.get_by_test_id("total")).to_have_text("671,15\u00a0€")
    expect(page.get_by_test_id("amount-due")).to_have_text("470,15\u00a0€")
    expect(page.get_by_test_id("amount-due-note")).to_contain_text("le net à payer, pas le montant TTC de 671,15")
    shots(page, f"libeo-invoice-from-einvoice-{width}")
    assert page_width(page) <= width
    with page.expect_download() as download:
        page.get_by_test_id("invoice-document").get_by_role("link", name="Facture (PDF)").click()
    assert download.value.suggested_filename == "Facture FA-2026-0671.pdf"
    assert Path(download.value.path()).read_bytes() == content

    page.get_by_role("button", name="Payer").click()
    expect(page.get_by_role("status").filter(has_text="Le paiement de la facture FA-2026-0671 (470,15")).to_be_visible()


@pytest.mark.parametrize("width", [1280, 390], ids=lambda width: f"{width}px")
def test_a_minimum_e_invoice_asks_for_what_it_lacks(page: Page, live_server, signed_up, width, shots):
    from devtools.einvoice_samples import MINOTERIE_IBAN, facturx_pdf, sample_invoice

    content = facturx_pdf(sample_invoice(), "minimum")  # no IBAN, no due date
    files = [{"name": "minimum.pdf", "mimeType": "application/pdf", "buffer": content}]
    sign_in(page, width)
    page.get_by_label(FILE_LABEL).set_input_files(files=files)
    page.get_by_role("button", name="Enregistrer").click()

    expect(page.get_by_test_id("einvoice-read")).to_contain_text("Joignez de nouveau le fichier avant d'enregistrer")
    expect(page.get_by_label("Numéro", exact=True)).to_have_value("FA-2026-0142")
    expect(page.get_by_label("Montant TTC (€)")).to_have_value("464,40")
    expect(page.locator("form.form-grid")).to_contain_text("Le fichier n'indique pas l'IBAN du fournisseur")
    shots(page, f"libeo-new-invoice-minimum-{width}")
    assert page_width(page) <= width

    page.get_by_label("IBAN du fournisseur").fill(MINOTERIE_IBAN)
    page.get_by_label("Échéance").fill("2026-11-04")
    page.get_by_label(FILE_LABEL).set_input_files(files=files)
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("status").filter(has_text="La facture FA-2026-0142 est enregistrée")).to_be_visible()
    expect(page.get_by_test_id("invoice-document").get_by_role("link", name="Facture (PDF)")).to_be_visible()
