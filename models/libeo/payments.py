"""Paying an invoice: the plan's monthly quota, one payment per invoice, its life until paid.

The guarantees hold under any concurrency, on SQLite and PostgreSQL, because
the database enforces them: the quota is one conditional UPDATE of a counter
row, a partial unique index allows one active payment per invoice, and every
change of a payment's state is a conditional UPDATE from the state it
leaves (``WHERE status = 'in_progress'``), so concurrent imports, clicks and
runs decide once. Each change appends its event (``models.libeo.events``)
in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from werkzeug.utils import cached_property  # not functools': on 3.11 it locks every instance while one computes

from core.calendar import default_execution_date, earliest_execution_date, is_business_day, next_business_day
from core.dates import as_utc, date_fr, paris_now, paris_today, utcnow

from . import db
from .accounts import normalize_email
from .entities import (
    ACTIVE_PAYMENT_STATUSES,
    Account,
    Channel,
    InitiatorRole,
    Invoice,
    Payment,
    PaymentStatus,
    PaymentUsage,
    invoice_status_for,
)
from .errors import Conflict, Forbidden, InvalidData, NotFound, QuotaExceeded
from .events import record_payment_events
from .journal import record as journal
from .safeguards import after_creation, holds_for

MAX_SCHEDULE_AHEAD = timedelta(days=365)


def quota_month(moment: datetime | None = None) -> str:
    """The Paris calendar month a payment made at ``moment`` counts in: « 2026-11 »."""
    return paris_now(as_utc(moment) if moment else None).strftime("%Y-%m")


# Built once (``GET /me`` runs it on every call): a reused statement keeps its cache key.
_USED_THIS_MONTH = select(PaymentUsage.payment_count).where(
    PaymentUsage.account_id == bindparam("account_id"), PaymentUsage.month == bindparam("month")
)


@dataclass
class PaymentQuota:
    """The payments an account may still make this calendar month (Europe/Paris)."""

    account: Account
    month: str

    @classmethod
    def for_account(cls, account: Account, now: datetime | None = None) -> "PaymentQuota":
        return cls(account, quota_month(now))

    @classmethod
    def known(cls, account, month: str, used: int) -> "PaymentQuota":
        """The quota of ``month`` whose count was read already (with the API key, whose account summary
        has the id and ``payment_limit`` a quota reads)."""
        quota = cls(account, month)
        quota.used = used  # cached: the ``used`` property reads no more
        return quota

    @property
    def limit(self) -> int | None:
        return self.account.payment_limit

    @cached_property
    def used(self) -> int:
        count = db.session.scalar(_USED_THIS_MONTH, {"account_id": self.account.id, "month": self.month})
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

        Never count-then-insert: one statement creates the month's row
        counting this payment, or adds it to the existing row if the plan
        allows (an upsert whose UPDATE is conditional), and holds the row
        until commit, so concurrent payments of the account go one after another.
        """
        if self.limit is not None and self.limit < 1:
            return False
        values = {"usage_account": self.account.id, "usage_month": self.month}
        if self.limit is not None:
            values["usage_limit"] = self.limit
        statement = _COUNT_ONE_UNLIMITED if self.limit is None else _COUNT_ONE_LIMITED
        result = db.session.connection().execute(statement, values)
        self.__dict__.pop("used", None)
        return result.rowcount == 1

    def release(self) -> None:
        """Gives back one payment of the month (a cancelled one); never below zero."""
        db.session.execute(
            update(PaymentUsage)
            .where(
                PaymentUsage.account_id == self.account.id,
                PaymentUsage.month == self.month,
                PaymentUsage.payment_count > 0,
            )
            .values(payment_count=PaymentUsage.payment_count - 1)
            .execution_options(synchronize_session=False)
        )
        self.__dict__.pop("used", None)


