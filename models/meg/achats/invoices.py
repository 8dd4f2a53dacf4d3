"""Use cases of the « Achats » module: suppliers and supplier invoices.

Functions take already-parsed values (the forms check each field) and enforce
the rules that span entities; they raise :class:`AchatsError` with a French
message and the field it concerns. They never commit: the view does, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import contains_eager, joinedload

from core.dates import date_fr
from core.listing import ListColumns, ListQuery, ListSpec, by_name
from core.money import format_amount
from core.names import mixed_script_words, names_match
from core.paging import Listing
from models.meg.achats.models import PaymentMode, Supplier, SupplierInvoice
from models.meg.companies.models import Company, User
from models.meg.companies.siret_trust import check_with_registry, name_changed, siret_changed
from models.meg.db import db
from models.meg.journal import iban_shown, record, supplier_iban_changed, supplier_iban_entered
from models.meg.libeo_link.attempts import (
    PaymentState,
    latest_cancel_reason,
    latest_failure_reason,
    latest_payment,
    latest_payment_dates,
    latest_payment_status,
    sent_to_libeo,
    settled_through_libeo,
)
from models.meg.libeo_link.connection import connection_of
from models.meg.libeo_link.outbox import invoice_changed


class AchatsError(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class PossibleDuplicate(AchatsError):
    """The invoice looks like one already recorded: saved only once the person confirms."""

    def __init__(self, others: list[SupplierInvoice]) -> None:
        self.others = others
        super().__init__(
            "Doublon possible : " + " ; ".join(_duplicate_sentence(other) for other in others) + ". Vérifiez qu'il "
            "ne s'agit pas de la même facture saisie deux fois, puis cochez « Confirmer malgré le doublon » pour "
            "l'enregistrer quand même.",
            "confirm_duplicate",
        )


class LookalikeSupplier(AchatsError):
    """The supplier's name looks like another supplier's of the company, or mixes scripts:
    saved only once the person confirms, and the confirmation is journaled."""

    def __init__(self, warnings: list[str]) -> None:
        self.warnings = warnings
        super().__init__(
            " ".join(warnings) + " Vérifiez auprès du fournisseur, par un numéro de téléphone que vous connaissez "
            "déjà, puis cochez « Confirmer malgré l'avertissement » pour l'enregistrer quand même.",
            "confirm_lookalike",
        )


def _duplicate_sentence(other: SupplierInvoice) -> str:
    return (f"la facture {other.number} de {other.supplier.name} ({other.amount_display}, du "
            f"{date_fr(other.issue_date)}) est déjà enregistrée")


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
    return db.session.scalar(_company_invoice_statement(), {"invoice_id": invoice_id, "company_id": company.id})


@cache
def _company_invoice_statement():
    # With its supplier: every page of an invoice shows it, and « Payer » sends it.
    return select(SupplierInvoice).options(joinedload(SupplierInvoice.supplier)).where(
        SupplierInvoice.id == bindparam("invoice_id"), SupplierInvoice.company_id == bindparam("company_id"))


def _check_invoice(company: Company, data: InvoiceData, invoice: SupplierInvoice | None) -> Supplier:
    supplier = company_supplier(company, data.supplier_id)
    if data.due_date < data.issue_date:
        raise AchatsError("L'échéance ne peut pas précéder la date de facture.", "due_date")
    if not supplier.iban and data.payment_mode in (PaymentMode.VIREMENT, PaymentMode.LIBEO):
        raise AchatsError(f"{supplier.name} n'a pas d'IBAN : une facture payée par virement en demande un. "
                          "Choisissez un autre mode de règlement, ou ajoutez l'IBAN du fournisseur.", "payment_mode")
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


# Duplicates MEG warns about at entry (the same supplier and number is refused above):
# the same supplier, amount and issue date (entered twice with a typo in the number),
# or the same number and amount at another supplier (a supplier entered twice).
MAX_DUPLICATES_SHOWN = 3


def possible_duplicates(company: Company, data: InvoiceData, invoice: SupplierInvoice | None) -> list[SupplierInvoice]:
    same_supplier = ((SupplierInvoice.supplier_id == data.supplier_id)
                     & (SupplierInvoice.issue_date == data.issue_date))
    same_number = SupplierInvoice.number == data.number
    query = (
        select(SupplierInvoice)
        .options(joinedload(SupplierInvoice.supplier))
        .where(SupplierInvoice.company_id == company.id, SupplierInvoice.amount_cents == data.amount_cents,
               same_supplier | same_number)
        .order_by(SupplierInvoice.id)
        .limit(MAX_DUPLICATES_SHOWN)
    )
    if invoice is not None:
        query = query.where(SupplierInvoice.id != invoice.id)
    return list(db.session.scalars(query))


def _warn_of_duplicates(company: Company, data: InvoiceData, invoice: SupplierInvoice | None,
                        confirmed: bool) -> None:
    """Raises :class:`PossibleDuplicate` unless confirmed; an edit that keeps what made it a duplicate is not
    asked again."""
    if confirmed:
        return
    if invoice is not None and (invoice.supplier_id, invoice.number, invoice.amount_cents, invoice.issue_date) == (
            data.supplier_id, data.number, data.amount_cents, data.issue_date):
        return
    others = possible_duplicates(company, data, invoice)
    if others:
        raise PossibleDuplicate(others)


def create_invoice(company: Company, data: InvoiceData, *, confirm_duplicate: bool = False) -> SupplierInvoice:
    """Records an invoice; a possible duplicate raises :class:`PossibleDuplicate` unless ``confirm_duplicate``."""
    supplier = _check_invoice(company, data, None)
    _warn_of_duplicates(company, data, None, confirm_duplicate)
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


def update_invoice(invoice: SupplierInvoice, data: InvoiceData, *, confirm_duplicate: bool = False) -> SupplierInvoice:
    if invoice.is_paid:
        raise AchatsError("Cette facture est réglée : elle ne peut plus être modifiée.")
    supplier = _check_invoice(invoice.company, data, invoice)
    lock = payment_lock(invoice)
    if lock and (supplier.id != invoice.supplier_id or data.amount_cents != invoice.amount_cents
                 or data.payment_mode is not invoice.payment_mode):
        raise AchatsError(lock)
    _warn_of_duplicates(invoice.company, data, invoice, confirm_duplicate)
    invoice.supplier = supplier
    invoice.number = data.number
    invoice.issue_date = data.issue_date
    invoice.due_date = data.due_date
    if data.amount_cents != invoice.amount_cents:  # the e-invoice's totals no longer describe it
        invoice.net_cents = invoice.vat_cents = invoice.total_cents = None
        invoice.prepaid_cents = invoice.rounding_cents = None
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
    if payment is not None and payment.maybe_debited:
        return ("Anomalie bancaire à vérifier dans Libeo : le dernier virement de cette facture, rejeté, a peut-être "
                "été débité. Tant que le compte Libeo n'a pas décidé, son fournisseur, son montant et son mode de "
                "règlement ne peuvent pas changer (le numéro et les dates, si) : ne la réglez pas autrement.")
    if payment is None or not payment.status.holds_invoice:
        return None
    if payment.status is PaymentState.REQUESTED:
        return ("Vérification en cours : MEG attend la réponse de Libeo sur le paiement de cette facture. "
                "D'ici là, son fournisseur, son montant et son mode de règlement ne peuvent pas changer "
                "(le numéro et les dates, si) : ne la réglez pas autrement.")
    if payment.status is PaymentState.UNVERIFIABLE:
        return ("Vérification impossible : un ancien compte Libeo a peut-être payé cette facture. Tant qu'un "
                "administrateur « Achats » n'a pas confirmé qu'il ne l'a pas payée, son fournisseur, son montant et "
                "son mode de règlement ne peuvent pas changer (le numéro et les dates, si).")
    return ("Cette facture est payée ou en cours de paiement par Libeo : son fournisseur, son montant et son "
            "mode de règlement ne peuvent plus changer (le numéro et les dates, si).")


def supplier_warnings(company: Company, data: SupplierData, supplier: Supplier | None = None) -> list[str]:
    """Why this supplier should be confirmed before it is saved, in French; empty when nothing asks it.

    A word of the name mixing scripts, or a name read like another supplier's (« Міnoterie Dupuіs »,
    Cyrillic М and і, beside « Minoterie Dupuis »), compared as Libeo compares them (``core.names``).
    A supplier renamed to a spelling of its own name is not asked again.
    """
    warnings = [f"Nom en écritures mélangées : {word.sentence()}" for word in mixed_script_words(data.name)]
    if supplier is not None and names_match(supplier.name, data.name):
        return warnings
    for other in [other for other in _other_suppliers(company, supplier) if names_match(other.name, data.name)][:3]:
        same = ("avec le même IBAN" if other.iban and other.iban == data.iban
                else f"payé sur l'IBAN {iban_shown(other.iban)}" if other.iban else "sans IBAN")
        warnings.append(f"« {data.name} » ressemble au fournisseur « {other.name} » déjà enregistré ({same}).")
    return warnings


def suppliers_sharing_iban(supplier: Supplier) -> list[str]:
    """The names of the company's other suppliers paid on ``supplier``'s IBAN (an IBAN belongs to one)."""
    if not supplier.iban:
        return []
    return list(db.session.scalars(
        select(Supplier.name).where(Supplier.company_id == supplier.company_id, Supplier.id != supplier.id,
                                    Supplier.iban == supplier.iban).order_by(Supplier.name, Supplier.id)
    ))


def shared_iban_notice(supplier: Supplier) -> str | None:
    """What the person reads after saving a supplier whose IBAN another supplier has; None otherwise."""
    others = suppliers_sharing_iban(supplier)
    if not others:
        return None
    names = ", ".join(f"« {name} »" for name in others[:3])
    return (f"Attention : l'IBAN {iban_shown(supplier.iban)} de « {supplier.name} » est aussi celui de {names}. "
            "Un IBAN appartient à un seul fournisseur : vérifiez-le auprès du fournisseur, par un numéro de "
            "téléphone que vous connaissez déjà. L'enregistrement est inscrit au journal.")


def _other_suppliers(company: Company, supplier: Supplier | None):
    return db.session.execute(
        select(Supplier.name, Supplier.iban).where(Supplier.company_id == company.id,
                                                  Supplier.id != (supplier.id if supplier else -1))
        .order_by(Supplier.name, Supplier.id)
    ).all()


def _check_lookalike(company: Company, data: SupplierData, supplier: Supplier | None, confirmed: bool,
                     user: User | None) -> None:
    warnings = supplier_warnings(company, data, supplier)
    if warnings and not confirmed:
        raise LookalikeSupplier(warnings)
    if warnings:
        record(company, "supplier.warning_confirmed",
               f"Fournisseur « {data.name} » enregistré malgré l'avertissement : " + " ".join(warnings), user)


def _journal_shared_iban(supplier: Supplier, user: User | None) -> None:
    others = suppliers_sharing_iban(supplier)
    if others:
        names = ", ".join(f"« {name} »" for name in others[:3])
        record(supplier.company, "supplier.iban_shared",
               f"L'IBAN {iban_shown(supplier.iban)} de « {supplier.name} » est aussi celui de {names}.", user)


def create_supplier(company: Company, data: SupplierData, user: User | None = None, *,
                    confirm_lookalike: bool = False) -> Supplier:
    """A new supplier; one that looks like another (see :func:`supplier_warnings`) only once confirmed."""
    _check_lookalike(company, data, None, confirm_lookalike, user)
    supplier = Supplier(company=company, name=data.name, iban=data.iban, bic=data.bic)
    db.session.add(supplier)
    db.session.flush()
    supplier_iban_entered(supplier, user)
    _journal_shared_iban(supplier, user)
    return supplier


def update_supplier(supplier: Supplier, data: SupplierData, user: User | None = None, *,
                    confirm_lookalike: bool = False) -> Supplier:
    """Changes the supplier; a new IBAN goes in the company's journal (who, when, old → new, masked).

    A new name or IBAN that looks like another supplier's is saved only once confirmed."""
    if data.name != supplier.name or data.iban != supplier.iban:
        _check_lookalike(supplier.company, data, supplier, confirm_lookalike, user)
    old_iban = supplier.iban
    supplier.name = data.name
    supplier.iban = data.iban
    supplier.bic = data.bic
    db.session.flush()
    if data.iban != old_iban:
        supplier_iban_changed(supplier, old_iban, user)
        _journal_shared_iban(supplier, user)
    return supplier


