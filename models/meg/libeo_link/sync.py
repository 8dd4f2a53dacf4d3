"""The sync pass (``flask --app app meg sync``): MEG and Libeo come to tell the same story.

One pass, in this order:
1. replays the payment requests whose answer was lost (same Idempotency-Key
   and body: Libeo answers what it did, or does it now, once);
2. delivers the queued invoice changes (``libeo_outbox``);
3. reads each connected company's events from Libeo's feed, from the cursor
   it stored, and records every payment's latest state (idempotent, in order).
Every piece is claimed in the database before it is worked on, so any number
of workers may run passes at once; a worker killed mid-pass leaves claims
that expire, and the next pass takes the work over.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import perf_counter

from flask import current_app
from sqlalchemy import DateTime, Integer, bindparam, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from core.dates import as_utc, utcnow
from core.db import rowcount
from core.observability.context import work_scope
from models.meg.achats.models import SupplierInvoice
from models.meg.companies.models import Company
from models.meg.db import Model, db
from models.meg.libeo_link.attempts import (
    OPEN_STATES,
    PaymentAttempt,
    claim_duration,
    claim_unheard,
)
from models.meg.libeo_link.client import LibeoApiError
from models.meg.libeo_link.connection import (
    ConnectionState,
    LibeoConnection,
    LibeoLinkError,
)
from models.meg.libeo_link.disconnecting import end_following_if_done
from models.meg.libeo_link.outbox import deliver_invoice_updates, purge_old_messages
from models.meg.libeo_link.paying import apply_payment_info, replay

log = logging.getLogger("meg.sync")

PAGE_SIZE = 100
MAX_PAGES = 20
# Libeo describes each account (GET /me: name, accountant) this often.
ACCOUNT_INTERVAL = timedelta(minutes=10)


@dataclass
class SyncReport:
    replayed: int = 0
    delivered: int = 0
    postponed: int = 0
    events: int = 0
    companies: int = 0
    purged: int = 0

    def __str__(self) -> str:
        return (f"Demandes de paiement vérifiées : {self.replayed} ; mises à jour envoyées : {self.delivered} "
                f"(reportées : {self.postponed}) ; événements Libeo lus : {self.events} "
                f"pour {self.companies} entreprise(s) ; anciennes mises à jour effacées : {self.purged}.")


class SyncRun(Model):
    """The last sync pass that went to its end, whichever worker ran it (one row): what the operator watches."""

    __tablename__ = "libeo_sync_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[int] = mapped_column(Integer)


_RECORD_RUN = (
    update(SyncRun).where(SyncRun.id == 1)
    .values(finished_at=bindparam("finished_at"), duration_ms=bindparam("duration_ms"))
    .execution_options(synchronize_session=False)
)


def sync_pass(now: datetime | None = None) -> SyncReport:
    """One pass; its calls to Libeo carry one request id of their own, as a request's do."""
    started = perf_counter()
    report = SyncReport()
    with work_scope("meg", route="sync"):
        for payment_id in claim_unheard(now):
            attempt = db.session.get(PaymentAttempt, payment_id)
            if attempt is not None:
                replay(attempt)
                report.replayed += 1
        report.delivered, report.postponed = deliver_invoice_updates()
        for connection_id in _claim_connections(now or utcnow()):
            report.companies += 1
            report.events += read_events(connection_id)
        report.purged = purge_old_messages(now)
        record_run(perf_counter() - started)
        if report.replayed or report.delivered or report.postponed or report.events:
            log.info("Passage de synchronisation avec Libeo : %s", report)
    return report


def record_run(seconds: float) -> None:
    values = {"finished_at": utcnow(), "duration_ms": round(seconds * 1000)}
    if rowcount(db.session.execute(_RECORD_RUN, values)):
        db.session.commit()
        return
    db.session.add(SyncRun(id=1, **values))
    try:
        db.session.commit()
    except IntegrityError:  # another worker's first pass wrote the row meanwhile
        db.session.rollback()
        db.session.execute(_RECORD_RUN, values)
        db.session.commit()


def last_run() -> SyncRun | None:
    return db.session.get(SyncRun, 1)


def _claim_connections(now: datetime) -> list[int]:
    """The connections to read now: those with a payment in flight, the others every ``SYNC_QUIET_SECONDS``.

    Reading the feed is also how MEG notices, within that time, that a key
    was revoked or that Libeo is unreachable (« Options » shows it).
    """
    quiet = timedelta(seconds=current_app.config["SYNC_QUIET_SECONDS"])
    in_flight = exists().where(
        PaymentAttempt.invoice_id == SupplierInvoice.id,
        SupplierInvoice.company_id == LibeoConnection.company_id,
        PaymentAttempt.status.in_(OPEN_STATES),
    )
    candidates = db.session.scalars(
        select(LibeoConnection.id).where(
            # A revoked key never works again; a removed connection that followed its payments to the end has none.
            LibeoConnection.state.not_in((ConnectionState.KEY_REVOKED, ConnectionState.REMOVED)),
            or_(LibeoConnection.sync_claimed_until.is_(None), LibeoConnection.sync_claimed_until < now),
            or_(in_flight, LibeoConnection.last_checked_at.is_(None),
                LibeoConnection.last_checked_at < now - quiet),
        ).order_by(LibeoConnection.id)
    ).all()
    claimed = []
    for connection_id in candidates:
        won = rowcount(db.session.execute(
            update(LibeoConnection)
            .where(LibeoConnection.id == connection_id,
                   or_(LibeoConnection.sync_claimed_until.is_(None), LibeoConnection.sync_claimed_until < now))
            .values(sync_claimed_until=now + claim_duration())
            .execution_options(synchronize_session=False)
        ))
        db.session.commit()
        if won:
            claimed.append(connection_id)
    return claimed


def read_events(connection_id: int) -> int:
    """Reads the company's new events page by page; each page and its cursor in one commit."""
    connection = db.session.get_one(LibeoConnection, connection_id)
    company = db.session.get_one(Company, connection.company_id)
    read = 0
    read_to_the_end = None
    try:
        client = connection.client(attempts=1)
        for _ in range(MAX_PAGES):
            cursor = connection.events_cursor
            db.session.commit()
            events, following, account = client.events(cursor, PAGE_SIZE)
            for event in events:
                if event.payment is not None:
                    apply_payment_info(company, event.payment, connection.libeo_account_id)
            connection.events_cursor = following
            connection.record_success(account)
            read += len(events)
            db.session.commit()
            if len(events) < PAGE_SIZE:
                read_to_the_end = utcnow()
                break
        checked = connection.account_checked_at  # a Libeo whose feed does not describe the account
        if checked is None or as_utc(checked) < utcnow() - ACCOUNT_INTERVAL:
            connection.record_success(client.me())
    except LibeoApiError as error:
        db.session.rollback()
        connection.record_failure(error)
    except LibeoLinkError as error:
        db.session.rollback()
        connection.last_error = error.message[:300]
    if read_to_the_end is not None:
        connection.events_read_at = read_to_the_end
        end_following_if_done(connection)
    connection.sync_claimed_until = None
    db.session.commit()
    return read
