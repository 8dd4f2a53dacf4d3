"""« Payer la sélection » through the API: ``POST /payment-batches``, each item its own payment.

Each item carries its own Idempotency-Key and the body the single request
would carry; it gets its own answer, and a refusal of one item (quota,
already paid, a bad date) never undoes another. A replay of the batch, or of
one item alone through ``POST /invoices/{id}/payments``, answers as the
first time: nothing is paid twice.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import event, func, select

from core.db import WRITE_STATEMENTS
from models.libeo import IdempotencyRecord, Invoice, Payment, db
from models.libeo.accounts.models import Plan

from .conftest import SUPPLIER_IBAN, Api, invoice_body, make_account, make_key, pay_body, valid_iban


def _item(n: int, key: str | None = None, **payment) -> dict:
    return {"external_id": f"meg-{n}", "idempotency_key": key or f"cle-{n}",
            "payment": {**pay_body(), "invoice": invoice_body(n), **payment}}


def _batch(api: Api, items):
    return api.post("/payment-batches", json={"items": items})


def _counts(libeo_app) -> tuple[int, int, int]:
    with libeo_app.app_context():
        return (db.session.scalar(select(func.count(Payment.id))), db.session.scalar(select(func.count(Invoice.id))),
                db.session.scalar(select(func.count(IdempotencyRecord.id))))


def test_each_invoice_of_the_selection_is_paid_with_its_own_answer(api, libeo_app):
    answer = _batch(api, [_item(n) for n in (1, 2, 3)])
    assert answer.status_code == 200
    items = answer.json["items"]
    assert [(i["external_id"], i["status"], i["payment"]["status"]) for i in items] == [
        ("meg-1", 201, "scheduled"), ("meg-2", 201, "scheduled"), ("meg-3", 201, "scheduled")]
    assert [i["payment"]["amount_cents"] for i in items] == [48_651, 48_652, 48_653]
    assert _counts(libeo_app) == (3, 3, 3)


def test_a_quota_covering_part_of_the_selection_pays_the_first_ones_only(api, libeo_app):
    """Gratuit: 5 payments a month. Seven asked: the first five are paid, the last two refused, each saying why."""
    items = _batch(api, [_item(n) for n in range(1, 8)]).json["items"]
    assert [i["status"] for i in items] == [201] * 5 + [402, 402]
    refused = items[5]["error"]
    assert refused["code"] == "quota_exceeded" and "formule Gratuit" in refused["message"]
    assert refused["upgrade_url"].endswith("/libeo/abonnement")
    # Nothing of the refused items remains: not their invoice, not their key.
    assert _counts(libeo_app) == (5, 5, 5)


def test_replaying_the_batch_or_one_item_alone_pays_nothing_twice(api, libeo_app):
    first = _batch(api, [_item(n) for n in (1, 2)]).json["items"]
    again = _batch(api, [_item(n) for n in (1, 2)]).json["items"]
    assert [i["payment"] for i in again] == [i["payment"] for i in first]
    assert [i["replayed"] for i in again] == [True, True]
    # MEG's sync pass replays an unheard item alone, with its key and body: the same answer.
    alone = api.pay("meg-2", key="cle-2", body=_item(2)["payment"])
    assert alone.status_code == 201 and alone.json == first[1]["payment"]
    assert alone.headers["Idempotent-Replayed"] == "true"
    assert _counts(libeo_app)[0] == 2


def test_an_item_paid_alone_first_is_replayed_in_the_batch(api, libeo_app):
    alone = api.pay("meg-1", key="cle-1", body=_item(1)["payment"])
    items = _batch(api, [_item(1), _item(2)]).json["items"]
    assert items[0]["payment"] == alone.json and items[0]["replayed"] is True
    assert items[1]["status"] == 201 and _counts(libeo_app)[0] == 2


def test_one_refused_item_never_undoes_the_others(api, libeo_app):
    items = _batch(api, [
        _item(1),
        _item(2, execution_date="2020-01-06"),  # passed
        _item(3, key="cle-1"),  # the key of another request
        {"external_id": "meg 4", "idempotency_key": "cle-4", "payment": pay_body()},
        _item(5),
        _item(1, key="autre-cle"),  # the same invoice again, another key
    ]).json["items"]
    assert [i["status"] for i in items] == [201, 422, 422, 422, 201, 409]
    assert "passée" in items[1]["error"]["message"] and items[1]["error"]["field"] == "execution_date"
    assert items[2]["error"]["code"] == "idempotency_key_reused"
    assert items[3]["error"]["field"] == "items[3].external_id"
    assert items[5]["error"]["code"] == "payment_exists"
    assert items[5]["error"]["payment_id"] == items[0]["payment"]["id"]
    assert _counts(libeo_app) == (2, 2, 2)


@pytest.mark.parametrize("body, words", [
    ({"items": []}, "vide"),
    ({"items": [_item(n) for n in range(201)]}, "au plus 200"),
    ({"items": "meg-1"}, "« items »"),
    ({"items": [_item(1)], "autre": 1}, "« items »"),
    ([_item(1)], "« items »"),
])
def test_a_malformed_batch_is_refused_whole(api, libeo_app, body, words):
    answer = api.post("/payment-batches", json=body)
    assert answer.status_code == 422 and words in answer.json["error"]["message"]
    assert _counts(libeo_app) == (0, 0, 0)


def test_ten_thousand_items_are_refused_in_french(api, libeo_app):
    answer = api.post("/payment-batches", json={"items": [{"external_id": f"meg-{n}"} for n in range(10_000)]})
    assert answer.status_code in (413, 422)
    assert answer.json["error"]["message"].startswith(("Un lot compte au plus", "Le corps de la requête est trop"))
    assert _counts(libeo_app) == (0, 0, 0)


def test_an_item_is_paid_for_the_keys_account_only(client, libeo_app, account):
    other = make_account(libeo_app, name="Autre SARL", plan=Plan.PARTNERSHIPS)
    mine, theirs = Api(client, make_key(libeo_app, account.id)), Api(client, make_key(libeo_app, other.id))
    assert _batch(theirs, [_item(1)]).json["items"][0]["status"] == 201
    # The same invoice id and key under another account: its own invoice, its own payment.
    mine_item = _batch(mine, [_item(1)]).json["items"][0]
    assert mine_item["status"] == 201 and mine_item["replayed"] is False
    assert _counts(libeo_app)[0] == 2


def test_the_openapi_document_describes_the_batch(api):
    document = api.get("/openapi.json").json
    operation = document["paths"]["/payment-batches"]["post"]
    assert operation["operationId"] == "payInvoices"
    schema = document["components"]["schemas"]["PaymentBatchInput"]
    assert schema["properties"]["items"]["maxItems"] == 200


def test_the_batch_reads_its_possible_duplicates_through_the_indexes():
    """The duplicates a selection of 20 compares are read term by term through their indexes (number; amount and
    issue date), never by walking every invoice of the account (SQLite's plan, on Libeo's own schema and the
    statistics of a database analyzed). With the account beside the OR instead of in each of its terms,
    SQLite read every invoice of the account: 11 ms for 10,000."""
    from sqlalchemy import create_engine
    from sqlalchemy.dialects import sqlite

    from models.libeo.payments.safeguards import _duplicate_candidates_all_statement

    engine = create_engine("sqlite://")
    db.metadata.create_all(engine)
    with engine.begin() as connection:  # the statistics ANALYZE keeps (``libeo housekeeping``): 1,000 accounts
        connection.exec_driver_sql("ANALYZE")  # of 100 invoices, half of them paid or being paid
        connection.exec_driver_sql("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES "
                                   "('invoice', 'ix_invoice_number_key', '100000 100 1'), "
                                   "('invoice', 'ix_invoice_amount', '100000 100 2 1'), "
                                   "('invoice', 'ix_invoice_status', '100000 100 30 2'), "
                                   "('invoice', 'ix_invoice_due', '100000 100 2 1'), "
                                   "('payment', 'ix_payment_due', '50000 10000 50'), "
                                   "('payment', 'ix_payment_status', '50000 50 10 10'), "
                                   "('payment', 'ix_payment_invoice_id', '50000 1'), "
                                   "('payment', 'uq_payment_active_invoice', '50000 1')")
        connection.exec_driver_sql("ANALYZE sqlite_schema")  # read again by the planner
    values: dict = {"account_id": 1, "numbers": ["f-1", "f-2"]}
    for i in range(20):
        values.update({f"amount_{i}": 1_000 + i, f"from_{i}": date(2026, 1, 1), f"to_{i}": date(2026, 3, 1)})
    statement = _duplicate_candidates_all_statement(20).params(values)
    sql = str(statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        plan = [row[3] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
    assert "MULTI-INDEX OR" in plan, plan
    assert not [step for step in plan if step.startswith("SEARCH invoice") and "number_key" not in step
                and "amount_cents" not in step], plan
    assert not [step for step in plan if step.startswith("SCAN")], plan


def test_the_batch_is_written_in_one_transaction(api, libeo_app):
    """One commit that writes for the whole batch (not one per item): a refused item leaves nothing."""
    with libeo_app.app_context():
        engine = db.engine
    assert _batch(api, [_item(1)]).status_code == 200  # the key's first use is recorded in a commit of its own
    commits: list[int] = []

    def written(connection, cursor, statement, *_):
        if statement.lstrip()[:7].upper().startswith(WRITE_STATEMENTS):
            connection.info["wrote"] = True

    def committed(connection):
        if connection.info.pop("wrote", False):
            commits.append(1)

    event.listen(engine, "before_cursor_execute", written)
    event.listen(engine, "commit", committed)
    try:
        items = _batch(api, [_item(2), _item(3, execution_date="2020-01-06"), _item(4)]).json["items"]
    finally:
        event.remove(engine, "before_cursor_execute", written)
        event.remove(engine, "commit", committed)
    assert [i["status"] for i in items] == [201, 422, 201]
    assert len(commits) == 1 and _counts(libeo_app) == (3, 3, 3)


# --- The batch decided set-wise says and writes exactly what its items would, run one after another ---------


def _scenario(libeo_app, client, plan: Plan) -> tuple[Api, list[dict]]:
    """An account with a past payment, a known IBAN the bank rejected, an invoice sent before, an approval
    threshold; and a batch whose items meet every safeguard, each because of the items before it."""
    from core.names import name_key
    from models.libeo import Account, KnownSupplierIban

    account = make_account(libeo_app, name="Boulangerie Martin SARL", plan=plan)
    api = Api(client, make_key(libeo_app, account.id))
    rejected, first, second = valid_iban(9_000_001), valid_iban(9_000_002), valid_iban(9_000_003)
    with libeo_app.app_context():
        db.session.get(Account, account.id).approval_threshold_cents = 100_000
        db.session.add(KnownSupplierIban(account_id=account.id, supplier_key=name_key("Scierie des Vosges"),
                                         supplier_name="Scierie des Vosges", iban=rejected,
                                         recorded_by="premier paiement", rejected_reason="compte clôturé"))
        db.session.commit()
    assert api.pay("meg-50", key="seule", body=_item(50)["payment"]).status_code == 201
    assert api.put_invoice("meg-60", number="F-60", amount_cents=1_234).status_code == 201

    def item(n: int, name: str, iban: str, **invoice) -> dict:
        body = invoice_body(n, supplier={"name": name, "iban": iban}, **invoice)
        return {"external_id": f"meg-{n}", "idempotency_key": f"cle-{n}", "payment": {**pay_body(), "invoice": body}}

    return api, [
        item(1, "Laiterie des Prés", first, number="F-2026-001"),  # first seen: learnt
        item(2, "Laiterie des Prés SARL", second),  # held: another IBAN than item 1's
        item(3, "Scierie des Vosges", rejected),  # refused: the bank rejected this IBAN
        item(4, "Transports Durand", first),  # held: item 1's IBAN under another name
        item(5, "Laiterie des Pres", first, number="f 2026 001"),  # held: item 1's number
        {"external_id": "meg-60", "idempotency_key": "cle-60", "payment": pay_body()},  # sent before
        item(7, "Оrаngе Télécom", valid_iban(9_000_004)),  # held: mixed scripts
        item(8, "Minoterie Dupuis", SUPPLIER_IBAN, amount_cents=150_000),  # held: above the threshold
        item(9, "Minoterie Dupuis", SUPPLIER_IBAN, amount_cents=48_700, issue_date="2026-10-05"),  # like meg-50
        item(10, "Minoterie Dupuis", SUPPLIER_IBAN, execution_date="2020-01-06"),  # refused: a past date
        item(50, "Minoterie Dupuis", SUPPLIER_IBAN),  # refused: paid alone before
    ]


def _what_was_done(libeo_app, api: Api, answers: list[dict]) -> dict:
    """Everything the batch answered and wrote for the account, ids of payments replaced by their invoice's."""
    from models.libeo import (
        Account,
        ApiKey,
        JournalEntry,
        KnownSupplierIban,
        LibeoUser,
        Notification,
        PaymentEvent,
        PaymentUsage,
    )
    from models.libeo.accounts.keys import public_id_of

    def payment(json: dict | None) -> dict | None:
        return json and {k: v for k, v in json.items() if k not in ("id", "created_at")}

    with libeo_app.app_context():
        account = db.session.scalar(select(Account).join(ApiKey, ApiKey.account_id == Account.id)
                                    .where(ApiKey.public_id == public_id_of(api.key)))
        whose = {p.id: p.invoice.external_id for p in db.session.scalars(
            select(Payment).where(Payment.account_id == account.id))}

        admins = {u.email for u in db.session.scalars(select(LibeoUser).where(LibeoUser.account_id == account.id))}

        def named(text: str) -> str:
            for payment_id, external_id in whose.items():
                text = text.replace(f"payment:{payment_id}:", f"payment:{external_id}:")
            return text.replace(f"quota:{account.id}:", "quota:")

        return {
            "answers": [{**a, "payment": payment(a.get("payment")),
                         "error": {**a["error"], "payment_id": whose.get(a["error"].get("payment_id"))}
                         if a.get("error") else None} for a in answers],
            "payments": [(whose[p.id], p.status.value, p.hold_reasons, p.hold_details, p.amount_cents, p.creditor_name,
                          p.execution_date, p.approvals_required) for p in db.session.scalars(
                select(Payment).where(Payment.account_id == account.id).order_by(Payment.id))],
            "invoices": [(i.external_id, i.number, i.number_key, i.supplier_name, i.status.value, i.imported_at is None)
                         for i in db.session.scalars(select(Invoice).where(Invoice.account_id == account.id)
                                                     .order_by(Invoice.id))],
            "journal": [(e.kind, e.message, e.actor, whose.get(e.payment_id)) for e in db.session.scalars(
                select(JournalEntry).where(JournalEntry.account_id == account.id,
                                           JournalEntry.kind.startswith("iban.") | JournalEntry.kind.startswith(
                                               "payment.")).order_by(JournalEntry.id))],
            "notifications": sorted((n.kind, named(n.event_key), "admin" if n.recipient in admins else n.recipient,
                                     {**n.data, "payment_id": whose.get(n.data.get("payment_id")),
                                      "account_id": n.data.get("account_id") == account.id})
                                    for n in db.session.scalars(select(Notification).where(
                                        Notification.account_id == account.id,
                                        Notification.kind != "api_key_created"))),
            "events": [(e.seq, payment(json.loads(e.data))) for e in db.session.scalars(
                select(PaymentEvent).where(PaymentEvent.account_id == account.id).order_by(PaymentEvent.seq))],
            "ibans": sorted((k.supplier_key, k.supplier_name, k.iban, k.recorded_by, k.rejected_reason)
                            for k in db.session.scalars(select(KnownSupplierIban)
                                                        .where(KnownSupplierIban.account_id == account.id))),
            "quota": db.session.scalars(select(PaymentUsage.payment_count)
                                        .where(PaymentUsage.account_id == account.id)).all(),
            "keys": sorted((r.key, r.state, r.response_status, payment(json.loads(r.response_body or "null")))
                           for r in db.session.scalars(select(IdempotencyRecord)
                                                       .where(IdempotencyRecord.account_id == account.id))),
        }