# The month's row with this payment counted: inserted at 1, or its count + 1 (below the limit when
# the plan has one). Written as SQL, the same on SQLite and PostgreSQL: SQLAlchemy cannot cache a
# dialect's upsert, and would compile it again for every payment (under the writers' turn).
_COUNT_ONE = (
    "INSERT INTO payment_usage (account_id, month, payment_count) VALUES (:usage_account, :usage_month, 1) "
    "ON CONFLICT (account_id, month) DO UPDATE SET payment_count = payment_usage.payment_count + 1"
)
# An INSERT's rowcount is kept only when asked (PostgreSQL).
_COUNT_ONE_UNLIMITED = text(_COUNT_ONE).execution_options(preserve_rowcount=True)
_COUNT_ONE_LIMITED = text(_COUNT_ONE + " WHERE payment_usage.payment_count < :usage_limit").execution_options(
    preserve_rowcount=True
)


@dataclass(frozen=True)
class Initiator:
    """Who asks for the payment, and from where."""

    email: str
    role: InitiatorRole
    channel: Channel


_ACTIVE_PAYMENT = select(Payment).where(
    Payment.invoice_id == bindparam("invoice_id"), Payment.status.in_(ACTIVE_PAYMENT_STATUSES)
)


def active_payment(invoice_id: int) -> Payment | None:
    return db.session.scalar(_ACTIVE_PAYMENT, {"invoice_id": invoice_id})


def _already_paid(number: str, payment: Payment | None) -> Conflict:
    if payment is not None and payment.status is PaymentStatus.PAID:
        message = f"La facture {number} est déjà payée."
    elif payment is not None and payment.status is PaymentStatus.AWAITING_APPROVAL:
        message = f"Un paiement de la facture {number} attend déjà l'approbation d'un administrateur."
    elif payment is not None and payment.status is PaymentStatus.IN_PROGRESS:
        message = f"Un paiement de la facture {number} est déjà remis à la banque."
    else:
        message = f"Un paiement de la facture {number} est déjà programmé."
    return Conflict(message, code="payment_exists", payment_id=payment.id if payment else None)


# Execution dates.


def check_execution_date(execution_date: date, today: date) -> date:
    """A date a transfer can be executed on, or InvalidData naming it and the next business day.

    SEPA transfers settle on TARGET business days, from today to a year ahead.
    """
    earliest = earliest_execution_date(today)
    shown = date_fr(execution_date)
    if execution_date < today:
        raise InvalidData(
            f"La date d'exécution du {shown} est passée : choisissez le {date_fr(earliest)} "
            "(prochain jour ouvré) ou une date ultérieure.",
            "execution_date",
        )
    if execution_date > today + MAX_SCHEDULE_AHEAD:
        latest = today + MAX_SCHEDULE_AHEAD
        raise InvalidData(
            f"La date d'exécution du {shown} est à plus d'un an : choisissez une date entre le "
            f"{date_fr(earliest)} (prochain jour ouvré) et le {date_fr(latest)}.",
            "execution_date",
        )
    if not is_business_day(execution_date):
        raise InvalidData(
            f"Le {shown} n'est pas un jour ouvré (les virements SEPA ne sont pas exécutés le week-end ni les "
            f"jours de fermeture de TARGET2) : choisissez le {date_fr(next_business_day(execution_date))}, "
            "jour ouvré suivant.",
            "execution_date",
        )
    return execution_date


def proposed_execution_date(invoice: Invoice, today: date | None = None) -> tuple[date, str]:
    """The date « Payer » proposes for ``invoice``, and why, in French."""
    today = today or paris_today()
    proposed = default_execution_date(invoice.due_date, today)
    due = date_fr(invoice.due_date)
    if proposed == invoice.due_date:
        reason = f"Proposée à l'échéance de la facture ({due})."
    elif invoice.due_date < today:
        reason = f"L'échéance ({due}) est passée : proposée au prochain jour ouvré, le {date_fr(proposed)}."
    else:
        reason = (
            f"L'échéance ({due}) n'est pas un jour ouvré des virements SEPA : proposée au jour ouvré suivant, "
            f"le {date_fr(proposed)}."
        )
    return proposed, reason


# The life of a payment.


@dataclass(frozen=True)
class PaymentOrder:
    """A payment asked for, checked: who asks (the email normalised), and the day it is executed."""

    initiator: Initiator
    execution_date: date


