"""The events feed ``GET /events``: every change of a payment, oldest first, each once.

MEG's sync pass stores the cursor and applies each payment's latest state: the
feed must never show an event and later reveal an older one it skipped, under
any concurrency (see models.libeo.events), and reading it again from the
start must give the same events.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from core.dates import paris_today
from devtools.bank_simulator import status_report_for
from models.libeo import PaymentEvent, Plan, SepaBatch, db
from models.libeo.payments.bank_status_import import import_bank_status
from models.libeo.payments.sepa import execute_due_payments
from tests.conftest import TEST_DATABASE_URL

from .conftest import DEBTOR_IBAN, RUN_DAY, Api, backdate_due_payments, dated_constants, make_account, make_key  # noqa: F401

EVENT_KEYS = {"id", "seq", "type", "created_at", "data"}
PAYMENT_KEYS = {
    "id", "version", "status", "status_label", "hold_reasons", "hold_details", "amount_cents", "currency",
    "execution_date", "payee",
    "transmitted_at", "accepted_at", "bank_status", "paid_on", "paid_at", "failure_reason", "failure_code",
    "bank_text", "new_iban_required", "cancelled_at", "cancel_reason", "invoice_external_id", "initiated_by", "channel",
    "created_at", "bank_anomaly", "decided_by", "decided_at",
}


def _all_events(api: Api, limit: int = 500) -> list[dict]:
    events, cursor = [], None
    while True:
        page = api.get("/events", query_string={"limit": limit, **({"after": cursor} if cursor else {})})
        assert page.status_code == 200, page.json
        events += page.json["events"]
        if not page.json["events"]:
            assert page.json["next"] == (cursor or "0")
            return events
        cursor = page.json["next"]


def _execute(libeo_app):
    backdate_due_payments(libeo_app)
    with libeo_app.app_context():
        execute_due_payments(None, RUN_DAY)


def _settle(libeo_app, statuses):
    with libeo_app.app_context():
        batch = db.session.scalar(select(SepaBatch).order_by(SepaBatch.id.desc()))
        import_bank_status(status_report_for(batch.xml, statuses), imported_by="test")
        db.session.commit()


def test_each_change_of_a_payment_is_one_event_with_the_payment_after_it(client, libeo_app, libeo_auth):
    info = make_account(libeo_app, plan=Plan.PARTNERSHIPS, debtor_iban=DEBTOR_IBAN)
    api = Api(client, make_key(libeo_app, info.id))
    for n in range(3):
        api.put_invoice(f"meg-{n}", n=n)
    paid, rejected, cancelled = (api.pay(f"meg-{n}", key=f"k{n}").json for n in range(3))
    libeo_auth.login(info.email)
    client.post(f"/libeo/paiements/{cancelled['id']}/annuler")
    _execute(libeo_app)
    _settle(libeo_app, {f"LIBEO-{rejected['id']}": ("RJCT", "AC04")})

    events = _all_events(api)
    assert [e["seq"] for e in events] == list(range(1, 9))
    assert all(set(e) == EVENT_KEYS and e["type"] == "payment.updated" for e in events)
    assert all(set(e["data"]) == PAYMENT_KEYS for e in events)
    story = [(e["data"]["id"], e["data"]["status"]) for e in events]
    assert story == [
        (paid["id"], "scheduled"), (rejected["id"], "scheduled"), (cancelled["id"], "scheduled"),
        (cancelled["id"], "cancelled"),
        (paid["id"], "file_ready"), (rejected["id"], "file_ready"),
        (paid["id"], "paid"), (rejected["id"], "failed"),
    ]
    # Each payment's versions count its changes, in the order of the feed: the newest account is the highest.
    versions = [(e["data"]["id"], e["data"]["version"]) for e in events]
    assert versions == [
        (paid["id"], 1), (rejected["id"], 1), (cancelled["id"], 1), (cancelled["id"], 2),
        (paid["id"], 2), (rejected["id"], 2), (paid["id"], 3), (rejected["id"], 3),
    ]
    # The creation's event carries what the POST answered; the last of each, what GET /payments says now.
    assert events[0]["data"] == paid
    latest = {e["data"]["id"]: e["data"] for e in events}
    for payment_id, data in latest.items():
        assert api.get(f"/payments/{payment_id}").json == data
    assert latest[rejected["id"]]["failure_reason"] == "Rejeté : compte du bénéficiaire clôturé (AC04)"
    assert latest[cancelled["id"]]["status_label"] == "Annulé" and latest[cancelled["id"]]["cancelled_at"]
    assert latest[paid["id"]]["status_label"] == f"Débité le {paris_today():%d/%m/%Y}"  # the report's day
    assert latest[paid["id"]]["paid_on"] == paris_today().isoformat()
    assert latest[rejected["id"]]["failure_code"] == "AC04" and latest[rejected["id"]]["new_iban_required"]
    assert events[0]["data"]["status_label"].startswith("Programmé le ")
    assert events[4]["data"]["status_label"] == "Fichier prêt — à transmettre à votre banque"


def test_limit_cursor_and_replay(api):
    for n in range(5):
        api.put_invoice(f"meg-{n}", n=n)
        api.pay(f"meg-{n}", key=f"k{n}")

    first = api.get("/events").json  # without a cursor: from the first event
    assert [e["seq"] for e in first["events"]] == [1, 2, 3, 4, 5] and first["next"] == "5"
    two = api.get("/events?limit=2").json
    assert [e["seq"] for e in two["events"]] == [1, 2] and two["next"] == "2"
    rest = api.get(f"/events?after={two['next']}&limit=2").json
    assert [e["seq"] for e in rest["events"]] == [3, 4] and rest["next"] == "4"
    last = api.get(f"/events?after={rest['next']}&limit=500").json
    assert [e["seq"] for e in last["events"]] == [5]
    nothing = api.get("/events?after=5").json
    assert nothing["events"] == [] and nothing["next"] == "5"  # nothing new: the same cursor again
    # Each page describes the account as it is now (GET /me's fields): its quota of the month is used.
    assert nothing["account"]["payments_this_month"] == 5 and nothing["account"]["payment_limit"] == 5
    assert api.get("/events?after=0").json == first
    # Reading again from the start gives the very same events.
    assert _all_events(api, limit=1) == _all_events(api) == first["events"]


def test_the_default_limit_is_100_and_the_most_500(client, libeo_app):
    info = make_account(libeo_app, plan=Plan.PARTNERSHIPS)
    api = Api(client, make_key(libeo_app, info.id))
    api.put_invoice("meg-1")
    api.pay("meg-1")
    with libeo_app.app_context():
        # The same event, many times over, to fill pages (their content is not the point here).
        event = db.session.scalar(select(PaymentEvent))
        db.session.add_all(
            PaymentEvent(account_id=info.id, seq=seq, type=event.type, payment_id=event.payment_id, data=event.data)
            for seq in range(2, 602)
        )
        db.session.commit()
    assert len(api.get("/events").json["events"]) == 100
    assert len(api.get("/events?limit=500").json["events"]) == 500
    assert api.get("/events?limit=501").status_code == 400


@pytest.mark.parametrize(
    "query, code, field",
    [
        ("after=abc", "invalid_cursor", "after"),
        ("after=-1", "invalid_cursor", "after"),
        ("after=1.5", "invalid_cursor", "after"),
        ("after=", "invalid_cursor", "after"),
        ("after=" + "9" * 19, "invalid_cursor", "after"),
        ("after=%EF%BC%91", "invalid_cursor", "after"),  # a full-width digit
        ("limit=0", "invalid_limit", "limit"),
        ("limit=501", "invalid_limit", "limit"),
        ("limit=dix", "invalid_limit", "limit"),
        ("limit=", "invalid_limit", "limit"),
        ("limit=99999999999999999999", "invalid_limit", "limit"),
        ("limit=10&limit=20", "repeated_parameter", "limit"),
        ("depuis=3", "unknown_parameter", "depuis"),
    ],
)
def test_a_bad_cursor_or_limit_is_a_french_400(api, query, code, field):
    response = api.get(f"/events?{query}")
    assert response.status_code == 400
    error = response.json["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert error["message"][0].isupper() and (f"« {field} »" in error["message"] or "after" in error["message"])


def test_the_feed_needs_a_key(client):
    assert client.get("/libeo/api/v1/events").status_code == 401


def test_each_account_reads_its_own_events_only(client, libeo_app, api):
    api.put_invoice("meg-1")
    mine = api.pay("meg-1").json
    other = Api(client, make_key(libeo_app, make_account(libeo_app, name="Autre Entreprise SAS").id))
    empty = other.get("/events").json
    assert (empty["events"], empty["next"], empty["account"]["name"]) == ([], "0", "Autre Entreprise SAS")
    other.put_invoice("meg-1")
    theirs = other.pay("meg-1").json
    assert [e["data"]["id"] for e in other.get("/events").json["events"]] == [theirs["id"]]
    assert [e["data"]["id"] for e in api.get("/events").json["events"]] == [mine["id"]]
    # Numbers are the account's own: another account's cursor shows nothing of this one.
    assert other.get("/events").json["events"][0]["seq"] == 1
    assert api.get("/events?after=1").json["events"] == []


def test_a_retired_key_is_revoked_only_once_it_has_read_the_last_event(api):
    """MEG's « Supprimer la connexion » with events still unread retires the key; a cursor past the end
    (a typo, a cursor reset) reads nothing and ends nothing: only reading up to the last event does."""
    api.put_invoice("meg-1")
    paid = api.pay("meg-1").json
    cancelled = api.post(f"/payments/{paid['id']}/cancel",
                         json={"cancelled_by": {"email": "compta@entreprise.fr", "role": "user"}})
    assert cancelled.status_code == 200  # nothing in flight; two events, unread
    retired = api.client.delete(f"{Api.PREFIX}/key?after=0", headers=api.headers())
    assert retired.status_code == 200 and retired.json["status"] == "retired"
    for beyond in ("3", "999999999999999999"):
        assert api.get(f"/events?after={beyond}").json["events"] == []
    page = api.get("/events")  # the key still reads
    assert page.status_code == 200 and [e["seq"] for e in page.json["events"]] == [1, 2]
    assert api.get(f"/events?after={page.json['next']}").json["events"] == []  # read to the end
    assert api.get("/events").status_code == 401  # then revoked


def test_giving_the_key_up_with_a_cursor_past_the_end_retires_it_without_revoking(api):
    """« Supprimer la connexion » saying it read up to an event that does not exist (a cursor reset): the
    events after the real end may be unread, so the key keeps reading them until it has."""
    api.put_invoice("meg-1")
    paid = api.pay("meg-1").json
    api.post(f"/payments/{paid['id']}/cancel", json={"cancelled_by": {"email": "compta@entreprise.fr", "role": "user"}})
    given_up = api.client.delete(f"{Api.PREFIX}/key?after=999999", headers=api.headers())
    assert given_up.status_code == 200 and given_up.json["status"] == "retired"
    assert [e["seq"] for e in api.get("/events").json["events"]] == [1, 2]


def test_a_refused_request_writes_no_event(api):
    for n in range(6):
        api.put_invoice(f"meg-{n}", n=n)
    for n in range(5):
        api.pay(f"meg-{n}", key=f"k{n}")
    assert api.pay("meg-5", key="k5").status_code == 402
    assert api.pay("meg-0", key="k0-bis").status_code == 409
    assert len(api.get("/events").json["events"]) == 5


# Under concurrency: a reader polls while payments are created, cancelled and marked debited.


def _writers_and_a_reader(apps, client, libeo_auth, writers: int, rounds: int = 1):
    """``writers`` threads change payments while a reader follows the feed; checks each event is read once.

    Payments created or cancelled take turns on the month's quota row, but
    « Marquer comme débité » does not: those writers are the ones that could
    commit their events out of order, if the feed let them.
    """
    info = make_account(apps.libeo, plan=Plan.PARTNERSHIPS, debtor_iban=DEBTOR_IBAN)
    key = make_key(apps.libeo, info.id)
    api = Api(client, key)
    libeo_auth.login(info.email)
    cookie = client.get_cookie("libeo_session", path="/libeo").value
    total = writers * rounds
    for n in range(total):
        assert api.put_invoice(f"meg-{n}", n=n).status_code == 201
    at_bank = [api.pay(f"meg-{n}", key=f"k{n}").json["id"] for n in range(1, total, 2)]
    _execute(apps.libeo)  # the odd invoices' payments are at the bank, to be marked debited

    read: list[dict] = []
    done = threading.Event()

    def reader():
        reading = Api(apps.root.test_client(), key)
        cursor = "0"
        while True:
            finished = done.is_set()  # read before polling: a last poll after the writers ended
            page = reading.get(f"/events?after={cursor}&limit=3").json
            read.extend(page["events"])
            cursor = page["next"]
            if finished and not page["events"]:
                return
            time.sleep(0.001)

    def write(i):
        writer = apps.root.test_client()
        writer.set_cookie("libeo_session", cookie, path="/libeo")
        if i % 2:
            debited = writer.post(f"/libeo/paiements/{at_bank[i // 2]}/debite",
                                  data={"debit_date": RUN_DAY.isoformat()})
            assert debited.status_code == 302
            return
        created = Api(writer, key).pay(f"meg-{i}", key=f"k{i}")
        assert created.status_code == 201, created.json
        if i % 4 == 0:
            assert writer.post(f"/libeo/paiements/{created.json['id']}/annuler").status_code == 302

    with ThreadPoolExecutor(max_workers=1) as reading_pool:
        following = reading_pool.submit(reader)
        for round_ in range(rounds):
            barrier = threading.Barrier(writers)

            def together(i, offset=round_ * writers, barrier=barrier):
                barrier.wait()
                write(offset + i)

            with ThreadPoolExecutor(max_workers=writers) as pool:
                list(pool.map(together, range(writers)))
        done.set()
        following.result(timeout=120)

    with apps.libeo.app_context():
        stored = db.session.scalar(select(func.count(PaymentEvent.id)).where(PaymentEvent.account_id == info.id))
    created, cancelled = total // 2, len(range(0, total, 4))
    expected = 2 * len(at_bank) + len(at_bank) + created + cancelled
    assert stored == expected
    # Every event read exactly once, in order, none skipped.
    assert [e["seq"] for e in read] == list(range(1, expected + 1))
    assert len({e["id"] for e in read}) == expected
    # The last state read of each payment is its state now.
    latest = {e["data"]["id"]: e["data"]["status"] for e in read}
    assert sorted(latest.values()).count("paid") == len(at_bank)
    assert sorted(latest.values()).count("cancelled") == cancelled
    assert _all_events(api) == read  # and replaying gives the same


def test_a_reader_following_the_feed_during_concurrent_writes_reads_each_event_once(apps, client, libeo_auth):
    _writers_and_a_reader(apps, client, libeo_auth, writers=20)


@pytest.mark.postgres
def test_on_postgresql_concurrent_writers_never_make_the_reader_skip_an_event(apps, client, libeo_auth):
    assert TEST_DATABASE_URL and apps.libeo.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    _writers_and_a_reader(apps, client, libeo_auth, writers=20, rounds=3)
