"""Fuzzing with a bounded number of examples.

- Schemathesis against Libeo's OpenAPI document, in process (WSGI), with a
  real API key: every check it has (no 5xx, status codes, content types,
  headers and bodies as documented, schema-valid data accepted, invalid
  data refused, authentication not ignored…), positive and negative data.
- Hypothesis on core.money and core.validators: round trips, bounds, and no
  exception but the documented one.
"""

from __future__ import annotations

import string
import uuid

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schwifty import IBAN
from sqlalchemy import select
from stdnum import luhn

from blueprints.libeo.api.openapi import TEXT_PATTERN
from blueprints.libeo.api.validation import matches
from core.money import (
    MAX_AMOUNT_CENTS,
    InvalidAmount,
    cents_to_input,
    check_amount_cents,
    format_amount,
    parse_amount,
)
from core.validators import (
    InvalidIdentifier,
    clean_text,
    normalize_bic,
    normalize_iban,
    normalize_siret,
)
from tests.conftest import meg_initiator

from .helpers import BOULANGERIE_SIRET, libeo_account

# No example database in the repository; bounded runs.
FAST = settings(max_examples=200, deadline=None, database=None)
API_EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 15, schemathesis.GenerationMode.NEGATIVE: 10}

# PUT /invoices/{external_id}/document takes a PDF as its body: a small real one, or any bytes (a 422).
TINY_PDF = (b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n2 0 obj <</Type /Pages /Kids [] /Count 0>> "
            b"endobj\ntrailer <</Size 3 /Root 1 0 R>>\n%%EOF\n")
schemathesis.openapi.media_type("application/pdf", st.one_of(st.just(TINY_PDF), st.binary(max_size=2048)))

# A schema-valid request may still be refused for what JSON Schema cannot say:
# an IBAN's check digits, a due date before the issue date, the month's quota,
# an invoice already paid. Those answers are documented (402/409/422).
# (403: « accountant » is only the accountant the company declared.)
CHECKS = {"positive_data_acceptance": {"expected-statuses": ["2xx", "402", "403", "404", "409", "422"]}}


# --- the API ----------------------------------------------------------------------------------


@pytest.fixture
def api(make_apps):
    apps = make_apps()
    _, key = libeo_account(apps.libeo, "Boulangerie Martin SARL", BOULANGERIE_SIRET, "claire@boulangerie-martin.fr")
    # MEG's signed word on who pays, as MEG sends it with each payment and cancellation.
    auth = {"Authorization": f"Bearer {key}",
            "MEG-Initiator": meg_initiator(apps.root, BOULANGERIE_SIRET, "claire@boulangerie-martin.fr")}
    client = apps.root.test_client()
    invoice = {"number": "F-1", "supplier": {"name": "Minoterie Dupuis", "iban": "FR7630006000010000000791963"},
               "amount_cents": 1234, "currency": "EUR", "issue_date": "2026-01-05", "due_date": "2026-02-05"}
    for external_id in ("meg-1", "meg-2"):
        assert client.put(f"/libeo/api/v1/invoices/{external_id}", json=invoice, headers=auth).status_code == 201
    paid = client.post("/libeo/api/v1/invoices/meg-1/payments", headers={**auth, "Idempotency-Key": "k1"},
                       json={"initiated_by": {"email": "claire@boulangerie-martin.fr", "role": "user"}})
    assert paid.status_code == 201
    _remit(apps.libeo)  # so that its receipt exists
    config = schemathesis.Config.from_dict({"checks": CHECKS})
    schema = schemathesis.openapi.from_wsgi("/libeo/api/v1/openapi.json", apps.root, config=config)

    def fresh_auth() -> dict:
        """Another key of the account (the previous one stops working): for DELETE /key."""
        from models.libeo import Account, db
        from models.libeo.accounts.keys import issue_meg_api_key

        with apps.libeo.app_context():
            key = issue_meg_api_key(db.session.scalar(select(Account)))
            db.session.commit()
        return {"Authorization": f"Bearer {key}"}

    return schema, auth, paid.get_json()["id"], fresh_auth


def _remit(libeo_app) -> None:
    """The account's scheduled payments put in a SEPA file: « Remis à la banque »."""
    from datetime import date

    from models.libeo import Account, db
    from models.libeo.payments.sepa import execute_due_payments

    with libeo_app.app_context():
        for account in db.session.scalars(select(Account)):
            account.debtor_iban = "FR7630004008220000001583859"
        db.session.commit()
        execute_due_payments(None, date(2099, 12, 31))


