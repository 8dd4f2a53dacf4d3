"""One page of a list, read in one SQL statement (the rows and, beside each, how many there are)."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Select, func, select


@dataclass
class Page:
    """What the pager macro (templates/_macros.html) needs: items, page, pages, previous and next."""

    items: list
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


def paginate(db: SQLAlchemy, query: Select, page: int, per_page: int) -> Page:
    """Page ``page`` of ``query``: the total rides along each row (``count(*) OVER ()``).

    Only a page past the end, which has no row to carry it, costs a second
    statement to count.
    """
    rows = db.session.execute(
        query.add_columns(func.count().over().label("total")).limit(per_page).offset((page - 1) * per_page)
    ).all()
    if rows:
        return Page([row[0] for row in rows], page, per_page, rows[0][-1])
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) if page > 1 else 0
    return Page([], page, per_page, total or 0)