@pytest.mark.parametrize("plan", [Plan.PARTNERSHIPS, Plan.GRATUIT])
def test_the_batch_decided_at_once_answers_and_writes_what_its_items_would_one_by_one(
        libeo_app, client, monkeypatch, plan):
    """Each item sees the items before it as a payment asked alone would (the IBANs they taught, their
    invoices as possible duplicates, the quota they counted): the same answers, payments, « Journal »,
    notifications, events, known IBANs, quota and keys as the same items paid one after another."""
    from models.libeo.payments import by_api

    set_wise_api, items = _scenario(libeo_app, client, plan)
    item_by_item_runs = []
    monkeypatch.setattr(by_api, "_pay_item_by_item", lambda *args: item_by_item_runs.append(1) or [])
    set_wise = _batch(set_wise_api, items).json["items"]
    assert not item_by_item_runs
    monkeypatch.undo()
    item_by_item_api, items = _scenario(libeo_app, client, plan)

    def refuse(*_args):
        raise by_api._ItemByItem

    monkeypatch.setattr(by_api, "_pay_set_wise", refuse)
    item_by_item = _batch(item_by_item_api, items).json["items"]
    done = _what_was_done(libeo_app, set_wise_api, set_wise)
    assert done == _what_was_done(libeo_app, item_by_item_api, item_by_item)
    statuses = [a["status"] for a in set_wise]
    if plan is Plan.PARTNERSHIPS:
        assert statuses == [201, 201, 409, 201, 201, 201, 201, 201, 201, 422, 409]
        assert [p[2] for p in done["payments"][1:]] == [
            None, ["new_iban"], ["payee_name_mismatch"], ["duplicate_suspected"], None, ["mixed_scripts"],
            ["approval_rule"], ["duplicate_suspected"]]
    else:  # Gratuit: 5 a month, one paid before the batch
        assert statuses == [201, 201, 409, 201, 201, 402, 402, 402, 402, 422, 409]
        assert any(n[0] == "quota_reached" for n in done["notifications"])


