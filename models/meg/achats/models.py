"""« Achats » tables: suppliers and their invoices, with the « Mode de règlement » of each."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.banks import bank_name, bic_display
from core.dates import utcnow
from core.invoice_totals import InvoiceTotalsColumns
from core.validators import format_iban, mask_iban
from models.meg.companies.models import Company
from models.meg.db import Model, db


class PaymentMode(enum.Enum):
    """« Mode de règlement » of a supplier invoice, with the label a person reads."""

    VIREMENT = "Virement"
    CHEQUE = "Chèque"
    PRELEVEMENT = "Prélèvement"
    CARTE = "Carte bancaire"
    ESPECES = "Espèces"
    LIBEO = "Virement par Libeo"

    @property
    def label(self) -> str:
        return self.value


class Supplier(Model):
    __tablename__ = "supplier"
    __table_args__ = (
        Index("ix_supplier_company_name", "company_id", "name"),
        # An e-invoice names its seller by SIRET: one supplier per SIRET in a company (an index,
        # not a constraint: SQLite adds it without copying the table other tables reference).
        Index("uq_supplier_siret", "company_id", "siret", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    # Empty for a supplier that debits the company itself (direct debit): nothing to pay it to.
    # (Empty rather than NULL: SQLite would copy the table, which others reference, to allow NULL.)
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))
    # 14 digits, from an imported e-invoice (or typed); None when unknown.
    siret: Mapped[str | None] = mapped_column(String(14))

    company: Mapped[Company] = relationship()

    @property
    def iban_display(self) -> str:
        return format_iban(self.iban) if self.iban else "aucun (il prélève lui-même ses factures)"

    @property
    def iban_masked(self) -> str:
        """As every page about paying shows it (the whole IBAN is in the supplier's form)."""
        return mask_iban(self.iban)

    @property
    def bank_name(self) -> str | None:
        """The bank of the IBAN (schwifty's registry), shown next to every IBAN."""
        return bank_name(self.iban)

    @property
    def bic_display(self) -> str:
        """The BIC entered, else the one of the IBAN's bank, said to be derived; « — » if unknown."""
        return bic_display(self.bic, self.iban)


class SupplierInvoice(InvoiceTotalsColumns, Model):
    """A supplier invoice recorded in « Achats »."""

    __tablename__ = "supplier_invoice"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("due_date >= issue_date", name="due_after_issue"),
        UniqueConstraint("company_id", "supplier_id", "number", name="uq_invoice_number"),
        # « Règlements » lists a company's unpaid invoices by due date.
        Index("ix_invoice_settle", "company_id", "paid_at", "due_date", "id"),
        Index("ix_invoice_list", "company_id", "issue_date", "id"),
        # The lists' filters and sorts (core/listing.py): amount, mode.
        Index("ix_invoice_company_amount", "company_id", "amount_cents"),
        Index("ix_invoice_company_mode", "company_id", "payment_mode", "due_date"),
        # « Factures »: every invoice by due date, by number.
        Index("ix_invoice_company_due", "company_id", "due_date", "id"),
        Index("ix_invoice_company_number", "company_id", "number"),
        # « Factures »' state tabs, their counts, « Cette semaine »: by state, then due or issue date. The
        # first holds the mode and amount too: « Cette semaine » and the filter's selection read no row.
        Index("ix_invoice_company_state_due", "company_id", "settlement_state", "due_date", "id", "payment_mode",
              "amount_cents"),
        Index("ix_invoice_company_state_issue", "company_id", "settlement_state", "issue_date", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    supplier_id: Mapped[int] = mapped_column(ForeignKey("supplier.id"), index=True)
    number: Mapped[str] = mapped_column(String(60))
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    # What is to be paid: the amount due (EN 16931 BT-115), which a payment pays.
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    # Its totals (InvoiceTotalsColumns) as its e-invoice gives them; None when typed by hand, the amount
    # due being then the total with VAT.
    # A direct debit's mandate (BT-89) and the company's account it debits (BT-91), from the e-invoice.
    mandate_reference: Mapped[str | None] = mapped_column(String(35))
    debited_iban: Mapped[str | None] = mapped_column(String(34))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    payment_mode: Mapped[PaymentMode] = mapped_column(Enum(PaymentMode, native_enum=False, length=30))
    # Set when the invoice is settled (in MEG, or once Libeo has paid it).
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Its state as « Factures » shows it (« a_regler », « programmees », « payees », « rejetees »), from
    # ``paid_at`` and its latest Libeo payment; kept by every write of either, in the same transaction
    # (``libeo_link.attempts.refresh_invoice_states``), never set by hand.
    settlement_state: Mapped[str] = mapped_column(String(12), default="a_regler", server_default="a_regler")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    company: Mapped[Company] = relationship()
    supplier: Mapped[Supplier] = relationship()

    @property
    def debited_iban_masked(self) -> str | None:
        return mask_iban(self.debited_iban) if self.debited_iban else None

    @property
    def is_paid(self) -> bool:
        return self.paid_at is not None


def count(query) -> int:
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
