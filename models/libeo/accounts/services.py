"""Use cases of accounts: sign-up, users within the plan, the accountant, the bank account.

Functions take plain values, check them, raise :class:`LibeoError` with a
French message and the field concerned, and never commit: the caller does.
"""

from __future__ import annotations

from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from core.dates import utcnow
from core.money import format_amount
from core.security import password_problem, verify_password
from core.validators import (
    InvalidIdentifier,
    clean_bank_name,
    clean_text,
    format_siret,
    normalize_siret,
)
from models.libeo.accounts.debtor_iban import apply_debtor_iban
from models.libeo.accounts.models import Account, ApiKey, LibeoUser, Plan
from models.libeo.db import db
from models.libeo.errors import (
    Conflict,
    InvalidData,
    LibeoError,
    NotFound,
    PlanLimitReached,
    checked_iban_and_bic,
)
from models.libeo.journal import COMMAND_LINE, JournalEntry
from models.libeo.journal import record as journal
from models.libeo.notifications.events import siret_claimed as tell_siret_claimed

MAX_EMAIL_LENGTH = 254


@lru_cache(maxsize=4096)  # every payment checks its initiator's address: the same few, again and again
def normalize_email(value: str | None, field: str = "email") -> str:
    """Lower-cased address, checked for its shape (not for its deliverability)."""
    raw = (value or "").strip()
    if not raw:
        raise InvalidData("Saisissez une adresse e-mail.", field)
    if len(raw) > MAX_EMAIL_LENGTH:
        raise InvalidData(f"L'adresse e-mail ne doit pas dépasser {MAX_EMAIL_LENGTH} caractères.", field)
    try:
        checked = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidData("Cette adresse e-mail n'est pas valide.", field) from exc
    return checked.normalized.lower()


def _text(value: str | None, *, field: str, label: str, max_length: int, required: bool = True,
          bank_name: bool = False) -> str:
    try:
        if bank_name:  # the debtor's name in every SEPA file of the account
            return clean_bank_name(value, max_length=max_length, label=label)
        return clean_text(value, max_length=max_length, label=label, required=required)
    except InvalidIdentifier as exc:
        raise InvalidData(str(exc), field) from exc


def check_siret(value: str | None) -> str:
    try:
        return normalize_siret(value or "")
    except InvalidIdentifier as exc:
        raise InvalidData(str(exc), "siret") from exc


def account_for_siret(siret: str) -> Account | None:
    return db.session.scalar(select(Account).where(Account.siret == siret))


def create_account(
    name: str,
    siret: str,
    email: str,
    password: str | None,
    full_name: str = "",
    plan: Plan = Plan.GRATUIT,
    debtor_iban: str | None = None,
) -> Account:
    """A new company account and its one user.

    ``password`` may be None for a user who will only sign in through MEG.
    ``debtor_iban`` (checked, compact): the company's account to debit, journaled; None to give it later.
    A SIRET or e-mail already known is refused (code ``siret_taken`` /
    ``email_taken``): an existing account is never taken over.
    """
    name = _text(name, field="name", label="Nom de l'entreprise", max_length=200, bank_name=True)
    siret = check_siret(siret)
    email = normalize_email(email)
    full_name = _text(full_name, field="full_name", label="Votre nom", max_length=200, required=False)
    if password is not None:
        problem = password_problem(password)
        if problem:
            raise InvalidData(problem, "password")
    _check_free(siret, email)
    account = Account(name=name, siret=siret, plan=plan)
    user = LibeoUser(account=account, email=email, full_name=full_name)
    if password is not None:
        user.set_password(password)
    db.session.add_all([account, user])
    try:
        db.session.flush()
    except IntegrityError:
        # Someone signed up with the same SIRET or e-mail at the same instant:
        # this attempt is abandoned and says why.
        db.session.rollback()
        _check_free(siret, email)
        raise
    journal(account.id, "account.created",
            f"Compte créé pour {name} (SIRET {format_siret(siret)}), formule {plan.label}, par {email}.", email)
    if debtor_iban:
        apply_debtor_iban(account, debtor_iban, None, email)
    return account


EMAIL_TAKEN = "Un compte Libeo utilise déjà cette adresse e-mail."


def _siret_taken(siret: str) -> str | None:
    holder = account_for_siret(siret)
    if holder is None:
        return None
    message = "Un compte Libeo existe déjà pour ce SIRET : connectez-vous à ce compte."
    if not holder.is_verified:
        message += (" S'il n'est pas celui de votre entreprise, un administrateur « Achats » de l'entreprise "
                    "dans MEG peut récupérer le SIRET avec « Me connecter avec MEG ».")
    return message


