"""« Paiements » and « Remises » as lists people work with: what their URLs may ask (core/listing.py),
the statements that answer, one per shape, and the exports' rows."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from core.listing import ListColumns, ListQuery, ListSpec, OwnedList, by_name
from core.paging import Listing
from models.libeo.accounts.models import Account
from models.libeo.db import db
from models.libeo.invoices.models import Invoice
from models.libeo.payments.models import Channel, InitiatorRole, Payment, PaymentStatus, SepaBatch
from models.libeo.payments.sepa import FAILED, PREPARING, SENT

PAYMENT_STATES = {
    "a_approuver": (PaymentStatus.AWAITING_APPROVAL,),
    "programmes": (PaymentStatus.SCHEDULED,),
    # In a file ready but not yet transmitted: nothing has left (« Fichier prêt — à transmettre à votre banque »);
    # « À la banque » once the bank has the file.
    "a_transmettre": (PaymentStatus.FILE_READY,),
    "a_la_banque": (PaymentStatus.TRANSMITTED, PaymentStatus.ACCEPTED),
    "payes": (PaymentStatus.PAID,),
    "rejetes": (PaymentStatus.FAILED,),
    "annules": (PaymentStatus.CANCELLED,),
}
PAYMENTS = ListSpec(
    sorts={"creation": "Date de la demande", "execution": "Exécution", "montant": "Montant",
           "fournisseur": "Fournisseur", "facture": "Facture", "statut": "Statut"},
    default_sort="-creation",
    states={"a_approuver": "À approuver", "programmes": "Programmés", "a_transmettre": "À transmettre",
            "a_la_banque": "À la banque",
            "payes": "Débités", "rejetes": "Rejetés", "annules": "Annulés"},
    date_label="Date d'exécution",
    search_hint="Facture, fournisseur, montant",
    supplier=True,
)
_PAYMENT_COLUMNS = ListColumns(
    sorts={"creation": (Payment.created_at,), "execution": (Payment.execution_date,),
           "montant": (Payment.amount_cents,), "fournisseur": by_name(Payment.creditor_name),
           "facture": (Invoice.number,), "statut": (Payment.status,)},
    tiebreak=Payment.id,
    text=(Invoice.number, Payment.creditor_name),
    supplier=Payment.creditor_name,
    amount=Payment.amount_cents,
    state=Payment.status,
    date=Payment.execution_date,
)


def _payments_of_account(statement):
    return statement.join(Payment.invoice).where(Payment.account_id == bindparam("account_id"))


_PAYMENT_LIST = OwnedList(
    _PAYMENT_COLUMNS, select(Payment).options(contains_eager(Payment.invoice), joinedload(Payment.batch)),
    owned=_payments_of_account, owner="account_id", states=PAYMENT_STATES)


def payment_list(account: Account, query: ListQuery | None = None) -> Listing:
    """The account's payments, latest asked first unless ``query`` (its URL) searches, filters or sorts
    them; each with its invoice and its batch. The export reads the same statement in batches."""
    return _PAYMENT_LIST.listing(account.id, query or ListQuery(PAYMENTS, sort="creation", descending=True))


class _Numbered(NamedTuple):
    number: str


class _Referenced(NamedTuple):
    reference: str


class PaymentLine(NamedTuple):
    """A row of « Paiements » as plain columns: what the payments' table and the status label read of a
    ``Payment`` (its ``invoice.number``, its ``batch.reference``), no ORM object built for each row."""

    id: int
    invoice_id: int
    status: PaymentStatus
    amount_cents: int
    currency: str
    execution_date: date
    planned_execution_date: date | None
    creditor_name: str
    creditor_iban: str
    initiated_by_email: str
    initiated_by_role: InitiatorRole
    channel: Channel
    batch_id: int | None
    hold_reasons: list | None
    transmitted_at: datetime | None
    accepted_at: datetime | None
    bank_status: str | None
    paid_on: date | None
    paid_at: datetime | None
    failure_reason: str | None
    cancel_reason: str | None
    invoice: _Numbered
    batch: _Referenced | None


_PAYMENT, _BATCH = Payment.__table__, SepaBatch.__table__
_LINE_COLUMNS = tuple(_PAYMENT.c[name] for name in PaymentLine._fields[:-2])
_PAYMENT_LINES = OwnedList(
    _PAYMENT_COLUMNS,
    select(*_LINE_COLUMNS, Invoice.__table__.c.number, _BATCH.c.reference)
    .select_from(_PAYMENT.outerjoin(_BATCH, _BATCH.c.id == _PAYMENT.c.batch_id)),
    owned=_payments_of_account, owner="account_id", states=PAYMENT_STATES)


def payment_lines(account: Account, query: ListQuery) -> Listing:
    """« Paiements » as the page's plain columns (read with ``paginate(…, plain=True)``, then
    :func:`as_payment_lines`)."""
    return _PAYMENT_LINES.listing(account.id, query)


def as_payment_lines(rows) -> list[PaymentLine]:
    width = len(_LINE_COLUMNS)
    return [PaymentLine._make((*row[:width], _Numbered(row[width]),
                               None if row[width + 1] is None else _Referenced(row[width + 1]))) for row in rows]


def payment_tab_counts(account: Account, query: ListQuery) -> dict[str, int]:
    return _PAYMENT_LIST.tab_counts(db.session, account.id, query)


# « À approuver »: the held payments, oldest asked first (the same columns as « Paiements », one state).
AWAITING = ListSpec(
    sorts={"creation": "Demandé le", "execution": "Exécution", "montant": "Montant", "fournisseur": "Fournisseur",
           "facture": "Facture"},
    default_sort="creation",
    date_label="Date d'exécution",
    search_hint=PAYMENTS.search_hint,
    supplier=True,
)


def _awaiting_of_account(statement):
    return _payments_of_account(statement).where(Payment.status == PaymentStatus.AWAITING_APPROVAL)


@cache
def _awaiting_statement(shape: tuple):
    # Each payment's approvals too (« 1 approbation sur 2 », who approved): one statement per page.
    base = select(Payment).options(contains_eager(Payment.invoice), selectinload(Payment.approvals))
    return _PAYMENT_COLUMNS.apply(_awaiting_of_account(base), shape)


def awaiting_list(account: Account, query: ListQuery | None = None) -> Listing:
    """The account's payments held for approval, oldest asked first unless ``query`` says otherwise."""
    query = query or ListQuery(AWAITING, sort="creation")
    return Listing(_awaiting_statement(query.shape()), {"account_id": account.id, **query.values()})


