"""Libeo's safeguards at their edges: what a refused payment teaches, and an invoice number written otherwise.

Payments come through the API (as MEG sends them, alone or as a selection); administrators decide in
« À approuver ». The assertions read what a person or MEG reads: the API's JSON and the « Journal ».
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.calendar import earliest_execution_date
from core.dates import paris_today
from models.libeo import KnownSupplierIban, Plan, db
from models.libeo.payments.safeguards import FIRST_PAYMENT, supplier_key
from tests.helpers import text

from .conftest import (
    DEBTOR_IBAN,
    SUPPLIER_IBAN,
    Api,
    invoice_body,
    make_account,
    make_key,
    pay_body,
    valid_iban,
)


def dated_constants() -> dict:
    """What this module derives from today, computed again when a run crosses midnight in Paris (tests/conftest.py)."""
    return {"DAY": earliest_execution_date(paris_today())}


(DAY,) = dated_constants().values()
FRAUD_IBAN = valid_iban(6_666_001)  # the IBAN a fraudster's letter gives as the supplier's « new » one


@pytest.fixture
def admin(libeo_app, client, libeo_auth):
    """A verified Partnerships account (no quota in the way), its MEG API key, its administrator signed in."""
    info = make_account(libeo_app, name="Boulangerie Martin SARL", plan=Plan.PARTNERSHIPS, debtor_iban=DEBTOR_IBAN,
                        accountant="expert@cabinet-durand.fr")
    libeo_auth.login(info.email)
    info.api = Api(client, make_key(libeo_app, info.id))
    return info


@pytest.fixture
def threshold(admin, client) -> None:
    """« Configuration » → « Approbations »: above 1 000 €, an administrator approves."""
    assert client.post("/libeo/configuration/approbations", data={"threshold": "1 000"}).status_code == 302


def supplier(iban: str = SUPPLIER_IBAN, name: str = "Minoterie Dupuis") -> dict:
    return {"name": name, "iban": iban}


def pay(api: Api, external_id: str, **invoice) -> dict:
    """MEG's « Payer »: the invoice and the request in one call."""
    body = pay_body(execution_date=DAY.isoformat(), invoice=invoice_body(**invoice))
    response = api.pay(external_id, key=f"idem-{external_id}", body=body)
    assert response.status_code == 201, response.json
    return response.json


def pay_as_selection(api: Api, *items: tuple[str, dict]) -> list[dict]:
    """MEG's « Payer la sélection »: the invoices and their requests in one call (``POST /payment-batches``)."""
    answer = api.post("/payment-batches", json={"items": [
        {"external_id": external_id, "idempotency_key": f"cle-{external_id}",
         "payment": pay_body(execution_date=DAY.isoformat(), invoice=invoice_body(**invoice))}
        for external_id, invoice in items]})
    assert answer.status_code == 200, answer.json
    assert [item["status"] for item in answer.json["items"]] == [201] * len(items), answer.json
    return [item["payment"] for item in answer.json["items"]]


def refuse(client, payment: dict, reason: str = "RIB frauduleux") -> None:
    assert client.post(f"/libeo/a-approuver/{payment['id']}/refuser", data={"reason": reason}).status_code == 302


def approve(client, payment: dict) -> None:
    assert client.post(f"/libeo/a-approuver/{payment['id']}/approuver").status_code == 302


def taught_before_it_was_refused(libeo_app, account_id: int, iban: str, name: str = "Minoterie Dupuis") -> None:
    """The known IBAN a payment held only for the amount rule used to teach at its creation (as an account
    upgraded with such a payment still waiting has it)."""
    with libeo_app.app_context():
        known = db.session.scalar(select(KnownSupplierIban).where(KnownSupplierIban.account_id == account_id,
                                                                  KnownSupplierIban.iban == iban))
        if known is None:
            db.session.add(KnownSupplierIban(account_id=account_id, supplier_key=supplier_key(name),
                                             supplier_name=name, iban=iban, recorded_by=FIRST_PAYMENT))
        db.session.commit()


# --- What a refused payment teaches -------------------------------------------------------------------------


def test_an_iban_an_administrator_refused_is_not_trusted_afterwards(admin, threshold, client):
    """A supplier's first payment, held for the amount rule alone, is refused as a fraud: its IBAN was never
    paid, so the genuine IBAN is not held against it, and the fraudster's, asked again under the threshold,
    is held as a new IBAN of the supplier."""
    fraud = pay(admin.api, "meg-1", n=1, amount_cents=150_000, supplier=supplier(FRAUD_IBAN))
    assert fraud["hold_reasons"] == ["approval_rule"]
    refuse(client, fraud)

    genuine = pay(admin.api, "meg-2", n=2, amount_cents=30_000, supplier=supplier(SUPPLIER_IBAN))
    if genuine["status"] == "awaiting_approval":  # held against the refused IBAN: the administrator approves
        approve(client, genuine)

    again = pay(admin.api, "meg-3", n=3, amount_cents=50_000, supplier=supplier(FRAUD_IBAN))

    assert again["status"] == "awaiting_approval", "the IBAN refused as « RIB frauduleux » was paid without a hold"
    assert "new_iban" in again["hold_reasons"]


