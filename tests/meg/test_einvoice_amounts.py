"""Amounts as EN 16931 defines them: an invoice of 671,15 € TTC of which 201,00 € were already paid stays an
invoice of 671,15 € TTC, with 470,15 € to pay; the accountant's books and the supplier's statement agree."""

from __future__ import annotations

import io
from dataclasses import replace
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from devtools.einvoice_samples import Line, cii_xml, facturx_pdf, sample_invoice
from models.meg import SupplierInvoice, db
from models.meg.einvoices.documents import document_of, document_pdf
from tests.html_forms import form_values, plain

from .test_einvoice_import import confirm, start

# 636,16 € of flour at 5,5 %: 34,99 € of VAT, 671,15 € TTC; a deposit of 201,00 € paid with the order.
DEPOSIT = replace(sample_invoice(number="FA-2026-0671", prepaid_cents=20_100),
                  lines=(Line("Farine T65, sacs de 25 kg", 1, 63_616, Decimal("5.5")),))


@pytest.fixture
def admin(client, demo, meg_auth):
    meg_auth.login()
    return client


def stored(meg_app, number: str) -> dict:
    with meg_app.app_context():
        invoice = db.session.scalar(select(SupplierInvoice).where(SupplierInvoice.number == number))
        return {"id": invoice.id, "amount": invoice.amount_cents, "net": invoice.net_cents, "vat": invoice.vat_cents,
                "total": invoice.total_cents, "prepaid": invoice.prepaid_cents}


@pytest.mark.parametrize("kind", ["factur-x", "cii"])
def test_a_deposit_paid_leaves_the_total_with_vat_as_it_is_and_the_amount_due_to_pay(admin, meg_app, kind):
    content = facturx_pdf(DEPOSIT, "en16931") if kind == "factur-x" else cii_xml(DEPOSIT, "en16931")
    location, page = start(admin, content, f"acompte.{'pdf' if kind == 'factur-x' else 'xml'}")

    assert form_values(page)["amount"] == "470,15"
    assert ("Net à payer, ce que le paiement réglera : total TTC 671,15 € (HT 636,16 € + TVA 34,99 €), "
            "moins 201,00 € déjà payés.") in plain(page)
    answer = confirm(admin, location, page)
    assert answer.status_code == 302

    assert stored(meg_app, "FA-2026-0671") | {"id": 0} == {
        "id": 0, "amount": 47_015, "net": 63_616, "vat": 3_499, "total": 67_115, "prepaid": 20_100}
    shown = plain(admin.get(answer.headers["Location"]).get_data(as_text=True))
    assert ("Total HT 636,16 € TVA 34,99 € Montant TTC 671,15 € Déjà payé 201,00 € Net à payer 470,15 €"
            in shown)
    listed = plain(admin.get("/meg/achats/").get_data(as_text=True))
    assert "671,15 € net à payer 470,15 €" in listed


def test_the_pdf_libeo_receives_says_the_same(admin, meg_app):
    location, page = start(admin, cii_xml(DEPOSIT, "en16931"), "acompte.xml")
    assert confirm(admin, location, page).status_code == 302
    with meg_app.app_context():
        invoice_id = stored(meg_app, "FA-2026-0671")["id"]
        pdf = document_pdf(document_of(invoice_id))

    text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())
    for row in ("Total HT 636,16", "TVA 34,99", "Montant TTC 671,15", "Déjà payé 201,00", "Net à payer 470,15"):
        assert row in text.replace("\u202f", " ").replace("\xa0", " ")


def test_an_invoice_without_deposit_shows_one_amount(admin, meg_app):
    location, page = start(admin, cii_xml(sample_invoice(), "en16931"), "f.xml")
    answer = confirm(admin, location, page)

    shown = plain(admin.get(answer.headers["Location"]).get_data(as_text=True))
    assert "Montant TTC 464,40 €" in shown and "Net à payer" not in shown
