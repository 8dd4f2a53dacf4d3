"""MEG's journal of a company's sensitive changes: supplier IBANs and the Libeo connection.

Who, when, what: a supplier's IBAN entered or changed (old → new, masked),
the connection to Libeo established, its key replaced, the connection
removed, and a revoked key as MEG first saw it. Read by the company's
Achats administrators (« Options » → « Journal »).

Each use case writes its entry in the transaction that makes the change.
Rows are only ever added (``core.journal``): no code path updates or
deletes them, the ORM and the database refuse it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, mapped_column

from core.banks import bank_name
from core.dates import utcnow
from core.journal import make_append_only
from core.validators import mask_iban
from models.meg.achats.models import Supplier
from models.meg.companies.models import Company, User
from models.meg.db import Model, db

SYNC = "MEG (synchronisation avec Libeo)"
LIBEO_SIGN_IN = "Libeo (« Me connecter avec MEG »)"


class MegJournalEntry(Model):
    __tablename__ = "meg_journal_entry"
    __table_args__ = (Index("ix_meg_journal_entry_company", "company_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # No cascade: the journal outlives nothing it could be deleted with.
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Who: the user (kept as text too, so the entry still says who once the user is gone).
    user_id: Mapped[int | None] = mapped_column()
    actor: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(String(1000))


make_append_only(MegJournalEntry)


def _who(user: User | None, fallback: str) -> str:
    return f"{user.full_name} ({user.email})" if user is not None else fallback


def record(company: Company, kind: str, message: str, user: User | None = None, fallback: str = SYNC) -> None:
    db.session.add(MegJournalEntry(company_id=company.id, created_at=utcnow(), user_id=user.id if user else None,
                                   actor=_who(user, fallback)[:300], kind=kind, message=message[:1000]))


def iban_shown(iban: str | None) -> str:
    """« FR76 •••• … 345 (BNP PARIBAS) »: masked, with its bank."""
    bank = bank_name(iban)
    return f"{mask_iban(iban)} ({bank})" if bank else mask_iban(iban)


def supplier_iban_entered(supplier: Supplier, user: User | None) -> None:
    iban = f"avec l'IBAN {iban_shown(supplier.iban)}" if supplier.iban else "sans IBAN (prélèvement)"
    record(supplier.company, "supplier.created", f"Fournisseur « {supplier.name} » créé {iban}.", user)


def supplier_iban_changed(supplier: Supplier, old_iban: str, user: User | None) -> None:
    record(supplier.company, "supplier.iban_changed",
           f"IBAN du fournisseur « {supplier.name} » modifié : {iban_shown(old_iban)} → {iban_shown(supplier.iban)}.",
           user)


def journal_query(company: Company):
    """The company's entries, newest first."""
    return (select(MegJournalEntry).where(MegJournalEntry.company_id == company.id)
            .order_by(MegJournalEntry.id.desc()))