# The lists are built once (``cache``) with the company as a named parameter: each page
# view then only gives its value (core/paging.py says why).
# « Règlements »: what its URL may ask (core/listing.py), and the columns that answer.
SETTLEMENT_MODES = {mode.name.lower(): mode for mode in PaymentMode}
SETTLEMENTS = ListSpec(
    sorts={"echeance": "Échéance", "montant": "Montant TTC", "fournisseur": "Fournisseur", "numero": "Numéro"},
    default_sort="echeance",
    modes={key: mode.label for key, mode in SETTLEMENT_MODES.items()},
    date_label="Échéance",
    overdue=True,
    search_hint="Numéro, fournisseur, montant, SIRET",
    supplier=True,
)
_SETTLEMENT_COLUMNS = ListColumns(
    sorts={"echeance": (SupplierInvoice.due_date,), "montant": (SupplierInvoice.amount_cents,),
           "fournisseur": by_name(Supplier.name), "numero": (SupplierInvoice.number,)},
    tiebreak=SupplierInvoice.id,
    text=(SupplierInvoice.number, Supplier.name),
    supplier=Supplier.name,
    digits=(Supplier.siret,),
    amount=SupplierInvoice.amount_cents,
    mode=SupplierInvoice.payment_mode,
    date=SupplierInvoice.due_date,
)


