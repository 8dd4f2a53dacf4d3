"""« Payer » through the API (``POST /invoices/{external_id}/payments``, and the items of ``POST /payment-batches``).

One use case owns the whole request: the Idempotency-Key's claim, the
invoice the request carries, the payment, the stored answer, the commits,
and the key given back when the request is refused. The API view parses
the request, calls :func:`pay_by_api` and renders what it returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from core.dates import utcnow
from core.db import begin_writing, keep_loaded
from models.libeo import monitoring
from models.libeo.accounts.models import Account
from models.libeo.db import db
from models.libeo.errors import InvalidData, LibeoError, NotFound
from models.libeo.invoices.models import Invoice
from models.libeo.invoices.services import (
    InvoiceData,
    InvoiceTotals,
    apply_meg_invoice,
    insert_meg_invoices,
    invoice_by_external_id,
    invoice_data,
    invoices_by_external_id,
    proposed_meg_invoice,
    upsert_meg_invoice,
)
from models.libeo.journal import entry_values
from models.libeo.journal import record_all as record_journal
from models.libeo.notifications.events import quota_used_up
from models.libeo.payments.events import payment_json, record_payment_events
from models.libeo.payments.idempotency import (
    claim_key,
    claim_keys,
    complete,
    complete_all,
    fingerprint,
    recorded_answer,
    recorded_keys,
    release,
)
from models.libeo.payments.models import IdempotencyRecord, Payment, invoice_status_for
from models.libeo.payments.order import (
    Initiator,
    PaymentOrder,
    active_payments,
    actor_of,
    already_paid,
    iban_refusal,
    payment_order,
    payment_values,
    place_payment,
    quota_refusal,
)
from models.libeo.payments.quota import count_payments, hold_month, quota_month
from models.libeo.payments.safeguards import Hold, HoldsInTurn, Learnt, held_entry, learnt_entry, remember_learnt

# How the API names an invoice (MEG's id): the OpenAPI document publishes this pattern.
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
_EXTERNAL_ID = re.compile(EXTERNAL_ID_PATTERN[1:-1])
BAD_EXTERNAL_ID = "L'identifiant de facture doit comporter 1 à 64 lettres, chiffres, « . _ : - »."
NO_INVOICE = ("Cette facture n'existe pas dans Libeo : joignez-la à la demande de paiement (champ « invoice ») "
              "ou envoyez-la d'abord (PUT /invoices/{external_id}).")


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
    data = api_invoice_data(body, field_prefix)
    try:
        return upsert_meg_invoice(account, external_id, data)
    except LibeoError as error:
        if field_prefix and error.field:
            error.field = field_prefix + error.field
        raise


def api_invoice_data(body: dict, field_prefix: str = "") -> InvoiceData:
    """The checked values of a (schema-checked) API invoice body; refusals name the field under ``field_prefix``."""
    supplier = body["supplier"]
    try:
        return invoice_data(
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
                raise NotFound(NO_INVOICE)
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

    Each item is answered as :func:`pay_by_api` would answer it alone, after the items before it: a
    refusal of one item never undoes another (nothing of it is written, its key stays free), a replay
    answers as the first time. The transaction begins with the month's quota counter, as every writer
    of the account does (on SQLite the writers' turn, held from the start), and commits once: until
    then a concurrent request with one of the keys waits for it, then replays its answer. Anything but
    a refusal (the database failing) rolls the whole batch back and raises: nothing was done, and a
    replay of the batch does it all.

    The items are decided in Python, then written set-wise (:func:`_pay_set_wise`): a statement per
    table for the whole batch, not per item. A batch that cannot be decided so exactly — a key or an
    invoice named twice, a key another request still holds, a concurrent writer met on the way — is run
    again item by item, each in a savepoint (:func:`_pay_item_by_item`).
    """
    try:
        try:
            answers = _pay_set_wise(account, requests)
        except (_ItemByItem, IntegrityError):
            db.session.rollback()
            answers = _pay_item_by_item(account, requests)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return answers


class _ItemByItem(Exception):
    """The batch cannot be decided set-wise exactly: it is run item by item instead."""


def _pay_item_by_item(account: Account, requests: list[BatchRequest]) -> list[ApiAnswer | LibeoError]:
    """Each item through :func:`pay_by_api` in a savepoint, in turn: a refusal undoes its savepoint only (its
    key's claim included, so the key is free again)."""
    answers: list[ApiAnswer | LibeoError] = []
    begin_writing(db)
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
    return answers


