"""The lists' and exports' edges in both products: a page past the end (the last page, never « nothing
here »), a name written with a French ligature searched as people type it, and the workbook an export gives
(text that stays text, moments that are date-times)."""

from __future__ import annotations

import re
from datetime import datetime
from html import unescape
from io import BytesIO

import pytest
from openpyxl import load_workbook

from tests.conftest import MegAuth
from tests.factories import meg_company
from tests.libeo.conftest import LibeoAuth, make_account
from tests.lists.conftest import fill_libeo, meg_supplier_with_invoice, read_csv

BOULANGERIE = "Boulangerie Martin SARL"


@pytest.fixture
def meg_client(demo, client):
    """The demo's « Achats » administrator of Boulangerie Martin, signed in (nine invoices, four suppliers)."""
    assert MegAuth(client).login().status_code == 302
    return client


@pytest.fixture
def libeo_client(libeo_app, client):
    """A Libeo account with thirty invoices and their payments, signed in."""
    own = make_account(libeo_app, name=BOULANGERIE)
    fill_libeo(libeo_app, own.id, count=30)
    assert LibeoAuth(client).login(own.email).status_code == 302
    return client


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


# --- A page past the last one -------------------------------------------------------------------------

# (list, what its empty state says when the list holds nothing at all)
PAST_THE_END = [
    ("meg", "/meg/achats/", "Aucune facture fournisseur pour l'instant."),
    ("meg", "/meg/achats/reglements", "Aucune facture à régler."),
    ("meg", "/meg/achats/fournisseurs", "Aucun fournisseur pour l'instant."),
    ("libeo", "/libeo/factures/", "Aucune facture pour l'instant."),
    ("libeo", "/libeo/paiements/", "Aucun paiement pour l'instant."),
]


@pytest.mark.parametrize(("side", "url", "nothing_at_all"), PAST_THE_END, ids=[url for _s, url, _n in PAST_THE_END])
def test_a_page_past_the_last_never_says_the_list_is_empty(request, side, url, nothing_at_all):
    """``?page=999`` (an old bookmark, a list that shrank since, a hand-typed URL) on a list that holds rows:
    the page shows the last page's rows or says the page does not exist, never « nothing here yet »
    while its own tabs count the rows."""
    client = request.getfixturevalue("meg_client" if side == "meg" else "libeo_client")
    first = client.get(url)
    assert first.status_code == 200 and nothing_at_all not in _text(first.get_data(as_text=True))
    past = client.get(url, query_string={"page": "999"}, follow_redirects=True)
    assert past.status_code == 200
    assert nothing_at_all not in _text(past.get_data(as_text=True)), (
        f"{url}?page=999 says « {nothing_at_all} » although the list holds rows")


# --- Search: the French ligatures ------------------------------------------------------------------------

LIGATURES = [("Œufs Frais du Marché", "oeufs"), ("Bœuf & Cie", "BOEUF"), ("Lætitia Traiteur", "laetitia")]


@pytest.mark.parametrize(("name", "typed"), LIGATURES, ids=[typed for _n, typed in LIGATURES])
def test_a_ligature_is_found_as_people_type_it(meg_app, meg_client, name, typed):
    """« Œ » and « Æ » are « oe » and « ae » on a French keyboard: searching « oeufs » finds « Œufs Frais du
    Marché », on the page and in the export (the fold maps « œ » to a single « o »: « cœur » is searched
    as « cour »)."""
    meg_supplier_with_invoice(meg_app, BOULANGERIE, name, "LIG-1")
    cell = f'data-label="Fournisseur">{name.replace("&", "&amp;")}<'
    # Typed with the ligature itself, the search finds it: the row is there to be found.
    assert cell in meg_client.get("/meg/achats/", query_string={"q": name.split()[0]}).get_data(as_text=True)
    html = meg_client.get("/meg/achats/", query_string={"q": typed}).get_data(as_text=True)
    assert cell in html, f"« {typed} » does not find « {name} »"
    rows = read_csv(meg_client.get("/meg/achats/factures/export.csv", query_string={"q": typed}))
    assert [row["Fournisseur"] for row in rows] == [name]


