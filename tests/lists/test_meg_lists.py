"""MEG « Factures », « Fournisseurs » and the expert-comptable's « Factures des clients » as lists people
work with: each search, state tab, filter and sort gives the rows Python's own filtering of the same data
gives, on the page and in both exports; the URL round-trips; bad URLs get a clean page; no parameter
shows another company's rows."""

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

from core.dates import paris_today, utcnow
from core.validators import mask_iban
from tests.conftest import MegAuth
from tests.factories import meg_company

from .checks import BAD_QUERIES, assert_clean_page, assert_empty_search_explained
from .conftest import IBAN, Row, expected, fill_meg, page_ids, read_csv, read_xlsx, walk_pages

BOULANGERIE, GARAGE, OUTSIDER = "Boulangerie Martin SARL", "Garage Leroy SAS", "Menuiserie Hors Cabinet"
ACCOUNTANT = "expert@cabinet-durand.fr"
INVOICE_STATES = {"a_regler": {"a_regler"}, "programmees": {"programmees"}, "payees": {"payees"},
                  "rejetees": {"rejetees"}}
SUPPLIER_STATES = {"avec_iban": {"avec_iban"}, "sans_iban": {"sans_iban"}}
LISTS = {  # name → (list URL, export URL, row link, default sort)
    "factures": ("/meg/achats/", "/meg/achats/factures/export", "/meg/achats/factures/", "-date"),
    "fournisseurs": ("/meg/achats/fournisseurs", "/meg/achats/fournisseurs/export", "/meg/achats/fournisseurs/",
                     "nom"),
    "clients": ("/meg/achats/clients", "/meg/achats/clients/export", "/meg/achats/clients/factures/", "echeance"),
}


def _with_payments(meg_app, company_name: str, seed: int) -> None:
    """Payments through Libeo in every state for a third of the invoices (some tried twice: the one that
    speaks for the invoice counts, a debited one, else the latest that holds it, else the latest), and some
    invoices settled in MEG; the states the draw left out of invoices paid « Virement par Libeo » are given to
    some left untouched."""
    from models.meg import PaymentMode, SupplierInvoice, db
    from models.meg.libeo_link.attempts import PaymentAttempt, PaymentState

    rng = random.Random(seed)
    states = [state for state in PaymentState if state is not PaymentState.IN_PROGRESS]
    with meg_app.app_context():
        company = meg_company(company_name)
        latest: set[PaymentState] = set()
        untouched = []
        # In the ids' order: PostgreSQL gives rows in their place on disk, which an update moves.
        for invoice in db.session.scalars(select(SupplierInvoice).where(SupplierInvoice.company_id == company.id)
                                          .order_by(SupplierInvoice.id)):
            pick = rng.randrange(6)
            if pick == 0:
                invoice.paid_at = utcnow()
            elif pick in (1, 2):
                for attempt in range(1, rng.randint(1, 2) + 1):
                    status = states[rng.randrange(len(states))]
                    db.session.add(PaymentAttempt(
                        invoice_id=invoice.id, attempt=attempt, status=status, execution_date=invoice.due_date,
                        paid_on=invoice.due_date if status is PaymentState.PAID else None))
                if invoice.payment_mode is PaymentMode.LIBEO:
                    latest.add(status)
            elif invoice.payment_mode is PaymentMode.LIBEO:
                untouched.append(invoice)
        for state, invoice in zip([state for state in states if state not in latest], untouched, strict=False):
            db.session.add(PaymentAttempt(invoice_id=invoice.id, attempt=1, status=state,
                                          execution_date=invoice.due_date,
                                          paid_on=invoice.due_date if state is PaymentState.PAID else None))
        db.session.commit()


def _outsider(meg_app) -> None:
    """A company of no firm, with invoices and suppliers of its own."""
    from models.meg import Company, db

    with meg_app.app_context():
        db.session.add(Company(name=OUTSIDER, siret="73282932000074"))
        db.session.commit()
    fill_meg(meg_app, OUTSIDER, count=30, seed=3)


