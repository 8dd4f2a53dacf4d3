"""Executing due payments: one SEPA Credit Transfer file (pain.001.001.03) per account and batch.

A file is a transfer order the account hands to its bank: Libeo keeps it in
its database (« Remises », downloadable from any process on any host) and
also writes a copy to the export folder, for a bank connection that picks
files up there. Its payments are then « Fichier prêt — à transmettre à
votre banque » (``file_ready``): nothing has reached the bank until the
person says they uploaded the file (``bank_leg.confirm_transmission``), and
nothing is paid until the bank says so (``bank_status_import``).

Each batch is one transaction: the account's due payments are locked
(``SKIP LOCKED``: concurrent runs take disjoint payments, and a payment
being cancelled is left for the cancel to decide), the file is generated
and checked against the XSD, stored with the batch, and the payments move
from ``scheduled`` to ``file_ready`` with their events, their execution date
now the file's (a payment due earlier says which day it was planned for).
The copy on disk is written after the commit: a crash never leaves on disk a
file the database does not know.

Identifiers: the file's MsgId is « LBO-<date and time, 24-hour clock>-<the
batch's number> », its block's PmtInfId the MsgId with « -1 »: unique
whatever the hour, and checked against the account's previous files. A
debtor account without a BIC names its bank « NOTPROVIDED », as the EPC's
implementation guidelines ask (never an empty element).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import sepaxml
from lxml import etree
from sepaxml import SepaTransfer
from sepaxml.validation import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from core.calendar import next_business_day
from core.dates import PARIS, paris_today, utcnow
from core.db import rowcount
from core.payment_words import FILE_READY_LABEL, dated
from core.sepa_text import MAX_REMITTANCE_LENGTH, bank_name, bank_text
from models.libeo.accounts.models import Account
from models.libeo.db import db
from models.libeo.payments.models import AT_BANK, Payment, PaymentStatus, SepaBatch
from models.libeo.payments.quota import give_back, hold_months, quota_month
from models.libeo.payments.transitions import move_payments

PAIN_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"
PAIN_XSD = Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"
NOT_PROVIDED = "NOTPROVIDED"
MAX_PAYMENTS_PER_BATCH = 500
PREPARING, SENT, FAILED = "preparing", "sent", "failed"
XSD_REFUSAL = (
    "Rejeté : virement impossible à mettre au format SEPA (vérifiez le nom et l'IBAN du fournisseur)"
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchResult:
    reference: str
    account_name: str
    status: str
    payment_count: int
    total_cents: int
    file_path: str | None
    failed_payments: int = 0
    # Payments planned for an earlier day than the file's execution date (the run came later).
    postponed: int = 0
    execution_date: date | None = None


@dataclass
class ExecutionReport:
    batches: list[BatchResult] = field(default_factory=list)
    # Accounts with due payments but no bank account to debit: (name, count).
    waiting_for_iban: list[tuple[str, int]] = field(default_factory=list)
    # Accounts with due payments whose owner is not verified: (name, count).
    unverified: list[tuple[str, int]] = field(default_factory=list)
    # Accounts with due payments a bank anomaly about an earlier transfer of their invoice holds: (name, count).
    held_by_anomaly: list[tuple[str, int]] = field(default_factory=list)


def execute_due_payments(export_dir: str | Path | None, today: date | None = None,
                         now: datetime | None = None) -> ExecutionReport:
    """Puts every due scheduled payment in a SEPA file. Commits batch by batch (a batch job).

    An account whose owner is not verified (``Account.is_verified``) never
    has a file made: anyone may sign up with any SIRET, and a transfer
    order must come from the company itself. Its payments wait, and the
    report says why.
    """
    today = today or paris_today(now)
    report = ExecutionReport()
    leftover = db.session.execute(select(SepaBatch.id, SepaBatch.account_id).where(SepaBatch.status == PREPARING)).all()
    for batch_id, account_id in leftover:
        if _still_verified(account_id):
            _record(report, _finish_leftover(batch_id, now), export_dir)
    due = (Payment.status == PaymentStatus.SCHEDULED) & (Payment.execution_date <= today)
    accounts = db.session.scalars(
        select(Account).where(Account.id.in_(select(Payment.account_id).where(due))).order_by(Account.id)
    ).all()
    for account in accounts:
        if not account.can_execute_payments:
            waiting = db.session.scalar(
                select(db.func.count(Payment.id)).where(due, Payment.account_id == account.id)
            ) or 0
            blocked = report.unverified if not account.is_verified else report.waiting_for_iban
            blocked.append((account.name, waiting))
            continue
        while (result := _execute_batch(account.id, today, now)) is not None:
            _record(report, result, export_dir)
        held = db.session.scalar(
            select(db.func.count(Payment.id)).where(due, Payment.account_id == account.id)
        ) or 0
        if held:
            report.held_by_anomaly.append((account.name, held))
    db.session.commit()
    return report


def _record(report: ExecutionReport, outcome: tuple[BatchResult, bytes | None] | None, export_dir) -> None:
    if outcome is None:
        return
    result, xml = outcome
    path = _export(export_dir, result.reference, xml) if xml is not None else None
    report.batches.append(replace(result, file_path=str(path) if path else None))


def _execute_batch(account_id: int, today: date, now: datetime | None) -> tuple[BatchResult, bytes | None] | None:
    """One file of the account's due payments, committed; None when none is left."""
    if not _still_verified(account_id):
        return None
    batch = SepaBatch(
        account_id=account_id,
        # Until the batch has its number, which its MsgId (and so its reference) ends with.
        reference=f"LBO-{secrets.token_hex(12).upper()}",
        status=PREPARING,
        # The date the bank is asked to execute the file on (ReqdExctnDt): a TARGET business day.
        execution_date=next_business_day(today),
    )
    db.session.add(batch)
    # Writing first takes SQLite's write lock before the payments are read.
    db.session.flush()
    batch.created_at = now or utcnow()
    batch.message_id = batch.reference = _message_id(batch, batch.created_at)
    ids = db.session.scalars(
        select(Payment.id)
        .where(
            Payment.account_id == account_id,
            Payment.status == PaymentStatus.SCHEDULED,
            Payment.execution_date <= today,
            # A bank anomaly about another transfer of its invoice waits for a person (``bank_leg.tell_anomalies``):
            # that transfer may have paid the invoice already.
            Payment.bank_anomaly.is_(None),
        )
        .order_by(Payment.id)
        .limit(MAX_PAYMENTS_PER_BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    if not ids:
        db.session.rollback()
        return None
    return _seal(batch, list(ids), (PaymentStatus.SCHEDULED,), now)


def _still_verified(account_id: int) -> bool:
    """Read again before each file: the SIRET may have been taken back during a long run."""
    return db.session.scalar(
        select(Account.id).where(Account.id == account_id, Account.verified_at.is_not(None), Account.siret.is_not(None))
    ) is not None


def _finish_leftover(batch_id: int, now: datetime | None) -> tuple[BatchResult, bytes | None] | None:
    """A batch a run of release 1 left « preparing »: its claimed payments go in its file now."""
    locked = db.session.execute(
        update(SepaBatch)
        .where(SepaBatch.id == batch_id, SepaBatch.status == PREPARING)
        .values(status=PREPARING)
        .execution_options(synchronize_session=False)
    )
    if rowcount(locked) != 1:
        db.session.rollback()
        return None
    batch = db.session.get_one(SepaBatch, batch_id)
    ids = db.session.scalars(
        select(Payment.id).where(
            Payment.batch_id == batch_id, Payment.status.in_((PaymentStatus.SCHEDULED, PaymentStatus.FILE_READY))
        )
    ).all()
    return _seal(batch, list(ids), (PaymentStatus.SCHEDULED, PaymentStatus.FILE_READY), now)


def _seal(batch: SepaBatch, ids: list[int], leaving: tuple[PaymentStatus, ...],
          now: datetime | None) -> tuple[BatchResult, bytes | None]:
    """Generates and stores the batch's file, moves its payments on, commits."""
    payments = list(
        db.session.scalars(
            select(Payment).options(joinedload(Payment.invoice)).where(Payment.id.in_(ids)).order_by(Payment.id)
        ).unique()
    )
    account = batch.account
    created = now or utcnow()
    if batch.message_id is None:  # a batch of release 1 keeps its reference
        batch.message_id = _message_id(batch, created)
    batch.payment_info_id = f"{batch.message_id}-1"
    batch.debtor_iban = account.debtor_iban
    rejected: list[Payment] = []
    try:
        xml = pain001_file(batch, payments, created) if payments else None
    except ValidationError:
        # Find the transfers the XSD refuses; the others still go to the bank.
        rejected = [p for p in payments if not _is_valid_alone(batch, p, created)]
        accepted = [p for p in payments if p not in rejected]
        xml = pain001_file(batch, accepted, created) if accepted else None
    accepted = [p for p in payments if p not in rejected]
    hold_months(account.id, {quota_month(p.created_at) for p in rejected})
    failed = move_payments(
        [p.id for p in rejected], leaving, PaymentStatus.FAILED,
        account_id=account.id, failure_reason=XSD_REFUSAL, batch_id=None,
    )
    give_back(account.id, [p.created_at for p in failed])
    if xml is not None:
        batch.status = SENT
        batch.file_name = f"{batch.reference}.xml"
        batch.file_sha256 = hashlib.sha256(xml).hexdigest()
        batch.xml = xml
        batch.sent_at = created
    else:
        batch.status = FAILED
    batch.payment_count = len(accepted)
    batch.total_cents = sum(p.amount_cents for p in accepted)
    db.session.flush()
    # One execution date, the file's: a payment due earlier than the run is executed that day, and says so.
    late = [p.id for p in accepted if p.execution_date != batch.execution_date]
    if late:
        db.session.execute(
            update(Payment)
            .where(Payment.id.in_(late))
            .values(planned_execution_date=Payment.execution_date, execution_date=batch.execution_date)
            .execution_options(synchronize_session=False)
        )
    move_payments([p.id for p in accepted], leaving, PaymentStatus.FILE_READY, account_id=account.id,
                  batch_id=batch.id)
    result = BatchResult(
        reference=batch.reference,
        account_name=account.name,
        status=batch.status,
        payment_count=batch.payment_count,
        total_cents=batch.total_cents,
        file_path=None,
        failed_payments=len(rejected),
        postponed=len(late),
        execution_date=batch.execution_date,
    )
    db.session.commit()
    return result, xml


def _message_id(batch: SepaBatch, created: datetime) -> str:
    """« LBO-20261204131302-42 »: the time on a 24-hour clock, then the batch's own number.

    The number alone makes it unique; the account's earlier files are
    checked all the same, since a bank refuses a MsgId it has seen (DU01).
    """
    message_id = f"LBO-{created.astimezone(PARIS):%Y%m%d%H%M%S}-{batch.id}"
    taken = db.session.scalar(
        select(SepaBatch.id).where(SepaBatch.account_id == batch.account_id, SepaBatch.message_id == message_id)
    )
    if taken is not None:
        raise RuntimeError(f"MsgId {message_id} déjà utilisé par la remise {taken}")
    return message_id


def pain001_file(batch: SepaBatch, payments: list[Payment], created: datetime) -> bytes:
    """The batch's pain.001.001.03 as the bank receives it, checked against the official XSD.

    sepaxml writes the transfers; the file's identity (MsgId, creation time
    in Paris, PmtInfId) and the debtor's bank are set here, then the whole
    file is validated (ValidationError when the XSD refuses it).
    """
    root = etree.fromstring(_pain001(batch, payments).export(validate=False))
    ns = {"p": PAIN_NAMESPACE}
    header = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", ns)
    header.find("p:MsgId", ns).text = batch.message_id
    header.find("p:CreDtTm", ns).text = created.astimezone(PARIS).isoformat(timespec="seconds")
    for number, block in enumerate(root.findall("p:CstmrCdtTrfInitn/p:PmtInf", ns), 1):
        block.find("p:PmtInfId", ns).text = batch.payment_info_id if number == 1 else f"{batch.message_id}-{number}"
        institution = block.find("p:DbtrAgt/p:FinInstnId", ns)
        if len(institution) == 0:
            other = etree.SubElement(institution, f"{{{PAIN_NAMESPACE}}}Othr")
            etree.SubElement(other, f"{{{PAIN_NAMESPACE}}}Id").text = NOT_PROVIDED
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    _check_pain001(root)
    return xml


@lru_cache(maxsize=1)
def _pain001_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(PAIN_XSD)))


