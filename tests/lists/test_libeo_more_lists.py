"""Libeo « À approuver » and « Journal » as lists people work with: each search, tab, filter and sort
gives the rows Python's own filtering of the same data gives, on the page and in both exports; the URL
round-trips; bad URLs get a clean page; no parameter shows another account's rows."""

from __future__ import annotations

import random
import re
from datetime import date, timedelta
from decimal import Decimal
from html import unescape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core.dates import as_utc, paris_today, utcnow
from tests.libeo.conftest import LibeoAuth, make_account

from .checks import BAD_QUERIES, assert_clean_page, assert_empty_search_explained
from .conftest import IBAN, Row, expected, fill_libeo, page_ids, read_csv, read_xlsx

APPROVALS, JOURNAL = "/libeo/a-approuver/", "/libeo/journal/"
KINDS = ["payment.held", "payment.approved", "iban.first_seen", "key.issued", "plan.changed", "account.created",
         "debtor_iban.changed", "user.added", "something.new"]
# First letters that every collation orders alike (PostgreSQL's locale or bytes).
ACTORS = ["Aline@boulangerie.fr", "Bernard (clé d'API)", "Céline 100%@compta.fr", "Élodie_Roux"]
MESSAGES = ["Paiement de la facture F-{k} à Société Générale d'Emballage retenu", "Clé d'API « MEG » créée",
            "IBAN FR76 **** 1963 de Café 100% Arabica vu pour la première fois", "Formule changée : Gratuit → Pro",
            "Règle d'approbation : au-delà de 1 234,50 €"]


def _journal(libeo_app, account_id: int, seed: int, count: int = 80) -> None:
    from models.libeo import db
    from models.libeo.journal import record

    rng = random.Random(seed)
    with libeo_app.app_context():
        for k in range(count):
            entry = record(account_id, KINDS[rng.randrange(len(KINDS))], MESSAGES[k % len(MESSAGES)].format(k=k),
                           ACTORS[rng.randrange(len(ACTORS))], payment_id=k if k % 3 == 0 else None)
            # Spread over forty days (around midnight too: the day is Paris's).
            entry.created_at = utcnow() - timedelta(minutes=rng.randint(0, 40 * 24 * 60))
        db.session.commit()


def _hold_half(libeo_app) -> None:
    """Half the payments held, so that « À approuver » has pages."""
    from sqlalchemy import update

    from models.libeo import Payment, PaymentStatus, db

    with libeo_app.app_context():
        db.session.execute(update(Payment).where(Payment.id % 2 == 0)
                           .values(status=PaymentStatus.AWAITING_APPROVAL))
        db.session.commit()


def journal_rows(libeo_app, account_id: int) -> list[Row]:
    from models.libeo import db
    from models.libeo.journal import JournalEntry

    with libeo_app.app_context():
        return [Row(e.id, e.message, e.actor, -1, paris_today(as_utc(e.created_at)), {"date": e.id, "par": e.actor},
                    state=e.kind)
                for e in db.session.scalars(select(JournalEntry).where(JournalEntry.account_id == account_id))]


def awaiting_rows(libeo_app, account_id: int) -> list[Row]:
    from models.libeo import Payment, PaymentStatus, db

    with libeo_app.app_context():
        return [Row(p.id, p.invoice.number, p.creditor_name, p.amount_cents, p.execution_date,
                    {"creation": as_utc(p.created_at), "execution": p.execution_date, "montant": p.amount_cents,
                     "fournisseur": p.creditor_name, "facture": p.invoice.number})
                for p in db.session.scalars(select(Payment).where(
                    Payment.account_id == account_id, Payment.status == PaymentStatus.AWAITING_APPROVAL))]


class Filled:
    def __init__(self, app, own: int, other: int) -> None:
        self.app, self.own, self.other = app, own, other

    def rows(self, name: str, account_id: int | None = None) -> list[Row]:
        return (journal_rows if name == "journal" else awaiting_rows)(self.app, account_id or self.own)


@pytest.fixture
def filled(libeo_app, client):
    own = make_account(libeo_app, name="Boulangerie Martin SARL")
    other = make_account(libeo_app, name="Garage Leroy SAS")
    fill_libeo(libeo_app, own.id, count=200, seed=1)
    fill_libeo(libeo_app, other.id, count=60, seed=2)
    _hold_half(libeo_app)
    _journal(libeo_app, own.id, seed=1)
    _journal(libeo_app, other.id, seed=2, count=30)
    assert LibeoAuth(client).login(own.email).status_code == 302
    return Filled(libeo_app, own.id, other.id)