def _state(invoice, latest) -> str:
    from models.meg.libeo_link.attempts import OPEN_STATES, PaymentState

    if invoice.paid_at is not None or latest is PaymentState.PAID:
        return "payees"
    if latest in OPEN_STATES or latest is PaymentState.UNVERIFIABLE:  # may be under way: locked
        return "programmees"
    # A rejected transfer of an invoice switched to another mode since: to settle that way.
    rejected = latest is PaymentState.FAILED and invoice.payment_mode.name == "LIBEO"
    return "rejetees" if rejected else "a_regler"


def speaking_attempts(meg_app) -> dict:
    """Each invoice's attempt that speaks for it, decided in Python: a debited one, else the latest of those that
    hold the invoice (or may have paid it), else the latest."""
    from models.meg import db
    from models.meg.libeo_link.attempts import PaymentAttempt, PaymentState

    def speaks_first(attempt) -> int:
        if attempt.status is PaymentState.PAID:
            return 2
        return 1 if attempt.status.holds_invoice or attempt.maybe_debited else 0

    with meg_app.app_context():
        kept: dict = {}
        for attempt in db.session.scalars(select(PaymentAttempt).order_by(PaymentAttempt.attempt)):
            if attempt.invoice_id not in kept or speaks_first(attempt) >= speaks_first(kept[attempt.invoice_id]):
                kept[attempt.invoice_id] = attempt
        for attempt in kept.values():
            db.session.expunge(attempt)
        return kept


def invoice_rows(meg_app, company_names: list[str], *, to_settle: bool = False) -> list[Row]:
    """The companies' invoices as the database holds them, each state decided in Python."""
    from models.meg import SupplierInvoice, db
    from models.meg.libeo_link.attempts import PaymentAttempt, PaymentState

    latest = speaking_attempts(meg_app)
    with meg_app.app_context():
        ever_paid = set(db.session.scalars(select(PaymentAttempt.invoice_id)
                                           .where(PaymentAttempt.status == PaymentState.PAID)))
        rows = []
        for name in company_names:
            company = meg_company(name)
            for i in db.session.scalars(select(SupplierInvoice).where(SupplierInvoice.company_id == company.id)):
                if to_settle and (i.paid_at is not None or i.id in ever_paid):
                    continue
                state = _state(i, latest[i.id].status if i.id in latest else None)
                rows.append(Row(
                    i.id, i.number, i.supplier.name, i.amount_cents, i.due_date,
                    {"date": i.issue_date, "echeance": i.due_date, "montant": i.amount_cents,
                     "fournisseur": i.supplier.name, "numero": i.number, "etat": state, "entreprise": company.name},
                    state=str(company.id) if to_settle else state, mode=i.payment_mode.name.lower(),
                    siret=i.supplier.siret))
                rows[-1].company = company.name  # searched too in the clients' view
        return rows


def supplier_rows(meg_app, company_name: str) -> list[Row]:
    from models.meg import Supplier, db

    with meg_app.app_context():
        company = meg_company(company_name)
        return [Row(s.id, "", s.name, -1, date(2000, 1, 1), {"nom": s.name, "siret": s.siret or ""},
                    state="sans_iban" if not s.iban else "avec_iban", siret=s.siret)
                for s in db.session.scalars(select(Supplier).where(Supplier.company_id == company.id))]


def company_ids(meg_app) -> dict[str, int]:
    from models.meg import Company, db

    with meg_app.app_context():
        return {company.name: company.id for company in db.session.scalars(select(Company))}


@pytest.fixture
def filled(meg_app, demo, client, meg_auth):
    fill_meg(meg_app, BOULANGERIE, seed=1)
    fill_meg(meg_app, GARAGE, seed=2)
    _with_payments(meg_app, BOULANGERIE, seed=1)
    _with_payments(meg_app, GARAGE, seed=2)
    _outsider(meg_app)
    meg_auth.login()
    return meg_app


def rows_of(meg_app, name: str) -> list[Row]:
    if name == "factures":
        return invoice_rows(meg_app, [BOULANGERIE])
    if name == "fournisseurs":
        return supplier_rows(meg_app, BOULANGERIE)
    return clients_rows(meg_app)


