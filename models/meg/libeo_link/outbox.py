"""Invoice changes on their way to Libeo: a transactional outbox in MEG's database.

An invoice Libeo knows (one MEG asked it to pay) is kept up to date there:
each change queues the invoice's whole state in the same transaction as the
change, and the sync pass delivers it, retried until Libeo has it. Data only
ever flows from MEG to Libeo.

Two kinds of message, each carrying the whole of what it sends:
- ``invoice``: the invoice's fields (``PUT /invoices/{id}``), in the payload;
- ``document``: its file as a PDF (``PUT /invoices/{id}/document``), queued
  once Libeo has the invoice (its first payment) and whenever the file
  changes; the bytes are read from the invoice's document when delivered.

Since each message carries the whole state, only an invoice's newest message
of each kind is sent; older ones are superseded when it is delivered. A
message Libeo refuses for good (a 4xx other than 409 and 429) stops being
retried and is listed in « Options » (« Réessayer », « Ignorer ») without
blocking later changes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    String,
    bindparam,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, aliased, mapped_column, relationship

from core.dates import utcnow
from core.db import purge_in_batches, rowcount
from core.einvoices.reading import EInvoiceError
from models.meg.achats.models import SupplierInvoice
from models.meg.db import Model, db
from models.meg.einvoices.documents import InvoiceDocument, document_of, document_pdf, documents_of
from models.meg.libeo_link.attempts import PaymentAttempt, external_id, libeo_payload
from models.meg.libeo_link.client import (
    LibeoApiError,
    LibeoKeyRefused,
    LibeoUnheard,
    LibeoUnreachable,
)
from models.meg.libeo_link.connection import LibeoConnection, LibeoLinkError
from models.meg.notifications.events import updates_refused

CLAIM_SECONDS = 60
MAX_BACKOFF = timedelta(hours=1)
RETENTION = timedelta(days=30)
SUPERSEDED = "Remplacée par une mise à jour plus récente."
INVOICE, DOCUMENT = "invoice", "document"


class OutboxMessage(Model):
    """An invoice change waiting to reach Libeo."""

    __tablename__ = "libeo_outbox"
    __table_args__ = (Index("ix_libeo_outbox_pending", "delivered_at", "next_attempt_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("supplier_invoice.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default=INVOICE, server_default=INVOICE)
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # A worker owns the message until this time; another may take it after.
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Refused for good by Libeo: no more retries until someone clicks « Réessayer ».
    refused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # « Ignorer »: an administrator decided Libeo need not have it.
    ignored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))

    invoice: Mapped[SupplierInvoice] = relationship()

    @property
    def what(self) -> str:
        """What it sends, as « Options » names it."""
        return "le fichier de la facture" if self.kind == DOCUMENT else "la facture"


def _waiting(message=OutboxMessage):
    return (message.delivered_at.is_(None)) & (message.refused_at.is_(None)) & (message.ignored_at.is_(None))


def known_to_libeo(invoice: SupplierInvoice) -> bool:
    """Whether MEG ever sent this invoice to Libeo (it asked for its payment)."""
    return db.session.scalar(
        select(PaymentAttempt.id).where(PaymentAttempt.invoice_id == invoice.id,
                                      PaymentAttempt.idempotency_key.is_not(None)
                                      | PaymentAttempt.libeo_payment_id.is_not(None)).limit(1)
    ) is not None


def invoice_changed(invoice: SupplierInvoice) -> None:
    """Queues the invoice's state for Libeo if Libeo knows it; part of the caller's transaction."""
    if known_to_libeo(invoice):
        db.session.add(OutboxMessage(company_id=invoice.company_id, invoice_id=invoice.id,
                                     payload=libeo_payload(invoice)))


def document_changed(invoice: SupplierInvoice, document: InvoiceDocument) -> None:
    """Queues the invoice's file for Libeo if Libeo has the invoice; part of the caller's transaction.

    Libeo has it once it answered a payment request with a payment (or told
    of one in its feed): before that, the document waits for that moment
    (``queue_document``).
    """
    has_invoice = db.session.scalar(
        select(PaymentAttempt.id).where(PaymentAttempt.invoice_id == invoice.id,
                                      PaymentAttempt.libeo_payment_id.is_not(None)).limit(1)
    )
    if has_invoice is not None:
        queue_document(invoice.id, invoice.company_id, document)


def queue_documents(invoice_ids: list[int], company_id: int) -> None:
    """:func:`queue_document` for several invoices, their files read in one statement."""
    documents = documents_of(invoice_ids)
    for invoice_id in invoice_ids:
        if invoice_id in documents:
            queue_document(invoice_id, company_id, documents[invoice_id])


def queue_document(invoice_id: int, company_id: int, document: InvoiceDocument | None = None) -> None:
    """A « document » message for the invoice, if it has a file."""
    document = document or document_of(invoice_id)
    if document is not None:
        db.session.add(OutboxMessage(company_id=company_id, invoice_id=invoice_id, kind=DOCUMENT,
                                     payload={"filename": document.filename, "sha256": document.sha256}))


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=5 * 2 ** min(attempts, 12)), MAX_BACKOFF)


def deliver_invoice_updates(limit: int = 100) -> tuple[int, int]:
    """Delivers each invoice's newest waiting message; returns (delivered, postponed).

    A worker claims a message with a conditional UPDATE before calling
    Libeo, so any number of workers may run at once.
    """
    now = utcnow()
    newer = aliased(OutboxMessage)
    heads = db.session.scalars(
        select(OutboxMessage.id)
        .where(
            _waiting(),
            OutboxMessage.next_attempt_at <= now,
            ~exists().where(newer.invoice_id == OutboxMessage.invoice_id, newer.kind == OutboxMessage.kind,
                            _waiting(newer), newer.id > OutboxMessage.id),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()
    db.session.commit()
    delivered = postponed = 0
    for message_id in heads:
        claimed = rowcount(db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, _waiting(),
                   or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now))
            .values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
        ))
        db.session.commit()
        if not claimed:
            continue
        message = db.session.get_one(OutboxMessage, message_id)
        refusal, for_good = _deliver(message)
        if refusal is None:
            message.delivered_at = utcnow()
            message.last_error = None
            _supersede_older(message)
            delivered += 1
        elif for_good:
            message.refused_at = utcnow()
            message.last_error = refusal[:500]
            updates_refused(message.company_id, message.invoice.number, refusal)
        else:
            message.attempts += 1
            message.next_attempt_at = utcnow() + _backoff(message.attempts)
            message.last_error = refusal[:500]
            postponed += 1
        message.claimed_until = None
        db.session.commit()
    return delivered, postponed


def _supersede_older(message: OutboxMessage) -> None:
    """The newest state is in Libeo: older messages of the invoice and kind, waiting or refused, are moot."""
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.invoice_id == message.invoice_id, OutboxMessage.kind == message.kind,
               OutboxMessage.id < message.id,
               OutboxMessage.delivered_at.is_(None), OutboxMessage.ignored_at.is_(None))
        .values(delivered_at=utcnow(), last_error=SUPERSEDED)
        .execution_options(synchronize_session=False)
    )


def _deliver(message: OutboxMessage) -> tuple[str | None, bool]:
    """(None, _) once delivered; else Libeo's reason and whether it refused for good."""
    connection = db.session.scalar(select(LibeoConnection).where(LibeoConnection.company_id == message.company_id))
    if connection is None:
        return "Entreprise non connectée à Libeo.", False
    if connection.is_removed:  # its key, if still kept, only follows the payments in flight
        return ("Connexion à Libeo supprimée : la mise à jour partira avec la prochaine clé collée dans "
                "« Options ».", False)
    try:
        client, reference = connection.client(attempts=1), external_id(message.invoice_id)
        if message.kind == DOCUMENT:
            send = _document_sender(client, reference, message.invoice_id)
        else:
            payload = message.payload
            send = lambda: client.put_invoice(reference, payload)  # noqa: E731
        db.session.commit()
        send()
    except (LibeoUnheard, LibeoUnreachable, LibeoKeyRefused) as error:
        connection.record_failure(error)
        return error.message, False
    except LibeoApiError as error:
        connection.record_success()
        return error.message, error.status not in (409, 429)
    except (LibeoLinkError, EInvoiceError) as error:
        return str(error), False
    connection.record_success()
    return None, False


