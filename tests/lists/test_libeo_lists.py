"""Libeo « Factures » and « Paiements » as lists people work with: each search, state tab, filter and
sort gives the rows Python's own filtering of the same data gives, on the page and in both exports."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from html import unescape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from core.dates import as_utc, paris_today
from core.validators import mask_iban
from tests.libeo.conftest import LibeoAuth, make_account

from .checks import BAD_QUERIES, assert_clean_page
from .conftest import IBAN, Row, expected, fill_libeo, page_ids, read_csv, read_xlsx, walk_pages

INVOICE_STATES = {"a_payer": {"to_pay"}, "a_approuver": {"awaiting_approval"}, "programmees": {"payment_scheduled"},
                  "payees": {"paid"}, "rejetees": {"payment_failed"}}
PAYMENT_STATES = {"a_approuver": {"awaiting_approval"}, "programmes": {"scheduled"}, "a_transmettre": {"file_ready"},
                  "a_la_banque": {"transmitted", "accepted"}, "payes": {"paid"}, "rejetes": {"failed"},
                  "annules": {"cancelled"}}


def _invoices(libeo_app, account_id: int) -> list[Row]:
    from models.libeo import Invoice, db

    with libeo_app.app_context():
        return [Row(i.id, i.number, i.supplier_name, i.amount_cents, i.due_date,
                    {"date": i.issue_date, "echeance": i.due_date, "montant": i.amount_cents,
                     "fournisseur": i.supplier_name, "numero": i.number, "statut": i.status.value},
                    state=i.status.value)
                for i in db.session.scalars(select(Invoice).where(Invoice.account_id == account_id))]


def _payments(libeo_app, account_id: int) -> list[Row]:
    from models.libeo import Payment, db

    with libeo_app.app_context():
        return [Row(p.id, p.invoice.number, p.creditor_name, p.amount_cents, p.execution_date,
                    {"creation": as_utc(p.created_at), "execution": p.execution_date, "montant": p.amount_cents,
                     "fournisseur": p.creditor_name, "facture": p.invoice.number, "statut": p.status.value},
                    state=p.status.value)
                for p in db.session.scalars(select(Payment).where(Payment.account_id == account_id))]


class Lists:
    def __init__(self, libeo_app, own: int, other: int) -> None:
        self.app, self.own, self.other = libeo_app, own, other

    def rows(self, name: str, account_id: int | None = None) -> list[Row]:
        return (_invoices if name == "factures" else _payments)(self.app, account_id or self.own)


LISTS = {  # name → (list URL, row link, default sort, states)
    "factures": ("/libeo/factures/", "/libeo/factures/", "-date", INVOICE_STATES),
    "paiements": ("/libeo/paiements/", "/libeo/paiements/", "-creation", PAYMENT_STATES),
}


@pytest.fixture
def lists(libeo_app, client):
    own = make_account(libeo_app, name="Boulangerie Martin SARL")
    other = make_account(libeo_app, name="Garage Leroy SAS")
    fill_libeo(libeo_app, own.id, seed=1)
    fill_libeo(libeo_app, other.id, seed=2)
    assert LibeoAuth(client).login(own.email).status_code == 302
    return Lists(libeo_app, own.id, other.id)


def _day(days: int) -> str:
    return (paris_today() + timedelta(days=days)).isoformat()


COMMON = [
    {}, {"q": "Société"}, {"q": "societe GENERALE"}, {"q": "cafe"}, {"q": "ÈVE"}, {"q": "100%"}, {"q": "_"},
    {"q": "1 234,50"}, {"q": "d'Emb"}, {"q": "F-1-00"}, {"q": "nothing-here"},
    {"du": _day(-10), "au": _day(10)}, {"au": _day(-15)}, {"min": "1 000"}, {"min": "100", "max": "2 000,00"},
    {"tri": "montant"}, {"tri": "-montant"}, {"tri": "fournisseur"}, {"tri": "-statut"},
]
CASES = [("factures", case) for case in [
    *COMMON, *({"etat": key} for key in INVOICE_STATES), {"periode": "echues"}, {"periode": "mois"},
    {"tri": "echeance"}, {"tri": "date"}, {"tri": "-numero"}, {"q": "e", "etat": "a_payer", "tri": "-echeance"},
]] + [("paiements", case) for case in [
    *COMMON, *({"etat": key} for key in PAYMENT_STATES), {"periode": "semaine"}, {"periode": "mois"},
    {"tri": "execution"}, {"tri": "creation"}, {"tri": "-facture"},
    {"q": "a", "etat": "a_la_banque", "min": "10", "tri": "-execution"},
]]


@pytest.mark.parametrize(("name", "params"), [(name, params) for name in LISTS for params in
                                               ({}, {"tri": "montant"}, {"q": "e", "tri": "-montant"})], ids=str)
def test_the_pager_counts_every_row_of_the_filter(client, lists, name, params):
    """The total, counted apart from the rows (not searched) or beside each (searched), is the number of rows
    the filter holds, and the pages show each once."""
    url, link, default_sort, states = LISTS[name]
    want = expected(lists.rows(name), params, default_sort, states)
    assert walk_pages(client, url, params, len(want), 25, lambda html: page_ids(html, link)) == want


@pytest.mark.parametrize(("name", "params"), CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_each_filter_and_sort_gives_pythons_rows(client, lists, name, params):
    url, link, default_sort, states = LISTS[name]
    want = expected(lists.rows(name), params, default_sort, states)
    exported = [int(row["Id"]) for row in read_csv(client.get(f"{url}export.csv", query_string=params))]
    assert exported == want
    page = client.get(url, query_string=params)
    assert page.status_code == 200
    assert page_ids(page.get_data(as_text=True), link)[:25] == want[:25]


@pytest.mark.parametrize("name", LISTS)
def test_state_tabs_count_what_the_other_filters_leave(client, lists, name):
    from models.libeo.invoices.lists import INVOICES
    from models.libeo.payments.lists import PAYMENTS

    url, _link, default_sort, states = LISTS[name]
    labels = (INVOICES if name == "factures" else PAYMENTS).states
    params = {"min": "1 000"}
    html = unescape(client.get(url, query_string={**params, "etat": next(iter(states))}).get_data(as_text=True))
    rows = lists.rows(name)
    assert f">Tous ({len(expected(rows, params, default_sort, states))})</a>" in html
    for key in states:
        count = len(expected(rows, {**params, "etat": key}, default_sort, states))
        assert f">{labels[key]} ({count})</a>" in html


def test_the_payment_sort_is_told_in_the_header(client, lists):
    html = client.get("/libeo/paiements/", query_string={"tri": "montant"}).get_data(as_text=True)
    assert ('<th class="num" aria-sort="ascending"><a class="sort" href="/libeo/paiements/?tri=-montant">'
            "Montant ▲") in html
    # The invoice's page lists its payments with the same table, and no sort links.
    invoice_id = lists.rows("factures")[3].id
    assert "aria-sort" not in client.get(f"/libeo/factures/{invoice_id}").get_data(as_text=True)


BAD = [
    ({"etat": "rembourse"}, "« rembourse » n'est pas un état de cette liste : ce filtre est ignoré."),
    ({"du": "2026-12-31", "au": "2026-01-01"}, "les deux sont inversées"),
    ({"du": "hier"}, "n'est pas une date"), ({"max": "beaucoup"}, "n'est pas un montant en euros"),
    ({"q": "é" * 5_000}, "La recherche est limitée à 100 caractères"),
    ({"tri": "password"}, "n'est pas une colonne à trier"), ({"mode": "libeo"}, None),
    ("q=%ED%A0%80&etat=%00", None), *BAD_QUERIES,
]


@pytest.mark.parametrize("name", [*LISTS, "remises"])
@pytest.mark.parametrize(("params", "message"), BAD, ids=[str(p)[:50] for p, _ in BAD])
def test_bad_parameters_get_a_clean_page(client, lists, name, params, message):
    url = "/libeo/remises/" if name == "remises" else LISTS[name][0]
    assert_clean_page(client, url, params, message, None if name == "remises" else f"{url}export",
                      follow_redirects=False)


def test_payments_export_reads_back_in_a_spreadsheet(client, lists):
    params = {"etat": "payes", "tri": "-montant"}
    rows = read_xlsx(client.get("/libeo/paiements/export.xlsx", query_string=params))
    by_id = {row.id: row for row in lists.rows("paiements")}
    assert [row["Id"] for row in rows] == expected(list(by_id.values()), params, "-creation", PAYMENT_STATES)
    for row in rows:
        assert Decimal(str(row["Montant"])) == Decimal(by_id[row["Id"]].amount).scaleb(-2)
        assert row["Exécution"].date() == by_id[row["Id"]].date
        assert row["Statut"].startswith("Débité")
        assert row["IBAN du fournisseur"] == IBAN  # the account's creator is an administrator


def test_an_invited_user_reads_ibans_masked(client, lists, libeo_app):
    from models.libeo import LibeoUser, db

    with libeo_app.app_context():
        db.session.execute(update(LibeoUser).where(LibeoUser.account_id == lists.own).values(is_admin=False))
        db.session.commit()
    for url in ("/libeo/paiements/export.csv", "/libeo/factures/export.csv"):
        rows = read_csv(client.get(url))
        assert rows and {row["IBAN du fournisseur"] for row in rows} == {mask_iban(IBAN)}


def test_invoice_export_says_what_the_list_says(client, lists):
    rows = read_csv(client.get("/libeo/factures/export.csv", query_string={"etat": "a_payer"}))
    assert rows and {row["Statut"] for row in rows} == {"À payer"}
    assert all(row["Montant TTC"].count(",") == 1 for row in rows)  # decimal comma


LIST_PARAMS = st.fixed_dictionaries({}, optional={
    "q": st.text(max_size=20), "etat": st.sampled_from([*INVOICE_STATES, *PAYMENT_STATES, "x"]),
    "periode": st.sampled_from(["echues", "semaine", "mois", ""]),
    "du": st.dates(date(1890, 1, 1), date(2300, 1, 1)).map(date.isoformat), "au": st.text(max_size=12),
    "min": st.integers(-10, 10**13).map(str), "max": st.text(max_size=8),
    "tri": st.sampled_from(["montant", "-statut", "facture", "x"]), "page": st.integers(-5, 10**7).map(str),
})


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(params=LIST_PARAMS)
def test_no_parameter_shows_another_accounts_rows(client, lists, params):
    for name, (url, _link, _sort, _states) in LISTS.items():
        others = {row.id for row in lists.rows(name, lists.other)}
        page = client.get(url, query_string=params, follow_redirects=True)
        assert page.status_code == 200
        assert not others & set(page_ids(page.get_data(as_text=True), url))
        assert not others & {int(row["Id"]) for row in read_csv(client.get(f"{url}export.csv", query_string=params))}
