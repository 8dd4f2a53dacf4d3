"""Payment truth in one process: dates, refusals, the events feed, cancellations, Paris time.

The reproductions of the payment-truth issue, each as a test: an invoice due
on 04/01/2027 paid « today », a refused request shown as « Paiement
demandé », a stale « À régler » beside « Payée via Libeo », a cancelled
payment still counted, UTC times in MEG.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select, update

from core.calendar import next_business_day, previous_business_day
from core.dates import date_fr, paris_today
from models.meg import LibeoConnection, PaymentAttempt, SupplierInvoice
from models.meg import db as meg_db
from tests.helpers import confirmation_panel, page, sync

from .conftest import libeo_invoices, libeo_payments, meg_libeo_invoices


def set_due_date(meg_app, invoice_id: int, due: date) -> None:
    with meg_app.app_context():
        invoice = meg_db.session.get(SupplierInvoice, invoice_id)
        invoice.issue_date, invoice.due_date = min(invoice.issue_date, due), due
        meg_db.session.commit()


def confirm(client, invoice_id: int, day: date | None = None):
    data = {"next": "/meg/achats/reglements"}
    if day is not None:
        data["execution_date"] = day.isoformat()
    return client.post(f"/meg/achats/factures/{invoice_id}/payer", data=data, follow_redirects=True)


# --- « Date d'exécution » -------------------------------------------------------------------------


def test_an_invoice_due_on_4_january_2027_is_proposed_and_paid_on_that_day(connected, client, meg_app, libeo_app):
    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    set_due_date(meg_app, invoice_id, date(2027, 1, 4))
    proposal = page(client.get(f"/meg/achats/reglements?payer={invoice_id}"))
    assert 'name="execution_date" value="2027-01-04"' in proposal
    assert "Paiement programmé le 04/01/2027" in page(confirm(client, invoice_id))  # no date sent: the proposal
    [payment] = libeo_payments(libeo_app)
    assert payment["status"] == "scheduled"
    with libeo_app.app_context():
        from models.libeo import Payment, db

        assert db.session.get(Payment, payment["id"]).execution_date == date(2027, 1, 4)


def test_a_due_date_on_a_closing_day_proposes_the_business_day_before_and_a_past_one_the_first_possible(
        connected, client, meg_app):
    (past_id, *_), (saturday_id, *_) = meg_libeo_invoices(meg_app)[:2]
    set_due_date(meg_app, past_id, paris_today() - timedelta(days=40))
    saturday = date(2027, 1, 9)
    set_due_date(meg_app, saturday_id, saturday)
    past = page(client.get(f"/meg/achats/reglements?payer={past_id}"))
    assert f'value="{next_business_day(paris_today()).isoformat()}"' in past
    # Paid after its due date: said before confirming.
    late = re.search(r'<p class="notice notice-warning" data-late-warning[^>]*>', past).group(0)
    assert " hidden" not in late
    assert "Cette date est après l'échéance du" in past and "le fournisseur sera payé en retard" in past
    on_time = page(client.get(f"/meg/achats/reglements?payer={saturday_id}"))
    assert 'value="2027-01-08"' in on_time  # Friday, so the supplier is paid by Saturday
    assert re.search(r'<p class="notice notice-warning" data-late-warning[^>]* hidden>', on_time)


def test_a_date_in_the_past_or_on_a_weekend_is_refused_and_nothing_is_sent(connected, client, meg_app, libeo_app):
    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    yesterday = page(confirm(client, invoice_id, paris_today() - timedelta(days=1)))
    assert f"La date d'exécution du {date_fr(paris_today() - timedelta(days=1))} est passée" in yesterday
    assert "Confirmer le paiement" in yesterday  # back on the confirmation to choose again
    sunday = page(confirm(client, invoice_id, date(2027, 1, 10)))
    assert "Le 10/01/2027 n'est pas un jour ouvré" in sunday and "proposée est maintenant le 11/01/2027" in sunday
    # Said in the panel the page opens at (#confirmer), with the date proposed, not far above it.
    assert "Le 10/01/2027 n'est pas un jour ouvré" in confirmation_panel(sunday)
    assert sunday.count("Le 10/01/2027 n'est pas un jour ouvré") == 1
    assert libeo_payments(libeo_app) == [] and libeo_invoices(libeo_app) == []


# --- refusals -------------------------------------------------------------------------------------------


def test_a_refused_request_is_shown_refused_and_leaves_no_invoice_in_libeo(connected, client, meg_app, libeo_app):
    from models.libeo import Account, Plan, db

    with libeo_app.app_context():
        db.session.get(Account, connected["account_id"]).accountant_email = None
        db.session.commit()
    invoices = meg_libeo_invoices(meg_app)
    with meg_app.app_context():  # the supplier's IBAN was typed wrong long ago: Libeo refuses it
        supplier = meg_db.session.get(SupplierInvoice, invoices[0][0]).supplier
        supplier.iban = "FR7630006000010000000791964"
        meg_db.session.commit()
    refused = page(confirm(client, invoices[0][0]))
    assert "IBAN" in refused and "Paiement demandé" not in refused
    shown = page(client.get(f"/meg/achats/factures/{invoices[0][0]}"))
    assert "Refusé : " in shown and "payer=" in shown  # may be paid again once corrected
    assert libeo_payments(libeo_app) == [] and libeo_invoices(libeo_app) == []
    with libeo_app.app_context():
        assert db.session.get(Account, connected["account_id"]).plan is Plan.GRATUIT


def test_a_cancelled_payment_frees_its_quota_slot_and_shows_in_meg(connected, client, meg_app, libeo_app):
    from models.libeo import Account, Payment, db
    from models.libeo.payments.order import cancel_payment
    from models.libeo.payments.quota import PaymentQuota

    invoice_id, number, _ = meg_libeo_invoices(meg_app)[0]
    confirm(client, invoice_id)
    with libeo_app.app_context():
        account = db.session.get(Account, connected["account_id"])
        assert PaymentQuota.for_account(account).used == 1
        cancel_payment(account, db.session.scalar(select(Payment)))
        db.session.commit()
        assert PaymentQuota.for_account(account).used == 0
    sync(meg_app)
    shown = page(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert "Annulé" in shown and f"payer={invoice_id}" in shown
    assert "Annulé" in page(client.get("/meg/achats/reglements"))


# --- the events feed --------------------------------------------------------------------------------


def _meg_story(meg_app):
    with meg_app.app_context():
        return [(p.invoice_id, p.status, p.libeo_payment_id, p.execution_date, p.paid_at)
                for p in meg_db.session.scalars(select(PaymentAttempt).order_by(PaymentAttempt.id))]


def test_libeo_paid_it_every_meg_list_says_so_and_reading_the_feed_again_changes_nothing(
        connected, client, meg_app, libeo_app):
    from models.libeo import Account, Payment, db
    from models.libeo.accounts.services import set_bank_account
    from models.libeo.payments.bank_leg import mark_debited
    from models.libeo.payments.sepa import execute_due_payments

    invoice_id, number, _ = meg_libeo_invoices(meg_app)[0]
    day = next_business_day(paris_today())
    confirm(client, invoice_id, day)
    run_day = previous_business_day(paris_today())  # a debit is never after today
    with libeo_app.app_context():
        set_bank_account(db.session.get(Account, connected["account_id"]), "FR7630006000011234567890189", None)
        db.session.commit()
        payment = db.session.scalar(select(Payment))
        payment.execution_date = run_day
        db.session.commit()
        execute_due_payments(None, run_day)
        payment = db.session.scalar(select(Payment))
        mark_debited(payment.account, payment, "claire@boulangerie-martin.fr", run_day)
        db.session.commit()

    # Before the sync pass MEG shows what it last knew; the pages never ask Libeo.
    assert f"Programmé le {date_fr(day)}" in page(client.get("/meg/achats/"))
    sync(meg_app)
    listing = page(client.get("/meg/achats/"))
    assert f"Payée via Libeo le {date_fr(run_day)}" in listing  # the day of the debit, not of the sync
    assert number not in page(client.get("/meg/achats/reglements"))  # it left « Règlements »
    detail = page(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert "Payée via Libeo le" in detail and "À régler" not in detail

    story = _meg_story(meg_app)
    with meg_app.app_context():
        meg_db.session.execute(update(LibeoConnection).values(events_cursor=None, last_checked_at=None))
        meg_db.session.commit()
    assert sync(meg_app).events >= 3  # created, remitted, paid: read again from the start
    assert _meg_story(meg_app) == story


def test_meg_shows_times_in_paris(connected, client, meg_app):
    with meg_app.app_context():
        connection = meg_db.session.scalar(select(LibeoConnection))
        connection.connected_at = connection.connected_at.replace(year=2026, month=7, day=14, hour=22, minute=30,
                                                                  second=0, microsecond=0)
        meg_db.session.commit()
    assert "15/07/2026 à 00:30" in page(client.get("/meg/achats/options"))  # 22:30 UTC is 00:30 in Paris, summer
