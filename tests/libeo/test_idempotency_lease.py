"""An Idempotency-Key claim left « in progress » by a process that died is taken over within seconds.

The claim is a lease (``IDEMPOTENCY_LEASE_SECONDS``): while it runs, a retry
is told « still running » (409); after it, the retry takes the claim over and
pays, once. The request that was only slow, not dead, may then no longer store
its answer: its work is rolled back.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from core.dates import utcnow
from models.libeo import db

from .conftest import pay_body


def _claims(libeo_app):
    from models.libeo.payments.models import IdempotencyRecord

    with libeo_app.app_context():
        return list(db.session.scalars(select(IdempotencyRecord)))


def _left_by_a_dead_process(libeo_app, account_id: int, key: str, body: dict, external_id: str, age: timedelta):
    """What a process killed between its claim's commit and its work's leaves: the claim alone."""
    from models.libeo.payments.idempotency import fingerprint
    from models.libeo.payments.models import IdempotencyRecord

    with libeo_app.app_context():
        db.session.add(IdempotencyRecord(
            account_id=account_id, key=key, state="in_progress", owner="dead-process", created_at=utcnow() - age,
            request_hash=fingerprint("POST", f"/api/v1/invoices/{external_id}/payments", body)))
        db.session.commit()


def _payments(libeo_app) -> int:
    from models.libeo.payments.models import Payment

    with libeo_app.app_context():
        return db.session.scalar(select(func.count()).select_from(Payment))


def test_a_claim_within_its_lease_is_still_running(libeo_app, account, api):
    api.put_invoice("meg-1")
    _left_by_a_dead_process(libeo_app, account.id, "k-1", pay_body(), "meg-1", timedelta(seconds=2))
    answer = api.pay("meg-1", key="k-1")
    assert answer.status_code == 409 and answer.json["error"]["code"] == "idempotency_in_progress"
    assert _payments(libeo_app) == 0


def test_a_claim_past_its_lease_is_taken_over_and_pays_once(libeo_app, account, api):
    assert libeo_app.config["IDEMPOTENCY_LEASE_SECONDS"] <= 30  # seconds, not minutes
    api.put_invoice("meg-1")
    lease = timedelta(seconds=libeo_app.config["IDEMPOTENCY_LEASE_SECONDS"] + 1)
    _left_by_a_dead_process(libeo_app, account.id, "k-1", pay_body(), "meg-1", lease)
    first = api.pay("meg-1", key="k-1")
    assert first.status_code == 201, first.json
    again = api.pay("meg-1", key="k-1")
    assert again.status_code == 201 and again.json == first.json  # the taker's answer, replayed
    assert _payments(libeo_app) == 1
    [claim] = _claims(libeo_app)
    assert claim.state == "done" and claim.owner != "dead-process"


def test_a_slow_request_whose_claim_was_taken_over_stores_nothing(libeo_app, account):
    """The first owner finishing after another took its claim: its answer is refused, its work rolled back."""
    from models.libeo.accounts.models import Account
    from models.libeo.errors import Conflict
    from models.libeo.payments.idempotency import Claim, claim_key, complete
    from models.libeo.payments.models import IdempotencyRecord

    with libeo_app.app_context():
        first = claim_key(db.session.get(Account, account.id), "k-1", "hash")
        db.session.commit()
        db.session.execute(update(IdempotencyRecord).values(created_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
        taker = claim_key(db.session.get(Account, account.id), "k-1", "hash")
        db.session.commit()
        assert taker.owner != first.owner
        with pytest.raises(Conflict):
            complete(Claim(first.record_id, owner=first.owner), 201, {"id": 1})
        db.session.rollback()
        complete(taker, 201, {"id": 2})
        db.session.commit()
        [claim] = db.session.scalars(select(IdempotencyRecord)).all()
        assert claim.state == "done" and claim.response_body == '{"id": 2}'
