"""MEG's reminders of due dates, read from a real SMTP server (aiosmtpd) as the company's people read them.

``flask meg reminders`` (daily, from cron; the default run does it once a day) writes one reminder per
invoice still to pay when its due date is near (« Échéance proche ») and one when it has passed
(« En retard »), to the people of the company's « Achats »; the notification worker sends them as each
person chose in « Notifications ». Running it again tells nobody twice.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.dates import paris_today, utcnow
from models.meg import Company, SupplierInvoice, db
from tests.conftest import MegAuth
from tests.mail import outbox_rows

ADMIN, COMPTA, EXPERT = "admin@boulangerie-martin.fr", "compta@boulangerie-martin.fr", "expert@cabinet-durand.fr"
def dated_constants() -> dict:
    """What this module derives from today, computed again when a run crosses midnight in Paris (tests/conftest.py)."""
    return {"TODAY": paris_today()}


(TODAY,) = dated_constants().values()


def reminders(apps) -> str:
    result = apps.root.test_cli_runner().invoke(args=["meg", "reminders"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def boulangerie(meg_app, demo):
    """Boulangerie Martin with no invoice to pay but ``due``'s, in the other companies none at all."""
    with meg_app.app_context():
        for invoice in db.session.scalars(select(SupplierInvoice)):
            invoice.paid_at = utcnow()
        company_id = db.session.scalar(select(Company.id).where(Company.name == "Boulangerie Martin SARL"))
        db.session.commit()

    def due(number_suffix: str, days: int) -> dict:
        """Makes the invoice ending with ``number_suffix`` unpaid, due in ``days`` days (negative: late)."""
        with meg_app.app_context():
            invoice = db.session.scalars(select(SupplierInvoice).where(
                SupplierInvoice.company_id == company_id, SupplierInvoice.number.endswith(number_suffix))).one()
            invoice.paid_at = None
            invoice.issue_date = min(invoice.issue_date, TODAY + timedelta(days=days))
            invoice.due_date = TODAY + timedelta(days=days)
            db.session.commit()
            return {"id": invoice.id, "number": invoice.number, "supplier": invoice.supplier.name,
                    "due": invoice.due_date.strftime("%d/%m/%Y"), "company_id": company_id}

    return due


def test_an_overdue_invoice_is_told_once_to_the_people_of_achats_with_its_link(apps, boulangerie, mail):
    late = boulangerie("-005", -10)  # F-BM-…-005: 950,00 €, ten days late, as the walk found it

    assert "1 facture" in reminders(apps)
    mail.send("meg")

    assert sorted(m.to for m in mail.received) == [ADMIN, COMPTA]  # the expert-comptable reads the lists instead
    message = mail.one(ADMIN)
    assert message.sender == "MEG <notifications@meg.localhost>"
    assert message.subject == (f"En retard : facture {late['number']}, {late['supplier']}, 950,00 €, "
                               f"échue le {late['due']}")
    link = f"http://127.0.0.1:5000/meg/achats/factures/{late['id']}?entreprise={late['company_id']}"
    for body in (message.text, message.html_text):
        assert "Facture en retard" in body
        assert (f"Cette facture de Boulangerie Martin SARL était à régler au plus tard le {late['due']} : "
                "elle ne l'est pas encore.") in body
        assert late["supplier"] in body and late["number"] in body and "950,00 €" in body
        assert link in body
    assert message.unsubscribe_url and "Choisir mes notifications" in message.text

    assert "aucun nouveau" in reminders(apps)  # idempotent: the second run writes nothing…
    mail.send("meg")
    assert len(mail.received) == 2  # …and sends nothing


