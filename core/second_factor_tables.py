"""The TOTP app and recovery codes as both products store them: the same two tables in each product's
database (``<prefix>totp_factor``, ``<prefix>recovery_code``), and what both do with them, written once.

What a product adds around them stays its own: Libeo's passkeys, challenges and « Journal », MEG's count
of refused codes. The checks themselves (steps, sealing, hashes) are ``core.second_factor``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, delete, func, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from core.dates import utcnow
from core.db import rowcount
from core.second_factor import (
    REPLAYED_CODE,
    WRONG_CODE,
    WRONG_RECOVERY_CODE,
    SecondFactorError,
    new_recovery_codes,
    pending_secret,
    recovery_code_hash,
    start_secret,
    totp_step,
    unseal,
)

ALREADY_ACTIVE = "Une application d'authentification est déjà activée : retirez-la d'abord."
NOTHING_PENDING = "Aucune application d'authentification n'attend de confirmation : recommencez."


class NothingPending(SecondFactorError):
    """No authentication app waits for its first code (none started, or already confirmed)."""

    def __init__(self) -> None:
        super().__init__(NOTHING_PENDING)


class TotpFactorColumns:
    """A user's authentication app (TOTP); ``confirmed_at`` None while it waits for its first code."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int]  # the product's user (one app each)
    # Fernet-sealed (core.second_factor.seal): the product must compute codes with it.
    secret: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The last 30-second step whose code was accepted: a code of that step or an earlier one is refused.
    last_step: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCodeColumns:
    """One of the codes shown once at enrolment; only its hash is kept, and it serves once."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int]
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def _user_column(user_table: str, **options: Any):
    return mapped_column(ForeignKey(f"{user_table}.id", ondelete="CASCADE"), nullable=False, **options)


class SecondFactorTables:
    """A product's ``totp`` and ``recovery`` tables, on its declarative base ``model`` (declared in ``module``),
    their names and classes' names prefixed with ``prefix`` (« meg_ », « Meg »; Libeo's have none)."""

    def __init__(self, db: SQLAlchemy, model: type, module: str, *, prefix: str, user_table: str) -> None:
        self.db = db
        name = prefix.rstrip("_").title()
        totp_table, recovery_table = f"{prefix}totp_factor", f"{prefix}recovery_code"
        self.totp: type[TotpFactorColumns] = type(f"{name}TotpFactor", (TotpFactorColumns, model), {
            "__module__": module, "__tablename__": totp_table, "user_id": _user_column(user_table, unique=True),
        })
        self.recovery: type[RecoveryCodeColumns] = type(f"{name}RecoveryCode", (RecoveryCodeColumns, model), {
            "__module__": module, "__tablename__": recovery_table,
            "__table_args__": (Index(f"ix_{recovery_table}_user", "user_id", "code_hash"),),
            "user_id": _user_column(user_table),
        })

    # --- the app ---------------------------------------------------------------------------------

    def totp_of(self, user_id: int) -> TotpFactorColumns | None:
        return self.db.session.scalar(select(self.totp).where(self.totp.user_id == user_id))

    def has_totp(self, user_id: int) -> bool:
        totp = self.totp_of(user_id)
        return totp is not None and totp.confirmed_at is not None

    def start_totp(self, user_id: int, secret_key: str) -> str:
        """A new secret for the app, kept unconfirmed until a first code proves the app has it."""
        totp = self.totp_of(user_id)
        if totp is not None and totp.confirmed_at is not None:
            raise SecondFactorError(ALREADY_ACTIVE)
        if totp is None:
            totp = self.totp()
            totp.user_id = user_id
            self.db.session.add(totp)
        secret = start_secret(totp, secret_key)
        self.db.session.flush()
        return secret

    def pending_secret(self, user_id: int, secret_key: str) -> str | None:
        return pending_secret(self.totp_of(user_id), secret_key)

    def confirm_totp(self, user_id: int, code: str, secret_key: str) -> None:
        """The app's first code activates it (:class:`NothingPending` when no app waits for one)."""
        totp = self.totp_of(user_id)
        if totp is None or totp.confirmed_at is not None:
            raise NothingPending()
        totp.last_step = totp_step(unseal(totp.secret, secret_key), code, None)
        totp.confirmed_at = utcnow()
        self.db.session.flush()

    def check_totp(self, totp: TotpFactorColumns | None, code: str, secret_key: str, now: datetime) -> None:
        """A code of the confirmed app ``totp`` (the user's), not used before in its window; raises otherwise."""
        if totp is None or totp.confirmed_at is None:
            raise SecondFactorError(WRONG_CODE)
        step = totp_step(unseal(totp.secret, secret_key), code, totp.last_step, now.timestamp())
        # One conditional UPDATE: two requests carrying the same code cannot both pass.
        taken = self.db.session.execute(update(self.totp)
                                        .where(self.totp.id == totp.id,
                                               or_(self.totp.last_step.is_(None), self.totp.last_step < step))
                                        .values(last_step=step))
        if rowcount(taken) != 1:
            raise SecondFactorError(REPLAYED_CODE)

    # --- recovery codes --------------------------------------------------------------------------

    def recovery_codes_left(self, user_id: int) -> int:
        return self.db.session.scalar(select(func.count(self.recovery.id)).where(
            self.recovery.user_id == user_id, self.recovery.used_at.is_(None))) or 0

    def replace_recovery_codes(self, user_id: int) -> list[str]:
        """Ten new codes, shown once: the earlier ones stop working."""
        codes = new_recovery_codes()
        self.forget_recovery_codes(user_id)
        for code in codes:
            row = self.recovery()
            row.user_id, row.code_hash = user_id, recovery_code_hash(code)
            self.db.session.add(row)
        self.db.session.flush()
        return codes

    def use_recovery_code(self, user_id: int, code: str, now: datetime) -> None:
        """Spends an unused recovery code of the user; raises when there is none such."""
        used = self.db.session.execute(update(self.recovery)
                                       .where(self.recovery.user_id == user_id,
                                              self.recovery.code_hash == recovery_code_hash(code),
                                              self.recovery.used_at.is_(None))
                                       .values(used_at=now))
        if rowcount(used) != 1:
            raise SecondFactorError(WRONG_RECOVERY_CODE if code.strip() else WRONG_CODE)

    def forget_recovery_codes(self, user_id: int) -> None:
        self.db.session.execute(delete(self.recovery).where(self.recovery.user_id == user_id))

    def forget_totp(self, user_id: int) -> None:
        self.db.session.execute(delete(self.totp).where(self.totp.user_id == user_id))
