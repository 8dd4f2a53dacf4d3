"""An invoice's totals as EN 16931 defines them, in Libeo: an invoice of 671,15 € TTC of which 201,00 € were
already paid is sent by MEG with its totals; Libeo keeps them, shows them on the invoice and in « Factures »,
pays the amount due and says so before the click. Totals that do not add up to the amount due are refused."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.dates import utcnow
from models.libeo import Invoice, Payment, db
from tests.html_forms import plain

from .conftest import invoice_body, pay_body

# 636,16 € HT, 34,99 € of VAT: 671,15 € TTC; 201,00 € paid with the order: 470,15 € due.
TOTALS = {"net_cents": 63_616, "vat_cents": 3_499, "total_cents": 67_115, "prepaid_cents": 20_100,
          "rounding_cents": None}


def deposit_body(**changes) -> dict:
    return invoice_body(number="FA-2026-0671", amount_cents=47_015, totals=dict(TOTALS), **changes)


def stored(libeo_app, external_id: str = "meg-1") -> dict | None:
    with libeo_app.app_context():
        invoice = db.session.scalar(select(Invoice).where(Invoice.external_id == external_id))
        if invoice is None:
            return None
        return {"amount": invoice.amount_cents, "net": invoice.net_cents, "vat": invoice.vat_cents,
                "total": invoice.total_cents, "prepaid": invoice.prepaid_cents, "rounding": invoice.rounding_cents}


def payable_in_lists(libeo_app, external_id: str = "meg-1") -> int:
    """The invoice enters Libeo's lists as if paid once and cancelled: payable, shown."""
    with libeo_app.app_context():
        invoice = db.session.scalar(select(Invoice).where(Invoice.external_id == external_id))
        invoice.imported_at = utcnow()
        db.session.commit()
        return invoice.id


def test_the_totals_are_kept_and_answered(api, libeo_app):
    answer = api.put("/invoices/meg-1", json=deposit_body())
    assert answer.status_code == 201, answer.json
    assert answer.json["amount_cents"] == 47_015
    assert answer.json["totals"] == TOTALS
    assert stored(libeo_app) == {"amount": 47_015, "net": 63_616, "vat": 3_499, "total": 67_115,
                                 "prepaid": 20_100, "rounding": None}

    # Sent again without totals (typed by hand in MEG since): the amount alone.
    again = api.put("/invoices/meg-1", json=invoice_body(number="FA-2026-0671", amount_cents=47_015))
    assert again.status_code == 200 and again.json["totals"] is None
    assert stored(libeo_app)["total"] is None


def test_a_rounding_counts_in_the_amount_due(api, libeo_app):
    totals = {"total_cents": 10_003, "rounding_cents": -3}
    answer = api.put("/invoices/meg-1", json=invoice_body(amount_cents=10_000, totals=totals))
    assert answer.status_code == 201, answer.json
    assert stored(libeo_app)["rounding"] == -3


@pytest.mark.parametrize("amount, totals", [
    (67_115, TOTALS),  # the total with VAT sent as the amount due
    (47_015, {**TOTALS, "prepaid_cents": None}),
    (47_015, {**TOTALS, "rounding_cents": 1}),
], ids=["total-as-due", "prepaid-missing", "rounding"])
def test_totals_that_do_not_add_up_are_refused_in_french_and_nothing_is_kept(api, libeo_app, amount, totals):
    answer = api.put("/invoices/meg-1", json=invoice_body(amount_cents=amount, totals=totals))
    assert answer.status_code == 422
    assert answer.json["error"]["code"] == "validation_error"
    assert answer.json["error"]["field"] == "amount_cents"
    assert answer.json["error"]["message"].startswith("Le montant à payer (")
    assert "doit être le montant TTC (671,15\u00a0€) moins le déjà payé" in answer.json["error"]["message"]
    assert stored(libeo_app) is None


