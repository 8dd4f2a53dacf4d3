"""MEG's e-mail notifications, caused by what Libeo really does, read from a real SMTP server.

A « Payer » that ended otherwise than its person saw (cancelled in Libeo,
rejected by the bank) is told to the person who clicked; a broken
connection and updates Libeo refused are told to the company's « Achats »
administrators, at most once a day per problem, and not at all when the
problem is gone before the e-mail is due. (A refusal after « Vérification en
cours » is in test_notifications_deployed.py: it needs Libeo down behind its front.)
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.calendar import earliest_execution_date
from core.dates import datetime_fr, paris_today, utcnow
from devtools.bank_simulator import status_report_for
from models.meg import Company, LibeoConnection
from models.meg import db as meg_db
from tests.conftest import MegAuth
from tests.helpers import text as page
from tests.mail import outbox_rows

from .conftest import libeo_back, libeo_down, meg_libeo_invoices

ADMIN, COMPTA = "admin@boulangerie-martin.fr", "compta@boulangerie-martin.fr"


def sync(meg_app):
    from models.meg.libeo_link.sync import sync_pass

    meg_app.config["SYNC_QUIET_SECONDS"] = 0
    with meg_app.app_context():
        return sync_pass()


def pay(client, invoice_id: int) -> str:
    return page(client.post(f"/meg/achats/factures/{invoice_id}/payer",
                            data={"execution_date": earliest_execution_date(paris_today()).isoformat()},
                            follow_redirects=True))


def libeo_payment_ids(libeo_app) -> list[int]:
    from models.libeo import Payment, db

    with libeo_app.app_context():
        return list(db.session.scalars(select(Payment.id).order_by(Payment.id)))


def cancel_in_libeo(libeo_app, account_id: int, payment_id: int) -> None:
    from models.libeo import Account, Payment, db
    from models.libeo.payments.order import cancel_payment

    with libeo_app.app_context():
        cancel_payment(db.session.get(Account, account_id), db.session.get(Payment, payment_id),
                       actor="claire@boulangerie-martin.fr")
        db.session.commit()


def company_id(meg_app) -> int:
    with meg_app.app_context():
        return meg_db.session.scalar(select(Company.id).where(Company.name == "Boulangerie Martin SARL"))


# --- a « Payer » that ended otherwise ------------------------------------------------------------------


def test_a_payment_cancelled_in_libeo_is_told_to_the_person_who_clicked(connected, client, meg_app, libeo_app, mail):
    MegAuth(client).logout()
    MegAuth(client).login(COMPTA)  # an « Achats » user pays
    invoice_id, number, _ = meg_libeo_invoices(meg_app)[0]
    assert "Paiement programmé le" in pay(client, invoice_id)
    mail.send("meg")
    assert mail.received == []  # what they saw is what happened

    [payment_id] = libeo_payment_ids(libeo_app)
    cancel_in_libeo(libeo_app, connected["account_id"], payment_id)
    sync(meg_app)
    mail.send("meg")

    message = mail.one(COMPTA)
    assert message.sender == "MEG <notifications@meg.localhost>"
    assert message.subject.startswith(f"Paiement annulé dans Libeo : facture {number}, ")
    link = f"http://127.0.0.1:5000/meg/achats/factures/{invoice_id}?entreprise={company_id(meg_app)}"
    assert link in message.text and link.replace("&", "&amp;") in message.html
    assert "« Payer »" in message.text and "••" in message.text
    assert [m.to for m in mail.received] == [COMPTA]  # the administrators are not told of another's payment
    sync(meg_app)
    mail.send("meg")
    assert len(mail.received) == 1


def test_a_payment_rejected_by_the_bank_is_told_to_the_person_who_clicked(connected, client, meg_app, libeo_app,
                                                                          mail):
    from models.libeo import Account, SepaBatch, db
    from models.libeo.payments.bank_status_import import import_bank_status
    from models.libeo.payments.sepa import execute_due_payments

    invoice_id, number, _ = meg_libeo_invoices(meg_app)[0]
    pay(client, invoice_id)
    with libeo_app.app_context():
        account = db.session.get(Account, connected["account_id"])
        account.debtor_iban = "FR7630006000011234567890189"
        db.session.commit()
        execute_due_payments(None, earliest_execution_date(paris_today()))
        batch = db.session.scalars(select(SepaBatch)).one()
        [payment_id] = [p.id for p in batch.payments]
        import_bank_status(status_report_for(batch.xml, {f"LIBEO-{payment_id}": ("RJCT", "AC04")},
                                             texts={f"LIBEO-{payment_id}": "Compte clos le 01/12"}),
                           imported_by="tests")
        db.session.commit()
    sync(meg_app)
    mail.send("meg")

    message = mail.one(ADMIN)
    assert message.subject.startswith(f"Paiement rejeté par la banque : facture {number}, ")
    assert "compte du bénéficiaire clôturé (AC04)" in message.text
    assert "Texte de la banque : Compte clos le 01/12" in message.text  # the bank's own words, as on the page
    invoice_page = page(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert "Rejeté : compte du bénéficiaire clôturé (AC04)" in invoice_page
    # The account itself was rejected: the e-mail says what the page asks (the supplier's new IBAN), never
    # « pay it again », which « Payer » refuses until then.
    assert "Demandez au fournisseur son nouvel IBAN" in " ".join(invoice_page.split())
    flat = " ".join(message.text.split())
    assert "Demandez au fournisseur son nouvel IBAN" in flat and "vous pouvez la payer à nouveau" not in flat
    assert "Demandez au fournisseur son nouvel IBAN" in " ".join(message.html.split())


def test_a_debited_payment_is_told_by_meg_to_the_person_who_clicked_once(connected, client, meg_app, libeo_app,
                                                                          mail):
    """The requester who asked through MEG is told by MEG (« Paiement débité »), once, even when Libeo knows
    the same address as a user of its account; they may turn it off alone."""
    from models.libeo import Account, LibeoUser, SepaBatch, db
    from models.libeo.payments.bank_status_import import import_bank_status
    from models.libeo.payments.sepa import execute_due_payments

    invoice_id, number, _ = meg_libeo_invoices(meg_app)[0]
    pay(client, invoice_id)
    with libeo_app.app_context():
        account = db.session.get(Account, connected["account_id"])
        account.debtor_iban = "FR7630006000011234567890189"
        db.session.add(LibeoUser(account_id=account.id, email=ADMIN, full_name="Claire Martin"))
        db.session.commit()
        execute_due_payments(None, earliest_execution_date(paris_today()))
        batch = db.session.scalars(select(SepaBatch)).one()
        import_bank_status(status_report_for(batch.xml), imported_by="tests")  # every transfer debited
        db.session.commit()
    sync(meg_app)
    mail.send("meg")
    mail.send("libeo")

    debited = [m for m in mail.received if m.subject.startswith("Paiement débité")]
    assert [(m.to, m.sender) for m in debited] == [(ADMIN, "MEG <notifications@meg.localhost>")]
    [message] = debited
    assert message.subject.startswith(f"Paiement débité : facture {number}, ")
    assert "le fournisseur est payé" in message.text and "État : Payée via Libeo le " in message.text
    assert f"/meg/achats/factures/{invoice_id}" in message.text
    assert "Paiements débités" in page(client.get("/meg/notifications/"))
    # A page opened before « Paiements débités » existed posts without it: the other choices are saved, it keeps
    # its mode.
    saved = client.post("/meg/notifications/", data={"payment_outcome": "digest"}, follow_redirects=True)
    assert "Vos choix de notifications sont enregistrés." in page(saved)
    sync(meg_app)
    mail.send("meg")
    assert len([m for m in mail.received if m.subject.startswith("Paiement débité")]) == 1


def test_a_payment_cancelled_from_meg_by_another_person_is_told_to_the_person_who_clicked(connected, client,
                                                                                          meg_app, libeo_app,
                                                                                          mail):
    """The administrator cancels what the « Achats » user asked for: the user was not looking, and is told;
    the administrator, who saw it, is not."""
    MegAuth(client).logout()
    MegAuth(client).login(COMPTA)
    invoice_id, number, _ = meg_libeo_invoices(meg_app)[0]
    assert "Paiement programmé le" in pay(client, invoice_id)
    MegAuth(client).logout()
    MegAuth(client).login(ADMIN)
    done = page(client.post(f"/meg/achats/factures/{invoice_id}/annuler-paiement",
                            data={"next": f"/meg/achats/factures/{invoice_id}"}, follow_redirects=True))
    assert f"Le paiement de la facture {number} est annulé dans Libeo" in done
    mail.send("meg")
    message = mail.one(COMPTA)
    assert message.subject.startswith(f"Paiement annulé dans Libeo : facture {number}, ")
    assert [m.to for m in mail.received] == [COMPTA]


def test_a_person_who_cancels_their_own_payment_is_not_told_by_e_mail(connected, client, meg_app, mail):
    invoice_id, number, _ = meg_libeo_invoices(meg_app)[0]
    pay(client, invoice_id)
    done = page(client.post(f"/meg/achats/factures/{invoice_id}/annuler-paiement", follow_redirects=True))
    assert f"Le paiement de la facture {number} est annulé dans Libeo" in done
    mail.send("meg")
    assert mail.received == []


def test_the_link_of_an_e_mail_opens_its_company_for_a_person_of_several(connected, client, meg_app, demo):
    """The expert-comptable works for three companies: the link names which one."""
    invoice_id, number, _ = meg_libeo_invoices(meg_app)[0]
    other = client.application.test_client()
    MegAuth(other).login("expert@cabinet-durand.fr")
    with meg_app.app_context():
        first = meg_db.session.scalar(select(Company.id).where(Company.name == "Association Les Amis du Quartier"))
    other.post("/meg/entreprise", data={"company_id": first})
    assert other.get(f"/meg/achats/factures/{invoice_id}").status_code == 404  # another company's invoice
    opened = other.get(f"/meg/achats/factures/{invoice_id}?entreprise={company_id(meg_app)}")
    assert opened.status_code == 200 and number in page(opened)
    assert "Boulangerie Martin SARL" in page(other.get("/meg/achats/"))  # and it stays the current company


# --- the connection's problems, once a day ------------------------------------------------------------


def test_a_revoked_key_is_told_to_the_achats_administrators_once_a_day(connected, client, meg_app, libeo_app, mail):
    from models.libeo import Account, db
    from models.libeo.accounts.keys import issue_meg_api_key

    with libeo_app.app_context():
        new_key = issue_meg_api_key(db.session.get(Account, connected["account_id"]),
                                    actor="claire@boulangerie-martin.fr")
        db.session.commit()
    sync(meg_app)
    mail.send("meg")

    message = mail.one(ADMIN)
    assert message.subject == "Boulangerie Martin SARL : Libeo refuse la clé d'API, « Payer » ne fonctionne plus"
    assert f"http://127.0.0.1:5000/meg/achats/options?entreprise={company_id(meg_app)}" in message.text
    assert COMPTA not in [m.to for m in mail.received]  # an « Achats » user cannot act on it
    assert new_key not in message.raw() and connected["key"] not in message.raw()

    # Fixed, broken again the same day: not told again.
    client.post("/meg/achats/options", data={"api_key": new_key})
    with libeo_app.app_context():
        issue_meg_api_key(db.session.get(Account, connected["account_id"]))
        db.session.commit()
    sync(meg_app)
    mail.send("meg")
    assert len(mail.to(ADMIN)) == 1

    # The next day, a problem still there is a new day's problem.
    from models.meg.notifications.events import connection_broken

    with meg_app.app_context():
        connection = meg_db.session.scalars(select(LibeoConnection)).one()
        tomorrow = utcnow() + timedelta(days=1)
        connection_broken(connection, tomorrow)
        meg_db.session.commit()
    mail.send("meg", tomorrow)
    assert len(mail.to(ADMIN)) == 2


def test_an_unreachable_libeo_is_told_only_if_it_lasts(connected, client, meg_app, apps, mail):
    saved = libeo_down(apps)
    sync(meg_app)
    mail.send("meg")
    assert mail.received == []  # a blip is not worth an e-mail
    libeo_back(apps, saved)
    sync(meg_app)  # back within the quarter of an hour
    mail.send("meg", utcnow() + timedelta(minutes=16))
    assert mail.received == []
    assert [r["kind"] for r in outbox_rows(meg_app, "meg")] == []  # forgotten: it may be told if it comes back

    saved = libeo_down(apps)
    sync(meg_app)
    mail.send("meg", utcnow() + timedelta(minutes=16))
    libeo_back(apps, saved)
    message = mail.one(ADMIN)
    assert message.subject == "Boulangerie Martin SARL : Libeo ne répond pas, les paiements et mises à jour attendent"
    assert "Depuis plus de 15 minutes" in message.text


def test_updates_libeo_refused_are_told_once_a_day(connected, client, meg_app, libeo_app, mail):
    from models.meg import SupplierInvoice

    invoice_id, number, _ = meg_libeo_invoices(meg_app)[0]
    pay(client, invoice_id)
    [payment_id] = libeo_payment_ids(libeo_app)
    cancel_in_libeo(libeo_app, connected["account_id"], payment_id)
    sync(meg_app)
    mail.send("meg")
    mail.clear()  # the admin's own payment cancelled in Libeo: told (see above)

    def edit(suffix: str) -> None:
        with meg_app.app_context():
            invoice = meg_db.session.get(SupplierInvoice, invoice_id)
            invoice.supplier.iban = "FR7630006000010000000791964"  # legacy data Libeo refuses
            data = {"number": f"{number}-{suffix}", "supplier_id": invoice.supplier_id,
                    "issue_date": invoice.issue_date.isoformat(), "due_date": invoice.due_date.isoformat(),
                    "amount": f"{invoice.amount_cents / 100:.2f}".replace(".", ","),
                    "payment_mode": invoice.payment_mode.name}
            meg_db.session.commit()
        client.post(f"/meg/achats/factures/{invoice_id}/modifier", data=data)

    edit("A")
    sync(meg_app)
    edit("B")
    sync(meg_app)
    mail.send("meg")

    message = mail.one(ADMIN)
    assert message.subject == "Boulangerie Martin SARL : des mises à jour de factures refusées par Libeo attendent"
    assert f"{number}-A" in message.text and "« Réessayer » ou « Ignorer »" in message.text


# --- MEG's « Notifications » page and its unsubscribe link --------------------------------------------


def test_meg_preferences_and_unsubscribe(connected, client, meg_app, libeo_app, mail):
    options = page(client.get("/meg/notifications/"))
    assert "Issue de vos paiements Libeo" in options and "Connexion à Libeo" in options
    other = client.application.test_client()
    MegAuth(other).login(COMPTA)
    assert "Connexion à Libeo" not in page(other.get("/meg/notifications/"))  # not theirs to act on

    saved = client.post("/meg/notifications/", data={"payment_outcome": "immediate", "payment_paid": "off",
                                                     "libeo_connection": "off",
                                                            "due_reminder": "immediate"},
                        follow_redirects=True)
    assert "Vos choix de notifications sont enregistrés." in page(saved)
    from models.libeo import Account, db
    from models.libeo.accounts.keys import issue_meg_api_key

    with libeo_app.app_context():
        issue_meg_api_key(db.session.get(Account, connected["account_id"]))
        db.session.commit()
    sync(meg_app)
    report = mail.send("meg")
    assert mail.received == [] and report.turned_off == 1

    invoice_id, number, _ = meg_libeo_invoices(meg_app)[1]
    client.post("/meg/achats/options", data={"api_key": _new_key(libeo_app, connected["account_id"])})
    pay(client, invoice_id)
    cancel_in_libeo(libeo_app, connected["account_id"], libeo_payment_ids(libeo_app)[-1])
    sync(meg_app)
    mail.send("meg")
    message = mail.one(ADMIN)
    link = message.unsubscribe_url.removeprefix("http://127.0.0.1:5000")
    assert link.startswith("/meg/notifications/desabonnement/")
    assert "Issue de vos paiements Libeo" in page(client.application.test_client().get(link))
    assert client.application.test_client().post(link, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    preferences = page(client.get("/meg/notifications/"))
    assert re.search(r'<input checked[^>]*name="payment_outcome"[^>]*value="off"', preferences)


def _new_key(libeo_app, account_id: int) -> str:
    from models.libeo import Account, db
    from models.libeo.accounts.keys import issue_meg_api_key

    with libeo_app.app_context():
        key = issue_meg_api_key(db.session.get(Account, account_id))
        db.session.commit()
        return key


# --- Libeo's security notices of a link from MEG -------------------------------------------------------


@pytest.mark.usefixtures("demo", "libeo_oauth_client")
def test_an_account_linked_from_meg_tells_its_administrators(apps, meg_app, libeo_app, mail):
    from .test_meg_connect import GERANT, Browser, consent_and_come_back, create_account_form, payer_links

    browser = Browser(apps)
    browser.meg_login()
    browser.get(payer_links(browser)[0])
    consent_and_come_back(browser, meg_app)
    assert create_account_form(browser).status_code == 302
    mail.send("libeo")

    assert sorted(m.subject for m in mail.to(GERANT)) == [
        "Sécurité : nouvelle clé d'API MEG pour Garage Leroy SAS",
        "Sécurité : votre compte Libeo est relié à « Garage Leroy SAS » de MEG",
    ]
    linked = next(m for m in mail.to(GERANT) if "relié" in m.subject)
    assert "Entreprise MEG : Garage Leroy SAS" in linked.text and f"Relié par : {GERANT}" in linked.text
    assert linked.header("List-Unsubscribe") is None
    key = next(m for m in mail.to(GERANT) if "clé" in m.subject)
    assert "Créée par : « Me connecter avec MEG »" in key.text


def test_a_key_saved_in_megs_options_tells_the_accounts_administrators_once(client, demo, meg_auth, libeo_app, mail):
    """The article's first path told nobody in Libeo that a MEG company now pays with the account's key (only
    « nouvelle clé d'API », when it was made); « Me connecter avec MEG » did."""
    from .conftest import libeo_account

    _, key = libeo_account(libeo_app)
    mail.send("libeo")
    mail.clear()
    meg_auth.login("admin@boulangerie-martin.fr")
    for _ in range(2):  # saved twice: one notice
        assert "La connexion est établie" in page(client.post("/meg/achats/options", data={"api_key": key},
                                                                follow_redirects=True))
    mail.send("libeo")

    [notice] = mail.to("claire@boulangerie-martin.fr")
    assert notice.subject == "Sécurité : votre compte Libeo est relié à « Boulangerie Martin SARL » de MEG"
    assert "La clé d'API MEG du compte Libeo de Boulangerie Martin SARL est maintenant enregistrée" in notice.text
    assert "Relié par : admin@boulangerie-martin.fr" in notice.text
    assert "révoquez la clé d'API MEG" in notice.text


def test_a_payment_refused_at_its_approval_is_told_as_such(connected, client, meg_app, libeo_app, mail):
    """The e-mail said « Paiement annulé dans Libeo » and only its « État » line said it was refused."""
    from models.libeo import Account, LibeoUser, Payment, db
    from models.libeo.accounts.services import set_approval_rules
    from models.libeo.payments.approvals import refuse_payment

    with libeo_app.app_context():
        set_approval_rules(db.session.get(Account, connected["account_id"]), 0, False, "claire@boulangerie-martin.fr")
        db.session.commit()
    invoice_id, number, _ = meg_libeo_invoices(meg_app)[0]
    pay(client, invoice_id)
    with libeo_app.app_context():
        account = db.session.get(Account, connected["account_id"])
        admin = db.session.scalar(select(LibeoUser).where(LibeoUser.account_id == account.id))
        refuse_payment(account, db.session.scalar(select(Payment)), admin, "Montant à vérifier avec EDF")
        db.session.commit()
    sync(meg_app)
    mail.send("meg")

    message = mail.one(ADMIN)
    assert message.subject.startswith(f"Paiement refusé à l'approbation dans Libeo : facture {number}, ")
    assert "État : Annulé — approbation refusée : Montant à vérifier avec EDF" in message.text
    # Who refused and when, as the invoice's page says it.
    with libeo_app.app_context():
        decided_at = datetime_fr(db.session.scalar(select(Payment)).decided_at)
    said = ("Un administrateur du compte Libeo, claire@boulangerie-martin.fr, a refusé le "
            f"{decided_at} d'approuver le paiement que vous avez demandé avec « Payer »")
    for body in (message.text, re.sub(r"<[^>]+>", " ", message.html_text)):
        assert said in " ".join(body.replace("\u202f", " ").replace("\u00a0", " ").split())
