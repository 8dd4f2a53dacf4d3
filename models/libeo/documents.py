"""Documents of Libeo (SPEC §13): an invoice's PDF in, a payment's « Justificatif de paiement » out.

- MEG sends the PDF of an invoice it asked Libeo to pay (``PUT
  /invoices/{external_id}/document``): Libeo keeps it in its database, shows
  it on the invoice's page and lets the account download it.
- A payment remitted to the bank (``in_progress``) or paid has a receipt,
  drawn on request from what Libeo recorded: the account (payer), the
  transfer (beneficiary, amount) and the SEPA file that carried it.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from datetime import datetime

from sqlalchemy import select

from core.dates import utcnow
from core.files import MAX_DOCUMENT_BYTES, looks_like_pdf, size_label

from . import db
from .entities import Invoice, InvoiceDocument, Payment
from .errors import Conflict, InvalidData
from .receipt import ReceiptData, receipt_pdf

_PAIN = "{urn:iso:std:iso:20022:tech:xsd:pain.001.001.03}"


# --- the invoice's PDF ------------------------------------------------------------------------------


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
    document = invoice_document(invoice)
    created = document is None
    if created:
        document = InvoiceDocument(account_id=invoice.account_id, invoice_id=invoice.id)
        db.session.add(document)
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


# --- the « Justificatif de paiement » -------------------------------------------------------------------


def payment_receipt(payment: Payment, now: datetime | None = None) -> bytes:
    """The receipt of a payment remitted or paid, as a PDF; Conflict otherwise (French, with its state)."""
    if not payment.has_receipt:
        raise Conflict(
            "Le justificatif de paiement n'existe que pour un paiement remis à la banque ou payé : "
            f"ce paiement est « {payment.status_label} ».",
            code="receipt_unavailable",
        )
    account, batch = payment.account, payment.batch
    return receipt_pdf(ReceiptData(
        payer_name=account.name,
        payer_siret=account.siret,
        debtor_iban=_debtor_iban(batch) or account.debtor_iban or "",
        beneficiary_name=payment.creditor_name,
        creditor_iban=payment.creditor_iban,
        creditor_bic=payment.creditor_bic,
        invoice_number=payment.invoice.number,
        amount_cents=payment.amount_cents,
        currency=payment.currency,
        # The day the bank was asked to execute the transfer (the file's ReqdExctnDt).
        execution_date=batch.execution_date if batch is not None else payment.execution_date,
        end_to_end_id=payment.end_to_end_id,
        sepa_message_id=batch.message_id if batch is not None else None,
        status_label=payment.status_label,
        generated_at=now or utcnow(),
        payment_reference=f"Paiement n° {payment.id}",
    ))


def _debtor_iban(batch) -> str | None:
    """The account debited, as the SEPA file said it (the account's IBAN may have changed since)."""
    if batch is None or batch.xml is None:
        return None
    found = ET.fromstring(batch.xml).find(f".//{_PAIN}DbtrAcct/{_PAIN}Id/{_PAIN}IBAN")
    return found.text if found is not None else None


def receipt_file_name(payment: Payment) -> str:
    return f"Justificatif de paiement {document_file_name(payment.invoice).removeprefix('Facture ')}"