def clients_rows(meg_app) -> list[Row]:
    from models.meg import AccountingFirm, Company, db

    with meg_app.app_context():
        names = [c.name for c in db.session.scalars(select(Company).join(AccountingFirm))]
    rows = invoice_rows(meg_app, names, to_settle=True)
    for row in rows:  # the company's name is searched as well
        row.supplier = f"{row.supplier}\x00{row.company}"
    return rows


def _day(days: int) -> str:
    return (paris_today() + timedelta(days=days)).isoformat()


def _oracle(meg_app, name: str, params: dict) -> list[int]:
    states = INVOICE_STATES if name == "factures" else SUPPLIER_STATES
    if name == "clients":
        states = {str(v): {str(v)} for v in company_ids(meg_app).values()}
    return expected(rows_of(meg_app, name), params, LISTS[name][3], states)


INVOICE_CASES = [
    {}, {"q": "Société"}, {"q": "societe generale"}, {"q": "CAFE"}, {"q": "ève"}, {"q": "100%"}, {"q": "_"},
    {"q": "1 234,50"}, {"q": "1234.5"}, {"q": "41234567800011"}, {"q": "412345678"}, {"q": "d'Emb"},
    {"q": "zzz-nothing"}, *({"etat": key} for key in INVOICE_STATES), {"mode": "libeo"}, {"mode": "cheque"},
    {"periode": "echues"}, {"periode": "semaine"}, {"periode": "mois"}, {"du": _day(-10), "au": _day(10)},
    {"min": "1 000"}, {"min": "100", "max": "2 000,00"}, {"tri": "echeance"}, {"tri": "-montant"},
    {"tri": "fournisseur"}, {"tri": "-numero"}, {"tri": "etat"}, {"tri": "-etat"},
    {"q": "e", "etat": "a_regler", "mode": "libeo", "min": "10", "tri": "-montant"},
]
SUPPLIER_CASES = [
    {}, {"q": "societe"}, {"q": "MÜLLER"}, {"q": "100%"}, {"q": "_"}, {"q": "412 345 678"}, {"q": "52345678900012"},
    {"q": "'"}, *({"etat": key} for key in SUPPLIER_STATES), {"tri": "-nom"}, {"tri": "siret"}, {"tri": "-siret"},
]
CLIENT_CASES = [
    {}, {"q": "garage"}, {"q": "Société"}, {"q": "1 234,50"}, {"q": "41234567800011"}, {"mode": "libeo"},
    {"periode": "echues"}, {"du": _day(-10), "au": _day(30)}, {"min": "1 000"}, {"tri": "entreprise"},
    {"tri": "-montant"}, {"tri": "fournisseur"}, {"tri": "-numero"}, {"q": "e", "mode": "virement", "tri": "-echeance"},
]
CASES = {"factures": INVOICE_CASES, "fournisseurs": SUPPLIER_CASES, "clients": CLIENT_CASES}


def _log_in_for(client, name: str) -> None:
    if name == "clients":
        MegAuth(client).logout()
        assert MegAuth(client).login(ACCOUNTANT).status_code == 302


def _page_ids(client, name: str, params: dict) -> list[int]:
    page = client.get(LISTS[name][0], query_string=params)
    assert page.status_code == 200
    return _ids_in(page.get_data(as_text=True), name)


def _ids_in(html: str, name: str) -> list[int]:
    if name == "fournisseurs":
        return [int(found) for found in re.findall(r'data-supplier="(\d+)"', html)]
    return page_ids(html, LISTS[name][2])


@pytest.mark.parametrize("name", CASES)
def test_each_filter_and_sort_gives_pythons_rows(client, filled, name):
    """Every case of the list on one set of rows (a database each time would be most of the run)."""
    _log_in_for(client, name)
    per_page = 50 if name == "clients" else 25
    for params in CASES[name]:
        want = _oracle(filled, name, params)
        exported = [int(row["Id"]) for row in read_csv(client.get(f"{LISTS[name][1]}.csv", query_string=params))]
        assert exported == want, params
        assert _page_ids(client, name, params)[:per_page] == want[:per_page], params