def payment_order(
    account: Account, initiator: Initiator, due_date: date, execution_date: date | None = None,
    *, now: datetime | None = None,
) -> PaymentOrder:
    """Checks who asks and when, before anything is written (nothing here needs the writers' turn).

    Refusals: an accountant other than the account's (Forbidden), a date in
    the past, not a business day or more than a year ahead (InvalidData).
    Without a date: ``due_date``, or the next TARGET business day when it is
    past or not a business day (``default_execution_date``).
    """
    email = normalize_email(initiator.email, "initiated_by_email")
    if initiator.role is InitiatorRole.ACCOUNTANT and not account.is_accountant(email):
        raise Forbidden(
            f"{email} n'est pas l'expert-comptable de {account.name} dans Libeo : seul l'expert-comptable "
            "ajouté par l'entreprise dans « Configuration » peut payer ses factures.",
            "initiated_by_email",
            code="initiator_not_allowed",
        )
    today = paris_today(now)
    if execution_date is None:
        execution_date = default_execution_date(due_date, today)
    check_execution_date(execution_date, today)
    return PaymentOrder(Initiator(email, initiator.role, initiator.channel), execution_date)


def pay_invoice(
    account: Account,
    invoice: Invoice,
    initiator: Initiator,
    execution_date: date | None = None,
    *,
    now: datetime | None = None,
) -> Payment:
    """Schedules the transfer paying ``invoice`` on ``execution_date``, or holds it for approval.

    ``payment_order`` checks the request (its refusals come first), then
    ``place_payment`` creates the payment.
    """
    _check_owner(account, invoice)
    return place_payment(account, invoice, payment_order(account, initiator, invoice.due_date, execution_date, now=now),
                         now=now)


def _check_owner(account: Account, invoice: Invoice) -> None:
    if invoice.account_id != account.id:
        raise NotFound("Cette facture n'existe pas.")


def place_payment(
    account: Account, invoice: Invoice, order: PaymentOrder, *, now: datetime | None = None,
    invoice_is_new: bool = False,
) -> Payment:
    """Creates the payment of a checked ``order``: scheduled, or held for approval.

    ``invoice_is_new``: the invoice was created in this transaction (sent with
    the request), so no other payment can refer to it yet: nothing to look for.

    The safeguards (``models.libeo.safeguards``) are checked once the
    quota row is held, so concurrent payments of the account are compared
    with each other in turn: a payment they question is created
    ``awaiting_approval``, with its reasons; it holds its invoice and
    counts in the quota like a scheduled one.
    Refusals: an invoice already paid or being paid (Conflict
    ``payment_exists``), the month's quota used up (QuotaExceeded). When
    refused after counting, the session is rolled back so that nothing of
    the attempt remains (an invoice sent with the request included).
    """
    _check_owner(account, invoice)
    initiator, execution_date = order.initiator, order.execution_date
    email = initiator.email
    invoice_id, number, plan = invoice.id, invoice.number, account.plan
    quota = PaymentQuota.for_account(account, now)
    within_quota = quota.consume()
    # Read once the counter's row is held: a concurrent payment of this invoice is visible now.
    existing = None if invoice_is_new else active_payment(invoice_id)
    if existing is not None or not within_quota:
        db.session.rollback()
        if existing is not None:
            raise _already_paid(number, existing)
        raise QuotaExceeded(
            f"Votre formule {plan.label} inclut {plan.payment_limit} paiements par mois, tous utilisés "
            "ce mois-ci : passez à la formule Partnerships (paiements illimités) pour payer cette facture.",
            limit=plan.payment_limit,
        )
    created_at = now or utcnow()
    hold = holds_for(account, invoice, initiator.role, email)
    status = PaymentStatus.AWAITING_APPROVAL if hold else PaymentStatus.SCHEDULED
    payment = Payment(
        account_id=account.id,
        invoice=invoice,
        status=status,
        hold_reasons=hold.reasons or None,
        hold_details=hold.details or None,
        amount_cents=invoice.amount_cents,
        currency=invoice.currency,
        execution_date=execution_date,
        creditor_name=invoice.supplier_name,
        creditor_iban=invoice.supplier_iban,
        creditor_bic=invoice.supplier_bic,
        initiated_by_email=email,
        initiated_by_role=initiator.role,
        channel=initiator.channel,
        created_at=created_at,
    )
    db.session.add(payment)
    invoice.status = invoice_status_for(status)
    if invoice.imported_at is None:
        invoice.imported_at = created_at
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise _already_paid(number, active_payment(invoice_id)) from None
    after_creation(payment, hold, _actor(initiator, email))
    record_payment_events(account.id, [payment])
    return payment


