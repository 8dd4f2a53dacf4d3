"""Every valid e-invoice is taken, and named for what it is: Factur-X, ZUGFeRD 1.0 or 2.0, XRechnung,
CII, UBL, PEPPOL BIS; the profile read from the file's content and the schema it respects, not only from
its guideline id. A PDF may carry several XML files: the invoice is found among them."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader, PdfWriter

from core.einvoices.reading import EInvoiceError, read_einvoice
from devtools.einvoice_samples import GUIDELINES, cii_xml, facturx_pdf, invoice_pdf, sample_invoice, ubl_xml

INVOICE = sample_invoice()
XRECHNUNG = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
PEPPOL = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"


def with_guideline(xml: bytes, level: str, guideline: str) -> bytes:
    return xml.replace(GUIDELINES[level].encode(), guideline.encode(), 1)


def pdf_with(*attachments: tuple[str, bytes]) -> bytes:
    """The readable invoice with these files attached, in this order."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(invoice_pdf(INVOICE))))
    for name, data in attachments:
        writer.add_attachment(name, data)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("guideline", ["urn:zugferd.de:2p0:comfort",
                                       "urn:cen.eu:en16931:2017#compliant#urn:zugferd.de:2p0:comfort"])
def test_a_cii_valid_against_en_16931_with_the_old_zugferd_comfort_id_is_taken(guideline):
    invoice = read_einvoice("facture.xml", with_guideline(cii_xml(INVOICE, "en16931"), "en16931", guideline))

    assert (invoice.format, invoice.profile) == ("ZUGFeRD 2.0", "EN 16931")
    assert (invoice.number, invoice.amount_cents, invoice.supplier_siret) == ("FA-2026-0142", 46_440,
                                                                              "42312345400013")


def test_a_guideline_naming_no_known_profile_gets_the_schema_the_file_respects():
    xml = with_guideline(cii_xml(INVOICE, "basic"), "basic", "urn:example.org:edi:invoice:2024")

    invoice = read_einvoice("facture.xml", xml)

    assert (invoice.format, invoice.profile) == ("CII", "BASIC")


def test_a_file_respecting_no_schema_is_refused_with_the_reason_and_the_next_step():
    xml = with_guideline(cii_xml(INVOICE, "en16931"), "en16931", "urn:example.org:edi:invoice:2024")
    xml = xml.replace(b"<ram:TypeCode>380</ram:TypeCode>", b"<ram:Unexpected>380</ram:Unexpected>", 1)

    with pytest.raises(EInvoiceError) as refused:
        read_einvoice("facture.xml", xml)

    assert "ne respecte aucun des schémas officiels" in str(refused.value)
    assert "Demandez au fournisseur" in str(refused.value)


def test_a_zugferd_2_0_pdf_is_named_zugferd_2_0():
    xml = with_guideline(cii_xml(INVOICE, "basic"), "basic",
                         "urn:cen.eu:en16931:2017#compliant#urn:zugferd.de:2p0:basic")

    invoice = read_einvoice("rechnung.pdf", pdf_with(("zugferd-invoice.xml", xml)))

    assert (invoice.format, invoice.profile) == ("ZUGFeRD 2.0", "BASIC")


def test_zugferd_2_1_is_factur_x_under_another_name():
    invoice = read_einvoice("rechnung.pdf", facturx_pdf(INVOICE, "extended"))

    assert (invoice.format, invoice.profile) == ("Factur-X", "EXTENDED")


def test_an_xrechnung_cii_is_named_xrechnung():
    invoice = read_einvoice("xrechnung.xml", with_guideline(cii_xml(INVOICE, "en16931"), "en16931", XRECHNUNG))

    assert (invoice.format, invoice.profile) == ("XRechnung", "EN 16931")
    assert invoice.amount_cents == 46_440


@pytest.mark.parametrize(("customization", "kind"), [
    (XRECHNUNG, ("XRechnung", "EN 16931")),
    (PEPPOL, ("UBL", "PEPPOL BIS 3")),
    ("urn:cen.eu:en16931:2017", ("UBL", "EN 16931")),
])
def test_a_ubl_file_is_named_by_its_specification(customization, kind):
    xml = ubl_xml(INVOICE).replace(b">urn:cen.eu:en16931:2017<", f">{customization}<".encode(), 1)

    invoice = read_einvoice("invoice.xml", xml)

    assert (invoice.format, invoice.profile) == kind


def test_the_invoice_is_found_among_several_xml_files_of_a_pdf():
    other = b'<?xml version="1.0"?><delivery xmlns="urn:example:delivery"><note>Livraison</note></delivery>'
    pdf = pdf_with(("bon-de-livraison.xml", other), ("metadata.xml", b"<meta/>"),
                   ("factur-x.xml", cii_xml(INVOICE, "en16931")))

    invoice = read_einvoice("facture.pdf", pdf)

    assert (invoice.format, invoice.number, invoice.amount_cents) == ("Factur-X", "FA-2026-0142", 46_440)


def test_an_invoice_attached_under_another_name_is_found_too():
    pdf = pdf_with(("readme.xml", b"<readme/>"), ("FA-2026-0142.xml", cii_xml(INVOICE, "basic")))

    invoice = read_einvoice("facture.pdf", pdf)

    assert (invoice.number, invoice.profile) == ("FA-2026-0142", "BASIC")


def test_a_pdf_whose_xml_files_are_no_invoice_says_so():
    with pytest.raises(EInvoiceError, match="aucun n'est une facture"):
        read_einvoice("facture.pdf", pdf_with(("bon-de-livraison.xml", b"<delivery/>")))
