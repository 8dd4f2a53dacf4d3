"""Lists in a browser, at 1280 px and on a 390 px phone: MEG « Factures » (tabs, filter, sort, page,
export, and « Payer la sélection » from the filter), « Fournisseurs », the expert-comptable's
« Factures des clients »; Libeo « À approuver » and « Journal »."""

from __future__ import annotations

import csv
import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from sqlalchemy import update

from tests.libeo.conftest import PASSWORD, make_account
from tests.lists.conftest import fill_libeo, fill_meg

from .test_einvoice_import import connected  # noqa: F401 (fixture)
from .test_lists import WIDTHS, _cents, fits, shot, sort_by
from .test_meg_achats import log_in


def _read_csv(download) -> list[dict]:
    with open(download.value.path(), encoding="utf-8-sig", newline="") as exported:
        return list(csv.DictReader(exported, delimiter=";"))


@pytest.mark.parametrize("width", WIDTHS)
def test_factures_tabs_filter_sort_page_export_and_pay_the_filter(page: Page, live_server, connected, width):  # noqa: F811
    fill_meg(live_server.apps.meg, "Boulangerie Martin SARL", count=60)
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, "admin@boulangerie-martin.fr")
    page.goto("/meg/achats/")
    table = page.get_by_role("table")
    expect(table).to_be_visible()
    fits(page)

    tabs = page.get_by_role("navigation", name="États")
    to_settle = tabs.get_by_role("link", name=re.compile(r"^À régler \(\d+\)$"))
    count = int(re.search(r"\((\d+)\)", to_settle.inner_text()).group(1))
    to_settle.click()
    expect(page).to_have_url(re.compile(r"etat=a_regler"))
    expect(tabs.get_by_role("link", name=re.compile("^À régler"))).to_have_attribute("aria-current", "page")
    assert table.locator("tbody tr").count() == min(count, 25)

    sort_by(page, width, "Échéance", "Échéance (croissant)")
    expect(page).to_have_url(re.compile(r"etat=a_regler&tri=echeance"))
    if width > 600:
        expect(page.get_by_role("columnheader", name="Échéance")).to_have_attribute("aria-sort", "ascending")
    shot(page, f"factures-a-regler-{width}")
    fits(page)
    page.get_by_role("link", name="Suivante »").click()
    expect(page).to_have_url(re.compile(r"etat=a_regler&tri=echeance&page=2"))
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"page=2"))

    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    rows = _read_csv(download)
    assert len(rows) == count and {row["État"] for row in rows} == {"À régler"}

    # The demo's four « Virement par Libeo » invoices: the filter's, on one click.
    page.get_by_label("Rechercher").fill("f-bm")
    page.get_by_label("Mode de règlement").select_option(label="Virement par Libeo")
    page.get_by_role("button", name="Filtrer").click()
    expect(page).to_have_url(re.compile(r"q=f-bm&etat=a_regler&mode=libeo|etat=a_regler&q=f-bm&mode=libeo"))
    bar = page.locator("[data-selection-bar]")
    expect(bar).to_contain_text("Cochez les factures à payer ensemble.")
    page.get_by_role("button", name="Sélectionner les 4 factures du filtre").click()
    expect(bar).to_contain_text("4 factures sélectionnées — ")
    shot(page, f"factures-selection-{width}")
    fits(page)
    page.get_by_role("button", name="Payer la sélection").click()
    expect(page.get_by_role("heading", name="Payer la sélection avec Libeo")).to_be_visible()
    page.get_by_role("button", name="Confirmer les 4 paiements").click()
    expect(page.get_by_test_id("selection-summary")).to_contain_text("4 factures : 4 programmées")
    page.get_by_role("link", name="Retour aux factures").click()
    expect(page.get_by_role("heading", name="Factures fournisseurs")).to_be_visible()
    page.goto("/meg/achats/?etat=programmees")
    expect(page.get_by_role("table").locator("tbody tr")).to_have_count(4)
    expect(page.get_by_text("Non sélectionnable : paiement déjà en cours")).to_have_count(4)


def test_the_filters_button_opens_the_confirmation_when_its_invoices_cannot_be_read(page: Page, live_server,
                                                                                    connected):  # noqa: F811
    """The button reads the filter's invoices when clicked; if that answer never comes (a network error),
    it does what it does without script: the confirmation of the filter's invoices."""
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, "admin@boulangerie-martin.fr")
    page.goto("/meg/achats/?q=f-bm&mode=libeo")
    page.route("**/meg/achats/factures/filtre?*", lambda route: route.abort())
    page.get_by_role("button", name="Sélectionner les 4 factures du filtre").click()
    expect(page.get_by_role("heading", name="Payer la sélection avec Libeo")).to_be_visible()
    expect(page.get_by_role("button", name="Confirmer les 4 paiements")).to_be_visible()
    page.get_by_role("link", name="Annuler").click()
    expect(page.get_by_role("heading", name="Factures fournisseurs")).to_be_visible()


