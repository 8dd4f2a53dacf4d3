"""What a bank would send back for a SEPA file (pain.001.001.03): its status report (pain.002.001.03),
and the statement or debit notification of the account it debits (camt.053.001.02, camt.054.001.02).

Tests and developers use it to play the bank's part after « Remises »:

    python -m devtools.bank_simulator LBO-20261130091502-1.xml > pain002.xml
    python -m devtools.bank_simulator FILE --reject LIBEO-12:AC04 --reject LIBEO-13:AM04 > pain002.xml
    python -m devtools.bank_simulator FILE --group-status RJCT --group-reason FF01 > pain002.xml
    python -m devtools.bank_simulator FILE --camt054 --booking-date 2026-12-14 > camt054.xml
    python -m devtools.bank_simulator FILE --camt054 --return LIBEO-12:AC04 > camt054.xml

Status report: every transfer gets ``default`` (ACSC: debited) unless
``statuses`` names it. With ``group_status`` and no ``statuses``, the report
speaks for the whole file only, as a bank does when it rejects a file
outright. With ``only_exceptions``, the transfers that went through are not
listed (many French banks report only the rejections), and the file's status
says PART. ``texts`` gives a transfer the bank's own words (AddtlInf), split
into elements of 105 characters as banks do.

Statement (``statement_for``): the debits of the file's transfers, one entry
each or one for the whole file (batch booking, with or without each
transfer's details), returns of transfers sent back by the payee's bank,
and entries that are none of Libeo's.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import sepaxml
from lxml import etree

from models.libeo.payments.bank_statement import KINDS
from models.libeo.payments.bank_status import ADDITIONAL_INFO_LENGTH, NAMESPACE, XSD_PATH, outcome

PAIN001_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"
PAIN001_XSD_PATH = Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"
TRANSACTION_STATUSES = ("ACTC", "ACCP", "ACSP", "ACSC", "ACWC", "PDNG", "RJCT")
GROUP_STATUSES = TRANSACTION_STATUSES + ("PART", "RCVD")
CAMT_NAMESPACES = {kind: namespace for namespace, (kind, *_rest) in KINDS.items()}


@dataclass(frozen=True)
class _Transfer:
    end_to_end_id: str
    instruction_id: str | None
    amount: str
    currency: str
    creditor_name: str | None = None
    creditor_iban: str | None = None


@dataclass(frozen=True)
class _Block:
    payment_info_id: str
    execution_date: str | None
    control_sum: str | None
    transfers: tuple[_Transfer, ...]
    debtor_iban: str | None = None


def status_report_for(
    pain001: bytes,
    statuses: dict[str, tuple[str, str | None]] | None = None,
    default: str = "ACSC",
    group_status: str | None = None,
    *,
    group_reason: str | None = None,
    only_exceptions: bool = False,
    created_at: datetime | None = None,
    texts: dict[str, str] | None = None,
    accepted_at: datetime | None = None,
) -> bytes:
    """The pain.002.001.03 a bank would send for ``pain001``; valid against the official XSD.

    ``statuses`` maps an EndToEndId to (TxSts, reason code or None); ``texts``
    an EndToEndId to the bank's words; ``accepted_at`` is each listed
    transfer's AccptncDtTm.
    """
    header, blocks = _read_pain001(pain001)
    if not any(block.transfers for block in blocks):
        raise ValueError("Ce fichier ne contient aucun virement.")
    statuses = dict(statuses or {})
    _check_statuses(statuses, default, group_status, blocks)
    created_at = created_at or datetime.now(UTC).replace(microsecond=0)

    document = etree.Element(f"{{{NAMESPACE}}}Document", nsmap={None: NAMESPACE})
    report = _add(document, "CstmrPmtStsRpt")
    group_header = _add(report, "GrpHdr")
    _add(group_header, "MsgId", f"PSR-{created_at:%Y%m%d}-{secrets.token_hex(6).upper()}")
    _add(group_header, "CreDtTm", created_at.isoformat())

    every_status = [statuses.get(t.end_to_end_id, (default, None))[0] for b in blocks for t in b.transfers]
    group = _add(report, "OrgnlGrpInfAndSts")
    _add(group, "OrgnlMsgId", header["MsgId"])
    _add(group, "OrgnlMsgNmId", "pain.001.001.03")
    for name in ("CreDtTm", "NbOfTxs", "CtrlSum"):
        if header.get(name):
            _add(group, f"Orgnl{name}", header[name])
    _add(group, "GrpSts", group_status or _summary(every_status))
    _add_reason(group, group_reason)
    if group_status is not None and not statuses:
        return _serialise(document)  # the whole file's fate, no detail

    for block in blocks:
        _add_block(report, block, statuses, default, only_exceptions, texts or {}, accepted_at)
    return _serialise(document)


def _read_pain001(pain001: bytes) -> tuple[dict[str, str], list[_Block]]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(pain001, parser)
    except etree.XMLSyntaxError as error:
        raise ValueError(f"Ce fichier n'est pas du XML lisible : {error}") from None
    if etree.QName(root).namespace != PAIN001_NAMESPACE:
        raise ValueError("Ce fichier n'est pas un ordre de virement pain.001.001.03.")
    schema = etree.XMLSchema(etree.parse(str(PAIN001_XSD_PATH)))
    if not schema.validate(root):
        raise ValueError(f"Ce fichier pain.001.001.03 ne respecte pas son schéma XSD : {schema.error_log.last_error}")
    ns = {"p": PAIN001_NAMESPACE}
    initiation = root.find("p:CstmrCdtTrfInitn", ns)
    fields = ("MsgId", "CreDtTm", "NbOfTxs", "CtrlSum")
    header = {name: initiation.findtext(f"p:GrpHdr/p:{name}", namespaces=ns) for name in fields}
    blocks = []
    for info in initiation.findall("p:PmtInf", ns):
        transfers = tuple(
            _Transfer(
                end_to_end_id=tx.findtext("p:PmtId/p:EndToEndId", namespaces=ns),
                instruction_id=tx.findtext("p:PmtId/p:InstrId", namespaces=ns),
                amount=tx.findtext("p:Amt/p:InstdAmt", namespaces=ns),
                currency=tx.find("p:Amt/p:InstdAmt", ns).get("Ccy"),
                creditor_name=tx.findtext("p:Cdtr/p:Nm", namespaces=ns),
                creditor_iban=tx.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=ns),
            )
            for tx in info.findall("p:CdtTrfTxInf", ns)
        )
        blocks.append(
            _Block(
                payment_info_id=info.findtext("p:PmtInfId", namespaces=ns),
                execution_date=info.findtext("p:ReqdExctnDt", namespaces=ns),
                control_sum=info.findtext("p:CtrlSum", namespaces=ns),
                transfers=transfers,
                debtor_iban=info.findtext("p:DbtrAcct/p:Id/p:IBAN", namespaces=ns),
            )
        )
    return header, blocks


def _check_statuses(statuses: dict, default: str, group_status: str | None, blocks: list[_Block]) -> None:
    known = {t.end_to_end_id for b in blocks for t in b.transfers}
    unknown = sorted(set(statuses) - known)
    if unknown:
        raise ValueError(f"Virements absents du fichier : {', '.join(unknown)}")
    for status in [default] + [s for s, _ in statuses.values()]:
        if status not in TRANSACTION_STATUSES:
            raise ValueError(f"Statut de virement inconnu : {status} (attendu : {', '.join(TRANSACTION_STATUSES)})")
    if group_status is not None and group_status not in GROUP_STATUSES:
        raise ValueError(f"Statut de fichier inconnu : {group_status} (attendu : {', '.join(GROUP_STATUSES)})")


def _summary(statuses: list[str]) -> str:
    """The status of a file or block: its transfers' common status, else PART."""
    return statuses[0] if len(set(statuses)) == 1 else "PART"


