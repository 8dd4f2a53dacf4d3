"""Libeo's entities: accounts and their plan, users, API keys, invoices, payments.

One account is one company (one SIRET). Everything else belongs to an account
and is always read through it, so an account never reaches another's rows.
"""

from __future__ import annotations

import enum
import secrets
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from core.dates import as_utc, date_fr, paris_today, utcnow
from core.banks import bank_bic, bank_name
from core.files import size_label
from core.money import format_amount
from core.security import hash_password, verify_password
from core.validators import format_iban, format_siret

from . import db


def _enum(cls: type[enum.Enum], length: int) -> Enum:
    """Stores the enum's value (« scheduled », « MEG »…), readable in SQL and in indexes."""
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class Plan(enum.Enum):
    """The article's two plans; the value is the name a person reads."""

    GRATUIT = "Gratuit"
    PARTNERSHIPS = "Partnerships"

    @property
    def label(self) -> str:
        return self.value

    @property
    def code(self) -> str:
        return self.name.lower()

    @property
    def payment_limit(self) -> int | None:
        """Payments per calendar month (Europe/Paris); None is unlimited."""
        return 5 if self is Plan.GRATUIT else None

    @property
    def user_limit(self) -> int:
        return 1

    @property
    def accountant_limit(self) -> int:
        return 1

    @property
    def monthly_price_cents(self) -> int:
        return 0 if self is Plan.GRATUIT else 900

    @classmethod
    def from_code(cls, code: str) -> "Plan":
        return cls[code.strip().upper()]


class Account(db.Model):
    """A company using Libeo; the SIRET identifies it."""

    __tablename__ = "account"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # None once a verified account of the company took the SIRET back (``lost_siret``).
    siret: Mapped[str | None] = mapped_column(String(14), unique=True)
    plan: Mapped[Plan] = mapped_column(_enum(Plan, 20), default=Plan.GRATUIT)
    # The expert-comptable the company gave access to (at most one), lower case.
    accountant_email: Mapped[str | None] = mapped_column(String(254))
    # The company's own bank account, debited by the SEPA transfers.
    debtor_iban: Mapped[str | None] = mapped_column(String(34))
    debtor_bic: Mapped[str | None] = mapped_column(String(11))
    # Subscription billing (Stripe), kept in step by its webhooks.
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255))
    subscription_status: Mapped[str | None] = mapped_column(String(40))
    current_period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    # The number of the account's last event (« payment.updated »…): taken
    # under this row's lock, so events are numbered in commit order.
    last_event_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # « Vérifié »: the company's owner proved it (MEG vouched for an Achats
    # administrator of the SIRET, or support checked). Only then are its SEPA files executed.
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_by: Mapped[str | None] = mapped_column(String(254))
    # « SIRET à confirmer »: the SIRET this account declared, taken back by the company's verified account.
    lost_siret: Mapped[str | None] = mapped_column(String(14))
    siret_lost_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # « Au-delà de … €, un paiement doit être approuvé » (strictly above; None: no such rule).
    approval_threshold_cents: Mapped[int | None] = mapped_column(BigInteger)
    # « Les paiements initiés par l'expert-comptable doivent être approuvés ».
    approve_accountant_payments: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))

    users: Mapped[list["LibeoUser"]] = relationship(back_populates="account", order_by="LibeoUser.id")

    @property
    def payment_limit(self) -> int | None:
        return self.plan.payment_limit

    @property
    def siret_display(self) -> str:
        return format_siret(self.siret) if self.siret else f"à confirmer ({format_siret(self.lost_siret)})"

    @property
    def lost_siret_display(self) -> str:
        return format_siret(self.lost_siret)

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None and self.siret is not None

    @property
    def approval_threshold_display(self) -> str:
        return format_amount(self.approval_threshold_cents) if self.approval_threshold_cents is not None else ""

    @property
    def debtor_iban_display(self) -> str:
        return format_iban(self.debtor_iban) if self.debtor_iban else ""

    @property
    def debtor_bank_name(self) -> str | None:
        return bank_name(self.debtor_iban) if self.debtor_iban else None

    @property
    def can_execute_payments(self) -> bool:
        """Whether its SEPA files are made: a bank account to debit, and a verified owner."""
        return self.has_debtor_iban and self.is_verified

    @property
    def has_debtor_iban(self) -> bool:
        return bool(self.debtor_iban)

    @property
    def execution_blocker(self) -> str | None:
        """Why the account's scheduled payments are not executed, in French; None when they are."""
        if not self.is_verified:
            return (
                "Compte non vérifié : vos paiements restent « Programmé » et ne sont pas exécutés tant que la "
                "propriété du SIRET n'est pas confirmée. Un administrateur « Achats » de l'entreprise dans MEG "
                "la confirme avec « Me connecter avec MEG », ou contactez le support de Libeo."
            )
        if not self.has_debtor_iban:
            return "Aucun IBAN renseigné : vos paiements restent « Programmé » et ne sont pas exécutés."
        return None

    def is_accountant(self, email: str) -> bool:
        return bool(self.accountant_email) and self.accountant_email == email.strip().lower()