_SCHEMA_LOCK = threading.Lock()


def _check_pain001(root) -> None:
    with _SCHEMA_LOCK:
        if _pain001_schema().validate(root):
            return
        error = _pain001_schema().error_log.last_error
    raise ValidationError(f"pain.001.001.03 refusé par son XSD : {error}")


def _pain001(batch: SepaBatch, payments: list[Payment]) -> SepaTransfer:
    account = batch.account
    config = {"name": bank_name(account.name), "IBAN": batch.debtor_iban or account.debtor_iban, "batch": True,
              "currency": "EUR"}
    if account.debtor_bic:
        config["BIC"] = account.debtor_bic
    transfer = SepaTransfer(config, clean=True)
    for payment in payments:
        transfer.add_payment(_transaction(batch, payment))
    return transfer


def _transaction(batch: SepaBatch, payment: Payment) -> dict:
    transaction = {
        "name": bank_name(payment.creditor_name),
        "IBAN": payment.creditor_iban,
        "amount": payment.amount_cents,
        "currency": payment.currency,
        "execution_date": batch.execution_date,
        "description": remittance_information(payment),
        "endtoend_id": payment.end_to_end_id,
    }
    if payment.creditor_bic:
        transaction["BIC"] = payment.creditor_bic
    return transaction


def remittance_information(payment: Payment) -> str:
    """The transfer's unstructured remittance information (Ustrd): « Facture <number> », in the SEPA character
    set as names are (an invoice number may hold any printable text), or its EndToEndId when nothing of the
    number is left."""
    words = "Facture "
    number = bank_text(payment.invoice.number, MAX_REMITTANCE_LENGTH - len(words))
    return words + (number or payment.end_to_end_id)


