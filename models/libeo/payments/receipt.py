"""A payment's document, filled from what Libeo recorded (drawn by ``receipt_pdf``): its « Ordre de
virement » from the SEPA file on, its « Justificatif de paiement » once the bank confirmed the debit."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime

from core.dates import utcnow
from models.libeo.errors import Conflict
from models.libeo.invoices.documents import document_file_name
from models.libeo.payments.models import Payment, PaymentStatus
from models.libeo.payments.receipt_pdf import ReceiptData, receipt_pdf

_PAIN = "{urn:iso:std:iso:20022:tech:xsd:pain.001.001.03}"


def payment_receipt(payment: Payment, now: datetime | None = None) -> bytes:
    """The payment's document as a PDF; Conflict (French, with its state) before its SEPA file or once rejected."""
    if not payment.has_receipt:
        raise Conflict(
            "L'ordre de virement existe une fois le paiement dans un fichier de virements, et le justificatif de "
            f"paiement une fois le virement débité : ce paiement est « {payment.status_label} ».",
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
        debited_on=payment.paid_on if payment.status is PaymentStatus.PAID else None,
        debit_source=_debit_source(payment),
    ))


def _debit_source(payment: Payment) -> str | None:
    """Who said the transfer was debited."""
    if payment.status is not PaymentStatus.PAID:
        return None
    if payment.marked_paid_by:
        return f"marqué comme débité par {payment.marked_paid_by}"
    if payment.bank_status == "BOOK":
        return "écriture du relevé de la banque"
    return f"statut {payment.bank_status} de la banque" if payment.bank_status else "confirmé par la banque"


def _debtor_iban(batch) -> str | None:
    """The account debited, as the SEPA file said it (the account's IBAN may have changed since)."""
    if batch is None:
        return None
    if batch.debtor_iban:
        return batch.debtor_iban
    if batch.xml is None:
        return None
    found = ET.fromstring(batch.xml).find(f".//{_PAIN}DbtrAcct/{_PAIN}Id/{_PAIN}IBAN")
    return found.text if found is not None else None


def receipt_file_name(payment: Payment) -> str:
    return f"{payment.receipt_title} {document_file_name(payment.invoice).removeprefix('Facture ')}"
