"""Concurrent decisions on one held payment decide once.

Administrators click « Approuver » and « Refuser » on the same payment at
the same instant, from their own clients (own connections). Exactly one
decision applies: one status change, one event in the feed, the quota slot
given back at most once. The guarantee is the database's (a conditional
UPDATE from ``awaiting_approval``): the quick test runs on SQLite too; the
heavier one needs PostgreSQL's real concurrency.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from models.libeo import JournalEntry, Payment, PaymentEvent, PaymentUsage, Plan, db
from tests.factories import libeo_user

from .conftest import PASSWORD, Api, make_account, make_key
from .test_safeguards import OTHER_IBAN, pay, scheduled, supplier


def _held_payment(apps, plan=Plan.PARTNERSHIPS):
    info = make_account(apps.libeo, plan=plan)
    api = Api(apps.root.test_client(), make_key(apps.libeo, info.id))
    scheduled(pay(api, "meg-1", n=1))
    held = pay(api, "meg-2", n=2, supplier=supplier(iban=OTHER_IBAN)).json
    assert held["status"] == "awaiting_approval"
    return info, api, held["id"]


def _signed_in_clients(apps, email: str, count: int) -> list:
    clients = []
    for _ in range(count):
        client = apps.root.test_client()
        assert client.post("/libeo/connexion", data={"email": email, "password": PASSWORD}).status_code == 302
        clients.append(client)
    return clients


def _decide_together(clients, payment_id: int, choose):
    """Each client posts its decision at the same instant; returns (decision, flash text) per client."""
    barrier = threading.Barrier(len(clients))

    def decide(i):
        client = clients[i]
        decision = choose(i)
        barrier.wait()
        if decision == "approve":
            response = client.post(f"/libeo/a-approuver/{payment_id}/approuver", follow_redirects=True)
        else:
            response = client.post(f"/libeo/a-approuver/{payment_id}/refuser", data={"reason": f"refus {i}"},
                                   follow_redirects=True)
        assert response.status_code == 200
        return decision, response.get_data(as_text=True)

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        return list(pool.map(decide, range(len(clients))))


def _outcome(libeo_app, account_id: int, payment_id: int):
    with libeo_app.app_context():
        payment = db.session.get(Payment, payment_id)
        events = db.session.scalar(select(func.count()).where(PaymentEvent.payment_id == payment_id))
        decisions = db.session.scalar(select(func.count()).where(
            JournalEntry.payment_id == payment_id, JournalEntry.kind.in_(("payment.approved", "payment.refused"))))
        used = db.session.scalar(select(func.sum(PaymentUsage.payment_count))
                                 .where(PaymentUsage.account_id == account_id))
        return payment.status.value, payment.cancel_reason, events, decisions, used


def _applied(results) -> list[str]:
    """The decisions that applied: not told the payment was decided meanwhile, nor (a second click of the same
    administrator) that their approval is already counted."""
    return [decision for decision, page in results
            if "plus à approuver" not in page and "Vous avez déjà approuvé ce paiement" not in page]


def test_two_administrators_deciding_at_once_decide_once(apps):
    info, _, payment_id = _held_payment(apps)
    clients = _signed_in_clients(apps, info.email, 2)
    results = _decide_together(clients, payment_id, lambda i: "approve" if i == 0 else "refuse")

    applied = _applied(results)
    assert len(applied) == 1, [page[:200] for _, page in results]
    status, reason, events, decisions, _ = _outcome(apps.libeo, info.id, payment_id)
    assert status == ("scheduled" if applied == ["approve"] else "cancelled")
    assert events == 2 and decisions == 1  # creation + one decision


@pytest.mark.postgres
def test_twenty_concurrent_approvals_and_refusals_make_one_decision(apps):
    info, api, payment_id = _held_payment(apps, plan=Plan.GRATUIT)
    assert api.get("/me").json["payments_this_month"] == 2
    clients = _signed_in_clients(apps, info.email, 20)
    results = _decide_together(clients, payment_id, lambda i: "approve" if i % 2 else "refuse")

    applied = _applied(results)
    assert len(applied) == 1, Counter(decision for decision, _ in results)
    status, reason, events, decisions, used = _outcome(apps.libeo, info.id, payment_id)
    assert (events, decisions) == (2, 1)
    if applied == ["approve"]:
        assert (status, reason, used) == ("scheduled", None, 2)
    else:
        # Refused once: the slot given back once, not ten times.
        assert status == "cancelled" and reason.startswith("refus ") and used == 1
    assert [e["data"]["status"] for e in api.get("/events").json["events"] if e["data"]["id"] == payment_id] == [
        "awaiting_approval", status]


@pytest.mark.postgres
def test_an_approval_racing_a_cancellation_decides_once(apps):
    info, api, payment_id = _held_payment(apps)
    clients = _signed_in_clients(apps, info.email, 10)
    barrier = threading.Barrier(len(clients))

    def act(i):
        barrier.wait()
        if i % 2:
            return clients[i].post(f"/libeo/a-approuver/{payment_id}/approuver", follow_redirects=True)
        return clients[i].post(f"/libeo/paiements/{payment_id}/annuler", follow_redirects=True)

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        pages = [response.get_data(as_text=True) for response in pool.map(act, range(len(clients)))]
    assert all("Une erreur inattendue" not in page for page in pages)
    status, _, events, _, used = _outcome(apps.libeo, info.id, payment_id)
    # Approved then cancelled once, or cancelled at once (the approvals then refused): cancelled once.
    assert status == "cancelled" and events in (2, 3)
    assert used == 1  # the slot given back once


@pytest.mark.postgres
def test_two_approvers_approving_at_once_are_both_counted_and_schedule_once(apps):
    """Above the account's « deux approbateurs » amount, two administrators click « Approuver » at the same
    instant: both approvals count, the payment is scheduled once (one event), never left waiting at 2 of 2."""

    info, api, _ = _held_payment(apps)
    with apps.libeo.app_context():
        libeo_user(info.id, "associe@entreprise.fr", is_admin=True)
        db.session.commit()
    owner = _signed_in_clients(apps, info.email, 1)[0]
    owner.post("/libeo/configuration/approbations", data={"threshold": "", "dual_threshold": "100"})
    payment = pay(api, "meg-3", n=3, amount_cents=50_000).json
    assert payment["status"] == "awaiting_approval"
    clients = [owner, _signed_in_clients(apps, "associe@entreprise.fr", 1)[0]]
    _decide_together(clients, payment["id"], lambda i: "approve")

    with apps.libeo.app_context():
        held = db.session.get(Payment, payment["id"])
        assert (held.status.value, held.approval_count, held.approvals_required) == ("scheduled", 2, 2)
        assert db.session.scalar(select(func.count()).where(PaymentEvent.payment_id == payment["id"])) == 2