def _is_valid_alone(batch: SepaBatch, payment: Payment, created: datetime) -> bool:
    try:
        pain001_file(batch, [payment], created)
    except ValidationError:
        return False
    return True


def _export(export_dir: str | Path | None, reference: str, xml: bytes) -> Path | None:
    """The copy for a bank connection that reads a folder; the database keeps the file itself."""
    if not export_dir:
        return None
    try:
        return _write(Path(export_dir), reference, xml)
    except OSError:
        log.exception("Copie de la remise %s impossible dans %s", reference, export_dir)
        return None


def _write(export_dir: Path, reference: str, xml: bytes) -> Path:
    """Writes the file whole or not at all (a bank must never pick up half a file)."""
    export_dir.mkdir(parents=True, exist_ok=True)
    path = export_dir / f"{reference}.xml"
    partial = export_dir / f".{reference}.xml.partial"
    with open(partial, "wb") as handle:
        handle.write(xml)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    return path


# « Remises »: the account's files.


def batch_file(batch: SepaBatch, export_dir: str | Path | None) -> bytes | None:
    """The batch's pain.001: kept in the database, or (a file of release 1) the export folder's copy."""
    if batch.xml is not None:
        return batch.xml
    if not (batch.file_name and batch.file_sha256 and export_dir):
        return None
    path = Path(export_dir) / Path(batch.file_name).name
    try:
        content = path.read_bytes()
    except OSError:
        return None
    return content if hashlib.sha256(content).hexdigest() == batch.file_sha256 else None


