"""The day a transfer left the account is the statement's booking date. A status report (pain.002) that says
« ACSC » only tells that it is done, on the day the report was written; when the statement (camt.053) books it
on another day, the payment reads « Débité le <booking date> » on its page, in the API and in MEG (a new
version in the events feed), and « Journal » says what changed."""

from __future__ import annotations

from datetime import timedelta

from core.calendar import previous_business_day
from core.dates import paris_today
from devtools.bank_simulator import statement_for, status_report_for
from tests.helpers import text

from .test_bank_leg_edge_cases import _valid, desk  # noqa: F401 - the fixture


def test_the_statements_booking_date_corrects_the_debit_day_a_status_report_gave(desk):  # noqa: F811
    # Executed on a business day before today (on a business day, the day before: a statement booking it
    # today would correct nothing).
    day = previous_business_day(paris_today() - timedelta(days=1))
    shown_day = f"{day:%d/%m/%Y}"
    first = desk.pay()
    pain001 = desk.execute(day)
    desk.upload(status_report_for(pain001))  # written today: « done », no booking date
    assert desk.payment(first)["paid_on"] == paris_today().isoformat()
    version = desk.payment(first)["version"]

    statement = _valid(statement_for(pain001, kind="camt.053", booking_date=day), "camt.053")
    shown = desk.upload(statement)
    assert "1 date de débit remplacée par la date d'écriture du relevé" in shown, shown
    payment = desk.payment(first)
    assert payment["status"] == "paid" and payment["paid_on"] == day.isoformat()
    assert payment["status_label"] == f"Débité le {shown_day}"
    assert payment["version"] == version + 1
    assert desk.last_event(first)["paid_on"] == day.isoformat()  # what MEG reads
    assert f"Débité le {shown_day}" in desk.page(first)
    journal = " ".join(text(desk.client.get("/libeo/journal/")).split())
    assert f"débité le {shown_day} selon le relevé" in journal
    assert f"et non le {paris_today():%d/%m/%Y} noté jusqu'ici" in journal

    # The same statement again changes nothing more.
    assert "déjà importé" in desk.upload(statement)
    assert desk.payment(first)["version"] == version + 1
