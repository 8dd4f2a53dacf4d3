"""What the payments' table (``libeo/payments/_table.html``) shows of each payment, worked out in Python once
per row: « Paiements », an invoice's payments and a remittance's payments share it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import NamedTuple

from flask import g, request
from flask_login import current_user

from core.banks import bank_name
from core.dates import date_fr
from core.money import format_amount
from core.payment_words import waiting_words
from core.row_urls import id_url
from core.validators import format_iban
from models.libeo.payments.bank_leg import open_anomaly_count, payments_to_check
from models.libeo.payments.models import PaymentStatus, hold_labels, payment_status_label


class PaymentRow(NamedTuple):
    id: int
    invoice_url: str
    invoice_number: str
    creditor_name: str
    iban: str
    bank: str | None
    amount: str
    execution: str
    planned: str | None  # « prévue le … » when the bank leg moved the day
    badge: str
    status_url: str
    status_label: str
    held: str | None  # why it waits for an approval (« À approuver »)
    batch_reference: str | None
    batch_url: str | None
    receipt_url: str | None
    receipt_title: str
    cancel_url: str | None  # « Annuler » (scheduled or held)
    debited_url: str | None  # « Marquer comme débité » (at the bank)
    initiated_by_email: str
    initiated_by: str  # « membre de l'entreprise, via MEG »
    to_check: bool  # a bank anomaly about it waits for a person (« Remises » → « À vérifier »)
    waiting: str | None  # « Compte non vérifié »: what keeps a scheduled payment from being executed


# « — en attente : … » of a scheduled payment an anomaly about an earlier transfer of its invoice holds.
_HELD_ALONG = "anomalie bancaire à vérifier sur le virement précédent de cette facture"


def anomalies_to_check() -> int:
    """The account's bank anomalies still to resolve (the « Remises » counter): read with the person on a GET;
    after a request that may have resolved one, counted again."""
    if not current_user.is_authenticated:
        return 0
    if request.method in ("GET", "HEAD") and current_user.open_anomalies is not None:
        return current_user.open_anomalies
    return open_anomaly_count(current_user.account_id)


def _payments_to_check() -> frozenset[int]:
    """The payments whose rows say « Anomalie à vérifier »; no query while the account has no anomaly open."""
    if "payments_to_check" not in g:
        g.payments_to_check = payments_to_check(current_user.account_id) if anomalies_to_check() else frozenset()
    return g.payments_to_check


def payment_rows(payments: Iterable) -> list[PaymentRow]:
    """The rows of the payments (``Payment`` objects, or ``PaymentLine`` rows of « Paiements »)."""
    invoice_url = id_url("invoices.invoice", "invoice_id")
    status_url = id_url("payments.payment", "payment_id")
    batch_url = id_url("remittances.batch", "batch_id")
    receipt_url = id_url("payments.receipt", "payment_id")
    # « Annuler » comes back to the page it was clicked on.
    cancel_url = id_url("payments.cancel", "payment_id", next=request.script_root + request.full_path.rstrip("?"))
    debited_url = id_url("payments.mark_as_debited", "payment_id")
    to_check = _payments_to_check()
    waiting = waiting_words(current_user.account.execution_blocker)
    rows = []
    for payment in payments:
        status: PaymentStatus = payment.status
        batch = payment.batch
        planned: date | None = payment.planned_execution_date
        rows.append(PaymentRow(
            payment.id, invoice_url(payment.invoice_id), payment.invoice.number, payment.creditor_name,
            format_iban(payment.creditor_iban), bank_name(payment.creditor_iban),
            format_amount(payment.amount_cents, payment.currency), date_fr(payment.execution_date),
            date_fr(planned) if planned else None, status.badge, status_url(payment.id), payment_status_label(payment),
            ", ".join(hold_labels(payment.hold_reasons)) if status is PaymentStatus.AWAITING_APPROVAL else None,
            batch.reference if batch is not None else None,
            batch_url(payment.batch_id) if batch is not None else None,
            receipt_url(payment.id) if status.has_receipt else None, status.receipt_title,
            cancel_url(payment.id) if status in (PaymentStatus.SCHEDULED, PaymentStatus.AWAITING_APPROVAL) else None,
            debited_url(payment.id) if status.at_bank else None,
            payment.initiated_by_email, f"{payment.initiated_by_role.label}, via {payment.channel.value}",
            payment.id in to_check,
            (_HELD_ALONG if payment.id in to_check else waiting) if status is PaymentStatus.SCHEDULED else None,
        ))
    return rows

