"""Concurrent pay requests: one payment per invoice, never a 6th free payment in a month.

Each thread is its own client of the combined app (its own app context and
database connection). Run on SQLite by default and on PostgreSQL with
TEST_DATABASE_URL: the guarantees are the database's, so both must hold.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, func, select

from models.libeo import IdempotencyRecord, Invoice, Payment, PaymentUsage, Plan, db
from models.libeo.accounts.keys import authenticate_api_key
from models.libeo.payments.quota import PaymentQuota

from .conftest import Api, invoice_body, make_account, make_key


def run_together(apps, count: int, call):
    """Calls ``call(api_client, i)`` from ``count`` threads released at the same instant."""
    barrier = threading.Barrier(count)

    def worker(i):
        client = apps.root.test_client()
        barrier.wait()
        return call(client, i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(worker, range(count)))


def _payments(libeo_app) -> list[Payment]:
    with libeo_app.app_context():
        return db.session.scalars(select(Payment)).all()


def test_fifty_concurrent_pays_of_one_invoice_make_one_payment(apps, client):
    info = make_account(apps.libeo, plan=Plan.PARTNERSHIPS)
    key = make_key(apps.libeo, info.id)
    assert Api(client, key).put_invoice("meg-1").status_code == 201

    responses = run_together(apps, 50, lambda c, i: Api(c, key).pay("meg-1", key=f"clic-{i}"))

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 49}, statuses
    created = next(r.json for r in responses if r.status_code == 201)
    assert all(r.json["error"]["payment_id"] == created["id"] for r in responses if r.status_code == 409)
    assert len(_payments(apps.libeo)) == 1
    assert Api(client, key).get("/me").json["payments_this_month"] == 1


def test_fifty_concurrent_retries_with_one_key_make_one_payment(apps, client):
    info = make_account(apps.libeo)
    key = make_key(apps.libeo, info.id)
    Api(client, key).put_invoice("meg-1")

    responses = run_together(apps, 50, lambda c, i: Api(c, key).pay("meg-1", key="double-clic"))

    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses[201] >= 1
    bodies = {r.get_data() for r in responses if r.status_code == 201}
    assert len(bodies) == 1  # every 201 is the first answer, replayed
    in_flight = [r.json["error"]["code"] for r in responses if r.status_code == 409]
    assert set(in_flight) <= {"idempotency_in_progress"}
    assert len(_payments(apps.libeo)) == 1
    # Once the first request is done, a retry gets its answer.
    replay = Api(client, key).pay("meg-1", key="double-clic")
    assert replay.status_code == 201 and replay.get_data() in bodies


def test_twenty_concurrent_pays_on_a_free_account_make_exactly_five(apps, client):
    info = make_account(apps.libeo)
    key = make_key(apps.libeo, info.id)
    api = Api(client, key)
    for n in range(20):
        assert api.put_invoice(f"meg-{n}", n=n).status_code == 201

    responses = run_together(apps, 20, lambda c, i: Api(c, key).pay(f"meg-{i}", key=f"clic-{i}"))

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 5, 402: 15}, statuses
    refusals = [r.json["error"] for r in responses if r.status_code == 402]
    assert all(e["code"] == "quota_exceeded" for e in refusals)
    assert all(e["upgrade_url"].endswith("/libeo/abonnement") for e in refusals)
    assert len(_payments(apps.libeo)) == 5
    with apps.libeo.app_context():
        assert db.session.scalar(select(PaymentUsage.payment_count)) == 5
        scheduled = db.session.scalar(
            select(func.count(Invoice.id)).where(Invoice.status == "payment_scheduled")
        )
        assert scheduled == 5
        # Refused requests released their keys: nothing half-done is left.
        assert db.session.scalar(select(func.count(IdempotencyRecord.id))) == 5
    assert api.get("/me").json["payments_this_month"] == 5


def test_twenty_concurrent_pays_on_partnerships_all_go_through(apps, client):
    info = make_account(apps.libeo, plan=Plan.PARTNERSHIPS)
    key = make_key(apps.libeo, info.id)
    for n in range(20):
        Api(client, key).put_invoice(f"meg-{n}", n=n)

    responses = run_together(apps, 20, lambda c, i: Api(c, key).pay(f"meg-{i}", key=f"clic-{i}"))

    assert Counter(r.status_code for r in responses) == {201: 20}
    assert Api(client, key).get("/me").json["payments_this_month"] == 20


def test_concurrent_puts_of_one_new_invoice_make_one_invoice(apps, client):
    info = make_account(apps.libeo)
    key = make_key(apps.libeo, info.id)

    responses = run_together(apps, 20, lambda c, i: Api(c, key).put("/invoices/meg-1", json=invoice_body()))

    statuses = Counter(r.status_code for r in responses)
    assert statuses[201] == 1 and statuses[200] == 19, statuses
    with apps.libeo.app_context():
        assert db.session.scalar(select(func.count(Invoice.id))) == 1


@pytest.mark.parametrize("slow_read", ["SELECT account.id", "SELECT payment_usage.payment_count"],
                         ids=["account", "quota"])
def test_a_slow_account_or_quota_read_holds_up_no_other_request(apps, slow_read):
    """One request's account or quota read, slow at the database, does not stop the others' (same process).

    Python 3.11's functools.cached_property locked every instance of a class
    while one computed: the other requests of a worker queued behind it, each
    holding its database connection, until the pool ran dry (« QueuePool
    limit … reached ») and every one of them failed.
    """
    keys = [make_key(apps.libeo, make_account(apps.libeo).id) for _ in range(2)]
    with apps.libeo.app_context():
        engine = db.engine
    slow_thread: list[threading.Thread] = []
    slow_read_started, release_slow_read = threading.Event(), threading.Event()

    def slow_for_one_thread(_conn, _cursor, statement, *_args):
        if slow_thread and threading.current_thread() is slow_thread[0] and statement.lstrip().startswith(slow_read):
            slow_read_started.set()
            release_slow_read.wait(10)

    def read_account_and_quota(key: str, done: list):
        with apps.libeo.test_request_context():
            in_use = authenticate_api_key(key)
            quota = PaymentQuota.for_account(in_use.account)
            done.append((in_use.account.id, quota.used))

    slow_done, other_done = [], []
    event.listen(engine, "before_cursor_execute", slow_for_one_thread)
    try:
        slow_thread.append(threading.Thread(target=read_account_and_quota, args=(keys[0], slow_done)))
        slow_thread[0].start()
        assert slow_read_started.wait(10)
        other = threading.Thread(target=read_account_and_quota, args=(keys[1], other_done))
        other.start()
        other.join(10)
        assert not other.is_alive(), "the second request waited for the first one's slow read"
        assert other_done and other_done[0][1] == 0
    finally:
        release_slow_read.set()
        slow_thread[0].join(10)
        event.remove(engine, "before_cursor_execute", slow_for_one_thread)
    assert slow_done and slow_done[0][1] == 0
