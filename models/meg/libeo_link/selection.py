"""« Payer la sélection »: several invoices of one company paid through Libeo in one confirmation.

Built on the single « Payer » (``paying``): each invoice keeps its own
attempt, Idempotency-Key and exact body, recorded before anything is sent,
so that a double click, a refresh, a second tab or a lost answer never pays
an invoice twice, and the sync pass replays an unheard item alone as for one
« Payer ». What differs is the round trip: the whole selection goes to
Libeo in one call (``LibeoClient.create_payments``), each item with its own
answer, and the answers are recorded in one transaction.

Transactions of :func:`pay_selection`, in order:
1. the attempts (one commit for the selection; a concurrent click's
   attempts are adopted invoice by invoice);
2. no transaction while Libeo is called;
3. every answer heard, recorded at once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from core.banks import bank_name
from core.calendar import default_execution_date, next_business_day
from core.dates import paris_today
from core.db import end_reading, keep_loaded
from core.french import after_colon
from core.ids import parse_id
from core.money import format_amount
from core.selection import SelectionTotals
from core.validators import mask_iban
from models.meg.achats.models import PaymentMode, SupplierInvoice
from models.meg.companies.models import Company, User
from models.meg.db import db
from models.meg.libeo_link.attempts import (
    MAX_SCHEDULE_AHEAD,
    QUOTA_EXCEEDED,
    Payer,
    PaymentAttempt,
    PaymentState,
    anomaly_refusal,
    check_execution_date,
    external_id,
    hold_forecast,
    insert_attempts,
    last_ibans_sent,
    latest_payments,
    payer_for,
    payment_refusal,
    retry_refusal,
)
from models.meg.libeo_link.client import (
    LibeoApiError,
    LibeoPaymentInfo,
    LibeoUnheard,
    LibeoUnreachable,
)
from models.meg.libeo_link.connection import LibeoConnection, LibeoLinkError, PlanQuota, connection_of
from models.meg.libeo_link.outbox import supersede_all_pending_updates, supersede_pending_updates
from models.meg.libeo_link.paying import (
    ENDED_STATUSES,
    _adopt,
    _refuse,
    current_state,
    held_for_its_account,
    initiator_of,
    new_attempt,
    pending_reason_for,
    record_payment,
    record_payments,
)

# Libeo's batch takes at most this many; a page of « Règlements » shows 50.
MAX_SELECTION = 200

_INVOICES = (
    select(SupplierInvoice).options(joinedload(SupplierInvoice.supplier))
    .where(SupplierInvoice.company_id == bindparam("company_id"),
           SupplierInvoice.id.in_(bindparam("invoice_ids", expanding=True)))
    .order_by(SupplierInvoice.due_date, SupplierInvoice.id)
)


def selected_ids(values: list[str]) -> list[int]:
    """The invoice ids of a submitted selection, in their order, once each; a French refusal otherwise.

    A form may carry any number of values: the reading stops at the first one too many.
    """
    ids: dict[int, None] = {}  # in their order, once each
    for value in values:
        invoice_id = parse_id(value)
        if invoice_id is None:
            raise LibeoLinkError("La sélection contient une facture inconnue : rien n'a été payé.")
        ids[invoice_id] = None
        if len(ids) > MAX_SELECTION:
            raise LibeoLinkError(f"Une sélection compte au plus {MAX_SELECTION} factures (plus de {MAX_SELECTION} "
                                 "cochées) : payez-les en plusieurs fois.")
    if not ids:
        raise LibeoLinkError("Aucune facture sélectionnée : cochez les factures à payer.")
    return list(ids)


def company_invoices(company: Company, ids: list[int]) -> list[SupplierInvoice]:
    """The selected invoices, earliest due first; any id that is not this company's refuses the whole."""
    invoices = list(db.session.scalars(_INVOICES, {"company_id": company.id, "invoice_ids": ids}))
    if len(invoices) != len(ids):
        raise LibeoLinkError("La sélection contient une facture introuvable dans cette entreprise : rien n'a été "
                             "payé. Rechargez « Règlements » et sélectionnez de nouveau.")
    return invoices


