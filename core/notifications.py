"""E-mail notifications, the same machinery for both products: an outbox, preferences, a worker.

**Written with the event.** A use case that does something a person must
hear about adds one row per recipient to its product's ``notification``
table, in its own transaction: the e-mail exists exactly when the event
does, and a rolled-back event leaves none. Rows are inserted with
``ON CONFLICT DO NOTHING`` on (event, recipient), so an event replayed,
retried or raced is told once to each person.

**Sent by a worker, never in a request.** :meth:`Notifier.run_pass` claims
due rows with one conditional UPDATE (``SKIP LOCKED`` on PostgreSQL, so that
concurrent workers take disjoint rows), decides each one from its
recipient's current preference, writes the e-mails (French text and HTML,
the product's typography, a link to the exact page), sends them over one
SMTP connection, and records each outcome as soon as it is known. A server
that is down or answers 4xx delays a row (retried with a growing delay);
one that refuses the recipient for good (5xx at RCPT) marks the address
bounced, which the person sees on their next visit.

**Preferences.** Each person chooses per kind: at once, in a daily digest,
or never; security notices are always sent at once. Every other e-mail
carries a signed link that turns its kind off without signing in (and the
``List-Unsubscribe`` headers of RFC 8058 for mail clients' one click).

A row is sent at least once and, short of a worker killed between the SMTP
server's « 250 » and its own commit, exactly once; each e-mail's
``Message-ID`` is derived from its row, so that a copy sent again after
such a crash is recognisably the same message.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from time import monotonic
from typing import Any, NamedTuple

from flask import current_app, render_template
from flask_sqlalchemy import SQLAlchemy
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    UniqueConstraint,
    bindparam,
    case,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column
from wtforms import RadioField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from core.dates import PARIS, as_utc, utcnow
from core.forms import Form
from core.mail import Delivery, Email, Outcome, address_of, send_messages
from core.observability.status import age_fr
from core.typography import french_spaces, typeset
from core.urls import public_links, public_url


class Mode(enum.Enum):
    """How a person wants one kind of notification."""

    IMMEDIATE = "immediate"
    DIGEST = "digest"
    OFF = "off"


# A row's state in the outbox.
PENDING, SENT, OFF, BOUNCED, FAILED = "pending", "sent", "off", "bounced", "failed"
IMMEDIATE, DIGEST = "immediate", "digest"
# Unsubscribing from a digest turns off every kind the person receives in it.
DIGEST_SETTING = "digest"

log = logging.getLogger(__name__)
# Line breaks and other control characters (never no-break spaces, which French typography wants).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

CLAIM = timedelta(minutes=10)
# A pass starts no new message after this long (well within its claim, whatever one message takes: each
# SMTP command waits at most its timeout), so no other worker ever takes a row this one may still send.
SENDING_WINDOW = timedelta(minutes=6)
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=1)
BATCH = 50
# An e-mail due for longer than this is an operator's problem (``Notifier.watch``).
BACKLOG_ALERT = timedelta(minutes=15)


@dataclass(frozen=True)
class Kind:
    """One kind of notification: what a person reads of it, and how its e-mail is made.

    ``setting`` is the preference it follows (security kinds share one,
    ``locked``: always at once). ``subject`` and ``link`` read the row's
    data (what the event was when it happened); ``link`` names the exact
    page (endpoint and values). ``still_due``, when set, is asked before
    sending: a problem solved meanwhile is not told.
    """

    code: str
    subject: Callable[[dict], str]
    link: Callable[[dict], tuple[str, dict]]
    setting: str = ""
    locked: bool = False
    still_due: Callable[[dict], bool] | None = None

    @property
    def setting_code(self) -> str:
        return self.setting or self.code


@dataclass(frozen=True)
class Setting:
    """A line of the « Notifications » page (``administrators_only``: shown to administrators only)."""

    code: str
    label: str
    description: str
    locked: bool = False
    administrators_only: bool = False


@dataclass(frozen=True)
class Recipient:
    email: str
    user_id: int | None = None


# --- the tables' columns (each product declares its tables with its own base and scope) ----------


class NotificationColumns:
    """One e-mail to write to one person about one event."""

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    # What happened, once: « payment:12:failed », « key:3f9a07c21b2d »…
    event_key: Mapped[str] = mapped_column(String(120))
    recipient: Mapped[str] = mapped_column(String(254))
    # What the e-mail tells, as it was when the event happened.
    data: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    # « digest » once its recipient chose the daily digest for its kind.
    delivery: Mapped[str] = mapped_column(String(10), default=IMMEDIATE)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A worker owns the row until then (``claim_token`` says which).
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claim_token: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))


def notification_table_args(table: str) -> tuple:
    return (
        UniqueConstraint("event_key", "recipient", name=f"uq_{table}_event_recipient"),
        # The worker's queue: what is due.
        Index(f"ix_{table}_due", "status", "due_at"),
    )


class NotificationSettingColumns:
    """A person's choice for one kind (none: at once). Keyed by address, so that anyone an e-mail
    reaches may turn it off from the e-mail itself."""

    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    setting: Mapped[str] = mapped_column(String(40), primary_key=True)
    mode: Mapped[str] = mapped_column(String(10))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class BounceColumns:
    """On a product's user: the SMTP server refused their address for good (shown on their next visit)."""

    email_bounced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    email_bounce_reason: Mapped[str | None] = mapped_column(String(300))