def _add_block(report, block: _Block, statuses: dict, default: str, only_exceptions: bool, texts: dict,
               accepted_at: datetime | None) -> None:
    element = _add(report, "OrgnlPmtInfAndSts")
    _add(element, "OrgnlPmtInfId", block.payment_info_id)
    _add(element, "OrgnlNbOfTxs", str(len(block.transfers)))
    if block.control_sum:
        _add(element, "OrgnlCtrlSum", block.control_sum)
    own = [statuses.get(t.end_to_end_id, (default, None)) for t in block.transfers]
    _add(element, "PmtInfSts", _summary([s for s, _ in own]))
    for transfer, (status, reason) in zip(block.transfers, own, strict=True):
        if only_exceptions and outcome(status) != "failed":
            continue
        tx = _add(element, "TxInfAndSts")
        if transfer.instruction_id:
            _add(tx, "OrgnlInstrId", transfer.instruction_id)
        _add(tx, "OrgnlEndToEndId", transfer.end_to_end_id)
        _add(tx, "TxSts", status)
        _add_reason(tx, reason, texts.get(transfer.end_to_end_id))
        if accepted_at is not None:
            _add(tx, "AccptncDtTm", accepted_at.isoformat())
        reference = _add(tx, "OrgnlTxRef")
        _add(_add(reference, "Amt"), "InstdAmt", transfer.amount).set("Ccy", transfer.currency)
        if block.execution_date:
            _add(reference, "ReqdExctnDt", block.execution_date)


