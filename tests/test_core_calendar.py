"""TARGET2 business days: a transfer is proposed on a day it can settle, never in the past."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.calendar import (
    default_execution_date,
    earliest_execution_date,
    is_business_day,
    next_business_day,
)


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 12, 25),  # Christmas, a Friday
        date(2026, 12, 26),  # 26 December, a Saturday anyway
        date(2027, 12, 26),  # a Sunday
        date(2027, 1, 1),
        date(2027, 3, 26),  # Good Friday 2027
        date(2027, 3, 29),  # Easter Monday 2027
        date(2026, 4, 3),  # Good Friday 2026
        date(2026, 4, 6),  # Easter Monday 2026
        date(2027, 5, 1),
        date(2026, 5, 1),  # a Friday
        date(2026, 11, 28),  # a Saturday
        date(2026, 11, 29),  # a Sunday
    ],
)
def test_target_closing_days_and_weekends_are_not_business_days(day):
    assert not is_business_day(day)


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 11, 30),  # a Monday
        date(2026, 12, 24),  # Christmas Eve is open
        date(2026, 12, 31),  # New Year's Eve is open
        date(2026, 11, 11),  # French public holidays (Armistice) are TARGET business days
        date(2026, 7, 14),
        date(2027, 1, 4),
    ],
)
def test_business_days(day):
    assert is_business_day(day)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 12, 25), date(2026, 12, 28)),  # Fri holiday, Sat 26 holiday, Sun → Monday
        (date(2027, 12, 24), date(2027, 12, 24)),  # a business Friday stays
        (date(2027, 12, 25), date(2027, 12, 27)),  # Sat 25, Sun 26 → Monday 27
        (date(2026, 12, 31), date(2026, 12, 31)),
        (date(2027, 1, 1), date(2027, 1, 4)),  # New Year on a Friday → Monday 4
        (date(2027, 3, 26), date(2027, 3, 30)),  # Good Friday → the Tuesday after Easter Monday
        (date(2027, 3, 29), date(2027, 3, 30)),
        (date(2026, 5, 1), date(2026, 5, 4)),
        (date(2026, 11, 28), date(2026, 11, 30)),
    ],
)
def test_next_business_day(day, expected):
    assert next_business_day(day) == expected


def test_a_due_date_on_a_business_day_is_kept():
    # The case: « Payer » scheduled an invoice due on 04/01/2027 for today.
    assert default_execution_date(date(2027, 1, 4), today=date(2026, 11, 30)) == date(2027, 1, 4)


def test_a_due_date_on_a_closing_day_moves_to_the_next_business_day():
    assert default_execution_date(date(2027, 1, 1), today=date(2026, 11, 30)) == date(2027, 1, 4)
    assert default_execution_date(date(2026, 12, 25), today=date(2026, 11, 30)) == date(2026, 12, 28)


def test_a_past_due_date_is_paid_today_or_the_next_business_day():
    monday, saturday = date(2026, 11, 30), date(2026, 11, 28)
    assert default_execution_date(date(2026, 10, 31), today=monday) == monday
    assert default_execution_date(date(2026, 10, 31), today=saturday) == monday
    assert default_execution_date(date(2026, 12, 1), today=date(2026, 12, 25)) == date(2026, 12, 28)


def test_a_due_date_today_is_today_when_the_bank_is_open():
    assert default_execution_date(date(2026, 11, 30), today=date(2026, 11, 30)) == date(2026, 11, 30)


def test_earliest_execution_date():
    assert earliest_execution_date(date(2026, 11, 30)) == date(2026, 11, 30)
    assert earliest_execution_date(date(2026, 12, 25)) == date(2026, 12, 28)


def test_never_before_today_and_always_a_business_day_over_years():
    today = date(2026, 1, 1)
    for offset in range(-30, 800):
        due = today + timedelta(days=offset)
        chosen = default_execution_date(due, today)
        assert chosen >= max(due, today) and is_business_day(chosen)
        assert chosen - max(due, today) <= timedelta(days=4)  # the longest closure: Good Friday → Tuesday
