"""Lists sorted by a name read in a French reader's order: « atelier Roux », « Électricité Durand »,
« « Le Fournil » », « Œuvres Sociales », « Orange Pro », « Zinc Ouest » — neither capitals before small letters
nor accented letters after « z », « Œ » read « oe », the quotes opening a name skipped; on SQLite as on a
PostgreSQL database made with the « C » collation. Each list and its export, both directions."""

from __future__ import annotations

from html import unescape

import pytest

from models.meg import PaymentMode
from tests.conftest import MegAuth
from tests.factories import libeo_invoice, meg_invoice
from tests.libeo.conftest import LibeoAuth, make_account
from tests.lists.conftest import fill_libeo, meg_supplier_with_invoice, read_csv, reading

BOULANGERIE = "Boulangerie Martin SARL"
NAMES = ["Zinc Ouest", "Électricité Durand", "atelier Roux", "Œuvres Sociales", "ZZ Top Transports", "éditions Ève",
         "Orange Pro", "« Le Fournil »"]


def french(names: list[str]) -> list[str]:
    """What a person expects: the letters read (no case, accent or opening quote), the exact spelling after."""
    return sorted(names, key=lambda name: (reading(name), name))


@pytest.fixture
def meg_client(meg_app, demo, client):
    for k, name in enumerate(NAMES):
        meg_supplier_with_invoice(meg_app, BOULANGERIE, name, f"TRI-{k}", amount_cents=1_000 + k)
    assert MegAuth(client).login().status_code == 302
    return client


@pytest.fixture
def libeo_client(libeo_app, client):
    from models.libeo import Account, db

    own = make_account(libeo_app, name=BOULANGERIE)
    fill_libeo(libeo_app, own.id, count=20)
    with libeo_app.app_context():
        account = db.session.get(Account, own.id)
        for k, name in enumerate(NAMES):
            libeo_invoice(account, f"TRI-{k}", supplier_name=name, amount_cents=1_000 + k)
        db.session.commit()
    assert LibeoAuth(client).login(own.email).status_code == 302
    return client


@pytest.mark.parametrize(("export", "sort", "column"), [
    ("/meg/achats/fournisseurs/export.csv", "nom", "Nom"),
    ("/meg/achats/factures/export.csv", "fournisseur", "Fournisseur"),
    ("/meg/achats/reglements/export.csv", "fournisseur", "Fournisseur"),
])
def test_meg_lists_sort_names_as_people_read_them(meg_client, export, sort, column):
    for direction in ("", "-"):
        names = [row[column] for row in read_csv(meg_client.get(export, query_string={"tri": direction + sort}))]
        assert set(NAMES) <= set(names)
        want = french(names)
        assert names == (want if not direction else want[::-1]), direction


def test_meg_clients_sort_companies_as_people_read_them(meg_app, demo, client):
    from sqlalchemy import select

    from models.meg import AccountingFirm, Company, Supplier, db

    with meg_app.app_context():
        firm = db.session.scalar(select(AccountingFirm))
        for k, name in enumerate(["zèbre Café", "Épicerie Fine", "Alpha Bâtiment"]):
            company = Company(name=name, siret=None, accounting_firm=firm)
            supplier = Supplier(company=company, name="Minoterie Dupuis", iban="", siret=None)
            db.session.add_all([company, supplier])
            meg_invoice(company, supplier, f"CLI-{k}", amount_cents=2_000 + k, payment_mode=PaymentMode.CHEQUE)
        db.session.commit()
    assert MegAuth(client).login("expert@cabinet-durand.fr").status_code == 302
    names = [row["Entreprise"] for row in read_csv(client.get("/meg/achats/clients/export.csv",
                                                               query_string={"tri": "entreprise"}))]
    assert {"zèbre Café", "Épicerie Fine"} <= set(names)
    assert list(dict.fromkeys(names)) == french(list(dict.fromkeys(names)))


@pytest.mark.parametrize(("export", "column"), [("/libeo/factures/export.csv", "Fournisseur"),
                                                ("/libeo/paiements/export.csv", "Fournisseur")])
def test_libeo_lists_sort_names_as_people_read_them(libeo_client, export, column):
    for direction in ("", "-"):
        exported = read_csv(libeo_client.get(export, query_string={"tri": direction + "fournisseur"}))
        names = [row[column] for row in exported]
        assert names
        want = french(names)
        assert names == (want if not direction else want[::-1]), direction


def test_the_journal_says_its_order_only_when_it_is_by_date(libeo_client):
    lead = "Les opérations sensibles du compte"
    newest = unescape(libeo_client.get("/libeo/journal/").get_data(as_text=True))
    assert f"{lead}, des plus récentes aux plus anciennes." in newest
    oldest = unescape(libeo_client.get("/libeo/journal/", query_string={"tri": "date"}).get_data(as_text=True))
    assert f"{lead}, des plus anciennes aux plus récentes." in oldest
    by_person = unescape(libeo_client.get("/libeo/journal/", query_string={"tri": "par"}).get_data(as_text=True))
    assert f"{lead}. Le journal" in by_person and "plus récentes" not in by_person
