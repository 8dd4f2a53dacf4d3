"""Libeo's invoices (entered in Libeo, or sent by MEG) and the PDF kept with each."""

from __future__ import annotations

import enum
import re
import unicodedata
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from core.banks import bank_name, bic_display
from core.dates import utcnow
from core.files import size_label
from core.invoice_totals import InvoiceTotalsColumns
from core.validators import format_iban
from models.libeo.accounts.models import Account, _enum
from models.libeo.db import Model

if TYPE_CHECKING:
    from models.libeo.payments.models import Payment


class InvoiceSource(enum.Enum):
    MEG = "MEG"
    LIBEO = "Libeo"

    @property
    def label(self) -> str:
        return self.value


class InvoiceStatus(enum.Enum):
    """Where paying the invoice stands; it follows its latest payment (see ``invoice_status_for``)."""

    TO_PAY = "to_pay"
    AWAITING_APPROVAL = "awaiting_approval"
    PAYMENT_SCHEDULED = "payment_scheduled"
    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"

    @property
    def label(self) -> str:
        return {
            "to_pay": "À payer",
            "awaiting_approval": "Paiement à approuver",
            "payment_scheduled": "Paiement programmé",
            "paid": "Payée",
            "payment_failed": "Paiement rejeté",
        }[self.value]

    @property
    def badge(self) -> str:
        return {"to_pay": "", "awaiting_approval": "badge-warn", "payment_scheduled": "badge-warn", "paid": "badge-ok",
                "payment_failed": "badge-err"}[self.value]


# The zeros a run of digits begins with (« 000123 » is « 123 »; « 0 » alone stays).
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")


def invoice_number_key(number: str | None) -> str:
    """An invoice number as the duplicate check compares it: « F-2026-001 », « f 2026 001 », « F–2026–001 »
    (en dashes, from a PDF), « Ｆ-２０２６-００１ » (full width) and « F2026001 » are one number, as
    « FA-000123 » and « FA-123 ».

    Compatibility forms folded (NFKC) and case folded; only letters and digits kept (any script's dashes,
    spaces and punctuation, and invisible characters, left out), digits of any script as 0-9; each run of
    digits without its leading zeros. A supplier's reminder of an invoice, which adds the recovery fee to its
    amount, is found by its number however it is written. Migration ``0020_invoice_number_keys`` keeps a
    copy of it.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", number or "").casefold())
    kept = "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in folded if ch.isalnum())
    return _LEADING_ZEROS.sub("", kept)[:60]


class Invoice(InvoiceTotalsColumns, Model):
    """A supplier invoice to pay: entered in Libeo, or sent by MEG (``external_id``)."""

    __tablename__ = "invoice"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("due_date >= issue_date", name="due_after_issue"),
        # EN 16931: the amount due (BT-115) is the total with VAT (BT-112) less what was paid (BT-113)
        # plus the rounding (BT-114); an invoice without its totals has only its amount due.
        CheckConstraint("total_cents IS NULL OR amount_cents = total_cents - COALESCE(prepaid_cents, 0) "
                        "+ COALESCE(rounding_cents, 0)", name="totals_add_up"),
        # MEG's invoice id names one invoice per account (NULL for Libeo's own).
        UniqueConstraint("account_id", "external_id", name="uq_invoice_external"),
        # The invoice list: an account's invoices, newest first.
        Index("ix_invoice_list", "account_id", "issue_date", "id"),
        # The duplicate check of each payment (models/libeo/safeguards.py): same number, or
        # same amount around the same date, found without reading the account's other invoices.
        Index("ix_invoice_number_key", "account_id", "number_key"),
        Index("ix_invoice_amount", "account_id", "amount_cents", "issue_date"),
        # « Factures »' filters and sorts (core/listing.py): due date, state tab, supplier.
        Index("ix_invoice_due", "account_id", "due_date", "id"),
        Index("ix_invoice_status", "account_id", "status", "issue_date"),
        Index("ix_invoice_supplier", "account_id", "supplier_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    source: Mapped[InvoiceSource] = mapped_column(_enum(InvoiceSource, 10))
    external_id: Mapped[str | None] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(60))
    # invoice_number_key(number), kept by ``_keep_number_key``.
    number_key: Mapped[str] = mapped_column(String(60), default="", server_default="")
    supplier_name: Mapped[str] = mapped_column(String(200))
    supplier_iban: Mapped[str] = mapped_column(String(34))
    supplier_bic: Mapped[str | None] = mapped_column(String(11))
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    # The amount due, what a payment transfers (BT-115).
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    # Its totals (InvoiceTotalsColumns) when its sender gave them: MEG, from an e-invoice; « Nouvelle
    # facture », from the file joined.
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    status: Mapped[InvoiceStatus] = mapped_column(_enum(InvoiceStatus, 20), default=InvoiceStatus.TO_PAY)
    # When the invoice entered Libeo's lists: at once for an invoice entered
    # in Libeo, with its first payment for one sent by MEG (only invoices
    # paid through Libeo are imported; a refused payment leaves none).
    imported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    account: Mapped[Account] = relationship()
    payments: Mapped[list[Payment]] = relationship(back_populates="invoice", order_by="Payment.id.desc()")

    @validates("number")
    def _keep_number_key(self, _key: str, number: str) -> str:
        self.number_key = invoice_number_key(number)
        return number

    @property
    def supplier_iban_display(self) -> str:
        return format_iban(self.supplier_iban)

    @property
    def supplier_bank_name(self) -> str | None:
        return bank_name(self.supplier_iban)

    @property
    def supplier_bic_display(self) -> str:
        """The BIC given, or the one of the IBAN's bank (« déduit de l'IBAN »), or « — »."""
        return bic_display(self.supplier_bic, self.supplier_iban)

    @property
    def is_payable(self) -> bool:
        """To pay, or its transfer rejected — unless a bank file says that transfer may have been debited after
        all (an anomaly a person has not decided: paying again could pay twice)."""
        return self.bank_anomaly is None and self.status in (InvoiceStatus.TO_PAY, InvoiceStatus.PAYMENT_FAILED)

    @property
    def bank_anomaly(self) -> str | None:
        """The bank anomaly its latest payment says, while a person has not decided it (``Payment.bank_anomaly``)."""
        latest = self.latest_payment
        return latest.bank_anomaly if latest is not None else None

    @property
    def latest_payment(self) -> Payment | None:
        """The payment that speaks for the invoice, as MEG decides it too: a debited one, else the latest of those
        under way or that may have paid it (rejected, a bank file saying it debited after all), else the latest. A
        transfer rejected, paid again, then found debited once the new payment was cancelled is « Débité »."""
        return max(self.payments, key=lambda payment: payment.speaks_first, default=None)  # latest first

    @property
    def status_label(self) -> str:
        """What the invoice shows: its latest payment's own words, or « À payer »."""
        payment = self.latest_payment
        if payment is None or payment.is_cancelled:
            return InvoiceStatus.TO_PAY.label
        return payment.status_label

    @property
    def status_badge(self) -> str:
        payment = self.latest_payment
        return payment.status.badge if payment is not None else ""


class InvoiceDocument(Model):
    """The invoice's PDF, as MEG sent it (``PUT /invoices/{external_id}/document``); one per invoice."""

    __tablename__ = "invoice_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id", ondelete="CASCADE"), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # Loaded only to be downloaded: the invoice page shows its size and date.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def size_label(self) -> str:
        return size_label(self.size)
