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
import holidays.financial  # noqa: F401  (imported with the app, not by the first « Payer » of each worker: 0.4 s)

from core.dates import date_fr

LATE_PAYMENT = "le fournisseur sera payé en retard"
# How far ahead a transfer may be scheduled.
MAX_SCHEDULE_AHEAD = timedelta(days=365)


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


def earliest_words(today: date, *, with_date: bool = False) -> str:
    """The first day a transfer ordered ``today`` can have, as every « Payer » says it: « aujourd'hui »
    (« le 07/12/2026 (aujourd'hui) » ``with_date``), or « le 08/12/2026 (prochain jour ouvré) » when today is
    not a business day."""
    earliest = earliest_execution_date(today)
    if earliest == today:
        return f"le {date_fr(today)} (aujourd'hui)" if with_date else "aujourd'hui"
    return f"le {date_fr(earliest)} (prochain jour ouvré)"


def default_execution_date(due_date: date, today: date) -> date:
    """The date a payment is proposed for: the last business day on or before the due date.

    Never before ``earliest_execution_date(today)``: an invoice already due,
    or due before the bank can execute, is proposed for the first day it can.
    """
    return max(previous_business_day(due_date), earliest_execution_date(today))


def late_payment_words(due_date: date, execution_date: date | None = None) -> str:
    """How every « Payer » and « Payer la sélection » says a date is after the due date: of « Cette date » beside
    the field or the row, of the day itself once the payment is asked for."""
    day = f"Le {date_fr(execution_date)}" if execution_date else "Cette date"
    return f"{day} est après l'échéance du {date_fr(due_date)} : {LATE_PAYMENT}."


def late_payment_warning(execution_date: date, due_date: date | None) -> str | None:
    """The warning both « Payer » show for a date after the due date; None when it is not."""
    if due_date is None or execution_date <= due_date:
        return None
    return late_payment_words(due_date, execution_date)


class ExecutionDateRefused(ValueError):
    """A date no transfer can be ordered for today: the French sentence, and the date to propose instead."""

    def __init__(self, reason: str, choice: str, suggestion: date | None = None,
                 suggestion_words: str | None = None) -> None:
        self.message = f"{reason} : {choice}."
        super().__init__(self.message)
        self.suggestion = suggestion
        self._reason, self._suggestion_words = reason, suggestion_words

    @property
    def message_with_suggestion_shown(self) -> str:
        """The sentence for a form that puts the proposed date in its field: « choisissez le 28/12/2026 » there
        would ask for the date already shown."""
        if self._suggestion_words is None:
            return self.message
        return (f"{self._reason} : la « Date d'exécution » proposée est maintenant {self._suggestion_words} ; "
                "confirmez le paiement ou choisissez une autre date.")


def check_execution_date(day: date, today: date) -> date:
    """``day`` when a transfer ordered ``today`` can be executed on it; else ExecutionDateRefused.

    The one rule of both products' « Payer »: a TARGET business day, from the
    first one a transfer ordered today can have to a year ahead.
    """
    earliest = earliest_execution_date(today)
    shown = date_fr(day)
    if day < today:
        earliest_said = earliest_words(today, with_date=True)
        raise ExecutionDateRefused(f"La date d'exécution du {shown} est passée",
                                   f"choisissez {earliest_said} ou une date ultérieure", earliest, earliest_said)
    if day > today + MAX_SCHEDULE_AHEAD:
        raise ExecutionDateRefused(
            f"La date d'exécution du {shown} est à plus d'un an",
            f"choisissez une date entre {earliest_words(today, with_date=True)} et le "
            f"{date_fr(today + MAX_SCHEDULE_AHEAD)}",
        )
    if not is_business_day(day):
        following = f"le {date_fr(next_business_day(day))}, jour ouvré suivant"
        raise ExecutionDateRefused(
            f"Le {shown} n'est pas un jour ouvré (les virements SEPA ne sont pas exécutés le week-end ni les "
            "jours de fermeture de TARGET2)",
            f"choisissez {following}", next_business_day(day), following,
        )
    return day
