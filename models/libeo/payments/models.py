"""Libeo's payment tables: payments and their states, the monthly usage counter,
Idempotency-Key records, the events feed, SEPA files and the bank's reports.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.banks import bank_name
from core.dates import as_utc, date_fr, paris_today, utcnow
from core.money import format_amount
from core.validators import format_iban
from models.libeo.accounts.models import Account, _enum
from models.libeo.db import Model
from models.libeo.invoices.models import Invoice, InvoiceStatus, bic_display


class PaymentStatus(enum.Enum):
    """A payment's life (docs/architecture.md §4)."""

    AWAITING_APPROVAL = "awaiting_approval"  # held by a safeguard until an administrator decides
    SCHEDULED = "scheduled"  # will be executed on its execution date
    IN_PROGRESS = "in_progress"  # in a SEPA file (pain.001) the account can download
    PAID = "paid"  # the bank confirmed it (status report, or « Marquer comme débité »)
    FAILED = "failed"  # the bank rejected it, or it could not be put in a SEPA file
    CANCELLED = "cancelled"  # cancelled before execution

    @property
    def badge(self) -> str:
        return {"awaiting_approval": "badge-warn", "scheduled": "badge-warn", "in_progress": "badge-warn",
                "paid": "badge-ok", "failed": "badge-err"}.get(self.value, "")


def payment_status_label(
    status: PaymentStatus, execution_date: date | None, paid_at: datetime | None, failure_reason: str | None
) -> str:
    """The one wording of a payment's state, for every page and the API (``status_label``)."""
    if status is PaymentStatus.AWAITING_APPROVAL:
        return "À approuver"
    if status is PaymentStatus.SCHEDULED:
        return f"Programmé le {date_fr(execution_date)}"
    if status is PaymentStatus.IN_PROGRESS:
        return "Remis à la banque"
    if status is PaymentStatus.PAID:
        return f"Payé le {date_fr(paris_today(as_utc(paid_at)))}" if paid_at else "Payé"
    if status is PaymentStatus.FAILED:
        reason = (failure_reason or "").strip()
        if not reason:
            return "Rejeté par la banque"
        return reason if reason.startswith("Rejeté") else f"Rejeté : {reason}"
    if status is PaymentStatus.CANCELLED:
        return "Annulé"
    raise ValueError(f"payment status without words: {status}")


# What each safeguard's code means, in the words both products use.
HOLD_LABELS = {
    "new_iban": "nouvel IBAN du fournisseur",
    "duplicate_suspected": "doublon possible",
    "payee_name_mismatch": "nom du bénéficiaire différent pour cet IBAN",
    "approval_rule": "règle d'approbation du compte",
}


def invoice_status_for(status: PaymentStatus) -> InvoiceStatus:
    """The invoice's status once its latest payment is in ``status``."""
    return {
        PaymentStatus.AWAITING_APPROVAL: InvoiceStatus.AWAITING_APPROVAL,
        PaymentStatus.SCHEDULED: InvoiceStatus.PAYMENT_SCHEDULED,
        PaymentStatus.IN_PROGRESS: InvoiceStatus.PAYMENT_SCHEDULED,
        PaymentStatus.PAID: InvoiceStatus.PAID,
        PaymentStatus.FAILED: InvoiceStatus.PAYMENT_FAILED,
        PaymentStatus.CANCELLED: InvoiceStatus.TO_PAY,
    }[status]


# A payment in these states holds its invoice (a second one is refused) and counts in the quota.
ACTIVE_PAYMENT_STATUSES = (
    PaymentStatus.AWAITING_APPROVAL, PaymentStatus.SCHEDULED, PaymentStatus.IN_PROGRESS, PaymentStatus.PAID,
)


_ACTIVE_SQL = text("status IN ('awaiting_approval', 'scheduled', 'in_progress', 'paid')")


_AWAITING_SQL = text("status = 'awaiting_approval'")


class InitiatorRole(enum.Enum):
    USER = "user"
    ACCOUNTANT = "accountant"

    @property
    def label(self) -> str:
        return "expert-comptable" if self is InitiatorRole.ACCOUNTANT else "utilisateur"


class Channel(enum.Enum):
    """Where the payment was asked for."""

    MEG = "MEG"
    LIBEO = "Libeo"


