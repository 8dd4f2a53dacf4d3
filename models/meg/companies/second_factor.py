"""A second factor for MEG's users (« Achats » administrators above all): a TOTP app and recovery codes.

Once a person enrolled, saving or deleting the company's Libeo key asks for a code (or a code verified in
the last five minutes, ``core.second_factor.FRESH_FOR``). A person who never enrolled keeps the
password-only flow. Guessing is stopped as in Libeo: after ``MAX_UNANSWERED`` refused codes in
``THROTTLE_WINDOW``, every code is refused (« Trop d'essais… ») until the window has passed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, delete, func, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from core.dates import utcnow
from core.db import rowcount
from core.second_factor import (
    MAX_UNANSWERED,
    REPLAYED_CODE,
    THROTTLE_WINDOW,
    WRONG_CODE,
    WRONG_RECOVERY_CODE,
    SecondFactorError,
    TooManyTries,
    new_recovery_codes,
    recovery_code_hash,
    start_secret,
    totp_step,
    unseal,
)
from core.second_factor import (
    pending_secret as pending_totp_secret,
)
from models.meg.db import Model, db

from .models import User


class MegTotpFactor(Model):
    __tablename__ = "meg_totp_factor"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), unique=True)
    secret: Mapped[str] = mapped_column(String(255))  # Fernet-sealed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_step: Mapped[int | None] = mapped_column(BigInteger)


class MegRecoveryCode(Model):
    __tablename__ = "meg_recovery_code"
    __table_args__ = (Index("ix_meg_recovery_code_user", "user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MegSecondFactorRefusal(Model):
    """A code refused (wrong, replayed, or a spent recovery code): what the limit on guessing counts."""

    __tablename__ = "meg_second_factor_refusal"
    __table_args__ = (Index("ix_meg_second_factor_refusal_user", "user_id", "refused_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    refused_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def totp_of(user: User) -> MegTotpFactor | None:
    return db.session.scalar(select(MegTotpFactor).where(MegTotpFactor.user_id == user.id))


def is_enrolled(user: User) -> bool:
    totp = totp_of(user)
    return totp is not None and totp.confirmed_at is not None


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(select(func.count(MegRecoveryCode.id)).where(
        MegRecoveryCode.user_id == user.id, MegRecoveryCode.used_at.is_(None))) or 0


def start_totp(user: User, secret_key: str) -> str:
    if is_enrolled(user):
        raise SecondFactorError("Une application d'authentification est déjà activée : retirez-la d'abord.")
    totp = totp_of(user)
    if totp is None:
        totp = MegTotpFactor(user_id=user.id)
        db.session.add(totp)
    secret = start_secret(totp, secret_key)
    db.session.flush()
    return secret


def pending_secret(user: User, secret_key: str) -> str | None:
    return pending_totp_secret(totp_of(user), secret_key)


def confirm_totp(user: User, code: str, secret_key: str) -> list[str]:
    """The app's first code activates it; returns ten recovery codes, to be shown once."""
    totp = totp_of(user)
    if totp is None or totp.confirmed_at is not None:
        raise SecondFactorError("Aucune application d'authentification n'attend de confirmation : recommencez.")
    totp.last_step = totp_step(unseal(totp.secret, secret_key), code, None)
    totp.confirmed_at = utcnow()
    return replace_recovery_codes(user)


def replace_recovery_codes(user: User) -> list[str]:
    codes = new_recovery_codes()
    db.session.execute(delete(MegRecoveryCode).where(MegRecoveryCode.user_id == user.id))
    db.session.add_all(MegRecoveryCode(user_id=user.id, code_hash=recovery_code_hash(code)) for code in codes)
    db.session.flush()
    return codes


def remove_totp(user: User) -> None:
    db.session.execute(delete(MegTotpFactor).where(MegTotpFactor.user_id == user.id))
    db.session.execute(delete(MegRecoveryCode).where(MegRecoveryCode.user_id == user.id))


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
    totp = totp_of(user)
    if totp is None or totp.confirmed_at is None:
        raise SecondFactorError(WRONG_CODE)
    if "".join(text.split()).isdigit():
        step = totp_step(unseal(totp.secret, secret_key), text, totp.last_step, now.timestamp())
        taken = db.session.execute(update(MegTotpFactor)
                                   .where(MegTotpFactor.id == totp.id,
                                          or_(MegTotpFactor.last_step.is_(None), MegTotpFactor.last_step < step))
                                   .values(last_step=step))
        if rowcount(taken) != 1:
            raise SecondFactorError(REPLAYED_CODE)
        return
    used = db.session.execute(update(MegRecoveryCode)
                              .where(MegRecoveryCode.user_id == user.id,
                                     MegRecoveryCode.code_hash == recovery_code_hash(text),
                                     MegRecoveryCode.used_at.is_(None))
                              .values(used_at=now))
    if rowcount(used) != 1:
        raise SecondFactorError(WRONG_RECOVERY_CODE if text else WRONG_CODE)
