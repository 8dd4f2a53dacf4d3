"""Identifiers of French businesses and banks, checked with French messages."""

from __future__ import annotations

import re
import unicodedata

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.exceptions import ValidationError
from stdnum.fr import siret as stdnum_siret

from core.sepa_text import NotForTheBank, check_bank_name, check_sepa_country


class InvalidIdentifier(ValueError):
    """A SIRET, IBAN or BIC that does not hold; the message is for a person."""


class OutsideSepa(InvalidIdentifier):
    """A valid IBAN of a country a SEPA transfer does not reach; the message names the country."""


def normalize_siret(value: str) -> str:
    """Digits only; raises with a French message unless it is a valid SIRET.

    python-stdnum applies the Luhn check and La Poste's exception
    (SIREN 356 000 000, whose establishments sum their digits instead).
    """
    compact = "".join((value or "").split())
    if not compact:
        raise InvalidIdentifier("Saisissez un SIRET.")
    if not (compact.isascii() and compact.isdigit()) or len(compact) != 14:
        raise InvalidIdentifier("Le SIRET doit comporter exactement 14 chiffres.")
    try:
        return stdnum_siret.validate(compact)
    except ValidationError as exc:
        raise InvalidIdentifier("Ce SIRET n'est pas valide (clé de contrôle incorrecte).") from exc


def normalize_iban(value: str | None) -> str:
    """The compact IBAN, of a country of the SEPA scheme; else a French refusal (the country named)."""
    compact = "".join((value or "").split()).upper()
    if not compact:
        raise InvalidIdentifier("Saisissez un IBAN.")
    if len(compact) > 34 or not compact.isascii() or not compact.isalnum():
        raise InvalidIdentifier("Cet IBAN n'est pas valide.")
    try:
        iban = IBAN(compact)
    except SchwiftyException as exc:
        raise InvalidIdentifier("Cet IBAN n'est pas valide (vérifiez le pays, la longueur et la clé).") from exc
    try:
        check_sepa_country(iban)
    except NotForTheBank as exc:
        raise OutsideSepa(str(exc)) from exc
    return iban.compact


def normalize_bic(value: str | None) -> str | None:
    compact = "".join((value or "").split()).upper()
    if not compact:
        return None
    if len(compact) not in (8, 11) or not compact.isascii() or not compact.isalnum():
        raise InvalidIdentifier("Ce BIC n'est pas valide (8 ou 11 caractères).")
    try:
        return str(BIC(compact))
    except SchwiftyException as exc:
        raise InvalidIdentifier("Ce BIC n'est pas valide.") from exc


def format_iban(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def mask_iban(iban: str | None) -> str:
    """« FR76 •••• •••• •••• •••• ••12 345 »: the country, the check digits and
    the last five characters, enough for a person to recognise their account
    on a receipt or a screen, not enough to reuse it.

    Accepts any text (spaces, lower case); never raises. A value too short to
    be an IBAN keeps only its first two characters.
    """
    compact = "".join((iban or "").split()).upper()
    if not compact:
        return ""
    keep_start, keep_end = (4, 5) if len(compact) >= 14 else (2, 0)
    hidden = len(compact) - keep_start - keep_end
    masked = compact[:keep_start] + "\u2022" * hidden + compact[len(compact) - keep_end :]
    return format_iban(masked)


def format_siret(siret: str | None) -> str:
    if not siret:
        return ""
    return f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}"


# Direction overrides and isolates make a text read otherwise than it is (an
# invoice number, a supplier's name): refused here as by Libeo's API, which
# MEG's texts reach.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Spaces, and the byte-order mark, which Libeo's API also counts as blank.
_EDGES = re.compile(r"^[\s\ufeff]+|[\s\ufeff]+$")


def clean_text(value: str | None, *, max_length: int, label: str, required: bool = True) -> str:
    """Trimmed, NFC-normalised text without control characters, or a French error."""
    text = _EDGES.sub("", unicodedata.normalize("NFC", value or ""))
    if any(unicodedata.category(ch) in {"Cc", "Cs", "Co", "Cn"} or ch in _BIDI_CONTROLS for ch in text):
        raise InvalidIdentifier(f"« {label} » contient des caractères non autorisés.")
    if required and not text:
        raise InvalidIdentifier(f"Saisissez « {label} ».")
    if len(text) > max_length:
        raise InvalidIdentifier(f"« {label} » ne doit pas dépasser {max_length} caractères.")
    return text


def clean_bank_name(value: str | None, *, max_length: int, label: str) -> str:
    """``clean_text``, and a name a SEPA transfer can carry: at least one letter once in the SEPA set."""
    text = clean_text(value, max_length=max_length, label=label)
    try:
        check_bank_name(text, label)
    except NotForTheBank as exc:
        raise InvalidIdentifier(str(exc)) from exc
    return text
