"""Libeo's reminders of due dates, read from a real SMTP server (aiosmtpd): an invoice entered in Libeo
and still to pay is told to the account's users when its due date is near and when it has passed, once
each (``flask libeo reminders``). An invoice MEG sent is MEG's to remind."""

from __future__ import annotations

from datetime import timedelta

from core.dates import paris_today
from models.libeo import Account, Invoice, InvoiceSource, InvoiceStatus, Plan, db
from tests.factories import libeo_invoice, libeo_user

from .conftest import LibeoAuth, make_account, valid_iban


def dated_constants() -> dict:
    """What this module derives from today, computed again when a run crosses midnight in Paris (tests/conftest.py)."""
    return {"TODAY": paris_today()}


(TODAY,) = dated_constants().values()


def reminders(apps) -> str:
    result = apps.root.test_cli_runner().invoke(args=["libeo", "reminders"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def entered(apps, account_id: int, number: str, due_in: int, *, source=InvoiceSource.LIBEO) -> int:
    with apps.libeo.app_context():
        account = db.session.get(Account, account_id)
        invoice = libeo_invoice(account, number, supplier_name="Minoterie Dupont", supplier_iban=valid_iban(5_100_001),
                                due_date=TODAY + timedelta(days=due_in), amount_cents=41_000)
        invoice.source = source
        db.session.commit()
        return invoice.id


def test_an_invoice_entered_in_libeo_is_reminded_once_per_threshold_to_the_accounts_users(apps, mail):
    info = make_account(apps.libeo, name="Boulangerie Martin SARL", plan=Plan.PARTNERSHIPS)
    with apps.libeo.app_context():
        libeo_user(info.id, "claire@boulangerie-martin.fr", password=None)
        db.session.commit()
    soon = entered(apps, info.id, "F-2026-101", 2)
    entered(apps, info.id, "F-2026-102", -3, source=InvoiceSource.MEG)  # MEG reminds its own invoices
    entered(apps, info.id, "F-2026-103", 30)
    other = make_account(apps.libeo, name="Garage Leroy SAS")

    assert "1 facture" in reminders(apps)
    mail.send("libeo")

    assert sorted(m.to for m in mail.received) == sorted([info.email, "claire@boulangerie-martin.fr"])
    assert other.email not in [m.to for m in mail.received]
    message = mail.one(info.email)
    due = (TODAY + timedelta(days=2)).strftime("%d/%m/%Y")
    assert message.sender.startswith("Libeo")
    assert message.subject == (f"Échéance proche : facture F-2026-101, Minoterie Dupont, 410,00 €, "
                               f"à régler au plus tard le {due}")
    link = f"http://127.0.0.1:5000/libeo/factures/{soon}"
    for body in (message.text, message.html_text):
        assert f"Cette facture est à payer au plus tard le {due}." in body
        assert "Minoterie Dupont" in body and "410,00 €" in body and link in body

    assert "aucun nouveau" in reminders(apps)
    mail.send("libeo")
    assert len(mail.received) == 2

    with apps.libeo.app_context():  # the due date passed: « En retard », once
        invoice = db.session.get(Invoice, soon)
        invoice.issue_date = invoice.due_date = TODAY - timedelta(days=1)
        db.session.commit()
    reminders(apps)
    reminders(apps)
    mail.send("libeo")
    late = mail.to(info.email)[1:]
    yesterday = (TODAY - timedelta(days=1)).strftime("%d/%m/%Y")
    assert [m.subject for m in late] == [
        f"En retard : facture F-2026-101, Minoterie Dupont, 410,00 €, échue le {yesterday}"]
    assert f"Cette facture était à payer au plus tard le {yesterday} : elle ne l'est pas encore." in late[0].text


def test_a_paid_invoice_is_not_reminded_and_a_person_may_turn_reminders_off(apps, client, mail):
    info = make_account(apps.libeo, name="Boulangerie Martin SARL", plan=Plan.PARTNERSHIPS)
    auth = LibeoAuth(client)
    auth.login(info.email)
    assert "Échéances des factures" in client.get("/libeo/notifications/").get_data(as_text=True)
    late = entered(apps, info.id, "F-2026-201", -5)
    reminders(apps)
    with apps.libeo.app_context():
        db.session.get(Invoice, late).status = InvoiceStatus.PAID
        db.session.commit()
    assert mail.send("libeo").moot == 1 and mail.received == []

    client.post("/libeo/notifications/", data={
        "payment_held": "immediate", "payment_rejected": "immediate", "payment_debited": "immediate",
        "sepa_file_ready": "immediate", "bank_anomaly": "immediate",
        "quota_reached": "immediate", "due_reminder": "off"})
    entered(apps, info.id, "F-2026-202", -1)
    reminders(apps)
    assert mail.send("libeo").turned_off == 1 and mail.received == []