def batches_query(account: Account):
    return (
        select(SepaBatch)
        .where(SepaBatch.account_id == account.id, SepaBatch.status != PREPARING)
        .order_by(SepaBatch.created_at.desc(), SepaBatch.id.desc())
    )


def account_batch(account: Account, batch_id: int) -> SepaBatch | None:
    """The account's batch, never another account's."""
    return db.session.scalar(select(SepaBatch).where(SepaBatch.id == batch_id, SepaBatch.account_id == account.id))


def batch_payments(batch: SepaBatch) -> list[Payment]:
    return list(
        db.session.scalars(
            select(Payment).options(joinedload(Payment.invoice))
            .where(Payment.batch_id == batch.id).order_by(Payment.id)
        )
    )


# Counted with the states of a batch's payments: how many of a state have an open anomaly
# (``Payment.bank_anomaly``), under ``(ANOMALIES, state)``.
ANOMALIES = "anomalies"

BatchCounts = dict[PaymentStatus | tuple[str, PaymentStatus], int]


def status_counts(batch_ids: list[int]) -> dict[int, BatchCounts]:
    """For each batch, how many of its payments are in each state, and of those how many have an open anomaly
    (one query for a page)."""
    counts: dict[int, BatchCounts] = {batch_id: {} for batch_id in batch_ids}
    if not batch_ids:
        return counts
    to_check = Payment.bank_anomaly.is_not(None)
    rows = db.session.execute(
        select(Payment.batch_id, Payment.status, to_check, db.func.count(Payment.id))
        .where(Payment.batch_id.in_(batch_ids))
        .group_by(Payment.batch_id, Payment.status, to_check)
    )
    for batch_id, status, anomaly, count in rows:
        of_batch = counts[batch_id]
        of_batch[status] = of_batch.get(status, 0) + count
        if anomaly:
            of_batch[(ANOMALIES, status)] = count
    return counts


