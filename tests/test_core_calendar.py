"""TARGET2 business days: a transfer is proposed on a day it can settle, never in the past."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.calendar import (
    ExecutionDateRefused,
    check_execution_date,
    default_execution_date,
    earliest_execution_date,
    earliest_words,
    is_business_day,
    late_payment_warning,
    next_business_day,
    previous_business_day,
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
    assert default_execution_date(date(2027, 1, 4), today=date(2026, 11, 30)) == date(2027, 1, 4)


def test_a_due_date_on_a_closing_day_moves_to_the_business_day_before_it():
    # Due on Saturday 26/12/2026: Friday 25 is Christmas, so the money leaves on Thursday 24 and
    # arrives by the due date (release 2 proposed Monday 28, after it, without a word).
    assert default_execution_date(date(2026, 12, 26), today=date(2026, 11, 30)) == date(2026, 12, 24)
    assert default_execution_date(date(2027, 1, 1), today=date(2026, 11, 30)) == date(2026, 12, 31)
    assert default_execution_date(date(2027, 3, 29), today=date(2026, 11, 30)) == date(2027, 3, 25)  # Easter
    assert default_execution_date(date(2026, 11, 29), today=date(2026, 11, 2)) == date(2026, 11, 27)


def test_a_past_due_date_is_paid_today_or_the_next_business_day():
    monday, saturday = date(2026, 11, 30), date(2026, 11, 28)
    assert default_execution_date(date(2026, 10, 31), today=monday) == monday
    assert default_execution_date(date(2026, 10, 31), today=saturday) == monday
    assert default_execution_date(date(2026, 12, 1), today=date(2026, 12, 25)) == date(2026, 12, 28)
    # Due tomorrow Saturday, today Friday: today, not the Thursday before.
    assert default_execution_date(date(2026, 11, 28), today=date(2026, 11, 27)) == date(2026, 11, 27)
    # Due Sunday, today Saturday: the bank cannot execute before Monday.
    assert default_execution_date(date(2026, 11, 29), today=saturday) == monday


def test_a_due_date_today_is_today_when_the_bank_is_open():
    assert default_execution_date(date(2026, 11, 30), today=date(2026, 11, 30)) == date(2026, 11, 30)


def test_earliest_execution_date():
    assert earliest_execution_date(date(2026, 11, 30)) == date(2026, 11, 30)
    assert earliest_execution_date(date(2026, 12, 25)) == date(2026, 12, 28)


def test_previous_business_day():
    assert previous_business_day(date(2026, 12, 26)) == date(2026, 12, 24)
    assert previous_business_day(date(2026, 12, 24)) == date(2026, 12, 24)
    assert previous_business_day(date(2027, 1, 3)) == date(2026, 12, 31)


def test_never_before_today_and_by_the_due_date_whenever_it_can_be():
    today = date(2026, 1, 1)
    for offset in range(-30, 800):
        due = today + timedelta(days=offset)
        chosen = default_execution_date(due, today)
        assert is_business_day(chosen) and chosen >= earliest_execution_date(today)
        if due >= earliest_execution_date(today):
            assert chosen <= due  # the supplier is paid by the due date
            assert due - chosen <= timedelta(days=4)  # the longest closure: Good Friday → Easter Monday
        else:
            assert chosen == earliest_execution_date(today)


def test_a_date_after_the_due_date_is_said_so():
    assert late_payment_warning(date(2026, 12, 28), date(2026, 12, 26)) == (
        "Le 28/12/2026 est après l'échéance du 26/12/2026 : le fournisseur sera payé en retard.")
    assert late_payment_warning(date(2026, 12, 24), date(2026, 12, 26)) is None
    assert late_payment_warning(date(2026, 12, 26), date(2026, 12, 26)) is None
    assert late_payment_warning(date(2026, 12, 26), None) is None


# --- the one execution-date rule of both products' « Payer » ------------------------------------

TODAY = date(2026, 11, 28)  # a Saturday: the first day a transfer ordered today can have is Monday 30


@pytest.mark.parametrize("day", [date(2026, 11, 30), date(2026, 12, 24), date(2027, 11, 26)])
def test_a_business_day_from_the_first_possible_to_a_year_ahead_is_kept(day):
    assert check_execution_date(day, TODAY) == day


@pytest.mark.parametrize(
    "day, message, suggestion",
    [
        (date(2026, 11, 27), "La date d'exécution du 27/11/2026 est passée : choisissez le 30/11/2026 (prochain jour "
                             "ouvré) ou une date ultérieure.", date(2026, 11, 30)),
        (date(1999, 12, 31), "La date d'exécution du 31/12/1999 est passée", date(2026, 11, 30)),
        (date(2026, 12, 25), "Le 25/12/2026 n'est pas un jour ouvré (les virements SEPA ne sont pas exécutés le "
                             "week-end ni les jours de fermeture de TARGET2) : choisissez le 28/12/2026, jour ouvré "
                             "suivant.", date(2026, 12, 28)),
        (TODAY, "Le 28/11/2026 n'est pas un jour ouvré", date(2026, 11, 30)),
        (date(2027, 11, 29), "La date d'exécution du 29/11/2027 est à plus d'un an : choisissez une date entre le "
                             "30/11/2026 (prochain jour ouvré) et le 28/11/2027.", None),
        (date(9999, 12, 31), "La date d'exécution du 31/12/9999 est à plus d'un an", None),
    ],
)
def test_a_date_no_transfer_can_have_is_refused_in_one_french_sentence(day, message, suggestion):
    with pytest.raises(ExecutionDateRefused) as refused:
        check_execution_date(day, TODAY)
    assert refused.value.message.startswith(message)
    assert refused.value.suggestion == suggestion


def test_a_business_day_today_is_named_today_not_the_next_business_day():
    """On Monday 07/12, a past date proposed « le 07/12/2026 (prochain jour ouvré) »: read as another day."""
    monday = date(2026, 12, 7)
    with pytest.raises(ExecutionDateRefused) as refused:
        check_execution_date(date(2026, 12, 4), monday)
    assert refused.value.message == ("La date d'exécution du 04/12/2026 est passée : choisissez le 07/12/2026 "
                                     "(aujourd'hui) ou une date ultérieure.")
    assert earliest_words(monday) == "aujourd'hui"
    assert earliest_words(TODAY) == "le 30/11/2026 (prochain jour ouvré)"
