"""The bank leg of a payment, told as the bank tells it: from the file written to the debit or the rejection.

``file_ready`` (the SEPA file is in « Remises ») → ``transmitted`` (the
person says they uploaded it) → ``accepted`` (the bank's intermediate
statuses) → ``paid`` (debited, on the bank's date) or ``failed`` (rejected
or returned, with the bank's reason). Every move is a conditional UPDATE from
the state it leaves, with its event, so concurrent reports and clicks decide
once; ``paid`` and ``failed`` are final: a bank fact contradicting one is kept
as a :class:`BankAnomaly` for a person to resolve, never applied by itself.

A payment's debit date is the bank's: the booking date of a statement, else
the time the bank gave with its settlement status, and never before the
execution date asked for (a bank does not debit earlier). A rejected payment
gives its slot of the month's quota back, as a cancelled one does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Literal

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from core.dates import PARIS, date_fr, datetime_fr, paris_today, utcnow
from core.french import after_colon
from core.money import format_amount
from models.libeo.accounts.models import Account, LibeoUser
from models.libeo.db import db
from models.libeo.errors import Conflict, InvalidData, NotFound
from models.libeo.journal import record as journal
from models.libeo.payments.models import (
    AT_BANK,
    BankAnomaly,
    BankStatusImport,
    Payment,
    PaymentStatus,
    SepaBatch,
)
from models.libeo.payments.quota import give_back, hold_months, quota_month, take_back
from models.libeo.payments.safeguards import note_rejected_iban, note_working_ibans
from models.libeo.payments.transitions import move_payments, retell_payments

Outcome = Literal["accepted", "paid", "failed"]
# How far along the bank's intermediate statuses go: a later report of an earlier step changes nothing.
STEP = {"RCVD": 1, "PDNG": 2, "ACTC": 3, "ACCP": 4, "ACWC": 5, "ACFC": 5, "ACSP": 6, "ACPD": 6}
OUTCOME_RANK = {"accepted": 1, "paid": 2, "failed": 3}


@dataclass(frozen=True)
class BankFact:
    """What one bank file says of one payment."""

    payment_id: int
    outcome: Outcome
    status: str | None  # the ISO status (ACSP, ACSC, RJCT), or BOOK for a statement's entry
    moment: datetime | None = None  # when the bank says it happened (AccptncDtTm, CreDtTm)
    day: date | None = None  # the booking date of a statement's entry
    reason_code: str | None = None
    bank_text: str | None = None
    failure_reason: str | None = None  # « Rejeté : compte du bénéficiaire clôturé (AC04) »
    is_return: bool = False
    # A fact a person confirms before it applies (a whole file's debit reversed by the bank): an anomaly.
    to_confirm: bool = False


@dataclass
class Applied:
    """What applying a file's facts did."""

    accepted: list[Payment] = field(default_factory=list)
    paid: list[Payment] = field(default_factory=list)
    failed: list[Payment] = field(default_factory=list)
    anomalies: list[BankAnomaly] = field(default_factory=list)
    unchanged: int = 0  # facts the payments already reflect, or older news
    redated: int = 0  # debits a status report dated, booked by the statement on another day


def debit_day(payment: Payment, day: date | None, moment: datetime | None) -> date:
    """The day the bank debited ``payment``: its booking date, else the day of its time, never before
    the execution date asked for (the file's); the execution date itself when the bank gives neither."""
    stated = day or (moment.astimezone(PARIS).date() if moment else None)
    return max(stated, payment.execution_date) if stated else payment.execution_date


def debit_moment(day: date, moment: datetime | None) -> datetime:
    """``paid_at``: the bank's time when it falls on the debit day, else the start of that day in Paris."""
    if moment is not None and moment.astimezone(PARIS).date() == day:
        return moment
    return datetime.combine(day, time(0), PARIS)


