"""Reminders of Libeo's due dates (``core.reminders``): the invoices entered in Libeo and still to pay
(« À payer », or « Paiement rejeté »), told to the account's users. An invoice MEG sent is reminded by
MEG, where it is managed (as a payment asked through MEG is told by MEG)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from sqlalchemy import select

from core.dates import DUE_SOON_DAYS, paris_today
from core.notifications import Recipient
from core.reminders import DueInvoice, ReminderReport, threshold, write_due
from models.libeo.accounts.models import LibeoUser
from models.libeo.db import db
from models.libeo.invoices.models import Invoice, InvoiceSource, InvoiceStatus
from models.libeo.notifications.models import outbox

SCOPE = "libeo-invoice"
_TO_PAY = (InvoiceStatus.TO_PAY, InvoiceStatus.PAYMENT_FAILED)


def _users(account_id: int) -> list[Recipient]:
    return [Recipient(email, user_id) for email, user_id in db.session.execute(
        select(LibeoUser.email, LibeoUser.id).where(LibeoUser.account_id == account_id).order_by(LibeoUser.id)
    )]


def _due(today: date) -> Iterator[tuple[DueInvoice, int, str, dict]]:
    for invoice in db.session.scalars(
        select(Invoice).where(Invoice.source == InvoiceSource.LIBEO, Invoice.imported_at.is_not(None),
                              Invoice.status.in_(_TO_PAY),
                              Invoice.due_date <= today + timedelta(days=DUE_SOON_DAYS))
        .order_by(Invoice.account_id, Invoice.due_date, Invoice.id)
    ):
        which = threshold(invoice.due_date, today)
        if which is not None:
            yield (DueInvoice(invoice.id, invoice.number, invoice.supplier_name, invoice.amount_cents,
                              invoice.currency, invoice.due_date), invoice.account_id, which, {})


def write_reminders(today: date | None = None) -> ReminderReport:
    """Writes the reminders owed today that were never written; commits. The notification worker sends them."""
    report = write_due(outbox, SCOPE, _due(today or paris_today()), _users)
    db.session.commit()
    return report


def still_owed(data: dict) -> bool:
    """Asked before sending: the invoice is still to pay, by the same due date."""
    return db.session.scalar(
        select(Invoice.id).where(Invoice.id == data["invoice_id"], Invoice.status.in_(_TO_PAY),
                                 Invoice.due_date == date.fromisoformat(data["due_iso"]))
    ) is not None
