"""« À approuver »: an approver approves or refuses a payment the safeguards held.

Separation of duties, the account's rules (« Configuration » → « Approbations »),
checked here whatever page or request calls: who may approve
(:func:`approval_blocker`: an administrator, or the expert-comptable when the
account lets them; never the person who asked for the payment when the
account says so; a payment held because the expert-comptable asked for it,
by an administrator only, neither the expert-comptable nor who asked for it;
nobody twice), and how many approvals a payment needs (two
above the account's amount, set when it was asked for). Each approval is
counted by one conditional UPDATE of the payment (``approval_count``), so
two approvers deciding at once are counted both, and the second approval
schedules the payment exactly once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from core.calendar import earliest_execution_date
from core.dates import date_fr, paris_today, utcnow
from core.validators import InvalidIdentifier, clean_text
from models.libeo.accounts.models import Account, LibeoUser
from models.libeo.db import db
from models.libeo.errors import Conflict, Forbidden, InvalidData, NotFound
from models.libeo.journal import record as journal
from models.libeo.payments.models import (
    Payment,
    PaymentApproval,
    PaymentStatus,
)
from models.libeo.payments.quota import PaymentQuota, quota_month
from models.libeo.payments.safeguards import (
    MAX_REASON_LENGTH,
    forget_refused_iban,
    held_by_accountant_rule,
    remember_iban,
)
from models.libeo.payments.transitions import move_payments

# Built once: the header asks on every page.
_AWAITING_COUNT = select(func.count(Payment.id)).where(Payment.account_id == bindparam("account_id"),
                                                       Payment.status == PaymentStatus.AWAITING_APPROVAL)


def awaiting_count(account: Account) -> int:
    """The header's counter; one indexed query (``ix_payment_awaiting``)."""
    return db.session.scalar(_AWAITING_COUNT, {"account_id": account.id}) or 0


# The same count, in the statement that reads the signed-in person (``LibeoUser.awaiting_approvals``).
AWAITING_COUNT_OF_THE_PERSON = (
    select(func.count(Payment.id))
    .where(Payment.account_id == LibeoUser.account_id, Payment.status == PaymentStatus.AWAITING_APPROVAL)
    .scalar_subquery()
)


REQUESTER_MAY_NOT_APPROVE = "Vous avez demandé ce paiement : un autre approbateur doit l'approuver."
ALREADY_APPROVED = "Vous avez déjà approuvé ce paiement : il attend l'approbation d'un autre approbateur."
ADMINISTRATOR_APPROVES_THE_ACCOUNTANTS = (
    "Ce paiement a été demandé par l'expert-comptable : la règle du compte « Les paiements initiés par "
    "l'expert-comptable doivent être approuvés » demande qu'un administrateur du compte l'approuve, pas "
    "l'expert-comptable."
)
ACCOUNTANT_MAY_NOT_APPROVE = ("Les règles du compte ne permettent pas à l'expert-comptable d'approuver les paiements "
                              "(« Configuration » → « Approbations »).")


def _same_person(first: str | None, second: str | None) -> bool:
    if not first or not second:
        return False
    return first.strip().lower() == second.strip().lower()


def approval_blocker(account: Account, payment: Payment, user: LibeoUser) -> str | None:
    """Why ``user`` may not approve ``payment`` under the account's rules, in French; None when they may.

    The one statement of who approves, for « Approuver » and for what « À approuver » shows.
    """
    if account.is_accountant(user.email) and not account.accountant_may_approve:
        return ACCOUNTANT_MAY_NOT_APPROVE
    if not user.can_approve:
        return "Seuls les administrateurs du compte Libeo peuvent approuver ou refuser un paiement."
    if held_by_accountant_rule(payment) and (account.is_accountant(user.email)
                                             or _same_person(user.email, payment.initiated_by_email)):
        # The rule exists for somebody else to check them: « L'expert-comptable peut approuver les paiements »
        # is for the other payments.
        return ADMINISTRATOR_APPROVES_THE_ACCOUNTANTS
    if account.approver_not_requester and _same_person(user.email, payment.initiated_by_email):
        return REQUESTER_MAY_NOT_APPROVE
    if any(_same_person(user.email, approval.approver_email) for approval in payment.approvals):
        return ALREADY_APPROVED
    return None


def approvals_label(payment: Payment) -> str | None:
    """« 1 approbation sur 2 », for a payment that needs more than one; None otherwise."""
    if payment.approvals_required < 2:
        return None
    count = payment.approval_count
    return f"{count} approbation{'s' if count > 1 else ''} sur {payment.approvals_required}"


