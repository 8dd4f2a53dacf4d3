"""« Payer la sélection » in Libeo's « Factures »: several invoices, one confirmation, each its own payment.

Each invoice goes through ``pay_invoice`` in its own transaction, in the
order shown: the quota, the safeguards and one active payment per invoice
apply to each as to one « Payer », and a refusal of one (the plan's quota
used up, already paid meanwhile) undoes no other. A second click pays
nothing twice: the invoice's active payment refuses it (``payment_exists``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, select

from core.banks import bank_name
from core.dates import paris_today
from core.french import after_colon
from core.ids import parse_id
from core.money import format_amount
from core.selection import SelectionTotals
from core.validators import mask_iban
from models.libeo.accounts.models import Account
from models.libeo.db import db
from models.libeo.errors import InvalidData, LibeoError, NotFound
from models.libeo.invoices.models import Invoice
from models.libeo.payments.models import Payment, PaymentStatus
from models.libeo.payments.order import (
    Initiator,
    check_execution_date,
    pay_invoice,
    proposed_execution_date,
)
from models.libeo.payments.quota import PaymentQuota
from models.libeo.payments.safeguards import holds_for

MAX_SELECTION = 200

_INVOICES = (
    select(Invoice)
    .where(Invoice.account_id == bindparam("account_id"), Invoice.imported_at.is_not(None),
           Invoice.id.in_(bindparam("invoice_ids", expanding=True)))
    .order_by(Invoice.due_date, Invoice.id)
)


def selected_ids(values: list[str]) -> list[int]:
    """The invoice ids of a submitted selection, once each; InvalidData for the whole otherwise.

    A form may carry any number of values: the reading stops at the first one too many.
    """
    ids: dict[int, None] = {}  # in their order, once each
    for value in values:
        invoice_id = parse_id(value)
        if invoice_id is None:
            raise InvalidData("La sélection contient une facture inconnue : rien n'a été payé.", "facture")
        ids[invoice_id] = None
        if len(ids) > MAX_SELECTION:
            raise InvalidData(f"Une sélection compte au plus {MAX_SELECTION} factures (plus de {MAX_SELECTION} "
                              "cochées) : payez-les en plusieurs fois.", "facture")
    if not ids:
        raise InvalidData("Aucune facture sélectionnée : cochez les factures à payer.", "facture")
    return list(ids)


def account_invoices(account: Account, ids: list[int]) -> list[Invoice]:
    """The selected invoices, earliest due first; one that is not the account's refuses the whole."""
    invoices = list(db.session.scalars(_INVOICES, {"account_id": account.id, "invoice_ids": ids}))
    if len(invoices) != len(ids):
        raise NotFound("La sélection contient une facture introuvable dans ce compte : rien n'a été payé. "
                       "Rechargez « Factures » et sélectionnez de nouveau.")
    return invoices


@dataclass
class SelectionLine:
    invoice: Invoice
    iban: str
    bank: str | None
    execution_date: date
    date_reason: str
    holds: list[str]  # what the safeguards will say, as they would now
    beyond_quota: bool = False


@dataclass
class SelectionConfirmation(SelectionTotals):
    lines: list[SelectionLine]
    not_payable: list[str]
    quota: PaymentQuota


def selection_confirmation(account: Account, ids: list[int], initiator: Initiator) -> SelectionConfirmation:
    """Each invoice with its proposed date, the holds the safeguards would put now, and the plan's remainder."""
    invoices = account_invoices(account, ids)
    lines, not_payable = [], []
    for invoice in invoices:
        if not invoice.is_payable:
            not_payable.append(f"Facture {invoice.number} : {invoice.status_label}.")
            continue
        proposed, reason = proposed_execution_date(invoice)
        hold = holds_for(account, invoice, initiator.role, initiator.email)
        lines.append(SelectionLine(invoice, mask_iban(invoice.supplier_iban), bank_name(invoice.supplier_iban),
                                   proposed, reason, list(hold.details)))
    if not lines:
        raise InvalidData(" ".join(not_payable) or "Aucune facture de la sélection n'est à payer.", "facture")
    quota = PaymentQuota.for_account(account)
    if quota.remaining is not None:
        for line in lines[quota.remaining:]:
            line.beyond_quota = True
    return SelectionConfirmation(lines, not_payable, quota)


@dataclass
class SelectionOutcome:
    invoice: Invoice
    payment: Payment | None
    refusal: str | None = None
    code: str | None = None

    @property
    def label(self) -> str:
        if self.payment is not None:
            return self.payment.status_label
        if self.code == "quota_exceeded":
            return "Non payée — limite de la formule atteinte"  # the words MEG shows too; the reason below
        return f"Refusé : {after_colon(self.refusal or '')}"


def pay_selection(account: Account, ids: list[int], initiator: Initiator, dates: dict[int, date],
                  today: date | None = None) -> list[SelectionOutcome]:
    """« Confirmer les N paiements »: each invoice paid in its own transaction (committed here), in order.

    Bad input refuses the whole before anything is written: an invoice not the account's, a date
    refused (each one named).
    """
    invoices = account_invoices(account, ids)
    today = today or paris_today()
    errors = []
    for invoice in invoices:
        if invoice.id in dates:
            try:
                check_execution_date(dates[invoice.id], today)
            except InvalidData as error:
                errors.append(f"Facture {invoice.number} : {error.message}")
    if errors:
        raise InvalidData(" ".join(errors) + " Rien n'a été payé.", "execution_date")
    outcomes = []
    for invoice in invoices:
        try:
            payment = pay_invoice(account, invoice, initiator, dates.get(invoice.id))
        except LibeoError as error:
            db.session.rollback()
            outcomes.append(SelectionOutcome(invoice, None, error.message, error.code))
            continue
        db.session.commit()
        outcomes.append(SelectionOutcome(invoice, payment))
    return outcomes


def outcome_summary(outcomes: list[SelectionOutcome]) -> str:
    """« 3 factures : 2 programmées (1 234,00 €), 1 refusée. »"""
    scheduled = [o for o in outcomes if o.payment is not None and o.payment.status is PaymentStatus.SCHEDULED]
    held = [o for o in outcomes if o.payment is not None and o.payment.status is PaymentStatus.AWAITING_APPROVAL]
    refused = [o for o in outcomes if o.payment is None]
    parts = []
    if scheduled:
        cents = sum(o.payment.amount_cents for o in scheduled if o.payment is not None)
        parts.append(f"{len(scheduled)} programmée{'s' if len(scheduled) > 1 else ''} ({format_amount(cents)})")
    if held:
        parts.append(f"{len(held)} retenue{'s' if len(held) > 1 else ''} pour approbation")
    if refused:
        parts.append(f"{len(refused)} refusée{'s' if len(refused) > 1 else ''}")
    total = len(outcomes)
    return f"{total} facture{'s' if total > 1 else ''} : " + ", ".join(parts) + "."

