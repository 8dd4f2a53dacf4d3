"""Reminders of MEG's due dates (``core.reminders``): each company's invoices still to pay — not paid,
no Libeo payment under way, as « Règlements » flags them — are told to the people of its « Achats »
(administrators and users; an expert-comptable reads the lists of all his companies instead)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from sqlalchemy import exists, select

from core.dates import DUE_SOON_DAYS, paris_today
from core.notifications import Recipient
from core.reminders import DueInvoice, ReminderReport, threshold, write_due
from models.meg.achats.models import Supplier, SupplierInvoice
from models.meg.companies.models import Company, ModuleRole, User
from models.meg.db import db
from models.meg.libeo_link.attempts import PaymentAttempt, PaymentState
from models.meg.notifications.models import outbox

SCOPE = "meg-invoice"
_ENDED = (PaymentState.REFUSED, PaymentState.FAILED, PaymentState.CANCELLED)


def _still_to_pay():
    """SQL condition: nobody paid the invoice, and no payment of it is under way (the lists' due flag)."""
    under_way = exists().where(PaymentAttempt.invoice_id == SupplierInvoice.id, PaymentAttempt.status.not_in(_ENDED))
    return SupplierInvoice.paid_at.is_(None) & ~under_way


def _achats_people(company_id: int) -> list[Recipient]:
    return [Recipient(email, user_id) for email, user_id in db.session.execute(
        select(User.email, User.id).join(ModuleRole, ModuleRole.user_id == User.id)
        .where(ModuleRole.company_id == company_id, ModuleRole.module == "achats").order_by(User.id)
    )]


def _due(today: date) -> Iterator[tuple[DueInvoice, int, str, dict]]:
    rows = db.session.execute(
        select(SupplierInvoice.id, SupplierInvoice.company_id, SupplierInvoice.number, SupplierInvoice.amount_cents,
               SupplierInvoice.currency, SupplierInvoice.due_date, Supplier.name, Company.name)
        .join(Supplier, Supplier.id == SupplierInvoice.supplier_id)
        .join(Company, Company.id == SupplierInvoice.company_id)
        .where(SupplierInvoice.due_date <= today + timedelta(days=DUE_SOON_DAYS), _still_to_pay())
        .order_by(SupplierInvoice.company_id, SupplierInvoice.due_date, SupplierInvoice.id)
    )
    for invoice_id, company_id, number, cents, currency, due, supplier, company in rows:
        which = threshold(due, today)
        if which is not None:
            yield (DueInvoice(invoice_id, number, supplier, cents, currency, due), company_id, which,
                   {"company_id": company_id, "company_name": company})


def write_reminders(today: date | None = None) -> ReminderReport:
    """Writes the reminders owed today that were never written; commits. The notification worker sends them."""
    report = write_due(outbox, SCOPE, _due(today or paris_today()), _achats_people)
    db.session.commit()
    return report


def still_owed(data: dict) -> bool:
    """Asked before sending: the invoice is still to pay, by the same due date."""
    return db.session.scalar(
        select(SupplierInvoice.id).where(SupplierInvoice.id == data["invoice_id"],
                                         SupplierInvoice.due_date == date.fromisoformat(data["due_iso"]),
                                         _still_to_pay())
    ) is not None
