"""Libeo's « Journal »: the account's sensitive events, append-only.

Keys issued and revoked, users and the accountant added or removed, a
supplier's IBAN seen for the first time or approved, payments held,
approved, refused and cancelled, plan changes, rules changed, the SIRET
verified or lost. Each use case that does one of these writes its entry in
its own transaction, so an entry exists exactly when the change does.

Rows are only ever added (``core.journal``): no code path updates or
deletes them, the ORM and the database refuse it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, mapped_column

from core.dates import utcnow
from core.journal import make_append_only
from models.libeo.db import Model, db

# Who did it, when no person did.
SYSTEM = "Libeo"
MEG_API = "MEG (clé d'API)"
COMMAND_LINE = "Support Libeo (ligne de commande)"
STRIPE = "Stripe (abonnement)"


class JournalEntry(Model):
    __tablename__ = "journal_entry"
    __table_args__ = (Index("ix_journal_entry_account", "account_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # No cascade: an account's journal outlives nothing it could be deleted with.
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # An e-mail, or one of the names above.
    actor: Mapped[str] = mapped_column(String(254))
    # A stable code (« payment.held », « key.issued »…) and the sentence a person reads.
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(String(1000))
    payment_id: Mapped[int | None] = mapped_column(BigInteger)


make_append_only(JournalEntry)


def record(account_id: int, kind: str, message: str, actor: str | None = None,
           payment_id: int | None = None) -> JournalEntry:
    """Appends an entry to the account's journal, in the caller's transaction."""
    entry = JournalEntry(account_id=account_id, kind=kind, message=message[:1000],
                         actor=(actor or SYSTEM)[:254], payment_id=payment_id, created_at=utcnow())
    db.session.add(entry)
    return entry


def journal_query(account_id: int):
    """The account's entries, newest first (the « Journal » page, paginated)."""
    return select(JournalEntry).where(JournalEntry.account_id == account_id).order_by(JournalEntry.id.desc())
