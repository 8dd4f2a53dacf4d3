"""Importing a bank file: a status report (pain.002.001.03) or a statement (camt.053.001.02, camt.054.001.02).

« Remises » and ``flask libeo import-bank-status FILE`` take either kind; the
file's namespace says which. Each is read and checked against its official
XSD (``bank_status``, ``bank_statement``), turned into facts about payments,
and applied by ``bank_leg`` in one transaction, with the file recorded (once:
a second import of the same file says so and changes nothing) and journaled.

- A status report names our file by its MsgId (OrgnlMsgId) and each
  transfer by our EndToEndId (« LIBEO-<id> »).
- A statement names the bank account (its IBAN must be the account's) and,
  for each entry, what the bank knows of it: the transfer's EndToEndId, or
  the file booked as one debit (batch booking). An entry without either is
  matched by amount, date and the payee's IBAN; when several transfers fit,
  a person is asked (an anomaly on « Remises »). A return (a credit that
  sends a transfer back) rejects the transfer with its reason.

Refused with a French message and nothing changed: a file that is none of
these, breaks its schema, answers a file of no account (or of another
account), is the statement of another bank account, or is in another
currency than the euro.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from lxml import etree
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from core.dates import PARIS, date_fr, datetime_fr
from core.money import format_amount
from core.validators import mask_iban
from models.libeo.accounts.models import Account
from models.libeo.db import db
from models.libeo.errors import InvalidData
from models.libeo.journal import record as journal
from models.libeo.payments.bank_leg import (
    Applied,
    BankFact,
    apply_facts,
    keep_anomaly,
)
from models.libeo.payments.bank_statement import (
    BankStatement,
    StatementEntry,
    statement_kind,
    statement_of,
)
from models.libeo.payments.bank_status import (
    NAMESPACE as PAIN002,
)
from models.libeo.payments.bank_status import (
    BankStatusError,
    StatusReport,
    failure_reason,
    outcomes_for,
    parse_bank_xml,
    status_report_of,
)
from models.libeo.payments.models import (
    AT_BANK,
    REPORT_KINDS,
    BankAnomaly,
    BankStatusImport,
    Payment,
    PaymentStatus,
    SepaBatch,
)

COMMAND_LINE = "ligne de commande"
# A statement's debit without references is matched with a transfer asked for at most this long before.
MATCH_WINDOW = timedelta(days=10)
END_TO_END = re.compile(r"LIBEO-(\d{1,10})")
FORMATS = ("le relevé de statut (pain.002.001.03), le relevé de compte (camt.053.001.02) ou l'avis de débit "
           "(camt.054.001.02) que la banque envoie")


@dataclass
class ImportResult:
    account_id: int
    account_name: str
    kind: str  # « pain.002 », « camt.053 », « camt.054 »
    report_id: str
    batch_reference: str | None = None  # the file a status report answers
    accepted: list[Payment] = field(default_factory=list)
    paid: list[Payment] = field(default_factory=list)
    failed: list[Payment] = field(default_factory=list)
    anomalies: list[BankAnomaly] = field(default_factory=list)
    pending: int = 0  # the bank said nothing of them yet
    unchanged: int = 0  # what the report says, the payments already show (or older news)
    unrelated: int = 0  # statement entries that are none of Libeo's transfers
    already_imported_at: datetime | None = None

    @property
    def changed(self) -> bool:
        return bool(self.accepted or self.paid or self.failed)

    @property
    def needs_a_person(self) -> bool:
        return bool(self.anomalies)

    @property
    def what(self) -> str:
        noun = REPORT_KINDS.get(self.kind, "relevé de la banque")
        where = f" pour la remise {self.batch_reference}" if self.batch_reference else ""
        return f"{noun[0].upper()}{noun[1:]} {self.report_id}{where}"

    @property
    def summary(self) -> str:
        """What happened, in French, for a flash message or the command line."""
        if self.already_imported_at is not None:
            return (f"{self.what} : déjà importé le {datetime_fr(self.already_imported_at)}, "
                    "aucun paiement n'a changé.")
        parts = []
        if self.paid:
            parts.append(_count(len(self.paid), "paiement débité", "paiements débités"))
        if self.failed:
            parts.append(_count(len(self.failed), "paiement rejeté", "paiements rejetés"))
        if self.accepted:
            parts.append(_count(len(self.accepted), "paiement accepté par la banque",
                                "paiements acceptés par la banque"))
        if self.pending:
            parts.append(_count(self.pending, "paiement dont la banque ne dit rien encore",
                                "paiements dont la banque ne dit rien encore"))
        unchanged = "aucun paiement n'a changé" + (f" ({parts[0]})" if parts else "")
        changes = ", ".join(parts) if self.changed else unchanged
        text = f"{self.what} importé : {changes}."
        if self.anomalies:
            text += " " + _count(len(self.anomalies), "anomalie à vérifier", "anomalies à vérifier") + (
                " dans « Remises » : la banque contredit ce que Libeo sait, ou un débit peut être plusieurs virements.")
        return text


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def import_bank_status(content: bytes, *, imported_by: str, account: Account | None = None) -> ImportResult:
    """Applies the bank file in ``content``; InvalidData (French) when it cannot, nothing changed.

    With ``account`` (« Remises »), the file must be the account's; without
    (the command line), the file names the account.
    """
    root = parse_bank_xml(content)
    namespace = etree.QName(root).namespace or ""
    if namespace == PAIN002:
        return _import_status_report(status_report_of(root), imported_by, account)
    if statement_kind(root) is not None:
        return _import_statement(statement_of(root), imported_by, account)
    raise BankStatusError(_not_a_bank_file(namespace))


def _not_a_bank_file(namespace: str) -> str:
    message_type = namespace.rsplit(":", 1)[-1]
    if message_type.startswith("pain.001."):
        return (f"Ce fichier est un ordre de virement ({message_type}), celui que Libeo remet à la banque, "
                f"pas sa réponse : importez {FORMATS}.")
    if message_type.startswith("pain.008."):
        return f"Ce fichier est un ordre de prélèvement ({message_type}) : importez {FORMATS}."
    if re.match(r"(pain\.002|camt\.05[234])\.", message_type):
        return (f"Ce fichier est au format {message_type}, que Libeo ne lit pas : demandez à votre banque "
                f"{FORMATS.replace('le relevé', 'un relevé', 1)}.")
    return f"Ce fichier XML n'est pas un relevé de la banque : importez {FORMATS}."


SOURCES = {"pain.002": "le relevé de statut (pain.002)", "camt.053": "le relevé de compte (camt.053)",
           "camt.054": "l'avis de débit (camt.054)"}


def _source(kind: str, message_id: str, created_at: datetime | None) -> str:
    """The file, as a sentence names it: « l'avis de débit (camt.054) CAMT… du 04/12/2026 »."""
    when = f" du {date_fr(created_at.astimezone(PARIS).date())}" if created_at else ""
    return f"{SOURCES[kind]} {message_id}{when}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _account_name(account_id: int) -> str:
    account = db.session.get(Account, account_id)
    return account.name if account is not None else ""


