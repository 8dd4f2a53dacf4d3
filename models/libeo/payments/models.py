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

from core.banks import bank_name, bic_display
from core.dates import as_utc, date_fr, paris_today, utcnow
from core.money import format_amount
from core.payment_words import HOLD_LABELS, bank_leg_label, cancelled_label, rejection_label
from core.validators import format_iban
from models.libeo.accounts.models import Account, _enum
from models.libeo.db import Model
from models.libeo.invoices.models import Invoice, InvoiceSource, InvoiceStatus
from models.libeo.payments.reason_codes import ACCOUNT_REASONS, REASON_TEXTS


class PaymentStatus(enum.Enum):
    """A payment's life (docs/architecture.md §4).

    The bank leg says only what is known: a file written is not money sent
    (``file_ready``), a file the person says they uploaded is not accepted
    (``transmitted``), a status the bank gives on the way is not a debit
    (``accepted``). ``paid`` and ``failed`` are final: no bank report ever
    moves a payment out of them (a report that contradicts one is kept as an
    anomaly for a person to resolve).
    """

    AWAITING_APPROVAL = "awaiting_approval"  # held by a safeguard until an administrator decides
    SCHEDULED = "scheduled"  # will be executed on its execution date
    FILE_READY = "file_ready"  # in a SEPA file (pain.001), to be transmitted to the bank by the person
    TRANSMITTED = "transmitted"  # the person confirmed uploading the file to the bank
    ACCEPTED = "accepted"  # the bank accepted it on the way (RCVD, ACTC, ACCP, ACSP, ACWC, PDNG): not debited yet
    PAID = "paid"  # debited: ACSC/ACCC, a statement's booking, or « Marquer comme débité », on the bank's date
    FAILED = "failed"  # the bank rejected or returned it, or it could not be put in a SEPA file
    CANCELLED = "cancelled"  # cancelled before execution

    @property
    def badge(self) -> str:
        if self is PaymentStatus.PAID:
            return "badge-ok"
        if self is PaymentStatus.FAILED:
            return "badge-err"
        return "" if self is PaymentStatus.CANCELLED else "badge-warn"

    @property
    def at_bank(self) -> bool:
        """In a SEPA file, not settled yet: the states a bank report or a statement moves on."""
        return self in AT_BANK

    @property
    def is_final(self) -> bool:
        return self in (PaymentStatus.PAID, PaymentStatus.FAILED, PaymentStatus.CANCELLED)

    @property
    def has_receipt(self) -> bool:
        """A document exists once the transfer is in a SEPA file: the order, then the proof of debit."""
        return self.at_bank or self is PaymentStatus.PAID

    @property
    def receipt_title(self) -> str:
        """« Ordre de virement » until the bank confirms the debit, « Justificatif de paiement » after."""
        return "Justificatif de paiement" if self is PaymentStatus.PAID else "Ordre de virement"


AT_BANK = (PaymentStatus.FILE_READY, PaymentStatus.TRANSMITTED, PaymentStatus.ACCEPTED)


def hold_labels(reasons: list | None) -> list[str]:
    """Why a payment waits for an approval, in words."""
    return [HOLD_LABELS.get(reason, reason) for reason in reasons or ()]


def payment_status_label(payment: Payment) -> str:
    """The one wording of a payment's state, for every page, the receipt and the API (``status_label``)."""
    status = payment.status
    if status is PaymentStatus.AWAITING_APPROVAL:
        return "À approuver"
    if (on_its_way := bank_leg_label(status.value, payment)) is not None:
        return on_its_way
    if status is PaymentStatus.PAID:
        day = payment.paid_on or (paris_today(as_utc(payment.paid_at)) if payment.paid_at else None)
        return f"Débité le {date_fr(day)}" if day else "Débité"
    if status is PaymentStatus.FAILED:
        return rejection_label(payment.failure_reason)
    if status is PaymentStatus.CANCELLED:
        return cancelled_label(payment.cancel_reason)
    raise ValueError(f"payment status without words: {status}")


def invoice_status_for(status: PaymentStatus) -> InvoiceStatus:
    """The invoice's status once its latest payment is in ``status``."""
    return {
        PaymentStatus.AWAITING_APPROVAL: InvoiceStatus.AWAITING_APPROVAL,
        PaymentStatus.SCHEDULED: InvoiceStatus.PAYMENT_SCHEDULED,
        PaymentStatus.FILE_READY: InvoiceStatus.PAYMENT_SCHEDULED,
        PaymentStatus.TRANSMITTED: InvoiceStatus.PAYMENT_SCHEDULED,
        PaymentStatus.ACCEPTED: InvoiceStatus.PAYMENT_SCHEDULED,
        PaymentStatus.PAID: InvoiceStatus.PAID,
        PaymentStatus.FAILED: InvoiceStatus.PAYMENT_FAILED,
        PaymentStatus.CANCELLED: InvoiceStatus.TO_PAY,
    }[status]