def _to_settle_where(statement):
    return statement.join(SupplierInvoice.supplier).where(
        SupplierInvoice.company_id == bindparam("company_id"), SupplierInvoice.paid_at.is_(None),
        ~settled_through_libeo())


@cache
def _to_settle_statement(shape: tuple):
    # One statement per shape of the query (which filters, which sort), its values named parameters.
    base = _to_settle_where(select(SupplierInvoice).options(contains_eager(SupplierInvoice.supplier)))
    return _SETTLEMENT_COLUMNS.apply(base, shape)


@cache
def _to_settle_rows_statement(shape: tuple):
    # The page's columns only: read as plain rows, no ORM object built for each of its 50 rows.
    invoice, supplier = SupplierInvoice.__table__.c, Supplier.__table__.c
    base = (select(invoice.id, invoice.number, invoice.due_date, invoice.amount_cents, invoice.currency,
                   invoice.payment_mode, invoice.paid_at, supplier.name, supplier.iban, invoice.total_cents,
                   sent_to_libeo(invoice.id))
            .select_from(SupplierInvoice.__table__.join(Supplier.__table__, supplier.id == invoice.supplier_id))
            .where(invoice.company_id == bindparam("company_id"), invoice.paid_at.is_(None),
                   ~settled_through_libeo()))
    return _SETTLEMENT_COLUMNS.apply(base, shape)