@pytest.mark.parametrize("width", WIDTHS)
def test_fournisseurs_and_the_clients_view(page: Page, live_server, width):
    fill_meg(live_server.apps.meg, "Boulangerie Martin SARL", count=10, seed=1)
    fill_meg(live_server.apps.meg, "Garage Leroy SAS", count=80, seed=2)
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, "compta@boulangerie-martin.fr")
    page.goto("/meg/achats/fournisseurs")
    page.get_by_label("Rechercher").fill("MULLER")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.get_by_role("table").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_role("table")).to_contain_text("Boucherie Müller")
    fits(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    rows = _read_csv(download)
    assert [row["Nom"] for row in rows] == ["Boucherie Müller"]
    assert "••••" in rows[0]["IBAN"]  # masked: this user may not change it
    page.get_by_role("button", name="Se déconnecter").click()

    log_in(page, "expert@cabinet-durand.fr")
    page.get_by_role("link", name="Factures des clients").click()
    expect(page.get_by_role("heading", name="Factures des clients")).to_be_visible()
    tabs = page.get_by_role("navigation", name="États")
    garage = tabs.get_by_role("link", name=re.compile(r"^Garage Leroy SAS \(\d+\)$"))
    garage.click()
    expect(page).to_have_url(re.compile(r"etat=\d+"))
    companies = page.locator("td[data-label='Entreprise']").all_inner_texts()
    assert companies and set(companies) == {"Garage Leroy SAS"}
    sort_by(page, width, "Montant TTC", "Montant TTC (croissant)")
    amounts = [_cents(text) for text in page.locator("td[data-label='Montant TTC']").all_inner_texts()]
    assert amounts == sorted(amounts)
    shot(page, f"clients-{width}")
    fits(page)
    page.get_by_role("link", name="Suivante »").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    with page.expect_download() as download:
        page.get_by_role("link", name="Excel (XLSX)").click()
    with open(download.value.path(), "rb") as workbook:
        sheet = list(load_workbook(workbook, read_only=True).worksheets[0].iter_rows(values_only=True))
    assert sheet[0][:3] == ("Id", "Entreprise", "Numéro")
    assert {row[1] for row in sheet[1:]} == {"Garage Leroy SAS"}
    # A row opens its invoice in its company.
    page.get_by_role("table").locator("tbody tr").first.get_by_role("link").click()
    expect(page.get_by_label("Entreprise courante")).to_contain_text("Garage Leroy SAS")


@pytest.mark.parametrize("width", WIDTHS)
def test_libeo_approvals_and_journal(page: Page, live_server, width):
    from models.libeo import Payment, PaymentStatus, db
    from models.libeo.journal import record

    libeo = live_server.apps.libeo
    account = make_account(libeo, name="Boulangerie Martin SARL")
    fill_libeo(libeo, account.id, count=120)
    with libeo.app_context():
        db.session.execute(update(Payment).where(Payment.id % 2 == 0).values(status=PaymentStatus.AWAITING_APPROVAL))
        for k in range(70):
            record(account.id, "key.issued" if k % 2 else "payment.held", f"Événement n° {k} : clé « MEG » créée",
                   "Claire Martin")
        db.session.commit()
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/libeo/connexion")
    page.get_by_label("Adresse e-mail").fill(account.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()

    page.goto("/libeo/a-approuver/")
    page.get_by_label("Montant min. (€)").fill("1 000")
    page.get_by_label("Trier par").select_option(label="Montant (décroissant)")
    page.get_by_role("button", name="Filtrer").click()
    expect(page).to_have_url(re.compile(r"min=1000&tri=-montant|min=1\+000&tri=-montant"))
    headings = page.locator("section.approval h2").all_inner_texts()
    amounts = [_cents(text.rsplit("—", 1)[1]) for text in headings]
    assert amounts == sorted(amounts, reverse=True) and min(amounts) >= 100_000
    shot(page, f"a-approuver-{width}")
    fits(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    assert len(_read_csv(download)) >= len(headings)

    page.goto("/libeo/journal/")
    tabs = page.get_by_role("navigation", name="États")
    access = tabs.get_by_role("link", name=re.compile(r"^Accès et clés \(\d+\)$"))
    count = int(re.search(r"\((\d+)\)", access.inner_text()).group(1))
    assert count >= 35
    access.click()
    expect(page).to_have_url(re.compile(r"etat=acces"))
    page.get_by_label("Rechercher").fill("evenement n° 1")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.locator("tbody tr")).not_to_have_count(0)
    for text in page.locator("td[data-label='Événement']").all_inner_texts():
        assert "Événement n° 1" in text
    shot(page, f"journal-{width}")
    fits(page)
    page.get_by_label("Rechercher").fill("")
    page.get_by_role("button", name="Filtrer").click()
    sort_by(page, width, "Date", "Date (croissant)")
    expect(page).to_have_url(re.compile(r"etat=acces&tri=date"))
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    assert len(_read_csv(download)) == count