def test_soon_due_then_late_makes_two_reminders_and_no_more(apps, boulangerie, mail):
    soon = boulangerie("-001", 3)
    reminders(apps)
    mail.send("meg")
    [message] = mail.to(COMPTA)
    assert message.subject == (f"Échéance proche : facture {soon['number']}, {soon['supplier']}, 486,50 €, "
                               f"à régler au plus tard le {soon['due']}")
    assert f"Cette facture de Boulangerie Martin SARL est à régler au plus tard le {soon['due']}." in message.text

    reminders(apps)
    mail.send("meg")
    assert len(mail.to(COMPTA)) == 1

    late = boulangerie("-001", -1)  # the due date passed (or was moved): the other threshold
    reminders(apps)
    reminders(apps)
    mail.send("meg")
    subjects = [m.subject for m in mail.to(COMPTA)]
    assert len(subjects) == 2 and subjects[1].startswith(f"En retard : facture {late['number']}")


def test_an_invoice_due_later_or_paid_is_not_reminded(apps, boulangerie, mail):
    boulangerie("-001", 8)  # beyond « Échéance proche »
    assert "aucun nouveau" in reminders(apps)
    late = boulangerie("-005", -2)
    reminders(apps)
    with apps.meg.app_context():  # paid before the worker's pass: not told
        db.session.get(SupplierInvoice, late["id"]).paid_at = utcnow()
        db.session.commit()
    report = mail.send("meg")
    assert mail.received == [] and report.moot == 2


def test_each_persons_choice_is_followed(apps, boulangerie, mail, client):
    MegAuth(client).login(COMPTA)
    page = client.get("/meg/notifications/").get_data(as_text=True)
    assert "Échéances des factures" in page
    saved = client.post("/meg/notifications/", data={"payment_outcome": "immediate", "due_reminder": "off"},
                        follow_redirects=True)
    assert "Vos choix de notifications sont enregistrés." in saved.get_data(as_text=True)
    other = client.application.test_client()
    MegAuth(other).login(ADMIN)
    other.post("/meg/notifications/", data={"payment_outcome": "immediate", "libeo_connection": "immediate",
                                            "due_reminder": "digest"})

    boulangerie("-005", -10)
    reminders(apps)
    report = mail.send("meg")

    assert mail.received == []  # off for one, kept for the other's daily digest
    assert report.turned_off == 1 and report.postponed_to_digest == 1
    mail.send("meg", utcnow() + timedelta(days=1))
    [digest] = mail.received
    assert digest.to == ADMIN and digest.subject == "Récapitulatif : 1 notification"
    assert "En retard : facture" in digest.text
    assert {row["status"] for row in outbox_rows(apps.meg, "meg")} == {"off", "sent"}


def test_a_digest_larger_than_one_pass_leaves_out_what_was_paid_meanwhile(apps, boulangerie, mail, client):
    """The digest gathers a person's rows beyond the pass's first claim; each is asked whether it is still
    true, as the first ones are: an invoice paid since its reminder was written is not told late."""
    from models.meg.notifications.kinds import notifier

    MegAuth(client).login(ADMIN)
    client.post("/meg/notifications/", data={"payment_outcome": "immediate", "libeo_connection": "immediate",
                                             "due_reminder": "digest"})
    late = [boulangerie(suffix, -10) for suffix in ("-001", "-005")]
    reminders(apps)
    mail.send("meg")  # postponed to the digest (the other person's reminders go as they chose)
    mail.clear()
    with apps.meg.app_context():  # the second one paid before the digest
        db.session.get(SupplierInvoice, late[1]["id"]).paid_at = utcnow()
        db.session.commit()
        report = notifier.run_pass(utcnow() + timedelta(days=1), limit=1)  # the first claim holds one row
    digest = mail.one(ADMIN)
    assert digest.subject == "Récapitulatif : 1 notification"
    assert late[0]["number"] in digest.text and late[1]["number"] not in digest.text
    assert report.moot == 1


def test_nothing_due_is_said_in_french(apps, boulangerie, mail):
    output = reminders(apps)
    assert output.strip() == "Rappels d'échéance : aucun nouveau."
