"""On which day a payment is executed: by the due date, on a TARGET business day, never past.

« Payer » without a date schedules for the last business day on or before
the invoice's due date (the supplier is paid by then), or the first day the
bank can execute when that is already past; a date given is checked and,
when refused, the message names it and the next business day. A date after
the due date is allowed, and said to be late.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html import unescape

import pytest

from core.calendar import (
    earliest_execution_date,
    earliest_words,
    is_business_day,
    next_business_day,
    previous_business_day,
)
from core.dates import paris_today
from models.libeo import Account, Plan, db
from models.libeo.errors import InvalidData
from models.libeo.payments.order import pay_invoice, proposed_execution_date
from tests.factories import initiator, libeo_invoice

from .conftest import SUPPLIER_IBAN, pay_body

USER = initiator()
# Monday 30 November 2026, 10:00 in Paris.
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
def dated_constants() -> dict:
    """What this module derives from today, computed again when a run crosses midnight in Paris (tests/conftest.py)."""
    return {"TODAY": paris_today()}


(TODAY,) = dated_constants().values()


def _invoice(account, due: date, n: int = 1):
    return libeo_invoice(account, f"F-{n}", issue_date=min(due, date(2026, 11, 1)), due_date=due,
                         amount_cents=1_000 + n)


@pytest.fixture
def account_obj(libeo_app, account):
    with libeo_app.app_context():
        found = db.session.get(Account, account.id)
        found.plan = Plan.PARTNERSHIPS
        yield found


@pytest.mark.parametrize(
    "due, expected",
    [
        (date(2027, 1, 4), date(2027, 1, 4)),  # a Monday: the due date itself
        (date(2026, 12, 5), date(2026, 12, 4)),  # a Saturday: the Friday before
        (date(2026, 12, 26), date(2026, 12, 24)),  # Saturday 26, Christmas on Friday (TARGET closed): Thursday 24
        (date(2027, 1, 1), date(2026, 12, 31)),  # New Year's Day, a Friday: the day before
        (date(2026, 10, 15), date(2026, 11, 30)),  # past due: today
        (date(2026, 11, 30), date(2026, 11, 30)),  # due today
    ],
)
def test_without_a_date_the_payment_is_for_the_last_business_day_by_the_due_date(account_obj, due, expected):
    payment = pay_invoice(account_obj, _invoice(account_obj, due), USER, now=NOW)
    assert payment.execution_date == expected


def test_past_due_on_a_saturday_means_next_monday(account_obj):
    saturday = datetime(2026, 12, 5, 10, tzinfo=UTC)
    payment = pay_invoice(account_obj, _invoice(account_obj, date(2026, 11, 2)), USER, now=saturday)
    assert payment.execution_date == date(2026, 12, 7)


@pytest.mark.parametrize(
    "given, message",
    [
        (date(2026, 11, 27), "La date d'exécution du 27/11/2026 est passée : choisissez le 30/11/2026 (aujourd'hui) "
                             "ou une date ultérieure."),
        (date(2026, 12, 5), "Le 05/12/2026 n'est pas un jour ouvré (les virements SEPA ne sont pas exécutés le "
                            "week-end ni les jours de fermeture de TARGET2) : choisissez le 07/12/2026, jour ouvré "
                            "suivant."),
        (date(2026, 12, 25), "Le 25/12/2026 n'est pas un jour ouvré"),
        (date(2027, 12, 1), "La date d'exécution du 01/12/2027 est à plus d'un an : choisissez une date entre le "
                            "30/11/2026 (aujourd'hui) et le 30/11/2027."),
    ],
)
def test_a_date_that_cannot_be_is_refused_naming_it_and_the_next_business_day(account_obj, given, message):
    with pytest.raises(InvalidData) as refused:
        pay_invoice(account_obj, _invoice(account_obj, date(2026, 12, 15)), USER, given, now=NOW)
    assert refused.value.field == "execution_date"
    assert refused.value.message.startswith(message)


def test_the_proposal_says_why(account_obj):
    cases = {
        date(2027, 1, 4): "Proposée à l'échéance de la facture (04/01/2027).",
        date(2026, 10, 15): "Proposée au premier jour ouvré possible, le 30/11/2026.",
        date(2026, 12, 26): "L'échéance (26/12/2026) n'est pas un jour ouvré des virements SEPA : proposée au jour "
                            "ouvré qui la précède, le 24/12/2026, pour que le fournisseur soit payé à temps.",
    }
    for n, (due, reason) in enumerate(cases.items()):
        invoice = _invoice(account_obj, due, n)
        assert proposed_execution_date(invoice, date(2026, 11, 30))[1] == reason


# Through the API and the « Payer » form, relative to the real today.


def _ahead(days: int) -> date:
    return TODAY + timedelta(days=days)


def _saturday_ahead() -> date:
    day = _ahead(20)
    return day + timedelta(days=(5 - day.weekday()) % 7)


def test_the_api_schedules_for_the_due_date(api):
    due = next_business_day(_ahead(40))
    api.put_invoice("meg-1", due_date=due.isoformat())
    assert api.pay("meg-1").json["execution_date"] == due.isoformat()
    saturday = _saturday_ahead()
    api.put_invoice("meg-2", n=2, due_date=saturday.isoformat())
    assert api.pay("meg-2", key="k2").json["execution_date"] == previous_business_day(saturday).isoformat()
    api.put_invoice("meg-3", n=3, due_date="2026-10-02")  # past due
    assert api.pay("meg-3", key="k3").json["execution_date"] == earliest_execution_date(TODAY).isoformat()


@pytest.mark.parametrize("when", ["past", "saturday", "far"])
def test_the_api_refuses_a_date_that_cannot_be_with_a_422(api, when):
    given = {"past": _ahead(-3), "saturday": _saturday_ahead(), "far": _ahead(400)}[when]
    api.put_invoice("meg-1")
    refused = api.pay("meg-1", body=pay_body(execution_date=given.isoformat()))
    assert refused.status_code == 422
    error = refused.json["error"]
    assert (error["code"], error["field"]) == ("validation_error", "execution_date")
    assert f"{given:%d/%m/%Y}" in error["message"]
    # The first day possible named: today when it is a business day, else the next one.
    assert earliest_words(TODAY, with_date=True) in error["message"] or "jour ouvré suivant" in error["message"]
    assert api.get("/me").json["payments_this_month"] == 0


def test_the_pay_form_proposes_the_business_day_before_the_due_date_and_warns_when_later(client, libeo_app, signed_in):
    due = _saturday_ahead()
    response = client.post("/libeo/factures/nouvelle", data={
        "number": "F-77", "supplier_name": "Laiterie des Prés", "supplier_iban": SUPPLIER_IBAN, "supplier_bic": "",
        "issue_date": TODAY.isoformat(), "due_date": due.isoformat(), "amount": "12,00"})
    invoice_path = response.headers["Location"]
    page = unescape(client.get(invoice_path).get_data(as_text=True))
    friday, monday = previous_business_day(due), next_business_day(due)
    assert f'value="{friday.isoformat()}"' in page
    assert f"L'échéance ({due:%d/%m/%Y}) n'est pas un jour ouvré des virements SEPA : proposée au jour ouvré " \
           f"qui la précède, le {friday:%d/%m/%Y}, pour que le fournisseur soit payé à temps." in page
    assert f'data-due-date="{due.isoformat()}"' in page  # the warning follows the date typed
    refused = client.post(invoice_path + "/payer", data={"execution_date": due.isoformat()})
    assert refused.status_code == 422
    assert f"Le {due:%d/%m/%Y} n'est pas un jour ouvré" in unescape(refused.get_data(as_text=True))
    assert is_business_day(monday)
    paid = unescape(client.post(invoice_path + "/payer", data={"execution_date": monday.isoformat()},
                                follow_redirects=True).get_data(as_text=True))
    assert f"Programmé le {monday:%d/%m/%Y}" in paid
    assert f"Le {monday:%d/%m/%Y} est après l'échéance du {due:%d/%m/%Y} : le fournisseur sera payé en " \
           "retard." in paid


def test_a_past_due_invoice_says_once_that_the_supplier_will_be_paid_late(client, libeo_app, signed_in):
    due = TODAY - timedelta(days=10)
    response = client.post("/libeo/factures/nouvelle", data={
        "number": "F-78", "supplier_name": "Laiterie des Prés", "supplier_iban": SUPPLIER_IBAN, "supplier_bic": "",
        "issue_date": (due - timedelta(days=30)).isoformat(), "due_date": due.isoformat(), "amount": "12,00"})
    shown = " ".join(re.sub(r"<[^>]+>", " ", unescape(client.get(response.headers["Location"]).get_data(
        as_text=True))).split())
    # The hint says why this date; the warning, once, that it is after the due date and what that means.
    assert "Proposée au premier jour ouvré possible, le " in shown
    assert f"Cette date est après l'échéance du {due:%d/%m/%Y} : le fournisseur sera payé en retard." in shown
    assert shown.count("payé en retard") == 1 and shown.count("est passée") == 0