def _add_reason(parent, code: str | None, text: str | None = None) -> None:
    if code or text:
        info = _add(parent, "StsRsnInf")
        if code:
            # ISO codes have four characters; a bank's own codes are « proprietary ».
            _add(_add(info, "Rsn"), "Cd" if len(code) <= 4 else "Prtry", code)
        for piece in split_additional_info(text):
            _add(info, "AddtlInf", piece)


def split_additional_info(text: str | None) -> list[str]:
    """The bank's words cut into AddtlInf elements of at most 105 characters, wherever the limit falls."""
    text = text or ""
    return [text[i:i + ADDITIONAL_INFO_LENGTH] for i in range(0, len(text), ADDITIONAL_INFO_LENGTH)]


def _add(parent, name: str, text: str | None = None):
    element = etree.SubElement(parent, f"{{{NAMESPACE}}}{name}")
    if text is not None:
        element.text = text
    return element


def _serialise(document, xsd: Path = XSD_PATH) -> bytes:
    schema = etree.XMLSchema(etree.parse(str(xsd)))
    schema.assertValid(document)
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# Statements: camt.053.001.02 and camt.054.001.02.


@dataclass(frozen=True)
class OtherEntry:
    """An entry of the account that is none of Libeo's transfers (a card payment, a customer's transfer…),
    or one without references (``creditor_iban`` and the amount of a transfer, no EndToEndId)."""

    amount: str
    debit: bool = True
    label: str = "PAIEMENT CB BOULANGERIE FOURNIL"
    creditor_iban: str | None = None
    creditor_name: str | None = None


