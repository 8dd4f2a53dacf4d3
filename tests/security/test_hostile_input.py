"""Hostile input, checked at the door: the reproductions of an attacker's probe, each answered.

1. A lone UTF-16 surrogate in a JSON body (the payment call computed its
   idempotency fingerprint with it, and crashed).
2. What the bank cannot take, accepted at entry: an invisible beneficiary
   name, IBANs of countries outside the SEPA scheme, an emoji name, and an
   Arabic name written to pain.001 as « shrk@ ltjr@ ».

Every answer is French, names the field, and changes nothing.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import date

import pytest
from sqlalchemy import func, select

from tests.conftest import meg_initiator
from tests.html_forms import form_values, plain
from tests.libeo.conftest import DEBTOR_IBAN, make_account, make_key, valid_iban

from .helpers import assert_french, meg_login
from .test_never_500 import PRODUCTION, assert_no_traceback

API = "/libeo/api/v1"
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
ARABIC_NAME = "شركة التجارة"
ARABIC_FOR_THE_BANK = "shrkh ltjrh"  # anyascii's reading, as the bank receives it
# Valid IBANs (their check digits hold) of countries outside the SEPA scheme.
NON_SEPA_IBANS = {
    "Brésil": "BR1800360305000010009795493C1",
    "Arabie saoudite": "SA0380000000608010167519",
    "Maurice": "MU17BOMM0101101030300200000MUR",
    "Turquie": "TR330006100519786457841326",
}


@pytest.fixture
def prod(make_apps):
    return make_apps(meg=PRODUCTION, libeo=PRODUCTION)


@pytest.fixture
def libeo_api(prod):
    """A verified Libeo account with its debit IBAN, and an API client with its key."""
    info = make_account(prod.libeo, name="Boulangerie Martin SARL", debtor_iban=DEBTOR_IBAN)
    headers = {"Authorization": f"Bearer {make_key(prod.libeo, info.id)}",
               "MEG-Initiator": meg_initiator(prod.root, info.siret, "claire@boulangerie-martin.fr")}
    return prod.root.test_client(), headers, info


def invoice(**supplier) -> dict:
    return {"number": "F-1", "supplier": {"name": "Minoterie Dupuis", "iban": valid_iban(42), **supplier},
            "amount_cents": 12_345, "currency": "EUR", "issue_date": "2026-10-01", "due_date": "2026-10-31"}


def pay_body(**invoice_fields) -> dict:
    return {"initiated_by": {"email": "claire@boulangerie-martin.fr", "role": "user"},
            "invoice": {**invoice(), **invoice_fields}}


def libeo_rows(libeo_app) -> tuple[int, int, int]:
    from models.libeo import Invoice, Payment, db
    from models.libeo.payments.models import IdempotencyRecord

    with libeo_app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(model))
                     for model in (Invoice, Payment, IdempotencyRecord))


def error_of(response) -> dict:
    return response.get_json()["error"]


# --- 1. a lone surrogate in the payment call ---------------------------------------------------


def test_a_lone_surrogate_in_a_payment_request_is_a_french_422_naming_the_field(prod, libeo_api, caplog):
    client, headers, _ = libeo_api
    # JSON may escape a lone surrogate: « \ud800 » is valid JSON, not valid text.
    body = json.dumps(pay_body(number="F-\ud800"))
    assert "\\ud800" in body
    response = client.post(f"{API}/invoices/meg-1/payments", data=body,
                           headers={**headers, "Idempotency-Key": "k-1", "Content-Type": "application/json"})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert error_of(response)["field"] == "invoice.number"
    assert_french(response)
    assert libeo_rows(prod.libeo) == (0, 0, 0)
    # PUT answers the same, as it did.
    response = client.put(f"{API}/invoices/meg-1", data=json.dumps(invoice() | {"number": "\ud800"}),
                          headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert error_of(response)["field"] == "number"
    assert_no_traceback(caplog)


@pytest.mark.parametrize("where, text", [
    ("initiated_by.email", "claire\ud800@boulangerie-martin.fr"),
    ("invoice.supplier.name", "Minoterie\udfff Dupuis"),
    ("invoice.number", "F-\x00-1"),
    ("invoice.supplier.name", "Minoterie\x1b[31m Dupuis"),
])
def test_surrogates_and_control_characters_anywhere_in_a_body_are_refused_by_name(prod, libeo_api, caplog,
                                                                                  where, text):
    client, headers, _ = libeo_api
    body = pay_body()
    target = body
    *parents, leaf = where.split(".")
    for name in parents:
        target = target[name]
    target[leaf] = text
    response = client.post(f"{API}/invoices/meg-1/payments", data=json.dumps(body),
                           headers={**headers, "Idempotency-Key": "k-2", "Content-Type": "application/json"})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert error_of(response)["field"] == where
    assert_french(response)
    assert libeo_rows(prod.libeo) == (0, 0, 0)
    assert_no_traceback(caplog)


def test_text_is_normalised_before_it_is_measured(prod, libeo_api):
    """« é » typed as « e » + a combining accent is one character once normalised (NFC), and stored so."""
    client, headers, _ = libeo_api
    decomposed = "Cre\u0301merie " + "e\u0301" * 150  # 307 code points, 161 characters once composed
    response = client.put(f"{API}/invoices/meg-1", json=invoice(name=decomposed), headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["supplier"]["name"] == "Crémerie " + "é" * 150


# --- 2. only what a SEPA transfer can carry ----------------------------------------------------


@pytest.mark.parametrize("country, iban", list(NON_SEPA_IBANS.items()))
def test_an_iban_outside_the_sepa_scheme_is_refused_by_the_api_naming_the_country(prod, libeo_api, country, iban):
    client, headers, _ = libeo_api
    response = client.put(f"{API}/invoices/meg-1", json=invoice(iban=iban), headers=headers)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert error_of(response)["field"] == "supplier.iban"
    assert country in error_of(response)["message"]
    assert "SEPA" in error_of(response)["message"]
    assert libeo_rows(prod.libeo) == (0, 0, 0)


@pytest.mark.parametrize("country, iban", list(NON_SEPA_IBANS.items()))
def test_an_iban_outside_the_sepa_scheme_is_refused_by_meg_supplier_form(prod, country, iban):
    from models.meg import Supplier, db

    client = prod.root.test_client()
    _meg_demo(prod)
    assert meg_login(client).status_code == 302
    response = client.post("/meg/achats/fournisseurs/nouveau", data={"name": "Fournisseur Lointain", "iban": iban})
    assert response.status_code == 200
    page = plain(response.get_data(as_text=True))
    assert country in page and "SEPA" in page, page[-800:]
    with prod.meg.app_context():
        assert db.session.scalar(select(Supplier.id).where(Supplier.name == "Fournisseur Lointain")) is None


def test_french_overseas_and_non_eu_sepa_ibans_are_accepted(prod, libeo_api):
    client, headers, _ = libeo_api
    # Switzerland, the United Kingdom, Monaco: outside the EU, inside the SEPA scheme.
    for n, iban in enumerate(["CH9300762011623852957", "GB33BUKB20201555555555", "MC5811222000010123456789030"]):
        response = client.put(f"{API}/invoices/meg-{n}", json=invoice(iban=iban), headers=headers)
        assert response.status_code == 201, response.get_data(as_text=True)


@pytest.mark.parametrize("name", ["\u200b", "\u200b\u200b\u2060", "😀🎉", "☎ ✉", "---", "123"])
def test_a_name_without_a_letter_for_the_bank_is_refused_by_the_api(prod, libeo_api, name):
    client, headers, _ = libeo_api
    response = client.put(f"{API}/invoices/meg-1", json=invoice(name=name), headers=headers)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert error_of(response)["field"] == "supplier.name"
    assert_french(response)
    response = client.post(f"{API}/invoices/meg-1/payments", headers={**headers, "Idempotency-Key": "k-3"},
                           json=pay_body(supplier={"name": name, "iban": valid_iban(42)}))
    assert response.status_code == 422
    assert error_of(response)["field"] == "invoice.supplier.name"
    assert libeo_rows(prod.libeo) == (0, 0, 0)


@pytest.mark.parametrize("name", ["\u200b", "😀"])
def test_a_name_without_a_letter_for_the_bank_is_refused_by_meg_supplier_form(prod, name):
    from models.meg import Supplier, db

    client = prod.root.test_client()
    _meg_demo(prod)
    assert meg_login(client).status_code == 302
    with prod.meg.app_context():
        before = db.session.scalar(select(func.count()).select_from(Supplier))
    response = client.post("/meg/achats/fournisseurs/nouveau", data={"name": name, "iban": valid_iban(77)})
    assert response.status_code == 200
    assert "au moins une lettre" in plain(response.get_data(as_text=True))
    with prod.meg.app_context():
        assert db.session.scalar(select(func.count()).select_from(Supplier)) == before


def test_libeo_sign_up_refuses_a_company_name_the_bank_cannot_carry(prod):
    from models.libeo import Account, db

    client = prod.root.test_client()
    response = client.post("/libeo/inscription", data={
        "email": "gerant@exemple.fr", "password": "un-mot-de-passe-solide-2026", "company_name": "🥐🥖",
        "siret": "83451234500002", "terms": "y"})
    assert response.status_code == 200
    assert "au moins une lettre" in plain(response.get_data(as_text=True))
    with prod.libeo.app_context():
        assert db.session.scalar(select(func.count()).select_from(Account)) == 0


def test_an_arabic_name_is_shown_as_the_bank_will_receive_it_before_meg_saves_it(prod):
    from models.meg import Supplier, db

    client = prod.root.test_client()
    _meg_demo(prod)
    assert meg_login(client).status_code == 302
    data = {"name": ARABIC_NAME, "iban": valid_iban(78)}
    first = client.post("/meg/achats/fournisseurs/nouveau", data=data)
    assert first.status_code == 200
    assert f"Le nom sera transmis à la banque ainsi : {ARABIC_FOR_THE_BANK}" in plain(first.get_data(as_text=True))
    with prod.meg.app_context():
        assert db.session.scalar(select(Supplier.id).where(Supplier.name == ARABIC_NAME)) is None
    # Saved once seen: the form sends back what it showed.
    seen = form_values(first.get_data(as_text=True), "form-grid")
    assert seen["name"] == ARABIC_NAME
    second = client.post("/meg/achats/fournisseurs/nouveau", data=seen)
    assert second.status_code == 302, plain(second.get_data(as_text=True))[-600:]
    with prod.meg.app_context():
        assert db.session.scalar(select(Supplier.id).where(Supplier.name == ARABIC_NAME)) is not None


def test_a_name_changed_after_it_was_shown_is_shown_again(prod):
    from models.meg import Supplier, db

    client = prod.root.test_client()
    _meg_demo(prod)
    assert meg_login(client).status_code == 302
    first = client.post("/meg/achats/fournisseurs/nouveau", data={"name": ARABIC_NAME, "iban": valid_iban(79)})
    seen = form_values(first.get_data(as_text=True), "form-grid")
    seen["name"] = "شركة البناء"
    second = client.post("/meg/achats/fournisseurs/nouveau", data=seen)
    assert second.status_code == 200
    assert "Le nom sera transmis à la banque ainsi : shrkh lbn'" in plain(second.get_data(as_text=True))
    with prod.meg.app_context():
        assert db.session.scalar(select(Supplier.id).where(Supplier.name == "شركة البناء")) is None


def test_what_was_shown_for_another_name_is_never_shown_again(prod):
    client = prod.root.test_client()
    _meg_demo(prod)
    assert meg_login(client).status_code == 302
    first = client.post("/meg/achats/fournisseurs/nouveau", data={"name": ARABIC_NAME, "iban": valid_iban(83)})
    seen = form_values(first.get_data(as_text=True), "form-grid")
    again = client.post("/meg/achats/fournisseurs/nouveau", data=seen | {"name": "Dupont Frères", "iban": "FR00"})
    page = plain(again.get_data(as_text=True))
    assert "IBAN n'est pas valide" in page
    assert ARABIC_FOR_THE_BANK not in page and "transmis à la banque" not in page
    made_up = client.post("/meg/achats/fournisseurs/nouveau", data=seen | {"name-banque": "Autre Nom"})
    assert "Autre Nom" not in plain(made_up.get_data(as_text=True))


def test_a_latin_name_with_accents_is_saved_at_once(prod):
    from models.meg import Supplier, db

    client = prod.root.test_client()
    _meg_demo(prod)
    assert meg_login(client).status_code == 302
    response = client.post("/meg/achats/fournisseurs/nouveau",
                           data={"name": "Crémerie Łódź & Søn", "iban": valid_iban(80)})
    assert response.status_code == 302
    with prod.meg.app_context():
        assert db.session.scalar(select(Supplier.id).where(Supplier.name == "Crémerie Łódź & Søn")) is not None


def test_pain001_carries_names_in_the_sepa_character_set(prod, libeo_api):
    from models.libeo import db
    from models.libeo.payments.sepa import execute_due_payments

    client, headers, _ = libeo_api
    # (One name in another script: the safeguards' supplier keys read every such name alike.)
    names = {"meg-1": ARABIC_NAME, "meg-2": "Crémerie Dupont & Fils", "meg-3": "Młyn «Złoty Kłos»"}
    for n, (external_id, name) in enumerate(names.items()):
        response = client.post(f"{API}/invoices/{external_id}/payments",
                               headers={**headers, "Idempotency-Key": f"k{n}"},
                               json=pay_body(number=f"F-{n}", amount_cents=10_000 + n,
                                             supplier={"name": name, "iban": valid_iban(50 + n)}))
        assert response.status_code == 201, response.get_data(as_text=True)
        assert response.get_json()["status"] == "scheduled", response.get_json()["hold_details"]
    with prod.libeo.app_context():
        report = execute_due_payments(None, date(2099, 12, 31))
        assert [b.payment_count for b in report.batches] == [3]
        from models.libeo import SepaBatch

        xml = db.session.scalar(select(SepaBatch.xml))
    root = ET.fromstring(xml)
    written = sorted(n.text for n in root.iterfind(".//p:Cdtr/p:Nm", NS))
    assert written == sorted([ARABIC_FOR_THE_BANK, "Cremerie Dupont + Fils", "Mlyn Zloty Klos"])
    assert root.findtext(".//p:Dbtr/p:Nm", namespaces=NS) == "Boulangerie Martin SARL"


def test_a_stored_name_the_bank_cannot_carry_is_never_written_blank(prod, libeo_api):
    """A name saved before these checks (an invisible one): its transfer is refused, never sent as « <Nm> </Nm> »."""
    from models.libeo import Payment, PaymentStatus, SepaBatch, db
    from models.libeo.payments.sepa import execute_due_payments

    client, headers, _ = libeo_api
    for n in range(2):
        response = client.post(f"{API}/invoices/meg-{n}/payments", headers={**headers, "Idempotency-Key": f"k{n}"},
                               json=pay_body(number=f"F-{n}", supplier={"name": f"Fournisseur {n}",
                                                                        "iban": valid_iban(60 + n)}))
        assert response.status_code == 201
    with prod.libeo.app_context():
        invisible = db.session.scalars(select(Payment).order_by(Payment.id)).first()
        invisible.creditor_name = "\u200b"
        db.session.commit()
        execute_due_payments(None, date(2099, 12, 31))
        xml = db.session.scalar(select(SepaBatch.xml).where(SepaBatch.xml.is_not(None)))
        assert db.session.get(Payment, invisible.id).status is PaymentStatus.FAILED
    names = [n.text for n in ET.fromstring(xml).iterfind(".//p:Cdtr/p:Nm", NS)]
    assert names == ["Fournisseur 1"]


def _meg_demo(apps) -> None:
    from models.meg.demo import create_demo_data

    with apps.meg.app_context():
        create_demo_data()


def test_meg_einvoice_import_applies_the_same_checks(prod):
    """A supplier new to MEG, named in Arabic and paid to a Brazilian account, from its e-invoice."""
    from dataclasses import replace
    from io import BytesIO

    from devtools.einvoice_samples import TORREFACTION, sample_file, sample_invoice
    from models.meg import Supplier, SupplierInvoice, db

    client = prod.root.test_client()
    _meg_demo(prod)
    assert meg_login(client).status_code == 302
    invoice = sample_invoice(number="AR-1", supplier=replace(TORREFACTION, name=ARABIC_NAME),
                             iban=NON_SEPA_IBANS["Brésil"], bic=None)
    answer = client.post("/meg/achats/factures/importer", content_type="multipart/form-data",
                         data={"file": (BytesIO(sample_file(invoice, "cii")), "facture.xml")})
    assert answer.status_code == 302, plain(answer.get_data(as_text=True))[-800:]
    location = answer.headers["Location"]
    page = client.get(location).get_data(as_text=True)
    assert "hors de la zone SEPA (Brésil, BR)" in plain(page)
    values = form_values(page)
    assert values["supplier_name"] == ARABIC_NAME and not values["supplier_iban"]

    # The IBAN the file gives is not taken; typed in, a Brazilian one is refused too.
    refused = client.post(location, data=values | {"supplier_iban": NON_SEPA_IBANS["Brésil"]})
    assert "hors de la zone SEPA (Brésil, BR)" in plain(refused.get_data(as_text=True))
    shown = client.post(location, data=values | {"supplier_iban": valid_iban(81)})
    assert f"Le nom sera transmis à la banque ainsi : {ARABIC_FOR_THE_BANK}" in plain(shown.get_data(as_text=True))
    with prod.meg.app_context():
        assert db.session.scalar(select(Supplier.id).where(Supplier.name == ARABIC_NAME)) is None
    saved = client.post(location, data=form_values(shown.get_data(as_text=True)))
    assert saved.status_code == 302, plain(saved.get_data(as_text=True))[-800:]
    with prod.meg.app_context():
        invoice = db.session.scalar(select(SupplierInvoice).where(SupplierInvoice.number == "AR-1"))
        assert invoice.supplier.name == ARABIC_NAME


def test_libeo_invoice_form_shows_the_name_for_the_bank_before_saving(prod):
    from models.libeo import Invoice, db
    from tests.libeo.conftest import PASSWORD

    info = make_account(prod.libeo, name="Boulangerie Martin SARL", debtor_iban=DEBTOR_IBAN)
    client = prod.root.test_client()
    assert client.post("/libeo/connexion", data={"email": info.email, "password": PASSWORD}).status_code == 302
    data = {"number": "AR-2", "supplier_name": "Компания Ромашка", "supplier_iban": valid_iban(82),
            "supplier_bic": "", "issue_date": "2026-11-02", "due_date": "2026-12-02", "amount": "100,00"}
    first = client.post("/libeo/factures/nouvelle", data=data)
    assert first.status_code == 200
    assert "Le nom sera transmis à la banque ainsi : Kompaniya Romashka" in plain(first.get_data(as_text=True))
    with prod.libeo.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invoice)) == 0
    second = client.post("/libeo/factures/nouvelle", data=form_values(first.get_data(as_text=True), "form-grid"))
    assert second.status_code == 302, plain(second.get_data(as_text=True))[-600:]
    with prod.libeo.app_context():
        assert db.session.scalar(select(Invoice.supplier_name)) == "Компания Ромашка"


def test_libeo_sign_up_shows_the_debtor_name_for_the_bank_before_creating_the_account(prod):
    from models.libeo import Account, db

    client = prod.root.test_client()
    data = {"email": "gerant@exemple.fr", "password": "un-mot-de-passe-solide-2026",
            "company_name": "Ελληνική Εταιρεία", "siret": "83451234500002", "terms": "y", "full_name": ""}
    first = client.post("/libeo/inscription", data=data)
    page = first.get_data(as_text=True)
    assert "Le nom sera transmis à la banque ainsi : Elliniki Etaireia" in plain(page)
    with prod.libeo.app_context():
        assert db.session.scalar(select(func.count()).select_from(Account)) == 0
    seen = data | {"company_name-banque": "Elliniki Etaireia"}
    assert 'name="company_name-banque"' in page
    second = client.post("/libeo/inscription", data=seen)
    assert second.status_code == 302, plain(second.get_data(as_text=True))[-600:]
    with prod.libeo.app_context():
        assert db.session.scalar(select(Account.name)) == "Ελληνική Εταιρεία"
