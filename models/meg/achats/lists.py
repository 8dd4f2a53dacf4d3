"""« Factures », « Fournisseurs » and the expert-comptable's « Factures des clients » as lists people
work with: what their URLs may ask (core/listing.py), the statements that answer, one per shape, and
the exports' rows. (« Règlements »' own are beside its use cases, in ``invoices``.)"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import NamedTuple

from sqlalchemy import Select, bindparam, case, func, select
from sqlalchemy.orm import contains_eager

from core.dates import as_utc, paris_today
from core.listing import ListColumns, ListQuery, ListSpec, OwnedList, by_name, searches_text, tab_counts
from core.paging import Listing
from core.payment_words import FILE_READY_LABEL, cancelled_label, rejection_label
from models.meg.achats.invoices import (
    SETTLEMENT_MODES,
    SETTLEMENTS,
    PayableCandidate,
    SettlementInvoice,
    SettlementSupplier,
)
from models.meg.achats.models import PaymentMode, Supplier, SupplierInvoice
from models.meg.companies.models import Company, User
from models.meg.db import db
from models.meg.libeo_link.attempts import (
    TO_SETTLE_STATES,
    LibeoState,
    latest_cancel_reason,
    latest_failure_reason,
    latest_payment_dates,
    latest_payment_status,
    latest_payments,
    sent_to_libeo,
    settled_through_libeo,
)
from models.meg.libeo_link.selection import MAX_SELECTION

# --- « Factures » -----------------------------------------------------------------------------------

# The state of an invoice, as every list shows it: stored on the invoice (``settlement_state``, kept by
# ``libeo_link.attempts.refresh_invoice_states``), read through an index.
INVOICE_STATE = SupplierInvoice.settlement_state
INVOICE_STATES = {"a_regler": ("a_regler",), "programmees": ("programmees",), "payees": ("payees",),
                  "rejetees": ("rejetees",)}
# A row's state in an export, as its tab says it; a payment under way said as its row says it (``state_word``).
INVOICE_STATE_WORDS = {"a_regler": "À régler", "programmees": "En cours", "payees": "Payée", "rejetees": "Rejetée"}
# The latest payment's status (its name) of an invoice « En cours », in the words of its row (without dates).
UNDER_WAY_WORDS = {
    "REQUESTED": "Vérification en cours", "UNVERIFIABLE": "Vérification impossible",
    "AWAITING_APPROVAL": "À approuver dans Libeo", "SCHEDULED": "Programmé", "IN_PROGRESS": "Programmé",
    "FILE_READY": FILE_READY_LABEL, "TRANSMITTED": "Transmis à la banque", "ACCEPTED": "Accepté par la banque",
    "UNKNOWN": "En cours dans Libeo",
}


# The latest payment's statuses whose execution date is the transfer's (not a cancelled or refused one's).
_DATED = frozenset({"AWAITING_APPROVAL", "SCHEDULED", "IN_PROGRESS", "FILE_READY", "TRANSMITTED", "ACCEPTED",
                    "PAID"})


def payment_dates(row) -> tuple[date | None, date | None]:
    """An export row's « Date d'exécution » (the transfer's, while it is under way or once debited) and « Payée
    le » (the bank's debit date; for an invoice paid another way, the day it was marked paid, in Paris)."""
    execution = row.execution_date if row.payment_status in _DATED else None
    if row.payment_status == "PAID" and row.paid_on is not None:
        return execution, row.paid_on
    paid = paris_today(as_utc(row.paid_at)) if row.state == "payees" and row.paid_at is not None else None
    return execution, paid


def state_word(row) -> str:
    """A row's « État » in an export or in « Factures des clients » (its ``state``, ``payment_status``,
    ``failure_reason``, ``cancel_reason`` and ``payment_mode``): its tab's word, or, for a payment under way,
    where it stands (« À approuver dans Libeo » is not « Programmé »), for a rejected transfer, the bank's reason
    as the invoice's page says it (« Rejeté : compte du bénéficiaire clôturé (AC04) »), and for a payment an
    administrator of Libeo refused at its approval, as its row says it while it is still to pay through Libeo
    (« Annulé — approbation refusée : RIB non confirmé »)."""
    if row.state == "programmees" and row.payment_status in UNDER_WAY_WORDS:
        return UNDER_WAY_WORDS[row.payment_status]
    if row.state == "rejetees" and row.payment_status == "FAILED":
        return rejection_label(row.failure_reason)
    if (row.state == "a_regler" and row.payment_status == "CANCELLED" and row.cancel_reason
            and row.payment_mode is PaymentMode.LIBEO):
        return cancelled_label(row.cancel_reason)
    return INVOICE_STATE_WORDS[row.state]

INVOICES = ListSpec(
    sorts={"date": "Date", "echeance": "Échéance", "montant": "Montant TTC", "fournisseur": "Fournisseur",
           "numero": "Numéro", "etat": "État"},
    default_sort="-date",
    states={"a_regler": "À régler", "programmees": "En cours", "payees": "Payées", "rejetees": "Rejetées"},
    modes=SETTLEMENTS.modes,
    date_label="Échéance",
    overdue=True,
    search_hint=SETTLEMENTS.search_hint,
    supplier=True,
)
_INVOICE_COLUMNS = ListColumns(
    sorts={"date": (SupplierInvoice.issue_date,), "echeance": (SupplierInvoice.due_date,),
           "montant": (SupplierInvoice.amount_cents,), "fournisseur": by_name(Supplier.name),
           "numero": (SupplierInvoice.number,), "etat": (INVOICE_STATE,)},
    tiebreak=SupplierInvoice.id,
    text=(SupplierInvoice.number, Supplier.name),
    digits=(Supplier.siret,),
    supplier=Supplier.name,
    amount=SupplierInvoice.amount_cents,
    state=INVOICE_STATE,
    mode=SupplierInvoice.payment_mode,
    date=SupplierInvoice.due_date,
)


def _of_company(statement):
    return statement.join(SupplierInvoice.supplier).where(SupplierInvoice.company_id == bindparam("company_id"))


def _of_company_alone(statement):
    # The company's invoices without their suppliers: what the tabs count when nothing is searched.
    return statement.where(SupplierInvoice.company_id == bindparam("company_id"))


_INVOICE_LIST = OwnedList(
    _INVOICE_COLUMNS, select(SupplierInvoice).options(contains_eager(SupplierInvoice.supplier)), owned=_of_company,
    owner="company_id", states=INVOICE_STATES, modes=SETTLEMENT_MODES, counted=_of_company_alone)


_INVOICE, _SUPPLIER = SupplierInvoice.__table__.c, Supplier.__table__.c


def _rows_of_company(statement):
    joined = SupplierInvoice.__table__.join(Supplier.__table__, _SUPPLIER.id == _INVOICE.supplier_id)
    return statement.select_from(joined).where(_INVOICE.company_id == bindparam("company_id"))


# The page's columns only, as « Règlements » reads them (``SettlementInvoice``): plain rows, no ORM object
# built for each (``listed_invoices``).
_INVOICE_ROWS = OwnedList(
    _INVOICE_COLUMNS,
    select(_INVOICE.id, _INVOICE.number, _INVOICE.due_date, _INVOICE.amount_cents, _INVOICE.currency,
           _INVOICE.payment_mode, _INVOICE.paid_at, _SUPPLIER.name, _SUPPLIER.iban, _INVOICE.total_cents,
           _INVOICE.issue_date, sent_to_libeo(_INVOICE.id)),
    owned=_rows_of_company, owner="company_id", states=INVOICE_STATES, modes=SETTLEMENT_MODES)


@cache
def _invoices_export_statement(shape: tuple):
    base = select(SupplierInvoice.id, SupplierInvoice.number, Supplier.name, Supplier.siret, Supplier.iban,
                  SupplierInvoice.issue_date, SupplierInvoice.due_date, SupplierInvoice.amount_cents,
                  SupplierInvoice.currency, SupplierInvoice.payment_mode, INVOICE_STATE.label("state"),
                  latest_payment_status(), latest_failure_reason(), latest_cancel_reason(), *latest_payment_dates(),
                  SupplierInvoice.paid_at)
    return _INVOICE_COLUMNS.apply(_of_company(base), shape)


def _payable(columns, owned, shape: tuple):
    # What « Payer » may take among the filter's rows, as far as SQL tells (``LibeoState.row`` decides):
    # through Libeo, nothing paid nor under way.
    base = select(*columns).where(SupplierInvoice.payment_mode == PaymentMode.LIBEO,
                                  INVOICE_STATE.in_(TO_SETTLE_STATES))
    return _INVOICE_COLUMNS.apply(owned(base), shape)


@cache
def _payable_statement(shape: tuple):
    # What ``PayableCandidate`` holds, plain columns, and whether the invoice was ever sent to Libeo (the
    # others need no payment read).
    return _payable((SupplierInvoice.id, SupplierInvoice.amount_cents, sent_to_libeo(SupplierInvoice.id),
                     Supplier.name, Supplier.iban), _of_company, shape)


def invoice_list(company: Company, query: ListQuery | None = None) -> Listing:
    """« Factures »: the company's invoices, latest issued first unless ``query`` (its URL) searches,
    filters or sorts them; each with its supplier."""
    return _INVOICE_LIST.listing(company.id, query or ListQuery(INVOICES, sort="date", descending=True))


def invoice_rows(company: Company, query: ListQuery) -> Listing:
    """The rows of :func:`invoice_list` as plain columns, for the page (``paginate(…, plain=True)``, then
    :func:`listed_invoices`)."""
    return _INVOICE_ROWS.listing(company.id, query)


def listed_invoices(rows) -> list[SettlementInvoice]:
    """The rows of :func:`invoice_rows` (a page of them) as ``SettlementInvoice``, with their issue date."""
    return [SettlementInvoice._make((*row[:7], SettlementSupplier(row[7], row[8]), row[9], row[10], row[11]))
            for row in rows]


def invoice_counts(company: Company, query: ListQuery) -> tuple[Select, dict]:
    """How many invoices each state tab holds under the query's other filters: the statement of
    ``(state, count)`` rows (built once per shape of the filters) and its values, read with « Cette
    semaine » (``week.week_and_tab_counts``)."""
    return _INVOICE_LIST.counts_statement(query.shape()), _INVOICE_LIST.values(company.id, query)


def invoice_export(company: Company, query: ListQuery) -> Listing:
    """The same rows as plain columns, for « Exporter » (with each one's state key, ``state``)."""
    return Listing(_invoices_export_statement(query.shape()), _INVOICE_LIST.values(company.id, query))


class FilterSelection(NamedTuple):
    """« Sélectionner les N factures du filtre »: how many of the filter's invoices « Payer » would take (its
    first ``MAX_SELECTION`` candidates), and whether the filter holds more candidates."""

    offered: int
    more: bool


def _may_select(query: ListQuery, libeo: LibeoState) -> bool:
    return query.is_filtered and libeo.may_pay and libeo.connection is not None


def _payable_sent(libeo: LibeoState, sent: dict[int, PayableCandidate]) -> set[int]:
    # An invoice never sent to Libeo has no payment: « Payer » takes it (« Virement par Libeo », unpaid, and
    # ``may_pay``), as ``LibeoState.row`` would say. It decides on the others, with their payments (one
    # statement; none when none was sent) and the page's connection and refusal.
    if not sent:
        return set()
    state = LibeoState(libeo.company, libeo.connection, libeo.refusal, latest_payments(list(sent)))
    return {invoice_id for invoice_id, candidate in sent.items() if state.row(candidate)[1] == "pay"}


@cache
def _payable_summary_statement(shape: tuple):
    # The button's words without reading the rows: how many candidates up to one more than a selection
    # holds, and how many of them were sent to Libeo before (``LibeoState.row`` decides on those). The
    # suppliers are joined only when searched or sorted by: otherwise the stored state, mode, due date and
    # amount are read from one index.
    owned = _of_company if searches_text(shape) or shape[9] == "fournisseur" else _of_company_alone
    first = _payable((sent_to_libeo(SupplierInvoice.id),), owned, shape).limit(MAX_SELECTION + 1).subquery()
    return select(func.count(), func.sum(case((first.c.attempted, 1), else_=0)))


def filter_selection(company: Company, query: ListQuery, libeo: LibeoState) -> FilterSelection | None:
    """What « Sélectionner les N factures du filtre » offers on the filtered « Factures », None when it
    offers nothing: one aggregate when none of its invoices was ever sent to Libeo; otherwise the invoices
    and their payments, as :func:`filter_selection_ids` reads them when the button is used."""
    if not _may_select(query, libeo):
        return None
    found, sent = db.session.connection().execute(_payable_summary_statement(query.shape()),
                                                  _INVOICE_LIST.values(company.id, query)).one()
    count = len(filter_selection_ids(company, query, libeo)[0]) if sent else min(found, MAX_SELECTION)
    return FilterSelection(count, found > MAX_SELECTION) if count else None


def filter_selection_ids(company: Company, query: ListQuery, libeo: LibeoState) -> tuple[list[int], int]:
    """The invoices « Sélectionner les N factures du filtre » selects, in the list's order, and their total:
    those :func:`filter_selection` counts."""
    if not _may_select(query, libeo):
        return [], 0
    rows = db.session.connection().execute(_payable_statement(query.shape()).limit(MAX_SELECTION),
                                           _INVOICE_LIST.values(company.id, query)).all()
    sent = {row.id: PayableCandidate(row.id, row.amount_cents, SettlementSupplier(row.name, row.iban))
            for row in rows if row.attempted}
    taken = _payable_sent(libeo, sent)
    payable = [(row.id, row.amount_cents) for row in rows if not row.attempted or row.id in taken]
    return [invoice_id for invoice_id, _ in payable], sum(cents for _, cents in payable)


# --- « Fournisseurs » --------------------------------------------------------------------------------

SUPPLIER_STATE = case((Supplier.iban == "", "sans_iban"), else_="avec_iban")
SUPPLIER_STATES = {"avec_iban": ("avec_iban",), "sans_iban": ("sans_iban",)}
SUPPLIERS = ListSpec(
    sorts={"nom": "Nom", "siret": "SIRET"},
    default_sort="nom",
    states={"avec_iban": "Avec IBAN", "sans_iban": "Sans IBAN (prélèvement)"},
    amount=False,
    search_hint="Nom ou SIRET",
)
_SUPPLIER_COLUMNS = ListColumns(
    # No SIRET sorts first on both databases (PostgreSQL would put NULL last).
    sorts={"nom": by_name(Supplier.name), "siret": (func.coalesce(Supplier.siret, ""),)},
    tiebreak=Supplier.id,
    text=(Supplier.name,),
    digits=(Supplier.siret,),
    state=SUPPLIER_STATE,
)


def _suppliers_of_company(statement):
    return statement.where(Supplier.company_id == bindparam("company_id"))


_SUPPLIER_LIST = OwnedList(_SUPPLIER_COLUMNS, select(Supplier), owned=_suppliers_of_company, owner="company_id",
                           states=SUPPLIER_STATES)


def supplier_list(company: Company, query: ListQuery | None = None) -> Listing:
    """« Fournisseurs »: the company's suppliers by name unless ``query`` searches, filters or sorts them.
    The export reads the same statement in batches."""
    return _SUPPLIER_LIST.listing(company.id, query or ListQuery(SUPPLIERS, sort="nom"))


def supplier_tab_counts(company: Company, query: ListQuery) -> dict[str, int]:
    return _SUPPLIER_LIST.tab_counts(db.session, company.id, query)


# --- « Factures des clients »: the expert-comptable's invoices to settle, across the firm's clients -----

CLIENT_SORTS = {"entreprise": "Entreprise", **SETTLEMENTS.sorts}
_CLIENT_COLUMNS = ListColumns(
    sorts={"entreprise": by_name(Company.name), "echeance": (SupplierInvoice.due_date,),
           "montant": (SupplierInvoice.amount_cents,), "fournisseur": by_name(Supplier.name),
           "numero": (SupplierInvoice.number,)},
    tiebreak=SupplierInvoice.id,
    text=(SupplierInvoice.number, Supplier.name, Company.name),
    supplier=Supplier.name,
    digits=(Supplier.siret,),
    amount=SupplierInvoice.amount_cents,
    state=SupplierInvoice.company_id,
    mode=SupplierInvoice.payment_mode,
    date=SupplierInvoice.due_date,
)


def client_companies(user: User) -> list[Company]:
    """The companies of the expert-comptable's firm, by name (none for anyone else)."""
    if user.accounting_firm_id is None:
        return []
    return list(db.session.scalars(select(Company).where(Company.accounting_firm_id == user.accounting_firm_id)
                                   .order_by(Company.name, Company.id)))


def clients_spec(companies: list[Company]) -> ListSpec:
    """The list's URL: its tabs are the firm's companies (« etat » is a company's id)."""
    return ListSpec(sorts=CLIENT_SORTS, default_sort="echeance",
                    states={str(company.id): company.name for company in companies}, modes=SETTLEMENTS.modes,
                    date_label="Échéance", overdue=True, supplier=True,
                    search_hint="Entreprise, fournisseur, n°, montant")


def _of_firm(statement):
    # The firm's companies only, whatever the URL asks: a tab narrows them, never widens them. What is
    # to settle, as « Règlements » lists it: nothing settled in MEG nor paid through Libeo.
    return (statement.select_from(SupplierInvoice).join(SupplierInvoice.supplier)
            .join(Company, Company.id == SupplierInvoice.company_id)
            .where(Company.accounting_firm_id == bindparam("firm_id"), SupplierInvoice.paid_at.is_(None),
                   ~settled_through_libeo()))


@cache
def _clients_statement(shape: tuple):
    # Plain columns: the page and the export read the same rows.
    base = select(SupplierInvoice.id, SupplierInvoice.company_id, Company.name.label("company"),
                  SupplierInvoice.number, Supplier.name, Supplier.siret, Supplier.iban, SupplierInvoice.issue_date,
                  SupplierInvoice.due_date, SupplierInvoice.amount_cents, SupplierInvoice.currency,
                  SupplierInvoice.payment_mode, INVOICE_STATE.label("state"), latest_payment_status(),
                  latest_failure_reason(), latest_cancel_reason())
    return _CLIENT_COLUMNS.apply(_of_firm(base), shape)


@cache
def _client_counts_statement(shape: tuple):
    return _CLIENT_COLUMNS.count_by_state(_of_firm(select(SupplierInvoice.id)), shape)


def _client_values(user: User, query: ListQuery) -> dict:
    states = {key: (int(key),) for key in query.spec.states}
    return {"firm_id": user.accounting_firm_id, **query.values(state_values=states, mode_values=SETTLEMENT_MODES)}


def client_invoices(user: User, query: ListQuery) -> Listing:
    """The firm's clients' invoices to settle, earliest due first unless ``query`` says otherwise, as
    plain rows (``paginate(…, plain=True)``, and the export in batches)."""
    return Listing(_clients_statement(query.shape()), _client_values(user, query))


def client_tab_counts(user: User, query: ListQuery) -> dict[str, int]:
    rows = db.session.execute(_client_counts_statement(query.shape()), _client_values(user, query))
    return tab_counts(rows, {key: (int(key),) for key in query.spec.states})
