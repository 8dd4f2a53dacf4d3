"""« Fournisseur »: every list of invoices or payments narrowed to one supplier's rows, apart from the
search, which also reads numbers, amounts and SIRETs: the rows, their tabs' counts, the export and the empty
state follow it, and MEG's « Fournisseurs » leads to it."""

from __future__ import annotations

import re
from html import unescape

import pytest

from tests.conftest import MegAuth
from tests.factories import meg_company, meg_invoice
from tests.libeo.conftest import LibeoAuth, make_account
from tests.lists.conftest import fill_libeo, fill_meg, read_csv

BOULANGERIE = "Boulangerie Martin SARL"


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.fixture
def meg_client(meg_app, demo, client):
    fill_meg(meg_app, BOULANGERIE, count=40)
    # An invoice of another supplier whose number holds « Müller »: the search finds it, the filter does not.
    from models.meg import PaymentMode, Supplier, db

    with meg_app.app_context():
        company = meg_company(BOULANGERIE)
        other = Supplier(company=company, name="Scierie des Vosges", iban="", siret=None)
        db.session.add(other)
        meg_invoice(company, other, "MULLER-RETOUR-1", payment_mode=PaymentMode.LIBEO)
        db.session.commit()
    assert MegAuth(client).login().status_code == 302
    return client


def test_meg_invoices_narrowed_to_one_supplier(meg_client):
    everything = read_csv(meg_client.get("/meg/achats/factures/export.csv"))
    mullers = [row for row in everything if row["Fournisseur"] == "Boucherie Müller"]
    assert mullers and len(mullers) < len(everything)

    # Accents and case ignored, a part of the name is enough.
    page = meg_client.get("/meg/achats/", query_string={"fournisseur": "muller"}).get_data(as_text=True)
    shown = _text(page)
    assert all(row["Numéro"] in shown for row in mullers)
    assert "MULLER-RETOUR-1" not in shown  # the search would have found it by its number
    assert f"Tous ({len(mullers)})" in shown
    assert 'value="muller"' in page  # the field says what narrows the list
    exported = read_csv(meg_client.get("/meg/achats/factures/export.csv", query_string={"fournisseur": "muller"}))
    assert sorted(row["Id"] for row in exported) == sorted(row["Id"] for row in mullers)
    searched = _text(meg_client.get("/meg/achats/", query_string={"q": "muller"}).get_data(as_text=True))
    assert "MULLER-RETOUR-1" in searched

    # « Règlements » too, within what it lists.
    settled = _text(meg_client.get("/meg/achats/reglements", query_string={"fournisseur": "MÜLLER"})
                    .get_data(as_text=True))
    assert "MULLER-RETOUR-1" not in settled and "Boucherie Müller" in settled
    assert "Pâtisserie_Ève" not in settled


def test_a_supplier_with_no_invoice_says_the_filter_hides_them(meg_client):
    page = _text(meg_client.get("/meg/achats/", query_string={"fournisseur": "Nobody Ltd"}).get_data(as_text=True))
    assert "Aucune ligne ne correspond au fournisseur « Nobody Ltd »" in page


def test_fournisseurs_leads_to_each_suppliers_invoices(meg_client):
    html = meg_client.get("/meg/achats/fournisseurs").get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)" aria-label="Factures de Boucherie Müller">Factures</a>', html)
    assert link is not None
    shown = _text(meg_client.get(unescape(link.group(1))).get_data(as_text=True))
    assert "Boucherie Müller" in shown and "Dépôt Vallée" not in shown and "MULLER-RETOUR-1" not in shown


def test_a_supplier_too_long_is_cut_and_said(meg_client):
    page = _text(meg_client.get("/meg/achats/", query_string={"fournisseur": "x" * 300}).get_data(as_text=True))
    assert "Le fournisseur est limité à 100 caractères" in page


@pytest.fixture
def libeo_client(libeo_app, client):
    own = make_account(libeo_app, name=BOULANGERIE)
    fill_libeo(libeo_app, own.id, count=40)
    assert LibeoAuth(client).login(own.email).status_code == 302
    return client


@pytest.mark.parametrize(("url", "export"), [("/libeo/factures/", "/libeo/factures/export.csv"),
                                             ("/libeo/paiements/", "/libeo/paiements/export.csv")])
def test_libeo_lists_narrowed_to_one_supplier(libeo_client, url, export):
    everything = read_csv(libeo_client.get(export))
    column = "Fournisseur" if "Fournisseur" in everything[0] else "Bénéficiaire"
    vallee = [row for row in everything if row[column] == "Dépôt Vallée"]
    assert vallee and len(vallee) < len(everything)
    exported = read_csv(libeo_client.get(export, query_string={"fournisseur": "depot vallee"}))
    assert sorted(row[column] for row in exported) == [row[column] for row in vallee]
    shown = _text(libeo_client.get(url, query_string={"fournisseur": "depot vallee"}).get_data(as_text=True))
    assert "Dépôt Vallée" in shown and "Boucherie Müller" not in shown


def test_a_suppliers_link_shows_that_supplier_alone_not_every_name_holding_it(meg_app, meg_client):
    """« Roux » has no invoice, « Emballages Roux » has: « Factures » on Roux's row lists none of them (its rows
    could be ticked and paid from there); typed without quotes, « roux » finds Emballages Roux's."""
    from models.meg import PaymentMode, Supplier, db

    with meg_app.app_context():
        company = meg_company(BOULANGERIE)
        db.session.add(Supplier(company=company, name="Roux", iban="", siret=None))
        emballages = Supplier(company=company, name="Emballages Roux", iban="", siret=None)
        db.session.add(emballages)
        meg_invoice(company, emballages, "EMB-1", payment_mode=PaymentMode.LIBEO)
        db.session.commit()
    html = meg_client.get("/meg/achats/fournisseurs", query_string={"q": "roux"}).get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)" aria-label="Factures de Roux">Factures</a>', html)
    assert link is not None
    shown = _text(meg_client.get(unescape(link.group(1))).get_data(as_text=True))
    assert "EMB-1" not in shown and "Aucune ligne ne correspond au fournisseur « Roux »." in shown
    typed = _text(meg_client.get("/meg/achats/", query_string={"fournisseur": "roux"}).get_data(as_text=True))
    assert "EMB-1" in typed
