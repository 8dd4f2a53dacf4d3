"""Invoice changes on their way to Libeo: a transactional outbox in MEG's database.

An invoice Libeo knows (one MEG asked it to pay) is kept up to date there:
each change queues the invoice's whole new state in the same transaction as
the change, and the sync pass delivers the queue in order, retried until
Libeo has it. Data only ever flows from MEG to Libeo.

Two kinds of message, delivered in one order per invoice:
- ``invoice``: the invoice's fields (``PUT /invoices/{id}``), in the payload;
- ``document``: its file as a PDF (``PUT /invoices/{id}/document``), queued
  once Libeo has the invoice (its first payment) and whenever the file
  changes; the bytes are read from the invoice's document when delivered.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, exists, func, select, update
from sqlalchemy.orm import Mapped, aliased, mapped_column

from core.dates import utcnow

from . import db
from .einvoice import EInvoiceError
from .entities import SupplierInvoice
from .invoice_documents import InvoiceDocument, document_of, document_pdf
from .libeo_api import LibeoApiError
from .libeo_connection import LibeoConnection, LibeoLinkError
from .libeo_payments import LibeoPayment, external_id, invoice_payload

CLAIM_SECONDS = 60
MAX_BACKOFF = timedelta(hours=1)
INVOICE, DOCUMENT = "invoice", "document"


class OutboxMessage(db.Model):
    """An invoice change waiting to reach Libeo."""

    __tablename__ = "libeo_outbox"
    __table_args__ = (Index("ix_libeo_outbox_pending", "delivered_at", "next_attempt_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("supplier_invoice.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default=INVOICE, server_default=INVOICE)
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # A worker owns the message until this time; another may take it after.
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))


def known_to_libeo(invoice: SupplierInvoice) -> bool:
    """Whether MEG ever sent this invoice to Libeo (it asked for its payment)."""
    return db.session.scalar(
        select(LibeoPayment.id).where(LibeoPayment.invoice_id == invoice.id,
                                      LibeoPayment.idempotency_key.is_not(None)
                                      | LibeoPayment.libeo_payment_id.is_not(None)).limit(1)
    ) is not None


def invoice_changed(invoice: SupplierInvoice) -> None:
    """Queues the new state of an invoice Libeo knows; part of the caller's transaction."""
    if known_to_libeo(invoice):
        db.session.add(OutboxMessage(company_id=invoice.company_id, invoice_id=invoice.id,
                                     payload=invoice_payload(invoice)))


def document_changed(invoice: SupplierInvoice, document: InvoiceDocument) -> None:
    """Queues the invoice's file for Libeo if Libeo has the invoice; part of the caller's transaction.

    Libeo has it once it answered a payment request with a payment (or told
    of one in its feed): before that, the document waits for that moment
    (``queue_document``).
    """
    has_invoice = db.session.scalar(
        select(LibeoPayment.id).where(LibeoPayment.invoice_id == invoice.id,
                                      LibeoPayment.libeo_payment_id.is_not(None)).limit(1)
    )
    if has_invoice is not None:
        queue_document(invoice.id, invoice.company_id, document)


def queue_document(invoice_id: int, company_id: int, document: InvoiceDocument | None = None) -> None:
    """A « document » message for the invoice, if it has a file."""
    document = document or document_of(invoice_id)
    if document is not None:
        db.session.add(OutboxMessage(company_id=company_id, invoice_id=invoice_id, kind=DOCUMENT,
                                     payload={"filename": document.filename, "sha256": document.sha256}))


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=5 * 2 ** min(attempts, 12)), MAX_BACKOFF)


def deliver_invoice_updates(limit: int = 100) -> tuple[int, int]:
    """Delivers due messages, oldest first, one invoice's messages in order.

    Only the oldest undelivered message of each invoice is eligible, and a
    worker claims it with a conditional UPDATE before calling Libeo, so any
    number of workers may run at once. Returns (delivered, postponed).
    """
    now = utcnow()
    earlier = aliased(OutboxMessage)
    heads = db.session.scalars(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.delivered_at.is_(None),
            OutboxMessage.next_attempt_at <= now,
            ~exists().where(earlier.invoice_id == OutboxMessage.invoice_id, earlier.delivered_at.is_(None),
                            earlier.id < OutboxMessage.id),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()
    db.session.commit()
    delivered = postponed = 0
    for message_id in heads:
        claimed = db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.delivered_at.is_(None),
                   (OutboxMessage.claimed_until.is_(None)) | (OutboxMessage.claimed_until < now))
            .values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
        ).rowcount
        db.session.commit()
        if not claimed:
            continue
        message = db.session.get(OutboxMessage, message_id)
        error = _deliver(message)
        if error is None:
            message.delivered_at = utcnow()
            message.last_error = None
            delivered += 1
        else:
            message.attempts += 1
            message.next_attempt_at = utcnow() + _backoff(message.attempts)
            message.last_error = error[:500]
            postponed += 1
        message.claimed_until = None
        db.session.commit()
    return delivered, postponed


def _deliver(message: OutboxMessage) -> str | None:
    connection = db.session.scalar(select(LibeoConnection).where(LibeoConnection.company_id == message.company_id))
    if connection is None:
        return "Entreprise non connectée à Libeo."
    try:
        client, reference = connection.client(attempts=1), external_id(message.invoice_id)
        if message.kind == DOCUMENT:
            send = _document_sender(client, reference, message.invoice_id)
        else:
            payload = message.payload
            send = lambda: client.put_invoice(reference, payload)  # noqa: E731
        db.session.commit()
        send()
    except LibeoApiError as error:
        connection.record_failure(error)
        return error.message
    except (LibeoLinkError, EInvoiceError) as error:
        return str(error)
    connection.record_success()
    return None


def _document_sender(client, reference: str, invoice_id: int):
    """The call that sends the invoice's current file (nothing when it has none any more)."""
    document = document_of(invoice_id)
    if document is None:
        return lambda: None
    pdf = document_pdf(document)
    return lambda: client.put_document(reference, pdf)


def pending_updates_count() -> int:
    return db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.delivered_at.is_(None))) or 0