class SettlementSupplier(NamedTuple):
    name: str
    iban: str | None


class SettlementInvoice(NamedTuple):
    """An invoice of « Règlements » read as plain columns: what the page and ``LibeoState.row`` ask of a
    ``SupplierInvoice`` (building an ORM object for each of 50 rows was a third of the page's reading)."""

    id: int
    number: str
    due_date: date
    amount_cents: int
    currency: str
    payment_mode: PaymentMode
    paid_at: datetime | None
    supplier: SettlementSupplier
    total_cents: int | None = None  # the total with VAT an e-invoice gave, when it did
    issue_date: date | None = None  # read by « Factures » only
    # Ever sent to Libeo: False says there is no payment to read (``libeo_state`` reads the others').
    attempted: bool = True

    @property
    def is_paid(self) -> bool:
        return self.paid_at is not None

    @property
    def amount_display(self) -> str:
        return format_amount(self.amount_cents, self.currency)

    @property
    def due_differs(self) -> bool:
        return self.total_cents is not None and self.total_cents != self.amount_cents

    @property
    def total_display(self) -> str:
        return format_amount(self.amount_cents if self.total_cents is None else self.total_cents, self.currency)


class PayableCandidate(NamedTuple):
    """An invoice « Sélectionner les N factures du filtre » may take that was once sent to Libeo
    (``payable_candidate``): what ``LibeoState.row`` decides on. Its statement keeps « Virement par Libeo »
    invoices neither paid nor under way only, so their mode and that they are not paid are not read."""

    id: int
    amount_cents: int
    supplier: SettlementSupplier

    @property
    def payment_mode(self) -> PaymentMode:
        return PaymentMode.LIBEO

    @property
    def is_paid(self) -> bool:
        return False