def batch_status_label(batch: SepaBatch, counts: BatchCounts) -> str:
    """« Fichier prêt — à transmettre à votre banque », « Transmis à la banque le … : 2 virements en
    attente de la banque », « Traitée : 3 débités, 1 rejeté »…

    A batch with a payment the bank's files contradict is not « Traitée » until a person decides, and each
    transfer is counted once: « À vérifier : 1 débité, 1 rejeté en anomalie »."""
    if batch.status == FAILED:
        return "Aucun virement valide : fichier non créé"
    ready = counts.get(PaymentStatus.FILE_READY, 0)
    waiting = sum(counts.get(status, 0) for status in AT_BANK)
    if ready and batch.transmitted_at is None:
        return FILE_READY_LABEL
    done = [_counted(counts, status, word) for status, word in ((PaymentStatus.PAID, "débité"),
                                                                 (PaymentStatus.FAILED, "rejeté"))]
    done = [part for part in done if part]
    checked = any(key[0] == ANOMALIES for key in counts if isinstance(key, tuple))
    if waiting:
        label = (f"{dated('Transmis à la banque', batch.transmitted_at)} : {waiting} virement"
                 f"{'s' if waiting > 1 else ''} en attente de la banque")
        at_bank_checked = sum(counts.get((ANOMALIES, status), 0) for status in AT_BANK)
        if at_bank_checked:
            label += f", dont {at_bank_checked} en anomalie"
        done_checked = [part for part in done if "anomalie" in part]
        return label + (f" ; à vérifier : {', '.join(done_checked)}" if done_checked else "")
    if checked:
        return "À vérifier : " + ", ".join(done)
    return "Traitée : " + ", ".join(done) if done else "Traitée"


def _counted(counts: BatchCounts, status: PaymentStatus, word: str) -> str:
    """« 2 débités », « 1 rejeté en anomalie », « 3 débités dont 1 en anomalie », or ""."""
    count, checked = counts.get(status, 0), counts.get((ANOMALIES, status), 0)
    if not count:
        return ""
    said = f"{count} {word}{'s' if count > 1 else ''}"
    if checked:
        said += " en anomalie" if checked == count else f" dont {checked} en anomalie"
    return said