def _states():
    from models.libeo.journal import JOURNAL_KINDS

    return {key: set(kinds) for key, kinds in JOURNAL_KINDS.items()}


LISTS = {"a-approuver": (APPROVALS, "creation", None), "journal": (JOURNAL, "-date", "states")}


def _ids(html: str, name: str) -> list[int]:
    if name == "journal":
        return [int(found) for found in re.findall(r'data-entry="(\d+)"', html)]
    return page_ids(html, "/libeo/paiements/")


def _want(filled: Filled, name: str, params: dict) -> list[int]:
    return expected(filled.rows(name), params, LISTS[name][1], _states() if name == "journal" else None)


def _day(days: int) -> str:
    return (paris_today() + timedelta(days=days)).isoformat()


APPROVAL_CASES = [
    {}, {"q": "Société"}, {"q": "societe GENERALE"}, {"q": "cafe"}, {"q": "ÈVE"}, {"q": "100%"}, {"q": "_"},
    {"q": "1 234,50"}, {"q": "F-1-0"}, {"q": "nothing-here"}, {"du": _day(-10), "au": _day(10)}, {"au": _day(-5)},
    {"periode": "semaine"}, {"periode": "mois"}, {"min": "1 000"}, {"min": "100", "max": "2 000,00"},
    {"tri": "-creation"}, {"tri": "execution"}, {"tri": "-montant"}, {"tri": "fournisseur"}, {"tri": "-facture"},
]
JOURNAL_CASES = [
    {}, {"q": "societe"}, {"q": "CLÉ"}, {"q": "élodie"}, {"q": "100%"}, {"q": "_"}, {"q": "1 234,50"}, {"q": "'"},
    {"q": "F-12"}, *({"etat": key} for key in ("paiements", "iban", "acces", "compte")), {"tri": "date"},
    {"periode": "semaine"}, {"periode": "mois"}, {"du": _day(-20), "au": _day(-3)}, {"au": _day(-30)},
    {"du": _day(-1)}, {"q": "e", "etat": "iban", "du": _day(-15), "tri": "-par"},
    {"tri": "par"}, {"tri": "-par"}, {"q": "e", "etat": "paiements", "tri": "par"},
]
CASES = {"a-approuver": APPROVAL_CASES, "journal": JOURNAL_CASES}


@pytest.mark.parametrize("name", CASES)
def test_each_filter_and_sort_gives_pythons_rows(client, filled, name):
    """Every case of the list on one set of rows (a database each time would be most of the run)."""
    url = LISTS[name][0]
    per_page = 50 if name == "journal" else 25
    for params in CASES[name]:
        want = _want(filled, name, params)
        exported = [int(row["Id"]) for row in read_csv(client.get(f"{url}export.csv", query_string=params))]
        assert exported == want, params
        page = client.get(url, query_string=params)
        assert page.status_code == 200, params
        assert _ids(page.get_data(as_text=True), name)[:per_page] == want[:per_page], params


def test_journal_tabs_count_what_the_search_leaves(client, filled):
    from models.libeo.journal import JOURNAL as SPEC

    html = unescape(client.get(JOURNAL, query_string={"q": "e"}).get_data(as_text=True))
    assert f">Tous ({len(_want(filled, 'journal', {'q': 'e'}))})</a>" in html
    for key, label in SPEC.states.items():
        assert f">{label} ({len(_want(filled, 'journal', {'q': 'e', 'etat': key}))})</a>" in html


def test_the_journals_sort_is_told_in_the_header(client, filled):
    html = client.get(JOURNAL, query_string={"tri": "par"}).get_data(as_text=True)
    assert '<th aria-sort="ascending"><a class="sort" href="/libeo/journal/?tri=-par">Par ▲' in html
    assert html.count("aria-sort=") == 1


