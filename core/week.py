"""« Cette semaine »: what is to pay, what leaves the bank and what waits for an approval, with totals.

Each product fills one from its own records (``models/meg/achats/week.py``, ``models/libeo/payments/week.py``);
both pages draw it with ``templates/_week.html``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from core.money import format_amount


@dataclass
class WeekLine:
    """One line of the summary: how many, and how much in all."""

    count: int = 0
    cents: int = 0

    def add(self, cents: int) -> None:
        self.count += 1
        self.cents += cents

    @property
    def total(self) -> str:
        return format_amount(self.cents, "EUR")


@dataclass
class WeekSummary:
    start: date
    end: date
    to_pay: WeekLine = field(default_factory=WeekLine)  # due by the end of the week, nothing asked yet
    overdue: WeekLine = field(default_factory=WeekLine)  # of those, already late
    leaving: WeekLine = field(default_factory=WeekLine)  # transfers executed this week
    awaiting_approval: WeekLine = field(default_factory=WeekLine)