def apply_facts(account_id: int, facts: Iterable[BankFact], source: str,
                report: BankStatusImport | None = None) -> Applied:
    """Moves each payment as its fact says, keeps contradictions as anomalies; in the caller's transaction.

    ``source`` names the file in the anomalies' messages (« le relevé de
    statut PSR-… du 04/12/2026 »). Of several facts about one payment in one file,
    the furthest wins: a return over the booking it sends back, a booking
    over an acceptance.
    """
    decisive: dict[int, BankFact] = {}
    for fact in facts:
        kept = decisive.get(fact.payment_id)
        if kept is None or OUTCOME_RANK[fact.outcome] > OUTCOME_RANK[kept.outcome]:
            decisive[fact.payment_id] = fact
    applied = Applied()
    if not decisive:
        return applied
    payments = {
        p.id: p for p in db.session.scalars(
            select(Payment).options(joinedload(Payment.invoice))
            .where(Payment.id.in_(decisive), Payment.account_id == account_id)
        )
    }
    already = set(db.session.execute(
        select(BankAnomaly.payment_id, BankAnomaly.reported_status)
        .where(BankAnomaly.payment_id.in_(payments), BankAnomaly.resolved_at.is_(None))
    ).tuples())
    now = utcnow()
    moves: dict[tuple, list[int]] = {}
    booked: list[tuple[Payment, BankFact, date]] = []
    for payment_id, fact in sorted(decisive.items()):
        payment = payments.get(payment_id)
        if payment is None:
            continue
        move = None if fact.to_confirm else _move_for(payment, fact, now)
        if move is None and (day := _booked_on_another_day(payment, fact)) is not None:
            booked.append((payment, fact, day))
            continue
        if move is None:
            anomaly = _contradiction(payment, fact, source)
            if anomaly is None or (payment_id, anomaly.reported_status) in already:
                applied.unchanged += 1  # the same contradiction, already waiting for a person
            else:
                applied.anomalies.append(keep_anomaly(account_id, anomaly, report))
            continue
        target, values = move
        moves.setdefault((payment.status, target, tuple(sorted(values.items(), key=lambda kv: kv[0]))), []).append(
            payment_id)
    failing = [payments[i] for (_, target, _), ids in moves.items() if target is PaymentStatus.FAILED for i in ids]
    hold_months(account_id, {quota_month(p.created_at) for p in failing})
    for (leaving, target, values), ids in moves.items():
        moved = move_payments(ids, (leaving,), target, account_id=account_id, **dict(values))
        {PaymentStatus.ACCEPTED: applied.accepted, PaymentStatus.PAID: applied.paid,
         PaymentStatus.FAILED: applied.failed}[target].extend(moved)
        applied.unchanged += len(ids) - len(moved)
    give_back(account_id, [p.created_at for p in applied.failed])
    after_settlement(account_id, applied.paid, applied.failed)
    # One conditional UPDATE per booking day and time (a file's transfers are booked together).
    by_day: dict[tuple[date, datetime], dict[int, date | None]] = {}
    for payment, fact, day in booked:
        by_day.setdefault((day, debit_moment(day, fact.moment)), {})[payment.id] = payment.paid_on
    for (day, moment), said in by_day.items():
        moved = move_payments(list(said), (PaymentStatus.PAID,), PaymentStatus.PAID, account_id=account_id,
                              paid_on=day, paid_at=moment, bank_status="BOOK")
        for payment in moved:
            journal(account_id, "payment.debit_day_booked",
                    f"Paiement {_payment_words(payment)} débité le {date_fr(day)} selon le relevé ({source}), et "
                    f"non le {date_fr(said[payment.id])} noté jusqu'ici.",
                    report.imported_by if report is not None else None, payment.id)
        applied.redated += len(moved)
        applied.unchanged += len(said) - len(moved)
    return applied


def after_settlement(account_id: int, paid: list[Payment], failed: list[Payment]) -> None:
    """What a final state teaches the safeguards: an IBAN rejected for a reason of its account is
    paid no more (the supplier's new IBAN is needed); a debit shows an IBAN works."""
    for payment in failed:
        if payment.new_iban_required:
            note_rejected_iban(payment)
    note_working_ibans(account_id, {p.creditor_iban for p in paid})