def test_the_genuine_iban_after_a_refused_one_is_not_said_to_follow_it(admin, threshold, client):
    """The supplier was never paid on the refused IBAN: no « payé jusqu'ici sur l'IBAN … » naming it."""
    refuse(client, pay(admin.api, "meg-1", n=1, amount_cents=150_000, supplier=supplier(FRAUD_IBAN)))

    genuine = pay(admin.api, "meg-2", n=2, amount_cents=30_000, supplier=supplier(SUPPLIER_IBAN))

    assert genuine["status"] == "scheduled", genuine["hold_details"]


def test_a_payment_held_for_the_amount_teaches_its_iban_once_approved(admin, threshold, client):
    first = pay(admin.api, "meg-1", n=1, amount_cents=150_000, supplier=supplier(SUPPLIER_IBAN))
    approve(client, first)

    other = pay(admin.api, "meg-2", n=2, amount_cents=30_000, supplier=supplier(FRAUD_IBAN))

    assert other["hold_reasons"] == ["new_iban"]
    assert "payé jusqu'ici sur l'IBAN FR76 •••• •••• •••• •••• ••56 723" in other["hold_details"][0].replace(
        "\u202f", " ").replace("\u00a0", " ")


@pytest.mark.parametrize("as_selection", [False, True], ids=["one by one", "as a selection"])
def test_while_a_first_payment_waits_for_its_amount_another_iban_for_the_supplier_is_held(
        admin, threshold, client, as_selection):
    """The supplier's first payment, held for its amount, waits in « À approuver »: a second one to another
    IBAN for the same supplier is held as a new IBAN (not paid at once as if it were the first)."""
    first = {"n": 1, "amount_cents": 150_000, "supplier": supplier(SUPPLIER_IBAN)}
    second = {"n": 2, "amount_cents": 30_000, "supplier": supplier(FRAUD_IBAN)}
    if as_selection:
        held, other = pay_as_selection(admin.api, ("meg-1", first), ("meg-2", second))
    else:
        held, other = pay(admin.api, "meg-1", **first), pay(admin.api, "meg-2", **second)

    assert held["hold_reasons"] == ["approval_rule"]
    assert other["status"] == "awaiting_approval" and "new_iban" in other["hold_reasons"]


def test_a_payment_of_a_selection_held_for_the_amount_teaches_nothing_when_refused(admin, threshold, client):
    """« Payer la sélection » checks its payments in turn as they would be alone: the same lesson."""
    [fraud] = pay_as_selection(admin.api, ("meg-1", {"n": 1, "amount_cents": 150_000,
                                                     "supplier": supplier(FRAUD_IBAN)}))
    assert fraud["hold_reasons"] == ["approval_rule"]
    refuse(client, fraud)

    [genuine, again] = pay_as_selection(
        admin.api, ("meg-2", {"n": 2, "amount_cents": 30_000, "supplier": supplier(SUPPLIER_IBAN)}),
        ("meg-3", {"n": 3, "amount_cents": 50_000, "supplier": supplier(FRAUD_IBAN)}))

    assert genuine["status"] == "scheduled", genuine["hold_details"]
    assert again["hold_reasons"] == ["new_iban"]


def test_a_refusal_withdraws_what_its_payment_taught_before(admin, threshold, client, libeo_app):
    """A payment held for the amount rule and refused, whose IBAN was learnt when it was created (before this
    rule): the refusal forgets it, and says so in the « Journal »."""
    fraud = pay(admin.api, "meg-1", n=1, amount_cents=150_000, supplier=supplier(FRAUD_IBAN))
    taught_before_it_was_refused(libeo_app, admin.id, FRAUD_IBAN)
    refuse(client, fraud)

    genuine = pay(admin.api, "meg-2", n=2, amount_cents=30_000, supplier=supplier(SUPPLIER_IBAN))
    again = pay(admin.api, "meg-3", n=3, amount_cents=50_000, supplier=supplier(FRAUD_IBAN))

    assert genuine["status"] == "scheduled", genuine["hold_details"]
    assert again["hold_reasons"] == ["new_iban"]
    assert ("IBAN FR76 •••• •••• •••• •••• ••00 172 (CREDIT AGRICOLE SA) oublié pour Minoterie Dupuis : le paiement de "
            "la facture F-2026-001 qui l'avait appris a été refusé.") in text(client.get("/libeo/journal/"))