# A payment in these states holds its invoice (a second one is refused) and counts in the quota.
ACTIVE_PAYMENT_STATUSES = (PaymentStatus.AWAITING_APPROVAL, PaymentStatus.SCHEDULED, *AT_BANK, PaymentStatus.PAID)


_ACTIVE_SQL = text(
    "status IN ('awaiting_approval', 'scheduled', 'file_ready', 'transmitted', 'accepted', 'paid')"
)


_AWAITING_SQL = text("status = 'awaiting_approval'")


class InitiatorRole(enum.Enum):
    USER = "user"
    ACCOUNTANT = "accountant"

    @property
    def label(self) -> str:
        return "expert-comptable" if self is InitiatorRole.ACCOUNTANT else "membre de l'entreprise"


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
        CheckConstraint("approvals_required BETWEEN 1 AND 2", name="approvals_required"),
        # The guarantee against paying an invoice twice, whatever the concurrency.
        Index(
            "uq_payment_active_invoice",
            "invoice_id",
            unique=True,
            sqlite_where=_ACTIVE_SQL,
            postgresql_where=_ACTIVE_SQL,
        ),
        Index("ix_payment_list", "account_id", "created_at", "id"),
        # « Paiements »' filters and sorts (core/listing.py): execution date, state tab, amount, supplier.
        Index("ix_payment_execution", "account_id", "execution_date", "id"),
        Index("ix_payment_status", "account_id", "status", "created_at"),
        Index("ix_payment_amount", "account_id", "amount_cents"),
        Index("ix_payment_creditor", "account_id", "creditor_name"),
        # « À approuver » by execution date.
        Index("ix_payment_status_execution", "account_id", "status", "execution_date"),
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
    # The date asked for, when the SEPA file asks the bank for a later one (``execution_date``).
    planned_execution_date: Mapped[date | None] = mapped_column(Date)
    # « Rejeté : compte du bénéficiaire clôturé (AC04) », as it is shown.
    failure_reason: Mapped[str | None] = mapped_column(String(300))
    # The bank's reason code (ISO « AC04 », or its own) and its own words (AddtlInf), as it wrote them.
    failure_code: Mapped[str | None] = mapped_column(String(35))
    bank_text: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The person said they uploaded the file to the bank (or the bank's first report came first).
    transmitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The bank's latest intermediate status (« ACSP »…) and when the bank gave it.
    bank_status: Mapped[str | None] = mapped_column(String(4))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The day the account was debited, as the bank says (booking date, acceptance date), never
    # before the execution date asked for; ``paid_at`` the bank's moment, when it gives one.
    paid_on: Mapped[date | None] = mapped_column(Date)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Who clicked « Marquer comme débité » (None when a bank report said so).
    marked_paid_by: Mapped[str | None] = mapped_column(String(254))
    # While a bank anomaly about it (or naming it among others) waits for a person: the oldest one's words,
    # as « Remises » shows them (``bank_leg.tell_anomalies``); None once none is open. The API, and so MEG,
    # tell it beside the state Libeo keeps meanwhile.
    bank_anomaly: Mapped[str | None] = mapped_column(String(1000))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Why the payment is held: codes (``new_iban``…) and French sentences naming
    # the other invoice or the previous IBAN. Kept after the decision, for the record.
    hold_reasons: Mapped[list | None] = mapped_column(JSON)
    hold_details: Mapped[list | None] = mapped_column(JSON)
    # The administrator who approved or refused the held payment, and when.
    decided_by: Mapped[str | None] = mapped_column(String(254))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The reason an administrator refused the held payment, as both products show it (``cancelled_label``).
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    # 1 at creation, one more at each change of state (``move_payments``): every answer and event carries
    # it, so that a client keeps the newest account of the payment whatever order they reach it in.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Approvals a held payment needs (2 above the account's « deux approbateurs » amount when it was asked
    # for), and those given so far (one conditional UPDATE each: ``approvals.approve_payment``).
    approvals_required: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    approval_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    account: Mapped[Account] = relationship()
    invoice: Mapped[Invoice] = relationship(back_populates="payments")
    approvals: Mapped[list[PaymentApproval]] = relationship(order_by="PaymentApproval.id", viewonly=True)
    batch: Mapped[SepaBatch | None] = relationship(back_populates="payments")

    @property
    def is_cancelled(self) -> bool:
        return self.status is PaymentStatus.CANCELLED

    @property
    def speaks_first(self) -> int:
        """How far it speaks for its invoice (``Invoice.latest_payment``, the latest first among equals): debited
        2, under way or maybe debited (rejected, a bank file saying it debited after all) 1, else 0."""
        if self.status is PaymentStatus.PAID:
            return 2
        return 1 if self.status in ACTIVE_PAYMENT_STATUSES or (
            self.status is PaymentStatus.FAILED and self.bank_anomaly) else 0

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
        return hold_labels(self.hold_reasons)

    @property
    def end_to_end_id(self) -> str:
        return f"LIBEO-{self.id}"

    @property
    def has_receipt(self) -> bool:
        return self.status.has_receipt

    @property
    def receipt_title(self) -> str:
        return self.status.receipt_title

    @property
    def failure_code_words(self) -> str | None:
        """What the bank's reason code means, in French (« compte du bénéficiaire clôturé » for AC04), if known."""
        return REASON_TEXTS.get((self.failure_code or "").upper())

    @property
    def paid_again_words(self) -> str:
        """Once this rejected transfer's state is kept, when its invoice may be paid again, as « Remises » says it
        before and after « Garder » (after a closed or blocked account, not before the supplier's new IBAN)."""
        from_meg = self.invoice.source is InvoiceSource.MEG
        if self.new_iban_required:
            where = "dans MEG (fiche du fournisseur)" if from_meg else "sur la facture"
            return (f"la facture {self.invoice.number} pourra de nouveau être payée une fois le nouvel IBAN de "
                    f"{self.creditor_name} enregistré {where}")
        return f"la facture {self.invoice.number} peut de nouveau être payée{' ici et dans MEG' if from_meg else ''}"

    @property
    def new_iban_required(self) -> bool:
        """Rejected for a reason of the payee's account: paying the same IBAN again would fail again."""
        return self.status is PaymentStatus.FAILED and (self.failure_code or "").upper() in ACCOUNT_REASONS

    @property
    def status_label(self) -> str:
        return payment_status_label(self)


class PaymentApproval(Model):
    """One approver's « Approuver » of a held payment; a person approves a payment once."""

    __tablename__ = "payment_approval"
    __table_args__ = (UniqueConstraint("payment_id", "approver_email", name="uq_payment_approval_approver"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id", ondelete="CASCADE"))
    approver_email: Mapped[str] = mapped_column(String(254))
    approved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


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
    # When the request in progress claimed the key (or took it over): its lease starts then.
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Which request holds the claim: only it may store the answer or give the key back.
    owner: Mapped[str | None] = mapped_column(String(32))


class SepaBatch(Model):
    """One SEPA Credit Transfer file (pain.001.001.03) for one account: a « remise ».

    ``sent`` once its file is stored here (``xml``), downloadable from
    « Remises » by any process on any host: its payments are then « Fichier
    prêt — à transmettre à votre banque » until the person confirms the
    upload (``transmitted_at``), and then what the bank's reports say.
    ``preparing`` is only left by a run of release 1 that stopped half-way
    (completed by the next run); ``failed`` when the XSD refused every transfer.
    """

    __tablename__ = "sepa_batch"
    __table_args__ = (Index("ix_sepa_batch_account", "account_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    reference: Mapped[str] = mapped_column(String(35), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="preparing", index=True)
    # ReqdExctnDt: the day the bank is asked to execute every transfer of the file.
    execution_date: Mapped[date] = mapped_column(Date)
    payment_count: Mapped[int] = mapped_column(Integer, default=0)
    total_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    # GrpHdr/MsgId: the bank's status report names the file by it (OrgnlMsgId); PmtInfId its
    # block, which a statement's batch booking names.
    message_id: Mapped[str | None] = mapped_column(String(35), index=True, unique=True)
    payment_info_id: Mapped[str | None] = mapped_column(String(35))
    # The account debited, as the file says (the account's IBAN may change afterwards).
    debtor_iban: Mapped[str | None] = mapped_column(String(34))
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    # The pain.001 itself (release 1 kept it on the disk of the host that ran the execution).
    xml: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # When the file was written (« Fichier prêt »), and when and by whom its upload was confirmed.
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    transmitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    transmitted_by: Mapped[str | None] = mapped_column(String(254))

    account: Mapped[Account] = relationship()
    payments: Mapped[list[Payment]] = relationship(back_populates="batch", order_by="Payment.id")

    @property
    def debtor_iban_display(self) -> str:
        return format_iban(self.debtor_iban) if self.debtor_iban else ""


class BankStatusImport(Model):
    """A bank report applied to the account: a status report (pain.002) of one of its files, or a
    statement / debit notification (camt.053, camt.054) of its bank account. Each report once."""

    __tablename__ = "bank_status_import"
    __table_args__ = (
        UniqueConstraint("batch_id", "message_id", name="uq_bank_status_import_report"),
        UniqueConstraint("account_id", "kind", "message_id", name="uq_bank_status_import_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    # « pain.002 », « camt.053 », « camt.054 ».
    kind: Mapped[str] = mapped_column(String(20), default="pain.002", server_default="pain.002")
    # The file a status report answers (None for a statement).
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("sepa_batch.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(35))  # the report's own GrpHdr/MsgId
    # When the bank made it (GrpHdr/CreDtTm).
    bank_created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    imported_by: Mapped[str] = mapped_column(String(254))  # an e-mail, or « ligne de commande »
    accepted_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    paid_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    anomaly_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def kind_label(self) -> str:
        return REPORT_KINDS.get(self.kind, self.kind)


REPORT_KINDS = {
    "pain.002": "relevé de statut (pain.002)",
    "camt.053": "relevé de compte (camt.053)",
    "camt.054": "avis de débit (camt.054)",
}


_OPEN_SQL = text("resolved_at IS NULL")


class BankAnomaly(Model):
    """What a bank report said that Libeo did not apply, for a person to decide.

    ``contradiction``: the report says the opposite of a final state (a
    rejection of a debited payment, a debit of a rejected one); the payment
    keeps its state until a person chooses (a whole file's debit reversed by
    the bank too, whatever the payments' state). ``settled_and_rejected``: a
    status report that says both of a transfer still at the bank; it keeps
    its state until a person chooses. ``ambiguous``: a statement's
    debit that several transfers could be; a person says which. ``amount``:
    a debit whose amount is not the transfer's, or not its transfers' total.
    ``unknown``: a status report's status for a transfer the file does not
    hold. Shown on the payment (or the payments it names), on « Remises » and
    in the « Journal »; resolving it is journaled too.
    """

    __tablename__ = "bank_anomaly"
    __table_args__ = (
        Index("ix_bank_anomaly_open", "account_id", "created_at", sqlite_where=_OPEN_SQL,
              postgresql_where=_OPEN_SQL),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id", ondelete="CASCADE"), index=True)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("bank_status_import.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(String(1000))  # French, what a person reads
    # What the report said, applied if a person decides so: « paid » on ``reported_on``, or « failed ».
    reported_status: Mapped[str | None] = mapped_column(String(20))
    reported_on: Mapped[date | None] = mapped_column(Date)
    reported_code: Mapped[str | None] = mapped_column(String(35))
    reported_text: Mapped[str | None] = mapped_column(String(500))
    reported_reason: Mapped[str | None] = mapped_column(String(300))
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    # The transfers a statement's debit may be (``ambiguous``), or those a file's anomaly concerns (a batch's
    # debit whose total differs, a rejection naming a transfer the file does not hold).
    candidate_ids: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(254))
    resolution: Mapped[str | None] = mapped_column(String(300))

    payment: Mapped[Payment | None] = relationship()
    report: Mapped[BankStatusImport | None] = relationship()

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class BankBooking(Model):
    """A booking of the bank account (a statement's entry) that a statement applied to payments, or kept as an
    anomaly: never applied a second time.

    A bank tells the same booking twice, in the debit notification (camt.054)
    and in the day's statement (camt.053), under its own reference
    (AcctSvcrRef, else NtryRef). A debit matched by amount, date and IBAN
    that has no reference is known by what it is (``counterparty_iban``).
    """

    __tablename__ = "bank_booking"
    __table_args__ = (
        UniqueConstraint("account_id", "iban", "reference", "booked_on", "direction", "amount_cents",
                         name="uq_bank_booking_entry"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    # The statement that applied it.
    import_id: Mapped[int] = mapped_column(ForeignKey("bank_status_import.id", ondelete="CASCADE"), index=True)
    iban: Mapped[str] = mapped_column(String(34))  # the account the statement is of
    reference: Mapped[str | None] = mapped_column(String(35))  # AcctSvcrRef, else NtryRef
    booked_on: Mapped[date | None] = mapped_column(Date)
    direction: Mapped[str] = mapped_column(String(4))  # CdtDbtInd: DBIT, CRDT
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    # How it was matched: « end_to_end_id », « batch », « amount » (amount, date and IBAN), « return ».
    matched_by: Mapped[str] = mapped_column(String(20))
    counterparty_iban: Mapped[str | None] = mapped_column(String(34))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


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
