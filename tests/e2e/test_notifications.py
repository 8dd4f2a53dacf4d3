"""Notifications in a browser: the « à approuver » e-mail's link, followed to the payment and approved; the
« Notifications » pages, the unsubscribe page and « E-mails envoyés » at 1280 and 390 px.

Screenshots go to $E2E_SHOTS (a folder) when it is set, else to the test's temporary folder.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core.calendar import earliest_execution_date
from core.dates import paris_today
from tests.mail import Received

from .test_meg_achats import log_in

LIBEO_EMAIL = "claire@boulangerie-martin.fr"
LIBEO_PASSWORD = "croissants-au-beurre-2026"
OLD_IBAN = "FR7630006000010000000791963"
NEW_IBAN = "FR7630004008220000001583859"
WIDTHS = (1280, 390)


@pytest.fixture
def shots(tmp_path, request):
    folder = Path(os.environ.get("E2E_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> None:
        page.screenshot(path=str(folder / f"{request.node.name}-{name}.png"), full_page=True)

    return take


@pytest.fixture
def mailbox(live_server, tmp_path):
    """Both products send to the test's SMTP server, which keeps a Maildir that « E-mails envoyés » reads."""
    from devtools.smtp_server import LocalSmtp

    folder = tmp_path / "mailbox"
    server = LocalSmtp(maildir=folder).start()
    for app in (live_server.apps.meg, live_server.apps.libeo):
        app.config.update(SMTP_URL=server.url, LOCAL_MAILBOX=str(folder))
    yield server
    server.stop()


def _held_payment(live_server) -> int:
    """Boulangerie Martin in Libeo; Minoterie Dupont paid once, then asked to be paid on a new IBAN: held."""
    from models.libeo import db
    from models.libeo.accounts.services import create_account, verify_account
    from models.libeo.payments.order import pay_invoice
    from tests.factories import initiator, libeo_invoice

    with live_server.apps.libeo.app_context():
        account = create_account("Boulangerie Martin SARL", "83451234500002", LIBEO_EMAIL, LIBEO_PASSWORD,
                                 full_name="Claire Martin")
        verify_account(account, "vérifié par le support de Libeo", "tests")
        db.session.commit()
        day = earliest_execution_date(paris_today())
        who = initiator("compta@boulangerie-martin.fr")
        payment = None
        for number, iban, cents in (("MD-101", OLD_IBAN, 25_000), ("MD-102", NEW_IBAN, 41_000)):
            invoice = libeo_invoice(account, number, supplier_name="Minoterie Dupont", supplier_iban=iban,
                                    amount_cents=cents, issue_date=date(2026, 10, 1), due_date=date(2026, 10, 31))
            payment = pay_invoice(account, invoice, who, day)
            db.session.commit()
        return payment.id


def _send(live_server, side: str) -> None:
    app = getattr(live_server.apps, side)
    if side == "libeo":
        from models.libeo.notifications.kinds import notifier
    else:
        from models.meg.notifications.kinds import notifier
    with app.app_context():
        notifier.run_pass()