# --- what a pass did ------------------------------------------------------------------------------


@dataclass
class PassReport:
    sent: int = 0
    delayed: int = 0
    bounced: int = 0
    failed: int = 0
    turned_off: int = 0
    postponed_to_digest: int = 0
    moot: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def worked(self) -> bool:
        return bool(self.sent or self.delayed or self.bounced or self.failed or self.turned_off
                    or self.postponed_to_digest or self.moot)

    def __str__(self) -> str:
        text = (f"E-mails envoyés : {self.sent} ; reportés (serveur SMTP indisponible) : {self.delayed} ; "
                f"adresses refusées : {self.bounced} ; refusés par le serveur : {self.failed} ; "
                f"désactivés par leur destinataire : {self.turned_off} ; "
                f"gardés pour le récapitulatif : {self.postponed_to_digest}.")
        return text + (f" Dernière erreur : {self.errors[-1]}" if self.errors else "")


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min… at most an hour: a dead server is tried again, never hammered."""
    return min(FIRST_RETRY * 2 ** min(attempts - 1, 12), MAX_RETRY)


def next_digest_time(after: datetime, hour: int) -> datetime:
    """The next ``hour`` o'clock, Paris time, after ``after`` (the digest goes out then), in UTC.

    In UTC as every moment the databases hold: SQLite keeps a moment's wall-clock time without its
    offset, so 08:00 Paris written as such read as 08:00 UTC, and the digest went out an hour late
    (two in summer)."""
    local = as_utc(after).astimezone(PARIS)
    moment = datetime.combine(local.date(), time(hour), PARIS)
    if moment <= local:
        moment = datetime.combine(local.date() + timedelta(days=1), time(hour), PARIS)
    return moment.astimezone(UTC)


# --- the product's outbox and notifier ------------------------------------------------------------


@dataclass(frozen=True)
class Outbox:
    """Where a product's use cases write their notifications (``scope_column``: the account or company)."""

    db: SQLAlchemy
    notification: Any  # the product's table (a declarative class with NotificationColumns)
    scope_column: str

    def enqueue(self, kind: str, event_key: str, recipients: Iterable[Recipient], data: dict, scope_id: int,
                *, due_at: datetime | None = None) -> None:
        """One row per recipient (each address once), in the caller's transaction; an event already
        told to someone is not told again."""
        now = utcnow()
        rows, seen = [], set()
        for recipient in recipients:
            email = recipient.email.strip().lower()
            if not email or email in seen:
                continue
            seen.add(email)
            rows.append({
                "kind": kind, "event_key": event_key[:120], "recipient": email, "data": data,
                self.scope_column: scope_id, "user_id": recipient.user_id, "status": PENDING,
                "delivery": IMMEDIATE, "due_at": due_at or now, "attempts": 0, "created_at": now,
            })
        if not rows:
            return
        self.db.session.execute(self._insert(), rows)

    def enqueue_to(self, kind: str, event_key: str, recipients: Select, recipient_params: dict, data: dict,
                   scope_id: int, *, due_at: datetime | None = None) -> None:
        """The same for the people ``recipients`` finds (its columns: ``email``, ``user_id``; its values
        ``recipient_params``), in one statement (``INSERT … SELECT``): for events of the busiest
        transactions (a payment held). ``recipients`` is built once (a module constant): so is the
        statement, its values named parameters."""
        self.enqueue_each_to(kind, [(event_key, data)], recipients, recipient_params, scope_id, due_at=due_at)

    def enqueue_each_to(self, kind: str, events: list[tuple[str, dict]], recipients: Select, recipient_params: dict,
                        scope_id: int, *, due_at: datetime | None = None) -> None:
        """:meth:`enqueue_to` for several events of one kind, each (event key, data), told to the same people:
        one statement for all of them."""
        if not events:
            return
        now = utcnow()
        self.db.session.execute(_insert_from(self, recipients), [{
            **recipient_params, "outbox_kind": kind, "outbox_event_key": event_key[:120], "outbox_data": data,
            "outbox_scope_id": scope_id, "outbox_due_at": due_at or now, "outbox_created_at": now,
        } for event_key, data in events])

    def written(self, kind: str, event_keys: list[str]) -> set[str]:
        """Those of ``event_keys`` already in the outbox for ``kind`` (asked 500 at a time)."""
        table = self.notification
        found: set[str] = set()
        for start in range(0, len(event_keys), 500):
            found.update(self.db.session.scalars(select(table.event_key).where(
                table.kind == kind, table.event_key.in_(event_keys[start:start + 500]))))
        return found

    def _insert(self, dialect: str | None = None):
        table = self.notification.__table__
        dialect = dialect or self.db.session.get_bind().dialect.name
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
        return insert.on_conflict_do_nothing(index_elements=["event_key", "recipient"])