@dataclass
class _Item:
    """An item of a batch on its way: its request, its fingerprint, and what became of it."""

    request: BatchRequest
    request_hash: str
    outcome: ApiAnswer | LibeoError | None = None
    # What the request alone tells (``_read_request``): its order and the invoice it carries, or its refusal.
    refusal: LibeoError | None = None
    data: InvoiceData | None = None
    order: PaymentOrder | None = None
    invoice: Invoice | None = None  # as the payment will see it (proposed, when the request carries it)
    current: Invoice | None = None  # the invoice as stored, if it exists
    hold: Hold | None = None
    payment: dict | None = None  # the payment's values, once decided
    learnt: Learnt | None = None


def _pay_set_wise(account: Account, requests: list[BatchRequest]) -> list[ApiAnswer | LibeoError]:
    """The batch decided in Python and written set-wise, in the caller's transaction (left uncommitted).

    Each item goes through the steps of :func:`pay_by_api` and ``place_payment`` in the same order, with
    their refusals; what the steps read is read once for all the items: the keys' records before the
    writers' turn (with the checks that read nothing: who asks, when, the invoice's fields), the invoices,
    their active payments and the safeguards' rows once the month's counter is held; each item sees the
    items before it as if they were written (the quota they counted, their payments, the IBANs they taught).
    The keys of the payments to create are claimed before anything else is written, as single requests
    claim theirs. Raises _ItemByItem when that cannot be exact.
    """
    if len({r.key for r in requests}) < len(requests) or len({r.external_id for r in requests}) < len(requests):
        raise _ItemByItem
    now = utcnow()
    items = [_Item(r, fingerprint("POST", r.path, r.body)) for r in requests]
    for item in items:  # what the requests alone tell, before the turn (it reads nothing)
        _read_request(account, item)
    # Before the turn too: a key answered keeps its answer, and one claimed from now on is met by ``claim_keys``.
    records = recorded_keys(account.id, [item.request.key for item in items])
    begin_writing(db)
    used = hold_month(account.id, now)
    _replay_recorded(items, records)
    todo = [item for item in items if item.outcome is None]
    stored = invoices_by_external_id(account, [item.request.external_id for item in todo
                                               if is_external_id(item.request.external_id)])
    for item in todo:
        _check_request(account, item, stored.get(item.request.external_id))
    todo = [item for item in todo if item.outcome is None]
    active = active_payments([item.current.id for item in todo if item.current is not None])
    checks = HoldsInTurn(account, [item.invoice for item in todo if item.invoice is not None], now)
    limit, used_up = account.payment_limit, False
    for item in todo:
        invoice, order = item.invoice, item.order
        assert invoice is not None and order is not None  # checked
        try:
            existing = active.get(item.current.id) if item.current is not None else None
            if existing is not None:
                raise already_paid(invoice.number, existing)
            if limit is not None and used >= limit:
                raise quota_refusal(account.plan)
            hold = checks.holds_for(invoice, order.initiator.role, order.initiator.email)
            if hold.rejected_iban:
                raise iban_refusal(invoice, hold.rejected_iban)
        except LibeoError as refusal:
            item.outcome = refusal
            continue
        used += 1
        used_up = used_up or used == limit
        item.hold, item.payment = hold, payment_values(account, invoice, order, hold, now)
        # Not in the session: what the next items' checks see of it.
        item.learnt = checks.created(invoice, Payment(**item.payment), hold)
    done = [item for item in todo if item.outcome is None]
    if done:
        _write(account, done, now, used_up)
    return [_outcome(item) for item in items]


def _outcome(item: _Item) -> ApiAnswer | LibeoError:
    assert item.outcome is not None  # every item is answered or refused
    return item.outcome


def _replay_recorded(items: list[_Item], records: dict[str, IdempotencyRecord]) -> None:
    """The items whose key is recorded answer as the first time (or are refused: another request's key)."""
    for item in items:
        request = item.request
        try:
            if request.body.get("invoice") is not None and not is_external_id(request.external_id):
                raise InvalidData(BAD_EXTERNAL_ID, "external_id")
            record = records.get(request.key)
            if record is None:
                continue
            answer = recorded_answer(record, item.request_hash)
            if answer is None:
                raise _ItemByItem  # another request holds the key (or died holding it): ``claim_key`` decides
            monitoring.idempotency_replays().inc()
            item.outcome = ApiAnswer(answer[0], answer[1], True)
        except LibeoError as refusal:
            item.outcome = refusal


