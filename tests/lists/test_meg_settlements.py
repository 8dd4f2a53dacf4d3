"""« Règlements » as a list people work with: each search, filter and sort gives the rows Python's own
filtering of the same invoices gives, on the page and in both exports; bad URLs get a clean page."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core.dates import paris_today
from core.validators import mask_iban
from tests.conftest import MegAuth

from .checks import BAD_QUERIES, assert_clean_page
from .conftest import IBAN, Row, expected, fill_meg, page_ids, read_csv, read_xlsx, walk_pages

BOULANGERIE, GARAGE = "Boulangerie Martin SARL", "Garage Leroy SAS"
LIST, EXPORT = "/meg/achats/reglements", "/meg/achats/reglements/export"
ROW_LINK = "/meg/achats/factures/"


def _rows(meg_app, company_name: str) -> list[Row]:
    """« Règlements »' rows of the company as the database holds them: unpaid, not paid through Libeo."""
    from models.meg import Company, SupplierInvoice, db
    from models.meg.libeo_link.attempts import PaymentAttempt, PaymentState

    with meg_app.app_context():
        company = db.session.scalar(select(Company).where(Company.name == company_name))
        paid_by_libeo = set(db.session.scalars(
            select(PaymentAttempt.invoice_id).where(PaymentAttempt.status == PaymentState.PAID)))
        invoices = db.session.scalars(select(SupplierInvoice).where(
            SupplierInvoice.company_id == company.id, SupplierInvoice.paid_at.is_(None))).all()
        return [Row(i.id, i.number, i.supplier.name, i.amount_cents, i.due_date,
                    {"echeance": i.due_date, "montant": i.amount_cents, "fournisseur": i.supplier.name,
                     "numero": i.number},
                    mode=i.payment_mode.name.lower(), siret=i.supplier.siret)
                for i in invoices if i.id not in paid_by_libeo]


@pytest.fixture
def filled(meg_app, demo, client, meg_auth):
    fill_meg(meg_app, BOULANGERIE, seed=1)
    fill_meg(meg_app, GARAGE, seed=2)
    meg_auth.login()
    return _rows(meg_app, BOULANGERIE)


def _today_plus(days: int) -> str:
    return (paris_today() + timedelta(days=days)).isoformat()


CASES = [
    {},
    {"q": "Société"}, {"q": "societe generale"}, {"q": "CAFE"}, {"q": "ève"}, {"q": "100%"}, {"q": "_"},
    {"q": "1 234,50"}, {"q": "1234.5"}, {"q": "41234567800011"}, {"q": "412345678"}, {"q": "F-1-00"},
    {"q": "d'Emb"}, {"q": "'"}, {"q": "zzz-nothing"},
    {"mode": "libeo"}, {"mode": "cheque"}, {"periode": "echues"}, {"periode": "semaine"}, {"periode": "mois"},
    {"du": _today_plus(-10), "au": _today_plus(10)}, {"du": _today_plus(5)}, {"au": _today_plus(-20)},
    {"min": "1 000"}, {"max": "500,5"}, {"min": "100", "max": "2 000,00"},
    {"tri": "-echeance"}, {"tri": "montant"}, {"tri": "-montant"}, {"tri": "fournisseur"}, {"tri": "-fournisseur"},
    {"tri": "numero"}, {"tri": "-numero"},
    {"q": "e", "mode": "libeo", "periode": "mois", "min": "10", "tri": "-montant"},
]


@pytest.mark.parametrize("params", CASES, ids=[str(case) for case in CASES])
def test_each_filter_and_sort_gives_pythons_rows(client, filled, params):
    want = expected(filled, params, "echeance")
    exported = [int(row["Id"]) for row in read_csv(client.get(f"{EXPORT}.csv", query_string=params))]
    assert exported == want
    page = client.get(LIST, query_string=params)
    assert page.status_code == 200
    assert page_ids(page.get_data(as_text=True), ROW_LINK)[: len(want[:50])] == want[:50]


