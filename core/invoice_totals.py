"""An invoice's totals as EN 16931 defines them, beside its amount due: the rule that binds them and the
columns both products keep them in (MEG's « Achats » invoices, Libeo's invoices)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from core.money import format_amount


def amount_due(total_cents: int, prepaid_cents: int | None, rounding_cents: int | None) -> int:
    """BT-115 as BR-CO-16 computes it: the total with VAT, less what was prepaid, plus the rounding."""
    return total_cents - (prepaid_cents or 0) + (rounding_cents or 0)


class InvoiceTotalsColumns:
    """An invoice table's totals (BT-109, BT-110, BT-112, BT-113, BT-114), None when its sender did not
    give them, and how a page shows them beside the amount due. The table declares its own amount due
    (``amount_cents``, BT-115, what a payment pays) and currency."""

    net_cents: Mapped[int | None] = mapped_column(BigInteger)
    vat_cents: Mapped[int | None] = mapped_column(BigInteger)
    total_cents: Mapped[int | None] = mapped_column(BigInteger)
    prepaid_cents: Mapped[int | None] = mapped_column(BigInteger)
    rounding_cents: Mapped[int | None] = mapped_column(BigInteger)

    if TYPE_CHECKING:
        amount_cents: int
        currency: str

    @property
    def amount_display(self) -> str:
        return format_amount(self.amount_cents, self.currency)

    @property
    def total_with_tax_cents(self) -> int:
        """« Montant TTC »: the total with VAT, which the amount due equals unless something was prepaid."""
        return self.total_cents if self.total_cents is not None else self.amount_cents

    @property
    def total_display(self) -> str:
        return format_amount(self.total_with_tax_cents, self.currency)

    @property
    def due_differs(self) -> bool:
        """The amount due is not the total with VAT (a deposit paid, a rounding): both are shown."""
        return self.total_with_tax_cents != self.amount_cents

    def money(self, cents: int | None) -> str:
        return format_amount(cents, self.currency) if cents is not None else "—"