def test_the_clients_tabs_are_the_firms_companies(client, filled):
    _log_in_for(client, "clients")
    ids = company_ids(filled)
    garage = str(ids[GARAGE])
    want = _oracle(filled, "clients", {"etat": garage})
    assert want and [int(r["Id"]) for r in read_csv(client.get("/meg/achats/clients/export.csv",
                                                                query_string={"etat": garage}))] == want
    html = unescape(client.get("/meg/achats/clients").get_data(as_text=True))
    assert f">{GARAGE} ({len(want)})</a>" in html
    assert OUTSIDER not in html
    # A company outside the firm is no tab: asking for it is ignored and said.
    outsider = str(ids[OUTSIDER])
    page = unescape(client.get("/meg/achats/clients", query_string={"etat": outsider}).get_data(as_text=True))
    assert f"« {outsider} » n'est pas un état de cette liste : ce filtre est ignoré." in page


def test_the_clients_view_is_the_accountants(client, filled):
    assert client.get("/meg/achats/clients").status_code == 403
    assert client.get("/meg/achats/clients/export.csv").status_code == 403


def test_a_clients_row_opens_its_invoice_in_itsmeg_company(client, filled):
    _log_in_for(client, "clients")
    garage_invoice = _oracle(filled, "clients", {"etat": str(company_ids(filled)[GARAGE])})[0]
    opened = client.get(f"/meg/achats/clients/factures/{garage_invoice}")
    assert opened.headers["Location"] == f"/meg/achats/factures/{garage_invoice}"
    assert client.get(opened.headers["Location"]).status_code == 200
    outsider = next(row.id for row in invoice_rows(filled, [OUTSIDER]))
    assert client.get(f"/meg/achats/clients/factures/{outsider}").status_code == 404


@pytest.mark.parametrize("name", ["factures", "fournisseurs"])
def test_state_tabs_count_what_the_other_filters_leave(client, filled, name):
    from models.meg.achats.lists import INVOICES, SUPPLIERS

    spec, states = (INVOICES, INVOICE_STATES) if name == "factures" else (SUPPLIERS, SUPPLIER_STATES)
    params = {"q": "e"}
    html = unescape(client.get(LISTS[name][0], query_string=params).get_data(as_text=True))
    assert f">Tous ({len(_oracle(filled, name, params))})</a>" in html
    for key in states:
        assert f">{spec.states[key]} ({len(_oracle(filled, name, {**params, 'etat': key}))})</a>" in html


def test_the_sort_is_told_in_the_header(client, filled):
    page = client.get("/meg/achats/", query_string={"tri": "-montant"}).get_data(as_text=True)
    assert '<th class="num" aria-sort="descending"><a class="sort" href="/meg/achats/?tri=montant">' in page
    assert page.count("aria-sort=") == 1
    plain = client.get("/meg/achats/fournisseurs").get_data(as_text=True)
    assert '<th aria-sort="ascending"><a class="sort" href="/meg/achats/fournisseurs?tri=-nom">Nom' in plain


@pytest.mark.parametrize("params", [{}, {"etat": "a_regler"}, {"tri": "-montant"}, {"q": "e", "tri": "-montant"}],
                         ids=str)
def test_the_pager_counts_every_invoice_of_the_filter(client, filled, params):
    """« Factures »' total, counted apart from the rows (not searched) or beside each (searched), is the number
    of invoices the filter holds, and the pages show each once."""
    want = _oracle(filled, "factures", params)
    assert walk_pages(client, "/meg/achats/", params, len(want), 25, lambda html: _ids_in(html, "factures")) == want


def test_paging_keeps_the_state(client, filled):
    params = {"q": "e", "tri": "-montant"}
    want = _oracle(filled, "factures", params)
    assert len(want) > 25
    first = client.get("/meg/achats/", query_string=params).get_data(as_text=True)
    assert 'href="/meg/achats/?q=e&amp;tri=-montant&amp;page=2"' in first
    assert _page_ids(client, "factures", {**params, "page": 2})[:25] == want[25:50]


