"""The supplier an e-invoice comes from: its legal identity first (SIRET, SIREN, the SIREN inside a French
VAT number), its IBAN only when the file names no other identity, its name when the file names none.
The file's seller is always shown; an IBAN shared by two legal identities must be confirmed."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from devtools.einvoice_samples import MINOTERIE_IBAN, Party, cii_xml, facturx_pdf, sample_invoice
from models.meg import Company, Supplier, SupplierInvoice, db
from tests.html_forms import form_values, plain

from .test_einvoice_import import confirm, start

INVOICE = sample_invoice()
VENDEUR = Party("LE VENDEUR", "55208131700018", "FR03552081317", "3 rue du Port", "13002", "Marseille")


@pytest.fixture
def admin(client, demo, meg_auth):
    meg_auth.login()
    return client


def boulangerie_supplier(meg_app, name: str) -> Supplier:
    with meg_app.app_context():
        return db.session.scalar(select(Supplier).join(Company).where(
            Company.name == "Boulangerie Martin SARL", Supplier.name == name))


def set_siret(meg_app, name: str, siret: str) -> None:
    with meg_app.app_context():
        supplier = db.session.scalar(select(Supplier).where(Supplier.name == name))
        supplier.siret = siret
        db.session.commit()


def invoice_supplier(meg_app, number: str) -> tuple[str, str, str | None]:
    with meg_app.app_context():
        invoice = db.session.scalar(select(SupplierInvoice).where(SupplierInvoice.number == number))
        return invoice.supplier.name, invoice.supplier.iban, invoice.supplier.siret


@pytest.mark.parametrize("known_siret", [None, "40483304800014"])
def test_a_file_from_another_legal_identity_is_not_filed_under_the_supplier_whose_iban_it_carries(
        admin, meg_app, known_siret):
    """« LE VENDEUR » (its own SIREN) with Minoterie Dupuis's IBAN: not Minoterie Dupuis's invoice."""
    if known_siret:
        set_siret(meg_app, "Minoterie Dupuis", known_siret)
    borrowed = replace(INVOICE, number="LV-1", supplier=VENDEUR, iban=MINOTERIE_IBAN)

    location, page = start(admin, facturx_pdf(borrowed), "lv-1.pdf")
    text = plain(page)

    assert "Fournisseur reconnu par son IBAN" not in text
    assert ("Ce fichier vient de LE VENDEUR (SIRET 55208131700018), pas de Minoterie Dupuis"
            f"{f' (SIRET {known_siret})' if known_siret else ''}, dont il porte l'IBAN.") in text
    # The file's seller, as the file names it, beside the candidate.
    seller = text[text.index("Vendeur selon le fichier"):]
    for shown in ("LE VENDEUR", "55208131700018", "FR03552081317", "3 rue du Port, 13002 Marseille"):
        assert shown in seller
    assert '<option selected value="nouveau">Nouveau fournisseur : LE VENDEUR</option>' in page

    # An IBAN two legal identities share: the person confirms having checked it.
    refused = confirm(admin, location, page)
    assert refused.status_code == 422
    assert "est déjà celui de Minoterie Dupuis" in plain(refused.get_data(as_text=True))
    assert boulangerie_supplier(meg_app, "LE VENDEUR") is None

    saved = confirm(admin, location, page, confirm_shared_iban="y")
    assert saved.status_code == 302
    assert invoice_supplier(meg_app, "LV-1") == ("LE VENDEUR", MINOTERIE_IBAN, "55208131700018")


def test_the_siren_inside_a_french_vat_number_identifies_the_supplier(admin, meg_app):
    set_siret(meg_app, "Laiterie des Prés", "55208131700018")
    vat_only = replace(INVOICE, number="LP-7", supplier=Party("Laiterie des Prés SAS", None, "FR03552081317"),
                       iban="FR7630004008220000001583859")

    location, page = start(admin, facturx_pdf(vat_only, "en16931"), "lp-7.pdf")

    assert "Fournisseur reconnu par son numéro de TVA : Laiterie des Prés." in plain(page)
    assert confirm(admin, location, page).status_code == 302
    assert invoice_supplier(meg_app, "LP-7")[0] == "Laiterie des Prés"


def test_a_file_without_identifiers_proposes_the_supplier_of_the_same_name(admin, meg_app):
    anonymous = replace(INVOICE, number="MD-9", supplier=Party("MINOTERIE DUPUIS SARL"))

    location, page = start(admin, facturx_pdf(anonymous, "minimum"), "md-9.pdf")

    assert "Fournisseur reconnu par son nom : Minoterie Dupuis." in plain(page)
    assert "Nouveau fournisseur : MINOTERIE DUPUIS SARL</option>" in page
    assert 'selected value="nouveau"' not in page
    assert confirm(admin, location, page).status_code == 302
    assert invoice_supplier(meg_app, "MD-9")[:2] == ("Minoterie Dupuis", MINOTERIE_IBAN)


def test_a_supplier_found_by_siret_shows_the_files_seller_too(admin, meg_app):
    set_siret(meg_app, "Minoterie Dupuis", "42312345400013")

    _location, page = start(admin, facturx_pdf(INVOICE), "f.pdf")
    text = plain(page)

    assert "Fournisseur reconnu par son SIRET : Minoterie Dupuis." in text
    assert "Vendeur selon le fichier Minoterie Dupuis SIRET 42312345400013 N° de TVA FR50423123454" in text


# --- payment means as the file says ---------------------------------------------------------------------

ASSURANCE = Party("Mutuelle Assurances du Rhône", "31234567100019", "FR50312345671", "2 cours Lafayette", "69003",
                  "Lyon")
DEBITED = "FR7610278060390000002375705"  # the buyer's account, which the supplier debits


def direct_debit_xml(number: str = "PR-2026-11") -> bytes:
    xml = cii_xml(replace(INVOICE, number=number, supplier=ASSURANCE), "en16931")
    start_, end_ = xml.index(b"<ram:SpecifiedTradeSettlementPaymentMeans>"), xml.index(
        b"</ram:SpecifiedTradeSettlementPaymentMeans>")
    means = (b"<ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>59</ram:TypeCode>"
             b"<ram:PayerPartyDebtorFinancialAccount><ram:IBANID>" + DEBITED.encode() +
             b"</ram:IBANID></ram:PayerPartyDebtorFinancialAccount>")
    xml = xml[:start_] + means + xml[end_:]
    return xml.replace(b"</ram:DueDateDateTime>",
                       b"</ram:DueDateDateTime><ram:DirectDebitMandateID>MANDAT-2026-77</ram:DirectDebitMandateID>", 1)


def test_a_direct_debit_invoice_from_a_new_supplier_is_saved_without_inventing_an_iban(admin, meg_app):
    location, page = start(admin, direct_debit_xml(), "prelevement.xml")
    text = plain(page)
    assert form_values(page)["payment_mode"] == "PRELEVEMENT"
    assert "Inutile pour un prélèvement" in text and "IBAN du fournisseur" not in text

    answer = confirm(admin, location, page)

    assert answer.status_code == 302, plain(answer.get_data(as_text=True))[-600:]
    assert invoice_supplier(meg_app, "PR-2026-11") == ("Mutuelle Assurances du Rhône", "", "31234567100019")
    shown = plain(admin.get(answer.headers["Location"]).get_data(as_text=True))
    assert "Mandat de prélèvement MANDAT-2026-77, sur le compte FR76" in shown
    assert "Prélèvement" in shown


def test_a_transfer_to_a_supplier_without_iban_is_refused(admin, meg_app):
    location, page = start(admin, direct_debit_xml("PR-2026-12"), "prelevement.xml")

    answer = confirm(admin, location, page, payment_mode="VIREMENT")

    assert answer.status_code == 422
    assert "Saisissez un IBAN" in plain(answer.get_data(as_text=True))
    assert boulangerie_supplier(meg_app, "Mutuelle Assurances du Rhône") is None
