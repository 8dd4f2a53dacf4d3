"""The article's first path in a browser: a Libeo key pasted in MEG, then « Payer »."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import select

from .test_meg_achats import log_in


def test_connect_with_a_key_then_pay_in_one_click(page: Page, live_server):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)

    # Libeo: an account for Boulangerie Martin, then « Configuration » → « Intégrations » → « Se connecter ».
    page.goto("/libeo/inscription")
    page.get_by_label("Adresse e-mail").fill("claire@boulangerie-martin.fr")
    page.get_by_label("Mot de passe").fill("croissants-au-beurre-2026")
    page.get_by_label("Nom de l'entreprise").fill("Boulangerie Martin SARL")
    page.get_by_label("SIRET").fill("834 512 345 00002")
    page.get_by_label("J'accepte les conditions générales d'utilisation").check()
    page.get_by_role("button", name="Créer mon compte").click()
    page.get_by_role("link", name="Configuration").click()
    page.get_by_role("link", name="Intégrations").click()
    meg_card = page.get_by_role("region", name="MEG")
    meg_card.get_by_role("button", name="Se connecter").click()
    key = page.locator("#meg-api-key").inner_text().strip()
    page.get_by_role("button", name="Copier la clé").click()
    expect(page.get_by_role("button", name="Clé copiée")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key

    # MEG: « Achats » → gear → « Options » → paste into « Clé d'api LIBEO » → « Enregistrer ».
    log_in(page, "admin@boulangerie-martin.fr")
    page.get_by_role("navigation", name="Modules").get_by_role("link", name="Achats").click()
    page.get_by_role("link", name="Options", exact=True).click()
    page.get_by_label("Clé d'api LIBEO").focus()
    page.keyboard.press("Control+V")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text(
        "La connexion est établie avec le compte Libeo « Boulangerie Martin SARL »").first).to_be_visible()
    expect(page.locator("body")).not_to_contain_text(key)

    # « Règlements » → « Payer » on the first « Virement par Libeo » invoice → « Confirmer le paiement ».
    page.get_by_role("link", name="Règlements").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Payer")).first
    number = row.get_by_role("cell").first.inner_text().strip()
    row.get_by_role("link", name="Payer").click()
    confirm = page.get_by_role("region", name=f"Payer la facture {number} avec Libeo")
    expect(confirm).to_contain_text("FR76 •••• •••• •••• •••• ••91 963 — CREDIT AGRICOLE SA")
    expect(confirm).to_contain_text("486,50")
    confirm.get_by_role("button", name="Confirmer le paiement").click()
    expect(page.get_by_role("status").filter(has_text="Paiement programmé le")).to_contain_text(number)

    from models.libeo import db
    from models.libeo.invoices.models import Invoice
    from models.libeo.payments.models import Payment

    with live_server.apps.libeo.app_context():
        [payment] = db.session.scalars(select(Payment)).all()
        invoice = db.session.get(Invoice, payment.invoice_id)
        assert invoice.number == number
        assert invoice.supplier_iban == "FR7630006000010000000791963"
        assert payment.amount_cents == invoice.amount_cents == 48_650

    # Libeo shows the payment too.
    page.goto("/libeo/paiements/")
    expect(page.get_by_role("table")).to_contain_text(number)
