"""Lists in a browser, at 1280 px and on a 390 px phone: search, filter, sort, page, the back button
and « Exporter », on MEG « Règlements » and Libeo « Paiements »."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.helpers import page_width
from tests.libeo.conftest import PASSWORD, make_account
from tests.lists.conftest import fill_libeo, fill_meg

from .test_meg_achats import log_in

SHOTS = Path(os.environ.get("LIST_SHOTS_DIR", "/tmp/shots/lists"))
WIDTHS = [1280, 390]


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def fits(page: Page) -> None:
    """Nothing wider than the window: no sideways scrolling."""
    assert page_width(page) <= page.evaluate("window.innerWidth") + 1


def sort_by(page: Page, width: int, header: str, option: str) -> None:
    """A click on the column's header at 1280 px; on a phone, where rows are cards, « Trier par »."""
    if width > 600:
        page.get_by_role("columnheader", name=header).get_by_role("link").click()
    else:
        page.get_by_label("Trier par").select_option(label=option)
        page.get_by_role("button", name="Filtrer").click()


@pytest.mark.parametrize("width", WIDTHS)
def test_reglements_search_filter_sort_page_and_export(page: Page, live_server, width):
    fill_meg(live_server.apps.meg, "Boulangerie Martin SARL", count=130)
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, "admin@boulangerie-martin.fr")
    page.goto("/meg/achats/reglements")
    table = page.get_by_role("table")
    expect(table).to_contain_text("Café 100% Arabica")
    fits(page)

    page.get_by_label("Rechercher").fill("cafe")  # no accent, lower case: « Café » is found
    page.get_by_label("Mode de règlement").select_option(label="Virement par Libeo")
    page.get_by_role("button", name="Filtrer").click()
    expect(page).to_have_url(re.compile(r"q=cafe&mode=libeo"))
    rows = table.locator("tbody tr")
    expect(rows.first).to_be_visible()
    for k in range(rows.count()):
        expect(rows.nth(k)).to_contain_text("Café 100% Arabica")
        expect(rows.nth(k)).to_contain_text("Virement par Libeo")

    page.get_by_label("Rechercher").fill("")
    page.get_by_label("Mode de règlement").select_option(label="Tous")
    page.get_by_role("button", name="Filtrer").click()
    sort_by(page, width, "Montant TTC", "Montant TTC (croissant)")
    expect(page).to_have_url(re.compile(r"tri=montant"))
    if width > 600:
        expect(page.get_by_role("columnheader", name="Montant TTC")).to_have_attribute("aria-sort", "ascending")
    amounts = [_cents(text) for text in table.locator("td[data-label='Montant TTC']").all_inner_texts()]
    assert amounts == sorted(amounts) and len(amounts) == 50
    shot(page, f"reglements-sorted-{width}")
    fits(page)

    page.get_by_role("link", name="Suivante »").click()
    expect(page).to_have_url(re.compile(r"tri=montant&page=2"))
    second = [_cents(text) for text in table.locator("td[data-label='Montant TTC']").all_inner_texts()]
    assert min(second) >= max(amounts)
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"page=2"))
    expect(page.get_by_label("Trier par")).to_have_value("montant")

    page.goto("/meg/achats/reglements?q=zzz&min=abc")
    expect(page.get_by_text("Le montant « abc » (montant minimum) n'est pas un montant en euros")).to_be_visible()
    expect(page.get_by_text("Aucune ligne ne correspond à la recherche « zzz ».")).to_be_visible()
    shot(page, f"reglements-empty-{width}")
    fits(page)
    page.get_by_role("link", name="Effacer les filtres").first.click()
    expect(page).to_have_url(re.compile(r"/meg/achats/reglements$"))

    page.get_by_label("Rechercher").fill("Société")
    page.get_by_role("button", name="Filtrer").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    with open(download.value.path(), encoding="utf-8-sig", newline="") as exported:
        rows = list(csv.DictReader(exported, delimiter=";"))
    assert rows and {row["Fournisseur"] for row in rows} == {"Société Générale d'Emballage"}


@pytest.mark.parametrize("width", WIDTHS)
def test_libeo_payments_tabs_search_sort_page_and_export(page: Page, live_server, width):
    account = make_account(live_server.apps.libeo, name="Boulangerie Martin SARL")
    fill_libeo(live_server.apps.libeo, account.id, count=160)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/libeo/connexion")
    page.get_by_label("Adresse e-mail").fill(account.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Paiements",
                                                                             exact=True).click()
    expect(page.get_by_role("heading", name="Paiements")).to_be_visible()
    fits(page)

    tabs = page.get_by_role("navigation", name="États")
    debited = tabs.get_by_role("link", name=re.compile(r"^Débités \(\d+\)$"))
    count = int(re.search(r"\((\d+)\)", debited.inner_text()).group(1))
    debited.click()
    expect(page).to_have_url(re.compile(r"etat=payes"))
    expect(tabs.get_by_role("link", name=re.compile("^Débités"))).to_have_attribute("aria-current", "page")
    statuses = page.get_by_test_id("payment-status")
    expect(statuses.first).to_be_visible()
    assert statuses.count() == min(count, 25)
    for text in statuses.all_inner_texts():
        assert text.startswith("Débité")

    sort_by(page, width, "Montant", "Montant (décroissant)")
    if width > 600:  # a first click sorts up, a second down
        page.get_by_role("columnheader", name="Montant").get_by_role("link").click()
        expect(page.get_by_role("columnheader", name="Montant")).to_have_attribute("aria-sort", "descending")
    expect(page).to_have_url(re.compile(r"etat=payes&tri=-montant"))
    amounts = [_cents(text) for text in page.locator("td[data-label='Montant']").all_inner_texts()]
    assert amounts == sorted(amounts, reverse=True)
    shot(page, f"paiements-debites-{width}")
    fits(page)
    if count > 25:
        page.get_by_role("link", name="Suivante »").click()
        expect(page).to_have_url(re.compile(r"etat=payes&tri=-montant&page=2"))
        page.go_back()

    page.get_by_label("Rechercher").fill("patisserie")
    page.get_by_role("button", name="Filtrer").click()
    expect(page).to_have_url(re.compile(r"q=patisserie"))
    for text in page.locator("td[data-label='Fournisseur et IBAN']").all_inner_texts():
        assert "Pâtisserie_Ève" in text
    with page.expect_download() as download:
        page.get_by_role("link", name="Excel (XLSX)").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    with open(download.value.path(), "rb") as workbook:
        rows = list(load_workbook(workbook, read_only=True).worksheets[0].iter_rows(values_only=True))
    assert rows[0][:4] == ("Id", "Facture", "Id de la facture", "Fournisseur")
    assert rows[1:] and {row[3] for row in rows[1:]} == {"Pâtisserie_Ève"}
    assert all(str(row[9]).startswith("Débité") for row in rows[1:])


def _cents(text: str) -> int:
    digits = re.sub(r"[^\d,]", "", text)
    euros, cents = digits.split(",")
    return int(euros) * 100 + int(cents)
