"""Applying the bank's status report (pain.002.001.03) to the file it answers.

The report names our file by its MsgId (OrgnlMsgId); its transfers by our
EndToEndIds. ``models.libeo.bank_status`` reads it and decides each
transfer's outcome; here the payments still « Remis à la banque » move to
``paid`` or ``failed`` by conditional UPDATEs (a payment already settled by
another report or by « Marquer comme débité » is left as it is), with
their events, in one transaction. Each report is applied once per file:
its own MsgId is recorded, and a second import says so and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.dates import as_utc, datetime_fr, utcnow
from models.libeo.accounts.models import Account
from models.libeo.db import db
from models.libeo.errors import InvalidData
from models.libeo.payments.bank_status import (
    StatusReport,
    outcomes_for,
    read_status_report,
)
from models.libeo.payments.models import (
    BankStatusImport,
    Payment,
    PaymentStatus,
    SepaBatch,
)
from models.libeo.payments.transitions import move_payments

COMMAND_LINE = "ligne de commande"


@dataclass
class ImportResult:
    account_id: int
    account_name: str
    batch_reference: str
    report_id: str
    paid: list[Payment] = field(default_factory=list)
    failed: list[Payment] = field(default_factory=list)
    pending: int = 0  # still « Remis à la banque »: the bank has not decided yet
    already_imported_at: datetime | None = None

    @property
    def changed(self) -> bool:
        return bool(self.paid or self.failed)

    @property
    def summary(self) -> str:
        """What happened, in French, for a flash message or the command line."""
        if self.already_imported_at is not None:
            return (
                f"Ce relevé de la banque ({self.report_id}) a déjà été importé le "
                f"{datetime_fr(self.already_imported_at)} pour la remise {self.batch_reference} : "
                "aucun paiement n'a changé."
            )
        parts = []
        if self.paid:
            parts.append(_count(len(self.paid), "paiement payé", "paiements payés"))
        if self.failed:
            parts.append(_count(len(self.failed), "paiement rejeté", "paiements rejetés"))
        if self.pending:
            parts.append(_count(self.pending, "paiement toujours remis à la banque", "paiements toujours remis à la banque"))
        changes = ", ".join(parts) if self.changed else "aucun paiement n'a changé" + (f" ({parts[0]})" if parts else "")
        return f"Relevé de la banque importé pour la remise {self.batch_reference} : {changes}."


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def import_bank_status(content: bytes, *, imported_by: str, account: Account | None = None) -> ImportResult:
    """Applies the report in ``content``; InvalidData (French) when it cannot, nothing changed.

    With ``account`` (« Remises »), the report must answer one of its
    files; without (the command line), the file names the account.
    """
    report = read_status_report(content)
    batch = _answered_batch(report, account)
    account_id, reference = batch.account_id, batch.reference
    account_name = db.session.get(Account, account_id).name
    result = ImportResult(account_id, account_name, reference, report.message_id)
    earlier = _earlier_import(batch.id, report.message_id)
    if earlier is not None:
        result.already_imported_at = earlier.imported_at
        return result
    record = BankStatusImport(
        account_id=account_id, batch_id=batch.id, message_id=report.message_id, imported_by=imported_by
    )
    db.session.add(record)
    try:
        # First: a concurrent import of the same report waits here, then finds it imported.
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        result.already_imported_at = _earlier_import(batch.id, report.message_id).imported_at
        return result
    _apply(report, batch, result)
    record.paid_count, record.failed_count = len(result.paid), len(result.failed)
    db.session.flush()
    return result


def _answered_batch(report: StatusReport, account: Account | None) -> SepaBatch:
    original = report.original_message_id
    query = select(SepaBatch).where(SepaBatch.message_id == original)
    if account is not None:
        query = query.where(SepaBatch.account_id == account.id)
    batch = db.session.scalar(query)
    if batch is not None:
        return batch
    if account is not None:
        raise InvalidData(
            f"Ce relevé répond au fichier « {original} », qui n'est pas une remise de votre compte : "
            "importez le relevé que la banque a envoyé pour l'une des remises de cette page.",
            "file",
            code="unknown_batch",
        )
    raise InvalidData(
        f"Ce relevé répond au fichier « {original} », qu'aucune remise de Libeo ne porte.",
        "file",
        code="unknown_batch",
    )


def _earlier_import(batch_id: int, message_id: str) -> BankStatusImport | None:
    return db.session.scalar(
        select(BankStatusImport).where(BankStatusImport.batch_id == batch_id, BankStatusImport.message_id == message_id)
    )


def _apply(report: StatusReport, batch: SepaBatch, result: ImportResult) -> None:
    payments = {
        p.end_to_end_id: p
        for p in db.session.scalars(
            select(Payment).where(Payment.batch_id == batch.id, Payment.status == PaymentStatus.IN_PROGRESS)
        )
    }
    outcomes = outcomes_for(report, payments)
    paid = [payments[e2e].id for e2e, o in outcomes.items() if o.outcome == "paid"]
    result.pending = sum(1 for o in outcomes.values() if o.outcome == "pending")
    when = _paid_at(report, batch)
    # One UPDATE per reason: a report usually gives few distinct reasons.
    by_reason: dict[str, list[int]] = {}
    for e2e, o in outcomes.items():
        if o.outcome == "failed":
            by_reason.setdefault(o.failure_reason, []).append(payments[e2e].id)
    for reason, ids in by_reason.items():
        result.failed += move_payments(
            ids, (PaymentStatus.IN_PROGRESS,), PaymentStatus.FAILED, account_id=batch.account_id, failure_reason=reason
        )
    result.paid = move_payments(
        paid, (PaymentStatus.IN_PROGRESS,), PaymentStatus.PAID, account_id=batch.account_id, paid_at=when
    )


def _paid_at(report: StatusReport, batch: SepaBatch) -> datetime:
    """When the bank said so (the report's time), unless that time is not believable."""
    now = utcnow()
    stated = report.created_at
    sent = as_utc(batch.sent_at) if batch.sent_at else None
    if stated is not None and (sent is None or stated >= sent) and stated <= now:
        return stated
    return now
