"""Reading received e-invoices: real Factur-X, CII and UBL files in, exact fields out,
and a clear French message for every file MEG cannot take."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date

import facturx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from pypdf import PdfReader, PdfWriter

from core.einvoices.reading import (
    CREDIT_NOTE_MESSAGE,
    MAX_BYTES,
    MISSING_DUE_DATE,
    MISSING_IBAN,
    EInvoiceError,
    read_einvoice,
)
from devtools.einvoice_samples import (
    BOULANGERIE,
    CII,
    LEVELS,
    MINOTERIE,
    MINOTERIE_BIC,
    MINOTERIE_IBAN,
    TORREFACTION,
    cii_failing_xsd,
    cii_xml,
    credit_note,
    facturx_pdf,
    invoice_pdf,
    sample_invoice,
    ubl_xml,
    write_demo_samples,
    zugferd1_pdf,
)
from models.meg.demo import COMPANIES

INVOICE = sample_invoice()  # 12 × 21,50 + 4 × 32,75 at 5,5 %, 45,00 at 20 %: 434,00 HT, 30,40 VAT
PROFILES = {"minimum": "MINIMUM", "basicwl": "BASIC WL", "basic": "BASIC", "en16931": "EN 16931",
            "extended": "EXTENDED"}
UBL_NS = {"inv": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
          "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}


@pytest.fixture(scope="module")
def facturx_files():
    return {level: facturx_pdf(INVOICE, level) for level in LEVELS}


def _error(filename: str, content: bytes) -> str:
    with pytest.raises(EInvoiceError) as caught:
        read_einvoice(filename, content)
    return str(caught.value)


def _with_xml(pdf: bytes, xml: bytes, name: str = "factur-x.xml") -> bytes:
    """A PDF carrying an XML factur-x would refuse to attach (invalid, hostile)."""
    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    writer.add_attachment(name, xml)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _edit(xml: bytes, path: str, ns: dict, text: str | None) -> bytes:
    """The XML with the element at path given a new text, or removed (text None)."""
    root = etree.fromstring(xml)
    node = root.xpath(path, namespaces=ns)[0]
    if text is None:
        node.getparent().remove(node)
    else:
        node.text = text
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


DUE_PAYABLE = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:DuePayableAmount"


# --- Fields land exactly ------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_each_factur_x_profile_is_read_exactly(facturx_files, level):
    invoice = read_einvoice("FA-2026-0142.pdf", facturx_files[level])

    assert (invoice.format, invoice.profile) == ("Factur-X", PROFILES[level])
    assert (invoice.number, invoice.type_code, invoice.issue_date) == ("FA-2026-0142", "380", date(2026, 10, 5))
    assert (invoice.currency, invoice.amount_cents) == ("EUR", 46_440)
    assert (invoice.total_without_tax_cents, invoice.tax_cents) == (43_400, 3_040)
    assert invoice.supplier_name == "Minoterie Dupuis"
    assert (invoice.supplier_siret, invoice.supplier_siren) == (MINOTERIE.siret, MINOTERIE.siret[:9])
    assert invoice.supplier_vat == MINOTERIE.vat
    assert (invoice.buyer_name, invoice.buyer_siret) == ("Boulangerie Martin SARL", BOULANGERIE.siret)
    assert invoice.warnings == ()
    if level == "minimum":  # MINIMUM carries neither payment means nor terms
        assert (invoice.iban, invoice.bic, invoice.due_date, invoice.due_date_source) == (None, None, None, None)
        assert invoice.missing == (MISSING_IBAN, MISSING_DUE_DATE)
    else:
        assert invoice.iban == MINOTERIE_IBAN
        assert (invoice.due_date, invoice.due_date_source) == (date(2026, 11, 4), "payment_terms")
        assert invoice.payment_reference == "FA-2026-0142"
        assert invoice.payment_terms.startswith("Paiement à 30 jours par virement.")
        assert invoice.missing == ()
        # BASIC WL and BASIC have no element for the BIC; EN 16931 and EXTENDED do.
        assert invoice.bic == (MINOTERIE_BIC if level in ("en16931", "extended") else None)


def test_a_cii_xml_alone_is_read():
    invoice = read_einvoice("facture.xml", cii_xml(INVOICE, "en16931"))

    assert (invoice.format, invoice.profile, invoice.number) == ("CII", "EN 16931", "FA-2026-0142")
    assert (invoice.amount_cents, invoice.currency, invoice.due_date) == (46_440, "EUR", date(2026, 11, 4))
    assert (invoice.iban, invoice.bic, invoice.supplier_siret) == (MINOTERIE_IBAN, MINOTERIE_BIC, MINOTERIE.siret)


def test_a_ubl_invoice_is_read():
    other = sample_invoice(number="TL-2026-00318", supplier=TORREFACTION, iban="FR7630004000000003123456702",
                           bic="BNPAFRPPXXX")
    invoice = read_einvoice("facture-ubl.xml", ubl_xml(other))

    assert (invoice.format, invoice.profile) == ("UBL", "EN 16931")
    assert (invoice.number, invoice.issue_date, invoice.type_code) == ("TL-2026-00318", date(2026, 10, 5), "380")
    assert (invoice.due_date, invoice.due_date_source) == (date(2026, 11, 4), "due_date")
    assert (invoice.amount_cents, invoice.total_without_tax_cents, invoice.tax_cents) == (46_440, 43_400, 3_040)
    assert (invoice.supplier_name, invoice.supplier_siret, invoice.supplier_vat) == (
        "Torréfaction Lemaire SAS", TORREFACTION.siret, TORREFACTION.vat)
    assert (invoice.iban, invoice.bic) == ("FR7630004000000003123456702", "BNPAFRPPXXX")
    assert (invoice.buyer_name, invoice.buyer_siret) == ("Boulangerie Martin SARL", BOULANGERIE.siret)
    assert invoice.missing == ()


def test_an_old_zugferd_1_pdf_is_read():
    invoice = read_einvoice("rechnung.pdf", zugferd1_pdf(INVOICE))

    assert (invoice.format, invoice.profile) == ("ZUGFeRD 1.0", "COMFORT")
    assert (invoice.number, invoice.amount_cents, invoice.iban) == ("FA-2026-0142", 46_440, MINOTERIE_IBAN)
    assert (invoice.supplier_siret, invoice.due_date) == (MINOTERIE.siret, date(2026, 11, 4))


@pytest.mark.parametrize("build", [lambda inv: facturx_pdf(inv, "en16931"), ubl_xml], ids=["factur-x", "ubl"])
def test_the_amount_to_pay_is_what_remains_after_a_down_payment(build):
    invoice = read_einvoice("acompte", build(sample_invoice(prepaid_cents=10_000)))

    assert (invoice.amount_cents, invoice.total_without_tax_cents) == (36_440, 43_400)


@pytest.mark.parametrize(("written", "cents"), [("464.4", 46_440), ("0.10", 10), ("+1234567.80", 123_456_780),
                                                ("464.40000", 46_440)])
def test_amounts_are_read_exactly_in_cents(written, cents):
    xml = _edit(cii_xml(INVOICE, "en16931"), DUE_PAYABLE, CII, written)

    assert read_einvoice("f.xml", xml).amount_cents == cents


def test_a_due_date_before_the_issue_date_is_set_aside():
    invoice = read_einvoice("f.xml", cii_xml(replace(INVOICE, due_date=date(2026, 9, 1)), "en16931"))

    assert invoice.due_date is None and invoice.missing == (MISSING_DUE_DATE,)
    assert "01/09/2026" in invoice.warnings[0] and "précède" in invoice.warnings[0]


@pytest.mark.parametrize("build", [lambda inv: cii_xml(inv, "en16931"), ubl_xml], ids=["cii", "ubl"])
def test_an_invalid_iban_is_reported_not_taken(build):
    invoice = read_einvoice("f.xml", build(replace(INVOICE, iban="FR7630006000010000000791964")))

    assert invoice.iban is None and MISSING_IBAN in invoice.missing
    assert any("IBAN" in warning and "n'est pas valide" in warning for warning in invoice.warnings)
    assert invoice.amount_cents == 46_440  # the rest is read as usual


def test_an_invalid_siret_is_reported_not_taken():
    bad = replace(MINOTERIE, siret="42312345400014")
    invoice = read_einvoice("f.xml", ubl_xml(replace(INVOICE, supplier=bad)))

    assert invoice.supplier_siret is None
    assert any("SIRET du fournisseur" in warning for warning in invoice.warnings)


def test_a_direct_debit_invoice_warns_against_paying_by_transfer():
    xml = cii_xml(INVOICE, "en16931").replace(b"<ram:TypeCode>58</ram:TypeCode>", b"<ram:TypeCode>59</ram:TypeCode>")
    invoice = read_einvoice("f.xml", xml)

    assert invoice.payment_means_code == "59"
    assert any("prélèvement" in warning for warning in invoice.warnings)


# --- Files MEG cannot take ------------------------------------------------------


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n" + b"\0" * 64, b"PK\x03\x04 docx", "Facture n° 12".encode()])
def test_a_file_neither_pdf_nor_xml_is_refused(content):
    message = _error("C:\\Users\\claire\\Documents\\facture.docx", content)

    assert message.startswith("« facture.docx » n'est ni un PDF ni un fichier XML")


def test_an_empty_file_is_refused():
    assert "est vide" in _error("facture.pdf", b"")


def test_a_pdf_without_an_invoice_inside_is_refused():
    message = _error("scan.pdf", invoice_pdf(INVOICE))

    assert "ne contient pas de facture électronique" in message


def test_a_damaged_pdf_is_refused():
    assert "illisible ou endommagé" in _error("f.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ntrailer garbage")


def test_a_cii_failing_the_xsd_is_refused():
    message = _error("f.xml", cii_failing_xsd())

    assert message.startswith("Ce fichier n'est pas une facture CII (EN 16931) conforme")
    assert "XSD" in message


def test_a_factur_x_pdf_whose_xml_fails_the_xsd_is_refused():
    pdf = _with_xml(invoice_pdf(INVOICE), cii_failing_xsd(level="basic"))

    assert _error("f.pdf", pdf).startswith("Ce fichier n'est pas une facture Factur-X (BASIC) conforme")


def test_a_ubl_failing_the_xsd_is_refused():
    xml = ubl_xml(INVOICE).replace(b"<cbc:IssueDate>", b"<cbc:Surprise>1</cbc:Surprise><cbc:IssueDate>")

    assert _error("f.xml", xml).startswith("Ce fichier n'est pas une facture UBL 2.1 conforme")


def test_an_xml_that_is_no_invoice_is_refused():
    assert "n'est pas une facture électronique reconnue" in _error("page.xml", b"<html><body>Facture</body></html>")


def test_malformed_xml_is_refused():
    assert "mal formé" in _error("f.xml", b"<?xml version='1.0'?><rsm:CrossIndustryInvoice>")


def test_a_file_over_10_mb_is_refused_and_says_the_limit():
    message = _error("gros.pdf", b"%PDF-1.7\n" + b"0" * MAX_BYTES)

    assert "10 Mo" in message and "trop volumineux" in message


def test_a_file_of_exactly_10_mb_is_not_refused_for_its_size():
    message = _error("f.pdf", b"%PDF-1.7\n" + b"0" * (MAX_BYTES - 9))

    assert "volumineux" not in message


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(lambda: facturx_pdf(credit_note(), "en16931"), id="factur-x 381"),
        pytest.param(lambda: facturx_pdf(credit_note(), "minimum"), id="factur-x minimum 381"),
        pytest.param(lambda: ubl_xml(credit_note()), id="ubl CreditNote"),
        pytest.param(lambda: _edit(ubl_xml(INVOICE), "//cbc:InvoiceTypeCode", UBL_NS, "381"), id="ubl Invoice 381"),
    ],
)
def test_credit_notes_are_not_taken_yet(content):
    message = _error("avoir", content())

    assert message.startswith(CREDIT_NOTE_MESSAGE)
    assert CREDIT_NOTE_MESSAGE == "Les avoirs ne sont pas encore pris en charge"


def test_an_invoice_without_currency_is_refused():
    xml = _edit(ubl_xml(INVOICE), "//cbc:DocumentCurrencyCode", UBL_NS, None)

    assert _error("f.xml", xml) == "Le fichier n'indique pas la devise de la facture : il ne peut pas être importé."


@pytest.mark.parametrize(("prepaid", "shown"), [(46_440, "0,00"), (50_000, "-35,60")])
def test_an_amount_to_pay_that_is_not_positive_is_refused(prepaid, shown):
    message = _error("f.pdf", facturx_pdf(sample_invoice(prepaid_cents=prepaid), "en16931"))

    assert "n'est pas positif" in message
    assert shown in message


def test_an_amount_with_more_than_two_decimals_is_refused():
    xml = _edit(cii_xml(INVOICE, "en16931"), DUE_PAYABLE, CII, "464.405")

    assert "au plus deux décimales" in _error("f.xml", xml)


def test_an_amount_of_thirty_digits_is_said_too_large_not_oddly_written():
    """It was refused as having « au plus deux décimales », which it has."""
    xml = _edit(cii_xml(INVOICE, "en16931"), DUE_PAYABLE, CII, "1" + "0" * 30)

    assert " ".join(_error("f.xml", xml).replace("\u202f", " ").replace("\xa0", " ").split()) == (
        "Le montant à payer indiqué dans le fichier dépasse le maximum autorisé (999 999 999,99 €).")


# --- Hostile XML ------------------------------------------------------------------

XXE = (
    b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100">"""
    b"&secret;</rsm:CrossIndustryInvoice>"
)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
    + b"]><lolz>&lol9;</lolz>"
)