@functools.cache
def _insert_from(outbox: Outbox, recipients: Select):
    # Built once per outbox and recipients' statement: built again for each payment held (with its
    # values as literals), it cost some 800 function calls of Libeo's « Payer ».
    found = recipients.subquery()
    values = {
        "kind": bindparam("outbox_kind", type_=String), "event_key": bindparam("outbox_event_key", type_=String),
        "recipient": func.lower(found.c.email), "data": bindparam("outbox_data", type_=JSON),
        outbox.scope_column: bindparam("outbox_scope_id", type_=Integer), "user_id": found.c.user_id,
        "status": literal(PENDING, String), "delivery": literal(IMMEDIATE, String),
        "due_at": bindparam("outbox_due_at", type_=DateTime(timezone=True)), "attempts": literal(0, Integer),
        "created_at": bindparam("outbox_created_at", type_=DateTime(timezone=True)),
    }
    # « WHERE true »: SQLite reads « SELECT … FROM t ON CONFLICT » as a join without it. The ON CONFLICT clause
    # is the SELECT's suffix, the same SQL as a dialect's ``on_conflict_do_nothing`` (``Outbox._insert``) but a
    # statement SQLAlchemy caches: theirs has no cache key and was compiled again at every execution, some 450
    # calls for each « Payer » held, a fifth of the writes of a selection.
    rows = (select(*values.values()).select_from(found).where(true())
            .suffix_with("ON CONFLICT (event_key, recipient) DO NOTHING"))
    return insert(outbox.notification.__table__).from_select(list(values), rows)


class NotificationTables(NamedTuple):
    notification: type[NotificationColumns]
    setting: type[NotificationSettingColumns]
    outbox: Outbox


