"""Libeo's documents: an invoice's PDF in (``PUT /invoices/{id}/document``, shown on the
invoice's page), a payment's « Justificatif de paiement » out (API and payment page)."""

from __future__ import annotations

import io
from html import unescape

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select, update

from core.dates import paris_today
from core.validators import mask_iban
from devtools.einvoice_samples import facturx_pdf, sample_invoice
from models.libeo import Invoice, InvoiceDocument, Payment, db
from models.libeo.payments.sepa import execute_due_payments

from .conftest import DEBTOR_IBAN, SUPPLIER_IBAN, Api, LibeoAuth, make_account, make_key

PDF = facturx_pdf(sample_invoice(), "en16931")


def put_document(api: Api, external_id: str, content: bytes, content_type: str = "application/pdf"):
    return api.client.put(f"{Api.PREFIX}/invoices/{external_id}/document", data=content,
                          headers=api.headers({"Content-Type": content_type}))


def documents(libeo_app) -> list[tuple[int, int, bytes]]:
    with libeo_app.app_context():
        return [(d.invoice_id, d.size, d.content) for d in db.session.scalars(select(InvoiceDocument))]


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    text = " ".join(page.extract_text() for page in reader.pages)
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


# --- PUT /invoices/{external_id}/document ------------------------------------------------------------


def test_the_pdf_is_stored_then_replaced(api, libeo_app):
    assert api.put_invoice("meg-1").status_code == 201
    first = put_document(api, "meg-1", PDF)
    assert first.status_code == 201
    assert first.json["size"] == len(PDF) and first.json["content_type"] == "application/pdf"
    assert len(first.json["sha256"]) == 64 and first.json["external_id"] == "meg-1"
    again = put_document(api, "meg-1", PDF + b"\n")
    assert again.status_code == 200
    [(_, size, content)] = documents(libeo_app)
    assert (size, content) == (len(PDF) + 1, PDF + b"\n")


@pytest.mark.parametrize("content, content_type, status, code, words", [
    (b"", "application/pdf", 422, "validation_error", "Le document est vide"),
    (b"<Invoice/>", "application/pdf", 422, "validation_error", "n'est pas un PDF lisible"),
    (PDF, "application/octet-stream", 415, "unsupported_media_type", "Content-Type: application/pdf"),
    (PDF, "application/json", 415, "unsupported_media_type", "doit être un PDF"),
], ids=["empty", "not-a-pdf", "octet-stream", "json"])
def test_what_is_not_a_pdf_is_refused_in_french(api, libeo_app, content, content_type, status, code, words):
    api.put_invoice("meg-1")
    answer = put_document(api, "meg-1", content, content_type)
    assert answer.status_code == status
    assert answer.json["error"]["code"] == code and words in answer.json["error"]["message"]
    assert documents(libeo_app) == []


def test_a_document_above_10_mb_is_a_413_with_its_own_message(api, libeo_app):
    api.put_invoice("meg-1")
    answer = put_document(api, "meg-1", b"%PDF-1.7\n" + b"0" * (10 * 1024 * 1024) + b"%%EOF")
    assert answer.status_code == 413
    assert answer.json["error"] == {"code": "document_too_large", "field": "document",
                                    "message": "Le document dépasse 10 Mo : envoyez un PDF plus léger."}
    assert documents(libeo_app) == []
    # Exactly 10 MB is accepted.
    body = b"%PDF-1.7\n" + b"0" * (10 * 1024 * 1024 - 15) + b"\n%%EOF"
    assert len(body) == 10 * 1024 * 1024
    assert put_document(api, "meg-1", body).status_code == 201


def test_other_calls_keep_the_1_mb_limit(api):
    assert api.put("/invoices/meg-1", json={"number": "x" * 2_000_000}).status_code == 413


def test_an_unknown_or_foreign_invoice_gets_no_document(api, client, libeo_app):
    assert put_document(api, "meg-404", PDF).status_code == 404
    other = Api(client, make_key(libeo_app, make_account(libeo_app, name="Garage Leroy SAS").id))
    other.put_invoice("meg-1")
    assert put_document(api, "meg-1", PDF).status_code == 404
    assert put_document(Api(client, None), "meg-1", PDF).status_code == 401
    assert documents(libeo_app) == []