def settlement_invoices(rows) -> list[SettlementInvoice]:
    """The rows of :func:`invoices_to_settle_rows` (a page of them) as ``SettlementInvoice``."""
    return [SettlementInvoice._make((*row[:7], SettlementSupplier(row[7], row[8]), row[9], None, row[10]))
            for row in rows]


@cache
def _to_settle_export_statement(shape: tuple):
    base = _to_settle_where(select(
        SupplierInvoice.id, SupplierInvoice.number, Supplier.name, Supplier.siret, Supplier.iban,
        SupplierInvoice.issue_date, SupplierInvoice.due_date, SupplierInvoice.amount_cents,
        SupplierInvoice.currency, SupplierInvoice.payment_mode, SupplierInvoice.total_cents,
        SupplierInvoice.settlement_state.label("state"), latest_payment_status(), latest_failure_reason(),
        latest_cancel_reason(), *latest_payment_dates(), SupplierInvoice.paid_at))
    return _SETTLEMENT_COLUMNS.apply(base, shape)


@cache
def _suppliers_statement():
    return (select(Supplier).where(Supplier.company_id == bindparam("company_id"))
            .order_by(Supplier.name, Supplier.id))


def invoices_to_settle_query(company: Company, query: ListQuery | None = None) -> Listing:
    """« Règlements »: the company's unpaid invoices, earliest due first unless ``query`` (its URL)
    searches, filters or sorts them."""
    query = query or ListQuery(SETTLEMENTS, sort="echeance")
    return Listing(_to_settle_statement(query.shape()),
                   {"company_id": company.id, **query.values(mode_values=SETTLEMENT_MODES)})


def invoices_to_settle_rows(company: Company, query: ListQuery) -> Listing:
    """The same invoices as :func:`invoices_to_settle_query`, as the page's plain columns (read with
    ``paginate(…, plain=True)``, then :func:`settlement_invoices`)."""
    return Listing(_to_settle_rows_statement(query.shape()),
                   {"company_id": company.id, **query.values(mode_values=SETTLEMENT_MODES)})


def invoices_to_settle_export(company: Company, query: ListQuery) -> Listing:
    """The same rows as plain columns, for « Exporter »: id, number, supplier, SIRET, IBAN, issue and due
    dates, amount due, currency, mode, total with VAT (None when typed by hand), stored state and latest
    payment's status (``lists.state_word``)."""
    return Listing(_to_settle_export_statement(query.shape()),
                   {"company_id": company.id, **query.values(mode_values=SETTLEMENT_MODES)})


def suppliers_query(company: Company) -> Listing:
    return Listing(_suppliers_statement(), {"company_id": company.id})


def update_company(company: Company, name: str, siret: str | None, user: User | None = None) -> str | None:
    """The company's name and SIRET (None: an organisation without one).

    A new SIRET is journaled and trusted again only once its author (the expert-comptable) or the
    registry confirms it; a SIRET still to confirm is checked again. Returns what the person should
    read about that trust (French), or None.
    """
    old_siret = company.siret
    if siret != company.siret:
        if connection_of(company) is not None:
            raise AchatsError("Cette entreprise est connectée à Libeo sous son SIRET actuel : supprimez d'abord "
                              "la connexion dans « Options » pour en changer.", "siret")
        taken = db.session.scalar(select(Company.id).where(Company.siret == siret, Company.id != company.id))
        if siret and taken is not None:
            raise AchatsError("Ce SIRET est déjà celui d'une autre entreprise dans MEG.", "siret")
    name_changed(company, name, user)
    company.siret = siret
    if siret != old_siret:
        notice = siret_changed(company, old_siret, user)
    elif siret and not company.siret_trusted:
        notice = check_with_registry(company, user)
    else:
        notice = None
    db.session.flush()
    return notice