def test_a_key_claimed_by_another_request_meanwhile_runs_the_batch_again_item_by_item(api, libeo_app, monkeypatch):
    """Between the batch's read of its keys and its claims, a concurrent request may claim one (PostgreSQL):
    nothing of the batch is kept, and it runs again item by item, where ``claim_key`` decides that key."""
    from models.libeo.payments import by_api
    from models.libeo.payments.idempotency import IN_PROGRESS

    claim_keys, item_by_item = by_api.claim_keys, by_api._pay_item_by_item
    runs: list[str] = []

    def claimed_meanwhile(account_id, keys):
        db.session.add(IdempotencyRecord(account_id=account_id, key="cle-2", request_hash="x", state=IN_PROGRESS))
        db.session.flush()
        return claim_keys(account_id, keys)

    def spied(*args):
        runs.append("item by item")
        return item_by_item(*args)

    monkeypatch.setattr(by_api, "claim_keys", claimed_meanwhile)
    monkeypatch.setattr(by_api, "_pay_item_by_item", spied)
    items = _batch(api, [_item(1), _item(2)]).json["items"]
    assert runs == ["item by item"]
    assert [i["status"] for i in items] == [201, 201]  # the other request's claim was this batch's, rolled back
    assert _counts(libeo_app) == (2, 2, 2)
