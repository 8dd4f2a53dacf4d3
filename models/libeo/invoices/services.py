"""Use cases of invoices: entered in Libeo, or created and updated by MEG.

Field names in errors are the domain's (``supplier_iban``…); the web form and
the REST API each map them to what their caller sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from core.banks import bank_name, bic_mismatch
from core.dates import utcnow
from core.db import rowcount, undo_work
from core.invoice_totals import amount_due
from core.money import MAX_AMOUNT_CENTS, InvalidAmount, check_amount_cents, format_amount
from core.validators import (
    InvalidIdentifier,
    clean_bank_name,
    clean_text,
    mask_iban,
)
from models.libeo.accounts.models import Account
from models.libeo.db import db
from models.libeo.errors import Conflict, InvalidData, checked_iban_and_bic
from models.libeo.invoices.models import Invoice, InvoiceSource, InvoiceStatus
from models.libeo.journal import record as journal

MIN_DATE = date(2000, 1, 1)
MAX_DATE = date(2099, 12, 31)
CURRENCIES = ("EUR",)  # SEPA credit transfers are in euros
# Bidirectional overrides can make a supplier's name read differently from what it is.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True)
class InvoiceTotals:
    """The invoice's totals as EN 16931 defines them, beside its amount due.

    Total without VAT (BT-109), VAT (BT-110), total with VAT (BT-112), prepaid
    amount (BT-113), rounding (BT-114); only the total with VAT is required.
    """

    total_cents: int
    net_cents: int | None = None
    vat_cents: int | None = None
    prepaid_cents: int | None = None
    rounding_cents: int | None = None

    @property
    def amount_due_cents(self) -> int:
        """BT-115 as BR-CO-16 computes it."""
        return amount_due(self.total_cents, self.prepaid_cents, self.rounding_cents)


TOTAL_LABELS = {"net_cents": "Total HT", "vat_cents": "TVA", "total_cents": "Montant TTC",
                "prepaid_cents": "Déjà payé", "rounding_cents": "Arrondi"}


def invoice_totals(amount_cents: int, totals: InvoiceTotals | None, currency: str = "EUR") -> InvoiceTotals | None:
    """The totals, checked against the amount due; :class:`InvalidData` in French when they disagree."""
    if totals is None:
        return None
    for name, label in TOTAL_LABELS.items():
        value = getattr(totals, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or abs(value) > MAX_AMOUNT_CENTS):
            raise InvalidData(f"« {label} » doit être un nombre entier de centimes d'au plus 999 999 999,99 €.",
                              f"totals.{name}")
    if totals.total_cents <= 0:
        raise InvalidData("Le montant TTC doit être supérieur à zéro.", "totals.total_cents")
    if totals.amount_due_cents != amount_cents:
        money = lambda cents: format_amount(cents, currency)  # noqa: E731
        raise InvalidData(
            f"Le montant à payer ({money(amount_cents)}) doit être le montant TTC ({money(totals.total_cents)}) "
            f"moins le déjà payé ({money(totals.prepaid_cents or 0)}) plus l'arrondi "
            f"({money(totals.rounding_cents or 0)}), soit {money(totals.amount_due_cents)} : corrigez l'un "
            "ou l'autre.", "amount_cents")
    return totals


@dataclass(frozen=True)
class InvoiceData:
    number: str
    supplier_name: str
    supplier_iban: str
    supplier_bic: str | None
    issue_date: date
    due_date: date
    amount_cents: int
    currency: str = "EUR"
    totals: InvoiceTotals | None = None

    @property
    def transfer(self) -> tuple:
        """What a payment copies: changing it after a payment is refused."""
        return (self.supplier_name, self.supplier_iban, self.supplier_bic, self.amount_cents, self.currency)


def _clean(value, field: str, label: str, max_length: int, required: bool = True, *, bank_name: bool = False) -> str:
    try:
        if bank_name:
            text = clean_bank_name(value, max_length=max_length, label=label)
        else:
            text = clean_text(value, max_length=max_length, label=label, required=required)
    except InvalidIdentifier as exc:
        raise InvalidData(str(exc), field) from exc
    if BIDI_CONTROLS.intersection(text):
        raise InvalidData(f"« {label} » contient des caractères non autorisés.", field)
    return text


def _check_date(value: date, field: str) -> date:
    if not MIN_DATE <= value <= MAX_DATE:
        raise InvalidData("Saisissez une date entre 2000 et 2099.", field)
    return value


def supplier_iban_and_bic(iban: str, bic: str | None) -> tuple[str, str | None]:
    """A supplier's IBAN and BIC, normalised, checked and consistent; InvalidData naming the field otherwise."""
    iban, bic = checked_iban_and_bic(iban, bic, "supplier_iban", "supplier_bic")
    if problem := bic_mismatch(iban, bic):
        raise InvalidData(problem, "supplier_bic")
    return iban, bic


