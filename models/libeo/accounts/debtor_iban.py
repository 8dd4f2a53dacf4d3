"""The company's own bank account, debited by its SEPA files: a sensitive change.

Whoever changes the debit IBAN decides where every next transfer is taken
from: the « Journal » records each request, confirmation and cancellation
with who and when (IBANs masked), and « Remises » shows the latest change.
An account with approval rules (« Configuration » → « Approbations ») asks a
second administrator to confirm the change, as it asks for a payment above
its threshold; one without administrator to ask has support confirm it. The
first IBAN of an account, and a change of BIC alone, apply at once.
"""

from __future__ import annotations

from sqlalchemy import func, select

from core.dates import utcnow
from core.validators import mask_iban
from models.libeo.accounts.models import Account, DebtorIbanChange, LibeoUser
from models.libeo.db import db
from models.libeo.errors import Conflict, Forbidden, NotFound, checked_iban_and_bic
from models.libeo.journal import COMMAND_LINE
from models.libeo.journal import record as journal

PENDING, APPLIED, CANCELLED = "pending", "applied", "cancelled"


def has_approval_rules(account: Account) -> bool:
    return (account.approval_threshold_cents is not None or account.approve_accountant_payments
            or account.approver_not_requester or account.dual_approval_above_cents is not None)


def pending_change(account: Account) -> DebtorIbanChange | None:
    return db.session.scalar(select(DebtorIbanChange).where(
        DebtorIbanChange.account_id == account.id, DebtorIbanChange.status == PENDING))


def latest_debtor_iban_change(account: Account) -> DebtorIbanChange | None:
    """The change « Remises » shows: the one waiting, else the latest applied."""
    return db.session.scalar(
        select(DebtorIbanChange)
        .where(DebtorIbanChange.account_id == account.id, DebtorIbanChange.status != CANCELLED)
        .order_by((DebtorIbanChange.status == PENDING).desc(), DebtorIbanChange.requested_at.desc(),
                  DebtorIbanChange.id.desc())
        .limit(1)
    )


def other_administrators(account: Account, email: str) -> int:
    """The account's administrators other than ``email``: who may confirm that person's change."""
    return db.session.scalar(select(func.count(LibeoUser.id)).where(
        LibeoUser.account_id == account.id, LibeoUser.is_admin.is_(True), LibeoUser.email != email)) or 0


def request_debtor_iban(account: Account, iban: str | None, bic: str | None,
                        user: LibeoUser) -> DebtorIbanChange | None:
    """« Compte bancaire » → « Enregistrer »: applied, or waiting for a second administrator; None when
    nothing changes. Administrators only."""
    if not user.is_admin or user.account_id != account.id:
        raise Forbidden("Seuls les administrateurs du compte Libeo peuvent changer le compte bancaire débité.",
                        code="not_an_administrator")
    new_iban, new_bic = checked_iban_and_bic(iban, bic)
    if (new_iban, new_bic) == (account.debtor_iban, account.debtor_bic):
        return None
    waiting = pending_change(account)
    if waiting is not None:
        raise Conflict(
            f"Un changement vers l'IBAN {mask_iban(waiting.new_iban)}, demandé par {waiting.requested_by}, attend "
            "déjà d'être confirmé : confirmez-le ou annulez-le d'abord.", "iban", code="debtor_iban_pending")
    change = DebtorIbanChange(account_id=account.id, old_iban=account.debtor_iban, new_iban=new_iban,
                              new_bic=new_bic, requested_by=user.email, requested_at=utcnow(), status=PENDING)
    db.session.add(change)
    if account.debtor_iban is None or new_iban == account.debtor_iban or not has_approval_rules(account):
        _apply(account, change, user.email)
    else:
        journal(account.id, "debtor_iban.requested",
                f"Changement du compte bancaire débité demandé : {mask_iban(account.debtor_iban)} → "
                f"{mask_iban(new_iban)}. Les règles d'approbation du compte demandent qu'un autre administrateur "
                "le confirme ; d'ici là, les virements débitent toujours l'ancien compte.", user.email)
    db.session.flush()
    return change


def confirm_debtor_iban(account: Account, user: LibeoUser | None) -> DebtorIbanChange:
    """A second administrator (or support, ``user`` None) confirms the change waiting."""
    change = pending_change(account)
    if change is None:
        raise NotFound("Aucun changement de compte bancaire n'attend de confirmation.")
    if user is not None:
        if not user.is_admin or user.account_id != account.id:
            raise Forbidden("Seuls les administrateurs du compte Libeo peuvent confirmer ce changement.",
                            code="not_an_administrator")
        if user.email == change.requested_by:
            raise Forbidden("Un autre administrateur que celui qui l'a demandé doit confirmer ce changement.",
                            code="same_administrator")
    _apply(account, change, user.email if user is not None else COMMAND_LINE)
    db.session.flush()
    return change


def cancel_debtor_iban(account: Account, user: LibeoUser) -> DebtorIbanChange:
    change = pending_change(account)
    if change is None:
        raise NotFound("Aucun changement de compte bancaire n'attend de confirmation.")
    if not user.is_admin or user.account_id != account.id:
        raise Forbidden("Seuls les administrateurs du compte Libeo peuvent annuler ce changement.",
                        code="not_an_administrator")
    change.status, change.decided_by, change.decided_at = CANCELLED, user.email, utcnow()
    journal(account.id, "debtor_iban.cancelled",
            f"Changement du compte bancaire débité vers {mask_iban(change.new_iban)} annulé.", user.email)
    db.session.flush()
    return change


def apply_debtor_iban(account: Account, iban: str, bic: str | None, actor: str) -> None:
    """Applies a checked IBAN and BIC at once, recorded and journaled as any change."""
    if (iban, bic) == (account.debtor_iban, account.debtor_bic):
        return
    change = DebtorIbanChange(account_id=account.id, old_iban=account.debtor_iban, new_iban=iban, new_bic=bic,
                              requested_by=actor, requested_at=utcnow(), status=PENDING)
    db.session.add(change)
    _apply(account, change, actor)
    db.session.flush()


def _apply(account: Account, change: DebtorIbanChange, actor: str) -> None:
    change.status, change.decided_by, change.decided_at = APPLIED, actor, utcnow()
    before = account.debtor_iban
    account.debtor_iban, account.debtor_bic = change.new_iban, change.new_bic
    bic = f" (BIC {change.new_bic})" if change.new_bic else ""
    if before is None:
        message = f"Compte bancaire débité renseigné : {mask_iban(change.new_iban)}{bic}."
    elif before == change.new_iban:
        message = f"BIC du compte bancaire débité ({mask_iban(before)}) changé{bic or ' : aucun'}."
    else:
        message = f"Compte bancaire débité changé : {mask_iban(before)} → {mask_iban(change.new_iban)}{bic}."
    if change.requested_by != actor:
        message += f" Demandé par {change.requested_by}, confirmé par {actor}."
    journal(account.id, "debtor_iban.changed", message, actor)