def test_a_refusal_keeps_an_iban_a_payment_created_without_a_hold_taught(admin, threshold, client):
    """The IBAN was paid before without a hold (trust on first use): refusing another payment to it for its
    amount takes nothing back."""
    assert pay(admin.api, "meg-1", n=1, amount_cents=30_000)["status"] == "scheduled"
    refuse(client, pay(admin.api, "meg-2", n=2, amount_cents=150_000), "Montant à vérifier")

    other = pay(admin.api, "meg-3", n=3, amount_cents=31_000, supplier=supplier(FRAUD_IBAN))
    assert other["hold_reasons"] == ["new_iban"]
    assert pay(admin.api, "meg-4", n=4, amount_cents=50_000)["status"] == "scheduled"
    assert "oublié pour" not in text(client.get("/libeo/journal/"))


def test_a_refusal_keeps_an_iban_an_approved_payment_taught_first(admin, threshold, client, libeo_app):
    """Two payments to the IBAN held for their amount, the first learnt at its creation (before this rule) and
    approved since: refusing the second leaves the IBAN known."""
    first = pay(admin.api, "meg-1", n=1, amount_cents=150_000)
    taught_before_it_was_refused(libeo_app, admin.id, SUPPLIER_IBAN)
    second = pay(admin.api, "meg-2", n=2, amount_cents=120_000)
    approve(client, first)
    refuse(client, second, "Montant à vérifier")

    other = pay(admin.api, "meg-3", n=3, amount_cents=31_000, supplier=supplier(FRAUD_IBAN))
    assert other["hold_reasons"] == ["new_iban"]
    assert "oublié pour" not in text(client.get("/libeo/journal/"))


# --- The same invoice number written otherwise --------------------------------------------------------------


@pytest.mark.parametrize("first, again", [
    ("F-2026-001", "F–2026–001"),            # en dashes (a PDF's, a word processor's)
    ("F-2026-001", "F\u20112026\u2011001"),  # non-breaking hyphens
    ("F-2026-001", "F\u00a02026\u00a0001"),  # no-break spaces (copied from a PDF)
    ("F-2026-001", "Ｆ-２０２６-００１"),      # full-width (a Japanese keyboard, an OCR)
    ("FA-000123", "FA-123"),                 # leading zeros
])
def test_a_reminder_of_an_invoice_already_paid_is_held_as_a_duplicate(admin, first, again):
    """The supplier's reminder (« relance ») carries the same invoice, date and number plus the 40 € recovery
    fee, so the same-amount rule does not see it: only the number can tell it is the same invoice."""
    assert pay(admin.api, "meg-1", number=first, amount_cents=120_000)["status"] == "scheduled"

    reminder = pay(admin.api, "meg-2", number=again, amount_cents=124_000)

    assert reminder["status"] == "awaiting_approval", f"invoice {again!r} paid again after {first!r}"
    assert reminder["hold_reasons"] == ["duplicate_suspected"]


@pytest.mark.parametrize("first, again", [
    ("F-2026-001", "f 2026 001"),      # case and spaces, as before
    ("F-0012", "f12"),
    ("N° 2026/45", "N 2026-45"),       # any script's punctuation and symbols
    ("F·2026·001", "F 2026 001"),      # a middle dot
    ("F-2026\u200b-001", "F-2026-001"),  # an invisible space
    ("F-٢٠٢٦-٠٠١", "F-2026-001"),      # Arabic-Indic digits
    ("Straße-7", "STRASSE 7"),         # case folded, not only lowered
])
def test_a_number_written_otherwise_in_the_same_selection_is_held_as_a_duplicate(admin, first, again):
    second = pay_as_selection(admin.api, ("meg-1", {"number": first, "amount_cents": 60_000}),
                              ("meg-2", {"number": again, "amount_cents": 64_000}))[1]

    assert second["hold_reasons"] == ["duplicate_suspected"], f"{again!r} after {first!r}"


@pytest.mark.parametrize("first, other", [
    ("F-2026-001", "F-2026-002"),
    ("F-10", "F-100"),                 # only leading zeros go: « 10 » is not « 1 »
    ("F-2026-010", "F-2026-100"),
    ("FA-12", "FB-12"),
    ("F-0", "F-00-1"),
])
def test_another_number_of_the_same_supplier_is_not_a_duplicate(admin, first, other):
    assert pay(admin.api, "meg-1", number=first, amount_cents=60_000)["status"] == "scheduled"
    assert pay(admin.api, "meg-2", number=other, amount_cents=64_000)["status"] == "scheduled"
