"""MEG's requests to pay an invoice through Libeo (« attempts »), and what it knows of each payment.

One :class:`PaymentAttempt` row per request: its Idempotency-Key and the exact
body sent are saved before Libeo is called, so double clicks, retries,
concurrent clicks and replays by the sync pass are one payment. The row then
records what Libeo said: a refusal, or the payment and its life, read
afterwards from Libeo's events feed by the sync pass (``sync``). Pages show
that record and never call Libeo while they render; it never changes the
invoice's own fields. The use cases that send requests are in ``paying``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Protocol, cast

from flask import current_app
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    case,
    event,
    exists,
    false,
    func,
    insert,
    inspect,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, contains_eager, joinedload, mapped_column, relationship
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from core.banks import bank_name
from core.calendar import MAX_SCHEDULE_AHEAD, ExecutionDateRefused, default_execution_date, next_business_day
from core.calendar import check_execution_date as execution_date_rule
from core.dates import DueFlag, as_utc, date_fr, due_flag, paris_today, utcnow
from core.db import rowcount
from core.french import after_colon
from core.invoice_totals import amount_due
from core.money import format_amount
from core.payment_words import HOLD_LABELS, bank_leg_label, cancelled_label, rejection_label
from core.validators import mask_iban, normalize_iban
from models.meg.achats.models import PaymentMode, SupplierInvoice

if TYPE_CHECKING:  # a page's plain rows, which « Payer » reads as invoices (« Règlements », the filter's selection)
    from typing import TypeAlias

    from models.meg.achats.invoices import PayableCandidate, SettlementInvoice

    # What « Payer » decides on: an invoice, or a plain row of a list that reads as one.
    ListedInvoice: TypeAlias = SupplierInvoice | SettlementInvoice | PayableCandidate
from models.meg.companies.models import Company, User
from models.meg.db import Model, db
from models.meg.libeo_link.client import (
    LibeoPaymentInfo,
)
from models.meg.libeo_link.connection import (
    ConnectionState,
    LibeoConnection,
    LibeoLinkError,
    connection_of,
)

# Libeo's error code when the plan's monthly payments are all used.
QUOTA_EXCEEDED = "quota_exceeded"
# Libeo's code of a request it never received, closed when the connection was removed (« Non envoyé »).
NOT_SENT = "request_void"
NOT_SENT_REASON = ("Libeo n'a jamais reçu cette demande avant la suppression de la connexion : rien n'a été payé, et "
                   "cette demande ne le sera jamais. Pour régler la facture, payez-la de nouveau une fois Libeo "
                   "reconnecté dans « Options ».")
# A request sent to a Libeo account the connection no longer uses (« Vérification impossible »), which an
# « Achats » administrator confirmed that account did not pay: the invoice may be paid again.
CONFIRMED_UNPAID = "confirmed_unpaid"
UNVERIFIABLE_NEXT_STEP = ("Vérifiez dans l'ancien compte Libeo (« Paiements ») si cette facture a été payée avant de "
                          "la payer de nouveau. Si elle ne l'a pas été, un administrateur « Achats » le confirme sur "
                          "la page de la facture : « Payer » est alors de nouveau proposé.")
ELSEWHERE_REASON = ("MEG a envoyé cette demande à un autre compte Libeo que celui connecté maintenant, sans en "
                    "connaître la réponse : elle n'est renvoyée à aucun autre compte, qui paierait la facture une "
                    "seconde fois.")


def elsewhere_reason(former: str | None, current: str | None) -> str:
    """Why a request sent to the account ``former`` (its name, if known) is not sent to ``current``."""
    if not former or not current:
        return ELSEWHERE_REASON
    return (f"MEG a envoyé cette demande au compte Libeo « {former[:50]} » sans en connaître la réponse ; le compte "
            f"connecté est maintenant « {current[:50]} » : MEG ne la lui renvoie pas, il paierait la facture une "
            "seconde fois.")


class PaymentState(enum.Enum):
    """What MEG last knew of its request: Libeo's statuses, plus « requested », « refused » and « unknown »."""

    REQUESTED = "requested"  # sent, or about to be; no answer heard yet
    REFUSED = "refused"  # Libeo said no: no payment exists
    AWAITING_APPROVAL = "awaiting_approval"
    SCHEDULED = "scheduled"
    FILE_READY = "file_ready"  # in a SEPA file the company must transmit to its bank
    TRANSMITTED = "transmitted"  # the company transmitted the file
    ACCEPTED = "accepted"  # the bank accepted it, the money has not left
    PAID = "paid"  # debited, on the bank's date
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # a state of a later Libeo: shown in Libeo's words, still a payment
    # Sent unanswered to a Libeo account the connection no longer uses: never sent to another account (it
    # may have paid it); the invoice waits for an « Achats » administrator's word (« Vérification impossible »).
    UNVERIFIABLE = "unverifiable"
    # Release 2 wrote « in_progress » (stored as IN_PROGRESS) for a payment in a SEPA file.
    IN_PROGRESS = "file_ready"

    @property
    def holds_invoice(self) -> bool:
        """A payment exists or may exist: the invoice may not be paid again, nor its beneficiary changed."""
        return self not in (PaymentState.REFUSED, PaymentState.FAILED, PaymentState.CANCELLED)

    @property
    def has_document(self) -> bool:
        """Libeo has its « Ordre de virement » (in a SEPA file) or its « Justificatif de paiement » (debited)."""
        return self in (PaymentState.FILE_READY, PaymentState.TRANSMITTED, PaymentState.ACCEPTED, PaymentState.PAID)


# A payment asked of Libeo that has not ended: MEG follows it until it does.
OPEN_STATES = (PaymentState.REQUESTED, PaymentState.AWAITING_APPROVAL, PaymentState.SCHEDULED,
               PaymentState.FILE_READY, PaymentState.TRANSMITTED, PaymentState.ACCEPTED, PaymentState.UNKNOWN)
# What Libeo may still cancel (« Annuler », from MEG as in Libeo).
CANCELLABLE_STATES = (PaymentState.AWAITING_APPROVAL, PaymentState.SCHEDULED)


