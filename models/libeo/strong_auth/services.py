"""Strong authentication in Libeo: enrolling a TOTP app, passkeys and recovery codes, and the verification
that approving a held payment, changing the debit IBAN, the approval rules, the users or the API keys asks.

Who is asked: a person who enrolled a factor, and everyone of an account that requires it (« Exiger la
double authentification pour tous »). A demo user who enrolled nothing keeps the password-only flow.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update

from core.dates import utcnow
from core.db import rowcount
from core.second_factor import (
    EXPIRED,
    FRESH_FOR,
    MAX_UNANSWERED,
    PASSKEY_REFUSED,
    THROTTLE_WINDOW,
    TOO_MANY,
    NewPasskey,
    RelyingParty,
    SecondFactorError,
    assertion_credential_id,
    new_webauthn_challenge,
    verify_assertion,
)
from core.second_factor_tables import NothingPending
from core.validators import mask_iban
from models.libeo.accounts.models import Account, LibeoUser
from models.libeo.db import db
from models.libeo.errors import LibeoError
from models.libeo.journal import record as journal

from .models import Passkey, StrongAuthChallenge, factors

MUST_ENROL = ("Votre compte Libeo exige la double authentification : ajoutez une clé d'accès ou une application "
              "d'authentification dans « Sécurité » avant cette opération.")
CHANGED = ("L'opération a changé depuis la demande de vérification (montant, IBAN ou bénéficiaire) : rien n'a "
           "été fait. Relisez-la ci-dessous et confirmez de nouveau.")
UNKNOWN_CHALLENGE = "Cette vérification n'est plus valable (déjà utilisée, ou pour une autre opération) : recommencez."
# TOO_MANY, MAX_UNANSWERED, THROTTLE_WINDOW: core.second_factor (MEG refuses guessing the same way).
NO_FACTOR_GIVEN = "Saisissez un code, ou utilisez votre clé d'accès, pour confirmer."


class StrongAuthRefused(LibeoError):
    code = "strong_auth_refused"


class Purpose(enum.Enum):
    """What a verification confirms, in the words of the page that asks it."""

    APPROVE = "approve"
    DEBIT_IBAN = "debit_iban"
    APPROVAL_RULES = "approval_rules"
    USERS = "users"
    API_KEYS = "api_keys"
    SECURITY = "security"

    @property
    def label(self) -> str:
        return {
            Purpose.APPROVE: "Approuver le paiement",
            Purpose.DEBIT_IBAN: "Changer le compte bancaire débité",
            Purpose.APPROVAL_RULES: "Modifier les règles d'approbation",
            Purpose.USERS: "Modifier les utilisateurs",
            Purpose.API_KEYS: "Créer ou révoquer une clé d'API",
            Purpose.SECURITY: "Modifier la double authentification",
        }[self]


@dataclass(frozen=True)
class Operation:
    """What the person confirms: the lines shown, and the facts the challenge is bound to."""

    purpose: Purpose
    lines: tuple[str, ...]
    facts: tuple[str, ...]

    @property
    def binding(self) -> str:
        text = "\n".join((self.purpose.value, *self.facts))
        return hashlib.sha256(text.encode()).hexdigest()


def approval_operation(payments: Iterable) -> Operation:
    """Approving held payments: bound to each one's amount and payee IBAN (dynamic linking)."""
    payments = sorted(payments, key=lambda p: p.id)
    lines = tuple(f"Facture {p.invoice.number} — {p.creditor_name} — {p.amount_display} — IBAN "
                  f"{mask_iban(p.creditor_iban)}" for p in payments)
    facts = tuple(f"{p.id}:{p.amount_cents}:{p.currency}:{p.creditor_iban}:{p.creditor_name}" for p in payments)
    return Operation(Purpose.APPROVE, lines, facts)


def simple_operation(purpose: Purpose, *lines: str) -> Operation:
    return Operation(purpose, tuple(lines), tuple(lines))


# ---- who is asked -----------------------------------------------------------------------------------

def passkeys_of(user: LibeoUser) -> list[Passkey]:
    return list(db.session.scalars(select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.id)))


def recovery_codes_left(user: LibeoUser) -> int:
    return factors.recovery_codes_left(user.id)


def has_totp(user: LibeoUser) -> bool:
    return factors.has_totp(user.id)


def is_enrolled(user: LibeoUser) -> bool:
    return has_totp(user) or bool(passkeys_of(user))


def is_asked(user: LibeoUser) -> bool:
    """Whether sensitive operations ask this person for a second factor."""
    return user.account.require_strong_auth or is_enrolled(user)


def is_fresh(verified_at: datetime | None, now: datetime | None = None) -> bool:
    return verified_at is not None and (now or utcnow()) - verified_at <= FRESH_FOR


