"""The second factors of Libeo's users, and the challenges that bind a verification to one operation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from core.dates import utcnow
from core.second_factor_tables import SecondFactorTables
from models.libeo.db import Model, db

# The authentication app and recovery codes (``core.second_factor_tables``), as MEG keeps its own.
factors = SecondFactorTables(db, Model, __name__, prefix="", user_table="libeo_user")
TotpFactor, RecoveryCode = factors.totp, factors.recovery


class Passkey(Model):
    __tablename__ = "passkey"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("libeo_user.id", ondelete="CASCADE"),
                                         index=True)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)  # base64url
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StrongAuthChallenge(Model):
    """A verification asked for one operation: ``binding`` digests what it does (for an approval, each
    payment's amount and payee IBAN), so a verification cannot serve another operation, nor this one once
    changed. Single use, valid five minutes."""

    __tablename__ = "strong_auth_challenge"
    __table_args__ = (Index("ix_strong_auth_challenge_user", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("libeo_user.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(40))
    binding: Mapped[str] = mapped_column(String(64))
    webauthn_challenge: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # « totp », « passkey » or « recovery »: how it was answered.
    method: Mapped[str | None] = mapped_column(String(20))
