"""The account's events feed (``GET /events``): every change of a payment, in order, once.

Each change of a payment's state appends one ``payment.updated`` event, in
the transaction that makes the change, carrying the payment's JSON after it.

The cursor is the event's number within its account (``seq``: 1, 2, 3…).
Numbers are taken by ``UPDATE account SET last_event_seq = last_event_seq + n
… RETURNING``: the account's row stays locked until the writing transaction
ends, so a second writer gets its number only once the first has committed
(or rolled back, giving the number back). Numbers are therefore committed in
order and without gaps: a reader that has seen event N+1 can never later
find an event N it skipped, whatever the concurrency, on PostgreSQL as on
SQLite (where writers take turns anyway).

Lock order: a writer takes the account's row last (after the payments and
the month's quota row), so writers of one account never wait on each other
in a cycle.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, bindparam, insert, select, update

from core.dates import utcnow
from models.libeo.accounts.models import Account
from models.libeo.db import db
from models.libeo.notifications.events import payments_moved
from models.libeo.payments.models import Payment, PaymentEvent, PaymentStatus

PAYMENT_UPDATED = "payment.updated"
MAX_LIMIT = 500
DEFAULT_LIMIT = 100


def iso_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def payment_json(payment: Payment) -> dict:
    """A payment as the API shows it: GET /payments/{id}, the POST's answer, each event's ``data``.

    ``hold_reasons`` and ``hold_details`` say why a payment is held while it
    is (``awaiting_approval``); Libeo's pages keep them after the decision.
    """
    held = payment.status is PaymentStatus.AWAITING_APPROVAL
    return {
        "id": payment.id,
        # One more at each change: a client keeps the account with the highest version.
        "version": payment.version,
        "status": payment.status.value,
        "status_label": payment.status_label,
        "hold_reasons": list(payment.hold_reasons or ()) if held else [],
        # French sentences naming the other invoice or the previous IBAN (masked).
        "hold_details": list(payment.hold_details or ()) if held else [],
        "amount_cents": payment.amount_cents,
        "currency": payment.currency,
        "execution_date": payment.execution_date.isoformat(),
        # The bank leg (file_ready → transmitted → accepted → paid or failed), each with the bank's date.
        "transmitted_at": iso_datetime(payment.transmitted_at),
        "accepted_at": iso_datetime(payment.accepted_at),
        "bank_status": payment.bank_status,
        "paid_on": payment.paid_on.isoformat() if payment.paid_on else None,
        "paid_at": iso_datetime(payment.paid_at),
        "failure_reason": payment.failure_reason,
        "failure_code": payment.failure_code,
        "bank_text": payment.bank_text,
        # Rejected for a reason of the payee's account: pay again only to the supplier's new IBAN.
        "new_iban_required": payment.new_iban_required,
        # What a bank report said that Libeo did not apply, until a person of the account decides (None then).
        "bank_anomaly": payment.bank_anomaly,
        "cancelled_at": iso_datetime(payment.cancelled_at),
        "cancel_reason": payment.cancel_reason,
        # Who approved or refused the held payment, and when (null until an administrator decides).
        "decided_by": payment.decided_by,
        "decided_at": iso_datetime(payment.decided_at),
        "invoice_external_id": payment.invoice.external_id,
        "initiated_by": {"email": payment.initiated_by_email, "role": payment.initiated_by_role.value},
        "channel": payment.channel.value,
        "created_at": iso_datetime(payment.created_at),
        # Whom the transfer pays: the invoice's beneficiary when the payment was made (an IBAN changed since
        # is for a new payment).
        "payee": {"name": payment.creditor_name, "iban": payment.creditor_iban, "bic": payment.creditor_bic},
    }


# Built once, and run on the session's connection as plain SQL: every change of a payment runs
# them, last in its transaction (holding the writers' turn on SQLite). The session tracks neither
# (nothing reads them back in this transaction; the account's other columns do not change).
_ACCOUNTS = cast(Table, Account.__table__)  # a declarative class's table, typed as any FromClause
_TAKE_SEQ = (
    update(_ACCOUNTS)
    .where(_ACCOUNTS.c.id == bindparam("account_id"))
    .values(last_event_seq=_ACCOUNTS.c.last_event_seq + bindparam("count"))
    .returning(_ACCOUNTS.c.last_event_seq)
)
_INSERT_EVENT = insert(cast(Table, PaymentEvent.__table__))


def record_payment_events(account_id: int, payments: Iterable[Payment]) -> None:
    """Appends one event per payment, with its current state, and the e-mails it causes
    (``models.libeo.notifications.events``); in the caller's transaction.

    Call it last in the transaction (it locks the account's row until commit).
    """
    payments = list(payments)
    if not payments:
        return
    db.session.flush()
    connection = db.session.connection()
    last = connection.execute(_TAKE_SEQ, {"account_id": account_id, "count": len(payments)}).scalar_one()
    now = utcnow()
    first = last - len(payments) + 1
    connection.execute(_INSERT_EVENT, [
        {
            "account_id": account_id,
            "seq": first + offset,
            "type": PAYMENT_UPDATED,
            "payment_id": payment.id,
            "data": json.dumps(payment_json(payment), ensure_ascii=False, separators=(",", ":")),
            "created_at": now,
        }
        for offset, payment in enumerate(payments)
    ])
    payments_moved(account_id, payments)


@dataclass(frozen=True)
class EventPage:
    events: list[PaymentEvent]
    next_cursor: int


def events_after(account: Account, after: int, limit: int = DEFAULT_LIMIT) -> EventPage:
    """The account's events numbered after ``after``, oldest first; the cursor to continue from."""
    events = list(
        db.session.scalars(
            select(PaymentEvent)
            .where(PaymentEvent.account_id == account.id, PaymentEvent.seq > after)
            .order_by(PaymentEvent.seq)
            .limit(limit)
        )
    )
    return EventPage(events, events[-1].seq if events else after)


def event_json(event: PaymentEvent) -> dict:
    return {
        "id": event.id,
        "seq": event.seq,
        "type": event.type,
        "created_at": iso_datetime(event.created_at),
        "data": json.loads(event.data),
    }
