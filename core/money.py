"""Money as integer cents, parsed and shown the French way (1 234,56 €)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# Above this an invoice amount is absurd for a small business's supplier bill
# (and would overflow what banks accept in one SEPA transfer line).
MAX_AMOUNT_CENTS = 999_999_999_99  # 999 999 999,99 €

_SPACES = re.compile(r"[\s\u00a0\u202f']")
# Digits grouped by threes (« 1 234 567,89 », « 1'234.56 »): a separator anywhere else is a typo (« 12 34 »), never
# a number to guess.
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:[\s\u00a0\u202f']\d{3})+(?:[.,]\d*)?")


class InvalidAmount(ValueError):
    """An amount a person typed that is not a positive sum of euros."""


def parse_amount(text: str) -> int:
    """« 1 234,56 » or « 1234.56 » → 123456 cents; French message on error."""
    if text is None:
        raise InvalidAmount("Saisissez un montant.")
    typed = str(text).replace("€", "").strip(" \t\r\n\u00a0\u202f")
    if not typed:
        raise InvalidAmount("Saisissez un montant.")
    if _SPACES.search(typed) and not _GROUPED.fullmatch(typed):
        raise InvalidAmount(
            f"Montant invalide : « {typed[:40]} » a un espace ailleurs qu'entre des groupes de trois chiffres "
            "(par exemple 1 234,56 ou 1234,56)."
        )
    raw = _SPACES.sub("", typed)
    if raw.count(",") == 1 and "." not in raw:
        raw = raw.replace(",", ".")
    if not re.fullmatch(r"[+-]?\d{1,15}(\.\d{1,2})?", raw):
        raise InvalidAmount(
            "Montant invalide : utilisez des chiffres, avec au plus deux décimales "
            "(par exemple 1 234,56)."
        )
    try:
        cents = int((Decimal(raw) * 100).to_integral_exact())
    except InvalidOperation as exc:  # pragma: no cover - regex already rules it out
        raise InvalidAmount("Montant invalide.") from exc
    check_amount_cents(cents)
    return cents


def check_amount_cents(cents: int) -> int:
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise InvalidAmount("Le montant doit être un nombre entier de centimes.")
    if cents <= 0:
        raise InvalidAmount("Le montant doit être supérieur à zéro.")
    if cents > MAX_AMOUNT_CENTS:
        raise InvalidAmount("Le montant dépasse le maximum autorisé (999 999 999,99 €).")
    return cents


def format_amount(cents: int | None, currency: str = "EUR") -> str:
    """123456 → « 1 234,56 € » with narrow no-break spaces, as French typography wants."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(int(cents)), 100)
    grouped = f"{euros:,}".replace(",", "\u202f")
    symbol = "€" if currency == "EUR" else currency
    return f"{sign}{grouped},{rest:02d}\u00a0{symbol}"


def cents_to_input(cents: int | None) -> str:
    """The value to put back in an amount field: « 1234,56 »."""
    if cents is None:
        return ""
    euros, rest = divmod(int(cents), 100)
    return f"{euros},{rest:02d}"