def unpayable_reason(invoice: SupplierInvoice, payment: PaymentAttempt | None) -> str | None:
    """Why « Payer » would not take ``invoice`` now (the box that is not there says it), or None."""
    if invoice.is_paid:
        return "Cette facture est déjà réglée."
    if payment is not None and payment.status is PaymentState.UNVERIFIABLE:
        return ("Vérification impossible : la demande envoyée à l'ancien compte Libeo attend qu'un administrateur "
                "« Achats » confirme sur la page de la facture qu'elle n'a pas été payée.")
    if payment is not None and payment.status.holds_invoice:
        return f"Un paiement de cette facture est déjà en cours : {payment.label}."
    if invoice.payment_mode is not PaymentMode.LIBEO:
        return f"Mode de règlement « {invoice.payment_mode.label} » : elle ne se paie pas avec Libeo."
    return anomaly_refusal(payment) or retry_refusal(invoice, payment)


def upgrade_url() -> str:
    """Libeo's « Abonnement » page, where the plan is upgraded."""
    return current_app.config["LIBEO_URL"].rstrip("/") + "/abonnement"


# --- the confirmation -------------------------------------------------------------------------------


@dataclass
class SelectionLine:
    invoice: SupplierInvoice
    iban: str
    bank: str | None
    default_date: date
    execution_date: date
    new_iban: str | None = None  # Libeo will hold it (the supplier's new IBAN, an approval rule): why
    beyond_quota: bool = False
    error: str | None = None  # a date refused, or the invoice no longer payable

    @property
    def amount(self) -> str:
        return format_amount(self.invoice.amount_cents, self.invoice.currency)


@dataclass
class SelectionConfirmation(SelectionTotals):
    """What « Confirmer les N paiements » will ask of Libeo, said beforehand."""

    lines: list[SelectionLine]
    quota: PlanQuota | None  # the plan's month as Libeo last said it (``GET /me``, the events feed)
    earliest: date
    latest: date
    errors: list[str] = field(default_factory=list)

    @property
    def remaining(self) -> int | None:
        """Payments the plan still allows this month, or None (unlimited, or unknown)."""
        if self.quota is None or self.quota.limit is None:
            return None
        return max(0, self.quota.limit - self.quota.used)

    @property
    def upgrade_url(self) -> str:
        return upgrade_url()


def selection_confirmation(company: Company, user: User, ids: list[int],
                           dates: dict[int, date] | None = None, today: date | None = None) -> SelectionConfirmation:
    """The confirmation of a selection: each invoice with its default date, what the plan still allows
    (as MEG last heard it: no call to Libeo), and the payments Libeo will hold for approval (a new IBAN,
    an approval rule).

    Refuses the whole (LibeoLinkError) when nobody could pay: not this person, not connected,
    or no invoice of the selection payable any more.
    """
    connection, payer = _payer(company, user)
    today = today or paris_today()
    invoices = company_invoices(company, ids)
    payments = latest_payments([invoice.id for invoice in invoices])
    lines, errors = [], []
    for invoice in invoices:
        reason = unpayable_reason(invoice, payments.get(invoice.id))
        if reason:
            errors.append(f"Facture {invoice.number} : {after_colon(reason)}")
            continue
        default = default_execution_date(invoice.due_date, today)
        lines.append(SelectionLine(invoice, mask_iban(invoice.supplier.iban), bank_name(invoice.supplier.iban),
                                   default, (dates or {}).get(invoice.id) or default))
    if not lines:
        raise LibeoLinkError(" ".join(errors) or "Aucune facture de la sélection ne peut être payée.")
    _say_holds(lines, connection, payer)
    confirmation = SelectionConfirmation(lines, connection.quota, next_business_day(today),
                                         today + MAX_SCHEDULE_AHEAD, errors)
    remaining = confirmation.remaining
    if remaining is not None:
        for line in lines[remaining:]:
            line.beyond_quota = True
    return confirmation


def _payer(company: Company, user: User) -> tuple[LibeoConnection, Payer]:
    connection = connection_of(company)
    refusal = payment_refusal(user, company, connection)
    if refusal:
        raise LibeoLinkError(refusal)
    if connection is None:
        raise LibeoLinkError("Cette entreprise n'est pas encore connectée à Libeo.", not_connected=True)
    payer = payer_for(user, company)
    assert payer is not None  # payment_refusal said who may not pay
    return connection, payer