def statement_for(
    pain001: bytes,
    *,
    kind: str = "camt.054",
    booking_date: date | None = None,
    debited: Iterable[str] | None = None,
    batch_booking: bool = False,
    with_details: bool = True,
    returns: dict[str, tuple[str, str | None]] | None = None,
    return_date: date | None = None,
    others: Iterable[OtherEntry] = (),
    iban: str | None = None,
    currency: str = "EUR",
    created_at: datetime | None = None,
    message_id: str | None = None,
) -> bytes:
    """The camt.054 (debit notification) or camt.053 (statement) of the account ``pain001`` debits.

    ``debited``: the EndToEndIds booked as debits (all by default);
    ``batch_booking``: one entry for the whole file, naming it (Btch), with
    each transfer's details unless ``with_details`` is False; ``returns``:
    EndToEndId → (return reason code, the bank's words), each a credit
    entry booked on ``return_date``; ``others``: entries that are none of
    Libeo's. Valid against the official XSD.
    """
    header, blocks = _read_pain001(pain001)
    transfers = {t.end_to_end_id: (t, b) for b in blocks for t in b.transfers}
    wanted = list(transfers) if debited is None else list(debited)
    unknown = sorted(set(wanted) - set(transfers) | set(returns or {}) - set(transfers))
    if unknown:
        raise ValueError(f"Virements absents du fichier : {', '.join(unknown)}")
    if kind not in CAMT_NAMESPACES:
        raise ValueError(f"Type de relevé inconnu : {kind} (attendu : camt.053 ou camt.054)")
    namespace = CAMT_NAMESPACES[kind]
    created_at = created_at or datetime.now(UTC).replace(microsecond=0)
    # By default the file's execution date, or today when that is later: a bank books nothing in the future
    # (Libeo refuses such a file), and Libeo never dates a debit before the execution date asked for.
    booked = booking_date or min(date.fromisoformat(blocks[0].execution_date or created_at.date().isoformat()),
                                 created_at.astimezone(ZoneInfo("Europe/Paris")).date())
    add = _adder(namespace)

    document = etree.Element(f"{{{namespace}}}Document", nsmap={None: namespace})
    message = add(document, "BkToCstmrStmt" if kind == "camt.053" else "BkToCstmrDbtCdtNtfctn")
    group_header = add(message, "GrpHdr")
    add(group_header, "MsgId", message_id or f"{kind.upper().replace('.', '')}-{created_at:%Y%m%d}-"
        f"{secrets.token_hex(4).upper()}")
    add(group_header, "CreDtTm", created_at.isoformat())
    report = add(message, "Stmt" if kind == "camt.053" else "Ntfctn")
    add(report, "Id", f"{kind.upper()}-{secrets.token_hex(6).upper()}")
    add(report, "CreDtTm", created_at.isoformat())
    account = add(report, "Acct")
    add(add(account, "Id"), "IBAN", iban or blocks[0].debtor_iban)
    add(account, "Ccy", currency)
    if kind == "camt.053":
        for code in ("OPBD", "CLBD"):
            balance = add(report, "Bal")
            add(add(add(balance, "Tp"), "CdOrPrtry"), "Cd", code)
            add(balance, "Amt", "25000.00").set("Ccy", currency)
            add(balance, "CdtDbtInd", "CRDT")
            add(add(balance, "Dt"), "Dt", booked.isoformat())

    if batch_booking and wanted:
        by_block: dict[str, list[_Transfer]] = {}
        for e2e in wanted:
            transfer, block = transfers[e2e]
            by_block.setdefault(block.payment_info_id, []).append(transfer)
        for block in blocks:
            if block.payment_info_id in by_block:
                _batch_entry(add, report, header["MsgId"], block, by_block[block.payment_info_id], booked, currency,
                             with_details)
    else:
        for e2e in wanted:
            transfer, block = transfers[e2e]
            _transfer_entry(add, report, header["MsgId"], block, transfer, booked, currency)
    for e2e, (code, text) in (returns or {}).items():
        transfer, block = transfers[e2e]
        _return_entry(add, report, header["MsgId"], block, transfer, return_date or booked, currency, code, text)
    for other in others:
        _other_entry(add, report, other, booked, currency)
    return _serialise(document, KINDS[namespace][1])


def _adder(namespace: str):
    def add(parent, name: str, text: str | None = None):
        element = etree.SubElement(parent, f"{{{namespace}}}{name}")
        if text is not None:
            element.text = text
        return element
    return add


