"""« Payer la sélection » through the API: ``POST /payment-batches``, each item its own payment.

Each item carries its own Idempotency-Key and the body the single request
would carry; it gets its own answer, and a refusal of one item (quota,
already paid, a bad date) never undoes another. A replay of the batch, or of
one item alone through ``POST /invoices/{id}/payments``, answers as the
first time: nothing is paid twice.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from core.db import WRITE_STATEMENTS
from models.libeo import IdempotencyRecord, Invoice, Payment, db
from models.libeo.accounts.models import Plan

from .conftest import Api, invoice_body, make_account, make_key, pay_body


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


def test_the_batch_is_written_in_one_transaction_a_savepoint_per_item(api, libeo_app):
    """One commit that writes for the whole batch (not one per item): a refused item is undone alone, in its
    savepoint."""
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
