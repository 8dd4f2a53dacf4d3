"""Paying an invoice: the plan's monthly quota, one payment per invoice, its life until paid.

The guarantees hold under any concurrency, on SQLite and PostgreSQL, because
the database enforces them: the quota is one conditional UPDATE of a counter
row, a partial unique index allows one active payment per invoice, and every
change of a payment's state is a conditional UPDATE from the state it
leaves (``WHERE status = 'scheduled'``), so concurrent imports, clicks and
runs decide once. Each change appends its event (``models.libeo.events``)
in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from core.calendar import ExecutionDateRefused, default_execution_date
from core.calendar import check_execution_date as execution_date_rule
from core.dates import date_fr, paris_today, utcnow
from core.db import undo_work
from core.french import of
from models.libeo.accounts.models import Account
from models.libeo.accounts.services import normalize_email
from models.libeo.db import db
from models.libeo.errors import (
    Conflict,
    Forbidden,
    InvalidData,
    NotFound,
    QuotaExceeded,
)
from models.libeo.invoices.models import Invoice, InvoiceSource
from models.libeo.journal import record as journal
from models.libeo.monitoring import quota_refusals
from models.libeo.notifications.events import quota_used_up
from models.libeo.payments.events import record_payment_events
from models.libeo.payments.models import (
    ACTIVE_PAYMENT_STATUSES,
    Channel,
    InitiatorRole,
    Payment,
    PaymentStatus,
    invoice_status_for,
)
from models.libeo.payments.quota import PaymentQuota, quota_month
from models.libeo.payments.safeguards import (
    Hold,
    after_creation,
    approvals_required,
    holds_for,
    rejected_iban_refusal,
)
from models.libeo.payments.transitions import move_payments


@dataclass(frozen=True)
class Initiator:
    """Who asks for the payment, and from where."""

    email: str
    role: InitiatorRole
    channel: Channel


# The payment that holds its invoice: under way or paid, or rejected while a bank file says it may have been
# debited after all (an anomaly a person has not decided yet: paying again could pay twice).
_HOLDS_ITS_INVOICE = or_(Payment.status.in_(ACTIVE_PAYMENT_STATUSES),
                         and_(Payment.status == PaymentStatus.FAILED, Payment.bank_anomaly.is_not(None)))
_ACTIVE_PAYMENT = select(Payment).where(Payment.invoice_id == bindparam("invoice_id"), _HOLDS_ITS_INVOICE)


def active_payment(invoice_id: int) -> Payment | None:
    return db.session.scalar(_ACTIVE_PAYMENT, {"invoice_id": invoice_id})


_ACTIVE_PAYMENTS = select(Payment).where(
    Payment.invoice_id.in_(bindparam("invoice_ids", expanding=True)), _HOLDS_ITS_INVOICE
)


def active_payments(invoice_ids: list[int]) -> dict[int, Payment]:
    """The active payment of each of ``invoice_ids`` that has one, in one statement."""
    if not invoice_ids:
        return {}
    return {payment.invoice_id: payment for payment in db.session.scalars(_ACTIVE_PAYMENTS,
                                                                           {"invoice_ids": invoice_ids})}


def already_paid(number: str, payment: Payment | None) -> Conflict:
    """The refusal of a payment of an invoice another payment holds (``payment``)."""
    if payment is not None and payment.status is PaymentStatus.FAILED:
        return Conflict(f"Le dernier virement de la facture {number} a été rejeté, mais un fichier de la banque dit "
                        "qu'il a peut-être été débité : une anomalie est à vérifier dans « Remises » de Libeo avant de "
                        "payer cette facture de nouveau.", code="bank_anomaly", payment_id=payment.id)
    if payment is not None and payment.status is PaymentStatus.PAID:
        message = f"La facture {number} est déjà payée."
    elif payment is not None and payment.status is PaymentStatus.AWAITING_APPROVAL:
        message = f"Un paiement de la facture {number} attend déjà l'approbation d'un administrateur."
    elif payment is not None and payment.status.at_bank:
        message = f"Un paiement de la facture {number} est déjà en cours à la banque ({payment.status_label})."
    else:
        message = f"Un paiement de la facture {number} est déjà programmé."
    return Conflict(message, code="payment_exists", payment_id=payment.id if payment else None)


def check_execution_date(execution_date: date, today: date) -> date:
    """A date a transfer can be executed on (``core.calendar``'s rule), or InvalidData naming it."""
    try:
        return execution_date_rule(execution_date, today)
    except ExecutionDateRefused as refused:
        raise InvalidData(refused.message, "execution_date") from None


def proposed_execution_date(invoice: Invoice, today: date | None = None) -> tuple[date, str]:
    """The date « Payer » proposes for ``invoice``, and why, in French (``default_execution_date``)."""
    today = today or paris_today()
    proposed = default_execution_date(invoice.due_date, today)
    due = date_fr(invoice.due_date)
    if proposed == invoice.due_date:
        reason = f"Proposée à l'échéance de la facture ({due})."
    elif proposed < invoice.due_date:
        reason = (
            f"L'échéance ({due}) n'est pas un jour ouvré des virements SEPA : proposée au jour ouvré qui la "
            f"précède, le {date_fr(proposed)}, pour que le fournisseur soit payé à temps."
        )
    else:
        # After the due date: that, and what it means, is the late-date warning's to say, beside the field and
        # each row (``late_payment_words``).
        reason = f"Proposée au premier jour ouvré possible, le {date_fr(proposed)}."
    return proposed, reason


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

    The role is Libeo's to say, never the caller's: whoever the request names, the account's
    expert-comptable is the expert-comptable (the approval rules follow), whatever role is declared.

    Refusals: an accountant other than the account's (Forbidden), a date in
    the past, not a business day or more than a year ahead (InvalidData).
    Without a date: the last TARGET business day on or before ``due_date``,
    never before the first one a transfer ordered today can have
    (``default_execution_date``). A date after the due date is allowed.
    """
    email = normalize_email(initiator.email, "initiated_by_email")
    if initiator.role is InitiatorRole.ACCOUNTANT and not account.is_accountant(email):
        raise Forbidden(
            f"{email} n'est pas l'expert-comptable {of(account.name)} dans Libeo : seul l'expert-comptable "
            "ajouté par l'entreprise dans « Configuration » peut payer ses factures.",
            "initiated_by_email",
            code="initiator_not_allowed",
        )
    role = InitiatorRole.ACCOUNTANT if account.is_accountant(email) else initiator.role
    today = paris_today(now)
    if execution_date is None:
        execution_date = default_execution_date(due_date, today)
    check_execution_date(execution_date, today)
    return PaymentOrder(Initiator(email, role, initiator.channel), execution_date)


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
    ``payment_exists``), the month's quota used up (QuotaExceeded), an IBAN
    the bank rejected for a reason of the account (Conflict
    ``iban_rejected``: the supplier's new IBAN is needed). When
    refused after counting, the work is undone (``undo_work``: the session, or
    the item's savepoint in a batch) so that nothing of the attempt remains
    (an invoice sent with the request included).
    """
    _check_owner(account, invoice)
    initiator, email = order.initiator, order.initiator.email
    invoice_id, number, plan = invoice.id, invoice.number, account.plan
    quota = PaymentQuota.for_account(account, now)
    within_quota = quota.consume()
    # Read once the counter's row is held: a concurrent payment of this invoice is visible now.
    existing = None if invoice_is_new else active_payment(invoice_id)
    if existing is not None or not within_quota:
        undo_work(db)
        if existing is not None:
            raise already_paid(number, existing)
        raise quota_refusal(plan)
    if quota.just_used_up:
        quota_used_up(account, quota.month)
    created_at = now or utcnow()
    hold = holds_for(account, invoice, initiator.role, email)
    if hold.rejected_iban:
        refusal = iban_refusal(invoice, hold.rejected_iban)
        undo_work(db)
        raise refusal
    payment = Payment(invoice=invoice, **payment_values(account, invoice, order, hold, created_at))
    db.session.add(payment)
    invoice.status = invoice_status_for(payment.status)
    if invoice.imported_at is None:
        invoice.imported_at = created_at
    try:
        db.session.flush()
    except IntegrityError:
        undo_work(db)
        raise already_paid(number, active_payment(invoice_id)) from None
    after_creation(payment, hold, actor_of(initiator))
    record_payment_events(account.id, [payment])
    return payment


def quota_refusal(plan) -> QuotaExceeded:
    """The refusal of a payment beyond the month's quota of ``plan`` (counted in the refusals' metric)."""
    quota_refusals().inc()
    return QuotaExceeded(
        f"Votre formule {plan.label} inclut {plan.payment_limit} paiements par mois, tous utilisés "
        "ce mois-ci : passez à la formule Partnerships (paiements illimités) pour payer cette facture.",
        limit=plan.payment_limit,
    )


def iban_refusal(invoice: Invoice, reason: str) -> Conflict:
    """The refusal of a payment of ``invoice`` to an IBAN the bank rejected for a reason of the account
    (``reason``)."""
    return Conflict(rejected_iban_refusal(invoice.supplier_iban, reason, invoice.source is InvoiceSource.MEG),
                    "supplier_iban", code="iban_rejected")


def payment_values(account: Account, invoice: Invoice, order: PaymentOrder, hold: Hold, created_at: datetime) -> dict:
    """The new payment of ``invoice`` (its invoice aside): scheduled, or held for approval with ``hold``'s reasons."""
    initiator = order.initiator
    return {
        "account_id": account.id,
        "status": PaymentStatus.AWAITING_APPROVAL if hold else PaymentStatus.SCHEDULED,
        "hold_reasons": hold.reasons or None,
        "hold_details": hold.details or None,
        "amount_cents": invoice.amount_cents,
        "currency": invoice.currency,
        "execution_date": order.execution_date,
        "creditor_name": invoice.supplier_name,
        "creditor_iban": invoice.supplier_iban,
        "creditor_bic": invoice.supplier_bic,
        "initiated_by_email": initiator.email,
        "initiated_by_role": initiator.role,
        "channel": initiator.channel,
        "created_at": created_at,
        "approvals_required": approvals_required(account, invoice.amount_cents),
    }


def actor_of(initiator: Initiator) -> str:
    """Who the « Journal » names: the person, and through MEG when it came by the API."""
    return f"{initiator.email} (via MEG)" if initiator.channel is Channel.MEG else initiator.email


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
            "Ce paiement ne peut plus être annulé : son fichier de virements est prêt ou transmis à la banque, ou il "
            "est débité, rejeté ou déjà annulé.",
            code="payment_not_cancellable",
        )


def cancel_on_request(account: Account, payment: Payment, initiator: Initiator) -> Payment:
    """« Annuler » from MEG (``POST /payments/{id}/cancel``): as in Libeo, while the payment is scheduled or
    held; the quota slot is given back. Asking again for a payment already cancelled answers it as it is
    (a lost answer is asked again safely). The expert-comptable may cancel only if the account added them."""
    email = normalize_email(initiator.email, "cancelled_by_email")
    if initiator.role is InitiatorRole.ACCOUNTANT and not account.is_accountant(email):
        raise Forbidden(
            f"{email} n'est pas l'expert-comptable de {account.name} dans Libeo : seul l'expert-comptable "
            "ajouté par l'entreprise dans « Configuration » peut annuler ses paiements.",
            "cancelled_by_email",
            code="initiator_not_allowed",
        )
    if payment.status is PaymentStatus.CANCELLED:
        return payment
    cancel_payment(account, payment, actor=actor_of(Initiator(email, initiator.role, initiator.channel)))
    return payment


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
