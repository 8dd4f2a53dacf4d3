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

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, bindparam, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from core.dates import utcnow
from core.journal import make_append_only
from core.listing import ListColumns, ListQuery, ListSpec, OwnedList, by_name, paris_day
from core.paging import Listing
from models.libeo.db import Model, db

# Who did it, when no person did.
SYSTEM = "Libeo"
MEG_API = "MEG (clé d'API)"
COMMAND_LINE = "Support Libeo (ligne de commande)"
STRIPE = "Stripe (abonnement)"


class JournalEntry(Model):
    __tablename__ = "journal_entry"
    __table_args__ = (
        Index("ix_journal_entry_account", "account_id", "id"),
        # « Journal »'s tabs (core/listing.py): the entries of some kinds.
        Index("ix_journal_entry_account_kind", "account_id", "kind", "id"),
    )

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
    entry = JournalEntry(**entry_values(account_id, kind, message, actor, payment_id))
    db.session.add(entry)
    return entry


def entry_values(account_id: int, kind: str, message: str, actor: str | None = None,
                 payment_id: int | None = None) -> dict:
    """An entry's row, as :func:`record` writes it (for :func:`record_all`)."""
    return {"account_id": account_id, "kind": kind, "message": message[:1000], "actor": (actor or SYSTEM)[:254],
            "payment_id": payment_id, "created_at": utcnow()}


def record_all(entries: list[dict]) -> None:
    """Appends several entries (``entry_values``) in one statement, in the caller's transaction."""
    if entries:
        db.session.execute(insert(JournalEntry).execution_options(render_nulls=True), entries)


# « Journal » as a list people work with: its tabs gather the kinds of entries (a kind not listed
# shows under « Tous » only).
JOURNAL_KINDS = {
    "paiements": ("payment.held", "payment.approved", "payment.refused", "payment.cancelled",
                  "payment.marked_debited", "payment.debit_day_booked", "batch.transmitted", "bank.anomaly",
                  "bank.anomaly_resolved", "bank.report_imported"),
    "iban": ("iban.first_seen", "iban.approved", "iban.rejected", "iban.forgotten", "invoice.iban_changed",
             "debtor_iban.requested", "debtor_iban.changed", "debtor_iban.cancelled"),
    "acces": ("key.issued", "key.revoked", "key.retired", "user.added", "accountant.added", "accountant.removed",
              "meg.linked", "meg.unlinked"),
    "compte": ("account.created", "account.verified", "siret.claimed", "siret.lost", "siret.review",
               "plan.changed", "plan.cancel_requested", "plan.resumed", "rules.changed"),
}
def kind_words(kind: str) -> str:
    """What an entry is about, in the words of « Journal »'s tabs (its export's « Type »)."""
    return _KIND_WORDS.get(kind, "Autre")


JOURNAL = ListSpec(
    sorts={"date": "Date", "par": "Par"},
    default_sort="-date",
    states={"paiements": "Paiements", "iban": "IBAN", "acces": "Accès et clés", "compte": "Compte et abonnement"},
    date_label="Date",
    amount=False,
    search_hint="Événement, facture, personne",
)
_KIND_WORDS = {kind: JOURNAL.states[tab] for tab, kinds in JOURNAL_KINDS.items() for kind in kinds}
_JOURNAL_COLUMNS = ListColumns(
    # Entries are only ever added: their ids are in the order of their dates.
    sorts={"date": (JournalEntry.id,), "par": by_name(JournalEntry.actor)},
    tiebreak=JournalEntry.id,
    text=(JournalEntry.message, JournalEntry.actor),
    state=JournalEntry.kind,
    date=paris_day(JournalEntry.created_at),
)


def _of_account(statement):
    return statement.where(JournalEntry.account_id == bindparam("account_id"))


_JOURNAL_LIST = OwnedList(_JOURNAL_COLUMNS, select(JournalEntry), owned=_of_account, owner="account_id",
                          states=JOURNAL_KINDS)


def journal_list(account_id: int, query: ListQuery | None = None) -> Listing:
    """The account's entries, newest first unless ``query`` (the page's URL) searches, filters or sorts
    them. The export reads the same statement in batches."""
    return _JOURNAL_LIST.listing(account_id, query or ListQuery(JOURNAL, sort="date", descending=True))


def journal_tab_counts(account_id: int, query: ListQuery) -> dict[str, int]:
    return _JOURNAL_LIST.tab_counts(db.session, account_id, query)
