"""One page of a list, read in one SQL statement (the rows and, beside each, how many there are)."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil
from typing import Any, NamedTuple

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Select, bindparam, func, select

# The statement that reads a page of a list, built once per list statement: a list built
# once (a ``Listing``: its values are named parameters) then costs no statement building,
# and no traversal to find its compiled form in SQLAlchemy's cache, on each request.
_PAGED: dict[str, weakref.WeakKeyDictionary] = {
    count: weakref.WeakKeyDictionary() for count in ("alone", "apart", "window")}


class Listing(NamedTuple):
    """A list's statement, built once with named parameters (``bindparam``), and their values for
    one request: ``db.session.scalars(*listing)`` reads it all, :func:`paginate` a page."""

    statement: Select
    params: dict


@dataclass
class Page:
    """What the pager macro (templates/_macros.html) needs: items, page, pages, previous and next."""

    items: Sequence[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(ceil(self.total / self.per_page), 1)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def paginate(db: SQLAlchemy, query: Select | Listing, page: int, per_page: int, *, plain: bool = False,
             count_apart: bool = False, total: int | None = None) -> Page:
    """Page ``page`` of ``query``: the total rides along each row (``count(*) OVER ()``).

    Only a page past the end, which has no row to carry it, costs a second
    statement to count. ``plain``: ``query`` selects table columns (no ORM
    entity); it runs on the session's connection, without the ORM's execution
    layer, and the page's items are its rows (the total last in each).

    ``count_apart``: the total is a scalar subquery of the same statement, counted once, instead of
    a window over every row. A window makes the database read and sort every row before the first
    page's: with the order an index gives (a list neither searched nor filtered by a function), the
    page stops after its rows and the count reads the index alone (« Règlements », 280 invoices to
    settle: 0.65 → 0.28 ms on SQLite). A searched list keeps the window: its rows are all read anyway,
    and the count would test the search on each of them a second time. SQLite only: PostgreSQL planned
    the count apart with hash joins over every payment and supplier (4.8 ms for « Règlements » at
    100,000 invoices, ``EXPLAIN ANALYZE``), where its window costs less.

    ``total``: how many rows ``query`` holds, when the caller knows it already (a list's tab counts,
    read under the same filters): the page is read alone, without a count nor a window, so the
    database stops after its rows.
    """
    listing = query
    query, params = query if isinstance(query, Listing) else (query, None)
    page_statement = _page_statement(query, "alone" if total is not None else "apart" if (
        count_apart and db.session.get_bind().dialect.name == "sqlite") else "window")
    values = {**(params or {}), "page_limit": per_page, "page_offset": (page - 1) * per_page}
    if plain:
        rows = db.session.connection().execute(page_statement, values).all()
        items: Sequence[Any] = rows
    else:
        rows = db.session.execute(page_statement, values).all()
        items = [row[0] for row in rows]
    if total is not None:
        if not rows and total and page > 1:  # past the end of a list that holds rows: its last page
            return paginate(db, listing, ceil(total / per_page), per_page, plain=plain, total=total)
        return Page(items, page, per_page, total)
    if rows:
        return Page(items, page, per_page, rows[0][-1])
    if page == 1:
        return Page([], page, per_page, 0)
    # A page past the end (an old bookmark, a list that shrank since): the last page, never « nothing here ».
    past_end = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()), params or {})
    if past_end:
        return paginate(db, listing, ceil(past_end / per_page), per_page, plain=plain, total=past_end)
    return Page([], page, per_page, 0)


def _page_statement(query: Select, count: str) -> Select:
    """``query``'s page (bound limit and offset), built once per list statement and way of counting:
    « alone » (the caller knows the total), « apart » (a scalar subquery), « window »."""
    cache = _PAGED[count]
    page_statement = cache.get(query)
    if page_statement is None:
        paged = query
        if count == "apart":
            paged = query.add_columns(
                select(func.count()).select_from(query.order_by(None).subquery()).scalar_subquery().label("total"))
        elif count == "window":
            paged = query.add_columns(func.count().over().label("total"))
        page_statement = cache[query] = paged.limit(bindparam("page_limit")).offset(bindparam("page_offset"))
    return page_statement