def _email_taken(email: str) -> bool:
    return db.session.scalar(select(LibeoUser.id).where(LibeoUser.email == email)) is not None


def _check_free(siret: str, email: str) -> None:
    message = _siret_taken(siret)
    if message:
        raise Conflict(message, "siret", code="siret_taken")
    if _email_taken(email):
        raise Conflict(EMAIL_TAKEN, "email", code="email_taken")


def signup_problems(*, name: str | None, siret: str | None, email: str | None, password: str | None,
                    full_name: str | None = "") -> dict[str, str]:
    """Every reason :func:`create_account` would refuse these, by field, so that a sign-up form
    shows them all at once rather than one per attempt. ``siret`` None: not asked (MEG's, say)."""
    problems: dict[str, str] = {}

    def attempt(check):
        try:
            return check()
        except LibeoError as error:
            problems.setdefault(error.field or "", error.message)
            return None

    attempt(lambda: _text(name, field="name", label="Nom de l'entreprise", max_length=200, bank_name=True))
    attempt(lambda: _text(full_name, field="full_name", label="Votre nom", max_length=200, required=False))
    checked_siret = attempt(lambda: check_siret(siret)) if siret is not None else None
    checked_email = attempt(lambda: normalize_email(email))
    password_refused = password_problem(password or "")
    if password_refused:
        problems["password"] = password_refused
    if checked_siret and (taken := _siret_taken(checked_siret)):
        problems["siret"] = taken
    if checked_email and _email_taken(checked_email):
        problems["email"] = EMAIL_TAKEN
    return problems


def authenticate_user(email: str, password: str) -> LibeoUser | None:
    user = db.session.scalar(select(LibeoUser).where(LibeoUser.email == (email or "").strip().lower()))
    # Without a user, a decoy hash is checked: an unknown address costs what a wrong password costs.
    if not verify_password(user.password_hash if user else None, password or ""):
        return None
    return user


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count > 1 else ''}"


def invite_user(account: Account, email: str, actor: str | None = None) -> LibeoUser:
    """Adds a user (not an administrator) to the account, within what its plan includes."""
    limit = account.plan.user_limit
    users = db.session.scalar(select(func.count(LibeoUser.id)).where(LibeoUser.account_id == account.id)) or 0
    if users >= limit:
        raise PlanLimitReached(
            f"Votre formule {account.plan.label} inclut {_plural(limit, 'utilisateur')} : "
            "vous ne pouvez pas en inviter un autre.",
            "email",
        )
    email = normalize_email(email)
    if db.session.scalar(select(LibeoUser.id).where(LibeoUser.email == email)) is not None:
        raise Conflict("Un compte Libeo utilise déjà cette adresse e-mail.", "email", code="email_taken")
    user = LibeoUser(account=account, email=email, is_admin=False)
    db.session.add(user)
    db.session.flush()
    journal(account.id, "user.added", f"Utilisateur ajouté : {email} ({user.role_label.lower()}).", actor)
    return user


def add_accountant(account: Account, email: str, actor: str | None = None) -> None:
    """Gives the company's expert-comptable access (the « Payer » button in MEG)."""
    if account.accountant_email:
        raise PlanLimitReached(
            f"Votre formule {account.plan.label} inclut {_plural(account.plan.accountant_limit, 'accès')} "
            f"expert-comptable, déjà attribué à {account.accountant_email} : retirez-le d'abord.",
            "email",
        )
    account.accountant_email = normalize_email(email)
    db.session.flush()
    journal(account.id, "accountant.added", f"Expert-comptable ajouté : {account.accountant_email}.", actor)


def remove_accountant(account: Account, actor: str | None = None) -> str:
    if not account.accountant_email:
        raise NotFound("Aucun expert-comptable n'a accès à ce compte.")
    email = account.accountant_email
    account.accountant_email = None
    db.session.flush()
    journal(account.id, "accountant.removed", f"Expert-comptable retiré : {email}.", actor)
    return email


def set_bank_account(account: Account, iban: str, bic: str | None, actor: str = COMMAND_LINE) -> None:
    """Sets the account debited by its SEPA files at once, journaled (support, seeding). A person changes it
    through « Configuration », where approval rules ask a second administrator (``debtor_iban``)."""
    new_iban, new_bic = checked_iban_and_bic(iban, bic)
    apply_debtor_iban(account, new_iban, new_bic, actor)


def set_plan(siret: str, plan: Plan) -> Account:
    account = account_for_siret(check_siret(siret))
    if account is None:
        raise NotFound("Aucun compte Libeo pour ce SIRET.", "siret")
    record_plan_change(account, plan, COMMAND_LINE)
    db.session.flush()
    return account