def invoice_data(
    *,
    number: str,
    supplier_name: str,
    supplier_iban: str,
    supplier_bic: str | None,
    issue_date: date,
    due_date: date,
    amount_cents: int,
    currency: str = "EUR",
    totals: InvoiceTotals | None = None,
) -> InvoiceData:
    """Checked, normalised invoice values, or :class:`InvalidData` naming the field."""
    number = _clean(number, "number", "Numéro", 60)
    supplier_name = _clean(supplier_name, "supplier_name", "Fournisseur", 200, bank_name=True)
    supplier_iban, supplier_bic = supplier_iban_and_bic(supplier_iban, supplier_bic)
    _check_date(issue_date, "issue_date")
    _check_date(due_date, "due_date")
    if due_date < issue_date:
        raise InvalidData("L'échéance ne peut pas précéder la date de facture.", "due_date")
    try:
        check_amount_cents(amount_cents)
    except InvalidAmount as exc:
        raise InvalidData(str(exc), "amount_cents") from exc
    if currency not in CURRENCIES:
        raise InvalidData("Seuls les paiements en euros (EUR) sont possibles.", "currency")
    totals = invoice_totals(amount_cents, totals, currency)
    return InvoiceData(number, supplier_name, supplier_iban, supplier_bic, issue_date, due_date, amount_cents, currency,
                       totals)


def _apply(invoice: Invoice, data: InvoiceData) -> None:
    invoice.number = data.number
    invoice.supplier_name = data.supplier_name
    invoice.supplier_iban = data.supplier_iban
    invoice.supplier_bic = data.supplier_bic
    invoice.issue_date = data.issue_date
    invoice.due_date = data.due_date
    invoice.amount_cents = data.amount_cents
    invoice.currency = data.currency
    totals = data.totals
    invoice.total_cents = totals.total_cents if totals else None
    invoice.net_cents = totals.net_cents if totals else None
    invoice.vat_cents = totals.vat_cents if totals else None
    invoice.prepaid_cents = totals.prepaid_cents if totals else None
    invoice.rounding_cents = totals.rounding_cents if totals else None


def _current_transfer(invoice: Invoice) -> tuple:
    return (invoice.supplier_name, invoice.supplier_iban, invoice.supplier_bic, invoice.amount_cents, invoice.currency)


def change_supplier_iban(account: Account, invoice: Invoice, iban: str, bic: str | None, actor: str) -> str:
    """« Modifier l'IBAN du fournisseur » of an invoice entered in Libeo, while no payment holds it (the
    supplier's account closed, a typo); the French sentence of what changed, in the « Journal » too. The next
    payment to the new IBAN is held as a new IBAN (``safeguards``). An invoice MEG sent takes its IBAN from MEG."""
    if invoice.account_id != account.id:
        raise InvalidData("Cette facture n'existe pas.", "supplier_iban")
    if invoice.source is InvoiceSource.MEG:
        raise Conflict(f"La facture {invoice.number} vient de MEG : son IBAN se modifie dans MEG (fiche du "
                       "fournisseur), qui l'envoie à Libeo.", "supplier_iban", code="invoice_from_meg")
    new_iban, new_bic = supplier_iban_and_bic(iban, bic)
    if new_iban == invoice.supplier_iban and new_bic == invoice.supplier_bic:
        raise InvalidData(f"C'est déjà l'IBAN de la facture {invoice.number} : rien n'a changé.", "supplier_iban")
    old = invoice.supplier_iban
    # Conditional: a payment created meanwhile keeps the IBAN it was made for, and this change is refused.
    changed = rowcount(db.session.execute(
        update(Invoice)
        .where(Invoice.id == invoice.id, Invoice.status.in_((InvoiceStatus.TO_PAY, InvoiceStatus.PAYMENT_FAILED)))
        .values(supplier_iban=new_iban, supplier_bic=new_bic)
        .execution_options(synchronize_session=False)
    ))
    db.session.expire(invoice, ["supplier_iban", "supplier_bic", "status"])
    if not changed or not invoice.is_payable:
        raise Conflict(f"Un paiement de la facture {invoice.number} est en cours ou effectué : l'IBAN de son "
                       "fournisseur ne peut plus être modifié.", "supplier_iban", code="invoice_locked")
    bank = bank_name(new_iban)
    done = (f"IBAN de {invoice.supplier_name} sur la facture {invoice.number} : {mask_iban(old)} remplacé par "
            f"{mask_iban(new_iban)}{f' ({bank})' if bank else ''}.")
    journal(account.id, "invoice.iban_changed", done, actor)
    return done


def create_libeo_invoice(account: Account, data: InvoiceData) -> Invoice:
    invoice = Invoice(
        account_id=account.id, source=InvoiceSource.LIBEO, status=InvoiceStatus.TO_PAY, imported_at=utcnow()
    )
    _apply(invoice, data)
    db.session.add(invoice)
    db.session.flush()
    return invoice


# Built once: every MEG call runs it (see models/libeo/keys.py).
_BY_EXTERNAL_ID = select(Invoice).where(
    Invoice.account_id == bindparam("account_id"), Invoice.external_id == bindparam("external_id")
)


def invoice_by_external_id(account: Account, external_id: str) -> Invoice | None:
    return db.session.scalar(_BY_EXTERNAL_ID, {"account_id": account.id, "external_id": external_id})