def _move_for(payment: Payment, fact: BankFact, now: datetime) -> tuple[PaymentStatus, dict] | None:
    """Where ``fact`` moves ``payment`` from its state, with the values it records; None: no move.

    A bank that answers received the file: a payment still « Fichier prêt »
    was transmitted, when the bank says (or now).
    """
    if not payment.status.at_bank:
        return None
    transmitted = payment.transmitted_at or fact.moment or now
    if fact.outcome == "accepted":
        step = STEP.get(fact.status or "", 0)
        if payment.status is PaymentStatus.ACCEPTED and step <= STEP.get(payment.bank_status or "", 0):
            return None
        return PaymentStatus.ACCEPTED, {
            "bank_status": fact.status or payment.bank_status, "accepted_at": fact.moment or now,
            "transmitted_at": transmitted,
        }
    if fact.outcome == "paid":
        day = debit_day(payment, fact.day, fact.moment)
        return PaymentStatus.PAID, {
            "paid_on": day, "paid_at": debit_moment(day, fact.moment), "bank_status": (fact.status or "")[:4] or None,
            "transmitted_at": transmitted,
        }
    return PaymentStatus.FAILED, {
        "failure_reason": fact.failure_reason, "failure_code": fact.reason_code, "bank_text": fact.bank_text,
        "bank_status": "RJCT", "transmitted_at": transmitted,
    }


def _booked_on_another_day(payment: Payment, fact: BankFact) -> date | None:
    """The statement's booking date of a payment debited on another day by what Libeo knew before (a status
    report, dated the day it was written, or a person's « Marquer comme débité »); None otherwise. A booking
    already read is the debit's day: another one is not a correction."""
    if payment.status is not PaymentStatus.PAID or fact.outcome != "paid" or fact.status != "BOOK":
        return None
    if payment.bank_status == "BOOK" or fact.day is None:
        return None
    day = debit_day(payment, fact.day, fact.moment)
    return day if day != payment.paid_on else None


def _contradiction(payment: Payment, fact: BankFact, source: str) -> BankAnomaly | None:
    """An anomaly when ``fact`` contradicts the payment's final state; None when it merely repeats it
    or is older news (an intermediate status after a final one)."""
    what = _payment_words(payment)
    said = source[:1].upper() + source[1:]
    if payment.status is PaymentStatus.PAID and fact.outcome == "failed":
        how = (f"le virement retourné par la banque du bénéficiaire ({_reason(fact)})" if fact.is_return
               else f"« {fact.failure_reason} »")
        message = (f"{said} indique {how} pour le paiement {what}, déjà « {payment.status_label} » : "
                   "Libeo le garde débité jusqu'à votre décision.")
    elif payment.status is PaymentStatus.FAILED and fact.outcome == "paid":
        day = debit_day(payment, fact.day, fact.moment)
        message = (f"{said} indique le paiement {what} débité le {date_fr(day)}, alors qu'il est "
                   f"« {payment.status_label} » : Libeo le garde rejeté jusqu'à votre décision.")
    elif fact.to_confirm and payment.status.at_bank and fact.outcome == "failed":
        message = (f"{said} indique « {fact.failure_reason} » pour le paiement {what}, "
                   f"« {payment.status_label} » : Libeo ne le change pas sans votre décision.")
    else:
        return None
    anomaly = BankAnomaly(
        account_id=payment.account_id, payment_id=payment.id, kind="contradiction", message=message[:1000],
        reported_status=fact.outcome, amount_cents=payment.amount_cents,
    )
    if fact.outcome == "paid":
        anomaly.reported_on = debit_day(payment, fact.day, fact.moment)
        anomaly.reported_code = (fact.status or "")[:4] or None  # the status that said so (ACSC, BOOK…)
    else:
        anomaly.reported_code, anomaly.reported_text = fact.reason_code, fact.bank_text
        anomaly.reported_reason = fact.failure_reason
    return anomaly


def _reason(fact: BankFact) -> str:
    reason = (fact.failure_reason or "").removeprefix("Rejeté : ").split(" — retourné")[0]
    return reason or "motif non communiqué"


def _payment_words(payment: Payment) -> str:
    return f"de la facture {payment.invoice.number} ({payment.amount_display} à {payment.creditor_name})"