def test_paging_keeps_the_search_filters_and_sort(client, filled):
    params = {"q": "e", "tri": "-montant"}
    want = expected(filled, params, "echeance")
    assert len(want) > 50
    first = client.get(LIST, query_string=params).get_data(as_text=True)
    assert 'href="/meg/achats/reglements?q=e&amp;tri=-montant&amp;page=2"' in first
    second = client.get(LIST, query_string={**params, "page": 2}).get_data(as_text=True)
    assert page_ids(second, ROW_LINK)[: len(want) - 50] == want[50:100]
    assert 'value="e"' in second  # the search box still says what is searched


@pytest.mark.parametrize("params", [{}, {"tri": "-montant"}, {"mode": "libeo", "tri": "fournisseur"},
                                    {"q": "e", "tri": "-montant"}], ids=str)
def test_the_pager_counts_every_row_and_the_pages_show_each_once(client, filled, params):
    """Counted apart from the rows (a list not searched) or beside each (searched): the same total, page after
    page, and past the last page."""
    want = expected(filled, params, "echeance")
    assert walk_pages(client, LIST, params, len(want), 50, lambda html: page_ids(html, ROW_LINK)) == want
    pages = max(-(-len(want) // 50), 1)
    past = client.get(LIST, query_string={**params, "page": pages + 1})
    assert past.status_code in (200, 302, 404) and "Erreur interne" not in past.get_data(as_text=True)


def test_the_sort_is_told_in_the_header(client, filled):
    page = client.get(LIST, query_string={"tri": "-montant"}).get_data(as_text=True)
    assert '<th class="num" aria-sort="descending"><a class="sort" href="/meg/achats/reglements?tri=montant">' in page
    assert page.count("aria-sort=") == 1
    plain = client.get(LIST).get_data(as_text=True)
    assert '<th aria-sort="ascending"><a class="sort" href="/meg/achats/reglements?tri=-echeance">Échéance' in plain


def test_an_empty_result_says_which_filter_hides_everything(client, filled):
    page = client.get(LIST, query_string={"q": "zzz", "mode": "especes"}).get_data(as_text=True)
    assert "Aucune ligne ne correspond à la recherche « zzz » et au mode « Espèces »." in page
    assert 'href="/meg/achats/reglements?mode=especes">Retirer la recherche « zzz »</a>' in page
    assert '<a href="/meg/achats/reglements">Effacer les filtres</a>' in page


BAD = [
    ({"etat": "payees"}, "« payees » n'est pas un état de cette liste : ce filtre est ignoré."),
    ({"mode": "bitcoin"}, "« bitcoin » n'est pas un mode de règlement de cette liste : ce filtre est ignoré."),
    ({"du": "2026-12-31", "au": "2026-01-01"}, "les deux sont inversées"),
    ({"du": "31/12/2026"}, "n'est pas une date : elle est ignorée"),
    ({"au": "9999-12-31"}, "hors des dates possibles"),
    ({"min": "douze"}, "n'est pas un montant en euros"),
    ({"min": "5 000", "max": "10"}, "les deux sont inversés"),
    ({"periode": "demain"}, "« demain » n'est pas une période de cette liste"),
    ({"q": "%"}, None), ({"tri": ""}, None), *BAD_QUERIES,
]


@pytest.mark.parametrize(("params", "message"), BAD, ids=[str(p)[:60] for p, _ in BAD])
def test_bad_parameters_get_a_clean_page(client, filled, params, message):
    assert_clean_page(client, LIST, params, message, EXPORT)


def test_the_forms_empty_fields_leave_the_address(client, filled):
    answer = client.get(LIST, query_string={"q": "", "mode": "libeo", "periode": "", "du": "", "tri": "-montant"})
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/meg/achats/reglements?mode=libeo&tri=-montant"


def test_wildcards_are_searched_as_typed(client, filled):
    percent = [row for row in filled if "%" in row.number or "%" in row.supplier]
    assert {int(r["Id"]) for r in read_csv(client.get(f"{EXPORT}.csv?q=%25"))} == {row.id for row in percent}
    underscore = {int(r["Id"]) for r in read_csv(client.get(f"{EXPORT}.csv?q=_"))}
    assert underscore == {row.id for row in filled if "_" in row.number or "_" in row.supplier}


def test_the_url_round_trips(client, filled):
    params = {"q": "Café", "mode": "libeo", "du": _today_plus(-30), "au": _today_plus(30), "min": "10",
              "max": "4 000,5", "tri": "-fournisseur"}
    page = client.get(LIST, query_string=params).get_data(as_text=True)
    # The export link carries the whole state, written as the list writes it.
    link = page.split('<a href="/meg/achats/reglements/export.csv?')[1].split('"')[0].replace("&amp;", "&")
    again = client.get(f"{EXPORT}.csv?{link}")
    assert [int(r["Id"]) for r in read_csv(again)] == expected(filled, params, "echeance")


def test_csv_export_opens_as_french_spreadsheets_expect(client, filled):
    response = client.get(f"{EXPORT}.csv", query_string={"q": "1 234,50"})
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="reglements-')
    rows = read_csv(response)
    assert rows and all(row["Montant TTC"] == "1234,50" for row in rows)
    first = rows[0]
    assert first["IBAN du fournisseur"] == IBAN  # an Achats administrator reads it whole
    assert date(*reversed([int(part) for part in first["Échéance"].split("/")]))  # « 31/12/2026 »
    assert set(first) >= {"Id", "Numéro", "Fournisseur", "SIRET du fournisseur", "Échéance", "Montant TTC",
                          "Mode de règlement"}


def test_xlsx_export_has_numbers_dates_and_text(client, filled):
    rows = read_xlsx(client.get(f"{EXPORT}.xlsx", query_string={"tri": "montant"}))
    assert [row["Id"] for row in rows] == expected(filled, {"tri": "montant"}, "echeance")
    by_id = {row.id: row for row in filled}
    for row in rows:
        assert Decimal(str(row["Montant TTC"])) == Decimal(by_id[row["Id"]].amount).scaleb(-2)
        assert row["Échéance"].date() == by_id[row["Id"]].date
        assert row["Numéro"] == by_id[row["Id"]].number  # « 100%-X » stays text, never a formula


def test_ibans_are_masked_for_who_may_not_change_them(apps, filled):
    user = apps.root.test_client()
    assert MegAuth(user).login("compta@boulangerie-martin.fr").status_code == 302
    rows = read_csv(user.get(f"{EXPORT}.csv"))
    assert rows and {row["IBAN du fournisseur"] for row in rows} >= {mask_iban(IBAN)}
    assert IBAN not in user.get(f"{EXPORT}.csv").get_data(as_text=True)


def test_an_unknown_export_format_is_not_found(client, filled):
    assert client.get(f"{EXPORT}.pdf").status_code == 404


LIST_PARAMS = st.fixed_dictionaries({}, optional={
    "q": st.text(max_size=30), "mode": st.sampled_from(["libeo", "cheque", "x", ""]),
    "periode": st.sampled_from(["echues", "semaine", "mois", "?"]),
    "du": st.dates(date(1890, 1, 1), date(2300, 1, 1)).map(date.isoformat) | st.text(max_size=12),
    "au": st.dates(date(1890, 1, 1), date(2300, 1, 1)).map(date.isoformat),
    "min": st.sampled_from(["0", "-5", "1 000", "1e9", "12,345", "99999999999999"]) | st.text(max_size=8),
    "max": st.integers(-10, 10**12).map(str), "tri": st.sampled_from(["montant", "-numero", "-x", "--montant"]),
    "page": st.integers(-5, 10**7).map(str),
})


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(params=LIST_PARAMS)
def test_no_parameter_shows_another_companys_rows(client, meg_app, filled, params):
    """Whatever the URL says, a list and its export hold the signed-in company's invoices only."""
    garage = {row.id for row in _rows(meg_app, GARAGE)}
    page = client.get(LIST, query_string=params, follow_redirects=True)
    assert page.status_code == 200
    assert not garage & set(page_ids(page.get_data(as_text=True), ROW_LINK))
    exported = {int(row["Id"]) for row in read_csv(client.get(f"{EXPORT}.csv", query_string=params))}
    assert not garage & exported
