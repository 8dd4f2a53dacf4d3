"""Builders for what the tests make by hand: MEG's companies, suppliers, invoices and users, Libeo's accounts,
users, invoices and initiators. Plain functions with the defaults a test does not care about.

Each runs in the caller's app context and adds to its session without committing, so that a test builds
several things and commits once; ``make_account`` (a whole sign-up) opens its own context and commits.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from core.dates import paris_today
from models.libeo import Account, Channel, InitiatorRole, Invoice, LibeoUser
from models.libeo import db as libeo_db
from models.libeo.invoices.services import create_libeo_invoice, invoice_data
from models.libeo.payments.order import Initiator
from models.meg import AccountingFirm, AchatsRole, Company, ModuleRole, PaymentMode, Supplier, SupplierInvoice, User
from models.meg import db as meg_db
from tests.libeo.conftest import PASSWORD, SUPPLIER_IBAN, AccountInfo, make_account

__all__ = [
    "AccountInfo", "initiator", "libeo_invoice", "libeo_user", "make_account", "meg_company", "meg_invoice",
    "meg_supplier", "meg_user",
]

# --- MEG ------------------------------------------------------------------------------------------------------


def meg_company(name: str) -> Company:
    """The company of that name (the demo's, or one a test added)."""
    return meg_db.session.scalars(select(Company).where(Company.name == name)).one()


def meg_supplier(company: Company, name: str | None = None) -> Supplier:
    """The company's supplier of that name, or its first one."""
    query = select(Supplier).where(Supplier.company_id == company.id).order_by(Supplier.id)
    if name is not None:
        query = query.where(Supplier.name == name)
    return meg_db.session.scalars(query).first()


def meg_invoice(company: Company, supplier: Supplier, number: str, *, amount_cents: int = 10_000,
                issue_date: date | None = None, due_date: date | None = None,
                payment_mode: PaymentMode = PaymentMode.LIBEO) -> SupplierInvoice:
    """An unpaid invoice typed in MEG, « Virement par Libeo » unless said; issued today, due 30 days later."""
    issue_date = issue_date or paris_today()
    invoice = SupplierInvoice(company=company, supplier=supplier, number=number, issue_date=issue_date,
                              due_date=due_date or issue_date + timedelta(days=30), amount_cents=amount_cents,
                              payment_mode=payment_mode)
    meg_db.session.add(invoice)
    return invoice


def meg_user(email: str, password: str, *, full_name: str = "Julie Comptable", firm: AccountingFirm | None = None,
             company: Company | None = None, role: AchatsRole | None = None) -> User:
    """A MEG login: an expert-comptable of ``firm``, or a user of ``company``'s « Achats » with ``role``."""
    user = User(email=email, full_name=full_name, accounting_firm=firm)
    user.set_password(password)
    meg_db.session.add(user)
    if company is not None and role is not None:
        meg_db.session.add(ModuleRole(user=user, company=company, module="achats", role=role))
    return user


# --- Libeo ----------------------------------------------------------------------------------------------------


def libeo_invoice(account: Account, number: str = "F-1", *, supplier_name: str = "Minoterie Dupuis",
                  supplier_iban: str = SUPPLIER_IBAN, amount_cents: int = 1_000, issue_date: date | None = None,
                  due_date: date | None = None) -> Invoice:
    """An invoice entered in Libeo (« Nouvelle facture »), to pay. Without dates: issued today, due 30 days
    later; with a due date only: issued today, or on the due date when that is earlier."""
    if issue_date is None:
        issue_date = paris_today() if due_date is None else min(paris_today(), due_date)
    return create_libeo_invoice(account, invoice_data(
        number=number, supplier_name=supplier_name, supplier_iban=supplier_iban, supplier_bic=None,
        issue_date=issue_date, due_date=due_date or issue_date + timedelta(days=30), amount_cents=amount_cents))


def libeo_user(account_id: int, email: str, *, is_admin: bool = False, password: str | None = PASSWORD) -> LibeoUser:
    """Another person with a Libeo login on the account (the plans allow one user: made here directly)."""
    user = LibeoUser(account_id=account_id, email=email, is_admin=is_admin)
    if password is not None:
        user.set_password(password)
    libeo_db.session.add(user)
    return user


def initiator(email: str = "claire@boulangerie-martin.fr", role: InitiatorRole = InitiatorRole.USER,
              channel: Channel = Channel.MEG) -> Initiator:
    """Who asks Libeo for a payment: by default a MEG user of Boulangerie Martin."""
    return Initiator(email, role, channel)
