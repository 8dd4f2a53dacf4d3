"""A run that crosses midnight in Paris: the tests' dates derived from today follow the new day."""

from __future__ import annotations

from datetime import date, timedelta

from core.calendar import earliest_execution_date, previous_business_day
from core.dates import paris_today
from tests import conftest
from tests.libeo import conftest as libeo_conftest
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


def test_a_date_a_module_imported_from_another_follows_the_new_day_too(monkeypatch):
    """``from .conftest import RUN_DAY`` binds the day before's date in the importing module: the files
    were then executed on that day while the payments were made due on the new one (« Aucun paiement à
    exécuter » for every test of a module run after midnight)."""
    the_day_before = date(2000, 1, 3)
    monkeypatch.setattr(conftest, "_DAY_OF_THE_RUN", [the_day_before])
    monkeypatch.setattr(libeo_conftest, "RUN_DAY", the_day_before)
    monkeypatch.setattr(test_lifecycle, "RUN_DAY", the_day_before)

    assert conftest.refresh_dated_constants()

    assert previous_business_day(paris_today()) == libeo_conftest.RUN_DAY
    assert test_lifecycle.RUN_DAY == libeo_conftest.RUN_DAY