def _check_decider(account: Account, payment: Payment, user: LibeoUser) -> None:
    if payment.account_id != account.id or user.account_id != account.id:
        raise NotFound("Ce paiement n'existe pas.")
    if not user.can_approve:
        raise Forbidden("Seuls les administrateurs du compte Libeo peuvent approuver ou refuser un paiement.",
                        code="not_an_administrator")


def _check_approver(account: Account, payment: Payment, user: LibeoUser) -> None:
    _check_decider(account, payment, user)
    blocker = approval_blocker(account, payment, user)
    if blocker == REQUESTER_MAY_NOT_APPROVE:
        raise Forbidden(blocker, code="approver_is_requester")
    if blocker == ALREADY_APPROVED:
        raise Conflict(blocker, code="already_approved")
    if blocker is not None:
        raise Forbidden(blocker, code="approver_not_allowed")


def _count_approval(account: Account, payment: Payment, user: LibeoUser, moment: datetime) -> tuple[int, int]:
    """Records ``user``'s approval and counts it: (approvals given, approvals required).

    Raises Conflict if the payment was decided meanwhile, or this person's approval was counted
    meanwhile (a double click).
    """
    db.session.add(PaymentApproval(account_id=account.id, payment_id=payment.id, approver_email=user.email,
                                   approved_at=moment))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(ALREADY_APPROVED, code="already_approved") from None
    counted = db.session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.account_id == account.id,
               Payment.status == PaymentStatus.AWAITING_APPROVAL)
        .values(approval_count=Payment.approval_count + 1)
        .returning(Payment.approval_count, Payment.approvals_required)
        .execution_options(synchronize_session=False)
    ).first()
    if counted is None:
        raise _already_decided(payment)
    return counted.approval_count, counted.approvals_required


def _already_decided(payment: Payment) -> Conflict:
    db.session.rollback()
    current = db.session.get_one(Payment, payment.id)
    return Conflict(
        f"Ce paiement n'est plus à approuver ({current.status_label}) : une autre décision a été prise avant la vôtre.",
        code="payment_not_awaiting_approval",
    )


def approve_payment(account: Account, payment: Payment, user: LibeoUser, *, now: datetime | None = None) -> Payment:
    """« Approuver »: one more approval; the last one needed schedules the payment, whose IBAN becomes one of
    the supplier's.

    Refused (Forbidden) to whoever the account's rules keep from approving it (``approval_blocker``),
    and (Conflict) to the same person twice. An execution date that went by while the payment waited
    moves to the first business day. Of two concurrent decisions, one applies; the other gets a Conflict.
    """
    _check_approver(account, payment, user)
    moment = now or utcnow()
    given, required = _count_approval(account, payment, user, moment)
    what = f"Paiement de la facture {payment.invoice.number} ({payment.amount_display} à {payment.creditor_name})"
    if given < required:
        journal(account.id, "payment.approval_given",
                f"{what} approuvé : {given} approbation{'s' if given > 1 else ''} sur {required}, en attente "
                "d'un autre approbateur.", user.email, payment.id)
        db.session.refresh(payment)
        return payment
    earliest = earliest_execution_date(paris_today(now))
    execution_date = max(payment.execution_date, earliest)
    remember_iban(account.id, payment.creditor_name, payment.creditor_iban, f"approuvé par {user.email}", user.email)
    journal(account.id, "payment.approved",
            f"{what} approuvé{' (approbation ' + str(given) + ' sur ' + str(required) + ')' if required > 1 else ''} "
            f": programmé le {date_fr(execution_date)}.", user.email, payment.id)
    moved = move_payments(
        [payment.id], (PaymentStatus.AWAITING_APPROVAL,), PaymentStatus.SCHEDULED, account_id=account.id,
        decided_by=user.email, decided_at=moment, execution_date=execution_date,
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
    """« Refuser »: the payment is cancelled with the reason (both products show « Annulé — approbation refusée :
    <reason> »).

    Like a cancellation, it gives the quota slot back and the invoice is to pay again. It teaches no IBAN
    (``forget_refused_iban``).
    """
    _check_decider(account, payment, user)
    reason = check_refusal_reason(reason)
    PaymentQuota(account, quota_month(payment.created_at)).release()
    journal(account.id, "payment.refused",
            f"Paiement de la facture {payment.invoice.number} ({payment.amount_display} à {payment.creditor_name}) "
            f"refusé : {reason}", user.email, payment.id)
    forget_refused_iban(payment, user.email)
    moment = now or utcnow()
    moved = move_payments(
        [payment.id], (PaymentStatus.AWAITING_APPROVAL,), PaymentStatus.CANCELLED, account_id=account.id,
        decided_by=user.email, decided_at=moment, cancelled_at=moment, cancel_reason=reason,
    )
    if not moved:
        raise _already_decided(payment)
    return moved[0]