def _document_sender(client, reference: str, invoice_id: int):
    """The call that sends the invoice's current file (nothing when it has none any more)."""
    document = document_of(invoice_id)
    if document is None:
        return lambda: None
    pdf = document_pdf(document)
    return lambda: client.put_document(reference, pdf)


# --- what « Options » shows and does ------------------------------------------------------------


def waiting_count(company_id: int) -> int:
    return db.session.scalar(
        select(func.count(OutboxMessage.id)).where(OutboxMessage.company_id == company_id, _waiting())
    ) or 0


def refused_updates(company_id: int) -> list[OutboxMessage]:
    """Changes Libeo refused for good and nobody dealt with yet, newest first."""
    return list(db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.company_id == company_id, OutboxMessage.refused_at.is_not(None),
               OutboxMessage.delivered_at.is_(None), OutboxMessage.ignored_at.is_(None))
        .order_by(OutboxMessage.id.desc())
    ))


def company_message(company_id: int, message_id: int) -> OutboxMessage | None:
    """The company's message, never another company's."""
    return db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.id == message_id, OutboxMessage.company_id == company_id)
    )


def _check_refused(message: OutboxMessage) -> None:
    if message.refused_at is None or message.delivered_at is not None or message.ignored_at is not None:
        raise LibeoLinkError("Cette mise à jour n'est plus en attente : rechargez la page.")


