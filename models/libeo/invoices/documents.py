"""Documents of Libeo: an invoice's PDF in, a payment's « Justificatif de paiement » out.

- MEG sends the PDF of an invoice it asked Libeo to pay (``PUT
  /invoices/{external_id}/document``): Libeo keeps it in its database, shows
  it on the invoice's page and lets the account download it.
- A payment in a SEPA file has its transfer order, and once debited its receipt,
  drawn on request from what Libeo recorded: the account (payer), the
  transfer (beneficiary, amount) and the SEPA file that carried it."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from core.dates import utcnow
from core.files import MAX_DOCUMENT_BYTES, looks_like_pdf, size_label
from models.libeo.db import db
from models.libeo.errors import InvalidData
from models.libeo.invoices.models import Invoice, InvoiceDocument


def invoice_document(invoice: Invoice) -> InvoiceDocument | None:
    """The invoice's PDF, without its bytes."""
    return db.session.scalar(select(InvoiceDocument).where(InvoiceDocument.invoice_id == invoice.id))


def store_invoice_document(invoice: Invoice, content: bytes) -> tuple[InvoiceDocument, bool]:
    """Keeps the PDF with the invoice, replacing the previous one; True when it is the first."""
    if not content:
        raise InvalidData("Le document est vide : envoyez le PDF de la facture.", "document")
    if len(content) > MAX_DOCUMENT_BYTES:
        raise InvalidData(too_large_message(), "document")
    if not looks_like_pdf(content):
        raise InvalidData("Ce document n'est pas un PDF lisible (en-tête %PDF- ou fin de fichier %%EOF absents).",
                          "document")
    found = invoice_document(invoice)
    created = found is None
    if found is None:
        document = InvoiceDocument(account_id=invoice.account_id, invoice_id=invoice.id)
        db.session.add(document)
    else:
        document = found
    document.content = content
    document.size = len(content)
    document.sha256 = hashlib.sha256(content).hexdigest()
    document.received_at = utcnow()
    db.session.flush()
    return document, created


def too_large_message() -> str:
    return f"Le document dépasse {size_label(MAX_DOCUMENT_BYTES)} : envoyez un PDF plus léger."


def document_file_name(invoice: Invoice) -> str:
    """« Facture FA-2026-0142.pdf »: the supplier's number, without what a file name cannot hold."""
    number = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in invoice.number).strip(".-") or str(invoice.id)
    return f"Facture {number}.pdf"
