"""The article's second path in a browser: « Payer » in MEG creates the Libeo account, then pays."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from .test_meg_achats import log_in

pytestmark = pytest.mark.usefixtures("libeo_oauth_client")


def test_payer_creates_the_libeo_account_from_meg_and_comes_back_to_the_invoice(page: Page, live_server):
    # MEG: « Achats » → « Règlements » → « Payer » on a « Virement par Libeo » invoice (not connected yet).
    log_in(page, "gerant@garage-leroy.fr")
    page.get_by_role("navigation", name="Modules").get_by_role("link", name="Achats").click()
    page.get_by_role("link", name="Règlements").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Payer")).first
    number = row.get_by_role("cell").first.inner_text().strip()
    pay_link = row.get_by_role("link", name="Payer")
    invoice_url = parse_qs(urlsplit(pay_link.get_attribute("href")).query)["return_to"][0]
    assert re.fullmatch(rf"{re.escape(live_server.url)}/meg/achats/factures/(\d+)\?payer=\1#confirmer", invoice_url)
    pay_link.click()

    # Libeo: the page « Payer » leads to → « Me connecter avec MEG ».
    expect(page).to_have_url(re.compile(r"/libeo/connexion-meg\?return_to="))
    expect(page.get_by_role("heading", name="Payez vos factures MEG avec Libeo")).to_be_visible()
    page.get_by_role("link", name="Me connecter avec MEG").click()

    # MEG: the consent screen names Libeo, the company and what is shared → « Autoriser ».
    expect(page.get_by_role("heading", name="Libeo souhaite accéder à votre compte MEG")).to_be_visible()
    expect(page.get_by_label("Entreprise", exact=True)).to_contain_text("Garage Leroy SAS")
    expect(page.locator("main")).to_contain_text("le droit de connecter Libeo à MEG pour cette entreprise")
    page.get_by_role("button", name="Autoriser").click()

    # Libeo: the account-creation step, pre-filled from MEG; plan, password, terms.
    expect(page.get_by_role("heading", name="Créer votre compte Libeo")).to_be_visible()
    expect(page.get_by_label("Nom de l'entreprise")).to_have_value("Garage Leroy SAS")
    expect(page.get_by_label("SIRET")).to_have_value("851 234 567 00002")
    expect(page.get_by_label("SIRET")).not_to_be_editable()
    expect(page.get_by_label("Adresse e-mail")).to_have_value("gerant@garage-leroy.fr")
    expect(page.get_by_label("Partnerships — 9 € HT / mois (10,80 € TTC), sans engagement")).to_be_visible()
    # « Formule » is a framed group with its title in the page's style, not the browser's default fieldset.
    plans = page.get_by_role("group", name="Formule")
    assert plans.evaluate("e => getComputedStyle(e).borderTopStyle + ' ' + getComputedStyle(e).borderTopLeftRadius") \
        == "solid 10px"
    assert plans.locator("legend").evaluate("e => getComputedStyle(e).fontWeight") == "600"
    page.get_by_label("Gratuit", exact=True).check()
    page.get_by_label("Mot de passe").fill("pistons-et-bougies-2026")
    page.get_by_role("button", name="Créer mon compte Libeo").click()
    expect(page.get_by_text("Acceptez les conditions générales d'utilisation")).to_be_visible()
    page.get_by_label("Mot de passe").fill("pistons-et-bougies-2026")
    page.get_by_label("J'accepte les conditions générales d'utilisation").check()
    page.get_by_role("button", name="Créer mon compte Libeo").click()

    # Back on the invoice the user wanted to pay, « Payer »'s confirmation open: it now works.
    expect(page).to_have_url(invoice_url)
    expect(page.locator("main")).to_contain_text(number)
    page.get_by_role("region", name=f"Payer la facture {number} avec Libeo").get_by_role(
        "button", name="Confirmer le paiement").click()
    expect(page.get_by_role("status").filter(has_text="Paiement programmé le")).to_contain_text(number)

    from models.libeo import db
    from models.libeo.accounts.models import Account
    from models.libeo.invoices.models import Invoice
    from models.libeo.payments.models import Payment

    with live_server.apps.libeo.app_context():
        account = db.session.scalar(select(Account))
        assert (account.name, account.siret) == ("Garage Leroy SAS", "85123456700002")
        [payment] = db.session.scalars(select(Payment)).all()
        assert db.session.get(Invoice, payment.invoice_id).number == number
        assert payment.initiated_by_email == "gerant@garage-leroy.fr"

    # The person is signed into their new Libeo account, which shows the payment.
    page.goto("/libeo/paiements/")
    expect(page.get_by_label("Entreprise")).to_contain_text("Garage Leroy SAS")
    expect(page.get_by_role("table")).to_contain_text(number)