# ---- enrolment --------------------------------------------------------------------------------------

def start_totp(user: LibeoUser, secret_key: str) -> str:
    """A new secret for the app, kept unconfirmed until a first code proves the app has it."""
    try:
        return factors.start_totp(user.id, secret_key)
    except SecondFactorError as error:
        raise StrongAuthRefused(error.message) from error


def pending_totp_secret(user: LibeoUser, secret_key: str) -> str | None:
    return factors.pending_secret(user.id, secret_key)


def confirm_totp(user: LibeoUser, code: str, secret_key: str) -> list[str] | None:
    """The app's first code activates it; returns the recovery codes when it is the first factor."""
    first = not is_enrolled(user)
    try:
        factors.confirm_totp(user.id, code, secret_key)
    except NothingPending as error:
        raise StrongAuthRefused(error.message) from error
    except SecondFactorError as error:
        raise StrongAuthRefused(error.message, "code") from error
    journal(user.account_id, "strong_auth.totp", f"Application d'authentification activée par {user.email}.",
            user.email)
    return replace_recovery_codes(user, journaled=False) if first else None


def remove_totp(user: LibeoUser) -> None:
    totp = factors.totp_of(user.id)
    if totp is None:
        return
    db.session.delete(totp)
    db.session.flush()
    _after_removal(user, f"Application d'authentification retirée par {user.email}.")


def add_passkey(user: LibeoUser, new: NewPasskey, name: str) -> list[str] | None:
    """Keeps a passkey just registered; returns the recovery codes when it is the first factor."""
    first = not is_enrolled(user)
    if db.session.scalar(select(Passkey.id).where(Passkey.credential_id == new.credential_id)) is not None:
        raise StrongAuthRefused("Cette clé d'accès est déjà enregistrée.")
    name = (name or "").strip()[:100] or f"Clé d'accès {len(passkeys_of(user)) + 1}"
    db.session.add(Passkey(user_id=user.id, credential_id=new.credential_id, public_key=new.public_key,
                           sign_count=new.sign_count, name=name, created_at=utcnow()))
    db.session.flush()
    journal(user.account_id, "strong_auth.passkey", f"Clé d'accès « {name} » ajoutée par {user.email}.", user.email)
    return replace_recovery_codes(user, journaled=False) if first else None


def remove_passkey(user: LibeoUser, passkey_id: int) -> None:
    passkey = db.session.scalar(select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user.id))
    if passkey is None:
        raise StrongAuthRefused("Cette clé d'accès n'existe pas.")
    name = passkey.name
    db.session.delete(passkey)
    db.session.flush()
    _after_removal(user, f"Clé d'accès « {name} » retirée par {user.email}.")


def _after_removal(user: LibeoUser, message: str) -> None:
    if not is_enrolled(user):
        factors.forget_recovery_codes(user.id)
    journal(user.account_id, "strong_auth.removed", message, user.email)


def replace_recovery_codes(user: LibeoUser, *, journaled: bool = True) -> list[str]:
    """Ten new codes, shown once: the earlier ones stop working."""
    if not is_enrolled(user):
        raise StrongAuthRefused("Activez d'abord une application d'authentification ou une clé d'accès.")
    codes = factors.replace_recovery_codes(user.id)
    if journaled:
        journal(user.account_id, "strong_auth.recovery", f"Nouveaux codes de secours pour {user.email}.",
                user.email)
    return codes


def set_requirement(account: Account, required: bool, actor: LibeoUser) -> bool:
    """« Exiger la double authentification pour tous »; False when nothing changed."""
    if required == account.require_strong_auth:
        return False
    if required and not is_enrolled(actor):
        raise StrongAuthRefused("Activez d'abord votre propre double authentification : sans elle, vous ne "
                                "pourriez plus faire les opérations sensibles.")
    account.require_strong_auth = required
    db.session.flush()
    journal(account.id, "strong_auth.policy",
            "Double authentification exigée pour tous." if required
            else "Double authentification laissée au choix de chacun.", actor.email)
    return True


def reset_factors(user: LibeoUser, actor: str) -> None:
    """Support, after checking the person's identity: every factor removed, so that they enrol again."""
    factors.forget_totp(user.id)
    db.session.execute(delete(Passkey).where(Passkey.user_id == user.id))
    factors.forget_recovery_codes(user.id)
    user.end_sessions()
    journal(user.account_id, "strong_auth.reset",
            f"Double authentification de {user.email} réinitialisée par le support.", actor)


# ---- verification -----------------------------------------------------------------------------------

