"""What a SEPA credit transfer can carry: the countries it reaches, the characters of a name.

- **Countries.** A SEPA transfer reaches only accounts in the countries of
  the SEPA scheme (the EU, the EEA, Switzerland, the United Kingdom, Monaco,
  San Marino, Andorra, the Vatican, and the French and other overseas
  territories they cover). The list is schwifty's IBAN registry
  (``in_sepa_zone``, kept up to date with the registry itself), not ours.
- **Names.** Every bank must accept the EPC's basic Latin set (letters
  a–z A–Z, digits, space and ``/ - ? : ( ) . , ' +``); many accept no more.
  A name is sent to the bank in that set: Latin letters lose their accents,
  other scripts are transliterated by ``anyascii`` (maintained, pinned:
  the same name always gives the same text), symbols and emoji are left out.
  A name that keeps no letter once so written cannot name a beneficiary or a
  debtor, and is refused where it is typed. A name whose written form is not
  obvious (another script, a symbol left out, « & » written « + », a name cut
  at 70 characters) is shown to the person before it is saved.

The same function gives what is shown and what is written in pain.001. The
text of the remittance information (« Facture <number> ») is written the same
way, at most 140 characters.
"""

from __future__ import annotations

import gettext
import re
import unicodedata
from functools import lru_cache

import pycountry
from anyascii import anyascii
from schwifty import IBAN

# The EPC's basic Latin character set (EPC217-08), which every SEPA bank accepts.
SEPA_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-?:().,'+ ")
# pain.001's names (Nm) are Max70Text; its remittance information (Ustrd), Max140Text.
MAX_NAME_LENGTH = 70
MAX_REMITTANCE_LENGTH = 140
# Characters outside the set written otherwise than by transliteration.
_WRITTEN_AS = {"&": "+", "_": "-"}
_SPACES = re.compile(r" {2,}")
_LETTER = re.compile(r"[A-Za-z]")


class NotForTheBank(ValueError):
    """An IBAN or a name a SEPA transfer cannot carry; the message is for a person."""


# --- countries ----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _french_country_names() -> gettext.NullTranslations:
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"], fallback=True)


def country_name(code: str) -> str:
    """« Brésil », « Arabie saoudite »… (ISO 3166 in French, from pycountry); the code itself when unknown."""
    country = pycountry.countries.get(alpha_2=code)
    return _french_country_names().gettext(country.name) if country else code


def check_sepa_country(iban: IBAN) -> None:
    """Raises :class:`NotForTheBank`, naming the country, unless a SEPA transfer can reach ``iban``."""
    if not iban.in_sepa_zone:
        code = iban.country_code
        raise NotForTheBank(
            f"Cet IBAN est celui d'un compte hors de la zone SEPA ({country_name(code)}, {code}) : "
            "un virement SEPA ne peut pas y être envoyé. Saisissez l'IBAN d'un compte dans la zone SEPA."
        )


# --- names --------------------------------------------------------------------------------------


def _written(ch: str) -> str:
    """One character of a name, as the bank receives it (possibly nothing, or several characters)."""
    if ch in SEPA_CHARACTERS:
        return ch
    if ch in _WRITTEN_AS:
        return _WRITTEN_AS[ch]
    category = unicodedata.category(ch)
    if category[0] in "LMNP":  # letters, marks, numbers, punctuation: transliterated
        return "".join(c if c in SEPA_CHARACTERS else " " for c in anyascii(ch))
    if category[0] == "Z" or ch.isspace():
        return " "
    if category == "Cf":  # soft hyphen, joiners, marks of direction: inside a word, not between two
        return ""
    return " "  # symbols, emoji, anything else: left out


def _whole(name: str | None) -> str:
    text = unicodedata.normalize("NFC", name or "")
    return _SPACES.sub(" ", "".join(_written(ch) for ch in text)).strip()


def bank_text(text: str | None, length: int) -> str:
    """``text`` in the SEPA character set, written as a name is, at most ``length`` characters; may be empty.

    Never raises: pain.001 is written with it, whatever an older row holds.
    """
    return _whole(text)[:length].rstrip()


def bank_name(name: str | None) -> str:
    """``name`` in the SEPA character set, at most 70 characters; may be empty (then it names nobody)."""
    return bank_text(name, MAX_NAME_LENGTH)


def _obvious(name: str) -> bool:
    """Latin letters losing their accents, « & » as « + », a curly apostrophe made straight, and not cut:
    nothing the person needs to see."""
    for ch in name:
        if ch in SEPA_CHARACTERS or ch in _WRITTEN_AS or ch.isspace():
            continue
        category = unicodedata.category(ch)
        if category[0] == "L" and unicodedata.name(ch, "").startswith("LATIN "):
            continue
        if category[0] == "P" and anyascii(ch) and set(anyascii(ch)) <= SEPA_CHARACTERS:
            continue
        return False
    return len(_whole(name)) <= MAX_NAME_LENGTH


def check_bank_name(name: str, label: str) -> str:
    """``bank_name(name)``, or :class:`NotForTheBank` when no letter is left to name anyone."""
    written = bank_name(name)
    if not _LETTER.search(written):
        raise NotForTheBank(
            f"« {label} » doit contenir au moins une lettre transmissible à la banque (lettres latines, "
            "ou d'une autre écriture transcrite en lettres latines) : les symboles, emoji et caractères "
            "invisibles ne le sont pas."
        )
    return written


def name_to_show(name: str) -> str | None:
    """What the bank will receive, when the person should see it before saving ``name``; else None."""
    text = unicodedata.normalize("NFC", name or "")
    return None if _obvious(text) else bank_name(text)
