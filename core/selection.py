"""What a confirmation of « Payer la sélection » says of its lines, in MEG and in Libeo alike."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from core.money import format_amount


class SelectionTotals:
    """The totals of a selection's ``lines`` (each with ``invoice.amount_cents``, ``execution_date`` and
    ``beyond_quota``): the whole, what will be paid per execution date (one SEPA file group each), and
    beyond the plan."""

    lines: list[Any]

    @property
    def total_to_pay(self) -> str:
        """The amount the confirmation will pay: the lines beyond the plan are not paid, so not counted."""
        return format_amount(sum(line.invoice.amount_cents for line in self.lines if not line.beyond_quota))

    @property
    def to_pay(self) -> int:
        """Lines the confirmation will pay: all but those beyond the plan."""
        return len(self.lines) - self.beyond_quota

    @property
    def totals_by_date(self) -> list[tuple[date, int, str]]:
        """(execution date, number of transfers, amount) of the lines that will be paid, earliest first."""
        totals: dict[date, list[int]] = defaultdict(lambda: [0, 0])
        for line in self.lines:
            if line.beyond_quota:
                continue
            totals[line.execution_date][0] += 1
            totals[line.execution_date][1] += line.invoice.amount_cents
        return [(day, count, format_amount(cents)) for day, (count, cents) in sorted(totals.items())]

    @property
    def beyond_quota(self) -> int:
        """Lines the plan will not pay this month."""
        return sum(line.beyond_quota for line in self.lines)