def _entry(add, report, amount: str, currency: str, debit: bool, booked: date, family: str, sub_family: str):
    entry = add(report, "Ntry")
    add(entry, "NtryRef", secrets.token_hex(5).upper())
    add(entry, "Amt", amount).set("Ccy", currency)
    add(entry, "CdtDbtInd", "DBIT" if debit else "CRDT")
    add(entry, "Sts", "BOOK")
    add(add(entry, "BookgDt"), "Dt", booked.isoformat())
    add(add(entry, "ValDt"), "Dt", booked.isoformat())
    add(entry, "AcctSvcrRef", f"BQ{secrets.token_hex(8).upper()}")
    domain = add(add(entry, "BkTxCd"), "Domn")
    add(domain, "Cd", "PMNT")
    code = add(domain, "Fmly")
    add(code, "Cd", family)
    add(code, "SubFmlyCd", sub_family)
    return entry


def _details(add, parent, message_id: str | None, block: _Block | None, transfer: _Transfer | None, amount: str,
             currency: str, *, references: bool = True, creditor_iban: str | None = None,
             creditor_name: str | None = None):
    tx = add(parent, "TxDtls")
    if references and transfer is not None and block is not None:
        refs = add(tx, "Refs")
        add(refs, "MsgId", message_id)
        add(refs, "PmtInfId", block.payment_info_id)
        add(refs, "EndToEndId", transfer.end_to_end_id)
    add(add(add(tx, "AmtDtls"), "TxAmt"), "Amt", amount).set("Ccy", currency)
    iban = creditor_iban or (transfer.creditor_iban if transfer else None)
    name = creditor_name or (transfer.creditor_name if transfer else None)
    if iban or name:
        parties = add(tx, "RltdPties")
        if name:
            add(add(parties, "Cdtr"), "Nm", name)
        if iban:
            add(add(add(parties, "CdtrAcct"), "Id"), "IBAN", iban)
    return tx


def _transfer_entry(add, report, message_id, block, transfer, booked, currency) -> None:
    entry = _entry(add, report, transfer.amount, currency, True, booked, "ICDT", "ESCT")
    _details(add, add(entry, "NtryDtls"), message_id, block, transfer, transfer.amount, currency)


def _batch_entry(add, report, message_id, block, transfers, booked, currency, with_details) -> None:
    total = f"{sum(Decimal(t.amount) for t in transfers):.2f}"
    entry = _entry(add, report, total, currency, True, booked, "ICDT", "ESCT")
    details = add(entry, "NtryDtls")
    batch = add(details, "Btch")
    add(batch, "MsgId", message_id)
    add(batch, "PmtInfId", block.payment_info_id)
    add(batch, "NbOfTxs", str(len(transfers)))
    add(batch, "TtlAmt", total).set("Ccy", currency)
    add(batch, "CdtDbtInd", "DBIT")
    if with_details:
        for transfer in transfers:
            _details(add, details, message_id, block, transfer, transfer.amount, currency)


def _return_entry(add, report, message_id, block, transfer, booked, currency, code, text) -> None:
    entry = _entry(add, report, transfer.amount, currency, False, booked, "ICDT", "RRTN")
    tx = _details(add, add(entry, "NtryDtls"), message_id, block, transfer, transfer.amount, currency)
    returned = add(tx, "RtrInf")
    add(add(returned, "Rsn"), "Cd" if len(code) <= 4 else "Prtry", code)
    for piece in split_additional_info(text):
        add(returned, "AddtlInf", piece)


def _other_entry(add, report, other: OtherEntry, booked, currency) -> None:
    family, sub_family = ("ICDT", "ESCT") if other.creditor_iban else (
        ("CCRD", "POSD") if other.debit else ("RCDT", "ESCT"))
    entry = _entry(add, report, other.amount, currency, other.debit, booked, family, sub_family)
    if other.creditor_iban or other.creditor_name:
        _details(add, add(entry, "NtryDtls"), None, None, None, other.amount, currency, references=False,
                 creditor_iban=other.creditor_iban, creditor_name=other.creditor_name)
    else:
        add(entry, "AddtlNtryInf", other.label)