def keep_anomaly(account_id: int, anomaly: BankAnomaly, report: BankStatusImport | None) -> BankAnomaly:
    """Records an anomaly found while reading a bank file, and says so in the « Journal »."""
    anomaly.account_id = account_id
    anomaly.report = report
    anomaly.created_at = utcnow()
    db.session.add(anomaly)
    journal(account_id, "bank.anomaly", f"Anomalie à vérifier : {anomaly.message}",
            report.imported_by if report is not None else None, anomaly.payment_id)
    return anomaly


# « Remises » → « Transmis à la banque »


def confirm_transmission(account: Account, batch: SepaBatch, actor: str, now: datetime | None = None) -> list[Payment]:
    """The person uploaded the batch's file to the bank: its payments « Fichier prêt » become « Transmis ».

    Once per file (a second click says when the first was); payments the
    bank already answered for keep what it said.
    """
    if batch.account_id != account.id:
        raise NotFound("Cette remise n'existe pas.")
    if batch.transmitted_at is not None:
        raise Conflict(
            f"La remise {batch.reference} est déjà indiquée comme transmise à la banque le "
            f"{datetime_fr(batch.transmitted_at)} (par {batch.transmitted_by}).",
            code="batch_already_transmitted",
        )
    if batch.xml is None and not batch.file_name:
        raise Conflict(f"La remise {batch.reference} n'a pas de fichier à transmettre.", code="batch_without_file")
    moment = now or utcnow()
    batch.transmitted_at, batch.transmitted_by = moment, actor
    journal(account.id, "batch.transmitted",
            f"Remise {batch.reference} ({batch.payment_count} virement{'s' if batch.payment_count > 1 else ''}, "
            f"exécution le {date_fr(batch.execution_date)}) transmise à la banque.", actor)
    ids = list(db.session.scalars(
        select(Payment.id).where(Payment.batch_id == batch.id, Payment.status == PaymentStatus.FILE_READY)
    ))
    return move_payments(ids, (PaymentStatus.FILE_READY,), PaymentStatus.TRANSMITTED, account_id=account.id,
                         transmitted_at=moment)


def received_by_bank(account_id: int, batch_ids: Iterable[int], moment: datetime | None, source: str,
                     actor: str | None) -> tuple[list[SepaBatch], list[Payment]]:
    """A bank that answers for a file has it: the file is « Transmis à la banque » (said by ``source``, at the
    bank's ``moment``) and its payments still « Fichier prêt » move on with it, never to be uploaded again.

    In the caller's transaction, after the file's facts (the payments it speaks of went their own way);
    the files it marks, and the payments it moved.
    """
    when = moment or utcnow()
    batches = list(db.session.scalars(
        select(SepaBatch).where(SepaBatch.id.in_(set(batch_ids)), SepaBatch.account_id == account_id,
                                SepaBatch.transmitted_at.is_(None))
        .order_by(SepaBatch.id)
    ))
    for batch in batches:
        batch.transmitted_at, batch.transmitted_by = when, source[:254]
        journal(account_id, "batch.transmitted",
                f"Remise {batch.reference} transmise à la banque : {source} y répond.", actor)
    ids = list(db.session.scalars(
        select(Payment.id).where(Payment.batch_id.in_([b.id for b in batches]),
                                 Payment.status == PaymentStatus.FILE_READY)
    )) if batches else []
    return batches, move_payments(ids, (PaymentStatus.FILE_READY,), PaymentStatus.TRANSMITTED,
                                  account_id=account_id, transmitted_at=when)


# « Marquer comme débité »


def check_debit_date(payment: Payment, day: date | None, today: date | None = None) -> date:
    """The debit date a person gives: not before the execution date asked for, not in the future."""
    today = today or paris_today()
    if day is None:
        raise InvalidData("Saisissez la date du débit, telle qu'elle figure sur le relevé de votre compte.",
                          "debit_date")
    if day < payment.execution_date:
        raise InvalidData(
            f"Le {date_fr(day)} est avant la date d'exécution demandée à la banque ({date_fr(payment.execution_date)}) "
            ": un virement n'est pas débité avant. Saisissez la date du relevé de votre compte.",
            "debit_date",
        )
    if day > today:
        raise InvalidData(f"Le {date_fr(day)} est dans le futur : saisissez la date à laquelle le compte a été débité.",
                          "debit_date")
    return day


