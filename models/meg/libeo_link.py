"""MEG's side of the Libeo integration (SPEC §5): connection, « Payer », sync.

Data only flows from MEG to Libeo. MEG keeps:
- the company's connection (the Libeo API key, encrypted: MEG must use it);
- one record per attempt to pay an invoice through Libeo, whose
  Idempotency-Key makes double clicks, retries and concurrent clicks one payment;
- an outbox of invoice changes to deliver to Libeo, written in the same
  transaction as the change and delivered in order, retried until Libeo has it.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from sqlalchemy import JSON, DateTime, Enum, ForeignKey, Index, String, Text, UniqueConstraint, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, aliased, mapped_column, relationship
from sqlalchemy.orm.attributes import set_committed_value

from core.setup import instance_secret
from core.dates import utcnow

from . import db
from .entities import Company, PaymentMode, SupplierInvoice, User
from .libeo_api import LibeoClient, LibeoError, LibeoKeyRefused, LibeoPaymentInfo, LibeoUnreachable

KEY_MAX_LENGTH = 200


class LibeoLinkError(Exception):
    """A refusal to show the user, in French; ``upgrade_url`` for the quota."""

    def __init__(self, message: str, *, upgrade_url: str | None = None, not_connected: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.upgrade_url = upgrade_url
        self.not_connected = not_connected


class PaymentStatus(enum.Enum):
    """What MEG last knew of its request; Libeo's statuses plus « requested »."""

    REQUESTED = "requested"  # asked, answer not received yet: the same key is reused
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return {
            "requested": "Paiement demandé",
            "scheduled": "Paiement programmé",
            "in_progress": "Virement en cours",
            "paid": "Payée via Libeo",
            "failed": "Échec du paiement",
            "cancelled": "Paiement annulé",
        }[self.value]

    @property
    def is_active(self) -> bool:
        return self in {PaymentStatus.SCHEDULED, PaymentStatus.IN_PROGRESS, PaymentStatus.PAID}