@pytest.mark.parametrize("name", LISTS)
def test_the_url_round_trips(client, filled, name):
    _log_in_for(client, name)
    params = {"factures": {"q": "Café", "etat": "a_regler", "mode": "libeo", "du": _day(-60), "au": _day(60),
                           "min": "10", "max": "4 000,5", "tri": "-fournisseur"},
              "fournisseurs": {"q": "e", "etat": "avec_iban", "tri": "-siret"},
              "clients": {"q": "e", "mode": "virement", "periode": "mois", "min": "1", "tri": "entreprise"}}[name]
    url, export, _link, _sort = LISTS[name]
    page = client.get(url, query_string=params).get_data(as_text=True)
    link = page.split(f'<a href="{export}.csv?')[1].split('"')[0].replace("&amp;", "&")
    assert [int(r["Id"]) for r in read_csv(client.get(f"{export}.csv?{link}"))] == _oracle(filled, name, params)
    again = client.get(f"{url}?{link}").get_data(as_text=True)
    assert _ids_in(again, name)[:25] == _oracle(filled, name, params)[:25]


@pytest.mark.parametrize("name", LISTS)
def test_an_empty_result_says_which_filter_hides_everything(client, filled, name):
    _log_in_for(client, name)
    assert_empty_search_explained(client, LISTS[name][0])


BAD = [
    ({"etat": "inconnu"}, "« inconnu » n'est pas un état de cette liste : ce filtre est ignoré."),
    ({"mode": "bitcoin"}, None), ({"du": "2026-12-31", "au": "2026-01-01"}, None),
    ({"du": "31/12/2026"}, None), ({"min": "douze"}, None), ({"min": "5 000", "max": "10"}, None),
    ({"q": "%"}, None), *BAD_QUERIES,
]


@pytest.mark.parametrize("name", LISTS)
def test_bad_parameters_get_a_clean_page(client, filled, name):
    _log_in_for(client, name)
    url, export, _link, _sort = LISTS[name]
    for params, message in BAD:
        assert_clean_page(client, url, params, message, export)


def test_invoice_exports_read_back_in_a_spreadsheet(client, filled):
    params = {"etat": "a_regler", "tri": "montant"}
    want = _oracle(filled, "factures", params)
    by_id = {row.id: row for row in rows_of(filled, "factures")}
    xlsx = read_xlsx(client.get("/meg/achats/factures/export.xlsx", query_string=params))
    assert [row["Id"] for row in xlsx] == want
    for row in xlsx:
        assert Decimal(str(row["Montant TTC"])) == Decimal(by_id[row["Id"]].amount).scaleb(-2)
        assert row["Échéance"].date() == by_id[row["Id"]].date
        assert row["Numéro"] == by_id[row["Id"]].number
        assert row["État"] == "À régler"
    csv_rows = read_csv(client.get("/meg/achats/factures/export.csv", query_string={"q": "1 234,50"}))
    assert csv_rows and all(row["Montant TTC"] == "1234,50" for row in csv_rows)
    assert csv_rows[0]["IBAN du fournisseur"] == IBAN  # an Achats administrator reads it whole


def test_supplier_export_reads_back(client, filled):
    rows = read_xlsx(client.get("/meg/achats/fournisseurs/export.xlsx", query_string={"q": "café"}))
    assert [row["Nom"] for row in rows] == ["Café 100% Arabica"]
    assert rows[0]["SIRET"] == "52345678900012" and rows[0]["IBAN"] == IBAN


def test_ibans_are_masked_for_who_may_not_change_them(apps, filled):
    user = apps.root.test_client()
    assert MegAuth(user).login("compta@boulangerie-martin.fr").status_code == 302
    for export in ("/meg/achats/factures/export.csv", "/meg/achats/fournisseurs/export.csv"):
        text = user.get(export).get_data(as_text=True)
        assert mask_iban(IBAN) in text and IBAN not in text
    accountant = apps.root.test_client()
    assert MegAuth(accountant).login(ACCOUNTANT).status_code == 302
    text = accountant.get("/meg/achats/clients/export.csv").get_data(as_text=True)
    assert mask_iban(IBAN) in text and IBAN not in text


def test_an_unknown_export_format_is_not_found(client, filled):
    for name in ("factures", "fournisseurs"):
        assert client.get(f"{LISTS[name][1]}.pdf").status_code == 404