def mark_debited(account: Account, payment: Payment, by_email: str, debit_date: date | None,
                 *, today: date | None = None) -> Payment:
    """« Marquer comme débité »: a person saw the transfer on the account's statement, on ``debit_date``."""
    if payment.account_id != account.id:
        raise NotFound("Ce paiement n'existe pas.")
    if not payment.status.at_bank:
        raise Conflict(
            f"Ce paiement n'est plus en attente de la banque ({payment.status_label}) : il n'a pas été modifié.",
            code="payment_not_at_bank",
        )
    day = check_debit_date(payment, debit_date, today)
    journal(account.id, "payment.marked_debited",
            f"Paiement {_payment_words(payment)} marqué comme débité le {date_fr(day)}.", by_email, payment.id)
    moved = move_payments(
        [payment.id], AT_BANK, PaymentStatus.PAID, account_id=account.id,
        paid_on=day, paid_at=debit_moment(day, None), marked_paid_by=by_email,
        transmitted_at=func.coalesce(Payment.transmitted_at, utcnow()),
    )
    if not moved:
        db.session.rollback()
        current = db.session.get(Payment, payment.id)
        state = current.status_label if current is not None else "introuvable"
        raise Conflict(
            f"Ce paiement n'est plus en attente de la banque ({state}) : il n'a pas été modifié.",
            code="payment_not_at_bank",
        )
    after_settlement(account.id, moved, [])
    return moved[0]


# Anomalies: what a person decides.


@dataclass(frozen=True)
class AnomalyToResolve:
    anomaly: BankAnomaly
    candidates: list[Payment]  # the transfers an ambiguous debit may be, still waiting for the bank
    # The invoice's other payments under way, which wait for this decision (``tell_anomalies``).
    held_along: list[Payment] = field(default_factory=list)


def _open_anomalies_of(account_id) -> tuple:
    """The account's anomalies to resolve (read on the open anomalies' partial index)."""
    return BankAnomaly.account_id == account_id, BankAnomaly.resolved_at.is_(None)


# Their count, in the statement that reads the signed-in person (``LibeoUser.open_anomalies``: the « Remises »
# counter, and whether a list of payments looks for them).
OPEN_ANOMALIES_OF_THE_PERSON = (
    select(func.count(BankAnomaly.id)).where(*_open_anomalies_of(LibeoUser.account_id)).scalar_subquery()
)


# Words a payment says while an anomaly about another transfer of its invoice waits: the anomaly's own follow.
EARLIER_TRANSFER = "Virement précédent de cette facture : "
# The invoice's payments an anomaly about one of its transfers holds along: not sent to the bank while it waits.
UNDER_WAY = (PaymentStatus.AWAITING_APPROVAL, PaymentStatus.SCHEDULED, *AT_BANK)


