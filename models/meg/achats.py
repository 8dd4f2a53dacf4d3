"""Use cases of the « Achats » module: suppliers and supplier invoices.

Functions take already-parsed values (the forms check each field) and enforce
the rules that span entities; they raise :class:`AchatsError` with a French
message and the field it concerns. They never commit: the view does, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from . import db
from .entities import Company, PaymentMode, Supplier, SupplierInvoice
from .libeo_connection import connection_of
from .libeo_outbox import invoice_changed
from .libeo_payments import PaymentState, latest_payment, settled_through_libeo


class AchatsError(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class InvoiceData:
    number: str
    supplier_id: int
    issue_date: date
    due_date: date
    amount_cents: int
    payment_mode: PaymentMode


@dataclass(frozen=True)
class SupplierData:
    name: str
    iban: str
    bic: str | None


def company_supplier(company: Company, supplier_id: int) -> Supplier:
    supplier = db.session.scalar(
        select(Supplier).where(Supplier.id == supplier_id, Supplier.company_id == company.id)
    )
    if supplier is None:
        raise AchatsError("Choisissez un fournisseur de cette entreprise.", "supplier_id")
    return supplier


def company_invoice(company: Company, invoice_id: int) -> SupplierInvoice | None:
    return db.session.scalar(
        select(SupplierInvoice).where(SupplierInvoice.id == invoice_id, SupplierInvoice.company_id == company.id)
    )


def _check_invoice(company: Company, data: InvoiceData, invoice: SupplierInvoice | None) -> Supplier:
    supplier = company_supplier(company, data.supplier_id)
    if data.due_date < data.issue_date:
        raise AchatsError("L'échéance ne peut pas précéder la date de facture.", "due_date")
    duplicate = db.session.scalar(
        select(SupplierInvoice.id).where(
            SupplierInvoice.company_id == company.id,
            SupplierInvoice.supplier_id == supplier.id,
            SupplierInvoice.number == data.number,
        )
    )
    if duplicate is not None and (invoice is None or duplicate != invoice.id):
        raise AchatsError("Ce fournisseur a déjà une facture avec ce numéro.", "number")
    return supplier


def create_invoice(company: Company, data: InvoiceData) -> SupplierInvoice:
    supplier = _check_invoice(company, data, None)
    invoice = SupplierInvoice(
        company=company,
        supplier=supplier,
        number=data.number,
        issue_date=data.issue_date,
        due_date=data.due_date,
        amount_cents=data.amount_cents,
        payment_mode=data.payment_mode,
    )
    db.session.add(invoice)
    db.session.flush()
    return invoice


def update_invoice(invoice: SupplierInvoice, data: InvoiceData) -> SupplierInvoice:
    if invoice.is_paid:
        raise AchatsError("Cette facture est réglée : elle ne peut plus être modifiée.")
    supplier = _check_invoice(invoice.company, data, invoice)
    lock = payment_lock(invoice)
    if lock and (supplier.id != invoice.supplier_id or data.amount_cents != invoice.amount_cents
                 or data.payment_mode is not invoice.payment_mode):
        raise AchatsError(lock)
    invoice.supplier = supplier
    invoice.number = data.number
    invoice.issue_date = data.issue_date
    invoice.due_date = data.due_date
    invoice.amount_cents = data.amount_cents
    invoice.payment_mode = data.payment_mode
    db.session.flush()
    invoice_changed(invoice)
    return invoice


def payment_lock(invoice: SupplierInvoice) -> str | None:
    """Why the invoice's supplier, amount and mode are locked (a payment exists or may exist), or None.

    Libeo pays what it was sent: while it pays, or while MEG does not know
    whether it does, the transfer's beneficiary and amount are fixed, and the
    invoice may not be switched to another mode and paid a second time.
    """
    payment = latest_payment(invoice)
    if payment is None or not payment.status.holds_invoice:
        return None
    if payment.status is PaymentState.REQUESTED:
        return ("Vérification en cours : MEG attend la réponse de Libeo sur le paiement de cette facture. "
                "D'ici là, son fournisseur, son montant et son mode de règlement ne peuvent pas changer "
                "(le numéro et les dates, si) : ne la réglez pas autrement.")
    return ("Cette facture est payée ou en cours de paiement par Libeo : son fournisseur, son montant et son "
            "mode de règlement ne peuvent plus changer (le numéro et les dates, si).")


def create_supplier(company: Company, data: SupplierData) -> Supplier:
    supplier = Supplier(company=company, name=data.name, iban=data.iban, bic=data.bic)
    db.session.add(supplier)
    db.session.flush()
    return supplier


def update_supplier(supplier: Supplier, data: SupplierData) -> Supplier:
    supplier.name = data.name
    supplier.iban = data.iban
    supplier.bic = data.bic
    db.session.flush()
    return supplier


def invoices_query(company: Company):
    return (
        select(SupplierInvoice)
        .options(joinedload(SupplierInvoice.supplier))
        .where(SupplierInvoice.company_id == company.id)
        .order_by(SupplierInvoice.issue_date.desc(), SupplierInvoice.id.desc())
    )


def invoices_to_settle_query(company: Company):
    """« Règlements »: the company's unpaid invoices, earliest due first."""
    return (
        select(SupplierInvoice)
        .options(joinedload(SupplierInvoice.supplier))
        .where(SupplierInvoice.company_id == company.id, SupplierInvoice.paid_at.is_(None), ~settled_through_libeo())
        .order_by(SupplierInvoice.due_date, SupplierInvoice.id)
    )


def suppliers_query(company: Company):
    return select(Supplier).where(Supplier.company_id == company.id).order_by(Supplier.name, Supplier.id)


def update_company(company: Company, name: str, siret: str | None) -> Company:
    """The company's name and SIRET (None: an organisation without one)."""
    if siret != company.siret:
        if connection_of(company) is not None:
            raise AchatsError("Cette entreprise est connectée à Libeo sous son SIRET actuel : supprimez d'abord "
                              "la connexion dans « Options » pour en changer.", "siret")
        taken = db.session.scalar(select(Company.id).where(Company.siret == siret, Company.id != company.id))
        if siret and taken is not None:
            raise AchatsError("Ce SIRET est déjà celui d'une autre entreprise dans MEG.", "siret")
    company.name = name
    company.siret = siret
    db.session.flush()
    return company