def notification_tables(db: SQLAlchemy, model: type, module: str, *, scope: str, user_table: str
                        ) -> NotificationTables:
    """A product's ``notification`` and ``notification_setting`` tables, on its own declarative base
    ``model`` (declared in ``module``), and the outbox its use cases write to.

    Each notification belongs to a row of ``scope`` (the account, the company: column ``<scope>_id``,
    its rows deleted with it) and names its recipient's user when there is one (``user_table``).
    """
    scope_column = f"{scope}_id"
    notification = type("Notification", (NotificationColumns, model), {
        "__module__": module,
        "__doc__": f"One e-mail to one person about one event of its {scope} (``core.notifications``).",
        "__tablename__": "notification",
        "__table_args__": notification_table_args("notification"),
        scope_column: mapped_column(ForeignKey(f"{scope}.id", ondelete="CASCADE"), index=True, nullable=False),
        "user_id": mapped_column(ForeignKey(f"{user_table}.id", ondelete="SET NULL"), nullable=True),
    })
    setting = type("NotificationSetting", (NotificationSettingColumns, model), {
        "__module__": module,
        "__doc__": "A person's choice for one kind of notification: at once, in the daily digest, or never.",
        "__tablename__": "notification_setting",
    })
    return NotificationTables(notification, setting, Outbox(db, notification, scope_column))