def tell_anomalies(account_id: int, anomalies: Iterable[BankAnomaly]) -> None:
    """The payments these anomalies are about, or name among others, say (``Payment.bank_anomaly``) the oldest
    anomaly still open about them, or nothing once none is; those whose words change get a new version and
    its event, so that MEG says it beside the state. So do the other payments of their invoices still under
    way, with the words ``EARLIER_TRANSFER``: a rejected transfer a statement says debited may be the invoice's
    payment, and one made again since must not go to the bank (``sepa`` leaves a scheduled payment that says an
    anomaly out of its files) until a person decides. Three queries, on the open anomalies' index and the
    payments' keys; none without payments."""
    db.session.flush()
    ids = {named for anomaly in anomalies
           for named in [anomaly.payment_id, *(int(i) for i in anomaly.candidate_ids or ())] if named is not None}
    if not ids:
        return
    about = {anomaly.payment_id for anomaly in anomalies if anomaly.payment_id is not None}
    of_invoices = select(Payment.invoice_id).where(Payment.id.in_(about)).scalar_subquery()
    # The payments' rows first (locked on PostgreSQL, as a move locks them): a concurrent import or decision
    # about them then waits, and the anomalies read next include what it committed.
    shown = db.session.execute(
        select(Payment.id, Payment.invoice_id, Payment.status, Payment.bank_anomaly)
        .where(Payment.account_id == account_id,
               or_(Payment.id.in_(ids),
                   Payment.invoice_id.in_(of_invoices)
                   & (Payment.status.in_(UNDER_WAY) | Payment.bank_anomaly.is_not(None))))
        .order_by(Payment.id).with_for_update()).all()
    invoice_of = {payment_id: invoice_id for payment_id, invoice_id, _, _ in shown}
    said: dict[int, str] = {}
    along: dict[int, str] = {}  # invoice → the oldest open anomaly about one of its transfers
    for payment_id, candidate_ids, message in db.session.execute(
            select(BankAnomaly.payment_id, BankAnomaly.candidate_ids, BankAnomaly.message)
            .where(*_open_anomalies_of(account_id)).order_by(BankAnomaly.created_at, BankAnomaly.id)):
        for named in [payment_id, *(int(i) for i in candidate_ids or ())]:
            if named in invoice_of:
                said.setdefault(named, message)
        if payment_id in invoice_of:
            along.setdefault(invoice_of[payment_id], message)
    for payment_id, invoice_id, status, _ in shown:
        if payment_id not in said and invoice_id in along and status in UNDER_WAY:
            said[payment_id] = (EARLIER_TRANSFER + after_colon(along[invoice_id]))[:1000]
    retell_payments({payment_id: said.get(payment_id) for payment_id, _, _, now in shown
                     if now != said.get(payment_id)}, account_id=account_id)


def open_anomaly_count(account_id: int) -> int:
    return db.session.scalar(select(func.count(BankAnomaly.id)).where(*_open_anomalies_of(account_id))) or 0


def payments_to_check(account_id: int) -> frozenset[int]:
    """The payments an anomaly still to resolve is about, or names among others (``candidate_ids``): those the
    payment's page shows it on; and the payments it holds along (``EARLIER_TRANSFER``). Two queries, on the open
    anomalies' index and the account's payments."""
    ids: set[int] = set()
    for payment_id, candidate_ids in db.session.execute(
            select(BankAnomaly.payment_id, BankAnomaly.candidate_ids).where(*_open_anomalies_of(account_id))):
        if payment_id is not None:
            ids.add(payment_id)
        ids.update(int(i) for i in candidate_ids or ())
    ids.update(db.session.scalars(select(Payment.id).where(
        Payment.account_id == account_id, Payment.status.in_(UNDER_WAY), Payment.bank_anomaly.is_not(None))))
    return frozenset(ids)


# « Remises » shows this many anomalies at most, the oldest: the next ones come as these are resolved.
ANOMALIES_SHOWN = 50


def anomalies_to_resolve(account: Account, payment_id: int | None = None) -> list[AnomalyToResolve]:
    """The account's anomalies still to resolve, oldest first (``ANOMALIES_SHOWN`` at most); two queries.

    With ``payment_id``, those of one payment: about it, or about a debit or a file's answer that names it
    among others (``candidate_ids``). Each with the invoice's other payments under way, which wait for it.
    """
    query = (
        select(BankAnomaly).options(joinedload(BankAnomaly.payment).joinedload(Payment.invoice))
        .where(*_open_anomalies_of(account.id))
        .order_by(BankAnomaly.created_at, BankAnomaly.id)
    )
    if payment_id is not None:
        query = query.where(or_(BankAnomaly.payment_id == payment_id, BankAnomaly.payment_id.is_(None)))
    else:
        query = query.limit(ANOMALIES_SHOWN)
    anomalies = list(db.session.scalars(query).unique())
    if payment_id is not None:
        anomalies = [a for a in anomalies
                     if a.payment_id == payment_id or payment_id in {int(i) for i in a.candidate_ids or ()}]
    wanted = {int(i) for a in anomalies for i in a.candidate_ids or ()}
    candidates = {
        p.id: p for p in db.session.scalars(
            select(Payment).options(joinedload(Payment.invoice))
            .where(Payment.id.in_(wanted), Payment.account_id == account.id)
        ).unique()
    } if wanted else {}
    along: dict[int, list[Payment]] = {}
    invoices = {a.payment.invoice_id for a in anomalies if a.payment is not None}
    if invoices:
        for payment in db.session.scalars(
                select(Payment).options(joinedload(Payment.invoice))
                .where(Payment.account_id == account.id, Payment.invoice_id.in_(invoices),
                       Payment.status.in_(UNDER_WAY)).order_by(Payment.id)).unique():
            along.setdefault(payment.invoice_id, []).append(payment)
    return [
        AnomalyToResolve(a, [candidates[int(i)] for i in a.candidate_ids or () if int(i) in candidates
                             and candidates[int(i)].status.at_bank],
                         [p for p in along.get(a.payment.invoice_id, []) if p.id != a.payment_id]
                         if a.payment is not None else [])
        for a in anomalies
    ]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def decided_anomalies(account: Account, payment_id: int) -> list[BankAnomaly]:
    """The anomalies about a payment that a person resolved, in the order of their decisions: its page says
    who decided what, since a state so changed was not the bank's file alone."""
    return list(db.session.scalars(
        select(BankAnomaly)
        .where(BankAnomaly.account_id == account.id, BankAnomaly.payment_id == payment_id,
               BankAnomaly.resolved_at.is_not(None))
        .order_by(BankAnomaly.resolved_at, BankAnomaly.id)
    ))


