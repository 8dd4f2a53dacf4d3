"""Use cases of accounts: sign-up, users within the plan, the accountant, the bank account.

Functions take plain values, check them, raise :class:`LibeoError` with a
French message and the field concerned, and never commit: the caller does.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.security import password_problem, verify_password
from core.validators import InvalidIdentifier, clean_text, normalize_bic, normalize_iban, normalize_siret

from . import db
from .entities import Account, LibeoUser, Plan
from .errors import Conflict, InvalidData, NotFound, PlanLimitReached

MAX_EMAIL_LENGTH = 254


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


def _text(value: str | None, *, field: str, label: str, max_length: int, required: bool = True) -> str:
    try:
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
) -> Account:
    """A new company account and its one user.

    ``password`` may be None for a user who will only sign in through MEG.
    A SIRET or e-mail already known is refused (code ``siret_taken`` /
    ``email_taken``): an existing account is never taken over.
    """
    name = _text(name, field="name", label="Nom de l'entreprise", max_length=200)
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
    return account


def _check_free(siret: str, email: str) -> None:
    if account_for_siret(siret) is not None:
        raise Conflict(
            "Un compte Libeo existe déjà pour ce SIRET : connectez-vous à ce compte.", "siret", code="siret_taken"
        )
    if db.session.scalar(select(LibeoUser.id).where(LibeoUser.email == email)) is not None:
        raise Conflict("Un compte Libeo utilise déjà cette adresse e-mail.", "email", code="email_taken")


def authenticate_user(email: str, password: str) -> LibeoUser | None:
    user = db.session.scalar(select(LibeoUser).where(LibeoUser.email == (email or "").strip().lower()))
    # Without a user, a decoy hash is checked: an unknown address costs what a wrong password costs.
    if not verify_password(user.password_hash if user else None, password or ""):
        return None
    return user


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count > 1 else ''}"


def invite_user(account: Account, email: str) -> LibeoUser:
    """Adds a user to the account, within what its plan includes."""
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
    user = LibeoUser(account=account, email=email)
    db.session.add(user)
    db.session.flush()
    return user


def add_accountant(account: Account, email: str) -> None:
    """Gives the company's expert-comptable access (the « Payer » button in MEG)."""
    if account.accountant_email:
        raise PlanLimitReached(
            f"Votre formule {account.plan.label} inclut {_plural(account.plan.accountant_limit, 'accès')} "
            f"expert-comptable, déjà attribué à {account.accountant_email} : retirez-le d'abord.",
            "email",
        )
    account.accountant_email = normalize_email(email)
    db.session.flush()


def remove_accountant(account: Account) -> str:
    if not account.accountant_email:
        raise NotFound("Aucun expert-comptable n'a accès à ce compte.")
    email = account.accountant_email
    account.accountant_email = None
    db.session.flush()
    return email


def set_bank_account(account: Account, iban: str, bic: str | None) -> None:
    """The company's own account, debited by the SEPA transfers Libeo prepares."""
    try:
        account.debtor_iban = normalize_iban(iban)
    except InvalidIdentifier as exc:
        raise InvalidData(str(exc), "iban") from exc
    try:
        account.debtor_bic = normalize_bic(bic)
    except InvalidIdentifier as exc:
        raise InvalidData(str(exc), "bic") from exc
    db.session.flush()


def set_plan(siret: str, plan: Plan) -> Account:
    account = account_for_siret(check_siret(siret))
    if account is None:
        raise NotFound("Aucun compte Libeo pour ce SIRET.", "siret")
    account.plan = plan
    db.session.flush()
    return account