def record_plan_change(account: Account, plan: Plan, actor: str) -> None:
    """Sets the account's plan; a change goes in the « Journal »."""
    if account.plan is not plan:
        journal(account.id, "plan.changed", f"Formule changée : {account.plan.label} → {plan.label}.", actor)
    account.plan = plan


# --- approval rules (« Configuration » → « Approbations ») -----------------------------------------


def set_approval_rules(account: Account, threshold_cents: int | None, accountant_payments: bool, actor: str, *,
                       approver_not_requester: bool | None = None, dual_approval_above_cents: int | None = None,
                       accountant_may_approve: bool | None = None) -> str | None:
    """« Au-delà de … € » (None: no threshold), « paiements de l'expert-comptable », and separation of duties
    (the requester never approves; two approvers above an amount, None: one; whether the expert-comptable
    approves); journaled. A rule left None keeps its value, except ``dual_approval_above_cents`` when the
    others are given (the form sends them all).

    Returns a French warning when two approvals are asked for and fewer than two people may approve.
    """
    if threshold_cents is not None and threshold_cents < 0:
        raise InvalidData("Le montant doit être positif ou nul.", "threshold")
    if dual_approval_above_cents is not None and dual_approval_above_cents < 0:
        raise InvalidData("Le montant doit être positif ou nul.", "dual_threshold")
    if approver_not_requester is None:
        approver_not_requester = account.approver_not_requester
        dual_approval_above_cents = account.dual_approval_above_cents
    if accountant_may_approve is None:
        accountant_may_approve = account.accountant_may_approve
    changes = []
    if threshold_cents != account.approval_threshold_cents:
        changes.append(
            f"au-delà de {format_amount(threshold_cents)}, un paiement doit être approuvé"
            if threshold_cents is not None
            else "plus de montant au-delà duquel approuver"
        )
    if accountant_payments != account.approve_accountant_payments:
        changes.append("les paiements initiés par l'expert-comptable doivent être approuvés" if accountant_payments
                       else "les paiements de l'expert-comptable n'ont plus à être approuvés")
    if approver_not_requester != account.approver_not_requester:
        changes.append("la personne qui a demandé un paiement ne peut pas l'approuver" if approver_not_requester
                       else "la personne qui a demandé un paiement peut l'approuver")
    if dual_approval_above_cents != account.dual_approval_above_cents:
        changes.append(
            f"au-delà de {format_amount(dual_approval_above_cents)}, deux approbateurs sont nécessaires"
            if dual_approval_above_cents is not None
            else "plus de montant au-delà duquel deux approbateurs sont nécessaires"
        )
    if accountant_may_approve != account.accountant_may_approve:
        changes.append("l'expert-comptable peut approuver les paiements" if accountant_may_approve
                       else "l'expert-comptable ne peut pas approuver les paiements")
    account.approval_threshold_cents = threshold_cents
    account.approve_accountant_payments = accountant_payments
    account.approver_not_requester = approver_not_requester
    account.dual_approval_above_cents = dual_approval_above_cents
    account.accountant_may_approve = accountant_may_approve
    db.session.flush()
    if changes:
        journal(account.id, "rules.changed", "Règles d'approbation : " + " ; ".join(changes) + ".", actor)
    if dual_approval_above_cents is not None and _possible_approvers(account) < 2:
        return (f"Au-delà de {format_amount(dual_approval_above_cents)}, un paiement attendra deux approbateurs, "
                "mais une seule personne peut approuver sur ce compte : un tel paiement restera « À approuver » tant "
                "qu'une deuxième n'y a pas accès (un autre administrateur, ou l'expert-comptable s'il peut approuver).")
    return None


def _possible_approvers(account: Account) -> int:
    users = db.session.scalars(select(LibeoUser).where(LibeoUser.account_id == account.id)).all()
    return sum(1 for user in users if user.can_approve and not (
        account.is_accountant(user.email) and not account.accountant_may_approve))


# --- who owns the SIRET (« vérifié ») ---------------------------------------------------------------


def verify_account(account: Account, verified_by: str, actor: str | None) -> bool:
    """Marks the account « vérifié » (its SEPA files may be executed); False if it already was."""
    if account.siret is None:
        raise Conflict(
            f"Le compte « {account.name} » n'a plus de SIRET (SIRET à confirmer) : il ne peut pas être vérifié.",
            code="siret_lost",
        )
    if account.verified_at is not None:
        return False
    account.verified_at = utcnow()
    account.verified_by = verified_by[:254]
    db.session.flush()
    journal(account.id, "account.verified",
            f"Compte vérifié pour le SIRET {format_siret(account.siret)} : {verified_by}.", actor)
    return True