def account_anomaly(account: Account, anomaly_id: int) -> BankAnomaly | None:
    """The account's anomaly, never another account's."""
    return db.session.scalar(
        select(BankAnomaly).where(BankAnomaly.id == anomaly_id, BankAnomaly.account_id == account.id)
    )


KEEP, APPLY = "keep", "apply"


def resolve_anomaly(account: Account, anomaly_id: int, decision: str, actor: str,
                    payment_id: int | None = None) -> str:
    """A person resolves an anomaly; the French sentence of what was done.

    ``keep``: the payment keeps its state (the report was wrong). ``apply``:
    what the report said is applied — the one way a final state changes,
    by a person's decision — or, for an ambiguous debit, the transfer
    ``payment_id`` is the one debited.
    """
    anomaly = account_anomaly(account, anomaly_id)
    if anomaly is None:
        raise NotFound("Cette anomalie n'existe pas.")
    if anomaly.resolved_at is not None:
        raise Conflict(f"Cette anomalie a déjà été résolue le {datetime_fr(anomaly.resolved_at)} par "
                       f"{anomaly.resolved_by} : {anomaly.resolution}", code="anomaly_resolved")
    if decision == KEEP:
        payment = anomaly.payment
        resolution = (f"État gardé : « {payment.status_label} »." if payment is not None
                      else "Vérifié : rien n'a été changé.")
    elif decision == APPLY and anomaly.kind == "ambiguous":
        resolution = _choose(account, anomaly, payment_id, actor)
    elif decision == APPLY and anomaly.kind in ("contradiction", "settled_and_rejected"):
        resolution = _apply_reported(account, anomaly, actor)
    elif decision == APPLY and anomaly.kind == "amount" and anomaly.payment_id is not None:
        resolution = _debited_all_the_same(account, anomaly)
    else:
        raise InvalidData("Choisissez ce que Libeo doit faire de cette anomalie.", "decision")
    anomaly.resolved_at, anomaly.resolved_by, anomaly.resolution = utcnow(), actor, resolution[:300]
    journal(account.id, "bank.anomaly_resolved", f"Anomalie résolue : {resolution}", actor, anomaly.payment_id)
    tell_anomalies(account.id, [anomaly])
    db.session.flush()
    payment = anomaly.payment
    if (decision == KEEP and payment is not None and payment.status is PaymentStatus.FAILED
            and payment.bank_anomaly is None):
        resolution += f" {_capital(payment.paid_again_words)}."
    return resolution


