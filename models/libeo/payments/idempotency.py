"""``Idempotency-Key``: one outcome per key, whatever the retries and their timing.

The first request claims the key by inserting its record (unique per
account) in a transaction of its own, so a concurrent duplicate sees it at
once (an item of a batch claims it in the batch's transaction). The
outcome is stored in the same transaction as the work it describes: a
replay answers exactly what the first request answered.

A claim is a lease (``IDEMPOTENCY_LEASE_SECONDS``, seconds): a request
whose process died leaves its claim « in progress » (its work rolled back
with its transaction), and the first retry after the lease takes it over.
Each claim names its owner; only the owner may store the answer or give the
key back, both conditional UPDATEs on the owner: a request that was only
slow, not dead, finds its claim taken and rolls its work back (a 409 its
caller retries), so one request's work commits, never two.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from core.dates import utcnow
from core.db import purge_in_batches, rowcount, undo_work
from models.libeo.accounts.models import Account
from models.libeo.db import db
from models.libeo.errors import Conflict, InvalidData
from models.libeo.payments.models import IdempotencyRecord

IN_PROGRESS = "in_progress"
DONE = "done"
# Closed unused (``void_key``): no request with this key will ever be executed; every one gets VOID_ANSWER.
VOID = "void"
VOID_STATUS = 410
VOID_CODE = "request_void"
VOID_MESSAGE = ("Libeo n'a jamais reçu de demande avec cette clé d'idempotence avant que MEG ne la clôture "
                "(« Supprimer la connexion ») : aucun paiement n'a été créé, et aucun ne le sera avec cette clé.")
STILL_RUNNING = "La première requête avec cette clé d'idempotence est encore en cours : réessayez dans un instant."


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
    owner: str | None = None  # this request's token, while it holds the claim


def lease() -> timedelta:
    return timedelta(seconds=current_app.config["IDEMPOTENCY_LEASE_SECONDS"])


# Built once: every payment the API receives runs them (see models/libeo/keys.py).
_CLAIM = insert(IdempotencyRecord).values(
    account_id=bindparam("account_id"), key=bindparam("key"), request_hash=bindparam("request_hash"), state=IN_PROGRESS,
    owner=bindparam("claim_owner"),
)
_EXISTING = select(IdempotencyRecord).where(IdempotencyRecord.account_id == bindparam("account_id"),
                                            IdempotencyRecord.key == bindparam("key"))
_COMPLETE = (
    update(IdempotencyRecord)
    .where(IdempotencyRecord.id == bindparam("record_id"), IdempotencyRecord.owner == bindparam("claim_owner"),
           IdempotencyRecord.state == IN_PROGRESS)
    .values(state=DONE, response_status=bindparam("answer_status"), response_body=bindparam("answer_body"))
    .execution_options(synchronize_session=False)
)


def claim_key(account: Account, key: str, request_hash: str, *, in_batch: bool = False) -> Claim:
    """Claims ``key`` for this request, or tells the answer of the finished request that claimed it.

    Raises InvalidData when the key was used with another request, Conflict
    while the first request with this key is still running. ``in_batch``: an
    item of a batch, in a savepoint of the batch's transaction: the key's
    record is read first (a replayed batch finds every key), and a claim
    that fails (a concurrent request inserted the key meanwhile) undoes the
    item only and answers « try again » (Conflict).
    """
    owner = secrets.token_hex(16)
    existing = None
    if in_batch:
        existing = db.session.scalar(_EXISTING, {"account_id": account.id, "key": key})
    if existing is None:
        try:
            inserted = db.session.connection().execute(
                _CLAIM, {"account_id": account.id, "key": key, "request_hash": request_hash, "claim_owner": owner}
            )
            primary_key = inserted.inserted_primary_key
            assert primary_key is not None  # an INSERT of one row tells its key
            return Claim(primary_key[0], owner=owner)
        except IntegrityError:
            if not undo_work(db):
                raise Conflict(STILL_RUNNING, code="idempotency_in_progress") from None
        existing = db.session.scalar(_EXISTING, {"account_id": account.id, "key": key})
    if existing is None:
        # The first request failed and released the key in between: try again.
        raise Conflict("Une requête avec cette clé d'idempotence vient d'échouer : réessayez.",
                       code="idempotency_in_progress")
    answer = recorded_answer(existing, request_hash)
    if answer is not None:
        return Claim(existing.id, answer)
    owner = secrets.token_hex(16)
    if _take_over_expired(existing, owner):
        return Claim(existing.id, owner=owner)
    raise Conflict(STILL_RUNNING, code="idempotency_in_progress")


def recorded_answer(record: IdempotencyRecord, request_hash: str) -> tuple[int, dict] | None:
    """What a request with a key already recorded answers: the first answer (or the key's closing) to replay;
    None while the first request runs. Raises InvalidData when the key was used with another request."""
    if record.state == VOID:  # whatever the request: closed for good
        return VOID_STATUS, void_answer()
    if record.request_hash != request_hash:
        raise InvalidData(
            "Cette clé d'idempotence a déjà servi pour une autre requête : utilisez une nouvelle clé.",
            "Idempotency-Key",
            code="idempotency_key_reused",
        )
    if record.state == DONE:
        return _stored_answer(record)
    return None


_RECORDS = select(IdempotencyRecord).where(IdempotencyRecord.account_id == bindparam("account_id"),
                                           IdempotencyRecord.key.in_(bindparam("keys", expanding=True)))


def recorded_keys(account_id: int, keys: list[str]) -> dict[str, IdempotencyRecord]:
    """The records of those of ``keys`` the account used already, in one statement."""
    return {record.key: record for record in db.session.scalars(_RECORDS, {"account_id": account_id, "keys": keys})}


def claim_keys(account_id: int, keys: list[tuple[str, str]]) -> dict[str, Claim]:
    """Claims several keys at once for one request (a batch), each (key, request hash), in the caller's
    transaction: the claims made, by key. A key missing from them was claimed meanwhile by a concurrent
    request (``claim_key`` commits a claim alone): the caller decides that key again (``claim_key``)."""
    if not keys:
        return {}
    dialect = db.session.get_bind().dialect.name
    insert_rows = postgresql.insert if dialect == "postgresql" else sqlite.insert
    owner = secrets.token_hex(16)
    claimed = db.session.execute(
        insert_rows(IdempotencyRecord).on_conflict_do_nothing(index_elements=["account_id", "key"])
        .returning(IdempotencyRecord.id, IdempotencyRecord.key),
        [{"account_id": account_id, "key": key, "request_hash": request_hash, "state": IN_PROGRESS, "owner": owner,
          "created_at": utcnow()} for key, request_hash in keys],
    )
    return {key: Claim(record_id, owner=owner) for record_id, key in claimed}


def complete_all(answers: list[tuple[Claim, int, dict]]) -> None:
    """Stores the answers of several claims of this transaction (``claim_keys``), each (claim, status, body),
    in one statement: as :func:`complete`, for claims no other request can have taken over (uncommitted,
    they are invisible to other requests until the commit)."""
    if answers:
        db.session.connection().execute(_COMPLETE, [
            {"record_id": claim.record_id, "claim_owner": claim.owner, "answer_status": status,
             "answer_body": json.dumps(body, ensure_ascii=False)} for claim, status, body in answers])


def void_answer() -> dict:
    return {"error": {"code": VOID_CODE, "message": VOID_MESSAGE, "field": None}}


@dataclass(frozen=True)
class KeyOutcome:
    """What became of the requests made with an Idempotency-Key (``void_key``)."""

    state: str  # VOID: never received, now closed; DONE: answered (``answer``); IN_PROGRESS: still running
    answer: tuple[int, dict] | None = None


def void_key(account_id: int, key: str) -> KeyOutcome:
    """MEG gives up a request it never heard answered (« Supprimer la connexion »): Libeo tells what it did.

    A key Libeo never received is closed for good (a record in the VOID
    state): no later request with it, with whatever API key of the account,
    will create anything; each gets the VOID answer. A key whose request was
    answered tells that answer; one whose request still runs (within its
    lease) says so; an expired claim is taken over and closed (its request,
    if only slow, then fails to store its answer and rolls back). Idempotent.
    """
    owner = secrets.token_hex(16)
    try:
        db.session.connection().execute(insert(IdempotencyRecord).values(
            account_id=account_id, key=key, request_hash=VOID, state=VOID, owner=owner))
        return KeyOutcome(VOID)
    except IntegrityError:
        db.session.rollback()
    existing = db.session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.account_id == account_id, IdempotencyRecord.key == key)
    )
    if existing is None:  # released in between: ask again
        return KeyOutcome(IN_PROGRESS)
    if existing.state == VOID:
        return KeyOutcome(VOID)
    if existing.state == DONE:
        return KeyOutcome(DONE, _stored_answer(existing))
    if _take_over_expired(existing, owner):
        db.session.execute(update(IdempotencyRecord).where(IdempotencyRecord.id == existing.id,
                                                           IdempotencyRecord.owner == owner)
                           .values(state=VOID).execution_options(synchronize_session=False))
        return KeyOutcome(VOID)
    return KeyOutcome(IN_PROGRESS)


def running_claims(account_id: int) -> int:
    """Requests with an Idempotency-Key of the account still running (within their lease)."""
    return db.session.scalar(
        select(func.count(IdempotencyRecord.id)).where(IdempotencyRecord.account_id == account_id,
                                                       IdempotencyRecord.state == IN_PROGRESS,
                                                       IdempotencyRecord.created_at >= utcnow() - lease())
    ) or 0


def _stored_answer(record: IdempotencyRecord) -> tuple[int, dict]:
    """The (status, body) a done key answers: ``complete`` wrote both."""
    if record.response_status is None or record.response_body is None:
        raise ValueError(f"the idempotency record {record.id} is done without its answer")
    return record.response_status, json.loads(record.response_body)


def _take_over_expired(record: IdempotencyRecord, owner: str) -> bool:
    """The claim of a request that did not answer within its lease becomes ``owner``'s (one taker wins)."""
    now = utcnow()
    result = db.session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.id == record.id,
            IdempotencyRecord.state == IN_PROGRESS,
            IdempotencyRecord.created_at < now - lease(),
        )
        .values(created_at=now, owner=owner)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def complete(claim: Claim, status: int, body: dict) -> None:
    """Stores the answer a replay of the key gets, in the transaction of the work it describes.

    Run as plain SQL on the session's connection (last before the commit of a payment, under the
    writers' turn on SQLite): the session does not track the record. Raises Conflict when another
    request took the claim over meanwhile: the caller rolls its work back.
    """
    stored = db.session.connection().execute(
        _COMPLETE, {"record_id": claim.record_id, "claim_owner": claim.owner, "answer_status": status,
                    "answer_body": json.dumps(body, ensure_ascii=False)}
    )
    if stored.rowcount != 1:
        raise Conflict(STILL_RUNNING, code="idempotency_in_progress")


def release(claim: Claim) -> None:
    """Forgets a claim whose request ended without a result worth replaying (if it still holds it)."""
    db.session.execute(
        delete(IdempotencyRecord)
        .where(IdempotencyRecord.id == claim.record_id, IdempotencyRecord.owner == claim.owner,
               IdempotencyRecord.state == IN_PROGRESS)
        .execution_options(synchronize_session=False)
    )