def test_the_invoice_page_shows_and_downloads_the_document(api, client, libeo_app, account):
    api.put_invoice("meg-1")
    assert api.pay("meg-1").status_code == 201  # an invoice sent by MEG is listed with its first payment
    with libeo_app.app_context():
        invoice_id = db.session.scalar(select(Invoice.id).where(Invoice.external_id == "meg-1"))
    LibeoAuth(client).login(account.email)
    page = unescape(client.get(f"/libeo/factures/{invoice_id}").get_data(as_text=True))
    assert "Aucun document joint" in page
    put_document(api, "meg-1", PDF)
    page = unescape(client.get(f"/libeo/factures/{invoice_id}").get_data(as_text=True))
    assert "Facture (PDF)" in page and f"/libeo/factures/{invoice_id}/document.pdf" in page
    download = client.get(f"/libeo/factures/{invoice_id}/document.pdf")
    assert download.status_code == 200 and download.data == PDF and download.mimetype == "application/pdf"
    assert download.headers["Content-Disposition"] == 'attachment; filename="Facture F-2026-001.pdf"'
    assert "frame-ancestors 'none'" in download.headers["Content-Security-Policy"]
    assert download.headers["X-Content-Type-Options"] == "nosniff"


# --- the « Justificatif de paiement » ----------------------------------------------------------------


@pytest.fixture
def paying(client, libeo_app):
    """An account with a bank account, an invoice sent by MEG and its payment (scheduled)."""
    info = make_account(libeo_app, name="Boulangerie Martin SARL", debtor_iban=DEBTOR_IBAN)
    api = Api(client, make_key(libeo_app, info.id))
    api.put_invoice("meg-1", amount_cents=123_456, issue_date="2026-10-01", due_date="2026-10-30")
    payment = api.pay("meg-1").json
    return info, api, payment


def _execute(libeo_app):
    with libeo_app.app_context():
        day = db.session.scalar(select(func.max(Payment.execution_date)))
        execute_due_payments(None, day)
        payment = db.session.scalar(select(Payment))
        return payment.id, payment.batch.message_id, payment.end_to_end_id


def test_a_scheduled_payment_has_no_receipt_yet(paying, client, libeo_app):
    info, api, payment = paying
    answer = api.get(f"/payments/{payment['id']}/receipt.pdf")
    assert answer.status_code == 409
    assert answer.json["error"]["code"] == "receipt_unavailable"
    assert "« Programmé le" in answer.json["error"]["message"]
    LibeoAuth(client).login(info.email)
    page = unescape(client.get(f"/libeo/paiements/{payment['id']}").get_data(as_text=True))
    assert "Justificatif de paiement" not in page and "Ordre de virement" not in page
    refused = client.get(f"/libeo/paiements/{payment['id']}/justificatif.pdf", follow_redirects=True)
    assert "L'ordre de virement existe une fois le paiement dans un fichier de virements" in unescape(
        refused.get_data(as_text=True))


def test_a_payment_in_a_file_has_its_transfer_order_not_a_receipt(paying, client, libeo_app):
    """Release 2's receipt said « l'ordre de virement a été remis à la banque » while the file waited for the person."""
    info, api, payment = paying
    payment_id, message_id, end_to_end = _execute(libeo_app)
    answer = api.get(f"/payments/{payment_id}/receipt.pdf")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    text = pdf_text(answer.data)
    assert "Ordre de virement" in text and "Justificatif de paiement" not in text
    assert "Fichier prêt — à transmettre à votre banque" in text
    assert "Ce n'est pas un justificatif de paiement : la banque n'a pas encore confirmé le débit" in text
    assert "remis à la banque" not in text
    assert "1 234,56 €" in text
    assert end_to_end in text and message_id in text and f"LIBEO-{payment_id}" in text
    assert "Boulangerie Martin SARL" in text and f"SIRET {info.siret[:3]}" in text and "Minoterie Dupuis" in text
    assert mask_iban(SUPPLIER_IBAN) in text and mask_iban(DEBTOR_IBAN) in text
    assert SUPPLIER_IBAN not in text.replace(" ", "") and DEBTOR_IBAN not in text.replace(" ", "")
    assert "(heure de Paris)" in text

    # The same from the payment's page in Libeo.
    LibeoAuth(client).login(info.email)
    page = unescape(client.get(f"/libeo/paiements/{payment_id}").get_data(as_text=True))
    assert f"/libeo/paiements/{payment_id}/justificatif.pdf" in page and "Ordre de virement (PDF)" in page
    download = client.get(f"/libeo/paiements/{payment_id}/justificatif.pdf")
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    assert "Ordre de virement F-2026-001.pdf" in download.headers["Content-Disposition"]
    assert end_to_end in pdf_text(download.data)