def _claim(result: ImportResult, account_id: int, kind: str, message_id: str, batch_id: int | None,
           created_at: datetime | None, imported_by: str) -> BankStatusImport | None:
    """Records the import, once per file; None (and when it was) if it was imported already."""
    earlier = _earlier_import(account_id, kind, message_id)
    if earlier is None:
        record = BankStatusImport(account_id=account_id, kind=kind, batch_id=batch_id, message_id=message_id,
                                  bank_created_at=created_at, imported_by=imported_by)
        db.session.add(record)
        try:
            # First: a concurrent import of the same file waits here, then finds it imported.
            db.session.flush()
            return record
        except IntegrityError:
            db.session.rollback()
            earlier = _earlier_import(account_id, kind, message_id)
            if earlier is None:  # the other import was rolled back: this one's turn again
                return _claim(result, account_id, kind, message_id, batch_id, created_at, imported_by)
    result.already_imported_at = earlier.imported_at
    return None


def _earlier_import(account_id: int, kind: str, message_id: str) -> BankStatusImport | None:
    return db.session.scalar(select(BankStatusImport).where(
        BankStatusImport.account_id == account_id, BankStatusImport.kind == kind,
        BankStatusImport.message_id == message_id))


def _finish(result: ImportResult, record: BankStatusImport, applied: Applied, anomalies: list[BankAnomaly]) -> None:
    result.accepted, result.paid, result.failed = applied.accepted, applied.paid, applied.failed
    result.anomalies = applied.anomalies + anomalies
    result.unchanged += applied.unchanged
    record.accepted_count, record.paid_count = len(result.accepted), len(result.paid)
    record.failed_count, record.anomaly_count = len(result.failed), len(result.anomalies)
    journal(result.account_id, "bank.report_imported", result.summary, record.imported_by)
    db.session.flush()