class PaymentAttempt(Model):
    """One request to pay an invoice through Libeo, and the payment's life as Libeo tells it."""

    __tablename__ = "libeo_payment"
    __table_args__ = (
        UniqueConstraint("invoice_id", "attempt", name="uq_libeo_payment_attempt"),
        Index("ix_libeo_payment_invoice_status", "invoice_id", "status"),
        Index("ix_libeo_payment_status", "status", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("supplier_invoice.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(default=1)
    # None for a payment of this invoice made in Libeo directly (learnt from the events feed).
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Exactly what was sent, so that a replay is the same request.
    request_body: Mapped[dict | None] = mapped_column(JSON)
    libeo_payment_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[PaymentState] = mapped_column(Enum(PaymentState, native_enum=False, length=20),
                                                 default=PaymentState.REQUESTED)
    execution_date: Mapped[date | None] = mapped_column(Date)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refusal: Mapped[str | None] = mapped_column(String(500))
    # Libeo's error code of the refusal (``quota_exceeded``…), None for MEG's own.
    refusal_code: Mapped[str | None] = mapped_column(String(40))
    failure_reason: Mapped[str | None] = mapped_column(String(300))
    # The bank leg as Libeo tells it, with the bank's dates.
    transmitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    bank_status: Mapped[str | None] = mapped_column(String(4))
    paid_on: Mapped[date | None] = mapped_column(Date)
    failure_code: Mapped[str | None] = mapped_column(String(35))
    # The bank's own words of a rejection (AddtlInf), as Libeo keeps them.
    bank_text: Mapped[str | None] = mapped_column(String(500))
    # Rejected for a reason of the payee's account: pay again only to the supplier's new IBAN.
    new_iban_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Libeo's words for a state MEG does not know (``UNKNOWN``).
    libeo_label: Mapped[str | None] = mapped_column(String(300))
    # What a bank file said of the payment that Libeo did not apply, in Libeo's words, until a person of the
    # Libeo account decides: shown beside the state Libeo keeps meanwhile.
    bank_anomaly: Mapped[str | None] = mapped_column(String(1000))
    # The IBAN the transfer pays, as Libeo holds it (None until Libeo said it).
    payee_iban: Mapped[str | None] = mapped_column(String(34))
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    # Who approved or refused the held payment in Libeo, and when, as Libeo says.
    decided_by: Mapped[str | None] = mapped_column(String(254))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    hold_reasons: Mapped[list | None] = mapped_column(JSON)
    # Libeo's sentences explaining the hold (the other invoice, the previous IBAN), shown on the invoice.
    hold_details: Mapped[list | None] = mapped_column(JSON)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    # A sync worker replaying this request owns it until then.
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The version of Libeo's account recorded here: only a newer one replaces it (``record``).
    libeo_version: Mapped[int | None] = mapped_column()
    # While « Vérification en cours »: why the last replay could not settle it, and what to do; while
    # « Vérification impossible »: which account it was sent to.
    pending_reason: Mapped[str | None] = mapped_column(String(300))
    # Libeo's id of the account the request was sent to (its connection's, ``GET /me``): it is never sent to
    # another. None when Libeo did not say it, and for a payment made in Libeo directly before release 3.
    libeo_account_id: Mapped[str | None] = mapped_column(String(32))

    invoice: Mapped[SupplierInvoice] = relationship()

    @property
    def label(self) -> str:
        return payment_label(self)

    @property
    def maybe_debited(self) -> bool:
        """Rejected, yet a bank file says the transfer may have been debited after all (a bank anomaly a person of
        the Libeo account has not decided): the invoice is neither paid again nor settled another way meanwhile."""
        return self.status is PaymentState.FAILED and bool(self.bank_anomaly)

    @property
    def hold_explanations(self) -> list[str]:
        """While Libeo holds the payment: why, in Libeo's words (empty otherwise)."""
        if self.status is not PaymentState.AWAITING_APPROVAL:
            return []
        return list(self.hold_details or ())

    @property
    def badge(self) -> str:
        if self.status is PaymentState.PAID:
            return "badge-ok"
        if self.status in (PaymentState.REFUSED, PaymentState.FAILED, PaymentState.CANCELLED):
            return "badge-err"
        return "badge-warn"

    @property
    def document_title(self) -> str:
        """What Libeo's PDF is: the order until the bank confirms the debit, then the receipt."""
        return "Justificatif de paiement" if self.status is PaymentState.PAID else "Ordre de virement"

    @property
    def fraud_refusal(self) -> str | None:
        """Why a Libeo administrator refused this payment, when it was held as a possible fraud (a new IBAN,
        another beneficiary name): said before the invoice may be paid again; else None."""
        if self.status is not PaymentState.CANCELLED or not self.cancel_reason:
            return None
        suspected = [HOLD_LABELS[reason] for reason in self.hold_reasons or () if reason in FRAUD_HOLDS]
        if not suspected:
            return None
        return (f"Un administrateur de Libeo a refusé le dernier paiement de cette facture, retenu pour "
                f"{', '.join(suspected)} : « {self.cancel_reason} ». Vérifiez l'IBAN auprès du fournisseur, à un "
                "numéro que vous connaissez déjà, avant de payer de nouveau.")

    @property
    def retry_refusal(self) -> str | None:
        """Why this invoice cannot be paid again to the same IBAN, or None."""
        if self.status is not PaymentState.FAILED or not self.new_iban_required:
            return None
        reason = (self.failure_reason or "motif non précisé").removeprefix("Rejeté : ")
        return (f"Le dernier virement a été rejeté par la banque : {reason}. Demandez au fournisseur son nouvel IBAN "
                "et modifiez-le dans la fiche du fournisseur avant de payer à nouveau.")

    @property
    def sent_iban(self) -> str | None:
        return (((self.request_body or {}).get("invoice") or {}).get("supplier") or {}).get("iban")

    @property
    def paid_iban(self) -> str | None:
        """The IBAN this payment pays: as Libeo said it, else as MEG sent it."""
        return self.payee_iban or self.sent_iban

    @property
    def debited_on(self) -> date | None:
        """The day the bank debited it, as « Payée via Libeo le … » says it; None before it was."""
        if self.status is not PaymentState.PAID:
            return None
        return self.paid_on or (paris_today(as_utc(self.paid_at)) if self.paid_at else self.execution_date)

    @property
    def is_live(self) -> bool:
        """Libeo holds (or may hold) a payment that will move money: not ended."""
        return self.status in OPEN_STATES

    @property
    def sent_request(self) -> tuple[str, dict]:
        """The Idempotency-Key and exact body every sending of this attempt carries (« Payer » wrote both)."""
        if self.idempotency_key is None or self.request_body is None:
            raise ValueError(f"the attempt {self.id} is no request of MEG's: it has nothing to send")
        return self.idempotency_key, self.request_body

    @property
    def cancellable(self) -> bool:
        """Libeo can still cancel it (scheduled or held), and MEG knows which payment it is."""
        return self.status in CANCELLABLE_STATES and self.libeo_payment_id is not None

    @property
    def not_sent(self) -> str | None:
        """A request Libeo never received, closed when the connection was removed: what it means and what to do."""
        if self.status is PaymentState.REFUSED and self.refusal_code == NOT_SENT:
            return NOT_SENT_REASON
        return None

    @property
    def unverifiable(self) -> str | None:
        """While « Vérification impossible »: to which account it went, and what to do (or None)."""
        if self.status is not PaymentState.UNVERIFIABLE:
            return None
        return f"{self.pending_reason or ELSEWHERE_REASON} {UNVERIFIABLE_NEXT_STEP}"

    def sent_elsewhere(self, account_id: str | None) -> bool:
        """This request went to another Libeo account than ``account_id`` (both known): never send it there."""
        return bool(self.libeo_account_id and account_id and self.libeo_account_id != account_id)

    def set_unverifiable(self, reason: str) -> None:
        """Sent unanswered to an account MEG no longer reaches: held, never replayed elsewhere (see the state)."""
        self.status, self.pending_reason, self.claimed_until = PaymentState.UNVERIFIABLE, reason[:300], None

    @property
    def unknown_outcome(self) -> str | None:
        """While « Vérification en cours »: why MEG does not know the outcome yet, and what to do (or None)."""
        return self.pending_reason if self.status is PaymentState.REQUESTED else None

    def record(self, info: LibeoPaymentInfo) -> bool:
        """Libeo's account of the payment replaces what MEG knew (answers and events carry all of it), if newer.

        Whoever writes (the answer to a click, a replay, the events feed, in any
        process), one conditional UPDATE writes it only over an older version
        of Libeo's account, or over none: no ordering of writers moves a
        payment back. Returns whether it was written; if not, the row is read
        again when next used (the newer account another writer recorded).
        """
        values = self._recorded(info)
        db.session.flush()
        bound = {f"new_{name}": value for name, value in values.items()}
        written = rowcount(db.session.execute(_RECORD, {"attempt_id": self.id, "incoming": info.version or 0,
                                                      **bound}))
        if not written:
            db.session.expire(self)
            return False
        refresh_invoice_states([self.invoice_id])
        self._keep_recorded(values, info)
        return True

    def _recorded(self, info: LibeoPaymentInfo) -> dict:
        """The columns ``record`` writes from Libeo's account of the payment."""
        return {
            "libeo_payment_id": info.id, "status": _state_of(info.status), "execution_date": info.execution_date,
            "paid_at": info.paid_at, "failure_reason": info.failure_reason, "transmitted_at": info.transmitted_at,
            "accepted_at": info.accepted_at, "bank_status": info.bank_status, "paid_on": info.paid_on,
            "failure_code": info.failure_code, "bank_text": info.bank_text, "new_iban_required": info.new_iban_required,
            "bank_anomaly": info.bank_anomaly,
            "libeo_label": info.status_label, "cancel_reason": info.cancel_reason,
            "decided_by": info.decided_by, "decided_at": info.decided_at,
            "hold_details": list(info.hold_details), "refusal": None, "refusal_code": None,
            "claimed_until": None, "libeo_version": info.version, "pending_reason": None, "updated_at": utcnow(),
            "payee_iban": info.payee_iban or self.payee_iban,
            # A payment refused after a hold keeps why it was held: MEG says it before paying again.
            "hold_reasons": list(info.hold_reasons) or (
                list(self.hold_reasons or ()) if _state_of(info.status) is PaymentState.CANCELLED and info.cancel_reason
                else []),
        }

    def _keep_recorded(self, values: dict, info: LibeoPaymentInfo) -> None:
        """The attempt holds what ``_RECORD`` wrote (without reading it again)."""
        values["payee_iban"] = info.payee_iban or self.payee_iban  # as the UPDATE kept it
        for name, value in values.items():
            set_committed_value(self, name, value)

    def refuse(self, message: str, code: str | None = None) -> bool:
        """Libeo refused the request (its decision): written only while MEG knows nothing else of it."""
        db.session.flush()
        values = {"refusal": message[:500], "refusal_code": (code or "")[:40] or None, "updated_at": utcnow()}
        if not rowcount(db.session.execute(_REFUSE, {"attempt_id": self.id, "new_refusal": values["refusal"],
                                                     "new_code": values["refusal_code"],
                                                     "at": values["updated_at"]})):
            db.session.expire(self)
            return False
        refresh_invoice_states([self.invoice_id])
        for name, value in {**values, "status": PaymentState.REFUSED, "claimed_until": None}.items():
            set_committed_value(self, name, value)
        return True


def insert_attempts(attempts: list[PaymentAttempt]) -> list[PaymentAttempt]:
    """Writes new attempts (not in the session) in one statement: the attempts written, in the same order.

    Raises IntegrityError, as a flush would, when another click wrote one of them first
    (``uq_libeo_payment_attempt``)."""
    if not attempts:
        return []
    given = attempts[0].__dict__  # what ``paying.new_attempt`` sets: the same for each; the rest its defaults
    columns = [attribute.key for attribute in inspect(PaymentAttempt).column_attrs if attribute.key in given]
    written = db.session.scalars(insert(PaymentAttempt).returning(PaymentAttempt).execution_options(render_nulls=True),
                                 [{name: getattr(attempt, name) for name in columns} for attempt in attempts])
    by_number = {(attempt.invoice_id, attempt.attempt): attempt for attempt in written}
    refresh_invoice_states([invoice_id for invoice_id, _ in by_number])
    return [by_number[(attempt.invoice_id, attempt.attempt)] for attempt in attempts]


def record_all(answers: list[tuple[PaymentAttempt, LibeoPaymentInfo]]) -> bool:
    """``PaymentAttempt.record`` for several attempts at once: one statement runs every conditional UPDATE.

    True when each was written (each attempt then holds what it recorded). False when some were not
    (a newer account of their payment was recorded meanwhile): the statement cannot tell which, so the
    caller rolls its transaction back and records them one by one.
    """
    if not answers:
        return True
    db.session.flush()
    values = [attempt._recorded(info) for attempt, info in answers]
    written = db.session.connection().execute(_RECORD, [
        {"attempt_id": attempt.id, "incoming": info.version or 0,
         **{f"new_{name}": value for name, value in row.items()}}
        for (attempt, info), row in zip(answers, values, strict=True)])
    if written.rowcount != len(answers):
        return False
    refresh_invoice_states([attempt.invoice_id for attempt, _ in answers])
    for (attempt, info), row in zip(answers, values, strict=True):
        attempt._keep_recorded(row, info)
    return True


_RECORDED_COLUMNS = (
    "libeo_payment_id", "status", "execution_date", "paid_at", "failure_reason", "transmitted_at", "accepted_at",
    "bank_status", "paid_on", "failure_code", "bank_text", "new_iban_required", "bank_anomaly", "libeo_label",
    "cancel_reason", "decided_by", "decided_at", "hold_reasons", "hold_details", "refusal", "refusal_code",
    "claimed_until", "libeo_version", "pending_reason", "updated_at", "payee_iban",
)
# Built once: every answer and event runs it. « Newer »: a higher version than MEG holds, or MEG holds none.
_RECORD = (
    update(PaymentAttempt)
    .where(PaymentAttempt.id == bindparam("attempt_id"),
           or_(PaymentAttempt.libeo_version.is_(None), PaymentAttempt.libeo_version < bindparam("incoming")))
    .values({**{name: bindparam(f"new_{name}") for name in _RECORDED_COLUMNS},
             # Libeo's payee IBAN, unless this Libeo does not say it.
             "payee_iban": func.coalesce(bindparam("new_payee_iban"), PaymentAttempt.payee_iban)})
    .execution_options(synchronize_session=False)
)
_REFUSE = (
    update(PaymentAttempt)
    .where(PaymentAttempt.id == bindparam("attempt_id"), PaymentAttempt.status == PaymentState.REQUESTED)
    .values(status=PaymentState.REFUSED, refusal=bindparam("new_refusal"), refusal_code=bindparam("new_code"),
            claimed_until=None, updated_at=bindparam("at"))
    .execution_options(synchronize_session=False)
)


def _state_of(status: str) -> PaymentState:
    if status == "in_progress":  # release 2's name, in the feed's older events
        return PaymentState.FILE_READY
    try:
        state = PaymentState(status)
    except ValueError:
        return PaymentState.UNKNOWN  # a state MEG does not know yet is still a payment, in Libeo's words
    return (state if state not in (PaymentState.REQUESTED, PaymentState.REFUSED, PaymentState.UNVERIFIABLE)
            else PaymentState.UNKNOWN)


# Holds that suspect a « fraude au changement de RIB »: after their refusal, MEG shows why before « Payer ».
FRAUD_HOLDS = ("new_iban", "payee_name_mismatch")


def payment_label(payment: PaymentAttempt) -> str:
    """The one wording of a payment's state in MEG (« Règlements », « Factures », the invoice)."""
    state = payment.status
    if state is PaymentState.REQUESTED:
        return "Vérification en cours"
    if state is PaymentState.UNVERIFIABLE:
        return "Vérification impossible"
    if state is PaymentState.REFUSED:
        if payment.refusal_code == QUOTA_EXCEEDED:
            return "Non payée — limite de la formule atteinte"
        if payment.refusal_code == NOT_SENT:
            return "Non envoyé"
        if payment.refusal_code == CONFIRMED_UNPAID:
            return "Non payée par l'ancien compte Libeo"
        return f"Refusé : {after_colon(payment.refusal or 'Libeo a refusé le paiement.')}"
    if state is PaymentState.AWAITING_APPROVAL:
        reasons = ", ".join(HOLD_LABELS.get(reason, reason) for reason in payment.hold_reasons or ())
        return "À approuver dans Libeo" + (f" ({reasons})" if reasons else "")
    if (on_its_way := bank_leg_label(state.value, payment)) is not None:
        return on_its_way
    if state is PaymentState.PAID:
        return f"Payée via Libeo le {date_fr(payment.debited_on)}"
    if state is PaymentState.FAILED:
        return rejection_label(payment.failure_reason)  # Libeo's words
    if state is PaymentState.UNKNOWN:
        return payment.libeo_label or "État communiqué par Libeo"
    return cancelled_label(payment.cancel_reason)  # Libeo's words


@dataclass(frozen=True)
class Payer:
    email: str
    role: str  # "user" or "accountant", as Libeo's API names them


def payer_for(user: User, company: Company) -> Payer | None:
    """The company's own Achats users pay as « user »; the firm's accountant as « accountant »."""
    role = user.achats_role(company)
    if role is None:
        return None
    own_role = user.accounting_firm_id is None or company.accounting_firm_id != user.accounting_firm_id
    return Payer(user.email, "user" if own_role else "accountant")


def payment_refusal(user: User, company: Company, connection: LibeoConnection | None) -> str | None:
    """Why this person may not pay this company's invoices through Libeo, or None.

    Read from what MEG recorded (the accountant as Libeo last said): no call to Libeo.
    """
    if not company.siret:
        return "Paiement Libeo indisponible : l'entreprise n'a pas de SIRET dans MEG."
    payer = payer_for(user, company)
    if payer is None:
        return "Vous n'avez pas accès au règlement des factures de cette entreprise."
    if (payer.role == "accountant" and connection is not None
            and (connection.accountant_email or "") != user.email.lower()):
        return "Pour payer, l'entreprise doit vous ajouter comme expert-comptable dans son compte Libeo."
    return connection_refusal(connection)


REMOVED_REFUSAL = ("Connexion à Libeo supprimée : « Payer » ne fonctionne plus. Un administrateur « Achats » peut "
                   "coller une nouvelle clé Libeo dans « Options » pour payer de nouveau.")
REVOKED_REFUSAL = ("Libeo refuse la clé enregistrée (révoquée ou remplacée dans Libeo) : « Payer » ne fonctionnera "
                   "pas tant qu'un administrateur « Achats » n'aura pas collé une nouvelle clé dans « Options ».")


def connection_refusal(connection: LibeoConnection | None) -> str | None:
    """Why « Payer » cannot work with this connection, as MEG last heard it (said before the click), or None."""
    if connection is None:
        return None
    if connection.is_removed:
        return REMOVED_REFUSAL
    if connection.state is ConnectionState.KEY_REVOKED:
        return REVOKED_REFUSAL
    return None


# Built once: the lists run it on every view (core/paging.py says why that matters).
_ATTEMPTS_OF = select(PaymentAttempt).where(
    PaymentAttempt.invoice_id.in_(bindparam("invoice_ids", expanding=True))
).order_by(PaymentAttempt.attempt)


# Which of an invoice's attempts speaks for it (« its latest payment » everywhere): a debited one first, then
# the latest of those that hold the invoice or may have paid it (a rejected transfer the bank may have debited
# after all), then the latest. A transfer rejected, paid again, then found debited after all once the second
# payment was cancelled is the invoice's payment, « Payée », not that cancelled one's « Annulé » and « Payer ».
_ENDED = (PaymentState.REFUSED, PaymentState.FAILED, PaymentState.CANCELLED)
_SPEAKS_FIRST = case(
    (PaymentAttempt.status == PaymentState.PAID, 2),
    (PaymentAttempt.status.not_in(_ENDED), 1),
    ((PaymentAttempt.status == PaymentState.FAILED) & PaymentAttempt.bank_anomaly.is_not(None), 1),
    else_=0,
)


def _speaks_first(payment: PaymentAttempt) -> int:
    """``_SPEAKS_FIRST`` of one attempt, in Python."""
    if payment.status is PaymentState.PAID:
        return 2
    return 1 if payment.status.holds_invoice or payment.maybe_debited else 0


def latest_payments(invoice_ids: list[int]) -> dict[int, PaymentAttempt]:
    """The attempt that speaks for each invoice (``_SPEAKS_FIRST``, else its latest), in one query."""
    latest: dict[int, PaymentAttempt] = {}
    if invoice_ids:
        for payment in db.session.scalars(_ATTEMPTS_OF, {"invoice_ids": invoice_ids}):
            kept = latest.get(payment.invoice_id)
            if kept is None or _speaks_first(payment) >= _speaks_first(kept):
                latest[payment.invoice_id] = payment
    return latest


_LATEST_ATTEMPT = (
    select(PaymentAttempt).where(PaymentAttempt.invoice_id == bindparam("invoice_id"))
    .order_by(_SPEAKS_FIRST.desc(), PaymentAttempt.attempt.desc()).limit(1)
)


def latest_payment(invoice: SupplierInvoice) -> PaymentAttempt | None:
    return db.session.scalar(_LATEST_ATTEMPT, {"invoice_id": invoice.id})


@dataclass
class Confirmation:
    """The « Payer » confirmation: what will be paid, to whom, and when by default."""

    invoice: SupplierInvoice
    iban: str
    bank: str | None
    bic: str
    default_date: date
    earliest: date
    latest: date

    @property
    def amount(self) -> str:
        return format_amount(self.invoice.amount_cents, self.invoice.currency)


def confirmation(invoice: SupplierInvoice, today: date | None = None, proposed: date | None = None) -> Confirmation:
    """``proposed``: the date a refusal of the person's own proposed instead, shown in the field (within range)."""
    today = today or paris_today()
    earliest, latest = next_business_day(today), today + MAX_SCHEDULE_AHEAD
    default = default_execution_date(invoice.due_date, today)
    return Confirmation(
        invoice=invoice,
        iban=mask_iban(invoice.supplier.iban),
        bank=bank_name(invoice.supplier.iban),
        bic=invoice.supplier.bic_display,
        default_date=proposed if proposed is not None and earliest <= proposed <= latest else default,
        earliest=earliest,
        latest=latest,
    )


@dataclass(frozen=True)
class PaidTo:
    """The payee of a live payment as Libeo will pay it, against the supplier's IBAN in MEG now."""

    payment: PaymentAttempt
    current_iban: str

    @property
    def iban(self) -> str:
        return mask_iban(self.payment.paid_iban)

    @property
    def bank(self) -> str | None:
        return bank_name(self.payment.paid_iban)

    @property
    def execution_date(self) -> date | None:
        return self.payment.execution_date

    @property
    def amount(self) -> str:
        """The amount the transfer pays: as MEG asked it of Libeo (the invoice may have changed since)."""
        sent = (self.payment.request_body or {}).get("invoice") or {}
        if isinstance(sent.get("amount_cents"), int):
            return format_amount(sent["amount_cents"], sent.get("currency") or self.payment.invoice.currency)
        return format_amount(self.payment.invoice.amount_cents, self.payment.invoice.currency)

    @property
    def debited_on(self) -> date | None:
        return self.payment.debited_on

    @property
    def stale(self) -> str | None:
        """When the supplier's IBAN changed in MEG since: what that means for this payment, else None."""
        if self.payment.paid_iban == self.current_iban:
            return None
        old = self.iban + (f" ({self.bank})" if self.bank else "")
        new = mask_iban(self.current_iban)
        if self.payment.cancellable:
            return (f"Le paiement programmé part vers l'ancien IBAN {old}, pas vers le nouvel IBAN du fournisseur "
                    f"({new}) : annulez-le et payez à nouveau pour utiliser le nouveau.")
        if self.payment.status is PaymentState.REQUESTED:
            return (f"Le paiement demandé part vers l'ancien IBAN {old}, pas vers le nouvel IBAN du fournisseur "
                    f"({new}) : une fois la réponse de Libeo connue, annulez-le et payez à nouveau pour utiliser le "
                    "nouveau.")
        return (f"Le paiement part vers l'ancien IBAN {old}, pas vers le nouvel IBAN du fournisseur ({new}) : il est "
                "déjà remis à la banque et ne peut plus être annulé.")


# Each supplier's payments Libeo received, oldest first: the last one's IBAN is the one Libeo knows.
_LAST_SENT = (
    select(SupplierInvoice.supplier_id, PaymentAttempt.request_body)
    .join(PaymentAttempt, PaymentAttempt.invoice_id == SupplierInvoice.id)
    .where(SupplierInvoice.supplier_id.in_(bindparam("supplier_ids", expanding=True)),
           PaymentAttempt.libeo_payment_id.is_not(None))
    .order_by(PaymentAttempt.id)
)


def last_ibans_sent(supplier_ids: list[int]) -> dict[int, str]:
    """The IBAN of each supplier's last payment Libeo received (what Libeo compares a new IBAN with)."""
    last: dict[int, str] = {}
    for supplier_id, body in db.session.execute(_LAST_SENT, {"supplier_ids": supplier_ids}):
        iban = (((body or {}).get("invoice") or {}).get("supplier") or {}).get("iban")
        if iban:
            last[supplier_id] = iban
    return last


def hold_forecast(connection: LibeoConnection, invoice: SupplierInvoice, payer: Payer | None,
                  last_iban: str | None) -> list[str]:
    """Why Libeo will hold this invoice's payment for an administrator's approval, from what MEG knows of the
    account's rules (GET /me) and of the IBAN of the supplier's last payment (``last_iban``): said before the
    click, never discovered after it."""
    reasons = []
    if connection.approval_above_cents is not None and invoice.amount_cents > connection.approval_above_cents:
        reasons.append(f"au-delà de {format_amount(connection.approval_above_cents)}, le compte fait approuver "
                       "chaque paiement")
    if connection.accountant_payments_approved and payer is not None and payer.role == "accountant":
        reasons.append("le compte fait approuver les paiements de l'expert-comptable")
    if last_iban and normalize_iban(last_iban) != normalize_iban(invoice.supplier.iban):
        reasons.append(f"nouvel IBAN du fournisseur : son dernier paiement par Libeo allait à {mask_iban(last_iban)}")
    return reasons


@dataclass
class LibeoState:
    """What « Règlements », « Factures » and the invoice page show of Libeo: payments, « Payer », refusals."""

    company: Company
    connection: LibeoConnection | None
    refusal: str | None
    payments: dict[int, PaymentAttempt] = field(default_factory=dict)

    accountant_may_ask: bool = False
    # « Payer » cannot work until an administrator pastes a new key in « Options » (revoked, removed).
    needs_new_key: bool = False
    # « Connexion supprimée — suivi des N paiements en cours », while MEG follows them.
    following: str | None = None

    @property
    def may_pay(self) -> bool:
        return self.refusal is None

    def paid_to(self, invoice: SupplierInvoice) -> PaidTo | None:
        """Where and when a live Libeo payment of the invoice pays, as Libeo holds it; None without one."""
        return self._transfer(invoice, lambda payment: payment.is_live)

    def debited(self, invoice: SupplierInvoice) -> PaidTo | None:
        """The Libeo transfer that paid the invoice (its amount, payee and debit day), as Libeo's invoice shows it
        « Débité »; None before."""
        return self._transfer(invoice, lambda payment: payment.status is PaymentState.PAID)

    def _transfer(self, invoice: SupplierInvoice, being: Callable[[PaymentAttempt], bool]) -> PaidTo | None:
        payment = self.payments.get(invoice.id)
        if payment is None or not being(payment) or not payment.paid_iban:
            return None
        return PaidTo(payment, invoice.supplier.iban)

    def payment(self, invoice: SupplierInvoice) -> PaymentAttempt | None:
        return self.payments.get(invoice.id)

    def due_flag(self, invoice: SupplierInvoice) -> DueFlag | None:
        """« En retard » or « Échéance proche » for an invoice nothing settles yet (no payment under way)."""
        payment = self.payments.get(invoice.id)
        if invoice.is_paid or (payment is not None and payment.status.holds_invoice):
            return None
        return due_flag(invoice.due_date)

    def state_of(self, invoice: SupplierInvoice) -> tuple[str, str]:
        """The invoice's state in every list and page: (label, badge class). An invoice switched to another
        mode after its Libeo payment ended (rejected, refused, cancelled) is to settle that way; one Libeo
        paid after all (a bank's anomaly resolved) is paid, whatever its mode."""
        if invoice.is_paid:
            return "Payée", "badge-ok"  # settled in MEG (cash, cheque…): the « Payées » tab's word, as exported
        payment = self.payment(invoice)
        if payment is not None and (invoice.payment_mode is PaymentMode.LIBEO or payment.status.holds_invoice):
            return payment.label, payment.badge
        return "À régler", ""

    def shows_pay_button(self, invoice: SupplierInvoice) -> bool:
        return self.row(invoice)[1] == "pay"

    def may_confirm(self, invoice: SupplierInvoice) -> bool:
        """« Payer »'s confirmation may open: a payable invoice, or one whose refusal it then shows first."""
        return self.row(invoice)[1] in ("pay", "refused")

    def hold_forecast(self, invoice: SupplierInvoice, user: User) -> list[str]:
        """Why Libeo will hold the payment « Payer » is about to ask (``hold_forecast``)."""
        if self.connection is None:
            return []
        last = last_ibans_sent([invoice.supplier_id]).get(invoice.supplier_id)
        return hold_forecast(self.connection, invoice, payer_for(user, self.company), last)

    def fraud_refusal(self, invoice: SupplierInvoice) -> str | None:
        payment, offer = self.row(invoice)
        return payment.fraud_refusal if payment is not None and offer == "refused" else None

    def new_iban_needed(self, invoice: SupplierInvoice) -> str | None:
        """Why « Payer » waits for the supplier's new IBAN (the last transfer to this one was rejected for a
        reason of the account), or None."""
        if invoice.payment_mode is not PaymentMode.LIBEO:
            return None  # settled another way now
        return retry_refusal(invoice, self.payments.get(invoice.id))

    def why_not_now(self, invoice: SupplierInvoice | SettlementInvoice) -> str | None:
        """Why « Payer » asked for this invoice (``?payer=``, from a page no longer current) does not open, as a
        sentence naming it; None when it opens, or when the page's own notice says why (``refusal``)."""
        payment, offer = self.row(invoice)
        if offer in ("pay", "refused") or self.refusal is not None:
            return None
        closed = "« Payer » ne s'ouvre pas."
        if invoice.is_paid:
            return f"La facture {invoice.number} est déjà réglée (« Payée ») : {closed}"
        if payment is not None and payment.status is PaymentState.PAID:
            return f"La facture {invoice.number} est déjà payée (« {payment.label} ») : {closed}"
        if payment is not None and payment.status.holds_invoice:
            return f"La facture {invoice.number} a déjà un paiement Libeo en cours (« {payment.label} ») : {closed}"
        if invoice.payment_mode is not PaymentMode.LIBEO:
            return (f"Le mode de règlement de la facture {invoice.number} est « {invoice.payment_mode.label} », pas "
                    f"« {PaymentMode.LIBEO.label} » : {closed}")
        if offer == "bank_anomaly":
            return (f"« Payer » ne s'ouvre pas pour la facture {invoice.number} : la banque a rejeté son dernier "
                    "virement puis l'a dit débité ; une personne du compte Libeo doit vérifier et décider dans "
                    "« Remises » avant qu'elle soit payée de nouveau.")
        if offer == "new_iban" and payment is not None:
            return (f"« Payer » ne s'ouvre pas pour la facture {invoice.number} : son dernier virement a été "
                    f"« {payment.label} » ; enregistrez d'abord le nouvel IBAN de {invoice.supplier.name} dans la "
                    "fiche du fournisseur.")
        return None

    def waits_for_bank_anomaly(self, invoice: SupplierInvoice) -> bool:
        return self.row(invoice)[1] == "bank_anomaly"

    def awaits_answer(self, invoice: SupplierInvoice) -> bool:
        return self.row(invoice)[1] == "check"

    def row(self, invoice: ListedInvoice) -> tuple[PaymentAttempt | None, str | None]:
        """An invoice's Libeo column, in one call per row of a list: its latest payment, and what
        it offers: ``"pay"`` (« Payer »), ``"check"`` (« Vérifier maintenant », a request left
        unanswered), ``"new_iban"`` (the supplier's new IBAN first: its account was rejected),
        ``"refused"`` (refused in Libeo as a possible fraud: its reason before « Payer »), ``"bank_anomaly"``
        (its rejected transfer may have been debited: a person of the Libeo account decides first) or None."""
        payment = self.payments.get(invoice.id)
        if self.refusal is not None:
            return payment, None
        if payment is not None and payment.status.holds_invoice:
            return payment, "check" if payment.status is PaymentState.REQUESTED else None
        if invoice.payment_mode is not PaymentMode.LIBEO or invoice.is_paid:
            return payment, None
        if payment is not None and payment.maybe_debited:
            return payment, "bank_anomaly"  # rejected, yet maybe debited: Libeo pays it again only once decided
        if retry_refusal(invoice, payment):
            return payment, "new_iban"
        if payment is not None and payment.fraud_refusal:
            return payment, "refused"  # the reason first, then « Payer » with it acknowledged
        return payment, "pay"


def anomaly_refusal(payment: PaymentAttempt | None) -> str | None:
    """Why the invoice is not paid again while its rejected transfer may have been debited after all (a bank
    anomaly a person of the Libeo account has not decided), or None."""
    if payment is None or not payment.maybe_debited:
        return None
    return ("Le dernier virement de cette facture a été rejeté, mais un fichier de la banque dit qu'il a peut-être "
            "été débité : une personne du compte Libeo doit vérifier auprès de la banque et décider, dans « Remises » "
            "de Libeo, avant que la facture soit payée de nouveau.")


def retry_refusal(invoice: ListedInvoice, payment: PaymentAttempt | None) -> str | None:
    """Why ``invoice`` may not be paid again yet: its last transfer was rejected for a reason of the payee's
    account, and the supplier's IBAN is still the one rejected. None once the IBAN changed (the new one goes
    through Libeo's check of a new IBAN)."""
    if payment is None or payment.retry_refusal is None:
        return None
    if payment.sent_iban and payment.sent_iban != invoice.supplier.iban:
        return None
    return payment.retry_refusal


# Built once: the pages of a company whose connection was removed count them on every view.
_IN_FLIGHT = (
    select(PaymentAttempt).join(SupplierInvoice, SupplierInvoice.id == PaymentAttempt.invoice_id)
    .where(SupplierInvoice.company_id == bindparam("company_id"), PaymentAttempt.status.in_(OPEN_STATES))
    .options(joinedload(PaymentAttempt.invoice).joinedload(SupplierInvoice.supplier))
    .order_by(PaymentAttempt.id)
)
_IN_FLIGHT_COUNT = (
    select(func.count(PaymentAttempt.id)).join(SupplierInvoice, SupplierInvoice.id == PaymentAttempt.invoice_id)
    .where(SupplierInvoice.company_id == bindparam("company_id"), PaymentAttempt.status.in_(OPEN_STATES))
)


def payments_in_flight(company_id: int) -> list[PaymentAttempt]:
    """The company's payments asked of Libeo that have not ended (paid, rejected, cancelled, refused)."""
    return list(db.session.scalars(_IN_FLIGHT, {"company_id": company_id}))


def in_flight_count(company_id: int) -> int:
    return db.session.scalar(_IN_FLIGHT_COUNT, {"company_id": company_id}) or 0


def following_of(connection: LibeoConnection | None, company_id: int) -> str | None:
    """``following_label`` of the company's payments in flight, counted only for a connection removed or whose
    key Libeo refuses (no statement otherwise)."""
    if connection is None or not (connection.is_removed or connection.state is ConnectionState.KEY_REVOKED):
        return None
    return following_label(connection, in_flight_count(company_id))


def following_label(connection: LibeoConnection, count: int) -> str | None:
    """What every page says of payments in flight a removed connection still follows, or that a key Libeo
    revoked no longer follows; or None."""
    if not count:
        return None
    if not connection.is_removed:
        # The key was revoked or replaced in Libeo: Libeo goes on with the payments, MEG no longer hears of them.
        if count == 1:
            return ("Clé révoquée ou remplacée dans Libeo — le suivi du paiement en cours est interrompu : Libeo "
                    "le mène à son terme, mais MEG ne connaîtra son issue (ni ne pourra l'annuler) qu'une fois une "
                    "nouvelle clé du même compte collée dans « Options ». Suivez-le dans Libeo (« Paiements ») d'ici "
                    "là.")
        return (f"Clé révoquée ou remplacée dans Libeo — le suivi des {count} paiements en cours est interrompu : "
                "Libeo les mène à leur terme, mais MEG ne connaîtra leur issue (ni ne pourra les annuler) qu'une fois "
                "une nouvelle clé du même compte collée dans « Options ». Suivez-les dans Libeo (« Paiements ») d'ici "
                "là.")
    if connection.state in (ConnectionState.KEY_REVOKED, ConnectionState.REMOVED):
        # No key left to read with: MEG says it does not follow them, and how to learn their outcome.
        why = ("la clé a été révoquée dans Libeo" if connection.state is ConnectionState.KEY_REVOKED
               else "MEG ne conserve plus de clé")
        return (f"Connexion supprimée — le suivi des {count} paiement(s) en cours est interrompu : {why}. Collez "
                "une nouvelle clé du même compte dans « Options » pour connaître leur issue, ou suivez-les dans "
                "Libeo.")
    return f"Connexion supprimée — suivi des {count} paiement(s) en cours"


class InvoiceRow(Protocol):
    """What ``libeo_state`` reads of each invoice: a ``SupplierInvoice``, or a plain row of « Règlements »."""

    @property
    def id(self) -> int: ...

    @property
    def payment_mode(self) -> PaymentMode: ...


def sent_to_libeo(invoice_id):
    """SQL: whether the invoice was ever sent to Libeo (``attempted``): a list's row that was not has no
    payment for ``libeo_state`` to read.

    One payment looked up by its invoice's index, row by row, not ``EXISTS``: PostgreSQL may answer an
    ``EXISTS`` of the select list by hashing every payment of every company (a « hashed SubPlan », read
    whole for the 200 rows of the filter's selection or the window of a page), a cost that grows with the
    whole table; a scalar subquery is never hashed."""
    first = select(PaymentAttempt.id).where(PaymentAttempt.invoice_id == invoice_id).limit(1).scalar_subquery()
    return first.is_not(None).label("attempted")


def libeo_state(user: User, company: Company, invoices: Sequence[InvoiceRow]) -> LibeoState:
    connection = connection_of(company)
    # The rows' payments (one statement), of the rows that may have one: a plain row of a list says whether
    # it was ever sent to Libeo (``sent_to_libeo``); an invoice read whole may always have been. Whatever
    # the invoice's mode now: one switched to another mode after its Libeo payment ended keeps that payment's
    # story, and Libeo may still report it paid (a rejection the bank took back).
    libeo_invoices = [invoice.id for invoice in invoices if getattr(invoice, "attempted", True)]
    refusal = payment_refusal(user, company, connection)
    payer = payer_for(user, company) if refusal else None
    following = following_of(connection, company.id)
    return LibeoState(company, connection, refusal, latest_payments(libeo_invoices), following=following,
                      accountant_may_ask=bool(payer and payer.role == "accountant" and connection
                                              and connection_refusal(connection) is None),
                      needs_new_key=refusal is not None and refusal == connection_refusal(connection))


def unknown_outcomes(company_id: int) -> list[PaymentAttempt]:
    """The company's requests still « Vérification en cours », oldest first, with their invoices (« Options »)."""
    return list(db.session.scalars(
        select(PaymentAttempt).join(SupplierInvoice)
        .options(contains_eager(PaymentAttempt.invoice))
        .where(SupplierInvoice.company_id == company_id, PaymentAttempt.status == PaymentState.REQUESTED)
        .order_by(PaymentAttempt.requested_at, PaymentAttempt.id)
    ))


def unverifiable_requests(company_id: int) -> list[PaymentAttempt]:
    """The company's requests « Vérification impossible », oldest first, with their invoices (« Options »)."""
    return list(db.session.scalars(
        select(PaymentAttempt).join(SupplierInvoice)
        .options(contains_eager(PaymentAttempt.invoice))
        .where(SupplierInvoice.company_id == company_id, PaymentAttempt.status == PaymentState.UNVERIFIABLE)
        .order_by(PaymentAttempt.requested_at, PaymentAttempt.id)
    ))


def settled_through_libeo():
    """SQL condition: the invoice was paid through Libeo (it leaves « Règlements »)."""
    return exists().where(PaymentAttempt.invoice_id == SupplierInvoice.id, PaymentAttempt.status == PaymentState.PAID)


# --- The invoice's state, stored -------------------------------------------------------------------

# Its state as every list shows it (``LibeoState.state_of``): settled in MEG or paid through Libeo, a
# payment under way (its latest attempt holds the invoice), its latest transfer rejected, or to settle.
# Computed here and stored on the invoice (``settlement_state``), so that a list's tabs, their counts and
# « Cette semaine » read an index instead of each invoice's latest attempt.
def _of_latest_attempt(column):
    """SQL: ``column`` of the invoice's latest payment attempt (the one that speaks for it: ``_SPEAKS_FIRST``;
    NULL without one), row by row."""
    return (select(column).where(PaymentAttempt.invoice_id == SupplierInvoice.id)
            .order_by(_SPEAKS_FIRST.desc(), PaymentAttempt.attempt.desc()).limit(1).correlate(SupplierInvoice)
            .scalar_subquery())


_LATEST_STATUS = _of_latest_attempt(PaymentAttempt.status)


def latest_payment_status():
    """SQL: the name of the invoice's latest payment's status (« SCHEDULED »…), or NULL: what a row of an export
    or of « Factures des clients » says of a payment under way (``achats.lists.state_word``)."""
    return type_coerce(_LATEST_STATUS, String()).label("payment_status")


def latest_payment_dates():
    """SQL: the execution date and the bank's debit date of the invoice's latest payment (NULL without one):
    what an export's « Date d'exécution » and « Payée le » say of it (``achats.lists.payment_dates``)."""
    return (_of_latest_attempt(PaymentAttempt.execution_date).label("execution_date"),
            _of_latest_attempt(PaymentAttempt.paid_on).label("paid_on"))


def latest_failure_reason():
    """SQL: the bank's reason of the invoice's latest payment, when it was rejected (NULL otherwise): what a
    « Rejetée » row of an export or of « Factures des clients » says, as the invoice's page does — with the
    bank anomaly Libeo holds about it, if any."""
    said = case((PaymentAttempt.bank_anomaly.is_not(None),
                 func.coalesce(PaymentAttempt.failure_reason, "Rejeté par la banque") + BANK_ANOMALY_WORDS),
                else_=PaymentAttempt.failure_reason)
    return _of_latest_attempt(said).label("failure_reason")


def latest_cancel_reason():
    """SQL: why an administrator of Libeo refused the invoice's latest payment at its approval (the reason
    Libeo gave with its cancellation; NULL otherwise): what the row of an export says, as the screens do
    (``achats.lists.state_word``)."""
    return _of_latest_attempt(PaymentAttempt.cancel_reason).label("cancel_reason")


# After a rejected transfer's reason in an export, while the bank may have debited it after all.
BANK_ANOMALY_WORDS = " — anomalie bancaire à vérifier dans Libeo"


# A simple CASE (the latest attempt read once per row) compares the stored names: its values are not
# bound through the column's type. Release 2 stored a payment in a SEPA file as « IN_PROGRESS ».
STORED_STATES = {
    PaymentState.PAID.name: "payees", PaymentState.FAILED.name: "rejetees", "IN_PROGRESS": "programmees",
    **dict.fromkeys([state.name for state in OPEN_STATES if state is not PaymentState.PAID], "programmees"),
    PaymentState.UNVERIFIABLE.name: "programmees",  # a payment that may be under way, locked
}
# To settle: nothing paid nor under way (« Payer » may take it).
TO_SETTLE_STATES = ("a_regler", "rejetees")
# An invoice switched to another mode after its transfer was rejected is to settle that way, no longer
# « Rejetée » (its mode may change once no payment holds it: ``achats.invoices.payment_lock``).
_STORED_STATES_OTHER_MODE = {**STORED_STATES, PaymentState.FAILED.name: "a_regler"}
COMPUTED_INVOICE_STATE = case(
    (SupplierInvoice.paid_at.is_not(None), "payees"),
    (SupplierInvoice.payment_mode == PaymentMode.LIBEO, case(STORED_STATES, value=_LATEST_STATUS, else_="a_regler")),
    else_=case(_STORED_STATES_OTHER_MODE, value=_LATEST_STATUS, else_="a_regler"),
)
_INVOICES = cast(Table, SupplierInvoice.__table__)
# The invoice's ``updated_at`` stays: its state follows its payments, the invoice itself did not change.
_REFRESH_STATES = (
    update(_INVOICES).where(_INVOICES.c.id.in_(bindparam("invoice_ids", expanding=True)))
    .values(settlement_state=COMPUTED_INVOICE_STATE, updated_at=_INVOICES.c.updated_at)
)


def refresh_invoice_states(invoice_ids) -> None:
    """Stores again the state of these invoices, in the session's transaction: each statement that writes
    an attempt's status or an invoice's ``paid_at`` outside the ORM's flush calls it (a flush does,
    ``_keep_invoice_states``)."""
    session = db.session()
    session.connection().execute(_REFRESH_STATES, {"invoice_ids": sorted(set(invoice_ids))})
    _read_states_again(session, invoice_ids)


def _read_states_again(session: Session, invoice_ids) -> None:
    """The invoices loaded in the session read their stored state again when next asked."""
    for invoice_id in invoice_ids:
        invoice = session.identity_map.get(identity_key(SupplierInvoice, invoice_id))
        if invoice is not None:
            session.expire(invoice, ["settlement_state"])


def _changed(instance, *names: str) -> bool:
    attributes = inspect(instance).attrs
    return any(attributes[name].history.has_changes() for name in names)


def _invoice_whose_state_may_change(session: Session, instance) -> int | None:
    """The invoice a flushed object may have changed the state of: an attempt written, removed or whose
    status changed; an invoice whose ``paid_at`` or mode changed (or a new one, settled)."""
    if isinstance(instance, PaymentAttempt):
        if instance in session.new or instance in session.deleted or _changed(instance, "status", "attempt"):
            return instance.invoice_id
    elif isinstance(instance, SupplierInvoice) and instance not in session.deleted:
        settled = (instance.paid_at is not None if instance in session.new
                   else _changed(instance, "paid_at", "payment_mode"))
        return instance.id if settled else None
    return None


@event.listens_for(Session, "after_flush")
def _keep_invoice_states(session: Session, _context) -> None:
    # Before the flush ends (its changes are still listed): the invoices whose state a flushed object may
    # have changed, stored again in the same transaction.
    changed = {invoice_id for instance in (*session.new, *session.dirty, *session.deleted)
               if (invoice_id := _invoice_whose_state_may_change(session, instance)) is not None}
    if changed:
        session.connection().execute(_REFRESH_STATES, {"invoice_ids": sorted(changed)})
        session.info.setdefault("invoice_states", set()).update(changed)


@event.listens_for(Session, "after_flush_postexec")
def _read_flushed_states_again(session: Session, _context) -> None:
    # Once the flush has ended: the invoices whose state it stored read it again when next asked.
    _read_states_again(session, session.info.pop("invoice_states", ()))


def stale_invoice_states(connection: Connection, limit: int) -> list[tuple[int, str, str]]:
    """The first ``limit`` invoices whose stored state is not the one their payments give (id, stored,
    computed): none, unless a statement wrote a payment's status without ``refresh_invoice_states``."""
    computed = COMPUTED_INVOICE_STATE.label("computed")
    return [tuple(row) for row in connection.execute(
        select(SupplierInvoice.id, SupplierInvoice.settlement_state, computed)
        .where(SupplierInvoice.settlement_state != COMPUTED_INVOICE_STATE).order_by(SupplierInvoice.id).limit(limit))]


def refresh_all_invoice_states(connection: Connection) -> int:
    """Stores again every invoice's state whose stored one is wrong: how many (after a bulk load, or to
    repair)."""
    return rowcount(connection.execute(
        update(_INVOICES).where(_INVOICES.c.settlement_state != COMPUTED_INVOICE_STATE)
        .values(settlement_state=COMPUTED_INVOICE_STATE, updated_at=_INVOICES.c.updated_at)))


def external_id(invoice_id: int) -> str:
    """How Libeo knows a MEG invoice."""
    return f"meg-{invoice_id}"


def invoice_payload(invoice: SupplierInvoice) -> dict:
    """What Libeo receives of an invoice: nothing of MEG's accounts or entries."""
    supplier = {"name": invoice.supplier.name, "iban": invoice.supplier.iban}
    if invoice.supplier.bic:
        supplier["bic"] = invoice.supplier.bic
    payload = {
        "number": invoice.number,
        "supplier": supplier,
        "amount_cents": invoice.amount_cents,
        "currency": invoice.currency,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
    }
    totals = invoice_totals(invoice)
    if totals is not None:
        payload["totals"] = totals
    return payload


def invoice_totals(invoice: SupplierInvoice) -> dict | None:
    """The e-invoice's totals (EN 16931) Libeo shows beside the amount due, when they add up to it.

    A file may break its own rule (amount due = total with VAT − prepaid +
    rounding): Libeo then gets the amount due alone, which is what it pays.
    """
    if invoice.total_cents is None:
        return None
    if amount_due(invoice.total_cents, invoice.prepaid_cents, invoice.rounding_cents) != invoice.amount_cents:
        return None
    return {"net_cents": invoice.net_cents, "vat_cents": invoice.vat_cents, "total_cents": invoice.total_cents,
            "prepaid_cents": invoice.prepaid_cents, "rounding_cents": invoice.rounding_cents}


# What a payment copies, and what describes its amount (the totals add up to it).
TRANSFER_FIELDS = ("supplier", "amount_cents", "currency", "totals")


def libeo_payload(invoice: SupplierInvoice) -> dict:
    """The invoice as Libeo should know it now.

    While a payment holds it, Libeo keeps paying what it was asked to pay:
    the beneficiary and amount stay those of the request (Libeo would refuse
    any other), the number and dates follow MEG. A change of the supplier's
    IBAN in MEG is for the next payments (``payments_keeping_old_iban``).
    """
    payload = invoice_payload(invoice)
    payment = latest_payment(invoice)
    sent = (payment.request_body or {}).get("invoice") if payment is not None and payment.status.holds_invoice else None
    if sent:
        payload.update({name: sent[name] for name in TRANSFER_FIELDS if name in sent})
        if "totals" not in sent:  # a request sent before MEG sent totals: its amount alone
            payload.pop("totals", None)
    return payload


def payments_keeping_old_iban(supplier_id: int, new_iban: str) -> list[PaymentAttempt]:
    """Payments asked to an IBAN other than ``new_iban`` for this supplier and not finished yet."""
    candidates = db.session.scalars(
        select(PaymentAttempt).join(SupplierInvoice)
        .where(SupplierInvoice.supplier_id == supplier_id, PaymentAttempt.status.in_(OPEN_STATES))
        .order_by(PaymentAttempt.id)
    ).all()
    return [payment for payment in candidates
            if payment.paid_iban != new_iban]


def check_execution_date(day: date, today: date | None = None, *, suggestion_shown: bool = False) -> date:
    """A day banks execute transfers on (``core.calendar``'s rule), or LibeoLinkError proposing another
    (``suggestion_shown``: worded for a form that puts the proposed date in its field)."""
    try:
        return execution_date_rule(day, today or paris_today())
    except ExecutionDateRefused as refused:
        message = refused.message_with_suggestion_shown if suggestion_shown else refused.message
        raise LibeoLinkError(message, field="execution_date", suggestion=refused.suggestion) from None


def claim_duration() -> timedelta:
    """How long a sync worker owns a piece of work (config ``SYNC_CLAIM_SECONDS``)."""
    return timedelta(seconds=current_app.config["SYNC_CLAIM_SECONDS"])


def claim_unheard(now: datetime | None = None, limit: int = 50) -> list[int]:
    """Attempts still without Libeo's answer, claimed for a replay (safe with several sync workers): those never
    tried by a pass first, then the least recently tried (``paying.next_try``), so that ``limit`` requests Libeo
    keeps refusing (a revoked key) never hold back the others."""
    now = now or utcnow()
    candidates = db.session.scalars(
        select(PaymentAttempt.id).where(
            PaymentAttempt.status == PaymentState.REQUESTED,
            PaymentAttempt.idempotency_key.is_not(None),
            (PaymentAttempt.claimed_until.is_(None)) | (PaymentAttempt.claimed_until < now),
        ).order_by(PaymentAttempt.claimed_until.is_not(None), PaymentAttempt.claimed_until, PaymentAttempt.id)
        .limit(limit)
    ).all()
    claimed = []
    for payment_id in candidates:
        won = rowcount(db.session.execute(
            update(PaymentAttempt)
            .where(PaymentAttempt.id == payment_id, PaymentAttempt.status == PaymentState.REQUESTED,
                   (PaymentAttempt.claimed_until.is_(None)) | (PaymentAttempt.claimed_until < now))
            .values(claimed_until=now + claim_duration())
            .execution_options(synchronize_session=False)
        ))
        db.session.commit()
        if won:
            claimed.append(payment_id)
    return claimed
