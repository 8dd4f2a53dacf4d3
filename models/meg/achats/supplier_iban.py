"""Who changes a supplier's IBAN, and who reads it whole.

An existing supplier's IBAN and BIC are where the next « Payer » sends the money: changing them is the door of
« fraude au changement de RIB ». Only an « Achats » administrator opens it (« Modifier », an imported e-invoice's
« Remplacer »), and only they read IBANs whole, on the pages as in the exports. An « Achats » user, or the firm's
expert-comptable, adds a supplier with its IBAN and renames one, and reads IBANs masked.
"""

from __future__ import annotations

from models.meg.achats.models import Supplier
from models.meg.companies.models import Company, User

IBAN_ADMINS_ONLY = "Seuls les administrateurs du module « Achats » peuvent changer l'IBAN d'un fournisseur."


def may_change_iban(user: User | None, company: Company) -> bool:
    """Whether the person changes the IBAN and BIC of the company's suppliers: its « Achats » administrators."""
    return user is not None and user.is_achats_admin(company)


def iban_as_shown(supplier: Supplier, whole: bool) -> str:
    """The supplier's IBAN on a page: whole for who may change it, masked for anyone else; a supplier without
    one (it debits the company itself) says so to both."""
    return supplier.iban_display if whole or not supplier.iban else supplier.iban_masked