def verify_by_support(siret: str) -> tuple[Account, bool]:
    """``flask libeo verify-account --siret …``: support checked the company's papers."""
    account = account_for_siret(check_siret(siret))
    if account is None:
        raise NotFound("Aucun compte Libeo n'a ce SIRET.", "siret")
    return account, verify_account(account, "vérifié par le support de Libeo", COMMAND_LINE)


def has_activity(account: Account) -> bool:
    """Whether someone has used the account (an invoice or a payment): then it is nobody's to take."""
    tables = db.metadata.tables
    return any(db.session.scalar(select(table.c.id).where(table.c.account_id == account.id).limit(1)) is not None
               for table in (tables["invoice"], tables["payment"]))


SIRET_REVIEW = (
    "Un compte Libeo non vérifié, qui a déjà servi (factures ou paiements), utilise ce SIRET : il ne lui est pas "
    "retiré sans examen. Le support de Libeo examine la demande et vous recontacte ; d'ici là, aucun virement de ce "
    "compte ne part (il n'est pas vérifié). Si c'est le compte de votre entreprise, connectez-vous-y pour le relier "
    "à MEG."
)


def take_siret_back(siret: str, claimant: str, *, by_support: bool = False) -> Account | None:
    """Frees ``siret`` from the unverified account holding it, for the company's verified claimant.

    The other account keeps its data « SIRET à confirmer »: its SIRET is
    set aside, its MEG keys are revoked (they spoke for that SIRET), and its
    « Journal » says why. A verified holder is never dispossessed (Conflict);
    nor is one that has been used (invoices, payments) unless support decides
    it (``libeo review-siret``): MEG's word may rest on the public registry
    alone, and a victim's account must not lose its SIRET and key on it
    (Conflict ``siret_review``; its payments already wait, being unverified).
    Returns the dispossessed account, or None when nobody held the SIRET.
    """
    holder = account_for_siret(siret)
    if holder is None:
        return None
    if holder.is_verified:
        raise Conflict(
            "Un compte Libeo vérifié existe déjà pour ce SIRET : connectez-vous à ce compte pour le relier à MEG.",
            "siret", code="siret_taken",
        )
    if not by_support and has_activity(holder):
        raise Conflict(SIRET_REVIEW, "siret", code="siret_review", holder_id=holder.id)
    now = utcnow()
    holder.lost_siret, holder.siret, holder.siret_lost_at = siret, None, now
    db.session.execute(
        update(ApiKey).where(ApiKey.account_id == holder.id, ApiKey.revoked_at.is_(None)).values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    journal(holder.id, "siret.lost",
            f"SIRET {format_siret(siret)} confirmé par un autre compte Libeo ({claimant}) : ce compte le perd et "
            "passe en « SIRET à confirmer ». Ses données restent accessibles ; sa clé d'API MEG est révoquée et "
            "ses virements ne sont plus exécutés. Si cette entreprise est la vôtre, contactez le support de Libeo.",
            COMMAND_LINE if by_support else None)
    tell_siret_claimed(holder, format_siret(siret), claimant, lost=True, moment=now.isoformat())
    return holder


def siret_claimed(holder_id: int, siret: str, claimant: str, actor: str | None) -> None:
    """A verified claim met an account that has been used: written in its « Journal » for support's review."""
    journal(holder_id, "siret.review",
            f"SIRET {format_siret(siret)} revendiqué par {claimant} : ce compte le garde, avec sa clé, jusqu'à "
            "l'examen du support de Libeo (flask libeo review-siret). Si cette entreprise est la vôtre, contactez "
            "le support de Libeo avec ses justificatifs.", actor)
    holder = db.session.get_one(Account, holder_id)
    tell_siret_claimed(holder, format_siret(siret), claimant, lost=False, moment=siret)  # once per SIRET claimed


def pending_siret_reviews() -> list[tuple[Account, str]]:
    """Accounts still holding, unverified, a SIRET someone vouched for claimed: (account, latest claim)."""
    rows = db.session.execute(
        select(Account, JournalEntry.message).join(JournalEntry, JournalEntry.account_id == Account.id)
        .where(JournalEntry.kind == "siret.review", Account.siret.is_not(None), Account.verified_at.is_(None))
        .order_by(Account.id, JournalEntry.id.desc())
    ).all()
    latest: dict[int, tuple[Account, str]] = {}
    for account, message in rows:
        latest.setdefault(account.id, (account, message))
    return list(latest.values())

