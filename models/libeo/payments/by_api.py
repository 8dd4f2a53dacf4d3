"""« Payer » through the API (``POST /invoices/{external_id}/payments``, and the items of ``POST /payment-batches``).

One use case owns the whole request: the Idempotency-Key's claim, the
invoice the request carries, the payment, the stored answer, the commits,
and the key given back when the request is refused. The API view parses
the request, calls :func:`pay_by_api` and renders what it returns.
"""

from __future__ import annotations

import re
from datetime import date
from typing import NamedTuple

from core.db import begin_writing, keep_loaded
from models.libeo import monitoring
from models.libeo.accounts.models import Account
from models.libeo.db import db
from models.libeo.errors import InvalidData, LibeoError, NotFound
from models.libeo.invoices.models import Invoice
from models.libeo.invoices.services import InvoiceTotals, invoice_by_external_id, invoice_data, upsert_meg_invoice
from models.libeo.payments.events import payment_json
from models.libeo.payments.idempotency import claim_key, complete, fingerprint, release
from models.libeo.payments.order import Initiator, payment_order, place_payment
from models.libeo.payments.quota import hold_month

# How the API names an invoice (MEG's id): the OpenAPI document publishes this pattern.
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
_EXTERNAL_ID = re.compile(EXTERNAL_ID_PATTERN[1:-1])
BAD_EXTERNAL_ID = "L'identifiant de facture doit comporter 1 à 64 lettres, chiffres, « . _ : - »."


class ApiAnswer(NamedTuple):
    """What the API answers a payment request: its status, its JSON, and whether it replays a first answer."""

    status: int
    body: dict
    replayed: bool


def is_external_id(value: str) -> bool:
    # fullmatch: Python's $ would accept a trailing newline.
    return _EXTERNAL_ID.fullmatch(value) is not None


def upsert_api_invoice(account: Account, external_id: str, body: dict, field_prefix: str = "") -> tuple[Invoice, bool]:
    """The invoice of a (schema-checked) API body, created or updated; True when created.

    Domain errors name the field under ``field_prefix`` (« invoice. » when the
    invoice comes inside a payment request).
    """
    supplier = body["supplier"]
    try:
        data = invoice_data(
            number=body["number"],
            supplier_name=supplier["name"],
            supplier_iban=supplier["iban"],
            supplier_bic=supplier.get("bic"),
            issue_date=date.fromisoformat(body["issue_date"]),
            due_date=date.fromisoformat(body["due_date"]),
            amount_cents=body["amount_cents"],
            currency=body["currency"],
            totals=InvoiceTotals(**body["totals"]) if body.get("totals") else None,
        )
        return upsert_meg_invoice(account, external_id, data)
    except LibeoError as error:
        if field_prefix and error.field:
            error.field = field_prefix + error.field
        raise


def pay_by_api(account: Account, external_id: str, key: str, body: dict, path: str, *,
               initiator: Initiator, claim_alone: bool = True) -> ApiAnswer:
    """One payment request, its body checked against its schema: the answer, or the refusal raised.

    ``path`` is the single request's, also for an item of a batch: the key's fingerprint is the same
    either way, so a request sent in a batch may be replayed alone (MEG's sync pass does) and the
    reverse, and get the first answer. ``initiator``: who asks, as MEG signed it (never the body's
    ``initiated_by``, which the API only compares with it). ``claim_alone``: the claim is committed before the work, so
    that a concurrent duplicate is told at once that the key is in use (409), and given back (and
    committed) when the request is refused. Otherwise (an item of :func:`pay_batch_by_api`) the
    claim and the work stay in the caller's transaction, uncommitted: a refusal raises, and the
    caller undoes the item's savepoint, the key's claim with it.
    """
    if body.get("invoice") is not None and not is_external_id(external_id):
        raise InvalidData(BAD_EXTERNAL_ID, "external_id")
    # The whole body: a replay must send exactly what the first request sent.
    claim = claim_key(account, key, fingerprint("POST", path, body), in_batch=not claim_alone)
    if claim.answer is not None:
        monitoring.idempotency_replays().inc()
        status, answer = claim.answer
        return ApiAnswer(status, answer, True)
    if claim_alone:
        # Committed alone, so that a concurrent duplicate sees the claim at once
        # (the account stays as loaded: nothing else changes it meanwhile).
        with keep_loaded(db):
            db.session.commit()
    execution_date = date.fromisoformat(body["execution_date"]) if body.get("execution_date") else None
    try:
        # The invoice sent with the request and its payment: one transaction, all or nothing. The
        # request is checked before the invoice is written: that first write takes the writers' turn.
        if body.get("invoice") is not None:
            order = payment_order(account, initiator, date.fromisoformat(body["invoice"]["due_date"]), execution_date)
            invoice, created = upsert_api_invoice(account, external_id, body["invoice"], "invoice.")
        else:
            found = invoice_by_external_id(account, external_id) if is_external_id(external_id) else None
            if found is None:
                raise NotFound(
                    "Cette facture n'existe pas dans Libeo : joignez-la à la demande de paiement (champ « invoice ») "
                    "ou envoyez-la d'abord (PUT /invoices/{external_id})."
                )
            invoice, created = found, False
            order = payment_order(account, initiator, invoice.due_date, execution_date)
        payment = place_payment(account, invoice, order, invoice_is_new=created)
        answer = payment_json(payment)
        complete(claim, 201, answer)
        if claim_alone:
            db.session.commit()
    except BaseException:
        if claim_alone:
            db.session.rollback()
            release(claim)
            db.session.commit()
        raise
    return ApiAnswer(201, answer, False)


class BatchRequest(NamedTuple):
    """One item of ``POST /payment-batches``, read and checked: what :func:`pay_by_api` takes."""

    external_id: str
    key: str
    body: dict
    path: str
    initiator: Initiator


def pay_batch_by_api(account: Account, requests: list[BatchRequest]) -> list[ApiAnswer | LibeoError]:
    """Several payment requests, each its own, in one transaction: the answer of each, or its refusal.

    Each item runs in a savepoint: a refusal undoes that item only (its key's claim included, so
    the key is free again), never another. The transaction commits once, after the last item:
    until then a concurrent request with one of the keys waits for it (SQLite: the writers' turn,
    held from the start; PostgreSQL: the month's quota counter, taken first as by every writer of
    the account, then the key's unique index), then replays its answer. Anything
    but a refusal (the database failing) rolls the whole batch back and raises: nothing was done,
    and a replay of the batch does it all.
    """
    answers: list[ApiAnswer | LibeoError] = []
    begin_writing(db)
    try:
        hold_month(account.id)  # the lock every writer of the account takes first, before the keys' claims
        for request in requests:
            savepoint = db.session.begin_nested()
            try:
                answer = pay_by_api(account, request.external_id, request.key, request.body, request.path,
                                    initiator=request.initiator, claim_alone=False)
            except LibeoError as refusal:
                if savepoint.is_active:
                    savepoint.rollback()
                answers.append(refusal)
            else:
                savepoint.commit()
                answers.append(answer)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return answers
