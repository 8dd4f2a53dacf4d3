"""Back from Libeo (« Me connecter avec MEG »), the person lands on the « Payer » panel itself, at 1280 px and
on a 390 px phone where it sits far below the top of the invoice's page."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from .test_einvoice_import import LIBEO_EMAIL, LIBEO_PASSWORD, shots  # noqa: F401 (fixture)
from .test_meg_achats import log_in


def connect_now(live_server) -> None:
    """What « Me connecter avec MEG » did in Libeo before sending the person back: an account, its key in MEG."""
    from models.libeo import db as libeo_db
    from models.libeo.accounts.keys import issue_meg_api_key
    from models.libeo.accounts.services import create_account
    from models.meg import Company
    from models.meg import db as meg_db
    from models.meg.libeo_link.connection import connect_company

    with live_server.apps.libeo.app_context():
        account = create_account("Boulangerie Martin SARL", "83451234500002", LIBEO_EMAIL, LIBEO_PASSWORD)
        libeo_db.session.commit()
        key = issue_meg_api_key(account)
        libeo_db.session.commit()
    with live_server.apps.meg.app_context():
        company = meg_db.session.scalar(select(Company).where(Company.name == "Boulangerie Martin SARL"))
        connect_company(company, key, None)
        meg_db.session.commit()


@pytest.mark.parametrize("width", [1280, 390], ids=lambda width: f"{width}px")
def test_back_from_libeo_the_panel_is_on_screen(page: Page, live_server, width, shots):
    page.set_viewport_size({"width": width, "height": 800})
    log_in(page, "admin@boulangerie-martin.fr")
    page.goto("/meg/achats/reglements")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Payer")).first
    return_to = parse_qs(urlsplit(row.get_by_role("link", name="Payer").get_attribute("href")).query)["return_to"][0]
    connect_now(live_server)
    page.goto(return_to)
    # The person lands on the panel (its title on screen), « Confirmer » in it; on a phone, what the
    # panel must say first (the plan's quota, what Libeo waits for) may push the button below the fold.
    expect(page.get_by_role("heading", name=re.compile("^Payer la facture"))).to_be_in_viewport()
    expect(page.get_by_role("button", name="Confirmer le paiement")).to_be_visible()
    shots(page, f"back-from-libeo-{width}")