def _read_request(account: Account, item: _Item) -> None:
    """The checks of a request that carries its invoice, which read nothing (who asks and when, the invoice's
    fields), made before the writers' turn: their refusal is kept for its place among the item's steps."""
    request, body = item.request, item.request.body
    if body.get("invoice") is None:
        return  # its order needs the invoice Libeo has: read under the turn
    execution_date = date.fromisoformat(body["execution_date"]) if body.get("execution_date") else None
    try:
        item.order = payment_order(account, request.initiator, date.fromisoformat(body["invoice"]["due_date"]),
                                   execution_date)
        item.data = api_invoice_data(body["invoice"], "invoice.")
    except LibeoError as refusal:
        item.refusal = refusal


def _check_request(account: Account, item: _Item, current: Invoice | None) -> None:
    """The request's own checks, as :func:`pay_by_api` makes them before the payment: who asks and when, the
    invoice it carries (or the one Libeo has)."""
    request, body = item.request, item.request.body
    execution_date = date.fromisoformat(body["execution_date"]) if body.get("execution_date") else None
    try:
        if body.get("invoice") is not None:
            if item.refusal is not None:
                raise item.refusal
            assert item.data is not None  # read (``_read_request``)
            item.invoice, item.current = proposed_meg_invoice(account, request.external_id, item.data,
                                                              current), current
        else:
            if current is None:
                raise NotFound(NO_INVOICE)
            item.invoice = item.current = current
            item.order = payment_order(account, request.initiator, current.due_date, execution_date)
    except LibeoError as refusal:
        item.outcome = refusal


def _write(account: Account, done: list[_Item], now: datetime, used_up: bool) -> None:
    """Writes the decided items, a statement per table for all of them: first their keys' claims (raises
    _ItemByItem when a concurrent request claimed one meanwhile: nothing else is written yet), then the
    invoices, the payments, the quota, the IBANs learnt, the « Journal », the events and notifications,
    and each key's answer."""
    claims = claim_keys(account.id, [(item.request.key, item.request_hash) for item in done])
    if len(claims) != len(done):
        raise _ItemByItem
    created = insert_meg_invoices([_stamped(item) for item in done if item.current is None])
    for item in done:
        if item.current is not None:
            apply_meg_invoice(item.current, _stamped(item))
    invoice_ids = [(item.current or created[item.request.external_id]).id for item in done]
    inserted = db.session.scalars(insert(Payment).returning(Payment).execution_options(render_nulls=True), [
        {**item.payment, "invoice_id": invoice_id} for item, invoice_id in zip(done, invoice_ids, strict=True)
        if item.payment is not None])
    by_invoice = {payment.invoice_id: payment for payment in inserted}
    payments = [by_invoice[invoice_id] for invoice_id in invoice_ids]
    count_payments(account.id, quota_month(now), len(done))
    recorded = remember_learnt(account.id, [item.learnt for item in done if item.learnt is not None])
    entries = []
    for item, payment in zip(done, payments, strict=True):
        assert item.order is not None and item.hold is not None
        actor = actor_of(item.order.initiator)
        if item.learnt is not None and (item.learnt.supplier_key, item.learnt.iban) in recorded:
            entries.append(entry_values(**learnt_entry(account.id, item.learnt, actor)))
        if item.hold:
            entries.append(entry_values(**held_entry(payment, item.hold, actor)))
    record_journal(entries)
    if used_up:
        quota_used_up(account, quota_month(now))
    record_payment_events(account.id, payments)
    answers = []
    for item, payment in zip(done, payments, strict=True):
        answer = ApiAnswer(201, payment_json(payment), False)
        item.outcome = answer
        answers.append((claims[item.request.key], answer.status, answer.body))
    complete_all(answers)


def _stamped(item: _Item) -> Invoice:
    """The item's invoice as its new payment leaves it: its status, and listed in Libeo from now on."""
    assert item.invoice is not None and item.payment is not None
    item.invoice.status = invoice_status_for(item.payment["status"])
    if item.invoice.imported_at is None:
        item.invoice.imported_at = item.payment["created_at"]
    return item.invoice
