"""E-invoices in a browser: « Importer une facture électronique », the pre-filled invoice,
the file on the invoice, then « Payer »: the file on Libeo's invoice page and the « Justificatif de
paiement » from both products.

Screenshots of each screen go to ``$E2E_SHOTS`` when set (else the test's temporary folder).
"""

from __future__ import annotations

import io
import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader
from sqlalchemy import func, select

from core.dates import paris_today
from core.money import cents_to_input, format_amount
from devtools.einvoice_samples import (
    TORREFACTION,
    TORREFACTION_BIC,
    TORREFACTION_IBAN,
    Line,
    facturx_pdf,
    sample_invoice,
    ubl_xml,
)
from tests.helpers import sync_live as sync

from .test_meg_achats import log_in

LIBEO_EMAIL, LIBEO_PASSWORD = "claire@boulangerie-martin.fr", "croissants-au-beurre-2026"
OTHER_IBAN = "FR7610278060390000002375705"


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("E2E_SHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)

    def shoot(page: Page, name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return shoot


@pytest.fixture
def connected(live_server):
    """Boulangerie Martin with a Libeo account (and its bank account), connected in MEG with the key."""
    from models.libeo import db as libeo_db
    from models.libeo.accounts.keys import issue_meg_api_key
    from models.libeo.accounts.services import create_account, verify_account
    from models.meg import Company
    from models.meg import db as meg_db
    from models.meg.libeo_link.connection import connect_company

    apps = live_server.apps
    with apps.libeo.app_context():
        account = create_account("Boulangerie Martin SARL", "83451234500002", LIBEO_EMAIL, LIBEO_PASSWORD,
                                 full_name="Claire Martin")
        account.debtor_iban = "FR7630004008220000001583859"
        verify_account(account, "vérifié par le support de Libeo", "tests")  # its payments are executed
        libeo_db.session.commit()
        key = issue_meg_api_key(account)
        libeo_db.session.commit()
    with apps.meg.app_context():
        company = meg_db.session.scalar(select(Company).where(Company.name == "Boulangerie Martin SARL"))
        connect_company(company, key, None)
        meg_db.session.commit()


def execute(live_server) -> None:
    from models.libeo import Payment, db
    from models.libeo.payments.sepa import execute_due_payments

    with live_server.apps.libeo.app_context():
        execute_due_payments(None, db.session.scalar(select(func.max(Payment.execution_date))))


def choose_file(page: Page, name: str, content: bytes, mime: str) -> None:
    page.get_by_label("Fichier de la facture électronique").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": content}])


def test_import_an_e_invoice_then_pay_it_and_get_the_receipt(page: Page, live_server, connected, shots):
    issued = paris_today() - timedelta(days=3)
    invoice = replace(sample_invoice(), number="TL-2026-00318", issue_date=issued, due_date=issued + timedelta(days=45),
                      supplier=TORREFACTION, iban=TORREFACTION_IBAN, bic=TORREFACTION_BIC,
                      lines=(Line("Café en grains « Moka d'Éthiopie » — 1 kg", 6, 2_390),
                             Line("Location machine à café", 1, 6_500)))
    content = facturx_pdf(invoice, "basic")
    amount = format_amount(invoice.due_payable_cents).replace("\u202f", " ").replace("\u00a0", " ")

    # « Achats » → « Factures » → « Importer une facture électronique ».
    log_in(page, "admin@boulangerie-martin.fr")
    page.get_by_role("navigation", name="Modules").get_by_role("link", name="Achats").click()
    page.get_by_role("link", name="Importer une facture électronique").click()
    expect(page.get_by_role("heading", name="Importer une facture électronique")).to_be_visible()
    choose_file(page, "facture-torrefaction.pdf", content, "application/pdf")
    shots(page, "01-upload")
    page.get_by_role("button", name="Lire la facture").click()

    # The pre-filled invoice: a new supplier, « Virement par Libeo » since the company is connected.
    expect(page.get_by_role("heading", name="Vérifier la facture importée")).to_be_visible()
    expect(page.get_by_text("Factur-X (profil BASIC)")).to_be_visible()
    expect(page.get_by_test_id("supplier-match")).to_contain_text("Fournisseur inconnu dans MEG")
    expect(page.get_by_label("Nom du nouveau fournisseur")).to_have_value("Torréfaction Lemaire SAS")
    expect(page.get_by_label("SIRET (facultatif)")).to_have_value(TORREFACTION.siret)
    expect(page.get_by_label("IBAN", exact=True)).to_have_value(TORREFACTION_IBAN)
    expect(page.get_by_label("Numéro")).to_have_value("TL-2026-00318")
    expect(page.get_by_label("Date de facture")).to_have_value(issued.isoformat())
    expect(page.get_by_label("Échéance")).to_have_value((issued + timedelta(days=45)).isoformat())
    expect(page.get_by_label("Net à payer (€)")).to_have_value(cents_to_input(invoice.due_payable_cents))
    expect(page.get_by_test_id("currency")).to_have_text("EUR")
    expect(page.get_by_label("Mode de règlement")).to_have_value("LIBEO")
    shots(page, "02-confirm-new-supplier")
    page.get_by_role("button", name="Enregistrer la facture").click()

    # The invoice, with its file.
    expect(page.get_by_role("status").filter(has_text="La facture TL-2026-00318 de Torréfaction Lemaire SAS est "
                                                      "enregistrée, avec son fichier.")).to_be_visible()
    expect(page.get_by_test_id("invoice-file")).to_contain_text("facture-torrefaction.pdf (Factur-X (BASIC), PDF")
    shots(page, "03-invoice-with-file")
    with page.expect_download() as download:
        page.get_by_role("link", name="facture-torrefaction.pdf").click()
    assert download.value.suggested_filename == "facture-torrefaction.pdf"
    assert Path(download.value.path()).read_bytes() == content
    invoice_url = page.url

    # The next invoice of the same supplier, in UBL, with another IBAN: found by SIRET, the IBAN shown as different.
    page.get_by_role("link", name="Factures").click()
    page.get_by_role("link", name="Importer une facture électronique").click()
    second = replace(invoice, number="TL-2026-00319", iban=OTHER_IBAN, bic=None)
    choose_file(page, "tl-00319.xml", ubl_xml(second), "application/xml")
    page.get_by_role("button", name="Lire la facture").click()
    expect(page.get_by_test_id("supplier-match")).to_contain_text(
        "Fournisseur reconnu par son SIRET : Torréfaction Lemaire SAS.")
    differs = page.get_by_test_id("iban-differs")
    expect(differs).to_contain_text(
        "L'IBAN de la facture diffère de celui que MEG connaît pour Torréfaction Lemaire SAS.")
    expect(differs).to_contain_text("FR76 1027 8060 3900 0000 2375 705")
    expect(page.get_by_label("Garder l'IBAN connu")).to_be_checked()
    expect(page.locator("[data-new-supplier]")).to_be_hidden()
    shots(page, "04-confirm-iban-differs")
    page.get_by_role("button", name="Enregistrer la facture").click()
    # Same supplier, date and amount as TL-2026-00318: MEG asks before recording it.
    expect(page.get_by_test_id("duplicate-warning")).to_contain_text(
        "Facture TL-2026-00318 de Torréfaction Lemaire SAS")
    page.get_by_label("Confirmer malgré le doublon").check()
    page.get_by_role("button", name="Enregistrer la facture").click()
    expect(page.get_by_role("status").filter(has_text="TL-2026-00319")).to_be_visible()

    # A file too large: the upload page says so.
    page.goto("/meg/achats/factures/importer")
    choose_file(page, "enorme.pdf", b"%PDF-1.7\n" + b"0" * (11 * 1024 * 1024), "application/pdf")
    page.get_by_role("button", name="Lire la facture").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Ce fichier est trop volumineux : une facture électronique ne doit pas dépasser 10 Mo.")
    shots(page, "05-too-large")

    # « Payer » the first one; the sync pass sends its file to Libeo.
    page.goto(invoice_url)
    page.get_by_role("link", name="Payer").click()
    page.get_by_role("button", name="Confirmer le paiement").click()
    expect(page.get_by_role("status").filter(has_text="Paiement programmé le")).to_be_visible()
    sync(live_server)
    page.goto("/libeo/connexion")
    page.get_by_label("Adresse e-mail").fill(LIBEO_EMAIL)
    page.get_by_label("Mot de passe").fill(LIBEO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.goto("/libeo/factures/")
    page.get_by_role("link", name="TL-2026-00318").click()
    expect(page.get_by_test_id("invoice-document")).to_contain_text("Facture (PDF)")
    shots(page, "06-libeo-invoice-with-document")
    with page.expect_download() as download:
        page.get_by_role("link", name="Facture (PDF)").click()
    assert Path(download.value.path()).read_bytes() == content

    # The SEPA file is made; its transfer order, from Libeo's payment page…
    execute(live_server)
    page.goto("/libeo/paiements/")
    expect(page.get_by_role("link", name="Ordre de virement (PDF)")).to_be_visible()
    page.get_by_test_id("payment-status").first.click()
    expect(page.get_by_role("heading", name="Paiement de la facture TL-2026-00318")).to_be_visible()
    expect(page.get_by_test_id("payment-status")).to_have_text("Fichier prêt — à transmettre à votre banque")
    shots(page, "07-libeo-payment-with-receipt")
    with page.expect_download() as download:
        page.get_by_role("link", name="Ordre de virement (PDF)").click()
    text = PdfReader(io.BytesIO(Path(download.value.path()).read_bytes())).pages[0].extract_text()
    assert amount in " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split()) and "LIBEO-1" in text

    # … and from MEG's invoice page, once the sync pass has read the news.
    sync(live_server)
    page.goto(invoice_url)
    expect(page.get_by_text("Fichier prêt — à transmettre à votre banque").first).to_be_visible()
    shots(page, "08-meg-invoice-with-receipt")
    with page.expect_download() as download:
        page.get_by_role("link", name="Ordre de virement (PDF)").click()
    assert download.value.suggested_filename == "Ordre de virement TL-2026-00318.pdf"
    text = PdfReader(download.value.path()).pages[0].extract_text()
    text = " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())
    assert amount in text and "LIBEO-1" in text and "Torréfaction Lemaire SAS" in text


def test_a_minimum_file_says_what_it_lacks_and_a_bad_file_is_refused(page: Page, live_server, shots):
    log_in(page, "admin@boulangerie-martin.fr")
    page.goto("/meg/achats/")
    shots(page, "10-invoices-list")
    page.get_by_role("link", name="Importer une facture électronique").click()
    choose_file(page, "avoir.pdf", facturx_pdf(replace(sample_invoice(), type_code="381", due_date=None), "en16931"),
                "application/pdf")
    page.get_by_role("button", name="Lire la facture").click()
    expect(page.get_by_role("alert")).to_contain_text("Les avoirs ne sont pas encore pris en charge")
    shots(page, "11-credit-note-refused")

    minimum = replace(sample_invoice(), number="FA-MIN-1", due_date=None, iban=None)
    choose_file(page, "minimum.pdf", facturx_pdf(minimum, "minimum"), "application/pdf")
    page.get_by_role("button", name="Lire la facture").click()
    expect(page.get_by_test_id("missing")).to_contain_text(
        "Le fichier (profil MINIMUM) ne contient pas : IBAN du fournisseur, date d'échéance.")
    expect(page.get_by_text("proposée à 30 jours après la date de facture")).to_be_visible()
    expect(page.get_by_label("Échéance")).to_have_value((minimum.issue_date + timedelta(days=30)).isoformat())
    expect(page.get_by_label("Mode de règlement")).to_have_value("VIREMENT")
    shots(page, "12-confirm-minimum")
    # The demo's Minoterie Dupuis has no SIRET yet: choosing it hides the new supplier's fields.
    page.get_by_label("Fournisseur", exact=True).select_option(label="Minoterie Dupuis")
    expect(page.locator("[data-new-supplier]")).to_be_hidden()
    page.get_by_role("button", name="Enregistrer la facture").click()
    expect(page.get_by_role("status").filter(has_text="FA-MIN-1 de Minoterie Dupuis est enregistrée")).to_be_visible()
    expect(page.get_by_text("FR76 •••• •••• •••• •••• ••91 963")).to_be_visible()  # the known IBAN, masked
    shots(page, "13-minimum-saved")

    # The same invoice again (its EN 16931 version): already recorded, the file may join it instead.
    page.goto("/meg/achats/factures/importer")
    choose_file(page, "fa-min-1-complete.pdf", facturx_pdf(replace(minimum, iban=sample_invoice().iban), "en16931"),
                "application/pdf")
    page.get_by_role("button", name="Lire la facture").click()
    expect(page.get_by_test_id("supplier-match")).to_contain_text(
        "Fournisseur reconnu par son SIRET : Minoterie Dupuis.")
    duplicate = page.get_by_test_id("duplicate")
    expect(duplicate).to_contain_text(
        "Cette facture semble déjà enregistrée : Minoterie Dupuis a déjà une facture n° FA-MIN-1")
    expect(duplicate).to_contain_text("(il remplacera son fichier « minimum.pdf »)")
    shots(page, "14-already-recorded")
    duplicate.get_by_role("button", name="Joindre ce fichier à la facture enregistrée").click()
    expect(page.get_by_role("status").filter(
        has_text="Le fichier « fa-min-1-complete.pdf » est joint à la facture FA-MIN-1.")).to_be_visible()
    expect(page.get_by_test_id("invoice-file")).to_contain_text("fa-min-1-complete.pdf (Factur-X (EN 16931), PDF")
