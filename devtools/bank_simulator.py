"""What a bank would send back: a status report (pain.002.001.03) answering a SEPA file (pain.001.001.03).

Tests and developers use it to play the bank's part after « Remises »:

    python -m devtools.bank_simulator LBO-1-20261130-AB12CD34.xml > pain002.xml
    python -m devtools.bank_simulator FILE --reject LIBEO-12:AC04 --reject LIBEO-13:AM04 > pain002.xml
    python -m devtools.bank_simulator FILE --group-status RJCT --group-reason FF01 > pain002.xml

Every transfer gets ``default`` (ACSC: debited) unless ``statuses`` names it.
With ``group_status`` and no ``statuses``, the report speaks for the whole
file only, as a bank does when it rejects a file outright. With
``only_exceptions``, the transfers that went through are not listed (many
French banks report only the rejections), and the file's status says PART.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sepaxml
from lxml import etree

from models.libeo.payments.bank_status import NAMESPACE, XSD_PATH, outcome

PAIN001_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"
PAIN001_XSD_PATH = Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"
TRANSACTION_STATUSES = ("ACTC", "ACCP", "ACSP", "ACSC", "ACWC", "PDNG", "RJCT")
GROUP_STATUSES = TRANSACTION_STATUSES + ("PART", "RCVD")


@dataclass(frozen=True)
class _Transfer:
    end_to_end_id: str
    instruction_id: str | None
    amount: str
    currency: str


@dataclass(frozen=True)
class _Block:
    payment_info_id: str
    execution_date: str | None
    control_sum: str | None
    transfers: tuple[_Transfer, ...]


def status_report_for(
    pain001: bytes,
    statuses: dict[str, tuple[str, str | None]] | None = None,
    default: str = "ACSC",
    group_status: str | None = None,
    *,
    group_reason: str | None = None,
    only_exceptions: bool = False,
    created_at: datetime | None = None,
) -> bytes:
    """The pain.002.001.03 a bank would send for ``pain001``; valid against the official XSD.

    ``statuses`` maps an EndToEndId to (TxSts, reason code or None).
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
        _add_block(report, block, statuses, default, only_exceptions)
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
            )
            for tx in info.findall("p:CdtTrfTxInf", ns)
        )
        blocks.append(
            _Block(
                payment_info_id=info.findtext("p:PmtInfId", namespaces=ns),
                execution_date=info.findtext("p:ReqdExctnDt", namespaces=ns),
                control_sum=info.findtext("p:CtrlSum", namespaces=ns),
                transfers=transfers,
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


def _add_block(report, block: _Block, statuses: dict, default: str, only_exceptions: bool) -> None:
    element = _add(report, "OrgnlPmtInfAndSts")
    _add(element, "OrgnlPmtInfId", block.payment_info_id)
    _add(element, "OrgnlNbOfTxs", str(len(block.transfers)))
    if block.control_sum:
        _add(element, "OrgnlCtrlSum", block.control_sum)
    own = [statuses.get(t.end_to_end_id, (default, None)) for t in block.transfers]
    _add(element, "PmtInfSts", _summary([s for s, _ in own]))
    for transfer, (status, reason) in zip(block.transfers, own):
        if only_exceptions and outcome(status) == "paid":
            continue
        tx = _add(element, "TxInfAndSts")
        if transfer.instruction_id:
            _add(tx, "OrgnlInstrId", transfer.instruction_id)
        _add(tx, "OrgnlEndToEndId", transfer.end_to_end_id)
        _add(tx, "TxSts", status)
        _add_reason(tx, reason)
        reference = _add(tx, "OrgnlTxRef")
        _add(_add(reference, "Amt"), "InstdAmt", transfer.amount).set("Ccy", transfer.currency)
        if block.execution_date:
            _add(reference, "ReqdExctnDt", block.execution_date)


def _add_reason(parent, code: str | None) -> None:
    if code:
        reason = _add(_add(parent, "StsRsnInf"), "Rsn")
        # ISO codes have four characters; a bank's own codes are « proprietary ».
        _add(reason, "Cd" if len(code) <= 4 else "Prtry", code)


def _add(parent, name: str, text: str | None = None):
    element = etree.SubElement(parent, f"{{{NAMESPACE}}}{name}")
    if text is not None:
        element.text = text
    return element


def _serialise(document) -> bytes:
    schema = etree.XMLSchema(etree.parse(str(XSD_PATH)))
    schema.assertValid(document)
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)


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
    args = parser.parse_args(argv)
    statuses = {e2e: (status, reason) for e2e, status, reason in args.status + args.reject}
    try:
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