@pytest.mark.parametrize(("name", "typed"), [("L’Atelier du Bois", "l'atelier"), ("L'Atelier du Bois", "l’atelier"),
                                             ("Cœur d’Or Traiteur", "coeur d'or")],
                         ids=["typographic stored", "straight stored", "ligature and apostrophe"])
def test_either_apostrophe_finds_the_other(meg_app, meg_client, name, typed):
    """A keyboard types « ' », a name pasted from a document holds « ’ »: either finds the other."""
    meg_supplier_with_invoice(meg_app, BOULANGERIE, name, "APO-1")
    html = meg_client.get("/meg/achats/", query_string={"q": typed}).get_data(as_text=True)
    assert "APO-1" in html, f"« {typed} » does not find « {name} »"


# --- XLSX: text stays text ------------------------------------------------------------------------------


def test_xlsx_writes_an_error_codes_text_as_text(meg_app, meg_client):
    """An invoice numbered « #N/A » or a supplier named « #REF! » is text in the workbook, as it is in MEG:
    openpyxl turns such a string into an error cell (``t="e"``), which the spreadsheet shows as an error
    and which breaks every formula, sort or filter reading that column."""
    meg_supplier_with_invoice(meg_app, BOULANGERIE, "#REF!", "#N/A")
    sheet = load_workbook(BytesIO(meg_client.get("/meg/achats/factures/export.xlsx").get_data())).worksheets[0]
    header = [cell.value for cell in sheet[1]]
    number, supplier = header.index("Numéro"), header.index("Fournisseur")
    found = [row for row in sheet.iter_rows(min_row=2) if row[number].value == "#N/A"]
    assert found, "the invoice « #N/A » is not in the export"
    assert (found[0][number].data_type, found[0][supplier].data_type) == ("s", "s")
    assert found[0][supplier].value == "#REF!"


# --- XLSX: a date is a date ------------------------------------------------------------------------------


def test_the_journal_export_gives_its_dates_as_dates(libeo_client):
    """« Journal » exported: « Date » is a date-time cell, as every other export's dates are, not the page's
    words « 06/12/2026 à 09:53 », which a spreadsheet sorts by day of the month."""
    response = libeo_client.get("/libeo/journal/export.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(BytesIO(response.get_data()), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    header, entries = rows[0], rows[1:]
    assert entries, "the new account's journal is empty"
    dates = [entry[header.index("Date")] for entry in entries]
    assert all(isinstance(value, datetime) for value in dates), dates
    # What each entry is about in the tabs' words, never a code such as « bank.report_imported ».
    assert {entry[header.index("Type")] for entry in entries} <= {"Paiements", "IBAN", "Accès et clés",
                                                                  "Compte et abonnement", "Autre"}
    # The CSV gives the same moment, Paris time, as a spreadsheet reads a date and a time.
    csv_dates = [row["Date"] for row in read_csv(libeo_client.get("/libeo/journal/export.csv"))]
    assert csv_dates == [value.strftime("%d/%m/%Y %H:%M") for value in dates]


def test_the_journal_past_its_last_page_shows_its_last_entries(meg_app, meg_client):
    """MEG « Journal » at ``?page=999`` shows its last page's entries, not « Aucune entrée »."""
    from models.meg import db
    from models.meg.journal import record

    with meg_app.app_context():
        record(meg_company(BOULANGERIE), "connexion", "Connexion à Libeo vérifiée (entrée de test)")
        db.session.commit()
    html = meg_client.get("/meg/achats/journal/", query_string={"page": "999"}).get_data(as_text=True)
    assert "Connexion à Libeo vérifiée (entrée de test)" in _text(html)