@dataclass
class Notifier:
    """A product's notifications: its outbox, its kinds and settings, its e-mail templates.

    The product's e-mail templates are in ``<product>/emails`` (:attr:`templates`):
    ``<kind>.html`` and ``<kind>.txt`` for each kind, ``digest.html`` and
    ``digest.txt``. ``user`` is the product's user table, with ``email`` and
    :class:`BounceColumns`.
    """

    outbox: Outbox
    setting_table: Any  # the product's NotificationSettingColumns table
    user: Any  # the product's user table, with ``email`` and BounceColumns
    kinds: dict[str, Kind]
    settings: list[Setting]
    product: str
    # Asked of each row before it is sent: its recipient may still read what it tells (a person who lost their
    # access since the event — an expert-comptable removed — is not written to). None: always.
    entitled: Callable[[Any], bool] | None = None

    @property
    def templates(self) -> str:
        return f"{self.product}/emails"

    @property
    def db(self) -> SQLAlchemy:
        return self.outbox.db

    @property
    def notification(self) -> Any:
        return self.outbox.notification

    # --- preferences ------------------------------------------------------------------------------

    def setting_of(self, code: str) -> Setting | None:
        return next((setting for setting in self.settings if setting.code == code), None)

    def modes(self, email: str) -> dict[str, Mode]:
        """The person's choice for each setting (at once when never chosen; security always)."""
        chosen: dict[str, str] = {
            row.setting: row.mode for row in self.db.session.execute(
                select(self.setting_table.setting, self.setting_table.mode)
                .where(self.setting_table.email == email.strip().lower())
            )
        }
        modes = {}
        for setting in self.settings:
            value = Mode.IMMEDIATE if setting.locked else Mode(chosen.get(setting.code, Mode.IMMEDIATE.value))
            modes[setting.code] = value
        return modes

    def choose(self, email: str, choices: dict[str, Mode]) -> None:
        """Records the person's choices; security settings are not theirs to change."""
        email = email.strip().lower()
        for code, mode in choices.items():
            setting = self.setting_of(code)
            if setting is None or setting.locked:
                continue
            row = self.db.session.get(self.setting_table, (email, code))
            if row is None:
                self.db.session.add(self.setting_table(email=email, setting=code, mode=mode.value))
            else:
                row.mode = mode.value
        self.db.session.flush()

    def unsubscribe_token(self, email: str, setting: str) -> str:
        return self._serializer().dumps({"e": email.strip().lower(), "s": setting})

    def read_unsubscribe_token(self, token: str) -> tuple[str, str] | None:
        """(address, setting) of a link this product signed, else None."""
        try:
            value = self._serializer().loads(token)
        except BadSignature:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("e"), str) or not isinstance(value.get("s"), str):
            return None
        setting = value["s"]
        if setting != DIGEST_SETTING and self.setting_of(setting) is None:
            return None
        return value["e"], setting

    def unsubscribe_preview(self, email: str, setting: str) -> list[Setting]:
        """What the link would turn off: its kind, or every kind the person receives in the digest."""
        if setting == DIGEST_SETTING:
            codes = [code for code, mode in self.modes(email).items() if mode is Mode.DIGEST]
        else:
            codes = [setting]
        return [s for s in (self.setting_of(code) for code in codes) if s is not None and not s.locked]

    def unsubscribe(self, email: str, setting: str) -> list[Setting]:
        """Turns off what the link names; what was turned off."""
        turned = self.unsubscribe_preview(email, setting)
        self.choose(email, {s.code: Mode.OFF for s in turned})
        return turned

    def _serializer(self) -> URLSafeSerializer:
        return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"{self.product}-notifications-unsubscribe")

    # --- bounces ------------------------------------------------------------------------------------

    def clear_bounce(self, user) -> None:
        """« Réessayer l'envoi »: the person says their address works again."""
        user.email_bounced_at = None
        user.email_bounce_reason = None
        self.db.session.flush()

    def _bounced(self, email: str) -> bool:
        return self.db.session.scalar(
            select(self.user.id)
            .where(func.lower(self.user.email) == email, self.user.email_bounced_at.is_not(None)).limit(1)
        ) is not None

    def _mark_bounced(self, email: str, reason: str, now: datetime) -> None:
        self.db.session.execute(
            update(self.user).where(func.lower(self.user.email) == email)
            .values(email_bounced_at=now, email_bounce_reason=reason[:300])
            .execution_options(synchronize_session=False)
        )

    # --- what an operator watches -------------------------------------------------------------------

    def watch(self, shot, product: str, now: datetime | None = None) -> None:
        """The e-mails due and not sent (a stopped worker, an SMTP server down or refusing), read into a
        monitoring snapshot (``core.observability.status.Snapshot``): gauges, a line, an alert past
        ``BACKLOG_ALERT``. One aggregate over the worker's queue index (what is pending, not the history)."""
        now = as_utc(now).astimezone(UTC) if now is not None else utcnow()
        table = self.notification
        due, oldest, retried = self.db.session.execute(
            select(func.count(table.id), func.min(table.due_at), func.sum(case((table.attempts > 0, 1), else_=0)))
            .where(table.status == PENDING, table.due_at <= now)).one()
        age = (now - as_utc(oldest)).total_seconds() if oldest is not None else None
        shot.add(f"{product}_notifications_due", "E-mails due and not sent yet (waiting for the notification "
                 "worker, or retried after the mail server failed).", due or 0)
        shot.add(f"{product}_notifications_due_oldest_age_seconds",
                 "How long the oldest of those has been due (0 when none).", age or 0)
        alert = None
        if age is not None and age > BACKLOG_ALERT.total_seconds():
            error = self.db.session.scalar(
                select(table.last_error).where(table.status == PENDING, table.due_at <= now,
                                               table.last_error.is_not(None))
                .order_by(table.due_at.desc()).limit(1))
            alert = (f"{due} e-mail(s) en attente d'envoi, le plus ancien depuis {age_fr(age)} : vérifiez que "
                     f"`flask --app app {product} notify --loop` tourne et que le serveur d'e-mails "
                     f"(SMTP_URL) les accepte" + (f" (dernière erreur : {error})." if error else "."))
        shot.show("E-mails en attente d'envoi", f"{due or 0}" + (
            f" (le plus ancien depuis {age_fr(age)}{f', {retried} réessayé(s)' if retried else ''})" if due else ""),
            alert)

    # --- the worker -------------------------------------------------------------------------------

    def run_pass(self, now: datetime | None = None, limit: int = BATCH) -> PassReport:
        """Sends what is due (in the product's app context); commits after each decision and each e-mail.
        Safe with any number of workers."""
        # In UTC, as the moments it is compared with are stored (SQLite keeps no offset).
        now = as_utc(now).astimezone(UTC) if now is not None else utcnow()
        report = PassReport()
        token = secrets.token_hex(16)
        ids = self._claim(now, token, limit)
        if not ids:
            return report
        rows = list(self.db.session.scalars(
            select(self.notification).where(self.notification.id.in_(ids)).order_by(self.notification.id)
        ))
        outgoing: list[tuple[Email, list]] = []
        digests: dict[str, list] = {}
        with public_links(current_app):
            for row in rows:
                try:
                    self._decide(row, now, report, outgoing, digests)
                except Exception as error:  # one row that cannot be written never holds the others back
                    log.exception("Notification %s impossible à écrire", row.id)
                    self._finish(row, FAILED, now, f"E-mail impossible à écrire : {error!r}"[:500])
                    report.failed += 1
            for email, group in self._claim_digest_rest(digests, now, token, report, outgoing).items():
                try:
                    outgoing.append((self._digest_email(email, group), group))
                except Exception as error:
                    log.exception("Récapitulatif impossible à écrire pour %s", email)
                    for row in group:
                        self._finish(row, FAILED, now, f"E-mail impossible à écrire : {error!r}"[:500])
                    report.failed += len(group)
        self.db.session.commit()
        if outgoing:
            self._send(outgoing, token, now, report)
        return report

    def _claim(self, now: datetime, token: str, limit: int) -> list[int]:
        table = self.notification
        free = (table.claimed_until.is_(None)) | (table.claimed_until < now)
        due = (table.status == PENDING) & (table.due_at <= now) & free
        candidates = select(table.id).where(due).order_by(table.id).limit(limit).with_for_update(skip_locked=True)
        ids = list(self.db.session.scalars(
            update(table).where(table.id.in_(candidates.scalar_subquery()), due)
            .values(claimed_until=now + CLAIM, claim_token=token)
            .returning(table.id)
            .execution_options(synchronize_session=False)
        ))
        self.db.session.commit()
        return ids

    def _claim_digest_rest(self, digests: dict[str, list], now: datetime, token: str, report: PassReport,
                           outgoing: list) -> dict[str, list]:
        """A person's digest holds all their due rows, even those beyond this pass's first claim, each decided as
        the first claim's are (``_decide``: a problem solved meanwhile is forgotten, not told)."""
        if not digests:
            return {}
        table = self.notification
        free = (table.claimed_until.is_(None)) | (table.claimed_until < now)
        more = list(self.db.session.scalars(
            update(table)
            .where(table.recipient.in_(list(digests)), table.status == PENDING, table.delivery == DIGEST,
                   table.due_at <= now, free)
            .values(claimed_until=now + CLAIM, claim_token=token)
            .returning(table.id)
            .execution_options(synchronize_session=False)
        ))
        if more:
            for row in self.db.session.scalars(select(table).where(table.id.in_(more)).order_by(table.id)):
                try:
                    self._decide(row, now, report, outgoing, digests)
                except Exception as error:
                    log.exception("Notification %s impossible à écrire", row.id)
                    self._finish(row, FAILED, now, f"E-mail impossible à écrire : {error!r}"[:500])
                    report.failed += 1
        # Another worker holds part of a person's digest (it claimed it between this pass's two claims): each
        # would send its part. This one lets its part go; a later pass that finds them all free sends them at
        # once (the other, in the same spot, lets go too).
        shared = set(self.db.session.scalars(
            select(table.recipient).distinct()
            .where(table.recipient.in_(list(digests)), table.status == PENDING, table.delivery == DIGEST,
                   table.due_at <= now, table.claimed_until >= now, table.claim_token != token)
        ))
        if shared:
            self.db.session.execute(
                update(table)
                .where(table.recipient.in_(list(shared)), table.claim_token == token, table.status == PENDING)
                .values(claimed_until=None, claim_token=None)
                .execution_options(synchronize_session=False)
            )
        return {email: sorted(group, key=lambda r: r.id) for email, group in digests.items()
                if group and email not in shared}

    def _decide(self, row, now: datetime, report: PassReport, outgoing: list, digests: dict[str, list]) -> None:
        kind = self.kinds.get(row.kind)
        if kind is None:
            self._finish(row, FAILED, now, "Type de notification inconnu.")
            report.failed += 1
            return
        if kind.still_due is not None and not kind.still_due(row.data):
            # Solved before anyone was told: forgotten, so that the problem may be told if it comes back.
            self.db.session.delete(row)
            report.moot += 1
            return
        if self.entitled is not None and not self.entitled(row):
            self._finish(row, OFF, now, "Non envoyé : le destinataire n'a plus accès au compte.")
            report.moot += 1
            return
        if self._bounced(row.recipient):
            self._finish(row, BOUNCED, now, "Adresse refusée par le serveur de messagerie lors d'un envoi précédent.")
            report.bounced += 1
            return
        mode = self._mode(row.recipient, kind)
        if mode is Mode.OFF:
            self._finish(row, OFF, now)
            report.turned_off += 1
        elif mode is Mode.DIGEST and row.delivery != DIGEST:
            row.delivery = DIGEST
            row.due_at = next_digest_time(now, current_app.config["NOTIFICATION_DIGEST_HOUR"])
            row.claimed_until = row.claim_token = None
            report.postponed_to_digest += 1
        elif mode is Mode.DIGEST:
            digests.setdefault(row.recipient, []).append(row)
        else:
            outgoing.append((self._email(row, kind), [row]))

    def _mode(self, email: str, kind: Kind) -> Mode:
        if kind.locked:
            return Mode.IMMEDIATE
        chosen = self.db.session.scalar(
            select(self.setting_table.mode)
            .where(self.setting_table.email == email, self.setting_table.setting == kind.setting_code)
        )
        return Mode(chosen) if chosen else Mode.IMMEDIATE

    def _send(self, outgoing: list[tuple[Email, list]], token: str, now: datetime, report: PassReport) -> None:
        started = monotonic()
        with closing(send_messages([email for email, _ in outgoing])) as deliveries:
            for (email, group), delivery in zip(outgoing, deliveries, strict=False):
                self._record(delivery, email, group, token, now, report)
                if monotonic() - started > SENDING_WINDOW.total_seconds():
                    # Past the window, the claim may lapse and another worker take these rows: this one stops
                    # (the rest wait for the claim's end, unsent).
                    break

    def _record(self, delivery: Delivery, email: Email, group: list, token: str, now: datetime,
                report: PassReport) -> None:
        table = self.notification
        mine = table.id.in_([row.id for row in group]) & (table.claim_token == token)
        self.db.session.execute(
            update(table).where(mine).values(**self._after(delivery, group, now))
            .execution_options(synchronize_session=False)
        )
        if delivery.outcome is Outcome.BOUNCED:
            self._mark_bounced(email.to, delivery.detail, now)
        self.db.session.commit()
        self._count(report, delivery)

    @staticmethod
    def _after(delivery: Delivery, group: list, now: datetime) -> dict:
        done = {"claimed_until": None, "claim_token": None}
        if delivery.outcome is Outcome.SENT:
            return done | {"status": SENT, "sent_at": now, "last_error": None}
        if delivery.outcome is Outcome.BOUNCED:
            return done | {"status": BOUNCED, "last_error": delivery.detail[:500]}
        if delivery.outcome is Outcome.FAILED:
            return done | {"status": FAILED, "last_error": delivery.detail[:500]}
        attempts = max(row.attempts or 0 for row in group) + 1
        return done | {"attempts": attempts, "due_at": now + retry_delay(attempts), "last_error": delivery.detail[:500]}

    @staticmethod
    def _count(report: PassReport, delivery: Delivery) -> None:
        if delivery.outcome is Outcome.SENT:
            report.sent += 1
            return
        report.errors.append(delivery.detail)
        if delivery.outcome is Outcome.BOUNCED:
            report.bounced += 1
        elif delivery.outcome is Outcome.FAILED:
            report.failed += 1
        else:
            report.delayed += 1

    def _finish(self, row, status: str, now: datetime, error: str | None = None) -> None:
        row.status, row.last_error = status, error
        row.claimed_until = row.claim_token = None
        if status == SENT:
            row.sent_at = now

    # --- writing e-mails --------------------------------------------------------------------------

    def _email(self, row, kind: Kind) -> Email:
        endpoint, values = kind.link(row.data)
        context = {
            "data": row.data, "kind": kind, "link": public_url(endpoint, **values),
            "setting": self.setting_of(kind.setting_code), "locked": kind.locked,
            "unsubscribe_url": None if kind.locked else self._unsubscribe_url(row.recipient, kind.setting_code),
            "settings_url": public_url("notifications.preferences"),
        }
        return self._compose(row.recipient, kind.subject(row.data), row.kind, context, f"{row.kind}-{row.id}")

    def _digest_email(self, email: str, rows: list) -> Email:
        items = []
        for row in rows:
            kind = self.kinds[row.kind]
            endpoint, values = kind.link(row.data)
            items.append({"subject": kind.subject(row.data), "link": public_url(endpoint, **values),
                          "at": row.created_at, "data": row.data, "kind": row.kind})
        count = len(items)
        subject = f"Récapitulatif : {count} notification{'s' if count > 1 else ''}"
        context = {
            "items": items, "unsubscribe_url": self._unsubscribe_url(email, DIGEST_SETTING),
            "settings_url": public_url("notifications.preferences"), "locked": False,
        }
        return self._compose(email, subject, "digest", context, "digest-" + "-".join(str(r.id) for r in rows))

    def _compose(self, to: str, subject: str, template: str, context: dict, identity: str) -> Email:
        context = {**context, "subject": subject, "recipient": to, "product": self.product}
        html = typeset(render_template(f"{self.templates}/{template}.html", **context))
        text = french_spaces(render_template(f"{self.templates}/{template}.txt", **context))
        domain = address_of(current_app.config["MAIL_FROM"]).rpartition("@")[2] or "localhost"
        digest = hashlib.sha256(identity.encode()).hexdigest()[:24]
        headers = {"Message-ID": f"<{self.product}-{digest}@{domain}>", "Auto-Submitted": "auto-generated"}
        if context.get("unsubscribe_url"):
            headers["List-Unsubscribe"] = f"<{context['unsubscribe_url']}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        # One line, whatever a supplier's name holds: a header never carries a line break.
        subject = _CONTROL.sub(" ", french_spaces(subject)).strip()
        return Email(to=to, subject=subject, text=text, html=html, headers=headers)

    def _unsubscribe_url(self, email: str, setting: str) -> str:
        return public_url("notifications.unsubscribe", token=self.unsubscribe_token(email, setting))


