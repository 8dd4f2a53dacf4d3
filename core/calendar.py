"""TARGET2 business days: the days a SEPA credit transfer settles, and the date « Payer » proposes.

SEPA transfers settle through TARGET2, open Monday to Friday except its
closing days (1 January, Good Friday, Easter Monday, 1 May, 25 and 26
December), which the ``holidays`` package keeps as the ECB's financial
calendar. A transfer asked for a closing day is executed the next business day.

Both products propose the same « Date d'exécution »: the last business day
on or before the due date, so that the supplier is paid by then, and never
before the first day a transfer ordered today can be executed. A later date
is allowed; both say that the supplier will be paid after the due date.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

from core.dates import date_fr

LATE_PAYMENT = "le fournisseur sera payé après l'échéance"


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


def previous_business_day(day: date) -> date:
    """``day`` itself when it is a business day, else the last one before it."""
    while not is_business_day(day):
        day -= timedelta(days=1)
    return day


def earliest_execution_date(today: date) -> date:
    """The first day a transfer ordered today can be executed."""
    return next_business_day(today)


def default_execution_date(due_date: date, today: date) -> date:
    """The date a payment is proposed for: the last business day on or before the due date.

    Never before ``earliest_execution_date(today)``: an invoice already due,
    or due before the bank can execute, is proposed for the first day it can.
    """
    return max(previous_business_day(due_date), earliest_execution_date(today))


def late_payment_warning(execution_date: date, due_date: date | None) -> str | None:
    """The warning both « Payer » show for a date after the due date; None when it is not."""
    if due_date is None or execution_date <= due_date:
        return None
    return (
        f"Le {date_fr(execution_date)} est après l'échéance du {date_fr(due_date)} : {LATE_PAYMENT}."
    )