# Status reports (pain.002).


def _import_status_report(report: StatusReport, imported_by: str, account: Account | None) -> ImportResult:
    batch = _answered_batch(report, account)
    name = _account_name(batch.account_id)
    result = ImportResult(batch.account_id, name, "pain.002", report.message_id, batch.reference)
    record = _claim(result, batch.account_id, "pain.002", report.message_id, batch.id, report.created_at,
                    imported_by)
    if record is None:
        return result
    payments = {p.end_to_end_id: p for p in db.session.scalars(select(Payment).where(Payment.batch_id == batch.id))}
    facts = []
    for e2e, decided in outcomes_for(report, payments).items():
        payment = payments[e2e]
        if decided.outcome == "pending":
            result.pending += payment.status.at_bank
            continue
        facts.append(BankFact(
            payment.id, decided.outcome, decided.status, moment=decided.accepted_at or report.created_at,
            reason_code=decided.reason_code, bank_text=decided.bank_text, failure_reason=decided.failure_reason,
        ))
    source = _source("pain.002", report.message_id, report.created_at)
    _finish(result, record, apply_facts(batch.account_id, facts, source, record), [])
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
            "importez le relevé que la banque a envoyé pour l'une des remises de cette page. Rien n'a été modifié.",
            "file",
            code="unknown_batch",
        )
    raise InvalidData(
        f"Ce relevé répond au fichier « {original} », qu'aucune remise de Libeo ne porte. Rien n'a été modifié.",
        "file",
        code="unknown_batch",
    )


# Statements (camt.053, camt.054).


def _import_statement(statement: BankStatement, imported_by: str, account: Account | None) -> ImportResult:
    _check_currency(statement)
    account_id = _statement_account(statement, account)
    name = _account_name(account_id)
    result = ImportResult(account_id, name, statement.kind, statement.message_id)
    record = _claim(result, account_id, statement.kind, statement.message_id, None, statement.created_at,
                    imported_by)
    if record is None:
        return result
    source = _source(statement.kind, statement.message_id, statement.created_at)
    matcher = _Matcher(account_id, source, record)
    for report in statement.accounts:
        for entry in report.entries:
            matcher.read(entry, report.created_at or statement.created_at)
    result.unrelated = matcher.unrelated
    _finish(result, record, apply_facts(account_id, matcher.facts, source, record), matcher.anomalies)
    return result


def _check_currency(statement: BankStatement) -> None:
    for report in statement.accounts:
        currencies = {report.currency} if report.currency else {e.currency for e in report.entries}
        foreign = sorted(c for c in currencies if c and c != "EUR")
        if foreign and (report.currency or not currencies & {"EUR"}):
            raise InvalidData(
                f"Ce relevé est en {', '.join(foreign)} : Libeo ne paie qu'en euros, ce relevé ne peut concerner "
                f"aucun de ses virements. Importez le relevé du compte en euros débité par vos remises. "
                "Rien n'a été modifié.",
                "file", code="foreign_currency",
            )


def _statement_account(statement: BankStatement, account: Account | None) -> int:
    """The Libeo account whose bank account the statement is; InvalidData otherwise."""
    found_ibans = {report.iban for report in statement.accounts}
    ibans = {iban for iban in found_ibans if iban is not None}
    if None in found_ibans or not ibans:
        raise InvalidData("Ce relevé ne donne pas l'IBAN du compte : Libeo ne peut pas savoir de quel compte il est. "
                          "Rien n'a été modifié.", "file", code="unknown_bank_account")
    owners: dict[str, set[int]] = {iban: _accounts_debiting(iban) for iban in ibans}
    if account is not None:
        others = sorted(iban for iban, ids in owners.items() if account.id not in ids)
        if others:
            raise InvalidData(
                f"Ce relevé est celui du compte {mask_iban(others[0])}, qui n'est pas le compte bancaire que vos "
                f"remises débitent ({mask_iban(account.debtor_iban) if account.debtor_iban else 'aucun IBAN'}). "
                "Importez le relevé de votre compte. Rien n'a été modifié.",
                "file", code="other_bank_account",
            )
        return account.id
    found = set.union(*owners.values())
    if len(found) == 1 and all(owners.values()):
        return found.pop()
    if not found:
        raise InvalidData(f"Ce relevé est celui du compte {mask_iban(sorted(ibans)[0])}, qu'aucun compte Libeo ne "
                          "débite. Rien n'a été modifié.", "file", code="unknown_bank_account")
    raise InvalidData("Plusieurs comptes Libeo débitent ce compte bancaire : importez ce relevé depuis « Remises », "
                      "connecté au bon compte. Rien n'a été modifié.", "file", code="ambiguous_bank_account")