# --- the « Notifications » page's form ---------------------------------------------------------------


def preferences_form(settings: list[Setting], digest_hour: int) -> type[Form]:
    """A form with one choice per setting a person may change (security ones are shown, not asked)."""

    class PreferencesForm(Form):
        submit = SubmitField("Enregistrer mes choix")

        def choices(self) -> dict[str, Mode]:
            """The choices posted: a setting the page did not show (opened before a new kind was added)
            keeps its mode."""
            return {s.code: Mode(self[s.code].data) for s in settings if not s.locked and self[s.code].data}

        def fill(self, modes: dict[str, Mode]) -> None:
            for s in settings:
                if not s.locked:
                    self[s.code].data = modes[s.code].value

    labels = {Mode.IMMEDIATE: "À chaque événement", Mode.DIGEST: f"Récapitulatif quotidien (vers {digest_hour} h)",
              Mode.OFF: "Jamais"}
    for setting in settings:
        if not setting.locked:
            setattr(PreferencesForm, setting.code, RadioField(
                setting.label, choices=[SelectChoice(mode.value, labels[mode]) for mode in Mode],
                validators=[Optional()],
            ))
    return PreferencesForm


class ActionForm(Form):
    """A button that posts (« Réessayer l'envoi », « Me désabonner »)."""

    submit = SubmitField("Valider")