def test_the_link_of_an_approval_e_mail_leads_to_the_payment_where_it_is_approved(page: Page, live_server,
                                                                                   mailbox, shots):
    payment_id = _held_payment(live_server)
    _send(live_server, "libeo")
    [message] = [Received(m) for m in mailbox.messages]
    assert message.subject == "1 paiement à approuver : Minoterie Dupont, 410,00 €, nouvel IBAN"
    link = re.search(r"Voir le paiement et décider : (\S+)", message.text).group(1)
    assert link == f"{live_server.url}/libeo/paiements/{payment_id}"

    page.goto(link)  # not signed in: Libeo asks who is there, then goes on to the payment
    page.get_by_label("Adresse e-mail").fill(LIBEO_EMAIL)
    page.get_by_label("Mot de passe").fill(LIBEO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Paiement de la facture MD-102")).to_be_visible()
    expect(page.get_by_test_id("payment-status")).to_have_text("À approuver")
    expect(page.locator("main")).to_contain_text("Minoterie Dupont")
    shots(page, "1-paiement-a-approuver")
    page.get_by_role("button", name="Approuver").click()
    expect(page.get_by_test_id("payment-status")).to_contain_text("Programmé le")
    expect(page.get_by_role("status").filter(has_text="approuvé")).to_contain_text(
        "Paiement de la facture MD-102 à Minoterie Dupont approuvé")
    shots(page, "2-approuve")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_new_pages_at_1280_and_390_px(page: Page, live_server, mailbox, shots, width):
    page.set_viewport_size({"width": width, "height": 900})
    _held_payment(live_server)
    _send(live_server, "libeo")
    with live_server.apps.libeo.app_context():  # Libeo's SMTP server later refused Claire's address
        from core.dates import utcnow
        from models.libeo import LibeoUser, db

        user = db.session.query(LibeoUser).filter_by(email=LIBEO_EMAIL).one()
        user.email_bounced_at, user.email_bounce_reason = utcnow(), "550 5.1.1 Adresse inconnue"
        db.session.commit()

    page.goto("/libeo/connexion")
    page.get_by_label("Adresse e-mail").fill(LIBEO_EMAIL)
    page.get_by_label("Mot de passe").fill(LIBEO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_test_id("bounce-banner")).to_be_visible()
    shots(page, f"{width}-libeo-bandeau-adresse-refusee")
    page.get_by_role("link", name="Notifications").first.click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    expect(page.get_by_test_id("bounce-warning")).to_contain_text("Votre adresse refuse nos e-mails.")
    page.get_by_role("group", name="Paiements débités").get_by_label("Jamais").check()
    page.get_by_role("group", name="Paiements à approuver").get_by_label(re.compile("Récapitulatif quotidien")).check()
    shots(page, f"{width}-libeo-notifications")
    page.get_by_role("button", name="Enregistrer mes choix").click()
    expect(page.get_by_role("status")).to_contain_text("Vos choix de notifications sont enregistrés.")
    expect(page.get_by_role("group", name="Paiements débités").get_by_label("Jamais")).to_be_checked()
    page.get_by_role("button", name="Réessayer l'envoi").click()
    expect(page.get_by_role("status")).to_contain_text("Les notifications seront de nouveau envoyées")
    expect(page.get_by_test_id("bounce-warning")).to_have_count(0)

    page.goto("/libeo/notifications/e-mails-envoyes")
    expect(page.get_by_role("heading", name="E-mails envoyés")).to_be_visible()
    shots(page, f"{width}-libeo-e-mails-envoyes")
    page.locator("main").get_by_role("link", name=re.compile("^1 paiement à approuver")).click()
    frame = page.frame_locator("iframe.mail-frame")
    expect(frame.get_by_role("heading", name="1 paiement à approuver")).to_be_visible()
    shots(page, f"{width}-libeo-e-mail-a-approuver")
    page.goto(page.locator("iframe.mail-frame").get_attribute("src"))  # the e-mail alone, as a phone shows it
    expect(page.get_by_role("link", name="Voir le paiement et décider")).to_be_visible()
    shots(page, f"{width}-libeo-e-mail-html")

    message = next(Received(m) for m in mailbox.messages if "approuver" in str(m["Subject"]))
    page.goto(message.unsubscribe_url)
    expect(page.get_by_role("heading", name="Ne plus recevoir ces e-mails")).to_be_visible()
    shots(page, f"{width}-libeo-desabonnement")
    page.get_by_role("button", name="Me désabonner").click()
    expect(page.get_by_role("heading", name="Désabonnement enregistré")).to_be_visible()
    shots(page, f"{width}-libeo-desabonnement-fait")

    log_in(page, "admin@boulangerie-martin.fr")
    page.get_by_role("link", name="Notifications").first.click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Connexion à Libeo")
    shots(page, f"{width}-meg-notifications")
    page.goto("/meg/notifications/e-mails-envoyes")
    expect(page.locator("main")).to_contain_text("Aucun e-mail envoyé pour l'instant.")
    shots(page, f"{width}-meg-e-mails-envoyes-vide")

    with live_server.apps.meg.app_context():  # Libeo refused an invoice update for good
        from sqlalchemy import select

        from core.dates import utcnow
        from models.meg import Company, OutboxMessage, SupplierInvoice, db
        from models.meg.notifications.events import updates_refused

        invoice = db.session.scalars(select(SupplierInvoice).join(Company).where(
            Company.name == "Boulangerie Martin SARL")).first()
        reason = "IBAN du fournisseur invalide (clé de contrôle)."
        db.session.add(OutboxMessage(company_id=invoice.company_id, invoice_id=invoice.id, payload={},
                                     refused_at=utcnow(), last_error=reason))
        updates_refused(invoice.company_id, invoice.number, reason)
        db.session.commit()
    _send(live_server, "meg")
    page.goto("/meg/notifications/e-mails-envoyes")
    page.locator("main").get_by_role("link", name=re.compile("mises à jour de factures")).click()
    page.goto(page.locator("iframe.mail-frame").get_attribute("src"))
    expect(page.get_by_role("link", name="Ouvrir « Options »")).to_be_visible()
    shots(page, f"{width}-meg-e-mail-html")
