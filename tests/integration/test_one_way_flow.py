"""data goes from MEG to Libeo, never back; changes are delivered reliably."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import select

from models.meg import SupplierInvoice
from models.meg import db as meg_db
from models.meg.libeo_link.outbox import OutboxMessage, deliver_invoice_updates

from .conftest import libeo_back, libeo_down, libeo_invoices, meg_libeo_invoices


def _pay_first(client, meg_app):
    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    client.post(f"/meg/achats/factures/{invoice_id}/payer")
    return invoice_id


def _edit(client, meg_app, invoice_id, **changes):
    with meg_app.app_context():
        invoice = meg_db.session.get(SupplierInvoice, invoice_id)
        data = {"number": invoice.number, "supplier_id": invoice.supplier_id,
                "issue_date": invoice.issue_date.isoformat(), "due_date": invoice.due_date.isoformat(),
                "amount": f"{invoice.amount_cents // 100},{invoice.amount_cents % 100:02d}",
                "payment_mode": invoice.payment_mode.name}
    data.update(changes)
    response = client.post(f"/meg/achats/factures/{invoice_id}/modifier", data=data, follow_redirects=True)
    assert "est modifiée" in unescape(response.get_data(as_text=True))


def _deliver(meg_app):
    with meg_app.app_context():
        return deliver_invoice_updates()


def _pending(meg_app):
    with meg_app.app_context():
        return meg_db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.delivered_at.is_(None)).order_by(OutboxMessage.id)
        ).all()


def test_only_invoices_paid_through_libeo_reach_libeo(connected, client, meg_app, libeo_app):
    invoice_id = _pay_first(client, meg_app)
    # Other invoices, including edited ones and other « Virement par Libeo » ones, stay in MEG.
    other_id, *_ = meg_libeo_invoices(meg_app)[1]
    _edit(client, meg_app, other_id, amount="321,00")
    assert _deliver(meg_app) == (0, 0)
    assert [i["external_id"] for i in libeo_invoices(libeo_app)] == [f"meg-{invoice_id}"]


def test_an_edit_in_meg_reaches_libeo(connected, client, meg_app, libeo_app):
    invoice_id = _pay_first(client, meg_app)
    _edit(client, meg_app, invoice_id, number="F-RENUMEROTEE-1")
    assert len(_pending(meg_app)) == 1
    assert _deliver(meg_app) == (1, 0)
    [invoice] = libeo_invoices(libeo_app)
    assert invoice["number"] == "F-RENUMEROTEE-1"
    assert _pending(meg_app) == []


def test_edit_while_libeo_is_down_arrives_when_it_is_back_in_order(connected, client, apps, meg_app, libeo_app):
    invoice_id = _pay_first(client, meg_app)
    saved = libeo_down(apps)
    _edit(client, meg_app, invoice_id, number="F-V2")
    _edit(client, meg_app, invoice_id, number="F-V3")
    # Each change carries the invoice's whole state: only the newest is tried.
    assert _deliver(meg_app) == (0, 1)
    [first, second] = _pending(meg_app)
    assert first.attempts == 0 and second.attempts == 1 and "injoignable" in second.last_error
    assert libeo_invoices(libeo_app)[0]["number"] != "F-V3"
    libeo_back(apps, saved)
    with meg_app.app_context():
        meg_db.session.query(OutboxMessage).update({OutboxMessage.next_attempt_at: OutboxMessage.created_at})
        meg_db.session.commit()
    assert _deliver(meg_app) == (1, 0)  # the newest, which supersedes the older one
    assert _deliver(meg_app) == (0, 0)
    assert libeo_invoices(libeo_app)[0]["number"] == "F-V3"
    assert _pending(meg_app) == []


def test_an_invoice_created_or_edited_in_libeo_never_comes_back(connected, client, meg_app, libeo_app):
    from datetime import date

    from models.libeo import db
    from models.libeo.invoices.models import Invoice

    invoice_id = _pay_first(client, meg_app)
    with meg_app.app_context():
        before = {i.id: (i.number, i.amount_cents) for i in meg_db.session.scalars(select(SupplierInvoice))}
    with libeo_app.app_context():
        libeo_invoice = db.session.scalar(select(Invoice).where(Invoice.external_id == f"meg-{invoice_id}"))
        libeo_invoice.number = "MODIFIEE-DANS-LIBEO"
        libeo_invoice.amount_cents = 1
        db.session.add(Invoice(account_id=libeo_invoice.account_id, source=type(libeo_invoice.source)["LIBEO"],
                               number="SAISIE-LIBEO-1", supplier_name="Fournisseur Libeo",
                               supplier_iban="FR7630006000010000000791963", amount_cents=4200, currency="EUR",
                               issue_date=date.today(), due_date=date.today()))
        db.session.commit()
    _deliver(meg_app)
    client.get(f"/meg/achats/factures/{invoice_id}")  # reads the payment status from Libeo
    with meg_app.app_context():
        after = {i.id: (i.number, i.amount_cents) for i in meg_db.session.scalars(select(SupplierInvoice))}
    assert after == before
    listing = unescape(client.get("/meg/achats/").get_data(as_text=True))
    assert "SAISIE-LIBEO-1" not in listing and "MODIFIEE-DANS-LIBEO" not in listing


def test_nothing_of_meg_accounting_is_sent(connected, client, meg_app, libeo_app):
    invoice_id = _pay_first(client, meg_app)
    with meg_app.app_context():
        from models.meg.libeo_link.attempts import invoice_payload

        payload = invoice_payload(meg_db.session.get(SupplierInvoice, invoice_id))
    assert set(payload) == {"number", "supplier", "amount_cents", "currency", "issue_date", "due_date"}
    assert set(payload["supplier"]) <= {"name", "iban", "bic"}


def test_amount_of_an_invoice_being_paid_cannot_change(connected, client, meg_app, libeo_app):
    invoice_id = _pay_first(client, meg_app)
    with meg_app.app_context():
        invoice = meg_db.session.get(SupplierInvoice, invoice_id)
        data = {"number": invoice.number, "supplier_id": invoice.supplier_id,
                "issue_date": invoice.issue_date.isoformat(), "due_date": invoice.due_date.isoformat(),
                "amount": "1,00", "payment_mode": invoice.payment_mode.name}
    answer = client.post(f"/meg/achats/factures/{invoice_id}/modifier", data=data)
    assert answer.status_code == 302  # the amount field is locked: what the request said of it is ignored
    with meg_app.app_context():
        assert meg_db.session.get(SupplierInvoice, invoice_id).amount_cents != 100


def test_a_scheduled_invoice_shows_its_supplier_amount_and_mode_locked_and_keeps_them(connected, client, meg_app):
    invoice_id = _pay_first(client, meg_app)
    with meg_app.app_context():
        invoice = meg_db.session.get(SupplierInvoice, invoice_id)
        before = (invoice.supplier_id, invoice.amount_cents, invoice.payment_mode)
    form = unescape(client.get(f"/meg/achats/factures/{invoice_id}/modifier").get_data(as_text=True))
    # Said before anything is typed, not after « Enregistrer »: the fields are disabled, with the reason.
    assert "son fournisseur, son montant et son mode de règlement ne peuvent plus changer" in form
    for name in ("supplier_id", "amount", "payment_mode"):
        assert re.search(rf'<(input|select)[^>]*\bdisabled\b[^>]*name="{name}"', form), name
    for name in ("number", "issue_date", "due_date"):
        assert not re.search(rf'<input[^>]*\bdisabled\b[^>]*name="{name}"', form), name
    # A request that sends other values anyway (an old tab, a crafted form) saves the rest, never those.
    _edit(client, meg_app, invoice_id, number="F-LOCK-1", amount="1,00", payment_mode="VIREMENT")
    with meg_app.app_context():
        invoice = meg_db.session.get(SupplierInvoice, invoice_id)
        assert (invoice.number, (invoice.supplier_id, invoice.amount_cents, invoice.payment_mode)) == (
            "F-LOCK-1", before)