def _say_holds(lines: list[SelectionLine], connection: LibeoConnection, payer: Payer) -> None:
    """Libeo holds a payment to an IBAN that is not the supplier's last one paid, or one an approval rule of
    the account covers: say it beforehand, on its line (``hold_forecast``)."""
    last_iban = last_ibans_sent(list({line.invoice.supplier_id for line in lines}))
    for line in lines:
        reasons = hold_forecast(connection, line.invoice, payer, last_iban.get(line.invoice.supplier_id))
        if reasons:
            line.new_iban = (f"Libeo retiendra ce paiement jusqu'à l'approbation d'un administrateur "
                             f"({' ; '.join(reasons)}).")


# --- paying -----------------------------------------------------------------------------------------


@dataclass
class SelectionOutcome:
    """What became of a confirmed selection: the ids, for the result page, which reads each one's record."""

    invoice_ids: list[int]


def pay_selection(company: Company, user: User, ids: list[int], dates: dict[int, date],
                  today: date | None = None) -> SelectionOutcome:
    """« Confirmer les N paiements »: each invoice paid once, each with its own answer (see the module).

    Bad input refuses the whole before anything is recorded: an id of another company, a date
    refused (every one is named). An invoice no longer payable (paid in another tab meanwhile) is
    left as it is; the result page says its state.
    """
    connection, payer = _payer(company, user)
    today = today or paris_today()
    invoices = company_invoices(company, ids)
    errors = []
    for invoice in invoices:
        try:
            dates[invoice.id] = check_execution_date(
                dates.get(invoice.id) or default_execution_date(invoice.due_date, today), today)
        except LibeoLinkError as error:
            errors.append(f"Facture {invoice.number} : {after_colon(error.message)}")
    if errors:
        raise LibeoLinkError(" ".join(errors) + " Rien n'a été payé.", field="execution_date")
    with keep_loaded(db):
        end_reading(db)
        opened = _open_attempts(connection, invoices, user, payer, dates)
        to_send = [(attempt, created) for attempt, created in opened if attempt.status is PaymentState.REQUESTED]
        if to_send:
            _send_all(connection, to_send)
    return SelectionOutcome([invoice.id for invoice in invoices])


def _open_attempts(connection: LibeoConnection, invoices: list[SupplierInvoice], user: User, payer: Payer,
                   dates: dict[int, date]) -> list[tuple[PaymentAttempt, bool]]:
    """Each payable invoice's attempt, and whether this click created it; one commit for the selection.

    An invoice no longer payable is left out. If a concurrent click created some attempts first
    (a double click, another tab), the selection is opened again, adopting theirs: never two.
    A request left unanswered by another Libeo account than the connection's is never sent to this
    one (« Vérification impossible », ``paying.held_for_its_account``).
    """
    for _ in range(3):
        latest = latest_payments([invoice.id for invoice in invoices])
        opened: list[tuple[PaymentAttempt, bool]] = []
        for invoice in invoices:
            current = latest.get(invoice.id)
            if current is not None and current.status.holds_invoice:
                if (current.status is PaymentState.REQUESTED and current.idempotency_key
                        and not held_for_its_account(connection, current)):
                    opened.append((current, False))  # asked by another click, unanswered: ask again, same key
                continue
            if unpayable_reason(invoice, current):
                continue
            attempt = new_attempt(invoice, current, user, payer, dates[invoice.id], connection.libeo_account_id)
            opened.append((attempt, True))
        try:
            new = [attempt for attempt, created in opened if created]
            written = dict(zip(map(id, new), insert_attempts(new), strict=True))  # one statement for all
            db.session.commit()
            return [(written[id(attempt)], True) if created else (attempt, False) for attempt, created in opened]
        except IntegrityError:
            db.session.rollback()  # another click opened some of them first: adopt theirs
    raise LibeoLinkError("Des paiements de cette sélection sont déjà en cours : rechargez la page.")


