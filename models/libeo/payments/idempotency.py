"""``Idempotency-Key``: one outcome per key, whatever the retries and their timing.

The first request claims the key by inserting its record (unique per
account) in a transaction of its own, so a concurrent duplicate sees it at
once. The outcome is stored in the same transaction as the work it
describes: a replay answers exactly what the first request answered.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.dates import utcnow
from core.db import purge_in_batches
from models.libeo.accounts.models import Account
from models.libeo.db import db
from models.libeo.errors import Conflict, InvalidData
from models.libeo.payments.models import IdempotencyRecord

IN_PROGRESS = "in_progress"
DONE = "done"
# A claim older than this belongs to a request that died: a retry may take it over.
STALE_AFTER = timedelta(minutes=5)


# Records are kept this long: a caller retrying with the same key within it gets the first answer.
RETENTION = timedelta(days=30)


def purge_old_records(now=None) -> int:
    """Forgets answers older than the retention, in short batches (Libeo's periodic housekeeping)."""
    cutoff = (now or utcnow()) - RETENTION
    return purge_in_batches(db, IdempotencyRecord, IdempotencyRecord.created_at < cutoff)


def fingerprint(method: str, path: str, payload) -> str:
    canonical = json.dumps([method, path, payload], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Claim:
    """What ``claim_key`` decided: the record this request completes, or the first request's answer to replay."""

    record_id: int
    answer: tuple[int, dict] | None = None  # (status, body) when the key's request is done: replay it


# Built once: every payment the API receives runs them (see models/libeo/keys.py).
_CLAIM = insert(IdempotencyRecord).values(
    account_id=bindparam("account_id"), key=bindparam("key"), request_hash=bindparam("request_hash"), state=IN_PROGRESS
)
_COMPLETE = (
    update(IdempotencyRecord)
    .where(IdempotencyRecord.id == bindparam("record_id"))
    .values(state=DONE, response_status=bindparam("answer_status"), response_body=bindparam("answer_body"))
    .execution_options(synchronize_session=False)
)


def claim_key(account: Account, key: str, request_hash: str) -> Claim:
    """Claims ``key`` for this request, or tells the answer of the finished request that claimed it.

    Raises InvalidData when the key was used with another request, Conflict
    while the first request with this key is still running.
    """
    try:
        inserted = db.session.connection().execute(
            _CLAIM, {"account_id": account.id, "key": key, "request_hash": request_hash}
        )
        return Claim(inserted.inserted_primary_key[0])
    except IntegrityError:
        db.session.rollback()
    existing = db.session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.account_id == account.id, IdempotencyRecord.key == key)
    )
    if existing is None:
        # The first request failed and released the key in between: try again.
        raise Conflict("Une requête avec cette clé d'idempotence vient d'échouer : réessayez.", code="idempotency_in_progress")
    if existing.request_hash != request_hash:
        raise InvalidData(
            "Cette clé d'idempotence a déjà servi pour une autre requête : utilisez une nouvelle clé.",
            "Idempotency-Key",
            code="idempotency_key_reused",
        )
    if existing.state == DONE:
        return Claim(existing.id, (existing.response_status, json.loads(existing.response_body)))
    if _take_over_stale(existing):
        return Claim(existing.id)
    raise Conflict(
        "La première requête avec cette clé d'idempotence est encore en cours : réessayez dans un instant.",
        code="idempotency_in_progress",
    )


def _take_over_stale(record: IdempotencyRecord) -> bool:
    now = utcnow()
    result = db.session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.id == record.id,
            IdempotencyRecord.state == IN_PROGRESS,
            IdempotencyRecord.created_at < now - STALE_AFTER,
        )
        .values(created_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def complete(record_id: int, status: int, body: dict) -> None:
    """Stores the answer a replay of the key gets, in the transaction of the work it describes.

    Run as plain SQL on the session's connection (last before the commit of a payment, under the
    writers' turn on SQLite): the session does not track the record.
    """
    db.session.connection().execute(
        _COMPLETE, {"record_id": record_id, "answer_status": status, "answer_body": json.dumps(body, ensure_ascii=False)}
    )


def release(record_id: int) -> None:
    """Forgets a claim whose request ended without a result worth replaying."""
    db.session.execute(
        delete(IdempotencyRecord)
        .where(IdempotencyRecord.id == record_id, IdempotencyRecord.state == IN_PROGRESS)
        .execution_options(synchronize_session=False)
    )