def _accounts_debiting(iban: str) -> set[int]:
    return set(db.session.scalars(select(Account.id).where(Account.debtor_iban == iban))) | set(
        db.session.scalars(select(SepaBatch.account_id).where(SepaBatch.debtor_iban == iban).distinct()))


class _Matcher:
    """Turns a statement's entries into facts about the account's payments."""

    def __init__(self, account_id: int, source: str, record: BankStatusImport) -> None:
        self.account_id, self.source, self.record = account_id, source, record
        self.facts: list[BankFact] = []
        self.anomalies: list[BankAnomaly] = []
        self.unrelated = 0
        self.matched: set[int] = set()  # payments an entry of this file was given to

    def read(self, entry: StatementEntry, created_at: datetime | None) -> None:
        if not entry.booked or entry.currency != "EUR":
            self.unrelated += 1
            return
        day = entry.booking_date or entry.value_date or (created_at.astimezone(PARIS).date() if created_at else None)
        if entry.is_return or (entry.reversal and not entry.debit):
            self._returned(entry, day)
        elif entry.debit and not entry.reversal:
            self._debited(entry, day)
        else:
            self.unrelated += 1

    # A debit: by EndToEndId, else the file booked as one, else amount, date and IBAN.

    def _debited(self, entry: StatementEntry, day: date | None) -> None:
        own = [(d, p) for d in entry.details if d.end_to_end_id
               for p in (self._payment(d.end_to_end_id),) if p is not None]
        if own:
            for detail, payment in own:
                amount = detail.amount_cents if detail.amount_cents is not None else (
                    entry.amount_cents if len(entry.details) == 1 else None)
                if amount is not None and amount != payment.amount_cents:
                    self._amount_anomaly(payment, amount, day)
                else:
                    self._paid(payment, day, detail.accepted_at)
            return
        batch = self._batch(entry)
        if batch is not None:
            self._batch_debited(batch, entry, day)
            return
        details = entry.details or ()
        if len(details) > 1:
            for detail in details:
                amount = detail.amount_cents if detail.amount_cents is not None else None
                if amount is None or not self._guess(amount, day, detail.creditor_iban):
                    self.unrelated += 1
            return
        iban = details[0].creditor_iban if details else None
        if not self._guess(entry.amount_cents, day, iban):
            self.unrelated += 1

    def _batch_debited(self, batch: SepaBatch, entry: StatementEntry, day: date | None) -> None:
        payments = [p for p in self._batch_payments(batch) if p.status.at_bank or p.status is PaymentStatus.PAID]
        total = sum(p.amount_cents for p in payments)
        if total != entry.amount_cents:
            self.anomalies.append(keep_anomaly(self.account_id, BankAnomaly(
                kind="amount", amount_cents=entry.amount_cents, reported_status="paid", reported_on=day,
                message=(f"{_capital(self.source)} montre la remise {batch.reference} débitée de "
                         f"{format_amount(entry.amount_cents)} le {date_fr(day)}, alors que ses virements non "
                         f"rejetés font {format_amount(total)} : vérifiez avec votre banque quels virements sont "
                         "partis, puis marquez-les comme débités.")[:1000],
            ), self.record))
            return
        for payment in payments:
            self._paid(payment, day, None)

    def _guess(self, amount: int, day: date | None, iban: str | None) -> bool:
        """Matches a debit without references; False when it is none of Libeo's transfers."""
        if day is None:
            return False
        query = (
            select(Payment).options(joinedload(Payment.invoice))
            .where(Payment.account_id == self.account_id, Payment.status.in_(AT_BANK),
                   Payment.amount_cents == amount, Payment.execution_date <= day,
                   Payment.execution_date >= day - MATCH_WINDOW)
            .order_by(Payment.execution_date, Payment.id)
        )
        if iban:
            query = query.where(Payment.creditor_iban == iban)
        candidates = [p for p in db.session.scalars(query).unique() if p.id not in self.matched]
        if not candidates:
            return False
        if len(candidates) == 1:
            self._paid(candidates[0], day, None)
            return True
        names = " ; ".join(f"facture {p.invoice.number} à {p.creditor_name} (exécution le "
                           f"{date_fr(p.execution_date)})" for p in candidates[:10])
        self.anomalies.append(keep_anomaly(self.account_id, BankAnomaly(
            kind="ambiguous", amount_cents=amount, reported_status="paid", reported_on=day,
            candidate_ids=[p.id for p in candidates],
            message=(f"{_capital(self.source)} montre un débit de {format_amount(amount)} le {date_fr(day)}"
                     f"{f' vers {mask_iban(iban)}' if iban else ''}, sans référence, que plusieurs virements "
                     f"peuvent être : {names}. Dites lequel a été débité.")[:1000],
        ), self.record))
        return True

    # A return: the payee's bank sent the transfer back.

    def _returned(self, entry: StatementEntry, day: date | None) -> None:
        found = False
        for detail in entry.details:
            payment = self._payment(detail.end_to_end_id)
            if payment is None:
                continue
            found = True
            reason = failure_reason(detail.return_code, detail.return_text)
            when = f" le {date_fr(day)}" if day else ""
            self.facts.append(BankFact(
                payment.id, "failed", "RJCT", day=day, reason_code=detail.return_code, bank_text=detail.return_text,
                failure_reason=f"{reason} — retourné{when}"[:300], is_return=True,
            ))
        if not found:
            self.unrelated += 1

    # Helpers.

    def _paid(self, payment: Payment, day: date | None, moment: datetime | None) -> None:
        self.matched.add(payment.id)
        self.facts.append(BankFact(payment.id, "paid", "BOOK", moment=moment, day=day))

    def _amount_anomaly(self, payment: Payment, amount: int, day: date | None) -> None:
        self.anomalies.append(keep_anomaly(self.account_id, BankAnomaly(
            kind="amount", payment_id=payment.id, amount_cents=amount, reported_status="paid", reported_on=day,
            message=(f"{_capital(self.source)} montre le virement de la facture {payment.invoice.number} à "
                     f"{payment.creditor_name} débité de {format_amount(amount)} le {date_fr(day)}, au lieu de "
                     f"{payment.amount_display} : vérifiez avec votre banque.")[:1000],
        ), self.record))

    def _payment(self, end_to_end_id: str | None) -> Payment | None:
        match = END_TO_END.fullmatch(end_to_end_id or "")
        if match is None:
            return None
        return db.session.scalar(
            select(Payment).options(joinedload(Payment.invoice))
            .where(Payment.id == int(match.group(1)), Payment.account_id == self.account_id,
                   Payment.batch_id.is_not(None))
        )

    def _batch(self, entry: StatementEntry) -> SepaBatch | None:
        message_ids = {entry.batch_message_id} | {d.message_id for d in entry.details}
        info_ids = {entry.batch_payment_info_id} | {d.payment_info_id for d in entry.details}
        message_ids.discard(None)
        info_ids.discard(None)
        if not message_ids and not info_ids:
            return None
        return db.session.scalar(select(SepaBatch).where(
            SepaBatch.account_id == self.account_id,
            or_(SepaBatch.message_id.in_(message_ids), SepaBatch.payment_info_id.in_(info_ids)),
        ))

    def _batch_payments(self, batch: SepaBatch) -> list[Payment]:
        return list(db.session.scalars(
            select(Payment).options(joinedload(Payment.invoice)).where(Payment.batch_id == batch.id)
            .order_by(Payment.id)
        ).unique())


def recent_imports(account: Account, limit: int = 10) -> list[BankStatusImport]:
    """The account's latest bank files imported, newest first (« Remises »)."""
    return list(db.session.scalars(
        select(BankStatusImport).where(BankStatusImport.account_id == account.id)
        .order_by(BankStatusImport.imported_at.desc(), BankStatusImport.id.desc()).limit(limit)
    ))