def test_once_debited_the_document_is_the_receipt_with_the_banks_date(paying, client, libeo_app):
    info, api, payment = paying
    payment_id, _, _ = _execute(libeo_app)
    LibeoAuth(client).login(info.email)
    with libeo_app.app_context():
        # Debited on its execution date, which must be past: on a weekend the first one is Monday's.
        day = min(db.session.get(Payment, payment_id).execution_date, paris_today())
        db.session.execute(update(Payment).where(Payment.id == payment_id).values(execution_date=day))
        db.session.commit()
    client.post(f"/libeo/paiements/{payment_id}/debite", data={"debit_date": day.isoformat()})
    with libeo_app.app_context():
        label = db.session.get(Payment, payment_id).status_label
    assert label == f"Débité le {day:%d/%m/%Y}"
    text = pdf_text(api.get(f"/payments/{payment_id}/receipt.pdf").data)
    assert "Justificatif de paiement" in text and "Ordre de virement" not in text
    assert label in text and f"marqué comme débité par {info.email}" in text
    assert "atteste que la banque du donneur d'ordre a débité ce virement" in text
    download = client.get(f"/libeo/paiements/{payment_id}/justificatif.pdf")
    assert "Justificatif de paiement F-2026-001.pdf" in download.headers["Content-Disposition"]


def test_no_receipt_of_another_accounts_payment(paying, client, libeo_app):
    _, _, payment = paying
    _execute(libeo_app)
    other = Api(client, make_key(libeo_app, make_account(libeo_app).id))
    assert other.get(f"/payments/{payment['id']}/receipt.pdf").status_code == 404
    assert other.get("/payments/999999/receipt.pdf").status_code == 404


# --- a Range header ---------------------------------------------------------------------------------

# Past the end, a first slice, and a header that is no range at all.
RANGES = ["bytes=999999999-", "bytes=0-9", "x"]


@pytest.mark.parametrize("asked", RANGES)
def test_a_range_header_gets_the_whole_file_on_every_download(paying, client, libeo_app, asked):
    """A download manager resuming a file: the documents are regenerated and kept by no cache, so each answer is
    the whole file (never a slice of another version, never werkzeug's English 416 page or an HTML page on the
    API)."""
    info, api, payment = paying
    put_document(api, "meg-1", PDF)
    payment_id, _, _ = _execute(libeo_app)
    with libeo_app.app_context():
        invoice_id = db.session.scalar(select(Invoice.id).where(Invoice.external_id == "meg-1"))
    LibeoAuth(client).login(info.email)
    page = {"Range": asked}
    for answer in (api.get(f"/payments/{payment_id}/receipt.pdf", headers=page),
                   client.get(f"/libeo/paiements/{payment_id}/justificatif.pdf", headers=page),
                   client.get(f"/libeo/factures/{invoice_id}/document.pdf", headers=page)):
        body = answer.get_data()
        assert answer.status_code == 200, body[:300]
        assert answer.mimetype == "application/pdf" and "Content-Range" not in answer.headers
        assert body.startswith(b"%PDF-") and body.rstrip().endswith(b"%%EOF")
        assert b"Range Not Satisfiable" not in body
    assert client.get(f"/libeo/factures/{invoice_id}/document.pdf", headers=page).data == PDF
