"""Paying an invoice: the plan's monthly quota, one payment per invoice, cancelling.

Both guarantees hold under any concurrency, on SQLite and PostgreSQL, because
the database enforces them: the quota is one conditional UPDATE of a counter
row, and a partial unique index allows one active payment per invoice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from core.dates import paris_now, paris_today, utcnow

from . import db
from .accounts import normalize_email
from .entities import (
    ACTIVE_PAYMENT_STATUSES,
    Account,
    Channel,
    InitiatorRole,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    PaymentUsage,
)
from .errors import Conflict, Forbidden, InvalidData, NotFound, QuotaExceeded

MAX_SCHEDULE_AHEAD = timedelta(days=365)


@dataclass
class PaymentQuota:
    """The payments an account may still make this calendar month (Europe/Paris)."""

    account: Account
    month: str

    @classmethod
    def for_account(cls, account: Account, now: datetime | None = None) -> "PaymentQuota":
        return cls(account, paris_now(now).strftime("%Y-%m"))

    @property
    def limit(self) -> int | None:
        return self.account.payment_limit

    @cached_property
    def used(self) -> int:
        count = db.session.scalar(
            select(PaymentUsage.payment_count).where(
                PaymentUsage.account_id == self.account.id, PaymentUsage.month == self.month
            )
        )
        return count or 0

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)

    @property
    def summary(self) -> str:
        """« 3 / 5 paiements ce mois-ci », or « 12 paiements ce mois-ci — illimité »."""
        if self.limit is None:
            word = "paiements" if self.used > 1 else "paiement"
            return f"{self.used} {word} ce mois-ci — illimité"
        return f"{self.used} / {self.limit} paiements ce mois-ci"

    def consume(self) -> bool:
        """Counts one payment if the plan allows it; False when the month is used up.

        Never count-then-insert: the row is created if missing, then one
        conditional UPDATE both checks and counts, and holds the row until
        commit, so concurrent payments of the account go one after another.
        """
        db.session.execute(_insert_ignoring_conflict(self.account.id, self.month))
        statement = update(PaymentUsage).where(
            PaymentUsage.account_id == self.account.id, PaymentUsage.month == self.month
        )
        if self.limit is not None:
            statement = statement.where(PaymentUsage.payment_count < self.limit)
        result = db.session.execute(
            statement.values(payment_count=PaymentUsage.payment_count + 1).execution_options(
                synchronize_session=False
            )
        )
        self.__dict__.pop("used", None)
        return result.rowcount == 1


def _insert_ignoring_conflict(account_id: int, month: str):
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(PaymentUsage)
        .values(account_id=account_id, month=month, payment_count=0)
        .on_conflict_do_nothing(index_elements=["account_id", "month"])
    )


@dataclass(frozen=True)
class Initiator:
    """Who asks for the payment, and from where."""

    email: str
    role: InitiatorRole
    channel: Channel


def active_payment(invoice_id: int) -> Payment | None:
    return db.session.scalar(
        select(Payment).where(Payment.invoice_id == invoice_id, Payment.status.in_(ACTIVE_PAYMENT_STATUSES))
    )


def _already_paid(number: str, payment: Payment | None) -> Conflict:
    if payment is not None and payment.status is PaymentStatus.PAID:
        message = f"La facture {number} est déjà payée."
    else:
        message = f"Un paiement de la facture {number} est déjà programmé."
    return Conflict(message, code="payment_exists", payment_id=payment.id if payment else None)


def pay_invoice(
    account: Account,
    invoice: Invoice,
    initiator: Initiator,
    execution_date: date | None = None,
    *,
    now: datetime | None = None,
) -> Payment:
    """Schedules the transfer paying ``invoice`` on ``execution_date`` (today by default).

    Refusals: an accountant other than the account's (Forbidden), a date in
    the past or too far ahead (InvalidData), an invoice already paid or being
    paid (Conflict ``payment_exists``), the month's quota used up
    (QuotaExceeded). When refused after counting, the session is rolled back
    so that nothing of the attempt remains.
    """
    if invoice.account_id != account.id:
        raise NotFound("Cette facture n'existe pas.")
    email = normalize_email(initiator.email, "initiated_by_email")
    if initiator.role is InitiatorRole.ACCOUNTANT and not account.is_accountant(email):
        raise Forbidden(
            f"{email} n'est pas l'expert-comptable de {account.name} dans Libeo : seul l'expert-comptable "
            "ajouté par l'entreprise dans « Configuration » peut payer ses factures.",
            "initiated_by_email",
            code="initiator_not_allowed",
        )
    today = paris_today(now)
    execution_date = execution_date or today
    if execution_date < today:
        raise InvalidData("La date d'exécution ne peut pas être dans le passé.", "execution_date")
    if execution_date > today + MAX_SCHEDULE_AHEAD:
        raise InvalidData("La date d'exécution doit être dans l'année qui vient.", "execution_date")
    invoice_id, number, plan = invoice.id, invoice.number, account.plan
    existing = active_payment(invoice_id)
    if existing is not None:
        raise _already_paid(number, existing)

    quota = PaymentQuota.for_account(account, now)
    within_quota = quota.consume()
    # Read after the counter's lock: a concurrent payment of this invoice is visible now.
    existing = active_payment(invoice_id)
    if existing is not None or not within_quota:
        db.session.rollback()
        if existing is not None:
            raise _already_paid(number, existing)
        raise QuotaExceeded(
            f"Votre formule {plan.label} inclut {plan.payment_limit} paiements par mois, tous utilisés "
            "ce mois-ci : passez à la formule Partnerships (paiements illimités) pour payer cette facture.",
            limit=plan.payment_limit,
        )
    payment = Payment(
        account_id=account.id,
        invoice=invoice,
        status=PaymentStatus.SCHEDULED,
        amount_cents=invoice.amount_cents,
        currency=invoice.currency,
        execution_date=execution_date,
        creditor_name=invoice.supplier_name,
        creditor_iban=invoice.supplier_iban,
        creditor_bic=invoice.supplier_bic,
        initiated_by_email=email,
        initiated_by_role=initiator.role,
        channel=initiator.channel,
    )
    db.session.add(payment)
    invoice.status = InvoiceStatus.PAYMENT_SCHEDULED
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise _already_paid(number, active_payment(invoice_id)) from None
    return payment


def cancel_payment(account: Account, payment: Payment) -> None:
    """Cancels a payment not yet handed to the bank; the invoice is to pay again."""
    if payment.account_id != account.id:
        raise NotFound("Ce paiement n'existe pas.")
    result = db.session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status == PaymentStatus.SCHEDULED)
        .values(status=PaymentStatus.CANCELLED, cancelled_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("Ce paiement ne peut plus être annulé : il est en cours d'exécution ou terminé.")
    db.session.refresh(payment)
    payment.invoice.status = InvoiceStatus.TO_PAY
    db.session.flush()


def account_payment(account: Account, payment_id: int) -> Payment | None:
    """The account's payment with its invoice, never another account's."""
    return db.session.scalar(
        select(Payment)
        .options(joinedload(Payment.invoice))
        .where(Payment.id == payment_id, Payment.account_id == account.id)
    )


def payments_query(account: Account):
    return (
        select(Payment)
        .options(joinedload(Payment.invoice), joinedload(Payment.batch))
        .where(Payment.account_id == account.id)
        .order_by(Payment.created_at.desc(), Payment.id.desc())
    )


def invoice_payments(invoice: Invoice) -> list[Payment]:
    return list(
        db.session.scalars(
            select(Payment)
            .options(joinedload(Payment.batch))
            .where(Payment.invoice_id == invoice.id)
            .order_by(Payment.id.desc())
        )
    )
