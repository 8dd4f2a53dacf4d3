"""Reminders of due dates, the same for both products: an invoice still to pay is told once when its due
date comes near (« Échéance proche », the lists' flag) and once when it has passed (« En retard »).

A reminder is a notification like the others (``core.notifications``): one outbox row per person and
threshold, whose event key names the invoice, the threshold and the due date, so that running the
reminders again tells nobody twice (a due date moved is a new deadline, told again). Each product finds
its invoices still to pay and the people who pay them (``models/*/notifications/reminders.py``); the
notification worker sends them, following each person's choice for « Échéances des factures », and does
not send one whose invoice is paid, or being paid, by then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from core.dates import DUE_SOON, OVERDUE, date_fr, due_flag
from core.money import format_amount
from core.notifications import Outbox, Recipient

DUE_REMINDER = "due_reminder"
SOON, LATE = "soon", "late"

SETTING_LABEL = "Échéances des factures"
SETTING_DESCRIPTION = ("Une facture à régler arrive à échéance dans les 7 jours, ou son échéance est dépassée "
                       "(un rappel pour chacun, par facture).")


def threshold(due: date, today: date) -> str | None:
    """Which reminder an invoice still to pay is owed today: late, soon due, or none yet."""
    flag = due_flag(due, today)
    if flag is OVERDUE:
        return LATE
    return SOON if flag is DUE_SOON else None


def event_key(scope: str, invoice_id: int, which: str, due: date) -> str:
    """« meg-invoice:12:late:2026-11-24 »: once per invoice, threshold and due date."""
    return f"{scope}:{invoice_id}:{which}:{due.isoformat()}"


@dataclass(frozen=True)
class DueInvoice:
    """What a reminder says of an invoice, as it was when the reminder was written."""

    invoice_id: int
    number: str
    supplier: str
    amount_cents: int
    currency: str
    due_date: date

    def data(self, which: str, **more) -> dict:
        return {
            "threshold": which, "invoice_id": self.invoice_id, "invoice_number": self.number,
            "supplier": self.supplier, "amount": format_amount(self.amount_cents, self.currency),
            "due_date": date_fr(self.due_date), "due_iso": self.due_date.isoformat(), **more,
        }


def subject(data: dict) -> str:
    """« Échéance proche : facture F-1, Minoterie Dupont, 410,00 €, à régler au plus tard le 10/12/2026 »."""
    invoice = f"facture {data['invoice_number']}, {data['supplier']}, {data['amount']}"
    if data["threshold"] == LATE:
        return f"En retard : {invoice}, échue le {data['due_date']}"
    return f"Échéance proche : {invoice}, à régler au plus tard le {data['due_date']}"


@dataclass
class ReminderReport:
    invoices: int = 0

    def __str__(self) -> str:
        if not self.invoices:
            return "Rappels d'échéance : aucun nouveau."
        return (f"Rappels d'échéance écrits : {self.invoices} facture{'s' if self.invoices > 1 else ''} "
                f"(envoyés par le prochain passage des notifications).")


def write_due(outbox: Outbox, scope: str, due: Iterable[tuple[DueInvoice, int, str, dict]],
              people: Callable[[int], list[Recipient]]) -> ReminderReport:
    """Writes those of the reminders ``due`` that were never written, in the caller's transaction.

    ``due`` yields each invoice owed a reminder today, the account or company it belongs to, its
    threshold, and what the product's e-mail adds to :meth:`DueInvoice.data`; ``people`` finds who is
    told for an account or company (asked once for each).
    """
    owed = [(invoice, scope_id, which, more, event_key(scope, invoice.invoice_id, which, invoice.due_date))
            for invoice, scope_id, which, more in due]
    written = outbox.written(DUE_REMINDER, [key for *_, key in owed])
    report = ReminderReport()
    recipients: dict[int, list[Recipient]] = {}
    for invoice, scope_id, which, more, key in owed:
        if key in written:
            continue
        if scope_id not in recipients:
            recipients[scope_id] = people(scope_id)
        outbox.enqueue(DUE_REMINDER, key, recipients[scope_id], invoice.data(which, **more), scope_id)
        report.invoices += 1
    return report
