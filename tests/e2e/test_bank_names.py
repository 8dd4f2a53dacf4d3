"""A supplier's name as the bank will receive it, shown before it is saved; what a SEPA transfer cannot carry,
refused where it is typed. In a browser, at a desktop's width and a phone's.

Screenshots of each screen go to ``$E2E_SHOTS`` when set (else the test's temporary folder).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.helpers import page_width

from .test_meg_achats import log_in

WIDTHS = {"ordinateur": 1280, "telephone": 390}


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("E2E_SHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)

    def shoot(page: Page, name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return shoot


@pytest.mark.parametrize("screen", list(WIDTHS))
def test_an_arabic_supplier_name_is_shown_as_the_bank_will_receive_it_then_saved(page: Page, live_server, shots,
                                                                                  screen):
    from models.meg import Supplier, db

    page.set_viewport_size({"width": WIDTHS[screen], "height": 900})
    log_in(page, "admin@boulangerie-martin.fr")
    page.goto("/meg/achats/fournisseurs/nouveau")
    page.get_by_label("Nom").fill("شركة التجارة")
    page.get_by_label("IBAN").fill("FR76 3000 6000 0112 3456 7890 189")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator(".bank-name")).to_have_text("Le nom sera transmis à la banque ainsi : shrkh ltjrh")
    expect(page.get_by_label("Nom")).to_have_value("شركة التجارة")
    assert page_width(page) <= WIDTHS[screen]
    shots(page, f"fournisseur-nom-arabe-{screen}")

    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("Le fournisseur « شركة التجارة » est enregistré.")).to_be_visible()
    with live_server.apps.meg.app_context():
        assert db.session.scalar(select(Supplier.iban).where(Supplier.name == "شركة التجارة"))


@pytest.mark.parametrize("screen", list(WIDTHS))
def test_an_iban_outside_the_sepa_scheme_and_an_emoji_name_are_refused_where_typed(page: Page, shots, screen):
    page.set_viewport_size({"width": WIDTHS[screen], "height": 900})
    log_in(page, "admin@boulangerie-martin.fr")
    page.goto("/meg/achats/fournisseurs/nouveau")
    page.get_by_label("Nom").fill("🥖🥐")
    page.get_by_label("IBAN").fill("BR18 0036 0305 0000 1000 9795 493C 1")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("hors de la zone SEPA (Brésil, BR)")).to_be_visible()
    expect(page.get_by_text("doit contenir au moins une lettre transmissible à la banque")).to_be_visible()
    assert page_width(page) <= WIDTHS[screen]
    shots(page, f"fournisseur-refuse-{screen}")


def test_libeo_invoice_form_shows_the_name_for_the_bank(page: Page, live_server, shots):
    from models.libeo import db
    from models.libeo.accounts.services import create_account

    with live_server.apps.libeo.app_context():
        create_account("Boulangerie Martin SARL", "83451234500002", "claire@boulangerie-martin.fr",
                       "croissants-au-beurre-2026")
        db.session.commit()
    page.goto("/libeo/connexion")
    page.get_by_label("Adresse e-mail").fill("claire@boulangerie-martin.fr")
    page.get_by_label("Mot de passe").fill("croissants-au-beurre-2026")
    page.get_by_role("button", name="Se connecter").click()
    page.goto("/libeo/factures/nouvelle")
    page.get_by_label("Numéro").fill("RU-1")
    page.get_by_label("Fournisseur", exact=True).fill("Компания Ромашка")
    page.get_by_label("IBAN du fournisseur").fill("FR7630006000011234567890189")
    page.get_by_label("Date de facture").fill("2026-11-02")
    page.get_by_label("Échéance").fill("2026-12-02")
    page.get_by_label("Montant TTC (€)").fill("100,00")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator(".bank-name")).to_have_text("Le nom sera transmis à la banque ainsi : Kompaniya Romashka")
    shots(page, "libeo-facture-nom-cyrillique")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("La facture RU-1 est enregistrée.")).to_be_visible()


def test_an_einvoice_from_a_supplier_named_in_arabic_with_a_brazilian_iban(page: Page, shots):
    from dataclasses import replace

    from devtools.einvoice_samples import TORREFACTION, sample_file, sample_invoice

    invoice = sample_invoice(number="AR-1", supplier=replace(TORREFACTION, name="شركة التجارة"),
                             iban="BR1800360305000010009795493C1", bic=None)
    log_in(page, "admin@boulangerie-martin.fr")
    page.goto("/meg/achats/factures/importer")
    page.get_by_label("Fichier de la facture électronique").set_input_files(
        files=[{"name": "facture.xml", "mimeType": "application/xml", "buffer": sample_file(invoice, "cii")}])
    page.get_by_role("button", name="Lire la facture").click()
    expect(page.get_by_text("hors de la zone SEPA (Brésil, BR)")).to_be_visible()
    page.get_by_label("IBAN", exact=True).fill("FR7630006000011234567890189")
    page.get_by_role("button", name="Enregistrer la facture").click()
    expect(page.locator(".bank-name")).to_have_text("Le nom sera transmis à la banque ainsi : shrkh ltjrh")
    shots(page, "import-nom-arabe")
    page.get_by_role("button", name="Enregistrer la facture").click()
    expect(page.get_by_role("heading", name="AR-1")).to_be_visible()
