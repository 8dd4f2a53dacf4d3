"""Executing due payments: one SEPA Credit Transfer file (pain.001.001.03) per account and batch.

The export folder stands for the bank's inbox: a file written there, valid
against the XSD, is a transfer order handed to the bank, so its payments are
then « paid ». The steps are separate transactions, so that a crash never
loses or doubles a transfer:

1. claim: a batch row is created and the account's due payments move from
   « scheduled » to « in progress » under it (concurrent runs claim disjoint
   payments);
2. complete: the batch is locked, its file generated, validated and written
   atomically, then the batch is « sent » and its payments « paid ». A batch a
   crashed run left « preparing » is completed by the next run.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sepaxml import SepaTransfer
from sepaxml.validation import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from core.dates import paris_today, utcnow

from . import db
from .entities import Account, InvoiceStatus, Payment, PaymentStatus, SepaBatch

PAIN_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"
MAX_PAYMENTS_PER_BATCH = 500
PREPARING, SENT, FAILED = "preparing", "sent", "failed"


@dataclass(frozen=True)
class BatchResult:
    reference: str
    account_name: str
    status: str
    payment_count: int
    total_cents: int
    file_path: str | None
    failed_payments: int = 0


@dataclass
class ExecutionReport:
    batches: list[BatchResult] = field(default_factory=list)
    # Accounts with due payments but no bank account to debit: (name, count).
    waiting_for_iban: list[tuple[str, int]] = field(default_factory=list)


def execute_due_payments(export_dir: str | Path, today: date | None = None) -> ExecutionReport:
    """Hands every due scheduled payment to the bank. Commits as it goes (a batch job)."""
    today = today or paris_today()
    export_dir = Path(export_dir)
    report = ExecutionReport()
    leftover = db.session.scalars(select(SepaBatch.id).where(SepaBatch.status == PREPARING)).all()
    for batch_id in leftover:
        _record(report, _complete(batch_id, export_dir))
    due = (Payment.status == PaymentStatus.SCHEDULED) & (Payment.execution_date <= today)
    accounts = db.session.scalars(
        select(Account).where(Account.id.in_(select(Payment.account_id).where(due))).order_by(Account.id)
    ).all()
    for account in accounts:
        if not account.can_execute_payments:
            waiting = db.session.scalar(
                select(db.func.count(Payment.id)).where(due, Payment.account_id == account.id)
            )
            report.waiting_for_iban.append((account.name, waiting))
            continue
        while (batch_id := _claim(account.id, today)) is not None:
            _record(report, _complete(batch_id, export_dir))
    db.session.commit()
    return report


def _record(report: ExecutionReport, result: BatchResult | None) -> None:
    if result is not None:
        report.batches.append(result)


def _claim(account_id: int, today: date) -> int | None:
    """Moves up to one batch of the account's due payments to « in progress »; the batch id."""
    batch = SepaBatch(
        account_id=account_id,
        reference=f"LBO-{account_id}-{today:%Y%m%d}-{secrets.token_hex(4).upper()}",
        status=PREPARING,
        execution_date=today,
    )
    db.session.add(batch)
    # Writing first takes SQLite's write lock before the payments are read.
    db.session.flush()
    ids = db.session.scalars(
        select(Payment.id)
        .where(
            Payment.account_id == account_id,
            Payment.status == PaymentStatus.SCHEDULED,
            Payment.execution_date <= today,
        )
        .order_by(Payment.id)
        .limit(MAX_PAYMENTS_PER_BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    if ids:
        db.session.execute(
            update(Payment)
            .where(Payment.id.in_(ids), Payment.status == PaymentStatus.SCHEDULED)
            .values(status=PaymentStatus.IN_PROGRESS, batch_id=batch.id)
            .execution_options(synchronize_session=False)
        )
    claimed = db.session.scalar(select(db.func.count(Payment.id)).where(Payment.batch_id == batch.id))
    if not claimed:
        db.session.rollback()
        return None
    batch_id = batch.id
    db.session.commit()
    return batch_id


def _complete(batch_id: int, export_dir: Path) -> BatchResult | None:
    # Touching the row locks it: a concurrent run waits, then finds it done.
    locked = db.session.execute(
        update(SepaBatch)
        .where(SepaBatch.id == batch_id, SepaBatch.status == PREPARING)
        .values(status=PREPARING)
        .execution_options(synchronize_session=False)
    )
    if locked.rowcount != 1:
        db.session.rollback()
        return None
    batch = db.session.scalar(
        select(SepaBatch)
        .options(joinedload(SepaBatch.account), joinedload(SepaBatch.payments).joinedload(Payment.invoice))
        .where(SepaBatch.id == batch_id)
    )
    payments = list(batch.payments)
    rejected: list[Payment] = []
    try:
        xml = _pain001(batch, payments).export(validate=True)
    except ValidationError:
        # Find the transfers the XSD refuses; the others still go to the bank.
        rejected = [p for p in payments if not _is_valid_alone(batch, p)]
        accepted = [p for p in payments if p not in rejected]
        xml = _pain001(batch, accepted).export(validate=True) if accepted else None
    for payment in rejected:
        _fail(payment, "Le virement n'a pas pu être mis au format SEPA : vérifiez le nom et l'IBAN du fournisseur.")
    accepted = [p for p in payments if p not in rejected]
    path = None
    if xml is not None:
        path = _write(export_dir, batch.reference, xml)
        now = utcnow()
        batch.status = SENT
        batch.message_id = ET.fromstring(xml).findtext(f".//{{{PAIN_NAMESPACE}}}MsgId")
        batch.file_name = path.name
        batch.file_sha256 = hashlib.sha256(xml).hexdigest()
        batch.sent_at = now
        for payment in accepted:
            payment.status = PaymentStatus.PAID
            payment.paid_at = now
            payment.invoice.status = InvoiceStatus.PAID
    else:
        batch.status = FAILED
    batch.payment_count = len(accepted)
    batch.total_cents = sum(p.amount_cents for p in accepted)
    result = BatchResult(
        reference=batch.reference,
        account_name=batch.account.name,
        status=batch.status,
        payment_count=batch.payment_count,
        total_cents=batch.total_cents,
        file_path=str(path) if path else None,
        failed_payments=len(rejected),
    )
    db.session.commit()
    return result


def _fail(payment: Payment, reason: str) -> None:
    payment.status = PaymentStatus.FAILED
    payment.failure_reason = reason
    payment.invoice.status = InvoiceStatus.PAYMENT_FAILED


def _pain001(batch: SepaBatch, payments: list[Payment]) -> SepaTransfer:
    account = batch.account
    config = {"name": account.name, "IBAN": account.debtor_iban, "batch": True, "currency": "EUR"}
    if account.debtor_bic:
        config["BIC"] = account.debtor_bic
    transfer = SepaTransfer(config, clean=True)
    for payment in payments:
        transfer.add_payment(_transaction(batch, payment))
    return transfer


def _transaction(batch: SepaBatch, payment: Payment) -> dict:
    transaction = {
        "name": payment.creditor_name,
        "IBAN": payment.creditor_iban,
        "amount": payment.amount_cents,
        "currency": payment.currency,
        "execution_date": batch.execution_date,
        "description": f"Facture {payment.invoice.number}",
        "endtoend_id": payment.end_to_end_id,
    }
    if payment.creditor_bic:
        transaction["BIC"] = payment.creditor_bic
    return transaction


def _is_valid_alone(batch: SepaBatch, payment: Payment) -> bool:
    try:
        _pain001(batch, [payment]).export(validate=True)
    except ValidationError:
        return False
    return True


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
