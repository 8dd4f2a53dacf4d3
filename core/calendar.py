"""TARGET2 business days: the days a SEPA credit transfer settles.

SEPA transfers settle through TARGET2, open Monday to Friday except its
closing days (1 January, Good Friday, Easter Monday, 1 May, 25 and 26
December), which the ``holidays`` package keeps as the ECB's financial
calendar. A transfer asked for a closing day is executed the next business day.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _closing_days(year: int) -> frozenset[date]:
    return frozenset(holidays.financial_holidays("ECB", years=year))


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _closing_days(day.year)


def next_business_day(day: date) -> date:
    """``day`` itself when it is a business day, else the first one after it."""
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def earliest_execution_date(today: date) -> date:
    """The first day a transfer ordered today can be executed."""
    return next_business_day(today)


def default_execution_date(due_date: date, today: date) -> date:
    """The date a payment is proposed for: its due date, never in the past, on a business day."""
    return next_business_day(max(due_date, today))
