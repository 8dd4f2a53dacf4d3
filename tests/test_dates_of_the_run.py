"""A run that crosses midnight in Paris: the tests' dates derived from today follow the new day."""

from __future__ import annotations

from datetime import timedelta

from core.calendar import earliest_execution_date
from core.dates import paris_today
from tests import conftest
from tests.libeo import test_lifecycle, test_safeguards


def test_a_module_imported_the_day_before_computes_its_dates_again(monkeypatch):
    yesterday = paris_today() - timedelta(days=1)
    # As at 23:59 in Paris: the modules were imported, and their dates computed, on the day before.
    monkeypatch.setattr(conftest, "_DAY_OF_THE_RUN", [yesterday])
    monkeypatch.setattr(test_safeguards, "DAY", earliest_execution_date(yesterday))
    monkeypatch.setattr(test_lifecycle, "TODAY", f"{yesterday:%d/%m/%Y}")

    assert conftest.refresh_dated_constants()

    assert earliest_execution_date(paris_today()) == test_safeguards.DAY
    assert f"{paris_today():%d/%m/%Y}" == test_lifecycle.TODAY
    assert not conftest.refresh_dated_constants()  # once a day