class LibeoUser(db.Model):
    __tablename__ = "libeo_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    # None for a user who can only sign in another way (e.g. through MEG).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Part of the login cookie's identity: rotating it ends every session.
    session_token: Mapped[str] = mapped_column(String(64), default=lambda: secrets.token_urlsafe(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Administrators approve held payments, read the « Journal » and set the rules.
    # The account's creator is one; an invited user is not, unless made so.
    is_admin: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))

    account: Mapped[Account] = relationship(back_populates="users")

    # Flask-Login protocol
    is_active = True
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    @property
    def role_label(self) -> str:
        return "Administrateur" if self.is_admin else "Utilisateur"

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)
        self.end_sessions()

    def check_password(self, password: str) -> bool:
        return verify_password(self.password_hash, password)

    def end_sessions(self) -> None:
        self.session_token = secrets.token_urlsafe(32)


REVOKED_BY_MEG = "MEG"


class ApiKey(db.Model):
    """A key an integration (MEG) uses to call the REST API for one account.

    Only the SHA-256 of the key is kept: keys are 256-bit random secrets, so a
    fast hash is enough and lets every API call check the key cheaply.
    """

    __tablename__ = "api_key"
    __table_args__ = (
        # At most one usable key per integration and account.
        Index(
            "uq_api_key_active",
            "account_id",
            "integration",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    integration: Mapped[str] = mapped_column(String(20), default="meg")
    # The key's public part, looked up first; it is shown as the key's prefix.
    public_id: Mapped[str] = mapped_column(String(16), unique=True)
    prefix: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Who revoked it: « MEG » (« Supprimer la connexion » there), or the Libeo user's e-mail.
    revoked_by: Mapped[str | None] = mapped_column(String(254))

    account: Mapped[Account] = relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def revoked_by_label(self) -> str:
        return "MEG (« Supprimer la connexion »)" if self.revoked_by == REVOKED_BY_MEG else (self.revoked_by or "")


class InvoiceSource(enum.Enum):
    MEG = "MEG"
    LIBEO = "Libeo"

    @property
    def label(self) -> str:
        return self.value


def bic_display(bic: str | None, iban: str) -> str:
    """A BIC as shown next to its IBAN: the one given, else the bank's (schwifty's registry)."""
    if bic:
        return bic
    derived = bank_bic(iban)
    return f"{derived} (déduit de l'IBAN)" if derived else "—"


class InvoiceStatus(enum.Enum):
    """Where paying the invoice stands; it follows its latest payment (see ``invoice_status_for``)."""

    TO_PAY = "to_pay"
    AWAITING_APPROVAL = "awaiting_approval"
    PAYMENT_SCHEDULED = "payment_scheduled"
    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"

    @property
    def label(self) -> str:
        return {
            "to_pay": "À payer",
            "awaiting_approval": "Paiement à approuver",
            "payment_scheduled": "Paiement programmé",
            "paid": "Payée",
            "payment_failed": "Paiement rejeté",
        }[self.value]

    @property
    def badge(self) -> str:
        return {"to_pay": "", "awaiting_approval": "badge-warn", "payment_scheduled": "badge-warn", "paid": "badge-ok",
                "payment_failed": "badge-err"}[self.value]


# « F-2026-001 », « f 2026 001 » and « F2026/001 » are one number.
_NUMBER_SEPARATORS = (" ", "-", "_", ".", "/")


def invoice_number_key(number: str | None) -> str:
    """An invoice number as the duplicate check compares it: lower case, no separators."""
    key = (number or "").lower()
    for separator in _NUMBER_SEPARATORS:
        key = key.replace(separator, "")
    return key[:60]


class Invoice(db.Model):
    """A supplier invoice to pay: entered in Libeo, or sent by MEG (``external_id``)."""

    __tablename__ = "invoice"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("due_date >= issue_date", name="due_after_issue"),
        # MEG's invoice id names one invoice per account (NULL for Libeo's own).
        UniqueConstraint("account_id", "external_id", name="uq_invoice_external"),
        # The invoice list: an account's invoices, newest first.
        Index("ix_invoice_list", "account_id", "issue_date", "id"),
        # The duplicate check of each payment (models/libeo/safeguards.py): same number, or
        # same amount around the same date, found without reading the account's other invoices.
        Index("ix_invoice_number_key", "account_id", "number_key"),
        Index("ix_invoice_amount", "account_id", "amount_cents", "issue_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    source: Mapped[InvoiceSource] = mapped_column(_enum(InvoiceSource, 10))
    external_id: Mapped[str | None] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(60))
    # invoice_number_key(number), kept by ``_keep_number_key``.
    number_key: Mapped[str] = mapped_column(String(60), default="", server_default="")
    supplier_name: Mapped[str] = mapped_column(String(200))
    supplier_iban: Mapped[str] = mapped_column(String(34))
    supplier_bic: Mapped[str | None] = mapped_column(String(11))
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    status: Mapped[InvoiceStatus] = mapped_column(_enum(InvoiceStatus, 20), default=InvoiceStatus.TO_PAY)
    # When the invoice entered Libeo's lists: at once for an invoice entered
    # in Libeo, with its first payment for one sent by MEG (only invoices
    # paid through Libeo are imported; a refused payment leaves none).
    imported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    account: Mapped[Account] = relationship()
    payments: Mapped[list["Payment"]] = relationship(back_populates="invoice", order_by="Payment.id.desc()")

    @validates("number")
    def _keep_number_key(self, _key: str, number: str) -> str:
        self.number_key = invoice_number_key(number)
        return number

    @property
    def amount_display(self) -> str:
        return format_amount(self.amount_cents, self.currency)

    @property
    def supplier_iban_display(self) -> str:
        return format_iban(self.supplier_iban)

    @property
    def supplier_bank_name(self) -> str | None:
        return bank_name(self.supplier_iban)

    @property
    def supplier_bic_display(self) -> str:
        """The BIC given, or the one of the IBAN's bank (« déduit de l'IBAN »), or « — »."""
        return bic_display(self.supplier_bic, self.supplier_iban)

    @property
    def is_payable(self) -> bool:
        return self.status in (InvoiceStatus.TO_PAY, InvoiceStatus.PAYMENT_FAILED)

    @property
    def latest_payment(self) -> "Payment | None":
        return self.payments[0] if self.payments else None

    @property
    def status_label(self) -> str:
        """What the invoice shows: its latest payment's own words, or « À payer »."""
        payment = self.latest_payment
        if payment is None or payment.status is PaymentStatus.CANCELLED:
            return InvoiceStatus.TO_PAY.label
        return payment.status_label

    @property
    def status_badge(self) -> str:
        payment = self.latest_payment
        return payment.status.badge if payment is not None else ""


class InvoiceDocument(db.Model):
    """The invoice's PDF, as MEG sent it (SPEC §7 ``PUT /invoices/{external_id}/document``); one per invoice."""

    __tablename__ = "invoice_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id", ondelete="CASCADE"), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # Loaded only to be downloaded: the invoice page shows its size and date.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def size_label(self) -> str:
        return size_label(self.size)


class PaymentStatus(enum.Enum):
    """A payment's life (docs/architecture.md §4)."""

    AWAITING_APPROVAL = "awaiting_approval"  # held by a safeguard (SPEC §12) until an administrator decides
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


# What each safeguard's code means, in the words both products use (SPEC §12).
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


class Payment(db.Model):
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
    # Why the payment is held (SPEC §12): codes (``new_iban``…) and French sentences naming
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
    batch: Mapped["SepaBatch | None"] = relationship(back_populates="payments")

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


class PaymentUsage(db.Model):
    """Payments an account made in one calendar month (Europe/Paris).

    The quota is enforced by one conditional UPDATE of this row, so concurrent
    payments can never count past the plan's limit.
    """

    __tablename__ = "payment_usage"

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # « 2026-11 »
    payment_count: Mapped[int] = mapped_column(Integer, default=0)


class IdempotencyRecord(db.Model):
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


class SepaBatch(db.Model):
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


class BankStatusImport(db.Model):
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


class PaymentEvent(db.Model):
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