@pytest.mark.parametrize("name", LISTS)
def test_the_url_and_the_pages_keep_the_state(client, filled, name):
    url = LISTS[name][0]
    params = {"q": "e", "tri": "-par"} if name == "journal" else {"q": "e", "min": "1", "tri": "-montant"}
    want = _want(filled, name, params)
    per_page = 50 if name == "journal" else 25
    assert len(want) > per_page
    page = client.get(url, query_string=params).get_data(as_text=True)
    link = page.split(f'<a href="{url}export.csv?')[1].split('"')[0].replace("&amp;", "&")
    assert [int(r["Id"]) for r in read_csv(client.get(f"{url}export.csv?{link}"))] == want
    assert f'href="{url}?{link.replace("&", "&amp;")}&amp;page=2"' in page
    second = client.get(f"{url}?{link}&page=2").get_data(as_text=True)
    assert _ids(second, name)[:per_page] == want[per_page:2 * per_page]


@pytest.mark.parametrize("name", LISTS)
def test_an_empty_result_says_which_filter_hides_everything(client, filled, name):
    assert_empty_search_explained(client, LISTS[name][0])


BAD = [
    ({"etat": "rembourse"}, "« rembourse » n'est pas un état de cette liste : ce filtre est ignoré."),
    ({"du": "2026-12-31", "au": "2026-01-01"}, None), ({"du": "hier"}, None), ({"max": "beaucoup"}, None),
    ({"q": "é" * 10_000}, "La recherche est limitée à 100 caractères"),
    ({"tri": "password"}, "n'est pas une colonne à trier"), ({"mode": "libeo"}, None),
    ("q=%ED%A0%80&etat=%00", None), ({"q": "\\%_"}, None), *BAD_QUERIES,
]


@pytest.mark.parametrize("name", LISTS)
def test_bad_parameters_get_a_clean_page(client, filled, name):
    url = LISTS[name][0]
    for params, message in BAD:
        assert_clean_page(client, url, params, message, f"{url}export")


def test_exports_read_back_in_a_spreadsheet(client, filled):
    params = {"tri": "-montant"}
    rows = read_xlsx(client.get(f"{APPROVALS}export.xlsx", query_string=params))
    by_id = {row.id: row for row in filled.rows("a-approuver")}
    assert [row["Id"] for row in rows] == _want(filled, "a-approuver", params)
    for row in rows:
        assert Decimal(str(row["Montant"])) == Decimal(by_id[row["Id"]].amount).scaleb(-2)
        assert row["Exécution"].date() == by_id[row["Id"]].date
        assert row["IBAN du fournisseur"] == IBAN  # « À approuver » is for administrators, who read it whole
    entries = read_csv(client.get(f"{JOURNAL}export.csv", query_string={"q": "1 234,50"}))
    assert entries and all("1 234,50" in row["Événement"] for row in entries)
    sheet = read_xlsx(client.get(f"{JOURNAL}export.xlsx", query_string={"etat": "iban"}))
    assert [row["Id"] for row in sheet] == _want(filled, "journal", {"etat": "iban"})


def test_the_lists_are_for_administrators(client, filled, libeo_app):
    from sqlalchemy import update

    from models.libeo import LibeoUser, db

    with libeo_app.app_context():
        db.session.execute(update(LibeoUser).where(LibeoUser.account_id == filled.own).values(is_admin=False))
        db.session.commit()
    for url in (APPROVALS, JOURNAL):
        assert client.get(f"{url}export.csv").status_code == 403


LIST_PARAMS = st.fixed_dictionaries({}, optional={
    "q": st.text(max_size=20), "etat": st.sampled_from(["paiements", "iban", "acces", "compte", "x"]),
    "periode": st.sampled_from(["echues", "semaine", "mois", ""]),
    "du": st.dates(date(1890, 1, 1), date(2300, 1, 1)).map(date.isoformat), "au": st.text(max_size=12),
    "min": st.integers(-10, 10**13).map(str), "max": st.text(max_size=8),
    "tri": st.sampled_from(["montant", "-par", "facture", "x"]), "page": st.integers(-5, 10**7).map(str),
})


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(params=LIST_PARAMS)
def test_no_parameter_shows_another_accounts_rows(client, filled, params):
    for name, (url, _sort, _states) in LISTS.items():
        others = {row.id for row in filled.rows(name, filled.other)}
        page = client.get(url, query_string=params, follow_redirects=True)
        assert page.status_code == 200
        assert not others & set(_ids(page.get_data(as_text=True), name))
        assert not others & {int(row["Id"]) for row in read_csv(client.get(f"{url}export.csv", query_string=params))}
