"""Reading the bank's account statements: camt.053.001.02 (statement) and camt.054.001.02 (debit notification).

French banks deliver both through EBICS or their website: the statement of
the day (camt.053) and a notification per debit or credit (camt.054). Each
entry (``Ntry``) booked on the account (``Sts`` BOOK) is a fact: the transfer
left the account on its booking date. A SEPA file booked as one debit (batch
booking) is one entry whose details (``NtryDtls``) name the file
(``Btch``/``MsgId``, ``PmtInfId``) and, at some banks, each transfer
(``TxDtls`` with its ``EndToEndId``). A transfer the payee's bank sent back
is a credit entry carrying the original references and the return's reason
(``RtrInf``).

This module reads a file, safely and checked against the official XSD, into
plain data; matching entries with payments is ``bank_status_import``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

from lxml import etree

from core.dates import PARIS
from core.money import MAX_AMOUNT_CENTS, format_amount
from models.libeo.payments.bank_status import (
    BankStatusError,
    bank_date,
    bank_datetime,
    join_additional_info,
    validate_schema,
)

SCHEMAS = Path(__file__).parent / "schemas"
# The official ISO 20022 schemas (see schemas/README.md).
KINDS: dict[str, tuple[Kind, Path, str, str]] = {
    # namespace: (kind, XSD, root element, statement element)
    "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02": (
        "camt.053", SCHEMAS / "camt.053.001.02.xsd", "BkToCstmrStmt", "Stmt"),
    "urn:iso:std:iso:20022:tech:xsd:camt.054.001.02": (
        "camt.054", SCHEMAS / "camt.054.001.02.xsd", "BkToCstmrDbtCdtNtfctn", "Ntfctn"),
}
NAMES = {"camt.053": "relevé de compte camt.053.001.02", "camt.054": "avis de débit camt.054.001.02"}
# The bank transaction code of a transfer sent back by the payee's bank (issued credit transfer, reversal).
RETURN_SUB_FAMILIES = frozenset({"RRTN", "RPCR"})
# The bank transaction code's domain and family of an issued credit transfer (a card payment is PMNT/CCRD…).
ISSUED_CREDIT_TRANSFERS = "PMNT/ICDT/"

Kind = Literal["camt.053", "camt.054"]


@dataclass(frozen=True)
class EntryDetail:
    """One transaction of an entry (``TxDtls``): the references of one transfer."""

    end_to_end_id: str | None
    message_id: str | None  # Refs/MsgId: the pain.001 file
    payment_info_id: str | None  # Refs/PmtInfId: its block
    amount_cents: int | None  # in the entry's currency; None when the transaction does not say it in that one
    currency: str | None
    creditor_iban: str | None
    creditor_name: str | None
    accepted_at: datetime | None  # RltdDts/AccptncDtTm
    return_code: str | None  # RtrInf/Rsn: why the payee's bank sent it back
    return_text: str | None  # RtrInf/AddtlInf, joined as the bank wrote it
    is_return: bool


@dataclass(frozen=True)
class StatementEntry:
    """One entry (``Ntry``) of the account."""

    amount_cents: int
    currency: str
    debit: bool  # CdtDbtInd DBIT: money left the account
    reversal: bool  # RvslInd: the entry cancels an earlier one
    booked: bool  # Sts BOOK (PDNG and INFO entries prove nothing yet)
    booking_date: date | None  # BookgDt
    value_date: date | None  # ValDt
    reference: str | None  # AcctSvcrRef, else NtryRef
    # BkTxCd/Domn, « PMNT/ICDT/ESCT » (domain, family, sub-family); None when the bank gives only its own code.
    transaction_code: str | None
    batch_message_id: str | None  # NtryDtls/Btch/MsgId: the pain.001 booked as one debit
    batch_payment_info_id: str | None  # NtryDtls/Btch/PmtInfId
    details: tuple[EntryDetail, ...]
    is_return: bool

    @property
    def end_to_end_ids(self) -> tuple[str, ...]:
        return tuple(d.end_to_end_id for d in self.details if d.end_to_end_id)

    @property
    def may_be_a_transfer(self) -> bool:
        """An issued credit transfer by its bank transaction code, or one the bank codes its own way."""
        return self.transaction_code is None or self.transaction_code.startswith(ISSUED_CREDIT_TRANSFERS)


@dataclass(frozen=True)
class AccountReport:
    """One statement (``Stmt``) or notification (``Ntfctn``) of one bank account."""

    identification: str
    iban: str | None
    currency: str | None  # Acct/Ccy, when the bank says
    created_at: datetime | None
    entries: tuple[StatementEntry, ...]


@dataclass(frozen=True)
class BankStatement:
    kind: Kind
    message_id: str  # GrpHdr/MsgId
    created_at: datetime | None  # GrpHdr/CreDtTm
    accounts: tuple[AccountReport, ...]

    @property
    def name(self) -> str:
        return NAMES[self.kind]


TRANSACTION_AMOUNTS = ("AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt")


def statement_kind(root: etree._Element) -> Kind | None:
    """« camt.053 » or « camt.054 » when ``root`` is one of them (by its namespace), else None."""
    found = KINDS.get(etree.QName(root).namespace or "")
    return found[0] if found else None


def statement_of(root: etree._Element) -> BankStatement:
    """The statement ``root`` is, once checked against its official XSD; BankStatusError otherwise."""
    namespace = etree.QName(root).namespace or ""
    kind, xsd, top, each = KINDS[namespace]
    validate_schema(root, xsd, namespace, NAMES[kind])
    reader = _Reader(namespace)
    message = reader.child(root, top)
    header = reader.child(message, "GrpHdr")
    return BankStatement(
        kind=kind,
        message_id=reader.text(header, "MsgId") or "",
        created_at=bank_datetime(reader.text(header, "CreDtTm")),
        accounts=tuple(reader.account(element) for element in reader.children(message, each)),
    )


class _Reader:
    """Reads the elements of one namespace (camt.053 and camt.054 share their entries' structure)."""

    def __init__(self, namespace: str) -> None:
        self.ns = namespace

    def child(self, element, path: str):
        return element.find("/".join(f"{{{self.ns}}}{name}" for name in path.split("/")))

    def children(self, element, path: str) -> list:
        return element.findall("/".join(f"{{{self.ns}}}{name}" for name in path.split("/")))

    def text(self, element, path: str) -> str | None:
        if element is None:
            return None
        found = self.child(element, path)
        return _clean(found.text) if found is not None else None

    def account(self, element) -> AccountReport:
        return AccountReport(
            identification=self.text(element, "Id") or "",
            iban=(self.text(element, "Acct/Id/IBAN") or "").replace(" ", "").upper() or None,
            currency=self.text(element, "Acct/Ccy"),
            created_at=bank_datetime(self.text(element, "CreDtTm")),
            entries=tuple(self.entry(entry) for entry in self.children(element, "Ntry")),
        )

    def entry(self, element) -> StatementEntry:
        amount = self.child(element, "Amt")
        currency = (amount.get("Ccy") or "").upper()
        details = tuple(self.detail(tx, currency) for tx in self.children(element, "NtryDtls/TxDtls"))
        batch = self.child(element, "NtryDtls/Btch")
        sub_family = self.text(element, "BkTxCd/Domn/Fmly/SubFmlyCd")
        return StatementEntry(
            amount_cents=_cents(amount.text),
            currency=currency,
            debit=self.text(element, "CdtDbtInd") == "DBIT",
            reversal=(self.text(element, "RvslInd") or "").lower() == "true",
            booked=self.text(element, "Sts") == "BOOK",
            booking_date=self.day(element, "BookgDt"),
            value_date=self.day(element, "ValDt"),
            reference=self.text(element, "AcctSvcrRef") or self.text(element, "NtryRef"),
            transaction_code=self.transaction_code(element),
            batch_message_id=self.text(batch, "MsgId"),
            batch_payment_info_id=self.text(batch, "PmtInfId"),
            details=details,
            is_return=sub_family in RETURN_SUB_FAMILIES or any(d.is_return for d in details),
        )

    def detail(self, element, currency: str) -> EntryDetail:
        """One transaction of an entry in ``currency``: its amount is the one said in that currency (the
        transaction's, else the instructed one); said only in another (a conversion), it is not the amount the
        account moved by, and the detail gives none."""
        amount = next((found for found in (self.child(element, path) for path in TRANSACTION_AMOUNTS)
                       if found is not None and (found.get("Ccy") or "").upper() == currency), None)
        returned = self.child(element, "RtrInf")
        code = (self.text(returned, "Rsn/Cd") or self.text(returned, "Rsn/Prtry")) if returned is not None else None
        pieces = [e.text for e in self.children(returned, "AddtlInf") if e.text] if returned is not None else []
        sub_family = self.text(element, "BkTxCd/Domn/Fmly/SubFmlyCd")
        return EntryDetail(
            end_to_end_id=self.text(element, "Refs/EndToEndId"),
            message_id=self.text(element, "Refs/MsgId"),
            payment_info_id=self.text(element, "Refs/PmtInfId"),
            amount_cents=_cents(amount.text) if amount is not None else None,
            currency=(amount.get("Ccy") or "").upper() if amount is not None else None,
            creditor_iban=(self.text(element, "RltdPties/CdtrAcct/Id/IBAN") or "").replace(" ", "").upper() or None,
            creditor_name=self.text(element, "RltdPties/Cdtr/Nm"),
            accepted_at=bank_datetime(self.text(element, "RltdDts/AccptncDtTm")),
            return_code=code,
            return_text=join_additional_info(pieces),
            is_return=returned is not None or sub_family in RETURN_SUB_FAMILIES,
        )

    def transaction_code(self, element) -> str | None:
        codes = [self.text(element, f"BkTxCd/Domn/{path}") for path in ("Cd", "Fmly/Cd", "Fmly/SubFmlyCd")]
        return "/".join(code or "" for code in codes) if codes[0] else None

    def day(self, element, name: str) -> date | None:
        found = self.text(element, f"{name}/Dt")
        if found:
            return bank_date(found)
        moment = bank_datetime(self.text(element, f"{name}/DtTm"))
        return moment.astimezone(PARIS).date() if moment else None


def _cents(text: str | None) -> int:
    """« 1234.5 » → 123450; the XSD allows at most 5 decimals, an amount of euros has 2."""
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        raise BankStatusError(f"Montant illisible dans le relevé : « {text} ».") from None
    cents = value * 100
    if cents != cents.to_integral_value():
        raise BankStatusError(f"Montant de plus de deux décimales dans le relevé : « {text} ».")
    if abs(cents) > MAX_AMOUNT_CENTS:
        # The XSD allows 18 digits; no transfer of Libeo's exceeds this, nor does any column hold more.
        raise BankStatusError(f"Montant impossible dans le relevé : « {text} » (au plus "
                              f"{format_amount(MAX_AMOUNT_CENTS)}). Rien n'a été importé.")
    return int(cents)


def _clean(text: str | None) -> str | None:
    text = " ".join((text or "").split())
    return text or None