LIST_PARAMS = st.fixed_dictionaries({}, optional={
    "q": st.text(max_size=30), "etat": st.sampled_from([*INVOICE_STATES, *SUPPLIER_STATES, "1", "2", "3", "4", "x"]),
    "mode": st.sampled_from(["libeo", "cheque", "x", ""]), "periode": st.sampled_from(["echues", "semaine", "?"]),
    "du": st.dates(date(1890, 1, 1), date(2300, 1, 1)).map(date.isoformat) | st.text(max_size=12),
    "au": st.dates(date(1890, 1, 1), date(2300, 1, 1)).map(date.isoformat),
    "min": st.sampled_from(["0", "-5", "1 000", "1e9", "99999999999999"]) | st.text(max_size=8),
    "tri": st.sampled_from(["montant", "-nom", "entreprise", "-etat", "--x"]), "page": st.integers(-5, 10**7).map(str),
})


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(params=LIST_PARAMS)
def test_no_parameter_shows_another_companys_rows(apps, filled, params):
    """Whatever the URL says, each list and its export hold the signed-in person's rows only: the
    company's own, or for the expert-comptable the firm's companies', never the outsider's."""
    admin, accountant = apps.root.test_client(), apps.root.test_client()
    assert MegAuth(admin).login().status_code == 302
    assert MegAuth(accountant).login(ACCOUNTANT).status_code == 302
    foreign_invoices = {row.id for row in invoice_rows(filled, [GARAGE, OUTSIDER])}
    foreign_suppliers = {row.id for name in (GARAGE, OUTSIDER) for row in supplier_rows(filled, name)}
    outsider = {row.id for row in invoice_rows(filled, [OUTSIDER])}
    for client, name, foreign in ((admin, "factures", foreign_invoices), (admin, "fournisseurs", foreign_suppliers),
                                  (accountant, "clients", outsider)):
        url, export, _link, _sort = LISTS[name]
        page = client.get(url, query_string=params, follow_redirects=True)
        assert page.status_code == 200
        assert not foreign & set(_ids_in(page.get_data(as_text=True), name))
        assert not foreign & {int(row["Id"]) for row in read_csv(client.get(f"{export}.csv", query_string=params))}


# What a row « En cours » says of its payment in an export and in « Factures des clients »: where it stands,
# as its row in « Factures » says it (without dates); never « Programmée » for what is not scheduled.
UNDER_WAY = {"REQUESTED": "Vérification en cours", "UNVERIFIABLE": "Vérification impossible",
             "AWAITING_APPROVAL": "À approuver dans Libeo", "SCHEDULED": "Programmé",
             "FILE_READY": "Fichier prêt — à transmettre à votre banque", "TRANSMITTED": "Transmis à la banque",
             "ACCEPTED": "Accepté par la banque", "UNKNOWN": "En cours dans Libeo"}


def _latest_status_names(meg_app) -> dict[int, str]:
    return {invoice_id: attempt.status.name for invoice_id, attempt in speaking_attempts(meg_app).items()}