def _choose(account: Account, anomaly: BankAnomaly, payment_id: int | None, actor: str) -> str:
    if payment_id is None or payment_id not in [int(i) for i in anomaly.candidate_ids or ()]:
        raise InvalidData("Choisissez le virement que la banque a débité.", "payment_id")
    payment = db.session.get(Payment, payment_id)
    if payment is None or not payment.status.at_bank:
        raise Conflict("Ce virement n'attend plus la banque : choisissez-en un autre, ou gardez l'état actuel.",
                       code="payment_not_at_bank")
    day = _debit(account, payment, anomaly.reported_on)
    anomaly.payment_id = payment.id
    return f"Débit du {date_fr(day)} attribué au paiement {_payment_words(payment)}, désormais « Débité »."


def _debited_all_the_same(account: Account, anomaly: BankAnomaly) -> str:
    """A debit of another amount than the transfer's: the person checked with the bank that it is that transfer's."""
    payment = anomaly.payment
    if payment is None or not payment.status.at_bank:
        raise Conflict("Ce virement n'attend plus la banque : gardez son état actuel.", code="payment_not_at_bank")
    day = _debit(account, payment, anomaly.reported_on)
    amount = f" ({format_amount(anomaly.amount_cents)})" if anomaly.amount_cents is not None else ""
    return f"Débit du {date_fr(day)}{amount} retenu pour le paiement {_payment_words(payment)}, désormais « Débité »."


def _debit(account: Account, payment: Payment, reported_on: date | None) -> date:
    day = debit_day(payment, reported_on, None)
    moved = move_payments([payment.id], (payment.status,), PaymentStatus.PAID, account_id=account.id,
                          paid_on=day, paid_at=debit_moment(day, None), bank_status="BOOK",
                          transmitted_at=func.coalesce(Payment.transmitted_at, utcnow()))
    if not moved:
        raise Conflict("Ce virement vient de changer d'état : rechargez la page.", code="payment_not_at_bank")
    after_settlement(account.id, moved, [])
    return day


def _apply_reported(account: Account, anomaly: BankAnomaly, actor: str) -> str:
    payment = anomaly.payment
    if payment is None:
        raise Conflict("Cette anomalie ne concerne aucun paiement : rien à appliquer.", code="payment_changed")
    month = {quota_month(payment.created_at)}
    hold_months(account.id, month)
    if anomaly.reported_status == "failed" and (payment.status is PaymentStatus.PAID or payment.status.at_bank):
        was = "débité" if payment.status is PaymentStatus.PAID else f"« {payment.status_label} »"
        moved = move_payments([payment.id], (payment.status,), PaymentStatus.FAILED, account_id=account.id,
                              failure_reason=anomaly.reported_reason, failure_code=anomaly.reported_code,
                              bank_text=anomaly.reported_text, bank_status="RJCT",
                              # No longer debited: its page and its receipt no longer say when, nor who said so.
                              paid_on=None, paid_at=None, marked_paid_by=None,
                              transmitted_at=func.coalesce(Payment.transmitted_at, utcnow()))
        if moved:
            give_back(account.id, [payment.created_at])
            after_settlement(account.id, [], moved)
            return f"Paiement {_payment_words(payment)} passé de {was} à « {moved[0].status_label} »."
    elif anomaly.reported_status == "paid" and payment.status is PaymentStatus.FAILED:
        was = payment.status_label
        day = anomaly.reported_on or payment.execution_date
        try:
            moved = move_payments([payment.id], (PaymentStatus.FAILED,), PaymentStatus.PAID, account_id=account.id,
                                  paid_on=day, paid_at=debit_moment(day, None), failure_reason=None,
                                  failure_code=None, bank_text=None,
                                  # What said it was debited (its page and receipt say it), not the rejection's RJCT.
                                  bank_status=anomaly.reported_code)
        except IntegrityError:
            db.session.rollback()
            raise Conflict(
                f"Un autre paiement de la facture {payment.invoice.number} est en cours : annulez-le avant de dire "
                "celui-ci débité.", code="payment_exists") from None
        if moved:
            take_back(account.id, [payment.created_at])
            after_settlement(account.id, moved, [])
            return f"Paiement {_payment_words(payment)} passé de « {was} » à « {moved[0].status_label} »."
    raise Conflict(f"Ce paiement a changé d'état depuis ({payment.status_label}) : gardez l'état actuel.",
                   code="payment_changed")

