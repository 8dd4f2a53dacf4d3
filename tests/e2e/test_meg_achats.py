"""MEG in a browser: the « Achats » module as the demo people use it."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

DEMO_PASSWORD = "demo-meg-2026"


def log_in(page: Page, email: str) -> None:
    page.goto("/meg/")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()


def test_admin_sees_invoices_then_reglements(page: Page):
    log_in(page, "admin@boulangerie-martin.fr")
    expect(page.get_by_label("Entreprise courante")).to_contain_text("Boulangerie Martin SARL")

    page.get_by_role("navigation", name="Modules").get_by_role("link", name="Achats").click()
    invoices = page.get_by_role("table")
    expect(invoices).to_contain_text("Minoterie Dupuis")
    expect(invoices).to_contain_text("486,50\u00a0€")
    assert invoices.locator("tbody tr").count() >= 8  # the demo data: at least 8 per company

    page.get_by_role("link", name="Règlements").click()
    expect(page).to_have_url(re.compile(r"/meg/achats/reglements$"))
    expect(page.get_by_role("heading", name="Règlements")).to_be_visible()
    settlements = page.get_by_role("table")
    libeo_cells = settlements.get_by_role("cell", name="Virement par Libeo", exact=True)
    expect(libeo_cells.first).to_be_visible()
    assert libeo_cells.count() >= 3  # the demo data: at least 3 unpaid « Virement par Libeo »


def test_gear_opens_options_for_the_achats_admin(page: Page):
    log_in(page, "admin@boulangerie-martin.fr")
    page.goto("/meg/achats/")
    gear = page.get_by_role("link", name="Options", exact=True)
    expect(gear).to_be_visible()
    gear.click()
    expect(page.get_by_role("heading", name="Options")).to_be_visible()


def test_options_are_not_offered_to_an_achats_user_and_refused_by_address(page: Page):
    log_in(page, "compta@boulangerie-martin.fr")
    page.goto("/meg/achats/")
    expect(page.get_by_role("link", name="Options", exact=True)).to_have_count(0)  # no dead end
    page.goto("/meg/achats/options")
    expect(page.get_by_text("Seuls les administrateurs du module « Achats »")).to_be_visible()
