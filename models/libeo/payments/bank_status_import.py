"""Importing a bank file: a status report (pain.002.001.03) or a statement (camt.053.001.02, camt.054.001.02).

« Remises » and ``flask libeo import-bank-status FILE`` take either kind; the
file's namespace says which. Each is read and checked against its official
XSD (``bank_status``, ``bank_statement``), turned into facts about payments,
and applied by ``bank_leg`` in one transaction, with the file recorded (once:
a second import of the same file says so and changes nothing) and journaled.

- A status report names our file by its MsgId (OrgnlMsgId) and each
  transfer by our EndToEndId (« LIBEO-<id> »).
- A report that names a transfer, or a payment block, the file does not
  hold is kept as an anomaly, and a rejection of one leaves the transfers
  it does not list pending. Once the bank answers for a file, the file and
  its payments still « Fichier prêt » are « Transmis à la banque »: it has
  them.
- A statement names the bank account (its IBAN must be the account's) and,
  for each entry, what the bank knows of it: the transfer's EndToEndId, or
  the file booked as one debit (batch booking), whose amount must be the
  total of the transfers it stands for. An entry without either is matched
  by amount, date and the payee's IBAN (a debit without a payee's IBAN, a
  card payment say, is none of Libeo's); when several transfers fit, a person
  is asked (an anomaly on « Remises »). A return (a credit that sends a
  transfer back) rejects the transfer with its reason; the reversal of a
  file's debit is an anomaly for each of its payments.
- A booking is applied once: the debit notification (camt.054) and the day's
  statement (camt.053) tell the same one under the bank's reference
  (``BankBooking``), and the second telling changes nothing.

Refused with a French message and nothing changed: a file that is none of
these, breaks its schema, answers a file of no account (or of another
account), is the statement of another bank account, or is in another
currency than the euro.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from lxml import etree
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from core.dates import PARIS, date_fr, datetime_fr, paris_today
from core.money import format_amount
from core.validators import mask_iban
from models.libeo.accounts.models import Account
from models.libeo.db import db
from models.libeo.errors import InvalidData
from models.libeo.journal import record as journal
from models.libeo.notifications.events import bank_anomalies_found
from models.libeo.payments.bank_leg import (
    Applied,
    BankFact,
    apply_facts,
    keep_anomaly,
    received_by_bank,
    tell_anomalies,
)
from models.libeo.payments.bank_statement import (
    BankStatement,
    EntryDetail,
    StatementEntry,
    statement_kind,
    statement_of,
)
from models.libeo.payments.bank_status import (
    NAMESPACE as PAIN002,
)
from models.libeo.payments.bank_status import (
    BankStatusError,
    PaymentOutcome,
    StatusReport,
    failure_reason,
    outcome,
    outcomes_for,
    parse_bank_xml,
    status_report_of,
    undetailed_part,
    unknown_blocks,
    unknown_transactions,
)
from models.libeo.payments.models import (
    AT_BANK,
    REPORT_KINDS,
    BankAnomaly,
    BankBooking,
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
    # Payments « Fichier prêt » of a file the bank answered for: « Transmis à la banque » now.
    transmitted: list[Payment] = field(default_factory=list)
    received: list[str] = field(default_factory=list)  # the files the bank's answer showed it has
    pending: int = 0  # the bank said nothing of them yet
    unchanged: int = 0  # what the report says, the payments already show (or older news)
    unrelated: int = 0  # statement entries that are none of Libeo's transfers
    repeated: int = 0  # statement entries an earlier statement applied already
    redated: int = 0  # debits a status report had dated, booked by this statement on another day
    notes: list[str] = field(default_factory=list)  # what else a person should know, in French
    already_imported_at: datetime | None = None

    @property
    def changed(self) -> bool:
        return bool(self.accepted or self.paid or self.failed or self.transmitted or self.redated)

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
        if self.redated:
            parts.append(_count(self.redated, "date de débit remplacée par la date d'écriture du relevé",
                                "dates de débit remplacées par les dates d'écriture du relevé"))
        if self.pending:
            parts.append(_count(self.pending, "paiement dont la banque ne dit rien encore",
                                "paiements dont la banque ne dit rien encore"))
        unchanged = "aucun paiement n'a changé" + (f" ({parts[0]})" if parts else "")
        if not self.changed:
            text = f"{self.what} importé : {unchanged}."
        else:  # the file's payments it does not name may have changed alone (« La banque a reçu… »)
            text = f"{self.what} importé" + (f" : {', '.join(parts)}." if parts else ".")
        if self.received:
            files = (f"la remise {self.received[0]}" if len(self.received) == 1
                     else f"les remises {', '.join(self.received)}")
            text += f" La banque a reçu {files} : ses virements sans réponse sont « Transmis à la banque »."
        if self.repeated:
            text += " " + _count(self.repeated, "écriture de ce relevé avait déjà été lue dans un relevé précédent : "
                                 "Libeo ne l'applique pas deux fois.", "écritures de ce relevé avaient déjà été lues "
                                 "dans un relevé précédent : Libeo ne les applique pas deux fois.")
        for note in self.notes:
            text += f" {note}"
        if self.anomalies:
            text += " " + _count(len(self.anomalies), "anomalie à vérifier", "anomalies à vérifier") + (
                " dans « Remises » : Libeo n'applique pas sans votre décision ce que la banque y dit.")
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
        report = status_report_of(root)
        _refuse_the_future(("une acceptation", t.accepted_at) for t in report.transactions)
        return _import_status_report(report, imported_by, account)
    if statement_kind(root) is not None:
        statement = statement_of(root)
        _refuse_the_future(dated for report in statement.accounts for entry in report.entries
                           for dated in (("une écriture", entry.booking_date),
                                         *(("une acceptation", d.accepted_at) for d in entry.details)))
        return _import_statement(statement, imported_by, account)
    raise BankStatusError(_not_a_bank_file(namespace))


def _refuse_the_future(dated: Iterable[tuple[str, date | datetime | None]]) -> None:
    """A bank tells what it did: a booking or an acceptance dated after tomorrow (a day for the time zones of a
    bank's clock) is no bank's, and would make a payment « Débité le 31/12/2099 »."""
    latest = paris_today() + timedelta(days=1)
    for what, when in dated:
        day = when.astimezone(PARIS).date() if isinstance(when, datetime) else when
        if day is not None and day > latest:
            raise BankStatusError(f"Le fichier date {what} du {date_fr(day)}, après aujourd'hui : une banque ne dit "
                                  "que ce qu'elle a déjà fait. Rien n'a été importé.")


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


# A file's anomalies are each a person's decision: a file that would leave more is no bank's answer to
# Libeo's files (a status report naming thousands of transfers no file holds), and is refused whole.
MAX_ANOMALIES_PER_FILE = 100


def _finish(result: ImportResult, record: BankStatusImport, applied: Applied, anomalies: list[BankAnomaly]) -> None:
    result.accepted, result.paid, result.failed = applied.accepted, applied.paid, applied.failed
    result.anomalies = applied.anomalies + anomalies
    if len(result.anomalies) > MAX_ANOMALIES_PER_FILE:
        raise BankStatusError(
            f"Ce fichier laisserait {len(result.anomalies)} anomalies à vérifier (virements que Libeo ne reconnaît "
            f"pas, ou qui contredisent ce qu'il sait), plus que les {MAX_ANOMALIES_PER_FILE} qu'une personne peut "
            "décider une à une : ce n'est pas la réponse de votre banque aux remises de Libeo. Rien n'a été "
            "importé ; demandez à votre banque le bon fichier.")
    result.unchanged += applied.unchanged
    result.redated = applied.redated
    record.accepted_count, record.paid_count = len(result.accepted), len(result.paid)
    record.failed_count, record.anomaly_count = len(result.failed), len(result.anomalies)
    journal(result.account_id, "bank.report_imported", result.summary, record.imported_by)
    tell_anomalies(result.account_id, result.anomalies)
    db.session.flush()
    bank_anomalies_found(result.account_id, record.id, f"{record.kind_label} {record.message_id}",
                         record.imported_by, result.anomalies)


# Status reports (pain.002).


def _import_status_report(report: StatusReport, imported_by: str, account: Account | None) -> ImportResult:
    batch = _answered_batch(report, account)
    name = _account_name(batch.account_id)
    result = ImportResult(batch.account_id, name, "pain.002", report.message_id, batch.reference)
    record = _claim(result, batch.account_id, "pain.002", report.message_id, batch.id, report.created_at,
                    imported_by)
    if record is None:
        return result
    payments = {p.end_to_end_id: p for p in db.session.scalars(
        select(Payment).options(joinedload(Payment.invoice)).where(Payment.batch_id == batch.id)).unique()}
    facts: list[BankFact] = []
    untold: list[Payment] = []  # still at the bank, and the report says nothing of them
    both: list[tuple[Payment, PaymentOutcome]] = []  # listed both settled and rejected
    for e2e, decided in outcomes_for(report, payments, batch.payment_info_id).items():
        payment = payments[e2e]
        said = decided.outcome
        if said == "contradictory":
            if payment.status.at_bank:
                both.append((payment, decided))
                continue
            # Settled already: what the report says against that state is the contradiction ``apply_facts`` keeps.
            said = "failed" if payment.status is PaymentStatus.PAID else "paid"
        if said == "pending":
            if payment.status.at_bank:
                result.pending += 1
                untold.append(payment)
            continue
        facts.append(BankFact(
            payment.id, said, decided.status, moment=decided.accepted_at or report.created_at,
            reason_code=decided.reason_code, bank_text=decided.bank_text, failure_reason=decided.failure_reason,
        ))
    source = _source("pain.002", report.message_id, report.created_at)
    anomalies = [_settled_and_rejected(payment, decided, source, record) for payment, decided in both]
    anomalies += _unknown_transfers(report, batch, list(payments), untold, source, record)
    anomalies += _unknown_blocks(report, batch, untold, source, record)
    anomalies += _undetailed(report, batch, untold, source, record, result)
    applied = apply_facts(batch.account_id, facts, source, record)
    _received(result, [batch.id], report.created_at, source, imported_by)
    _finish(result, record, applied, anomalies)
    return result


def _settled_and_rejected(payment: Payment, decided: PaymentOutcome, source: str,
                          record: BankStatusImport) -> BankAnomaly:
    """A transfer still at the bank that the report lists both settled and rejected: it keeps its state, and a
    person decides (« Rejeté par la banque : passer en « Rejeté » » in « Remises », or « Marquer comme débité »)."""
    anomaly = BankAnomaly(
        payment_id=payment.id, kind="settled_and_rejected", reported_status="failed", amount_cents=payment.amount_cents,
        reported_code=decided.reason_code, reported_text=decided.bank_text, reported_reason=decided.failure_reason,
        message=(f"{_capital(source)} dit du paiement de la facture {payment.invoice.number} "
                 f"({payment.amount_display} à {payment.creditor_name}) à la fois « débité » ({decided.status}) et "
                 f"« {decided.failure_reason} » : Libeo ne change pas son état sans votre décision. Vérifiez auprès "
                 "de votre banque : s'il a été rejeté, passez-le en « Rejeté » dans « Remises » ; s'il a été débité, "
                 "cliquez sur « Marquer comme débité » sur la page du paiement.")[:1000],
    )
    return keep_anomaly(payment.account_id, anomaly, record)


def _unknown_transfers(report: StatusReport, batch: SepaBatch, end_to_end_ids: list[str], untold: list[Payment],
                       source: str, record: BankStatusImport) -> list[BankAnomaly]:
    """The report's statuses for transfers the file does not hold (a reference the bank altered): anomalies,
    naming the file's transfers the report leaves untold, one of which the bank may mean."""
    anomalies = []
    for transaction, status in unknown_transactions(report, end_to_end_ids):
        named = f"« {transaction.end_to_end_id} »" if transaction.end_to_end_id else "sans référence"
        decided = outcome(status)
        anomaly = _unknown(decided, transaction.reason_code, transaction.additional_info, untold)
        if decided == "failed":
            said = f"rejette un virement {named} (« {anomaly.reported_reason} »)"
            then = ("ses autres virements restent « Transmis à la banque » : demandez à votre banque lequel elle "
                    "a rejeté")
        else:
            said = f"donne le statut {status or 'vide'} à un virement {named}"
            then = "demandez à votre banque de quel virement il s'agit"
        anomaly.message = (f"{_capital(source)} {said} que la remise {batch.reference} ne contient pas : Libeo "
                           f"ne sait pas duquel de ses virements il s'agit ; {then}.")[:1000]
        anomalies.append(keep_anomaly(batch.account_id, anomaly, record))
    return anomalies


def _unknown_blocks(report: StatusReport, batch: SepaBatch, untold: list[Payment], source: str,
                    record: BankStatusImport) -> list[BankAnomaly]:
    """The report's statuses for payment blocks the file does not hold, listing no transfer (a block's name
    the bank altered): anomalies naming the file's transfers the report leaves untold."""
    anomalies = []
    for block in unknown_blocks(report, batch.payment_info_id):
        named = f"« {block.payment_info_id} »" if block.payment_info_id else "sans référence"
        decided = outcome(block.status)
        anomaly = _unknown(decided, block.reason_code, block.additional_info, untold)
        if decided == "failed":
            said = f"rejette un lot de virements {named} (« {anomaly.reported_reason} »)"
        else:
            said = f"donne le statut {block.status} à un lot de virements {named}"
        anomaly.message = (f"{_capital(source)} {said} que la remise {batch.reference} ne contient pas : Libeo "
                           "ne sait pas de quels virements il s'agit. Ceux de la remise que le relevé ne cite pas "
                           "restent « Transmis à la banque » : demandez à votre banque de quel lot il s'agit.")[:1000]
        anomalies.append(keep_anomaly(batch.account_id, anomaly, record))
    return anomalies


def _unknown(decided: str, code: str | None, info: str | None, untold: list[Payment]) -> BankAnomaly:
    """A status for something the file does not hold, naming the file's transfers the report leaves untold; a
    rejection keeps its reason, applied if a person says which transfer it was."""
    anomaly = BankAnomaly(kind="unknown", reported_status=decided, candidate_ids=[p.id for p in untold])
    if decided == "failed":
        anomaly.reported_code, anomaly.reported_text = code, info
        anomaly.reported_reason = failure_reason(code, info)
    return anomaly


STATUS_WORDS = {"paid": ("débité", "débités"), "accepted": ("accepté", "acceptés"),
                "failed": ("rejeté", "rejetés"), "pending": ("en attente", "en attente")}


def _undetailed(report: StatusReport, batch: SepaBatch, untold: list[Payment], source: str,
                record: BankStatusImport, result: ImportResult) -> list[BankAnomaly]:
    """A partly accepted file (PART) naming none of its transfers: a note, and an anomaly when the bank
    counts rejected transfers without saying which."""
    counts = undetailed_part(report)
    if counts is None:
        return []
    told = ", ".join(f"{n} {STATUS_WORDS[outcome(status)][n > 1]} ({status})" for status, n in counts)
    result.notes.append(
        f"La banque n'accepte qu'une partie de la remise {batch.reference} (PART{f' : {told}' if told else ''}) "
        "sans dire quels virements : ils restent « Transmis à la banque » jusqu'à sa prochaine réponse.")
    rejected = sum(n for status, n in counts if outcome(status) == "failed")
    if not rejected:
        return []
    anomaly = BankAnomaly(
        kind="unknown", reported_status="failed", candidate_ids=[p.id for p in untold],
        message=(f"{_capital(source)} indique {_count(rejected, 'virement rejeté', 'virements rejetés')} dans la "
                 f"remise {batch.reference} sans dire {'lequel' if rejected == 1 else 'lesquels'} : ses "
                 "virements restent « Transmis à la banque » ; demandez à votre banque le détail de sa "
                 "réponse.")[:1000],
    )
    return [keep_anomaly(batch.account_id, anomaly, record)]


def _received(result: ImportResult, batch_ids: Iterable[int], moment: datetime | None, source: str,
              imported_by: str) -> None:
    batches, result.transmitted = received_by_bank(result.account_id, batch_ids, moment, source, imported_by)
    moved = {payment.batch_id for payment in result.transmitted}
    result.received = [batch.reference for batch in batches if batch.id in moved]


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
            matcher.read(entry, report.created_at or statement.created_at, report.iban or "")
    try:
        db.session.add_all(matcher.bookings)
        db.session.flush()
    except IntegrityError:
        # A statement imported at the same time applied one of these bookings first: read this one again.
        db.session.rollback()
        return _import_statement(statement, imported_by, account)
    result.unrelated, result.repeated = matcher.unrelated, matcher.repeated
    applied = apply_facts(account_id, matcher.facts, source, record)
    _received(result, matcher.files, statement.created_at, source, imported_by)
    _finish(result, record, applied, matcher.anomalies)
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
        self.bookings: list[BankBooking] = []  # the entries this file applies, recorded once it is read
        self.unrelated = 0
        self.repeated = 0
        self.matched: set[int] = set()  # payments an entry of this file was given to
        self.files: set[int] = set()  # the SEPA files this file's entries show the bank has
        self.references: set[tuple] = set()  # the bank's references of this file's entries

    def read(self, entry: StatementEntry, created_at: datetime | None, iban: str) -> None:
        if not entry.booked or entry.currency != "EUR":
            self.unrelated += 1
            return
        day = entry.booking_date or entry.value_date or (created_at.astimezone(PARIS).date() if created_at else None)
        if self._told_before(entry, day, iban):
            self.repeated += 1
            return
        if entry.is_return or (entry.reversal and not entry.debit):
            matched_by = self._returned(entry, day)
        elif entry.debit and not entry.reversal:
            matched_by = self._debited(entry, day, iban)
        else:
            matched_by = None
            self.unrelated += 1
        if matched_by is not None:
            self.bookings.append(BankBooking(
                account_id=self.account_id, import_id=self.record.id, iban=iban, reference=entry.reference,
                booked_on=day, direction="DBIT" if entry.debit else "CRDT", amount_cents=entry.amount_cents,
                matched_by=matched_by, counterparty_iban=_counterparty(entry),
            ))

    def _told_before(self, entry: StatementEntry, day: date | None, iban: str) -> bool:
        """The same booking, by the bank's reference, earlier in this file or applied by an earlier one."""
        if entry.reference is None:
            return False
        key = (iban, entry.reference, day, entry.debit, entry.amount_cents)
        if key in self.references:
            return True
        self.references.add(key)
        return db.session.scalar(select(BankBooking.id).where(
            BankBooking.account_id == self.account_id, BankBooking.iban == iban,
            BankBooking.reference == entry.reference, BankBooking.booked_on.is_not_distinct_from(day),
            BankBooking.direction == ("DBIT" if entry.debit else "CRDT"),
            BankBooking.amount_cents == entry.amount_cents,
        ).limit(1)) is not None

    # A debit: by EndToEndId, else the file booked as one, else amount, date and IBAN.

    def _debited(self, entry: StatementEntry, day: date | None, iban: str) -> str | None:
        own = [(d, p) for d in entry.details if d.end_to_end_id
               for p in (self._payment(d.end_to_end_id),) if p is not None]
        if own:
            for _detail, payment in own:
                self._answered(payment)
            self._debited_by_reference(entry, own, day)
            return "end_to_end_id"
        batch = self._batch(entry)
        if batch is not None:
            self.files.add(batch.id)
            self._batch_debited(batch, entry, day)
            return "batch"
        return self._debited_without_reference(entry, day, iban)

    def _debited_by_reference(self, entry: StatementEntry, own: list[tuple[EntryDetail, Payment]],
                              day: date | None) -> None:
        if len(entry.details) > 1:
            # One booking for several transfers: its amount must be theirs, whether or not each detail says its own.
            amounts = [d.amount_cents if d.amount_cents is not None else next(
                (p.amount_cents for detail, p in own if detail is d), None) for d in entry.details]
            total = None if None in amounts else sum(a for a in amounts if a is not None)
            if total != entry.amount_cents:
                self._total_anomaly(entry, [p for _d, p in own], total, day)
                return
        for detail, payment in own:
            amount = detail.amount_cents if detail.amount_cents is not None else (
                entry.amount_cents if len(entry.details) == 1 else None)
            if amount is not None and amount != payment.amount_cents:
                self._amount_anomaly(payment, amount, day)
            else:
                self._paid(payment, day, detail.accepted_at)

    def _standing(self, batch: SepaBatch) -> tuple[list[Payment], int]:
        """The file's payments the bank has or paid (not those it rejected), and their total."""
        payments = [p for p in self._batch_payments(batch) if p.status.at_bank or p.status is PaymentStatus.PAID]
        return payments, sum(p.amount_cents for p in payments)

    def _batch_debited(self, batch: SepaBatch, entry: StatementEntry, day: date | None) -> None:
        payments, total = self._standing(batch)
        if total != entry.amount_cents:
            self.anomalies.append(keep_anomaly(self.account_id, BankAnomaly(
                kind="amount", amount_cents=entry.amount_cents, reported_status="paid", reported_on=day,
                candidate_ids=[p.id for p in payments],
                message=(f"{_capital(self.source)} montre la remise {batch.reference} débitée de "
                         f"{format_amount(entry.amount_cents)} le {date_fr(day)}, alors que ses virements non "
                         f"rejetés font {format_amount(total)} : vérifiez avec votre banque quels virements sont "
                         "partis, puis marquez-les comme débités.")[:1000],
            ), self.record))
            return
        for payment in payments:
            self._paid(payment, day, None)

    def _debited_without_reference(self, entry: StatementEntry, day: date | None, iban: str) -> str | None:
        """A debit naming no transfer of Libeo's: one to a payee's IBAN, of an issued credit transfer, is
        matched by its amount, date and that IBAN. Any other (a card payment, a debit without a payee's IBAN)
        is none of Libeo's: a person who knows better says « Marquer comme débité »."""
        # A single transfer's detail may leave its amount to the entry's.
        alone = entry.amount_cents if len(entry.details) == 1 else None
        payees = [(d.amount_cents if d.amount_cents is not None else alone, d.creditor_iban) for d in entry.details]
        wanted = [(amount, payee) for amount, payee in payees if amount is not None and payee]
        if not entry.may_be_a_transfer or not wanted:
            self.unrelated += 1
            return None
        if self._guessed_before(entry, day, iban):
            self.repeated += 1
            return None
        matched = [self._guess(amount, day, payee, iban) for amount, payee in wanted]
        if not any(matched):
            self.unrelated += 1
            return None
        return "amount"

    def _guessed_before(self, entry: StatementEntry, day: date | None, iban: str) -> bool:
        """A debit matched by amount, date and IBAN by an earlier file, which told it without the bank's
        reference or tells it now without one: the same booking as far as anyone can tell."""
        query = select(BankBooking.id).where(
            BankBooking.account_id == self.account_id, BankBooking.iban == iban, BankBooking.matched_by == "amount",
            BankBooking.booked_on.is_not_distinct_from(day), BankBooking.direction == "DBIT",
            BankBooking.amount_cents == entry.amount_cents,
            BankBooking.counterparty_iban.is_not_distinct_from(_counterparty(entry)),
        )
        if entry.reference is not None:
            query = query.where(BankBooking.reference.is_(None))
        return db.session.scalar(query.limit(1)) is not None

    def _guess(self, amount: int, day: date | None, creditor_iban: str, iban: str) -> bool:
        """Matches a debit without references to the transfer of that amount to that IBAN, from a file of the
        account debited; False when it is none of Libeo's transfers."""
        if day is None:
            return False
        files = select(SepaBatch.id).where(SepaBatch.account_id == self.account_id,
                                           or_(SepaBatch.debtor_iban == iban, SepaBatch.debtor_iban.is_(None)))
        query = (
            select(Payment).options(joinedload(Payment.invoice))
            .where(Payment.account_id == self.account_id, Payment.status.in_(AT_BANK),
                   Payment.amount_cents == amount, Payment.creditor_iban == creditor_iban,
                   Payment.batch_id.in_(files),
                   Payment.execution_date <= day, Payment.execution_date >= day - MATCH_WINDOW)
            .order_by(Payment.execution_date, Payment.id)
        )
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
                     f" vers {mask_iban(creditor_iban)}, sans référence, que plusieurs virements "
                     f"peuvent être : {names}. Dites lequel a été débité.")[:1000],
        ), self.record))
        return True

    # A return: the payee's bank sent the transfer back; a reversal: the bank cancelled its own debit.

    def _returned(self, entry: StatementEntry, day: date | None) -> str | None:
        found = False
        for detail in entry.details:
            payment = self._payment(detail.end_to_end_id)
            if payment is None:
                continue
            found = True
            self._answered(payment)
            reason = failure_reason(detail.return_code, detail.return_text)
            when = f" le {date_fr(day)}" if day else ""
            self.facts.append(BankFact(
                payment.id, "failed", "RJCT", day=day, reason_code=detail.return_code, bank_text=detail.return_text,
                failure_reason=f"{reason} — retourné{when}"[:300], is_return=True,
            ))
        if found:
            return "return"
        batch = self._batch(entry)
        if batch is not None:
            self.files.add(batch.id)
            self._batch_credited(batch, entry, day)
            return "batch"
        self.unrelated += 1
        return None

    def _batch_credited(self, batch: SepaBatch, entry: StatementEntry, day: date | None) -> None:
        """A file's debit reversed (or the file sent back) as one credit: each of its payments is an anomaly,
        debited or not, for a person to confirm; a credit that is not the file's total, one anomaly."""
        payments, total = self._standing(batch)
        what = "annulé par la banque" if entry.reversal else "retourné"
        if total != entry.amount_cents:
            self.anomalies.append(keep_anomaly(self.account_id, BankAnomaly(
                kind="amount", amount_cents=entry.amount_cents, reported_status="failed", reported_on=day,
                candidate_ids=[p.id for p in payments],
                message=(f"{_capital(self.source)} montre le débit de la remise {batch.reference} {what} : "
                         f"{format_amount(entry.amount_cents)} recrédités le {date_fr(day)}, alors que ses virements "
                         f"non rejetés font {format_amount(total)} : vérifiez avec votre banque quels virements "
                         "n'ont pas été payés.")[:1000],
            ), self.record))
            return
        when = f" le {date_fr(day)}" if day else ""
        reason = f"Rejeté : débit de la remise {batch.reference} {what}{when}"
        for payment in payments:
            self.facts.append(BankFact(payment.id, "failed", "RJCT", day=day, failure_reason=reason[:300],
                                       to_confirm=True))

    # Helpers.

    def _answered(self, payment: Payment) -> None:
        """The bank booked a transfer of the payment's file: it has the file."""
        if payment.batch_id is not None:
            self.files.add(payment.batch_id)

    def _paid(self, payment: Payment, day: date | None, moment: datetime | None) -> None:
        self.matched.add(payment.id)
        self._answered(payment)
        self.facts.append(BankFact(payment.id, "paid", "BOOK", moment=moment, day=day))

    def _amount_anomaly(self, payment: Payment, amount: int, day: date | None) -> None:
        self.anomalies.append(keep_anomaly(self.account_id, BankAnomaly(
            kind="amount", payment_id=payment.id, amount_cents=amount, reported_status="paid", reported_on=day,
            message=(f"{_capital(self.source)} montre le virement de la facture {payment.invoice.number} à "
                     f"{payment.creditor_name} débité de {format_amount(amount)} le {date_fr(day)}, au lieu de "
                     f"{payment.amount_display} : vérifiez avec votre banque.")[:1000],
        ), self.record))

    def _total_anomaly(self, entry: StatementEntry, payments: list[Payment], total: int | None,
                       day: date | None) -> None:
        """One debit for several transfers that is not their total (or does not give each one's amount)."""
        names = " ; ".join(f"facture {p.invoice.number} : {p.amount_display} à {p.creditor_name}"
                           for p in payments[:10]) + (" ; …" if len(payments) > 10 else "")
        against = (f"alors qu'ils font {format_amount(total)}" if total is not None
                   else "sans donner le montant de chacun")
        self.anomalies.append(keep_anomaly(self.account_id, BankAnomaly(
            kind="amount", amount_cents=entry.amount_cents, reported_status="paid", reported_on=day,
            candidate_ids=[p.id for p in payments],
            message=(f"{_capital(self.source)} montre un débit de {format_amount(entry.amount_cents)} le "
                     f"{date_fr(day)} pour {len(entry.details)} virements, {against} ({names}) : aucun n'est "
                     "marqué débité ; vérifiez avec votre banque quels virements sont partis, puis marquez-les "
                     "comme débités.")[:1000],
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


def _counterparty(entry: StatementEntry) -> str | None:
    """The payee's IBAN of an entry paying one payee (what a debit without references is matched on)."""
    ibans = {d.creditor_iban for d in entry.details}
    return ibans.pop() if len(ibans) == 1 else None


def recent_imports(account: Account, limit: int = 10) -> list[BankStatusImport]:
    """The account's latest bank files imported, newest first (« Remises »)."""
    return list(db.session.scalars(
        select(BankStatusImport).where(BankStatusImport.account_id == account.id)
        .order_by(BankStatusImport.imported_at.desc(), BankStatusImport.id.desc()).limit(limit)
    ))