def run_operation(operation, auth, mode, fresh_auth=None, **fixed):
    @settings(max_examples=API_EXAMPLES[mode], deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    @given(case=operation.as_strategy(mode, **fixed))
    def call(case):
        if mode is schemathesis.GenerationMode.POSITIVE and "Idempotency-Key" in (case.headers or {}):
            # A fresh key, so that a positive example is a new payment request, not a replay.
            case.headers["Idempotency-Key"] = f"fuzz-{uuid.uuid4()}"
        if mode is schemathesis.GenerationMode.NEGATIVE:
            # A query value of [] or None is not sent at all: what arrives is then a valid request
            # (with the valid key this test always sends), not the invalid one schemathesis meant.
            assume(all(value not in ([], None) for value in (case.query or {}).values()))
        headers = fresh_auth() if fresh_auth else dict(auth)
        given_initiator = (case.headers or {}).get("MEG-Initiator")
        if mode is schemathesis.GenerationMode.NEGATIVE and given_initiator is not None \
                and not 20 <= len(given_initiator) <= 8000:
            # The header schemathesis made invalid stays so: replaced by the valid one, the request would be
            # a valid one, rightly accepted.
            headers.pop("MEG-Initiator", None)
        case.call_and_validate(headers=headers)

    call()


@pytest.mark.parametrize("mode", list(API_EXAMPLES), ids=lambda m: m.name.lower())
def test_the_api_keeps_to_its_openapi_document(api, mode):
    schema, auth, payment_id, fresh_auth = api
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} == {
        "GET /me", "PUT /invoices/{external_id}", "POST /invoices/{external_id}/payments", "GET /payments/{payment_id}",
        "GET /events", "DELETE /key", "PUT /invoices/{external_id}/document", "GET /payments/{payment_id}/receipt.pdf",
        "POST /payments/{payment_id}/cancel", "POST /payment-batches", "POST /account/meg-vouch",
        "POST /payment-requests/void",
    }
    by_label = {op.label: op for op in operations}
    for operation in operations:
        if operation.label != "DELETE /key":
            run_operation(operation, auth, mode)
    # Again on rows that exist, so that checks see the successful answers too.
    run_operation(by_label["POST /invoices/{external_id}/payments"], auth, mode,
                  path_parameters={"external_id": "meg-2"})
    run_operation(by_label["GET /payments/{payment_id}"], auth, mode, path_parameters={"payment_id": payment_id})
    run_operation(by_label["GET /payments/{payment_id}/receipt.pdf"], auth, mode,
                  path_parameters={"payment_id": payment_id})
    run_operation(by_label["PUT /invoices/{external_id}/document"], auth, mode,
                  path_parameters={"external_id": "meg-2"})
    run_operation(by_label["POST /payments/{payment_id}/cancel"], auth, mode,
                  path_parameters={"payment_id": payment_id})
    # Last, each example with a key of its own: it revokes the key it is called with.
    run_operation(by_label["DELETE /key"], auth, mode, fresh_auth=fresh_auth)


# --- money --------------------------------------------------------------------------------------


@FAST
@given(st.integers(min_value=1, max_value=MAX_AMOUNT_CENTS))
def test_amounts_survive_their_display_and_their_form_field(cents):
    assert parse_amount(format_amount(cents)) == cents
    assert parse_amount(cents_to_input(cents)) == cents


@pytest.mark.parametrize("typed, cents", [
    ("1 234,56", 123456), ("1\u202f234\u00a0567,89\u00a0€", 123456789), ("1'234.56", 123456), (" 12,50 € ", 1250),
])
def test_thousands_grouped_by_threes_are_read(typed, cents):
    assert parse_amount(typed) == cents


@pytest.mark.parametrize("typed", ["12 34", "1 2", "1 23 4,5", "1 234,5 6", "1234 567", "12 345 67,00"])
def test_a_space_that_groups_no_thousands_is_refused_not_guessed(typed):
    with pytest.raises(InvalidAmount, match="ailleurs qu'entre des groupes de trois chiffres"):
        parse_amount(typed)


amount_like = st.one_of(
    st.text(),
    st.text(alphabet="0123456789,. -+€\u00a0\u202f'", max_size=25),
    st.from_regex(r"[+-]?[0-9]{1,18}([.,][0-9]{0,4})?", fullmatch=True),
)


