"""« Nouvelle facture » takes the invoice's file: a PDF kept and shown on the invoice's page, or the supplier's
e-invoice (Factur-X PDF, CII or UBL XML) read with the reader MEG's import uses, which fills the fields left
empty, checks those typed and gives the invoice its EN 16931 totals. A file Libeo cannot take gets its French
reason and nothing is saved; the file is only ever shown to the account's users."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date
from decimal import Decimal
from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from core.validators import format_iban
from devtools.einvoice_samples import (
    MINOTERIE_IBAN,
    Line,
    cii_failing_xsd,
    cii_xml,
    credit_note,
    facturx_pdf,
    invoice_pdf,
    sample_invoice,
    ubl_xml,
)
from models.libeo import Invoice, InvoiceDocument, db
from tests.html_forms import form_values, plain

from .conftest import PASSWORD, make_account

NEW = "/libeo/factures/nouvelle"
INVOICE = sample_invoice()  # Minoterie Dupuis, FA-2026-0142, 5 Oct. 2026, due 4 Nov., 464,40 € TTC
BLANK = {"number": "", "supplier_name": "", "supplier_iban": "", "supplier_bic": "", "issue_date": "",
         "due_date": "", "amount": ""}
# 636,16 € HT at 5,5 %: 671,15 € TTC, of which 201,00 € paid with the order.
DEPOSIT = replace(sample_invoice(number="FA-2026-0671", prepaid_cents=20_100),
                  lines=(Line("Farine T65, sacs de 25 kg", 1, 63_616, Decimal("5.5")),))


def post(client, content: bytes | None, filename: str = "facture.pdf", **fields):
    data = {**BLANK, **fields}
    if content is not None:
        data["document"] = (BytesIO(content), filename)
    return client.post(NEW, data=data, content_type="multipart/form-data")


def saved(libeo_app) -> list[dict]:
    with libeo_app.app_context():
        rows = []
        for invoice in db.session.scalars(select(Invoice).order_by(Invoice.id)):
            document = db.session.scalar(select(InvoiceDocument).where(InvoiceDocument.invoice_id == invoice.id))
            rows.append({
                "id": invoice.id, "number": invoice.number, "supplier": invoice.supplier_name,
                "iban": invoice.supplier_iban, "bic": invoice.supplier_bic, "issue": invoice.issue_date,
                "due": invoice.due_date, "amount": invoice.amount_cents,
                "totals": (invoice.net_cents, invoice.vat_cents, invoice.total_cents, invoice.prepaid_cents,
                           invoice.rounding_cents),
                "document": document.content if document else None,
            })
        return rows


def pdf_text(content: bytes) -> str:
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


@pytest.mark.parametrize("kind", ["factur-x", "cii", "ubl"])
def test_an_e_invoice_fills_the_empty_fields_and_the_invoice_is_saved(client, libeo_app, signed_in, kind):
    content, name = {"factur-x": (facturx_pdf(INVOICE, "en16931"), "f.pdf"), "cii": (cii_xml(INVOICE), "f.xml"),
                     "ubl": (ubl_xml(INVOICE), "f.xml")}[kind]
    answer = post(client, content, name)
    assert answer.status_code == 302, plain(answer.get_data(as_text=True))[-600:]
    page = plain(client.get(answer.headers["Location"]).get_data(as_text=True))
    described = {"factur-x": "Factur-X (profil EN 16931)", "cii": "CII (profil EN 16931)", "ubl": "UBL"}[kind]
    assert f"La facture FA-2026-0142 est enregistrée, lue dans le fichier {described}" in page
    [invoice] = saved(libeo_app)
    assert {k: v for k, v in invoice.items() if k not in ("id", "document")} == {
        "number": "FA-2026-0142", "supplier": "Minoterie Dupuis", "iban": MINOTERIE_IBAN, "bic": "AGRIFRPPXXX",
        "issue": date(2026, 10, 5), "due": date(2026, 11, 4), "amount": 46_440,
        "totals": (43_400, 3_040, 46_440, None, None)}
    if kind == "factur-x":
        assert invoice["document"] == content  # kept as received
    else:  # the readable PDF drawn from the XML, which says where the original is
        assert "Facture FA-2026-0142" in pdf_text(invoice["document"])
        assert "conservez le fichier XML original" in pdf_text(invoice["document"])
    assert "Facture (PDF)" in page


def test_a_deposit_invoice_keeps_its_totals_and_libeo_pays_what_is_due(client, libeo_app, signed_in):
    answer = post(client, cii_xml(DEPOSIT), "acompte.xml")
    assert answer.status_code == 302
    [invoice] = saved(libeo_app)
    assert invoice["amount"] == 47_015 and invoice["totals"] == (63_616, 3_499, 67_115, 20_100, None)
    page = plain(client.get(answer.headers["Location"]).get_data(as_text=True))
    assert "Montant TTC 671,15 € Déjà payé 201,00 € Net à payer 470,15 €" in page
    assert "Montant du virement : 470,15 € : le net à payer" in page
    assert "Net à payer 470,15" in pdf_text(invoice["document"])


def test_typed_fields_that_agree_with_the_file_are_kept(client, libeo_app, signed_in):
    answer = post(client, facturx_pdf(INVOICE, "en16931"), number="fa 2026 0142", amount="464,40",
                  supplier_name="Minoterie Dupuis SA", due_date="2026-11-30")
    assert answer.status_code == 302
    [invoice] = saved(libeo_app)
    assert (invoice["number"], invoice["supplier"], invoice["due"]) == (
        "fa 2026 0142", "Minoterie Dupuis SA", date(2026, 11, 30))


@pytest.mark.parametrize("typed, field, message", [
    ({"amount": "671,15"}, "amount", "Le fichier indique un net à payer de 464,40 €, pas 671,15 €"),
    ({"number": "FA-2026-0999"}, "number", "Le fichier est la facture n° FA-2026-0142, pas FA-2026-0999"),
    ({"supplier_iban": "FR76 1027 8060 3900 0000 2375 705"}, "supplier_iban",
     f"Le fichier indique l'IBAN {format_iban(MINOTERIE_IBAN)}, pas FR76 1027 8060 3900 0000 2375 705"),
    ({"issue_date": "2026-10-06"}, "issue_date", "Le fichier est daté du 05/10/2026, pas du 06/10/2026"),
], ids=["amount", "number", "iban", "issue-date"])
def test_a_typed_field_the_file_contradicts_is_refused_and_nothing_is_saved(
        client, libeo_app, signed_in, typed, field, message):
    answer = post(client, facturx_pdf(INVOICE, "en16931"), **typed)
    assert answer.status_code == 200
    page = plain(answer.get_data(as_text=True))
    assert message in page
    assert "Joignez de nouveau le fichier avant d'enregistrer" in page
    assert saved(libeo_app) == []


def test_what_a_minimum_file_lacks_is_asked_for_with_the_rest_filled(client, libeo_app, signed_in):
    content = facturx_pdf(INVOICE, "minimum")  # no IBAN, no due date
    answer = post(client, content)
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    page = plain(html)
    assert "Le fichier n'indique pas l'IBAN du fournisseur : saisissez-le." in page
    assert "Le fichier n'indique pas d'échéance : saisissez-la." in page
    assert "Repris du fichier : Numéro, Fournisseur, Date de facture, Montant TTC (€). Vérifiez-les." in page
    values = form_values(html, "form-grid")
    assert (values["number"], values["supplier_name"], values["issue_date"], values["amount"]) == (
        "FA-2026-0142", "Minoterie Dupuis", "2026-10-05", "464,40")
    assert saved(libeo_app) == []

    values = {name: values[name] for name in BLANK} | {"supplier_iban": MINOTERIE_IBAN, "due_date": "2026-11-04"}
    answer = post(client, content, **values)
    assert answer.status_code == 302
    assert saved(libeo_app)[0]["iban"] == MINOTERIE_IBAN


def test_a_plain_pdf_is_kept_with_the_fields_typed(client, libeo_app, signed_in):
    content = invoice_pdf(INVOICE)  # a PDF invoice, no XML inside
    answer = post(client, content, "scan.pdf", number="FA-2026-0142", supplier_name="Minoterie Dupuis",
                  supplier_iban=MINOTERIE_IBAN, issue_date="2026-10-05", due_date="2026-11-04", amount="464,40")
    assert answer.status_code == 302
    assert "La facture FA-2026-0142 est enregistrée." in plain(
        client.get(answer.headers["Location"]).get_data(as_text=True))
    [invoice] = saved(libeo_app)
    assert invoice["document"] == content and invoice["totals"] == (None,) * 5


@pytest.mark.parametrize("content, name, message", [
    (b"Bonjour, voici la facture.", "notes.txt", "Ce document n'est pas un PDF lisible"),
    (b"%PDF-1.7 tronque", "coupe.pdf", "Ce document n'est pas un PDF lisible"),
    (facturx_pdf(credit_note(), "en16931"), "avoir.pdf", "Les avoirs ne sont pas encore pris en charge"),
    (cii_failing_xsd(), "invalide.xml", "il ne respecte pas le schéma officiel (XSD)"),
    (facturx_pdf(replace(INVOICE, currency="USD"), "en16931"), "usd.pdf",
     "Cette facture est en USD : Libeo ne paie qu'en euros (EUR)"),
    (cii_xml(replace(INVOICE, payment_means_code="59")), "prelevement.xml",
     "Le fournisseur indique un prélèvement : il débitera lui-même ce montant"),
    (b"", "vide.pdf", None),  # an empty file input is no file: the form asks for its fields
], ids=["text", "truncated-pdf", "credit-note", "xsd", "usd", "direct-debit", "empty"])
def test_a_file_libeo_cannot_take_gets_its_french_reason_and_nothing_is_saved(
        client, libeo_app, signed_in, content, name, message):
    answer = post(client, content, name)
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    if message:
        assert message in plain(html) and 'id="document-error"' in html
    else:
        assert "Saisissez une date valide." in plain(html)
    assert saved(libeo_app) == []


def test_a_file_above_10_mb_is_refused_with_the_form(client, libeo_app, signed_in):
    answer = post(client, b"%PDF-1.7\n" + b"0" * (11 * 1024 * 1024), "enorme.pdf")
    assert answer.status_code == 413
    assert "Le document dépasse 10 Mo" in plain(answer.get_data(as_text=True))
    assert saved(libeo_app) == []


def test_the_file_is_shown_to_the_accounts_users_only(client, libeo_app, signed_in, libeo_auth):
    content = facturx_pdf(INVOICE, "en16931")
    assert post(client, content).status_code == 302
    invoice_id = saved(libeo_app)[0]["id"]
    download = client.get(f"/libeo/factures/{invoice_id}/document.pdf")
    assert download.status_code == 200 and download.data == content
    assert download.headers["Content-Type"] == "application/pdf"

    client.post("/libeo/deconnexion")
    assert client.get(f"/libeo/factures/{invoice_id}/document.pdf").status_code == 302  # to sign in
    other = make_account(libeo_app, name="Garage Leroy SAS")
    libeo_auth.login(other.email, PASSWORD)
    assert client.get(f"/libeo/factures/{invoice_id}/document.pdf").status_code == 404
    assert client.get(f"/libeo/factures/{invoice_id}").status_code == 404


def test_the_reader_is_the_one_meg_imports_with():
    import models.meg.einvoices.reading as megs
    from core.einvoices import reading
    from models.libeo.invoices import einvoices

    assert megs is reading and einvoices.read_einvoice_within_limits is reading.read_einvoice_within_limits


def test_a_refused_file_saves_nothing_even_with_every_field_typed(client, libeo_app, signed_in):
    typed = {"number": "FA-2026-0142", "supplier_name": "Minoterie Dupuis", "supplier_iban": MINOTERIE_IBAN,
             "issue_date": "2026-10-05", "due_date": "2026-11-04", "amount": "464,40"}
    answer = post(client, b"pas un PDF", "x.txt", **typed)
    assert "Ce document n'est pas un PDF lisible" in plain(answer.get_data(as_text=True))
    assert saved(libeo_app) == []
    with libeo_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(InvoiceDocument)) == 0


def test_a_file_addressed_to_another_company_is_said_so_after_saving(client, libeo_app, signed_in):
    assert signed_in.siret[:9] != "834512345"  # the test account is not the file's buyer
    answer = post(client, facturx_pdf(INVOICE, "en16931"))  # addressed to Boulangerie Martin, SIRET 83451234500002
    assert answer.status_code == 302
    page = plain(client.get(answer.headers["Location"]).get_data(as_text=True))
    assert (f"Attention : ce fichier est adressé à Boulangerie Martin SARL (SIRET 83451234500002), pas à "
            f"{signed_in.name}. Vérifiez qu'il vous revient de la payer.") in page
