"""API keys of the integrations (MEG): issued once, stored hashed, checked in constant time.

A key reads ``lbo_meg_<public id>_<secret>``: the recognisable prefix tells a
person (and secret scanners) what it is, the public id finds the row, the
256-bit secret is what proves possession. Only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.utils import (
    cached_property,  # not functools': on 3.11 it locks every instance while one computes
)

from core.dates import as_utc, utcnow
from core.db import rowcount
from models.libeo.accounts.models import REVOKED_BY_MEG, Account, ApiKey, Plan
from models.libeo.db import db
from models.libeo.errors import Conflict, NotFound
from models.libeo.invoices.models import Invoice
from models.libeo.journal import record as journal
from models.libeo.notifications.events import api_key_created
from models.libeo.payments.idempotency import running_claims
from models.libeo.payments.models import AT_BANK, Payment, PaymentEvent, PaymentStatus, PaymentUsage
from models.libeo.payments.quota import PaymentQuota, quota_month

MEG = "meg"
IN_FLIGHT = (PaymentStatus.AWAITING_APPROVAL, PaymentStatus.SCHEDULED, *AT_BANK)
KEY_PREFIX = "lbo_meg_"
_KEY_SHAPE = re.compile(r"lbo_meg_(?P<public_id>[0-9a-f]{12})_[A-Za-z0-9_-]{43}")
MAX_KEY_LENGTH = 200
# Compared against when no key matches, so that a miss costs what a hit costs.
_NO_KEY_HASH = hashlib.sha256(b"no such key").hexdigest()
# ``last_used_at`` is precise to this much: one write a minute, not one per call.
USE_RECORD_INTERVAL = timedelta(seconds=60)
# Built once: every API call runs it, and a statement object reused keeps its
# cache key, where one built per call is traversed again to find it. It reads
# plain columns (no ORM objects: half the cost of the call): the key, what
# ``GET /me`` tells of its account, and the account's payments of the month
# (an outer join on that row's primary key), so that ``GET /me`` needs no other statement.
_KEY_BY_PUBLIC_ID = (
    select(
        ApiKey.id, ApiKey.account_id, ApiKey.prefix, ApiKey.key_hash, ApiKey.last_used_at, ApiKey.revoked_at,
        ApiKey.retired_at, Account.name, Account.siret, Account.plan, Account.accountant_email, Account.verified_at,
        Account.debtor_iban, Account.approval_threshold_cents, Account.approve_accountant_payments,
        PaymentUsage.payment_count,
    )
    .join(Account, Account.id == ApiKey.account_id)
    .outerjoin(PaymentUsage, (PaymentUsage.account_id == ApiKey.account_id)
               & (PaymentUsage.month == bindparam("month")))
    .where(ApiKey.public_id == bindparam("public_id"))
)
# The same row with the account as an ORM object, for the calls that act on it (pay, send an
# invoice): it is then in the session without a primary-key read of its own.
_KEY_WITH_ACCOUNT_BY_PUBLIC_ID = _KEY_BY_PUBLIC_ID.add_columns(Account)


@dataclass(frozen=True)
class AccountSummary:
    """What ``GET /me`` tells of a key's account, read with the key."""

    id: int
    name: str
    siret: str | None
    plan: Plan
    accountant_email: str | None
    verified_at: datetime | None
    debtor_iban: str | None = None
    approval_threshold_cents: int | None = None
    approve_accountant_payments: bool = False

    # The account's own rules, so that a PaymentQuota counts with a summary as with an account.
    payment_limit = Account.payment_limit
    is_verified = Account.is_verified
    has_debtor_iban = Account.has_debtor_iban
    execution_blocker = Account.execution_blocker


@dataclass
class KeyInUse:
    """A valid API key as a request uses it: what the call needs, read in one statement.

    ``account``, the ORM account, is read with the key for the calls that
    act on it (pay, send an invoice…); ``GET /me`` reads the summary only.
    """

    id: int
    prefix: str
    last_used_at: datetime | None
    summary: AccountSummary
    quota: PaymentQuota  # of the month, as read with the key
    loaded_account: Account | None = None  # read with the key (``authenticate_api_key(…, with_account=True)``)
    # Given up by MEG with payments in flight: it reads the account's payments and events, nothing else.
    retired: bool = False

    @property
    def account_id(self) -> int:
        return self.summary.id

    @cached_property
    def account(self) -> Account | None:
        if self.loaded_account is not None:
            return self.loaded_account
        return db.session.get(Account, self.account_id)


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def active_api_key(account: Account, integration: str = MEG) -> ApiKey | None:
    return db.session.scalar(
        select(ApiKey).where(
            ApiKey.account_id == account.id, ApiKey.integration == integration, ApiKey.revoked_at.is_(None)
        )
    )


