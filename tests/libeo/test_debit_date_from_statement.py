"""The day a transfer left the account is the statement's booking date. A status report (pain.002) that says
« ACSC » only tells that it is done, on the day the report was written; when the statement (camt.053) books it
on another day, the payment reads « Débité le <booking date> » on its page, in the API and in MEG (a new
version in the events feed), and « Journal » says what changed."""

from __future__ import annotations

from core.dates import paris_today
from devtools.bank_simulator import statement_for, status_report_for
from tests.helpers import text

from .test_bank_leg_edge_cases import RUN_DAY, SHOWN_RUN_DAY, _valid, desk  # noqa: F401 - the fixture


def test_the_statements_booking_date_corrects_the_debit_day_a_status_report_gave(desk):  # noqa: F811
    first = desk.pay()
    pain001 = desk.execute()
    desk.upload(status_report_for(pain001))  # written today: « done », no booking date
    assert desk.payment(first)["paid_on"] == paris_today().isoformat()
    version = desk.payment(first)["version"]

    statement = _valid(statement_for(pain001, kind="camt.053", booking_date=RUN_DAY), "camt.053")
    shown = desk.upload(statement)
    assert "1 date de débit remplacée par la date d'écriture du relevé" in shown, shown
    payment = desk.payment(first)
    assert payment["status"] == "paid" and payment["paid_on"] == RUN_DAY.isoformat()
    assert payment["status_label"] == f"Débité le {SHOWN_RUN_DAY}"
    assert payment["version"] == version + 1
    assert desk.last_event(first)["paid_on"] == RUN_DAY.isoformat()  # what MEG reads
    assert f"Débité le {SHOWN_RUN_DAY}" in desk.page(first)
    journal = " ".join(text(desk.client.get("/libeo/journal/")).split())
    assert f"débité le {SHOWN_RUN_DAY} selon le relevé" in journal
    assert f"et non le {paris_today():%d/%m/%Y} noté jusqu'ici" in journal

    # The same statement again changes nothing more.
    assert "déjà importé" in desk.upload(statement)
    assert desk.payment(first)["version"] == version + 1
