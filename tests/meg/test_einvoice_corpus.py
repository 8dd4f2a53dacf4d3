"""E-invoices: none crashes the reader, and what it takes is what the file says, read again here independently
with plain XPath.

``EINVOICE_CORPUS`` names a folder of public e-invoices (see einvoice_corpus/README.md: they cannot be
committed here); without it, the corpus is the files this project's own writers make, in every kind and
level MEG reads (``devtools/einvoice_samples.py``), so the test always runs."""

from __future__ import annotations

import io
import os
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from pypdf import PdfReader

from core.einvoices.reading import EInvoice, EInvoiceError, read_einvoice


def _own_corpus() -> Path:
    """The project's sample e-invoices, every kind and level, written once into a temporary folder."""
    from devtools.einvoice_samples import LEVELS, credit_note, sample_file, sample_invoice, write_demo_samples

    folder = Path(tempfile.mkdtemp(prefix="einvoice-corpus-"))
    write_demo_samples(folder / "demo", today=date(2026, 12, 4))
    invoice = sample_invoice()
    for kind in (*LEVELS, "cii", "ubl", "zugferd1"):
        suffix = ".xml" if kind in ("cii", "ubl") else ".pdf"
        (folder / f"sample-{kind}{suffix}").write_bytes(sample_file(invoice, kind))
    (folder / "credit-note.xml").write_bytes(sample_file(credit_note(), "cii"))
    return folder


CORPUS = Path(os.environ["EINVOICE_CORPUS"]) if os.environ.get("EINVOICE_CORPUS") else _own_corpus()
FILES = sorted(p for p in CORPUS.glob("**/*") if p.suffix.lower() in (".xml", ".pdf"))

CII = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
       "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
       "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"}
UBL = {"inv": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
       "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
       "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}



def _first(root, path, ns, currency=None):
    for node in root.xpath(path, namespaces=ns):
        if node.text and node.text.strip() and (currency is None or node.get("currencyID") in (None, currency)):
            return node.text.strip()
    return None


def _cents(text):
    return None if text is None else int(Decimal(text) * 100)


def what_the_file_says(content: bytes) -> dict | None:
    """The fields, by XPath, of a CII or UBL invoice, or of the one a PDF joins under the name the
    specifications give it; None for anything else."""
    if content.lstrip()[:5] == b"%PDF-":
        joined = {a.name.lower(): a.content for a in PdfReader(io.BytesIO(content)).attachment_list}
        named = [joined[n] for n in ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml") if n in joined]
        return what_the_file_says(named[0]) if named else None
    root = etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))
    if root.tag == f"{{{CII['rsm']}}}CrossIndustryInvoice":
        settlement = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
        total = f"{settlement}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
        currency = _first(root, f"{settlement}/ram:InvoiceCurrencyCode", CII)
        issued = _first(root, "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString", CII)
        seller = ("rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty")
        dues = root.xpath(f"{settlement}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString/text()",
                          namespaces=CII)
        return {
            "net": _cents(_first(root, f"{total}/ram:TaxBasisTotalAmount", CII, currency)),
            "vat": _cents(_first(root, f"{total}/ram:TaxTotalAmount", CII, currency)),
            "rounding": _cents(_first(root, f"{total}/ram:RoundingAmount", CII, currency)),
            "due_dates": [date(int(d[:4]), int(d[4:6]), int(d[6:8])) for d in dues if len(d.strip()) == 8],
            "seller_vat": _first(root, f"{seller}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']", CII),
            "number": _first(root, "rsm:ExchangedDocument/ram:ID", CII), "currency": currency,
            "issue_date": date(int(issued[:4]), int(issued[4:6]), int(issued[6:8])),
            "due": _cents(_first(root, f"{total}/ram:DuePayableAmount", CII, currency)),
            "total": _cents(_first(root, f"{total}/ram:GrandTotalAmount", CII, currency)),
            "prepaid": _cents(_first(root, f"{total}/ram:TotalPrepaidAmount", CII, currency)),
            "seller": _first(root, "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
                                   "/ram:SellerTradeParty/ram:Name", CII),
            "ibans": root.xpath(f"{settlement}/ram:SpecifiedTradeSettlementPaymentMeans"
                                "/ram:PayeePartyCreditorFinancialAccount/ram:IBANID/text()", namespaces=CII),
        }
    if root.tag == f"{{{UBL['inv']}}}Invoice":
        currency = _first(root, "cbc:DocumentCurrencyCode", UBL)
        seller = "cac:AccountingSupplierParty/cac:Party"
        dues = (root.xpath("cbc:DueDate/text()", namespaces=UBL)
                or root.xpath("cac:PaymentMeans/cbc:PaymentDueDate/text()", namespaces=UBL))
        return {
            "net": _cents(_first(root, "cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount", UBL, currency)),
            "vat": _cents(_first(root, "cac:TaxTotal/cbc:TaxAmount", UBL, currency)),
            "rounding": _cents(_first(root, "cac:LegalMonetaryTotal/cbc:PayableRoundingAmount", UBL, currency)),
            "due_dates": [date.fromisoformat(d.strip()[:10]) for d in dues],
            "seller_vat": _first(root, f"{seller}/cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID", UBL),
            "number": _first(root, "cbc:ID", UBL), "currency": currency,
            "issue_date": date.fromisoformat(_first(root, "cbc:IssueDate", UBL)[:10]),
            "due": _cents(_first(root, "cac:LegalMonetaryTotal/cbc:PayableAmount", UBL, currency)),
            "total": _cents(_first(root, "cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount", UBL, currency)),
            "prepaid": _cents(_first(root, "cac:LegalMonetaryTotal/cbc:PrepaidAmount", UBL, currency)),
            "seller": _first(root, f"{seller}/cac:PartyLegalEntity/cbc:RegistrationName", UBL)
            or _first(root, f"{seller}/cac:PartyName/cbc:Name", UBL),
            "ibans": root.xpath("cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID/text()", namespaces=UBL),
        }
    return None


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_a_public_e_invoice_is_read_as_it_says_or_refused_in_words(path):
    content = path.read_bytes()
    try:
        invoice = read_einvoice(path.name, content)
    except EInvoiceError as refusal:
        assert str(refusal) and str(refusal)[0].isupper()  # a sentence for a person
        return
    assert isinstance(invoice, EInvoice)
    said = what_the_file_says(content)
    if said is None:
        return
    assert (invoice.number, invoice.currency, invoice.issue_date) == (said["number"], said["currency"],
                                                                      said["issue_date"])
    assert invoice.amount_cents == (said["due"] if said["due"] is not None else said["total"])
    assert invoice.total_with_tax_cents == said["total"]
    assert invoice.prepaid_cents == said["prepaid"]
    assert (invoice.total_without_tax_cents, invoice.tax_cents, invoice.rounding_cents) == (
        said["net"], said["vat"], said["rounding"])
    # The first instalment's date, unless the file dates it before the invoice (set aside, and said).
    due = min(said["due_dates"]) if said["due_dates"] else None
    assert invoice.due_date == (due if due is not None and due >= invoice.issue_date else None)
    seller_vat = "".join(said["seller_vat"].split()).upper() if said["seller_vat"] else None
    assert invoice.supplier_vat == seller_vat
    assert invoice.supplier_name == " ".join(said["seller"].split())
    compact = ["".join(i.split()).upper() for i in said["ibans"]]
    assert invoice.iban is None or invoice.iban in compact