# « Remises »: a batch's own status says whether its file exists; what its payments became is read
# per page (``status_counts``).
BATCH_STATES = {"envoyees": (SENT,), "echouees": (FAILED,)}
BATCHES = ListSpec(
    sorts={"creation": "Créée le", "execution": "Exécution", "montant": "Montant", "virements": "Virements",
           "reference": "Référence"},
    default_sort="-creation",
    states={"envoyees": "Fichier créé", "echouees": "Fichier non créé"},
    date_label="Date d'exécution",
    search_hint="Référence ou montant",
)
_BATCH_COLUMNS = ListColumns(
    sorts={"creation": (SepaBatch.created_at,), "execution": (SepaBatch.execution_date,),
           "montant": (SepaBatch.total_cents,), "virements": (SepaBatch.payment_count,),
           "reference": (SepaBatch.reference,)},
    tiebreak=SepaBatch.id,
    text=(SepaBatch.reference,),
    amount=SepaBatch.total_cents,
    state=SepaBatch.status,
    date=SepaBatch.execution_date,
)


def _batches_of_account(statement):
    return statement.where(SepaBatch.account_id == bindparam("account_id"), SepaBatch.status != PREPARING)


@cache
def _batches_statement(shape: tuple):
    return _BATCH_COLUMNS.apply(_batches_of_account(select(SepaBatch)), shape)


def batch_list(account: Account, query: ListQuery | None = None) -> Listing:
    """The account's SEPA files, latest first unless ``query`` searches, filters or sorts them."""
    query = query or ListQuery(BATCHES, sort="creation", descending=True)
    return Listing(_batches_statement(query.shape()),
                   {"account_id": account.id, **query.values(state_values=BATCH_STATES)})
