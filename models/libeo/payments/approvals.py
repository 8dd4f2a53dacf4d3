"""« À approuver »: an administrator approves or refuses a payment the safeguards held."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    func,
    select,
)

from core.calendar import earliest_execution_date
from core.dates import date_fr, paris_today, utcnow
from core.validators import InvalidIdentifier, clean_text
from models.libeo.accounts.models import Account, LibeoUser
from models.libeo.db import db
from models.libeo.errors import Conflict, Forbidden, InvalidData, NotFound
from models.libeo.journal import record as journal
from models.libeo.payments.models import (
    Payment,
    PaymentStatus,
)
from models.libeo.payments.quota import PaymentQuota, quota_month
from models.libeo.payments.safeguards import MAX_REASON_LENGTH, remember_iban
from models.libeo.payments.transitions import move_payments


def awaiting_count(account: Account) -> int:
    """The header's counter; one indexed query (``ix_payment_awaiting``)."""
    return db.session.scalar(
        select(func.count(Payment.id)).where(Payment.account_id == account.id,
                                             Payment.status == PaymentStatus.AWAITING_APPROVAL)
    ) or 0


def _check_decider(account: Account, payment: Payment, user: LibeoUser) -> None:
    if payment.account_id != account.id or user.account_id != account.id:
        raise NotFound("Ce paiement n'existe pas.")
    if not user.is_admin:
        raise Forbidden("Seuls les administrateurs du compte Libeo peuvent approuver ou refuser un paiement.",
                        code="not_an_administrator")


def _already_decided(payment: Payment) -> Conflict:
    db.session.rollback()
    current = db.session.get_one(Payment, payment.id)
    return Conflict(
        f"Ce paiement n'est plus à approuver ({current.status_label}) : une autre décision a été prise avant la vôtre.",
        code="payment_not_awaiting_approval",
    )


def approve_payment(account: Account, payment: Payment, user: LibeoUser, *, now: datetime | None = None) -> Payment:
    """« Approuver »: the payment is scheduled; its IBAN becomes one of the supplier's.

    An execution date that went by while the payment waited moves to the
    first business day. Of two concurrent decisions, one applies; the
    other gets a Conflict.
    """
    _check_decider(account, payment, user)
    earliest = earliest_execution_date(paris_today(now))
    execution_date = max(payment.execution_date, earliest)
    remember_iban(account.id, payment.creditor_name, payment.creditor_iban, f"approuvé par {user.email}", user.email)
    journal(account.id, "payment.approved",
            f"Paiement de la facture {payment.invoice.number} ({payment.amount_display} à {payment.creditor_name}) "
            f"approuvé : programmé le {date_fr(execution_date)}.", user.email, payment.id)
    moved = move_payments(
        [payment.id], (PaymentStatus.AWAITING_APPROVAL,), PaymentStatus.SCHEDULED, account_id=account.id,
        decided_by=user.email, decided_at=now or utcnow(), execution_date=execution_date,
    )
    if not moved:
        raise _already_decided(payment)
    return moved[0]


def check_refusal_reason(reason: str | None) -> str:
    try:
        return clean_text(reason, max_length=MAX_REASON_LENGTH, label="Motif du refus")
    except InvalidIdentifier as exc:
        raise InvalidData(str(exc), "reason") from exc


def refuse_payment(account: Account, payment: Payment, user: LibeoUser, reason: str | None,
                   *, now: datetime | None = None) -> Payment:
    """« Refuser »: the payment is cancelled with the reason (both products show « Refusé : <reason> »).

    Like a cancellation, it gives the quota slot back and the invoice is to pay again.
    """
    _check_decider(account, payment, user)
    reason = check_refusal_reason(reason)
    PaymentQuota(account, quota_month(payment.created_at)).release()
    journal(account.id, "payment.refused",
            f"Paiement de la facture {payment.invoice.number} ({payment.amount_display} à {payment.creditor_name}) "
            f"refusé : {reason}", user.email, payment.id)
    moment = now or utcnow()
    moved = move_payments(
        [payment.id], (PaymentStatus.AWAITING_APPROVAL,), PaymentStatus.CANCELLED, account_id=account.id,
        decided_by=user.email, decided_at=moment, cancelled_at=moment, cancel_reason=reason,
    )
    if not moved:
        raise _already_decided(payment)
    return moved[0]