def _actor(initiator: Initiator, email: str) -> str:
    """Who the « Journal » names: the person, and through MEG when it came by the API."""
    return f"{email} (via MEG)" if initiator.channel is Channel.MEG else email


def move_payments(
    ids: list[int], leaving: tuple[PaymentStatus, ...], status: PaymentStatus, *, account_id: int, **values
) -> list[Payment]:
    """Moves the payments still in one of the ``leaving`` states to ``status``; those moved.

    One conditional UPDATE: of two concurrent moves of a payment, exactly
    one finds it in the state it leaves. Their invoices follow, and each
    moved payment gets its event. Call it last before commit (it ends with
    the events, which lock the account's row).
    """
    if not ids:
        return []
    moved = list(
        db.session.scalars(
            update(Payment)
            .where(Payment.id.in_(ids), Payment.account_id == account_id, Payment.status.in_(leaving))
            .values(status=status, **values)
            .returning(Payment.id)
            .execution_options(synchronize_session=False)
        )
    )
    if not moved:
        return []
    payments = list(
        db.session.scalars(
            select(Payment)
            .options(joinedload(Payment.invoice))
            .where(Payment.id.in_(moved))
            .order_by(Payment.id)
            .execution_options(populate_existing=True)
        ).unique()
    )
    for payment in payments:
        payment.invoice.status = invoice_status_for(status)
    record_payment_events(account_id, payments)
    return payments


def cancel_payment(account: Account, payment: Payment, actor: str | None = None) -> None:
    """Cancels a payment not yet handed to the bank: the invoice is to pay again, the quota slot free.

    A payment still awaiting approval may be cancelled too (the person who
    asked for it changed their mind). The slot is given back to the month
    the payment was counted in (Paris month of its creation). The quota row
    is taken before the payment's (the order ``pay_invoice`` takes them
    in), and given back only if the payment was still scheduled or held: a
    refusal rolls the session back.
    """
    if payment.account_id != account.id:
        raise NotFound("Ce paiement n'existe pas.")
    PaymentQuota(account, quota_month(payment.created_at)).release()
    journal(account.id, "payment.cancelled",
            f"Paiement de la facture {payment.invoice.number} ({payment.amount_display} à {payment.creditor_name}) "
            "annulé.", actor, payment.id)
    moved = move_payments(
        [payment.id], (PaymentStatus.SCHEDULED, PaymentStatus.AWAITING_APPROVAL), PaymentStatus.CANCELLED,
        account_id=account.id, cancelled_at=utcnow(),
    )
    if not moved:
        db.session.rollback()
        raise Conflict(
            "Ce paiement ne peut plus être annulé : il est remis à la banque, payé, rejeté ou déjà annulé.",
            code="payment_not_cancellable",
        )


def mark_debited(account: Account, payment: Payment, by_email: str) -> None:
    """« Marquer comme débité »: a person saw the transfer on the account's statement."""
    if payment.account_id != account.id:
        raise NotFound("Ce paiement n'existe pas.")
    moved = move_payments(
        [payment.id], (PaymentStatus.IN_PROGRESS,), PaymentStatus.PAID,
        account_id=account.id, paid_at=utcnow(), marked_paid_by=by_email,
    )
    if not moved:
        db.session.rollback()
        raise Conflict(
            f"Ce paiement n'est plus « Remis à la banque » ({payment.status_label}) : il n'a pas été modifié.",
            code="payment_not_in_progress",
        )


def account_payment(account: Account, payment_id: int) -> Payment | None:
    """The account's payment with its invoice, never another account's."""
    return db.session.scalar(
        select(Payment)
        .options(joinedload(Payment.invoice), joinedload(Payment.batch))
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
            .options(joinedload(Payment.batch), joinedload(Payment.invoice))
            .where(Payment.invoice_id == invoice.id)
            .order_by(Payment.id.desc())
        )
    )
