"""« Nouvelle facture » in Libeo takes the invoice's PDF and shows it on the invoice's page, in Chromium at
1280 px and on a 390 px phone; a file that is no PDF is refused with its reason and nothing is saved."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from .test_einvoice_import import shots  # noqa: F401 (fixture)

EMAIL, PASSWORD = "claire@boulangerie-martin.fr", "croissants-au-beurre-2026"


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
    page.get_by_label("Fichier de la facture (PDF, facultatif)").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"pas un PDF"}])
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("form.form-grid")).to_contain_text("Ce document n'est pas un PDF lisible")
    page.goto("/libeo/factures/")
    expect(page.get_by_role("row").filter(has_text="MD-2026-310")).to_have_count(0)  # nothing saved

    page.goto("/libeo/factures/nouvelle")
    fill_invoice(page, "MD-2026-311")
    page.get_by_label("Fichier de la facture (PDF, facultatif)").set_input_files(
        files=[{"name": "MD-2026-311.pdf", "mimeType": "application/pdf", "buffer": a_pdf()}])
    shots(page, f"libeo-new-invoice-file-{width}")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("status").filter(has_text="La facture MD-2026-311 est enregistrée")).to_be_visible()
    document = page.get_by_test_id("invoice-document")
    expect(document.get_by_role("link", name="Facture (PDF)")).to_be_visible()
    shots(page, f"libeo-invoice-with-file-{width}")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    with page.expect_download() as download:
        document.get_by_role("link", name="Facture (PDF)").click()
    assert download.value.suggested_filename == "Facture MD-2026-311.pdf"
