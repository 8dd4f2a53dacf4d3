"""Which bank holds an IBAN, from schwifty's registry: a label, never a check."""

from __future__ import annotations

from functools import lru_cache

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

# The registry is read-only data: each IBAN's bank is looked up once per worker, not once per row of every
# list (parsing an IBAN and reading two registries was a third of Libeo « Paiements »' time).
_CACHED_IBANS = 4096


def _iban(value: str | None) -> IBAN | None:
    try:
        return IBAN("".join((value or "").split()).upper())
    except (SchwiftyException, ValueError):
        return None


def bank_bic(iban: str | None) -> str | None:
    """The BIC of the bank behind an IBAN, or None (unknown bank, invalid IBAN)."""
    return _bank_bic(iban or "")


@lru_cache(maxsize=_CACHED_IBANS)
def _bank_bic(iban: str) -> str | None:
    account = _iban(iban)
    try:
        bic = account.bic if account else None
    except (SchwiftyException, ValueError):
        return None
    return str(bic) if bic else None



def bic_display(bic: str | None, iban: str) -> str:
    """A BIC as shown next to its IBAN: the one given, else the bank's, said to be derived; « — » if unknown."""
    if bic:
        return bic
    derived = bank_bic(iban)
    return f"{derived} (déduit de l'IBAN)" if derived else "—"

def bank_name(iban: str | None) -> str | None:
    """« BNP PARIBAS » for an IBAN at BNP Paribas; None when unknown; never raises.

    schwifty files some French bank codes under a subsidiary's name (30003,
    Société Générale, reads « Inter Europe Conseil SAS »); the name registered
    for the bank's own BIC is preferred when it disagrees.
    """
    return _bank_name(iban or "")


@lru_cache(maxsize=_CACHED_IBANS)
def _bank_name(iban: str) -> str | None:
    account = _iban(iban)
    if account is None:
        return None
    try:
        name = account.bank_name
        bic = account.bic
        bic_names = BIC(str(bic)).bank_names if bic else []
    except (SchwiftyException, ValueError):
        return None
    if name and (name in bic_names or len(bic_names) != 1):
        return name
    return bic_names[0] if bic_names else name


def bic_mismatch(iban: str | None, bic: str | None) -> str | None:
    """Why ``bic`` cannot be the BIC of ``iban``'s bank, in French; None when it may be (or nobody knows).

    The bank and country of a BIC (its first six characters) must be those
    the registry gives the IBAN's bank code: a BIC left over from a previous
    IBAN (a supplier's bank details changed) would send the transfer astray.
    Branches and subsidiaries' location codes are not compared.
    """
    derived = bank_bic(iban)
    given = "".join((bic or "").split()).upper()
    if not derived or not given or given[:6] == derived[:6]:
        return None
    bank = bank_name(iban)
    return (f"Ce BIC ({given}) n'est pas celui de la banque de cet IBAN ({bank + ' : ' if bank else ''}{derived}) : "
            "corrigez-le, ou laissez-le vide pour qu'il soit déduit de l'IBAN.")
