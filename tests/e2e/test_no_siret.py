"""A company without SIRET (the association) in Chromium, at 1280 px and on a 390 px phone: a new invoice
defaults to a mode that works, and every place « Virement par Libeo » cannot be paid says why and links to
« Fiche de l'entreprise »."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.helpers import page_width

from .test_einvoice_import import shots  # noqa: F401 (fixture)
from .test_meg_achats import log_in


@pytest.fixture(params=[1280, 390], ids=lambda width: f"{width}px")
def width(request, page: Page) -> int:
    page.set_viewport_size({"width": request.param, "height": 900})
    return request.param


def test_without_siret_the_default_mode_works_and_the_siret_is_one_click_away(page: Page, live_server, width, shots):
    log_in(page, "president@amis-du-quartier.fr")
    page.goto("/meg/achats/factures/nouvelle")
    expect(page.get_by_label("Mode de règlement")).to_have_value("VIREMENT")
    expect(page.get_by_test_id("no-siret")).to_contain_text("« Virement par Libeo » demande le SIRET de l'entreprise")
    shots(page, f"no-siret-new-invoice-{width}")

    page.goto("/meg/achats/reglements")
    row = page.get_by_role("row").filter(has_text="Virement par Libeo").first
    expect(row.locator('td[data-label="Règlement"]')).to_have_text("SIRET de l'entreprise manquant")
    shots(page, f"no-siret-settlements-{width}")
    assert page_width(page) <= width
    page.get_by_role("main").get_by_role("link", name="Fiche de l'entreprise").click()
    expect(page.get_by_role("heading", name="Fiche de l'entreprise")).to_be_visible()
    expect(page.get_by_label("SIRET")).to_be_visible()
