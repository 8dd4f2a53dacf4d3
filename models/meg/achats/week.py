"""MEG's « Cette semaine »: the company's invoices to pay by Sunday (and those already late), the Libeo
transfers executed this week, and those waiting for an approval in Libeo, as the last sync pass recorded
them: two aggregates, read on « Factures » in one statement with the state tabs' counts
(:func:`week_and_tab_counts`), whatever the number of invoices."""

from __future__ import annotations

from datetime import date
from functools import cache, lru_cache

from sqlalchemy import (
    BigInteger,
    CompoundSelect,
    Date,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
)

from core.dates import paris_today, week_of
from core.listing import ListQuery, tab_counts
from core.week import WeekLine, WeekSummary
from models.meg.achats.lists import INVOICE_STATES, invoice_counts
from models.meg.achats.models import SupplierInvoice
from models.meg.companies.models import Company
from models.meg.db import db
from models.meg.libeo_link.attempts import TO_SETTLE_STATES, PaymentAttempt, PaymentState

LEAVING = (PaymentState.SCHEDULED, PaymentState.FILE_READY, PaymentState.TRANSMITTED, PaymentState.ACCEPTED)


def _line(count, cents) -> WeekLine:
    return WeekLine(int(count or 0), int(cents or 0))


def _written(column, value):
    """``value`` written into the statement (not a parameter): PostgreSQL then plans the prepared statement
    once for every company and week, as it does with the states and statuses known; as parameters, its
    generic plan guessed their share, came out dearer than a plan per execution and was never used (1.2 ms
    of planning a page)."""
    if isinstance(value, tuple):
        return column.in_(bindparam(None, list(value), type_=column.type, expanding=True, literal_execute=True))
    return column == bindparam(None, value, type_=column.type, literal_execute=True)


@cache
def _aggregates() -> tuple[Select, Select]:
    # Built once (at the first page: the models are all mapped by then), the company and the days as
    # named parameters: building and walking these two aggregates was most of their cost.
    today, start, end = (bindparam(name, type_=Date()) for name in ("today", "start", "end"))
    late = SupplierInvoice.due_date < today
    to_pay = (
        select(func.count(), func.sum(SupplierInvoice.amount_cents),
               func.sum(case((late, 1), else_=0)), func.sum(case((late, SupplierInvoice.amount_cents), else_=0)))
        .where(SupplierInvoice.company_id == bindparam("company_id"),
               _written(SupplierInvoice.settlement_state, TO_SETTLE_STATES), SupplierInvoice.due_date <= end)
    )
    awaiting = _written(PaymentAttempt.status, PaymentState.AWAITING_APPROVAL)
    cents = SupplierInvoice.amount_cents
    in_flight = (
        select(func.sum(case((awaiting, 1), else_=0)), func.sum(case((awaiting, cents), else_=0)),
               func.sum(case((~awaiting, 1), else_=0)), func.sum(case((~awaiting, cents), else_=0)))
        .select_from(SupplierInvoice).join(PaymentAttempt, PaymentAttempt.invoice_id == SupplierInvoice.id)
        # A payment awaiting approval or leaving is its invoice's latest, which it holds (« Programmée »):
        # the company's invoices in that state, read by their index, not every company's such payments.
        .where(SupplierInvoice.company_id == bindparam("company_id"),
               _written(SupplierInvoice.settlement_state, "programmees"),
               awaiting | and_(_written(PaymentAttempt.status, LEAVING),
                               PaymentAttempt.execution_date.between(start, end)))
    )
    return to_pay, in_flight


# The rows of « Cette semaine » among the tabs' counts, named by their first column (no state is so named).
_TO_PAY, _IN_FLIGHT = "~semaine", "~en_cours"


@lru_cache(maxsize=256)
def _with_tab_counts(counts: Select) -> CompoundSelect:
    """« Cette semaine »'s two rows, then the tabs' ``(state, count)`` rows (``counts``, built once per shape
    of the list's filters), as one statement of five columns."""
    to_pay, in_flight = _aggregates()
    nothing = cast(null(), BigInteger())
    return union_all(
        to_pay.with_only_columns(literal_column(f"'{_TO_PAY}'", String()), *to_pay.selected_columns),
        in_flight.with_only_columns(literal_column(f"'{_IN_FLIGHT}'", String()), *in_flight.selected_columns),
        counts.add_columns(nothing, nothing, nothing),
    )


def _summary(to_pay, in_flight, start: date, end: date) -> WeekSummary:
    """« Cette semaine » from its two rows' four figures each (counts and cents)."""
    return WeekSummary(start, end, to_pay=_line(*to_pay[:2]), overdue=_line(*to_pay[2:4]),
                       awaiting_approval=_line(*in_flight[:2]), leaving=_line(*in_flight[2:4]))


def week_and_tab_counts(company: Company, query: ListQuery,
                        today: date | None = None) -> tuple[dict[str, int], WeekSummary]:
    """« Factures »' state tabs' counts under the query's other filters and « Cette semaine », in one
    statement (« Cette semaine »'s two rows, one under the other: side by side, joined on true, SQLite
    computed the first one's sums again). Plain rows, on the session's connection, without the ORM's
    execution layer."""
    today = today or paris_today()
    start, end = week_of(today)
    counts, values = invoice_counts(company, query)
    rows = db.session.connection().execute(
        _with_tab_counts(counts), {**values, "today": today, "start": start, "end": end}).all()
    week = {row[0]: row[1:] for row in rows if row[0] in (_TO_PAY, _IN_FLIGHT)}
    states = [(row[0], row[1]) for row in rows if row[0] not in week]
    return tab_counts(states, INVOICE_STATES), _summary(week[_TO_PAY], week[_IN_FLIGHT], start, end)