@pytest.mark.parametrize("content", [XXE, BILLION_LAUGHS,
                                     XXE.decode().replace('version="1.0"?', 'version="1.0" encoding="UTF-16"?')
                                     .encode("utf-16")],
                         ids=["xxe", "billion laughs", "xxe in utf-16"])
def test_hostile_xml_is_refused_safely(content):
    message = _error("f.xml", content)

    # Refused for its DOCTYPE, before any entity is read: nothing expanded, nothing disclosed.
    assert "DOCTYPE" in message and "root:" not in message


def test_hostile_xml_inside_a_pdf_is_refused_safely():
    message = _error("f.pdf", _with_xml(invoice_pdf(INVOICE), XXE))

    assert "root:" not in message
    assert "DOCTYPE" in message or "ne contient pas de facture" in message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from([b"", b"%PDF-1.7\n", b"<?xml version='1.0'?>",
                               b"<rsm:CrossIndustryInvoice "
                               b"xmlns:rsm='urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100'>"]),
       body=st.binary(max_size=2_000))
def test_any_bytes_give_an_invoice_or_a_french_message(prefix, body):
    try:
        read_einvoice("x", prefix + body)
    except EInvoiceError as error:
        assert str(error)


# --- The sample files are the real thing -------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_samples_are_factur_x_pdf_a_3_files(facturx_files, level):
    pdf = facturx_files[level]
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data()
    fonts = [font.get_object() for font in reader.pages[0]["/Resources"]["/Font"].values()]

    assert pdf.startswith(b"%PDF-1.6") and pdf.count(b"%%EOF") == 1  # one document, not two glued
    assert b"<pdfaid:part>3</pdfaid:part>" in xmp and b"<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    assert f"<fx:ConformanceLevel>{PROFILES[level]}</fx:ConformanceLevel>".encode() in xmp
    assert "/OutputIntents" in root and "/AF" in root
    assert all("/FontFile2" in f["/FontDescriptor"] for f in fonts)  # every font embedded
    name, xml = facturx.get_xml_from_pdf(pdf, check_xsd=True)
    assert (name, facturx.get_level(etree.fromstring(xml))) == ("factur-x.xml", level)
    assert "FA-2026-0142" in reader.pages[0].extract_text()


def test_demo_samples_include_a_known_and_a_new_supplier(tmp_path):
    paths = write_demo_samples(tmp_path, today=date(2026, 10, 20))
    read = {path.name: read_einvoice(path.name, path.read_bytes()) for path in paths
            if not path.name.startswith("avoir")}
    boulangerie = next(c for c in COMPANIES if c["name"] == "Boulangerie Martin SARL")
    known_ibans = {iban for _name, iban, _bic in boulangerie["suppliers"]}

    assert {invoice.buyer_siret for invoice in read.values()} == {boulangerie["siret"]}
    assert read["facturx-en16931-minoterie-dupuis.pdf"].iban in known_ibans
    assert read["facturx-basic-torrefaction-lemaire.pdf"].iban not in known_ibans
    assert read["facturx-minimum-minoterie-dupuis.pdf"].missing == (MISSING_IBAN, MISSING_DUE_DATE)
    assert {invoice.format for invoice in read.values()} == {"Factur-X", "UBL", "CII"}
    assert len({invoice.number for invoice in read.values()}) == len(read)
    assert _error("avoir",
                  (tmp_path / "avoir-facturx-minoterie-dupuis.pdf").read_bytes()).startswith(CREDIT_NOTE_MESSAGE)
