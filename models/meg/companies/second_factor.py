"""A second factor for MEG's users (« Achats » administrators above all): a TOTP app and recovery codes.

Once a person enrolled, saving or deleting the company's Libeo key asks for a code (or a code verified in
the last five minutes, ``core.second_factor.FRESH_FOR``). A person who never enrolled keeps the
password-only flow. Guessing is stopped as in Libeo: after ``MAX_UNANSWERED`` refused codes in
``THROTTLE_WINDOW``, every code is refused (« Trop d'essais… ») until the window has passed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, func, select
from sqlalchemy.orm import Mapped, mapped_column

from core.dates import utcnow
from core.second_factor import (
    MAX_UNANSWERED,
    THROTTLE_WINDOW,
    WRONG_CODE,
    SecondFactorError,
    TooManyTries,
)
from core.second_factor_tables import SecondFactorTables
from models.meg.db import Model, db

from .models import User

# The authentication app and recovery codes (``core.second_factor_tables``), as Libeo keeps its own.
factors = SecondFactorTables(db, Model, __name__, prefix="meg_", user_table="user_account")
MegTotpFactor, MegRecoveryCode = factors.totp, factors.recovery


class MegSecondFactorRefusal(Model):
    """A code refused (wrong, replayed, or a spent recovery code): what the limit on guessing counts."""

    __tablename__ = "meg_second_factor_refusal"
    __table_args__ = (Index("ix_meg_second_factor_refusal_user", "user_id", "refused_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    refused_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def is_enrolled(user: User) -> bool:
    return factors.has_totp(user.id)


def recovery_codes_left(user: User) -> int:
    return factors.recovery_codes_left(user.id)


def start_totp(user: User, secret_key: str) -> str:
    return factors.start_totp(user.id, secret_key)


def pending_secret(user: User, secret_key: str) -> str | None:
    return factors.pending_secret(user.id, secret_key)


def confirm_totp(user: User, code: str, secret_key: str) -> list[str]:
    """The app's first code activates it; returns ten recovery codes, to be shown once."""
    factors.confirm_totp(user.id, code, secret_key)
    return replace_recovery_codes(user)


def replace_recovery_codes(user: User) -> list[str]:
    return factors.replace_recovery_codes(user.id)


def remove_totp(user: User) -> None:
    factors.forget_totp(user.id)
    factors.forget_recovery_codes(user.id)


def refused_lately(user: User, now: datetime | None = None) -> int:
    now = now or utcnow()
    return db.session.scalar(select(func.count(MegSecondFactorRefusal.id)).where(
        MegSecondFactorRefusal.user_id == user.id, MegSecondFactorRefusal.refused_at > now - THROTTLE_WINDOW)) or 0


def record_refusal(user: User, now: datetime | None = None) -> None:
    """Counts a refused code (the caller commits it, after rolling back what the code was for)."""
    db.session.add(MegSecondFactorRefusal(user_id=user.id, refused_at=now or utcnow()))
    db.session.flush()


def verify(user: User, code: str, secret_key: str, now: datetime | None = None) -> None:
    """A code of the app (not used before in its window) or an unused recovery code; raises otherwise —
    :class:`TooManyTries` without reading the code after ``MAX_UNANSWERED`` refusals in the window."""
    now = now or utcnow()
    if refused_lately(user, now) >= MAX_UNANSWERED:
        raise TooManyTries()
    text = (code or "").strip()
    totp = factors.totp_of(user.id)
    if totp is None or totp.confirmed_at is None:
        raise SecondFactorError(WRONG_CODE)
    if "".join(text.split()).isdigit():
        factors.check_totp(totp, text, secret_key, now)
    else:
        factors.use_recovery_code(user.id, text, now)