def issue_meg_api_key(account: Account, actor: str | None = None) -> str:
    """A new MEG key for the account, returned in clear this once; the previous one stops working."""
    replaced = _revoke_active(account, MEG, actor)
    public_id = secrets.token_hex(6)
    plaintext = f"{KEY_PREFIX}{public_id}_{secrets.token_urlsafe(32)}"
    db.session.add(
        ApiKey(
            account_id=account.id,
            integration=MEG,
            public_id=public_id,
            prefix=f"{KEY_PREFIX}{public_id}",
            key_hash=hash_key(plaintext),
        )
    )
    try:
        db.session.flush()
    except IntegrityError as exc:
        # Another « Régénérer » of the same account won the race.
        db.session.rollback()
        raise Conflict("Une autre clé vient d'être créée pour ce compte : rechargez la page.") from exc
    journal(account.id, "key.issued",
            f"Clé d'API MEG créée ({KEY_PREFIX}{public_id}…)" + (" : elle remplace la précédente, révoquée." if replaced
                                                                 else "."), actor)
    api_key_created(account, f"{KEY_PREFIX}{public_id}", actor, bool(replaced))
    return plaintext


def revoke_api_key(account: Account, integration: str = MEG, actor: str | None = None) -> None:
    """Revokes the account's active key; ``actor`` is who did (a user's e-mail)."""
    key = active_api_key(account, integration)
    if not _revoke_active(account, integration, actor):
        raise NotFound("Aucune clé active à révoquer.")
    journal(account.id, "key.revoked", f"Clé d'API MEG révoquée ({key.prefix}…)." if key else "Clé d'API MEG révoquée.",
            actor)


def give_up_key(key: KeyInUse, read_up_to: int | None = None) -> int | None:
    """``DELETE /key``: the integration gives its own key up (MEG's « Supprimer la connexion »).

    Revoked at once (None is returned) when none of MEG's payments is in
    flight and the caller has read the events feed up to ``read_up_to``'s
    end (or does not say where it stands). Otherwise it is retired: it keeps
    reading the account's payments and events, so that MEG follows what it
    already asked for, and may do nothing else; ``end_retired_key`` revokes
    it once MEG has read the last of them. Returns the payments in flight.
    """
    in_flight = meg_payments_in_flight(key.account_id)
    if not in_flight and (read_up_to is None or read_to_the_end(key.account_id, read_up_to)):
        _revoke_given_up(key)
        return None
    retired = rowcount(db.session.execute(
        update(ApiKey)
        .where(ApiKey.id == key.id, ApiKey.revoked_at.is_(None), ApiKey.retired_at.is_(None))
        .values(retired_at=utcnow())
        .execution_options(synchronize_session="fetch")
    ))
    if retired:
        journal(key.account_id, "key.retired",
                f"Connexion supprimée dans MEG : la clé d'API MEG ({key.prefix}…) ne sert plus qu'à suivre les "
                f"paiements déjà demandés par MEG ({in_flight} en cours) ; elle sera révoquée quand le dernier sera "
                "terminé.", REVOKED_BY_MEG)
    return in_flight


def read_to_the_end(account_id: int, after: int) -> bool:
    """Whether a reader of the account's events feed at cursor ``after`` has read its last event: none after it,
    and ``after`` is that event (or there is none). A cursor past the end (one Libeo never gave: a typo, a cursor
    reset) is not: the events it may have missed are still there."""
    return not events_after_exist(account_id, after) and cursor_given(account_id, after)


def cursor_given(account_id: int, after: int) -> bool:
    """Whether ``after`` is a cursor of the account's feed: the start, or one of its events."""
    return after == 0 or events_after_exist(account_id, after - 1)


def events_after_exist(account_id: int, after: int) -> bool:
    return db.session.scalar(
        select(PaymentEvent.id).where(PaymentEvent.account_id == account_id, PaymentEvent.seq > after).limit(1)
    ) is not None