class Payment(Model):
    """One SEPA credit transfer paying one invoice.

    The creditor and the amount are copied from the invoice when the payment
    is created: a later update of the invoice does not change a transfer.
    """

    __tablename__ = "payment"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        # The guarantee against paying an invoice twice, whatever the concurrency.
        Index(
            "uq_payment_active_invoice",
            "invoice_id",
            unique=True,
            sqlite_where=_ACTIVE_SQL,
            postgresql_where=_ACTIVE_SQL,
        ),
        Index("ix_payment_list", "account_id", "created_at", "id"),
        # The execution queue: due scheduled payments.
        Index("ix_payment_due", "status", "execution_date"),
        # « À approuver » and its counter in every page's header.
        Index(
            "ix_payment_awaiting",
            "account_id",
            "created_at",
            sqlite_where=_AWAITING_SQL,
            postgresql_where=_AWAITING_SQL,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id", ondelete="CASCADE"), index=True)
    status: Mapped[PaymentStatus] = mapped_column(_enum(PaymentStatus, 20), default=PaymentStatus.SCHEDULED)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    execution_date: Mapped[date] = mapped_column(Date)
    creditor_name: Mapped[str] = mapped_column(String(200))
    creditor_iban: Mapped[str] = mapped_column(String(34))
    creditor_bic: Mapped[str | None] = mapped_column(String(11))
    initiated_by_email: Mapped[str] = mapped_column(String(254))
    initiated_by_role: Mapped[InitiatorRole] = mapped_column(_enum(InitiatorRole, 20))
    channel: Mapped[Channel] = mapped_column(_enum(Channel, 10))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("sepa_batch.id"), index=True)
    # « Rejeté : compte du bénéficiaire clôturé (AC04) », as it is shown.
    failure_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Who clicked « Marquer comme débité » (None when a bank status report said so).
    marked_paid_by: Mapped[str | None] = mapped_column(String(254))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Why the payment is held: codes (``new_iban``…) and French sentences naming
    # the other invoice or the previous IBAN. Kept after the decision, for the record.
    hold_reasons: Mapped[list | None] = mapped_column(JSON)
    hold_details: Mapped[list | None] = mapped_column(JSON)
    # The administrator who approved or refused the held payment, and when.
    decided_by: Mapped[str | None] = mapped_column(String(254))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The refusal's reason, as MEG shows it (« Annulé : … »).
    cancel_reason: Mapped[str | None] = mapped_column(String(300))

    account: Mapped[Account] = relationship()
    invoice: Mapped[Invoice] = relationship(back_populates="payments")
    batch: Mapped[SepaBatch | None] = relationship(back_populates="payments")

    @property
    def is_cancelled(self) -> bool:
        return self.status is PaymentStatus.CANCELLED

    @property
    def amount_display(self) -> str:
        return format_amount(self.amount_cents, self.currency)

    @property
    def creditor_iban_display(self) -> str:
        return format_iban(self.creditor_iban)

    @property
    def creditor_bank_name(self) -> str | None:
        return bank_name(self.creditor_iban)

    @property
    def creditor_bic_display(self) -> str:
        return bic_display(self.creditor_bic, self.creditor_iban)

    @property
    def hold_labels(self) -> list[str]:
        return [HOLD_LABELS.get(reason, reason) for reason in self.hold_reasons or ()]

    @property
    def end_to_end_id(self) -> str:
        return f"LIBEO-{self.id}"

    @property
    def has_receipt(self) -> bool:
        """A « Justificatif de paiement » exists once the transfer is remitted to the bank."""
        return self.status in (PaymentStatus.IN_PROGRESS, PaymentStatus.PAID)

    @property
    def status_label(self) -> str:
        return payment_status_label(self.status, self.execution_date, self.paid_at, self.failure_reason)


class PaymentUsage(Model):
    """Payments an account made in one calendar month (Europe/Paris).

    The quota is enforced by one conditional UPDATE of this row, so concurrent
    payments can never count past the plan's limit.
    """

    __tablename__ = "payment_usage"

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # « 2026-11 »
    payment_count: Mapped[int] = mapped_column(Integer, default=0)


class IdempotencyRecord(Model):
    """The first request made with an ``Idempotency-Key``, and its answer once done."""

    __tablename__ = "idempotency_record"
    __table_args__ = (
        UniqueConstraint("account_id", "key", name="uq_idempotency_key"),
        # The housekeeping purges the oldest records.
        Index("ix_idempotency_record_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20), default="in_progress")
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SepaBatch(Model):
    """One SEPA Credit Transfer file (pain.001.001.03) for one account: a « remise ».

    ``sent`` once its file is stored here (``xml``), downloadable from
    « Remises » by any process on any host; its payments are then
    « Remis à la banque » until the bank's status report (pain.002) or a
    person (« Marquer comme débité ») settles them. ``preparing`` is only
    left by a run of release 1 that stopped half-way (completed by the next
    run); ``failed`` when the XSD refused every transfer.
    """

    __tablename__ = "sepa_batch"
    __table_args__ = (Index("ix_sepa_batch_account", "account_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    reference: Mapped[str] = mapped_column(String(35), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="preparing", index=True)
    execution_date: Mapped[date] = mapped_column(Date)
    payment_count: Mapped[int] = mapped_column(Integer, default=0)
    total_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    # GrpHdr/MsgId: the bank's status report names the file by it (OrgnlMsgId).
    message_id: Mapped[str | None] = mapped_column(String(35), index=True, unique=True)
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    # The pain.001 itself (release 1 kept it on the disk of the host that ran the execution).
    xml: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    account: Mapped[Account] = relationship()
    payments: Mapped[list[Payment]] = relationship(back_populates="batch", order_by="Payment.id")


class BankStatusImport(Model):
    """A bank status report (pain.002) applied to one of the account's files; each report once."""

    __tablename__ = "bank_status_import"
    __table_args__ = (UniqueConstraint("batch_id", "message_id", name="uq_bank_status_import_report"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("sepa_batch.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(35))  # the report's own GrpHdr/MsgId
    imported_by: Mapped[str] = mapped_column(String(254))  # an e-mail, or « ligne de commande »
    paid_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PaymentEvent(Model):
    """One change of a payment's state, as the events feed serves it (``GET /events``).

    Written in the same transaction as the change. ``seq`` numbers the
    account's events 1, 2, 3… without gap, in commit order (see
    ``models.libeo.events``): it is the feed's cursor.
    """

    __tablename__ = "payment_event"
    __table_args__ = (UniqueConstraint("account_id", "seq", name="uq_payment_event_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(40))
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id", ondelete="CASCADE"), index=True)
    # The payment's JSON after the change, exactly as GET /payments/{id} answered then.
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