def open_challenge(user: LibeoUser, operation: Operation) -> StrongAuthChallenge:
    challenge = StrongAuthChallenge(token=secrets.token_urlsafe(32), user_id=user.id,
                                    purpose=operation.purpose.value, binding=operation.binding,
                                    webauthn_challenge=new_webauthn_challenge(), created_at=utcnow())
    db.session.add(challenge)
    db.session.flush()
    return challenge


def find_challenge(user: LibeoUser, token: str | None) -> StrongAuthChallenge | None:
    if not token:
        return None
    return db.session.scalar(select(StrongAuthChallenge).where(
        StrongAuthChallenge.token == token[:64], StrongAuthChallenge.user_id == user.id))


@dataclass(frozen=True)
class Answer:
    """What the person gave: one of a TOTP code, a recovery code, a passkey assertion (JSON)."""

    code: str = ""
    recovery_code: str = ""
    assertion: str = ""


def answer_challenge(user: LibeoUser, token: str | None, operation: Operation, answer: Answer, *,
                     rp: RelyingParty, secret_key: str, now: datetime | None = None) -> str:
    """Checks the answer to the challenge ``token`` for ``operation`` and uses the challenge up; returns how
    it was answered (« totp », « passkey », « recovery »). Refused, in French: a challenge of another
    operation, or of this one since changed (amount, IBAN…), one older than five minutes or already used,
    a wrong code, a code already used in its 30-second window, an assertion that does not verify."""
    now = now or utcnow()
    if _unanswered(user, now) > MAX_UNANSWERED:
        raise StrongAuthRefused(TOO_MANY, code="strong_auth_throttled")
    challenge = find_challenge(user, token)
    if challenge is None or challenge.used_at is not None or challenge.purpose != operation.purpose.value:
        raise StrongAuthRefused(UNKNOWN_CHALLENGE)
    if challenge.binding != operation.binding:
        raise StrongAuthRefused(CHANGED, code="strong_auth_changed")
    if now - aware(challenge.created_at) > FRESH_FOR:
        raise StrongAuthRefused(EXPIRED, code="strong_auth_expired")
    try:
        method = _check_factor(user, challenge, answer, rp, secret_key, now)
    except SecondFactorError as error:
        raise StrongAuthRefused(error.message, "code") from error
    used = db.session.execute(update(StrongAuthChallenge)
                              .where(StrongAuthChallenge.id == challenge.id, StrongAuthChallenge.used_at.is_(None))
                              .values(used_at=now, method=method))
    if rowcount(used) != 1:
        raise StrongAuthRefused(UNKNOWN_CHALLENGE)
    return method


def _unanswered(user: LibeoUser, now: datetime) -> int:
    """Verifications opened lately and never answered right: each refused answer opens one more."""
    return db.session.scalar(select(func.count(StrongAuthChallenge.id)).where(
        StrongAuthChallenge.user_id == user.id, StrongAuthChallenge.used_at.is_(None),
        StrongAuthChallenge.created_at > now - THROTTLE_WINDOW)) or 0


def aware(moment: datetime) -> datetime:
    # SQLite hands timezone-aware columns back naive (UTC).
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _check_factor(user: LibeoUser, challenge: StrongAuthChallenge, answer: Answer, rp: RelyingParty,
                  secret_key: str, now: datetime) -> str:
    if answer.assertion:
        return _check_passkey(user, challenge, answer.assertion, rp, now)
    if answer.code.strip():
        factors.check_totp(factors.totp_of(user.id), answer.code, secret_key, now)
        return "totp"
    if answer.recovery_code.strip():
        factors.use_recovery_code(user.id, answer.recovery_code, now)
        journal(user.account_id, "strong_auth.recovery_used", f"Code de secours utilisé par {user.email}.",
                user.email)
        return "recovery"
    raise SecondFactorError(NO_FACTOR_GIVEN)


def _check_passkey(user: LibeoUser, challenge: StrongAuthChallenge, assertion: str, rp: RelyingParty,
                   now: datetime) -> str:
    credential_id = assertion_credential_id(assertion)
    passkey = db.session.scalar(select(Passkey).where(Passkey.credential_id == credential_id,
                                                      Passkey.user_id == user.id))
    if passkey is None:
        raise SecondFactorError(PASSKEY_REFUSED)
    passkey.sign_count = verify_assertion(rp, assertion, challenge.webauthn_challenge, passkey.public_key,
                                          passkey.sign_count)
    passkey.last_used_at = now
    return "passkey"


def forget_old_challenges(older_than: timedelta = timedelta(days=1)) -> int:
    done = db.session.execute(delete(StrongAuthChallenge)
                              .where(StrongAuthChallenge.created_at < utcnow() - older_than))
    return rowcount(done) or 0
