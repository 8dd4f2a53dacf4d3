"""« Factures » as a list people work with: what its URL may ask (core/listing.py), the statements
that answer, one per shape, and the export's rows."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import selectinload

from core.listing import ListColumns, ListQuery, ListSpec, OwnedList, by_name
from core.paging import Listing
from models.libeo.accounts.models import Account
from models.libeo.db import db
from models.libeo.invoices.models import Invoice, InvoiceStatus

INVOICE_STATES = {
    "a_payer": (InvoiceStatus.TO_PAY,),
    "a_approuver": (InvoiceStatus.AWAITING_APPROVAL,),
    "programmees": (InvoiceStatus.PAYMENT_SCHEDULED,),
    "payees": (InvoiceStatus.PAID,),
    "rejetees": (InvoiceStatus.PAYMENT_FAILED,),
}
INVOICES = ListSpec(
    sorts={"date": "Date", "echeance": "Échéance", "montant": "Montant TTC", "fournisseur": "Fournisseur",
           "numero": "Numéro", "statut": "Statut"},
    default_sort="-date",
    # « En cours », as MEG names it: programmed, in a file to transmit, or at the bank.
    states={"a_payer": "À payer", "a_approuver": "À approuver", "programmees": "En cours", "payees": "Payées",
            "rejetees": "Rejetées"},
    date_label="Échéance",
    overdue=True,
    search_hint="Numéro, fournisseur, montant",
    supplier=True,
)
_COLUMNS = ListColumns(
    sorts={"date": (Invoice.issue_date,), "echeance": (Invoice.due_date,), "montant": (Invoice.amount_cents,),
           "fournisseur": by_name(Invoice.supplier_name), "numero": (Invoice.number,), "statut": (Invoice.status,)},
    tiebreak=Invoice.id,
    text=(Invoice.number, Invoice.supplier_name),
    supplier=Invoice.supplier_name,
    amount=Invoice.amount_cents,
    state=Invoice.status,
    date=Invoice.due_date,
)


def _of_account(statement):
    return statement.where(Invoice.account_id == bindparam("account_id"), Invoice.imported_at.is_not(None))


# Each invoice with its payments (its status shows the latest).
_LIST = OwnedList(_COLUMNS, select(Invoice).options(selectinload(Invoice.payments)), owned=_of_account,
                  owner="account_id", states=INVOICE_STATES)


def invoice_list(account: Account, query: ListQuery | None = None) -> Listing:
    """The account's invoices, newest first unless ``query`` (its URL) searches, filters or sorts them;
    each with its payments (its status shows the latest). The export reads the same statement in batches."""
    return _LIST.listing(account.id, query or ListQuery(INVOICES, sort="date", descending=True))


def invoice_tab_counts(account: Account, query: ListQuery) -> dict[str, int]:
    """How many invoices each state tab holds under the query's other filters (one statement)."""
    return _LIST.tab_counts(db.session, account.id, query)