def _status_option(value: str) -> tuple[str, str, str | None]:
    """« LIBEO-12:RJCT:AC04 », « LIBEO-12:ACSP »."""
    parts = value.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise argparse.ArgumentTypeError(f"attendu E2E_ID:STATUT[:MOTIF], pas {value!r}")
    return parts[0], parts[1].upper(), parts[2].upper() if len(parts) == 3 else None


def _reject_option(value: str) -> tuple[str, str, str | None]:
    """« LIBEO-12:AC04 »."""
    end_to_end_id, _, code = value.rpartition(":")
    if not end_to_end_id or not code:
        raise argparse.ArgumentTypeError(f"attendu E2E_ID:MOTIF, pas {value!r}")
    return end_to_end_id, "RJCT", code.upper()


def _end_to_end_ids(pain001: bytes) -> list[str]:
    return [t.end_to_end_id for b in _read_pain001(pain001)[1] for t in b.transfers]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.bank_simulator",
        description="Écrit sur la sortie standard le relevé de statut (pain.002.001.03) qu'une banque "
        "renverrait pour un fichier de virements pain.001.001.03.",
    )
    parser.add_argument("pain001", type=Path, help="le fichier SEPA téléchargé depuis « Remises »")
    parser.add_argument("--reject", action="append", default=[], type=_reject_option, metavar="E2E_ID:MOTIF",
                        help="rejette ce virement avec ce motif (ex. LIBEO-12:AC04) ; répétable")
    parser.add_argument("--status", action="append", default=[], type=_status_option,
                        metavar="E2E_ID:STATUT[:MOTIF]", help="donne ce statut à ce virement ; répétable")
    parser.add_argument("--default", default="ACSC", type=str.upper, help="statut des autres virements (ACSC)")
    parser.add_argument("--group-status", type=str.upper, help="statut du fichier entier (ex. RJCT)")
    parser.add_argument("--group-reason", type=str.upper, help="motif du statut du fichier (ex. FF01)")
    parser.add_argument("--only-exceptions", action="store_true",
                        help="ne liste que les virements qui ne sont pas passés")
    parser.add_argument("--camt054", action="store_const", const="camt.054", dest="statement",
                        help="écrit l'avis de débit (camt.054.001.02) du compte au lieu du relevé de statut")
    parser.add_argument("--camt053", action="store_const", const="camt.053", dest="statement",
                        help="écrit le relevé de compte (camt.053.001.02) du compte au lieu du relevé de statut")
    parser.add_argument("--booking-date", type=date.fromisoformat, help="date de comptabilisation (AAAA-MM-JJ)")
    parser.add_argument("--batch-booking", action="store_true", help="un seul débit pour tout le fichier")
    parser.add_argument("--return", dest="returns", action="append", default=[], type=_reject_option,
                        metavar="E2E_ID:MOTIF", help="virement retourné par la banque du bénéficiaire ; répétable")
    args = parser.parse_args(argv)
    statuses = {e2e: (status, reason) for e2e, status, reason in args.status + args.reject}
    try:
        if args.statement:
            returns: dict[str, tuple[str, str | None]] = {e2e: (reason, None) for e2e, _, reason in args.returns}
            report = statement_for(
                args.pain001.read_bytes(), kind=args.statement, booking_date=args.booking_date,
                debited=[e2e for e2e in _end_to_end_ids(args.pain001.read_bytes()) if e2e not in returns],
                batch_booking=args.batch_booking, returns=returns,
            )
        else:
            report = status_report_for(
                args.pain001.read_bytes(),
                statuses or None,
                default=args.default,
                group_status=args.group_status,
                group_reason=args.group_reason,
                only_exceptions=args.only_exceptions,
            )
    except (OSError, ValueError) as error:
        print(f"bank_simulator : {error}", file=sys.stderr)
        return 2
    sys.stdout.buffer.write(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