def _send_all(connection: LibeoConnection, to_send: list[tuple[PaymentAttempt, bool]]) -> None:
    """Sends the selection in one call and records every answer heard; commits.

    Whole-call failures are those of one « Payer » (``paying.send``), for each item: unheard, it
    stays « Vérification en cours » and is replayed alone; unreachable or answered before
    anything was done (a refused key, 429), the attempts this click created are forgotten; only
    Libeo's own refusal of the whole call refuses each.
    """
    client = connection.client()
    signed: dict[tuple[str, str, int | None], str] = {}  # one assertion per person asking (a selection: one)
    items = []
    for attempt, _ in to_send:
        key, body = attempt.sent_request
        asked = body["initiated_by"]
        who = (asked["email"], asked["role"], attempt.requested_by_id)
        if who not in signed:
            signed[who] = initiator_of(attempt)
        items.append((external_id(attempt.invoice_id), key, body, signed[who]))
    db.session.commit()
    try:
        outcomes: list[LibeoPaymentInfo | LibeoApiError] = client.create_payments(items)
    except LibeoUnreachable as error:
        connection.record_failure(error)
        forgotten = [attempt for attempt, created in to_send if created]
        for attempt in forgotten:
            db.session.delete(attempt)
        for attempt, created in to_send:
            if not created:
                attempt.claimed_until = None
        db.session.commit()
        raise LibeoLinkError(error.message + " Rien n'a été payé.") from error
    except LibeoUnheard as error:
        connection.record_failure(error)
        for attempt, _ in to_send:
            attempt.claimed_until = None
        db.session.commit()
        return
    except LibeoApiError as error:
        if not error.decided:
            # Not Libeo's decision (a refused key, « trop de requêtes », a server error): only Libeo's
            # own refusal may refuse a payment.
            connection.record_failure(error)
            if not error.maybe_done:  # answered before anything was done: nothing was paid
                for attempt, created in to_send:
                    if created:
                        db.session.delete(attempt)
                    else:
                        attempt.claimed_until = None
                db.session.commit()
                raise LibeoLinkError(error.message + " Rien n'a été payé.") from error
            for attempt, _ in to_send:  # an earlier try may have reached Libeo: each is replayed alone
                attempt.claimed_until = None
                attempt.pending_reason = pending_reason_for(error)
            db.session.commit()
            return
        connection.record_success()
        for attempt, _ in to_send:
            _refuse(attempt, error.message, seen=True, code=error.code)
        db.session.commit()
        raise LibeoLinkError(error.message, upgrade_url=error.upgrade_url) from error
    # A replayed item is the payment as first answered: as it is now, for those few.
    outcomes = [current_state(client, outcome) if isinstance(outcome, LibeoPaymentInfo) else outcome
                for outcome in outcomes]
    _record_answers(connection, [attempt for attempt, _ in to_send], outcomes)
    db.session.commit()


def _record_answers(connection: LibeoConnection, attempts: list[PaymentAttempt],
                    outcomes: list[LibeoPaymentInfo | LibeoApiError]) -> None:
    """Every item's answer, recorded as ``paying.send`` records one « Payer »'s: the payments Libeo made for
    requests it had not answered before (nearly all of them) at once (``record_payments``), the others one
    by one. When a payment's newer account was recorded meanwhile (the events feed got there first), all
    are recorded one by one, each only over an older account."""
    connection.record_success()
    made = [(attempt, outcome) for attempt, outcome in zip(attempts, outcomes, strict=True)
            if isinstance(outcome, LibeoPaymentInfo) and attempt.status is PaymentState.REQUESTED]
    if not made or not record_payments(made, connection.company_id, seen=True):
        if made:
            db.session.rollback()
            connection.record_success()
        for attempt, outcome in zip(attempts, outcomes, strict=True):
            _record(connection, attempt, outcome)
        return
    for _, outcome in made:
        if outcome.status not in ENDED_STATUSES:
            connection.count_payment()
    supersede_all_pending_updates([attempt.invoice_id for attempt, _ in made])
    recorded = {id(attempt) for attempt, _ in made}
    for attempt, outcome in zip(attempts, outcomes, strict=True):
        if id(attempt) not in recorded:
            _record(connection, attempt, outcome)


