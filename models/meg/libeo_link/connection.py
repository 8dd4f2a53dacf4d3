"""A company's connection to its Libeo account: the API key (encrypted), and its health.

MEG must use the key, so it is kept encrypted (Fernet) rather than hashed,
and never shown again in full. The connection also records what the last
exchange with Libeo said — active, key revoked, or Libeo unreachable since
when — so that pages show it without calling Libeo while they render.
"""

from __future__ import annotations

import base64
import enum
import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    bindparam,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.dates import as_utc, paris_today, utcnow
from core.french import of
from core.payment_words import waiting_words
from core.setup import instance_secret
from models.meg.companies.models import Company, User
from models.meg.db import Model, db
from models.meg.journal import LIBEO_SIGN_IN
from models.meg.journal import record as journal
from models.meg.libeo_link.client import (
    LibeoAccount,
    LibeoApiError,
    LibeoClient,
    LibeoKeyRefused,
    LibeoUnheard,
    LibeoUnreachable,
)
from models.meg.notifications.events import connection_broken
from models.meg.signing import vouching_assertion

KEY_MAX_LENGTH = 200
# « Dernier échange réussi » is precise to this much: one write a minute, not one per call.
SUCCESS_RECORD_INTERVAL = timedelta(seconds=60)


class LibeoLinkError(Exception):
    """A refusal to show the user, in French; ``upgrade_url`` for the quota."""

    def __init__(self, message: str, *, field: str | None = None, upgrade_url: str | None = None,
                 not_connected: bool = False, suggestion: date | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        # The date the message proposes instead (« choisissez par exemple le lundi 07/12/2026 »).
        self.suggestion = suggestion
        self.upgrade_url = upgrade_url
        self.not_connected = not_connected


class ConnectionState(enum.Enum):
    """What the last exchange with Libeo said about the connection."""

    ACTIVE = "active"
    KEY_REVOKED = "key_revoked"
    UNREACHABLE = "unreachable"
    # « Supprimer la connexion », and every payment it followed has ended: the key is forgotten; the row
    # keeps the feed's cursor for a reconnection with a key of the same account.
    REMOVED = "removed"


class LibeoConnection(Model):
    __tablename__ = "libeo_connection"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), unique=True)
    key_ciphertext: Mapped[str] = mapped_column(Text)
    key_prefix: Mapped[str] = mapped_column(String(24))
    account_name: Mapped[str] = mapped_column(String(200))
    connected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    connected_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    # The expert-comptable the company added in Libeo, as Libeo last said (« Payer » for them).
    accountant_email: Mapped[str | None] = mapped_column(String(254))
    state: Mapped[ConnectionState] = mapped_column(Enum(ConnectionState, native_enum=False, length=20),
                                                  default=ConnectionState.ACTIVE)
    state_since: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(300))
    # When Libeo last described the account (name, accountant): GET /me.
    account_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Whether Libeo says the account is « vérifié » (its transfers are executed); None: not said.
    account_verified: Mapped[bool | None] = mapped_column(Boolean)
    # What keeps Libeo from executing the account's transfers (not verified, no IBAN to debit), in
    # Libeo's words with the action that lifts it, as last read; None when nothing does.
    account_waiting_for: Mapped[str | None] = mapped_column(String(300))
    # The account's approval rules as last read (GET /me): « Payer » says before the click that Libeo will hold
    # the payment. None: not said (an older Libeo), or no such rule.
    approval_above_cents: Mapped[int | None] = mapped_column(BigInteger)
    accountant_payments_approved: Mapped[bool | None] = mapped_column(Boolean)
    # The plan and its monthly quota as Libeo last said (GET /me, the events feed): « Payer » says them first.
    plan_label: Mapped[str | None] = mapped_column(String(40))
    payments_used: Mapped[int | None] = mapped_column(Integer)
    payment_limit: Mapped[int | None] = mapped_column(Integer)  # None: unlimited
    # The first day of the Paris month ``payments_used`` counts.
    quota_month: Mapped[date | None] = mapped_column(Date)
    # Where MEG's reading of Libeo's events feed stands (Libeo's opaque cursor).
    events_cursor: Mapped[str | None] = mapped_column(String(64))
    # When a sync pass last read the feed to its end: how far behind MEG may be (the operator's lag gauge).
    events_read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A sync worker owns the connection's pass until then; another may take it after.
    sync_claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # « Supprimer la connexion » was clicked: no more « Payer »; the payments in flight are still followed.
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Libeo's id of the key's account (GET /me): a key of another account starts a new events cursor.
    libeo_account_id: Mapped[str | None] = mapped_column(String(32))

    company: Mapped[Company] = relationship()

    @property
    def is_removed(self) -> bool:
        """« Supprimer la connexion » was clicked: the key only follows the payments already asked for."""
        return self.removed_at is not None

    @property
    def api_key(self) -> str:
        try:
            return _fernet().decrypt(self.key_ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise LibeoLinkError(
                "La clé Libeo enregistrée ne peut plus être lue : collez-la de nouveau dans « Options »."
            ) from exc

    def client(self, **options) -> LibeoClient:
        return LibeoClient(self.api_key, **options)

    @property
    def account_description(self) -> str:
        """« « Boulangerie Martin SARL » (compte vérifié) », as « Options » and its messages say it."""
        return f"« {self.account_name} » ({verification_label(self.account_verified)})"

    def record_success(self, account: LibeoAccount | None = None) -> None:
        now = utcnow()
        if (account is None and self.state is ConnectionState.ACTIVE and self.last_success_at is not None
                and as_utc(self.last_success_at) > now - SUCCESS_RECORD_INTERVAL):
            return  # already known to work: a payment need not write it again
        if self.state is not ConnectionState.ACTIVE:
            self.state, self.state_since = ConnectionState.ACTIVE, now
        self.last_success_at = self.last_checked_at = now
        self.last_error = None
        if account is not None:
            self.account_checked_at = now
            self.account_name = account.name
            self.accountant_email = (account.accountant_email or "").lower() or None
            self.account_verified = account.verified
            self.account_waiting_for = account.waiting_for
            self.approval_above_cents = account.approval_above_cents
            self.accountant_payments_approved = account.accountant_payments_approved
            self.plan_label = account.plan_label
            self.payments_used, self.payment_limit = account.payments_this_month, account.payment_limit
            self.quota_month = _month_of(paris_today())

    @property
    def waiting_short(self) -> str | None:
        """What keeps Libeo from executing the transfers, in a few words for a list (« Compte non vérifié »)."""
        return waiting_words(self.account_waiting_for)

    @property
    def quota(self) -> PlanQuota | None:
        """The plan's payments this month as Libeo last said, or None when it never said."""
        if self.plan_label is None or self.quota_month is None:
            return None
        used = (self.payments_used or 0) if self.quota_month == _month_of(paris_today()) else 0
        return PlanQuota(self.plan_label, used, self.payment_limit)

    def count_payment(self) -> None:
        """Libeo made a payment MEG asked for: one more of the month's (until Libeo says its own count)."""
        quota = self.quota
        if quota is not None:
            self.payments_used, self.quota_month = quota.used + 1, _month_of(paris_today())

    def release_payment(self, requested_at: datetime) -> None:
        """Libeo cancelled a payment MEG asked for: its slot of the month it was asked in is free again (until
        Libeo says its own count)."""
        quota = self.quota
        if quota is not None and quota.used > 0 and _month_of(paris_today(as_utc(requested_at))) == self.quota_month:
            self.payments_used = quota.used - 1

    def quota_used_up(self) -> None:
        """Libeo refused a payment for the plan's quota: all of the month's are used."""
        if self.payment_limit is not None:
            self.payments_used, self.quota_month = self.payment_limit, _month_of(paris_today())

    def record_failure(self, error: LibeoApiError) -> None:
        """A refused key or an unreachable Libeo; a plain refusal (quota…) says nothing of the connection."""
        state = _state_after(error)
        if state is None:
            self.record_success()
            return
        now = utcnow()
        changed = self.state is not state
        if changed:
            self.state, self.state_since = state, now
            if state is ConnectionState.KEY_REVOKED:
                journal(self.company, "connection.revoked_seen",
                        f"Libeo refuse la clé enregistrée ({self.key_prefix}…) : elle a été révoquée ou remplacée dans "
                        "Libeo. Un administrateur doit en coller une nouvelle dans « Options ».")
        self.last_checked_at = now
        self.last_error = error.message[:300]
        if changed:
            connection_broken(self, now)


@dataclass(frozen=True)
class PlanQuota:
    """The Libeo plan's monthly payments: « 4 paiements sur 5 utilisés ce mois-ci »."""

    plan_label: str
    used: int
    limit: int | None  # None: unlimited

    @property
    def used_up(self) -> bool:
        return self.limit is not None and self.used >= self.limit

    @property
    def sentence(self) -> str:
        if self.limit is None:
            return f"Formule {self.plan_label} : paiements illimités."
        plural = "s" if self.used > 1 else ""
        return f"{self.used} paiement{plural} sur {self.limit} utilisé{plural} ce mois-ci (formule {self.plan_label})."

    @property
    def renews_on(self) -> date:
        """The first day of next month (Paris), when the plan's payments are counted afresh."""
        month = _month_of(paris_today())
        return date(month.year + 1, 1, 1) if month.month == 12 else month.replace(month=month.month + 1)


def _month_of(day: date) -> date:
    return day.replace(day=1)


def verification_label(verified: bool | None) -> str:
    if verified is None:
        return "vérification inconnue"
    if verified:
        return "compte vérifié"
    return ("compte non vérifié : ses virements ne sont pas exécutés tant qu'un administrateur « Achats » ne l'a pas "
            "relié avec « Me connecter avec MEG »")


def _state_after(error: LibeoApiError) -> ConnectionState | None:
    if isinstance(error, LibeoKeyRefused):
        return ConnectionState.KEY_REVOKED
    if isinstance(error, (LibeoUnreachable, LibeoUnheard)):
        return ConnectionState.UNREACHABLE
    return None


def _fernet() -> Fernet:
    secret = (current_app.config.get("LIBEO_KEY_ENCRYPTION_KEY")
              or instance_secret(current_app, "meg_libeo_key_encryption"))
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


_CONNECTION_OF = select(LibeoConnection).where(LibeoConnection.company_id == bindparam("company_id"),
                                               LibeoConnection.state != ConnectionState.REMOVED)
_ROW_OF = select(LibeoConnection).where(LibeoConnection.company_id == bindparam("company_id"))


def connection_of(company: Company) -> LibeoConnection | None:
    """The company's connection: working, broken, or removed while it follows payments in flight."""
    return db.session.scalar(_CONNECTION_OF, {"company_id": company.id})


def connection_row(company: Company) -> LibeoConnection | None:
    """The company's connection row, also once removed (it keeps the feed's cursor and the account's id)."""
    return db.session.scalar(_ROW_OF, {"company_id": company.id})


def connect_company(company: Company, api_key: str, user: User | None) -> LibeoConnection:
    """Checks the key with Libeo (« GET /me ») and saves it, encrypted, if it fits."""
    api_key = (api_key or "").strip()
    if not company.siret:
        raise LibeoLinkError(
            "Libeo est réservé aux entreprises disposant d'un SIRET : renseignez d'abord le SIRET de l'entreprise."
        )
    if not api_key:
        raise LibeoLinkError("Collez la clé d'API affichée par Libeo.")
    if len(api_key) > KEY_MAX_LENGTH or not api_key.isascii() or not api_key.isprintable() or " " in api_key:
        raise LibeoLinkError("Cette clé d'API Libeo n'a pas le bon format : copiez-la de nouveau depuis Libeo.")
    try:
        account = LibeoClient(api_key).me()
    except LibeoKeyRefused as exc:
        raise LibeoLinkError(
            "Libeo ne reconnaît pas cette clé : elle est erronée ou a été révoquée. "
            "Copiez la clé affichée dans Libeo (« Configuration » → « Intégrations »)."
        ) from exc
    except LibeoApiError as exc:
        raise LibeoLinkError(exc.message) from exc
    if account.siret != company.siret:
        raise LibeoLinkError(
            f"Cette clé appartient au compte Libeo « {account.name} », dont le SIRET "
            f"n'est pas celui {of(company.name)}. Utilisez la clé du compte Libeo de cette entreprise."
        )
    account = _vouched(company, api_key, user, account)
    existing = connection_row(company)
    connection = existing or LibeoConnection(company=company)
    previous_prefix = existing.key_prefix if existing is not None and existing.key_ciphertext else None
    if existing is not None and existing.libeo_account_id and account.id and existing.libeo_account_id != account.id:
        # Another Libeo account: its own feed, from its first event; what MEG recorded stays as it was.
        connection.events_cursor = None
    connection.libeo_account_id = account.id or connection.libeo_account_id
    connection.removed_at = None
    connection.key_ciphertext = _fernet().encrypt(api_key.encode()).decode()
    connection.key_prefix = api_key[:12]
    connection.connected_at = utcnow()
    connection.connected_by_id = user.id if user else None
    connection.state, connection.state_since = ConnectionState.ACTIVE, utcnow()  # a new key, a new story
    connection.record_success(account)
    db.session.add(connection)
    db.session.flush()
    if previous_prefix is not None:
        journal(company, "connection.key_replaced",
                f"Clé Libeo remplacée ({previous_prefix}… → {connection.key_prefix}…) : compte Libeo "
                f"{connection.account_description}.", user, LIBEO_SIGN_IN)
    else:
        journal(company, "connection.connected",
                f"Connexion à Libeo établie avec le compte {connection.account_description} "
                f"(clé {connection.key_prefix}…).", user, LIBEO_SIGN_IN)
    return connection


def _vouched(company: Company, api_key: str, user: User | None, account: LibeoAccount) -> LibeoAccount:
    """The article's first path: an « Achats » administrator pasting the key is as strong a proof as « Me
    connecter avec MEG », so MEG vouches for the account the same way (its signed word, for a SIRET MEG
    trusts) and Libeo marks it « vérifié par MEG ». The connection stands even if Libeo cannot hear it now:
    the account then stays « non vérifié », which « Options » says. Given for a verified account too: Libeo tells
    the account's administrators that a MEG company now pays with their key (once per key)."""
    if account.verified is None or user is None:  # a Libeo that does not say: it has no vouching either
        return account
    assertion = vouching_assertion(user, company)
    if assertion is None:
        return account
    try:
        return LibeoClient(api_key).vouch(assertion)
    except LibeoApiError:
        return account


def check_connection(connection: LibeoConnection) -> None:
    """« Vérifier la connexion »: asks Libeo now (GET /me) and records what it said."""
    try:
        account = connection.client(attempts=1).me()
    except LibeoApiError as error:
        connection.record_failure(error)
    else:
        connection.record_success(account)
