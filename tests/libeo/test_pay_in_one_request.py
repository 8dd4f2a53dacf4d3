"""Paying in one round trip: the invoice travels with the payment request, all or nothing.

``POST /invoices/{external_id}/payments`` may carry the invoice (``invoice``,
the PUT body): created or updated in the payment's transaction. A refused
payment (quota, rights, IBAN, date, already paid…) creates or changes
nothing, and Libeo's lists show an invoice MEG sent only once it is paid
through Libeo.
"""

from __future__ import annotations

from html import unescape

import pytest
from sqlalchemy import func, select

from models.libeo import (
    IdempotencyRecord,
    Invoice,
    Payment,
    PaymentEvent,
    PaymentUsage,
    db,
)

from .conftest import PASSWORD, Api, invoice_body, make_account, make_key, pay_body


def _rows(libeo_app) -> dict:
    """Every invoice and payment, as they are: a refusal must leave this unchanged."""
    with libeo_app.app_context():
        return {
            "invoices": sorted(
                (i.external_id, i.number, i.amount_cents, i.supplier_iban, i.status.value, str(i.imported_at))
                for i in db.session.scalars(select(Invoice))
            ),
            "payments": db.session.scalar(select(func.count(Payment.id))),
            "events": db.session.scalar(select(func.count(PaymentEvent.id))),
            "keys": db.session.scalar(select(func.count(IdempotencyRecord.id))),
            "counted": db.session.scalar(select(func.sum(PaymentUsage.payment_count))),
        }


def _listing(client, email) -> str:
    signed_in = client.post("/libeo/connexion", data={"email": email, "password": PASSWORD})
    assert signed_in.status_code == 302
    return unescape(client.get("/libeo/factures/").get_data(as_text=True))


def _pay_with_invoice(api, external_id="meg-1", key="k1", invoice=None, **body):
    return api.pay(external_id, key=key, body={**pay_body(), "invoice": invoice or invoice_body(), **body})


def test_the_invoice_and_its_payment_in_one_request(api, client, libeo_app, account):
    created = _pay_with_invoice(api)
    assert created.status_code == 201
    payment = created.json
    assert (payment["status"], payment["invoice_external_id"]) == ("scheduled", "meg-1")
    assert payment["amount_cents"] == invoice_body()["amount_cents"]
    with libeo_app.app_context():
        invoice = db.session.scalar(select(Invoice))
        assert (invoice.number, invoice.source.value, invoice.status.value) == ("F-2026-001", "MEG",
                                                                                "payment_scheduled")
    assert "F-2026-001" in _listing(client, account.email)
    # MEG replays the exact request it stored: the same answer, nothing more.
    again = _pay_with_invoice(api)
    assert again.status_code == 201 and again.json == payment and again.headers["Idempotent-Replayed"] == "true"
    other = _pay_with_invoice(api, invoice=invoice_body(number="F-AUTRE"))
    assert other.status_code == 422 and other.json["error"]["code"] == "idempotency_key_reused"
    assert _rows(libeo_app)["payments"] == 1


def test_the_invoice_sent_with_the_payment_updates_the_one_libeo_has(api, libeo_app):
    api.put_invoice("meg-1", number="F-ANCIEN")
    assert _pay_with_invoice(api, invoice=invoice_body(number="F-NOUVEAU", amount_cents=777)).status_code == 201
    with libeo_app.app_context():
        invoice = db.session.scalar(select(Invoice))
        assert (invoice.number, invoice.amount_cents) == ("F-NOUVEAU", 777)
        assert db.session.scalar(select(Payment.amount_cents)) == 777


def test_an_invoice_put_alone_is_not_listed(api, client, account):
    api.put_invoice("meg-1", number="F-PAS-PAYEE")
    assert "F-PAS-PAYEE" not in _listing(client, account.email)


def _quota_used(api):
    for n in range(2, 7):
        assert _pay_with_invoice(api, f"meg-{n}", f"k{n}", invoice_body(n=n)).status_code == 201


REFUSALS = {
    "quota": (402, "quota_exceeded", None),
    "accountant": (403, "initiator_not_allowed", "initiated_by.email"),
    "iban": (422, "validation_error", "invoice.supplier.iban"),
    "due_before_issue": (422, "validation_error", "invoice.due_date"),
    "date": (422, "validation_error", "execution_date"),
    "bad_external_id": (422, "validation_error", "external_id"),
}


@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_a_refused_payment_creates_no_invoice(api, client, libeo_app, account, refusal):
    if refusal == "quota":
        _quota_used(api)
    before = _rows(libeo_app)
    body, invoice, external_id = pay_body(), invoice_body(number="F-REFUSEE"), "meg-1"
    if refusal == "accountant":
        body = pay_body("expert@cabinet-inconnu.fr", "accountant")
    elif refusal == "iban":
        invoice["supplier"]["iban"] = "FR7630006000011234567890188"
    elif refusal == "due_before_issue":
        invoice["due_date"] = "2026-09-01"
    elif refusal == "date":
        body["execution_date"] = "2020-01-02"
    elif refusal == "bad_external_id":
        external_id = "meg 1"
    refused = api.pay(external_id, key="k-refus", body={**body, "invoice": invoice})
    status, code, field = REFUSALS[refusal]
    assert refused.status_code == status, refused.json
    assert (refused.json["error"]["code"], refused.json["error"]["field"]) == (code, field)
    assert _rows(libeo_app) == before
    assert "F-REFUSEE" not in _listing(client, account.email)


def test_a_refused_payment_changes_nothing_of_an_invoice_libeo_has(api, libeo_app):
    assert _pay_with_invoice(api).status_code == 201
    before = _rows(libeo_app)
    # Already paid: neither the renumbering nor anything else sticks.
    again = _pay_with_invoice(api, key="k2", invoice=invoice_body(number="F-RENUMEROTEE"))
    assert again.status_code == 409 and again.json["error"]["code"] == "payment_exists"
    # The transfer of an invoice being paid cannot change.
    locked = _pay_with_invoice(api, key="k3", invoice=invoice_body(amount_cents=1))
    assert locked.status_code == 409 and locked.json["error"]["code"] == "invoice_locked"
    assert _rows(libeo_app) == before


def test_a_refused_payment_leaves_an_invoice_put_earlier_unlisted_and_unchanged(client, libeo_app):
    info = make_account(libeo_app, accountant="expert@cabinet-durand.fr")
    api = Api(client, make_key(libeo_app, info.id))
    api.put_invoice("meg-1", number="F-ENVOYEE")
    before = _rows(libeo_app)
    refused = api.pay("meg-1", body={**pay_body("autre@cabinet.fr", "accountant"),
                                     "invoice": invoice_body(number="F-MODIFIEE")})
    assert refused.status_code == 403
    assert _rows(libeo_app) == before
    listing = _listing(client, info.email)
    assert "F-ENVOYEE" not in listing and "F-MODIFIEE" not in listing