def _record(connection: LibeoConnection, attempt: PaymentAttempt, outcome: LibeoPaymentInfo | LibeoApiError) -> None:
    """One item's answer, recorded as ``paying.send`` records one « Payer »'s."""
    if isinstance(outcome, LibeoPaymentInfo):
        if attempt.status is PaymentState.REQUESTED and outcome.status not in ENDED_STATUSES:
            connection.count_payment()
        record_payment(attempt, outcome, connection.company_id, seen=True)
        supersede_pending_updates(attempt.invoice_id)
    elif isinstance(outcome, LibeoUnheard):
        attempt.claimed_until = None  # replayed alone, with its key, by the sync pass or « Vérifier maintenant »
    elif outcome.code == "payment_exists" and outcome.payment_id:
        _adopt(connection, attempt, outcome.payment_id, seen=True)
    else:
        if outcome.code == QUOTA_EXCEEDED:
            connection.quota_used_up()
        _refuse(attempt, outcome.message, seen=True, code=outcome.code)


# --- the result -------------------------------------------------------------------------------------


@dataclass
class ResultLine:
    invoice: SupplierInvoice
    label: str
    badge: str
    next_action: str
    kind: str  # "scheduled", "held", "refused", "checking" or "other"
    payment: PaymentAttempt | None
    upgrade_url: str | None = None  # Libeo's « Abonnement », for an invoice the plan's quota left unpaid


NEXT_ACTIONS = {
    "scheduled": "Rien à faire : Libeo paiera à la date indiquée. Pour changer d'avis, annulez le paiement avant la "
                 "remise à la banque.",
    "held": "Un administrateur du compte Libeo doit l'approuver (« À approuver »).",
    "checking": "Libeo n'a pas répondu : MEG vérifie d'elle-même. Ne réglez pas cette facture autrement d'ici là.",
    "refused": "Corrigez ce qui est dit, puis payez-la de nouveau (seule ou dans une autre sélection).",
    "quota": "Passez à la formule Partnerships dans Libeo, puis payez-la de nouveau :",
    "other": "",
}


def selection_result(company: Company, ids: list[int]) -> list[ResultLine]:
    """Each invoice of a selection and its state as MEG recorded it: what every list shows."""
    invoices = company_invoices(company, ids)
    payments = latest_payments([invoice.id for invoice in invoices])
    lines = []
    for invoice in invoices:
        payment = payments.get(invoice.id)
        kind = _kind(invoice, payment)
        if payment is None:
            label, badge = ("Payée", "badge-ok") if invoice.is_paid else (
                unpayable_reason(invoice, None) or "À régler", "")
        else:
            label, badge = payment.label, payment.badge
        action = "quota" if kind == "refused" and payment and payment.refusal_code == QUOTA_EXCEEDED else kind
        lines.append(ResultLine(invoice, label, badge, NEXT_ACTIONS[action], kind, payment,
                                upgrade_url() if action == "quota" else None))
    return lines


def _kind(invoice: SupplierInvoice, payment: PaymentAttempt | None) -> str:
    if payment is None:
        return "other"
    return {
        PaymentState.REQUESTED: "checking",
        PaymentState.SCHEDULED: "scheduled",
        PaymentState.AWAITING_APPROVAL: "held",
        PaymentState.REFUSED: "refused",
    }.get(payment.status, "other")


def result_summary(lines: list[ResultLine]) -> str:
    """« 5 factures : 3 programmées (1 234,00 €), 1 à approuver, 1 refusée, … »."""
    counts: dict[str, int] = defaultdict(int)
    scheduled_cents = 0
    for line in lines:
        counts[line.kind] += 1
        if line.kind == "scheduled":
            scheduled_cents += line.invoice.amount_cents
    words = {"scheduled": ("programmée", "programmées"), "held": ("à approuver", "à approuver"),
             "refused": ("refusée", "refusées"), "checking": ("en vérification", "en vérification"),
             "other": ("dans un autre état", "dans un autre état")}
    parts = []
    for kind, (one, many) in words.items():
        if counts[kind]:
            part = f"{counts[kind]} {one if counts[kind] == 1 else many}"
            if kind == "scheduled":
                part += f" ({format_amount(scheduled_cents)})"
            parts.append(part)
    total = len(lines)
    return f"{total} facture{'s' if total > 1 else ''} : " + ", ".join(parts) + "."