@FAST
@given(amount_like)
def test_parsing_any_text_gives_cents_in_bounds_or_a_french_refusal(text):
    try:
        cents = parse_amount(text)
    except InvalidAmount as refusal:
        assert str(refusal) and str(refusal)[0].isupper()
    else:
        assert isinstance(cents, int) and 1 <= cents <= MAX_AMOUNT_CENTS


@FAST
@given(st.one_of(st.integers(), st.floats(allow_nan=True), st.booleans(), st.none(), st.text(max_size=5)))
def test_only_integral_cents_within_bounds_are_amounts(value):
    valid = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_AMOUNT_CENTS
    if valid:
        assert check_amount_cents(value) == value
    else:
        with pytest.raises(InvalidAmount):
            check_amount_cents(value)


# --- identifiers --------------------------------------------------------------------------------


def sirets():
    def build(siren_body: int, nic: int) -> str:
        siren = f"{siren_body:08d}"
        siren += luhn.calc_check_digit(siren)
        base = f"{siren}{nic:04d}"
        return base + luhn.calc_check_digit(base)

    return st.builds(build, st.integers(10_000_000, 99_999_999), st.integers(0, 9999))


@FAST
@given(st.one_of(st.text(max_size=20), st.from_regex(r"[0-9 ]{12,18}", fullmatch=True), sirets()))
def test_a_siret_is_fourteen_ascii_digits_or_refused(value):
    try:
        siret = normalize_siret(value)
    except InvalidIdentifier as refusal:
        assert str(refusal)
    else:
        assert (len(siret) == 14 and siret.isascii() and siret.isdigit() and luhn.is_valid(siret)
                or siret.startswith("356000000"))


@FAST
@given(sirets(), st.sampled_from(["", " ", "  "]))
def test_valid_sirets_are_accepted_however_spaced(siret, space):
    spaced = space.join([siret[:3], siret[3:6], siret[6:9], siret[9:]])
    assert normalize_siret(spaced) == siret


def ibans():
    return st.builds(
        lambda bank, account: IBAN.generate("FR", bank_code=f"{bank:05d}", account_code=f"{account:011d}").compact,
        st.integers(10_000, 99_999),
        st.integers(0, 10**11 - 1),
    )


@FAST
@given(st.one_of(st.text(max_size=40), st.text(alphabet=string.ascii_uppercase + string.digits + " ", max_size=40),
                 ibans()))
def test_an_iban_is_compact_uppercase_ascii_or_refused(value):
    try:
        iban = normalize_iban(value)
    except InvalidIdentifier as refusal:
        assert str(refusal)
    else:
        assert iban.isascii() and iban.isalnum() and iban == iban.upper() and 15 <= len(iban) <= 34


@FAST
@given(ibans())
def test_valid_ibans_are_accepted_grouped_and_in_lower_case(iban):
    grouped = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    assert normalize_iban(grouped.lower()) == iban


@FAST
@given(st.one_of(st.none(), st.text(max_size=14), st.from_regex(r"[A-Za-z]{6}[A-Za-z0-9]{2}([A-Za-z0-9]{3})?",
                                                                fullmatch=True)))
def test_a_bic_is_none_eight_or_eleven_characters_or_refused(value):
    try:
        bic = normalize_bic(value)
    except InvalidIdentifier as refusal:
        assert str(refusal)
    else:
        assert bic is None or (len(bic) in (8, 11) and bic.isascii() and bic.isalnum())


# Letters, spaces of every kind, invisible and direction-changing characters.
ODD_TEXT = st.text(alphabet=st.sampled_from(list(
    "aé1 \t\n\u00a0\u2007\u200b\u200e\u202a\u202e\u2066\u2069\u2028\u3000\ufeff\u0085\u00ad")), max_size=12)


@FAST
@given(st.one_of(st.text(max_size=80), ODD_TEXT), st.integers(min_value=1, max_value=60), st.booleans())
def test_clean_text_keeps_to_its_bounds_and_to_what_libeo_api_accepts(value, max_length, required):
    try:
        text = clean_text(value, max_length=max_length, label="Numéro", required=required)
    except InvalidIdentifier as refusal:
        assert "Numéro" in str(refusal)
    else:
        assert len(text) <= max_length and text == text.strip()
        # MEG sends these texts to Libeo's API: what one side accepts, the other must too.
        assert not text or matches(TEXT_PATTERN, text), repr(text)