class LibeoConnection(db.Model):
    __tablename__ = "libeo_connection"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), unique=True)
    key_ciphertext: Mapped[str] = mapped_column(Text)
    key_prefix: Mapped[str] = mapped_column(String(24))
    account_name: Mapped[str] = mapped_column(String(200))
    connected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    connected_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    company: Mapped[Company] = relationship()

    @property
    def api_key(self) -> str:
        try:
            return _fernet().decrypt(self.key_ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise LibeoLinkError(
                "La clé Libeo enregistrée ne peut plus être lue : collez-la de nouveau dans « Options »."
            ) from exc


class LibeoPayment(db.Model):
    """One attempt to pay an invoice through Libeo, as MEG knows it."""

    __tablename__ = "libeo_payment"
    __table_args__ = (
        UniqueConstraint("invoice_id", "attempt", name="uq_libeo_payment_attempt"),
        Index("ix_libeo_payment_invoice_status", "invoice_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("supplier_invoice.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(default=1)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    libeo_payment_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[PaymentStatus] = mapped_column(Enum(PaymentStatus, native_enum=False, length=20),
                                                  default=PaymentStatus.REQUESTED)
    execution_date: Mapped[str | None] = mapped_column(String(10))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    invoice: Mapped[SupplierInvoice] = relationship()


class OutboxMessage(db.Model):
    """An invoice change waiting to reach Libeo (transactional outbox)."""

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


# --- the key, encrypted at rest -------------------------------------------------------------


def _fernet() -> Fernet:
    secret = current_app.config.get("LIBEO_KEY_ENCRYPTION_KEY") or instance_secret(current_app, "meg_libeo_key_encryption")
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def connection_of(company: Company) -> LibeoConnection | None:
    return db.session.scalar(select(LibeoConnection).where(LibeoConnection.company_id == company.id))


def connect_company(company: Company, api_key: str, user: User | None) -> LibeoConnection:
    """Checks the key with Libeo (« GET /me ») and saves it, encrypted, if it fits."""
    api_key = (api_key or "").strip()
    if not company.siret:
        raise LibeoLinkError(
            "Libeo est réservé aux entreprises disposant d'un SIRET : renseignez d'abord le SIRET de l'entreprise."
        )
    if not api_key:
        raise LibeoLinkError("Collez la clé d'API affichée par Libeo.")
    if len(api_key) > KEY_MAX_LENGTH or not api_key.isascii() or not api_key.isprintable() or " " in api_key:
        raise LibeoLinkError("Cette clé d'API Libeo n'a pas le bon format : copiez-la de nouveau depuis Libeo.")
    try:
        account = LibeoClient(api_key).me()
    except LibeoKeyRefused as exc:
        raise LibeoLinkError(
            "Libeo ne reconnaît pas cette clé : elle est erronée ou a été révoquée. "
            "Copiez la clé affichée dans Libeo (« Configuration » → « Intégrations »)."
        ) from exc
    except LibeoError as exc:
        raise LibeoLinkError(exc.message) from exc
    if account.siret != company.siret:
        raise LibeoLinkError(
            f"Cette clé appartient au compte Libeo « {account.name} », dont le SIRET "
            f"n'est pas celui de {company.name}. Utilisez la clé du compte Libeo de cette entreprise."
        )
    connection = connection_of(company) or LibeoConnection(company=company)
    connection.key_ciphertext = _fernet().encrypt(api_key.encode()).decode()
    connection.key_prefix = api_key[:12]
    connection.account_name = account.name
    connection.connected_at = utcnow()
    connection.connected_by_id = user.id if user else None
    db.session.add(connection)
    db.session.flush()
    return connection


def disconnect_company(company: Company) -> None:
    connection = connection_of(company)
    if connection is not None:
        db.session.delete(connection)
        db.session.flush()


# --- who may pay --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payer:
    email: str
    role: str  # "user" or "accountant", as Libeo's API names them


def payer_for(user: User, company: Company) -> Payer | None:
    """The company's own Achats users pay as « user »; the firm's accountant as « accountant »."""
    role = user.achats_role(company)
    if role is None:
        return None
    own_role = user.accounting_firm_id is None or company.accounting_firm_id != user.accounting_firm_id
    return Payer(user.email, "user" if own_role else "accountant")


def accountant_registered(connection: LibeoConnection, user: User) -> bool:
    """Whether the company added this accountant in Libeo (MEG asks; Libeo enforces it too)."""
    try:
        account = LibeoClient(connection.api_key).me()
    except LibeoError:
        return False
    return bool(account.accountant_email) and account.accountant_email.lower() == user.email.lower()


# --- « Payer » ------------------------------------------------------------------------------------


def external_id(invoice: SupplierInvoice) -> str:
    return f"meg-{invoice.id}"


def invoice_payload(invoice: SupplierInvoice) -> dict:
    """What Libeo receives of an invoice: nothing of MEG's accounts or entries."""
    supplier = {"name": invoice.supplier.name, "iban": invoice.supplier.iban}
    if invoice.supplier.bic:
        supplier["bic"] = invoice.supplier.bic
    return {
        "number": invoice.number,
        "supplier": supplier,
        "amount_cents": invoice.amount_cents,
        "currency": invoice.currency,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
    }


def latest_payment(invoice: SupplierInvoice) -> LibeoPayment | None:
    return db.session.scalar(
        select(LibeoPayment).where(LibeoPayment.invoice_id == invoice.id).order_by(LibeoPayment.attempt.desc()).limit(1)
    )


def check_payable(invoice: SupplierInvoice, user: User) -> tuple[LibeoConnection, Payer]:
    company = invoice.company
    if invoice.payment_mode is not PaymentMode.LIBEO:
        raise LibeoLinkError("Seules les factures en « Virement par Libeo » se paient avec Libeo.")
    if invoice.is_paid:
        raise LibeoLinkError("Cette facture est déjà réglée.")
    if not company.siret:
        raise LibeoLinkError("Le paiement par Libeo est réservé aux entreprises disposant d'un SIRET.")
    payer = payer_for(user, company)
    if payer is None:
        raise LibeoLinkError("Vous n'avez pas accès au module « Achats » de cette entreprise.")
    connection = connection_of(company)
    if connection is None:
        raise LibeoLinkError("Cette entreprise n'est pas encore connectée à Libeo.", not_connected=True)
    return connection, payer


def _open_attempt(invoice: SupplierInvoice, user: User) -> LibeoPayment:
    """The attempt whose Idempotency-Key this click uses; created once, shared by concurrent clicks."""
    for _ in range(3):
        current = latest_payment(invoice)
        if current is not None and current.status not in (PaymentStatus.FAILED, PaymentStatus.CANCELLED):
            return current
        attempt = LibeoPayment(
            invoice_id=invoice.id,
            attempt=(current.attempt + 1) if current else 1,
            idempotency_key=secrets.token_urlsafe(24),
            requested_by_id=user.id,
        )
        db.session.add(attempt)
        try:
            db.session.commit()
            return attempt
        except IntegrityError:
            db.session.rollback()  # another click created it first: use theirs
    raise LibeoLinkError("Un paiement de cette facture est déjà en cours : rechargez la page.")


def pay_invoice(invoice: SupplierInvoice, user: User) -> LibeoPayment:
    """« Payer »: sends the invoice to Libeo and asks for its payment, once.

    Commits its own steps: the attempt (and its key) is saved before Libeo is
    called, so a retry after a failure reuses the key and Libeo replays.
    """
    connection, payer = check_payable(invoice, user)
    attempt = _open_attempt(invoice, user)
    if attempt.status.is_active:
        return attempt
    # Read everything Libeo needs, then end the transaction: touching an ORM
    # object after the commit would reload it and, on SQLite, hold the
    # database's write lock during the HTTP calls.
    api_key, payload, invoice_ref = connection.api_key, invoice_payload(invoice), external_id(invoice)
    idempotency_key = attempt.idempotency_key
    db.session.commit()
    client = LibeoClient(api_key)
    try:
        client.put_invoice(invoice_ref, payload)
        info = client.create_payment(invoice_ref, idempotency_key, {"email": payer.email, "role": payer.role})
    except LibeoKeyRefused as exc:
        raise LibeoLinkError(
            "La connexion à Libeo a été révoquée : un administrateur du module « Achats » doit coller "
            "une nouvelle clé dans « Options »."
        ) from exc
    except LibeoUnreachable as exc:
        raise LibeoLinkError(exc.message) from exc
    except LibeoError as exc:
        if exc.code != "quota_exceeded" and exc.status in (400, 422) and exc.field:
            _close_attempt(attempt, PaymentStatus.FAILED)
        raise LibeoLinkError(exc.message, upgrade_url=exc.upgrade_url) from exc
    _record(attempt, info)
    _supersede_pending_updates(invoice)
    db.session.commit()
    return attempt


def _close_attempt(attempt: LibeoPayment, status: PaymentStatus) -> None:
    # Libeo refused the content (e.g. the supplier's IBAN): the next click is a new attempt.
    attempt.status = status
    db.session.commit()


def _record(attempt: LibeoPayment, info: LibeoPaymentInfo) -> None:
    attempt.libeo_payment_id = info.id
    attempt.status = PaymentStatus(info.status)
    attempt.execution_date = info.execution_date.isoformat() if info.execution_date else None


def refresh_status(attempt: LibeoPayment) -> LibeoPayment:
    """Reads the payment's status from Libeo to display it (never changes the invoice)."""
    if attempt.libeo_payment_id is None or attempt.status in (PaymentStatus.PAID, PaymentStatus.CANCELLED):
        return attempt
    connection = connection_of(attempt.invoice.company)
    if connection is None:
        return attempt
    try:
        info = LibeoClient(connection.api_key, attempts=1).get_payment(attempt.libeo_payment_id)
    except (LibeoError, LibeoLinkError):
        return attempt  # shown as last known
    status = PaymentStatus(info.status)
    if status is not attempt.status:
        execution = info.execution_date.isoformat() if info.execution_date else None
        # Written in a transaction of its own: the page's read-only one goes on
        # untouched (on SQLite it could not become a writer without a conflict).
        with db.engine.begin() as connection:
            connection.execute(update(LibeoPayment).where(LibeoPayment.id == attempt.id)
                               .values(status=status, execution_date=execution))
        set_committed_value(attempt, "status", status)
        set_committed_value(attempt, "execution_date", execution)
    return attempt


def settled_through_libeo():
    """SQL condition: the invoice was paid through Libeo."""
    return exists().where(LibeoPayment.invoice_id == SupplierInvoice.id, LibeoPayment.status == PaymentStatus.PAID)


# --- the outbox: invoice changes delivered to Libeo -------------------------------------------


def known_to_libeo(invoice: SupplierInvoice) -> bool:
    return db.session.scalar(
        select(LibeoPayment.id).where(LibeoPayment.invoice_id == invoice.id,
                                      LibeoPayment.libeo_payment_id.is_not(None)).limit(1)
    ) is not None


def invoice_changed(invoice: SupplierInvoice) -> None:
    """Queues the new state of an invoice Libeo knows; part of the caller's transaction."""
    if known_to_libeo(invoice):
        db.session.add(OutboxMessage(company_id=invoice.company_id, invoice_id=invoice.id,
                                     payload=invoice_payload(invoice)))


def _supersede_pending_updates(invoice: SupplierInvoice) -> None:
    # « Payer » just sent the current state: older queued states must not overwrite it.
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.invoice_id == invoice.id, OutboxMessage.delivered_at.is_(None))
        .values(delivered_at=utcnow(), last_error="Remplacé par l'envoi lors du paiement.")
    )


CLAIM_SECONDS = 60
MAX_BACKOFF = timedelta(hours=1)


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
        select(OutboxMessage)
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
    for message in heads:
        claimed = db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id, OutboxMessage.delivered_at.is_(None),
                   (OutboxMessage.claimed_until.is_(None)) | (OutboxMessage.claimed_until < now))
            .values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
        ).rowcount
        db.session.commit()
        if not claimed:
            continue
        message = db.session.get(OutboxMessage, message.id)
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
        api_key = connection.api_key
        db.session.commit()
        LibeoClient(api_key, attempts=1).put_invoice(f"meg-{message.invoice_id}", message.payload)
    except (LibeoError, LibeoLinkError) as exc:
        return exc.message
    return None


def pending_updates_count() -> int:
    return db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.delivered_at.is_(None))) or 0