def upsert_meg_invoice(account: Account, external_id: str, data: InvoiceData) -> tuple[Invoice, bool]:
    """Creates or updates the invoice MEG knows as ``external_id``; True when created.

    Once a payment holds the invoice (scheduled, in progress or paid), the
    supplier, IBAN and amount can no longer change; dates and number can.
    An invoice MEG sent appears in Libeo's lists with its first payment
    (``Invoice.imported_at``), not before.
    """
    invoice = invoice_by_external_id(account, external_id)
    if invoice is None:
        invoice = Invoice(
            account_id=account.id, source=InvoiceSource.MEG, external_id=external_id, status=InvoiceStatus.TO_PAY
        )
        _apply(invoice, data)
        db.session.add(invoice)
        try:
            db.session.flush()
            return invoice, True
        except IntegrityError:
            # The same invoice was created by a concurrent call: update it instead (a batch's item, whose
            # savepoint is undone, is answered « try again » and replayed alone).
            if not undo_work(db):
                raise Conflict("Une autre requête enregistre cette facture au même moment : réessayez.",
                               code="idempotency_in_progress") from None
            invoice = invoice_by_external_id(account, external_id)
            if invoice is None:
                raise
    if not invoice.is_payable and _current_transfer(invoice) != data.transfer:
        raise Conflict(
            f"Un paiement de la facture {invoice.number} est programmé ou effectué : "
            "son fournisseur, son IBAN et son montant ne peuvent plus être modifiés.",
            code="invoice_locked",
        )
    _apply(invoice, data)
    db.session.flush()
    return invoice, False


_BY_EXTERNAL_IDS = select(Invoice).where(
    Invoice.account_id == bindparam("account_id"), Invoice.external_id.in_(bindparam("external_ids", expanding=True))
)


def invoices_by_external_id(account: Account, external_ids: list[str]) -> dict[str, Invoice]:
    """The account's invoices MEG knows by ``external_ids`` (those that exist), in one statement."""
    if not external_ids:
        return {}
    found = db.session.scalars(_BY_EXTERNAL_IDS, {"account_id": account.id, "external_ids": external_ids})
    return {invoice.external_id: invoice for invoice in found if invoice.external_id is not None}


def proposed_meg_invoice(account: Account, external_id: str, data: InvoiceData, invoice: Invoice | None) -> Invoice:
    """What :func:`upsert_meg_invoice` would make of ``invoice`` (the current one, or None), not written: a new
    invoice outside the session, to check before it is written (:func:`insert_meg_invoices`, :func:`apply_meg_invoice`).
    The same refusal when the invoice is locked."""
    if invoice is not None and not invoice.is_payable and _current_transfer(invoice) != data.transfer:
        raise Conflict(
            f"Un paiement de la facture {invoice.number} est programmé ou effectué : "
            "son fournisseur, son IBAN et son montant ne peuvent plus être modifiés.",
            code="invoice_locked",
        )
    proposed = Invoice(account_id=account.id, source=InvoiceSource.MEG, external_id=external_id,
                       status=invoice.status if invoice else InvoiceStatus.TO_PAY,
                       imported_at=invoice.imported_at if invoice else None)
    if invoice is not None:
        proposed.id = invoice.id
    _apply(proposed, data)
    return proposed


def apply_meg_invoice(invoice: Invoice, proposed: Invoice) -> None:
    """Writes a proposed invoice's values on the current one (flushed with the session)."""
    for name in _PROPOSED_COLUMNS:
        setattr(invoice, name, getattr(proposed, name))


def insert_meg_invoices(proposed: list[Invoice]) -> dict[str, Invoice]:
    """Writes new proposed invoices in one statement: the invoices written, by external id."""
    if not proposed:
        return {}
    rows = [{name: getattr(invoice, name) for name in ("account_id", "source", "external_id", *_PROPOSED_COLUMNS)}
            for invoice in proposed]
    written = db.session.scalars(insert(Invoice).returning(Invoice).execution_options(render_nulls=True), rows)
    return {invoice.external_id: invoice for invoice in written if invoice.external_id is not None}


_PROPOSED_COLUMNS = ("number", "number_key", "supplier_name", "supplier_iban", "supplier_bic", "issue_date", "due_date",
                     "amount_cents", "currency", "total_cents", "net_cents", "vat_cents", "prepaid_cents",
                     "rounding_cents", "status", "imported_at")


def account_invoice(account: Account, invoice_id: int) -> Invoice | None:
    """The account's invoice, never another account's (nor one MEG sent but never paid)."""
    return db.session.scalar(
        select(Invoice).where(
            Invoice.id == invoice_id, Invoice.account_id == account.id, Invoice.imported_at.is_not(None)
        )
    )


def invoices_query(account: Account):
    """The account's invoices, newest first, each with its payments (its status shows the latest)."""
    return (
        select(Invoice)
        .options(selectinload(Invoice.payments))
        .where(Invoice.account_id == account.id, Invoice.imported_at.is_not(None))
        .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
    )