def test_a_payment_under_way_is_told_where_it_stands_in_exports_and_the_clients_list(client, filled):
    latest = _latest_status_names(filled)
    rows = read_csv(client.get("/meg/achats/factures/export.csv", query_string={"etat": "programmees"}))
    assert {latest[int(row["Id"])] for row in rows} >= {"REQUESTED", "AWAITING_APPROVAL"}
    assert all(row["État"] == UNDER_WAY[latest[int(row["Id"])]] for row in rows)
    assert "En cours (" in client.get("/meg/achats/").get_data(as_text=True)
    # « Règlements » exports each row's « Règlement » too: one under way is not one to settle.
    settlements = read_csv(client.get("/meg/achats/reglements/export.csv"))
    assert {row["Règlement"] for row in settlements if latest.get(int(row["Id"])) == "REQUESTED"} == {
        "Vérification en cours"}
    assert {row["Règlement"] for row in settlements if int(row["Id"]) not in latest} == {"À régler"}

    # Each export dates what its row says: the transfer's execution date while it is under way (not while
    # MEG waits for Libeo's answer), and the bank's debit date once paid.
    dated = {invoice_id: (attempt.attempt, attempt.execution_date, attempt.paid_on)
             for invoice_id, attempt in speaking_attempts(filled).items()}
    csv_rows = rows + settlements
    for row in csv_rows:
        status = latest.get(int(row["Id"]))
        _, day, _ = dated.get(int(row["Id"]), (0, None, None))
        expected = f"{day:%d/%m/%Y}" if status in ("AWAITING_APPROVAL", "SCHEDULED") and day else ""
        if status in ("AWAITING_APPROVAL", "SCHEDULED", "REQUESTED", None):
            assert row["Date d'exécution"] == expected, row
    assert any(row["Date d'exécution"] for row in csv_rows)
    assert all(row["Payée le"] == "" for row in rows)
    everything = read_csv(client.get("/meg/achats/factures/export.csv"))
    paid_by_libeo = [row for row in everything if latest.get(int(row["Id"])) == "PAID" and row["État"] == "Payée"]
    assert paid_by_libeo and all(row["Payée le"] == f"{dated[int(row['Id'])][2]:%d/%m/%Y}" for row in paid_by_libeo)
    assert any(row["Payée le"] for row in everything if int(row["Id"]) not in latest and row["État"] == "Payée")

    _log_in_for(client, "clients")
    exported = read_csv(client.get("/meg/achats/clients/export.csv"))
    under_way = [row for row in exported if latest.get(int(row["Id"])) in UNDER_WAY and row["État"] != "À régler"]
    assert under_way and all(row["État"] == UNDER_WAY[latest[int(row["Id"])]] for row in under_way)
    page = unescape(client.get("/meg/achats/clients", query_string={"tri": "numero"}).get_data(as_text=True))
    assert "Programmée<" not in page


def test_a_rejected_transfer_says_the_banks_reason_in_exports_and_the_clients_list(client, filled):
    """« Rejeté : provision insuffisante (AM04) », as the invoice's page says it, not a bare « Rejetée »."""
    from models.meg import db
    from models.meg.libeo_link.attempts import PaymentAttempt, PaymentState

    with filled.app_context():
        rejected = db.session.scalars(select(PaymentAttempt).where(PaymentAttempt.status == PaymentState.FAILED)
                                      .order_by(PaymentAttempt.id)).all()
        for attempt in rejected:
            attempt.failure_reason = "Rejeté : provision insuffisante (AM04)"
        db.session.commit()
    rows = read_csv(client.get("/meg/achats/factures/export.csv", query_string={"etat": "rejetees"}))
    assert rows and {row["État"] for row in rows} == {"Rejeté : provision insuffisante (AM04)"}
    _log_in_for(client, "clients")
    exported = read_csv(client.get("/meg/achats/clients/export.csv"))
    latest = _latest_status_names(filled)
    failed = [row for row in exported if latest.get(int(row["Id"])) == "FAILED" and row["Mode de règlement"]
              == "Virement par Libeo"]
    assert failed and {row["État"] for row in failed} == {"Rejeté : provision insuffisante (AM04)"}
    assert "Rejetée" not in {row["État"] for row in exported}
    first = failed[0]["Id"]
    page = unescape(client.get("/meg/achats/clients", query_string={"q": failed[0]["Numéro"]}).get_data(as_text=True))
    assert f"clients/factures/{first}" in page and "Rejeté : provision insuffisante (AM04)" in page


def test_the_clients_rows_say_late_as_factures_does(client, filled):
    """« En retard » / « Échéance proche » beside the due date of what nothing settles yet, as in « Factures »."""
    from core.dates import due_flag

    _log_in_for(client, "clients")
    by_id = {row.id: row for row in clients_rows(filled)}
    html = unescape(client.get("/meg/achats/clients", query_string={"tri": "echeance"}).get_data(as_text=True))
    shown = re.findall(r'/meg/achats/clients/factures/(\d+)">.*?data-label="Échéance">[^<]*'
                       r'(?:<span class="badge [^"]*" data-testid="due-flag">([^<]*)</span>)?', html, re.S)
    assert shown
    for invoice_id, flag in shown:
        row = by_id[int(invoice_id)]
        want = due_flag(row.date) if row.sorts["etat"] in ("a_regler", "rejetees") else None
        assert (flag or None) == (want.label if want else None), (invoice_id, flag)
    assert any(flag for _, flag in shown)
