"""A SIRET MEG can vouch for.

Anyone who administers « Achats » of a MEG company can type any SIRET in its
« Fiche de l'entreprise ». MEG tells Libeo « this person is an Achats
administrator of the company with this SIRET » (« Me connecter avec MEG »,
and a key saved in « Options »), and Libeo then treats the Libeo account of
that SIRET as verified. So MEG says so only for a SIRET it trusts:

- entered or confirmed by the company's expert-comptable (a user of the
  accounting firm the company works with: a professional who knows the
  company's papers), or
- matched with the company registry (:mod:`models.meg.companies.registry`):
  the establishment exists, is active, and its legal name reads as the
  company's.

The registry match is the weaker proof (the registry is public: whoever
names their company like the SIRET's passes it), which is why Libeo never
takes a SIRET from an account that has been used on MEG's word alone. It
compares the registry's legal name with the name the company was opened
with in MEG (or the one its expert-comptable gave it), never with a name its
« Achats » administrator typed: otherwise renaming the company « TRANSPORTS
VICTOR » and typing that company's SIRET, in one form or two, would have
MEG vouch for a SIRET that is not the company's.

Changing the SIRET withdraws the trust, is written in MEG's journal, and is
checked against the registry at once; when the registry does not confirm it,
vouching stays suspended until the expert-comptable confirms it.
"""

from __future__ import annotations

from core.dates import utcnow
from core.names import same_legal_name
from core.validators import format_siret
from models.meg.companies.models import Company, User
from models.meg.companies.registry import RegistryUnavailable, find_establishment
from models.meg.journal import record

REGISTRY = "le répertoire SIRENE de l'INSEE"


def is_companys_accountant(user: User, company: Company) -> bool:
    return user.is_accountant and company.accounting_firm_id == user.accounting_firm_id


def trust_siret(company: Company, by: str, user: User | None) -> None:
    company.siret_trusted_by, company.siret_trusted_at = by[:300], utcnow()
    record(company, "company.siret_trusted", f"SIRET {format_siret(company.siret)} confirmé par {by}.", user)


def siret_changed(company: Company, old_siret: str | None, user: User | None) -> str | None:
    """After the SIRET changed: trust withdrawn, journaled, then given back by its author or the registry.

    Returns what the person should read about the trust (French), or None when nothing is to say.
    """
    company.siret_trusted_by = company.siret_trusted_at = None
    old = format_siret(old_siret) if old_siret else "aucun"
    new = format_siret(company.siret) if company.siret else "aucun"
    record(company, "company.siret_changed", f"SIRET de l'entreprise modifié : {old} → {new}.", user)
    if not company.siret:
        return None
    if user is not None and is_companys_accountant(user, company):
        trust_siret(company, f"l'expert-comptable {user.full_name} ({user.email})", user)
        return None
    return check_with_registry(company, user)


def name_changed(company: Company, name: str, user: User | None) -> None:
    """The company's name becomes ``name``: journaled; a name not given by the company's expert-comptable is
    one the registry no longer confirms a SIRET by."""
    if name == company.name:
        return
    record(company, "company.renamed", f"Nom de l'entreprise modifié : « {company.name} » → « {name} ».", user)
    company.name = name
    company.renamed_at = None if user is not None and is_companys_accountant(user, company) else utcnow()


def check_with_registry(company: Company, user: User | None) -> str | None:
    """Trusts the SIRET if the registry confirms it; else says why not (None without a SIRET, or for a renamed
    company, which the registry cannot confirm). What follows, and who may confirm instead, is ``trust_status``'s
    to say, once, in the « Fiche »'s box."""
    if not company.siret:
        return None
    if company.renamed_at is not None:
        return None
    try:
        found = find_establishment(company.siret)
    except RegistryUnavailable as unavailable:
        return str(unavailable)
    if found is None:
        why = f"{REGISTRY} ne connaît pas le SIRET {format_siret(company.siret)}"
    elif not found.active:
        why = f"d'après {REGISTRY}, l'établissement {format_siret(company.siret)} est fermé"
    elif not same_legal_name(found.legal_name, company.name):
        why = (f"d'après {REGISTRY}, le SIRET {format_siret(company.siret)} est celui de « {found.legal_name} », "
               f"et non de « {company.name} »")
    else:
        trust_siret(company, REGISTRY, user)
        return None
    return f"Le SIRET n'a pas pu être confirmé : {why}. Vérifiez le SIRET saisi."


def confirm_siret(company: Company, user: User) -> None:
    """The company's expert-comptable confirms its SIRET (« Confirmer le SIRET »)."""
    if not is_companys_accountant(user, company):
        raise PermissionError("Seul l'expert-comptable de l'entreprise peut confirmer son SIRET.")
    if company.siret and not company.siret_trusted:
        trust_siret(company, f"l'expert-comptable {user.full_name} ({user.email})", user)


def trust_status(company: Company) -> str:
    """What the « Fiche de l'entreprise » says of the SIRET."""
    if not company.siret:
        return "Pas de SIRET : Libeo est réservé aux entreprises qui en ont un."
    if company.siret_trusted:
        return f"SIRET confirmé par {company.siret_trusted_by}."
    who = "l'expert-comptable de l'entreprise" if company.accounting_firm_id else "le support de MEG"
    if company.renamed_at is not None:
        return (f"SIRET à confirmer : {REGISTRY} ne confirme un SIRET que par le nom sous lequel l'entreprise a été "
                "ouverte dans MEG, et ce nom a été modifié depuis (même s'il est revenu au premier). MEG ne se porte "
                f"donc pas garant de l'entreprise auprès de Libeo tant que {who} n'a pas confirmé le SIRET.")
    return ("SIRET à confirmer : MEG ne se porte pas garant de l'entreprise auprès de Libeo tant que le SIRET n'est "
            f"confirmé ni par {REGISTRY} ni par {who}.")
