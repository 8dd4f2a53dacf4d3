"""The subscription's invoices, as Stripe keeps them: listed on « Abonnement », each with Stripe's own PDF or
page when Stripe gives one, and a PDF Libeo draws from Stripe's figures (number, date, period, HT, TVA, TTC).

Stripe is the record: nothing is copied into Libeo's database, and an invoice of another customer is never
shown (its customer is checked against the account's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

import stripe

from core.dates import PARIS, paris_today
from core.money import format_amount
from core.pdf import a4_pdf, fields_table, page_styles, paragraph
from core.validators import format_siret
from models.libeo.accounts.models import Account
from models.libeo.billing.subscriptions import stripe_errors

INVOICE_ID = re.compile(r"^in_[A-Za-z0-9_]{1,200}$")
SHOWN = 24
STATUS_LABELS = {"paid": "Payée", "open": "À payer", "draft": "En préparation", "void": "Annulée",
                 "uncollectible": "Impayée"}


@dataclass(frozen=True)
class SubscriptionInvoice:
    id: str
    number: str
    issued_on: date
    period_start: date | None
    period_end: date | None
    subtotal_cents: int  # HT
    tax_cents: int  # TVA
    total_cents: int  # TTC
    currency: str
    status: str
    stripe_url: str | None  # Stripe's PDF, else its hosted page (real Stripe has both; localstripe neither)

    def amount(self, cents: int) -> str:
        return format_amount(cents, self.currency.upper())

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


def _day(timestamp) -> date | None:
    return datetime.fromtimestamp(int(timestamp), UTC).astimezone(PARIS).date() if timestamp else None


def _from_stripe(data: dict) -> SubscriptionInvoice:
    subtotal, total = int(data.get("subtotal") or 0), int(data.get("total") or 0)
    taxes = data.get("total_tax_amounts") or data.get("total_taxes") or []
    tax = data.get("tax")
    if tax is None:
        tax = sum(int(item.get("amount") or 0) for item in taxes) if taxes else total - subtotal
    return SubscriptionInvoice(
        id=data["id"], number=data.get("number") or data["id"],
        issued_on=_day(data.get("created") or data.get("date")) or paris_today(),
        period_start=_day(data.get("period_start")), period_end=_day(data.get("period_end")),
        subtotal_cents=subtotal, tax_cents=int(tax), total_cents=total, currency=data.get("currency") or "eur",
        status=str(data.get("status") or ""), stripe_url=data.get("invoice_pdf") or data.get("hosted_invoice_url"),
    )


def subscription_invoices(account: Account, client: stripe.StripeClient) -> list[SubscriptionInvoice]:
    """The account's latest subscription invoices, newest first (none before a card was ever given)."""
    if not account.stripe_customer_id:
        return []
    with stripe_errors():
        listed = client.v1.invoices.list(params={"customer": account.stripe_customer_id, "limit": SHOWN})
    invoices = [_from_stripe(item.to_dict()) for item in listed.data]
    return sorted(invoices, key=lambda invoice: (invoice.issued_on, invoice.id), reverse=True)


def subscription_invoice(account: Account, client: stripe.StripeClient, invoice_id: str) -> SubscriptionInvoice | None:
    """One of the account's invoices, or None (a malformed id, an unknown one, another customer's)."""
    if not account.stripe_customer_id or not INVOICE_ID.match(invoice_id or ""):
        return None
    with stripe_errors():
        try:
            data = client.v1.invoices.retrieve(invoice_id).to_dict()
        except stripe.InvalidRequestError as error:
            if error.http_status == 404:
                return None
            raise
    return _from_stripe(data) if data.get("customer") == account.stripe_customer_id else None


def invoice_pdf(account: Account, invoice: SubscriptionInvoice) -> bytes:
    """The invoice as a one-page A4 PDF drawn from Stripe's figures, in French."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Spacer

    styles = page_styles()

    def para(text: str, style=styles.base):
        return paragraph(text, style)

    period = (f"du {invoice.period_start:%d/%m/%Y} au {invoice.period_end:%d/%m/%Y}"
              if invoice.period_start and invoice.period_end else "—")
    rows = [
        ("Numéro", para(invoice.number, styles.strong)),
        ("Date", para(f"{invoice.issued_on:%d/%m/%Y}")),
        ("Client", para(account.name + (f" — SIRET {format_siret(account.siret)}" if account.siret else ""))),
        ("Objet", para("Abonnement Libeo Partnerships (paiements illimités), mensuel")),
        ("Période", para(period)),
        ("Montant HT", para(invoice.amount(invoice.subtotal_cents))),
        ("TVA", para(invoice.amount(invoice.tax_cents))),
        ("Montant TTC", para(invoice.amount(invoice.total_cents), styles.strong)),
        ("État", para(invoice.status_label)),
    ]
    return a4_pdf([
        para("Libeo", styles.strong), Spacer(1, 6 * mm), para(f"Facture d'abonnement {invoice.number}", styles.title),
        Spacer(1, 8 * mm), fields_table(rows, styles, (50 * mm, 120 * mm), padding=5),
        Spacer(1, 8 * mm), para("Établie à partir de la facture tenue par Stripe, le prestataire de paiement de "
                                "Libeo.", styles.label),
    ], title=f"Facture {invoice.number}", author="Libeo")