def end_retired_key(key: KeyInUse, caught_up: bool) -> bool:
    """Revokes a retired key once MEG has read every event (``caught_up``) and none of its payments is in
    flight; whether it did."""
    if not key.retired or not caught_up or meg_payments_in_flight(key.account_id):
        return False
    _revoke_given_up(key, " : les paiements que MEG suivait sont terminés")
    return True


def _revoke_given_up(key: KeyInUse, why: str = "") -> None:
    revoked = rowcount(db.session.execute(
        update(ApiKey)
        .where(ApiKey.id == key.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_by=REVOKED_BY_MEG)
        .execution_options(synchronize_session="fetch")
    ))
    if revoked:
        journal(key.account_id, "key.revoked", f"Clé d'API MEG révoquée par MEG (« Supprimer la connexion ») "
                f"({key.prefix}…){why}.", REVOKED_BY_MEG)


def meg_payments_in_flight(account_id: int) -> int:
    """The account's payments of invoices sent by MEG that are not finished (paid, rejected, cancelled), and
    its payment requests still running (a key given up now would otherwise be revoked under them)."""
    return running_claims(account_id) + (db.session.scalar(
        select(func.count(Payment.id)).join(Invoice, Invoice.id == Payment.invoice_id)
        .where(Payment.account_id == account_id, Invoice.external_id.is_not(None),
               Payment.status.in_(IN_FLIGHT))
    ) or 0)


def last_revoked_key(account: Account, integration: str = MEG) -> ApiKey | None:
    return db.session.scalar(
        select(ApiKey)
        .where(ApiKey.account_id == account.id, ApiKey.integration == integration, ApiKey.revoked_at.is_not(None))
        .order_by(ApiKey.revoked_at.desc())
        .limit(1)
    )


def _revoke_active(account: Account, integration: str, by: str | None = None) -> int:
    result = db.session.execute(
        update(ApiKey)
        .where(ApiKey.account_id == account.id, ApiKey.integration == integration, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_by=by)
        .execution_options(synchronize_session="fetch")
    )
    return rowcount(result)


def authenticate_api_key(plaintext: str | None, *, with_account: bool = False) -> KeyInUse | None:
    """The active key matching ``plaintext`` (with its account's summary and quota of the month), else None.

    ``with_account``: the account is read with the key as an ORM object
    (``KeyInUse.account``), for a call that acts on it; otherwise plain
    columns only, half the cost of ``GET /me``.

    Missing, malformed, unknown and revoked keys all end the same way, after
    the same constant-time comparison.
    """
    candidate = (plaintext or "")[:MAX_KEY_LENGTH]
    shape = _KEY_SHAPE.fullmatch(candidate)
    row, month = None, quota_month()
    if shape:
        values = {"public_id": shape["public_id"], "month": month}
        if with_account:
            row = db.session.execute(_KEY_WITH_ACCOUNT_BY_PUBLIC_ID, values).first()
        else:
            row = db.session.connection().execute(_KEY_BY_PUBLIC_ID, values).first()
    stored = row.key_hash if row is not None else _NO_KEY_HASH
    matches = hmac.compare_digest(hash_key(candidate), stored)
    if row is None or not matches or row.revoked_at is not None:
        return None
    summary = AccountSummary(row.account_id, row.name, row.siret, row.plan, row.accountant_email, row.verified_at,
                             row.debtor_iban, row.approval_threshold_cents, bool(row.approve_accountant_payments))
    return KeyInUse(row.id, row.prefix, row.last_used_at, summary,
                    PaymentQuota.known(summary, month, row.payment_count or 0),
                    row.Account if with_account else None, retired=row.retired_at is not None)


def record_key_use(key: KeyInUse) -> bool:
    """Sets « Dernière utilisation », at most once per interval; True when it tried (commit then).

    The key row is already read: within the interval an API call writes
    nothing, so reads (``GET /me``, ``GET /events``) commit nothing. The
    UPDATE stays conditional, so concurrent calls write once.
    """
    now = utcnow()
    if key.last_used_at is not None and as_utc(key.last_used_at) >= now - USE_RECORD_INTERVAL:
        return False
    db.session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key.id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - USE_RECORD_INTERVAL),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    return True


def public_id_of(plaintext: str | None) -> str | None:
    """The non-secret part of a well-formed key (to rate-limit per key), else None."""
    shape = _KEY_SHAPE.fullmatch((plaintext or "")[:MAX_KEY_LENGTH])
    return shape["public_id"] if shape else None
