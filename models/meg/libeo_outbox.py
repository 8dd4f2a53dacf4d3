"""Invoice changes on their way to Libeo: a transactional outbox in MEG's database.

An invoice Libeo knows (one MEG asked it to pay) is kept up to date there:
each change queues the invoice's whole new state in the same transaction as
the change, and the sync pass delivers the queue in order, retried until
Libeo has it. Data only ever flows from MEG to Libeo.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, exists, func, select, update
from sqlalchemy.orm import Mapped, aliased, mapped_column

from core.dates import utcnow

from . import db
from .entities import SupplierInvoice
from .libeo_api import LibeoApiError
from .libeo_connection import LibeoConnection, LibeoLinkError
from .libeo_payments import LibeoPayment, external_id, invoice_payload

CLAIM_SECONDS = 60
MAX_BACKOFF = timedelta(hours=1)


class OutboxMessage(db.Model):
    """An invoice change waiting to reach Libeo."""

    __tablename__ = "libeo_outbox"
    __table_args__ = (Index("ix_libeo_outbox_pending", "delivered_at", "next_attempt_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("supplier_invoice.id", ondelete="CASCADE"), index=True)
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
        client, payload = connection.client(attempts=1), message.payload
        reference = external_id(message.invoice_id)
        db.session.commit()
        client.put_invoice(reference, payload)
    except LibeoApiError as error:
        connection.record_failure(error)
        return error.message
    except LibeoLinkError as error:
        return error.message
    connection.record_success()
    return None


def pending_updates_count() -> int:
    return db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.delivered_at.is_(None))) or 0