def retry_refused(message: OutboxMessage) -> None:
    """« Réessayer »: the invoice's current state is queued again (the refused message is closed)."""
    _check_refused(message)
    message.ignored_at = utcnow()
    if message.kind == DOCUMENT:
        queue_document(message.invoice_id, message.company_id)
    else:
        db.session.add(OutboxMessage(company_id=message.company_id, invoice_id=message.invoice_id,
                                     payload=libeo_payload(message.invoice)))
    db.session.flush()


def ignore_refused(message: OutboxMessage) -> None:
    """« Ignorer »: Libeo keeps the invoice as it has it."""
    _check_refused(message)
    message.ignored_at = utcnow()
    db.session.flush()


def purge_old_messages(now: datetime | None = None) -> int:
    """Delivered or ignored messages older than the retention, in short batches (by the sync pass)."""
    cutoff = (now or utcnow()) - RETENTION
    old = or_(OutboxMessage.delivered_at < cutoff, OutboxMessage.ignored_at < cutoff)
    return purge_in_batches(db, OutboxMessage, old, max_batches=10)


def supersede_pending_updates(invoice_id: int) -> None:
    """Queued states of the invoice older than the one a payment request just sent are moot."""
    db.session.execute(_SUPERSEDED, {"superseded_invoice": invoice_id, "superseded_at": utcnow()})


def supersede_all_pending_updates(invoice_ids: list[int]) -> None:
    """:func:`supersede_pending_updates` for several invoices, in one statement."""
    if invoice_ids:
        db.session.execute(_ALL_SUPERSEDED, {"superseded_invoices": invoice_ids, "superseded_at": utcnow()})


# Built once: every « Payer » runs it.
_SUPERSEDED = (
    update(OutboxMessage)
    .where(OutboxMessage.invoice_id == bindparam("superseded_invoice"), OutboxMessage.kind == INVOICE,
           OutboxMessage.delivered_at.is_(None))
    .values(delivered_at=bindparam("superseded_at"), last_error="Remplacé par l'envoi lors du paiement.")
    .execution_options(synchronize_session=False)
)
_ALL_SUPERSEDED = (
    update(OutboxMessage)
    .where(OutboxMessage.invoice_id.in_(bindparam("superseded_invoices", expanding=True)),
           OutboxMessage.kind == INVOICE, OutboxMessage.delivered_at.is_(None))
    .values(delivered_at=bindparam("superseded_at"), last_error="Remplacé par l'envoi lors du paiement.")
    .execution_options(synchronize_session=False)
)