@pytest.mark.parametrize("totals, field", [
    ({"net_cents": 63_616}, "totals.total_cents"),
    ({**TOTALS, "total_cents": "671,15"}, "totals.total_cents"),
    ({**TOTALS, "total_cents": 0}, "totals.total_cents"),
    ({**TOTALS, "vat_cents": 1.5}, "totals.vat_cents"),
    ({**TOTALS, "tva": 1}, "totals.tva"),
    ("671,15", "totals"),
], ids=["no-total", "text", "zero", "fraction", "unknown-field", "not-an-object"])
def test_badly_shaped_totals_are_refused_naming_the_field(api, libeo_app, totals, field):
    answer = api.put("/invoices/meg-1", json=invoice_body(amount_cents=47_015, totals=totals))
    assert answer.status_code == 422
    assert answer.json["error"]["field"] == field
    assert stored(libeo_app) is None


def test_a_payment_request_carrying_wrong_totals_creates_nothing(api, libeo_app):
    body = pay_body(invoice=invoice_body(amount_cents=67_115, totals=TOTALS))
    answer = api.post("/invoices/meg-1/payments", json=body, headers={"Idempotency-Key": "k-1"})
    assert answer.status_code == 422
    assert answer.json["error"]["field"] == "invoice.amount_cents"
    assert stored(libeo_app) is None
    with libeo_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 0


def test_the_payment_is_for_the_amount_due(api, libeo_app):
    answer = api.post("/invoices/meg-1/payments", json=pay_body(invoice=deposit_body()),
                      headers={"Idempotency-Key": "k-1"})
    assert answer.status_code == 201, answer.json
    assert answer.json["amount_cents"] == 47_015
    assert stored(libeo_app)["total"] == 67_115


def test_the_invoice_page_the_list_and_the_pay_panel_show_both(api, libeo_app, client, signed_in):
    assert api.put("/invoices/meg-1", json=deposit_body()).status_code == 201
    invoice_id = payable_in_lists(libeo_app)

    page = plain(client.get(f"/libeo/factures/{invoice_id}").get_data(as_text=True))
    assert ("Total HT 636,16 € TVA 34,99 € Montant TTC 671,15 € Déjà payé 201,00 € Net à payer 470,15 €"
            in page)
    assert ("Montant du virement : 470,15 € : le net à payer, pas le montant TTC de 671,15 € "
            "(201,00 € déjà payés)") in page
    listed = plain(client.get("/libeo/factures/").get_data(as_text=True))
    assert "671,15 € net à payer 470,15 €" in listed
    confirm = plain(client.get(f"/libeo/factures/selection?facture={invoice_id}").get_data(as_text=True))
    assert "470,15 € net à payer, TTC 671,15 €" in confirm
    exported = client.get("/libeo/factures/export.csv").get_data(as_text=True).lstrip("\ufeff").splitlines()
    header, row = exported[0].split(";"), exported[1].split(";")
    assert (row[header.index("Montant TTC")], row[header.index("Net à payer")]) == ("671,15", "470,15")


def test_an_invoice_without_totals_shows_one_amount(api, libeo_app, client, signed_in):
    assert api.put("/invoices/meg-1", json=invoice_body(amount_cents=46_440)).status_code == 201
    invoice_id = payable_in_lists(libeo_app)

    page = plain(client.get(f"/libeo/factures/{invoice_id}").get_data(as_text=True))
    assert "Montant TTC 464,40 €" in page and "Montant du virement : 464,40 €" in page
    assert "Net à payer" not in page and "Total HT" not in page
    assert "net à payer" not in plain(client.get("/libeo/factures/").get_data(as_text=True))


def test_the_published_schemas_describe_the_totals(client, api):
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    schemas = client.get("/libeo/api/v1/openapi.json").json["components"]["schemas"]
    jsonschema_rs.validator_for(schemas["InvoiceInput"]).validate(deposit_body())
    jsonschema_rs.validator_for(schemas["Invoice"]).validate(api.put("/invoices/meg-1", json=deposit_body()).json)
    assert "BR-CO-16" in schemas["InvoiceInput"]["properties"]["totals"]["description"]


def test_the_database_refuses_totals_that_do_not_add_up(api, libeo_app):
    from sqlalchemy.exc import IntegrityError

    assert api.put("/invoices/meg-1", json=deposit_body()).status_code == 201
    with libeo_app.app_context():
        invoice = db.session.scalar(select(Invoice))
        invoice.prepaid_cents = 0  # the amount due no longer follows from the totals
        with pytest.raises(IntegrityError, match="totals_add_up"):
            db.session.commit()
        db.session.rollback()
