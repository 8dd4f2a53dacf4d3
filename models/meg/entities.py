"""MEG's entities: companies, users and their rights, suppliers, invoices."""

from __future__ import annotations

import enum
import secrets
from datetime import date, datetime
from functools import cache

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
    bindparam,
    func,
    select,
)
from sqlalchemy.orm import Mapped, aliased, mapped_column, relationship

from core.banks import bank_bic, bank_name
from core.dates import utcnow
from core.money import format_amount
from core.security import hash_password, verify_password
from core.validators import format_iban, format_siret

from . import db


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


class AchatsRole(enum.Enum):
    ADMIN = "administrateur"
    USER = "utilisateur"


class AccountingFirm(db.Model):
    """A firm of expert-comptables working for several client companies."""

    __tablename__ = "accounting_firm"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))

    clients: Mapped[list["Company"]] = relationship(back_populates="accounting_firm", order_by="Company.name")


class Company(db.Model):
    __tablename__ = "company"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # 14 digits, checked on entry; None for organisations without one.
    siret: Mapped[str | None] = mapped_column(String(14), unique=True)
    accounting_firm_id: Mapped[int | None] = mapped_column(ForeignKey("accounting_firm.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    accounting_firm: Mapped[AccountingFirm | None] = relationship(back_populates="clients")

    @property
    def siret_display(self) -> str:
        return format_siret(self.siret) if self.siret else "Pas de SIRET"


class User(db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    # Part of the login cookie's identity: rotating it ends every session.
    session_token: Mapped[str] = mapped_column(String(64), default=lambda: secrets.token_urlsafe(32))
    # Set for an expert-comptable: the firm whose client companies they serve.
    accounting_firm_id: Mapped[int | None] = mapped_column(ForeignKey("accounting_firm.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    accounting_firm: Mapped[AccountingFirm | None] = relationship()
    roles: Mapped[list["ModuleRole"]] = relationship(back_populates="user", cascade="all, delete-orphan")

    # Flask-Login protocol
    is_active = True
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)
        self.end_sessions()

    def check_password(self, password: str) -> bool:
        return verify_password(self.password_hash, password)

    def end_sessions(self) -> None:
        self.session_token = secrets.token_urlsafe(32)

    @property
    def is_accountant(self) -> bool:
        return self.accounting_firm_id is not None

    def companies_query(self):
        """The companies this user may open, by name."""
        direct = select(ModuleRole.company_id).where(ModuleRole.user_id == self.id)
        condition = Company.id.in_(direct)
        if self.accounting_firm_id is not None:
            condition = condition | (Company.accounting_firm_id == self.accounting_firm_id)
        return select(Company).where(condition).order_by(Company.name, Company.id)

    def companies(self) -> list[Company]:
        """The companies this user may open; the user's « Achats » role in each is read by the same
        statement, so that :meth:`achats_role` needs no other for them."""
        known = self.__dict__.setdefault("_achats_roles", {})
        companies = []
        rows = db.session.execute(_companies_with_achats_role(self.accounting_firm_id is not None),
                                  {"user_id": self.id, "firm_id": self.accounting_firm_id})
        for company, achats_role in rows:
            known[company.id] = self._with_firm_access(company, achats_role)
            companies.append(company)
        return companies

    def company(self, company_id: int) -> Company | None:
        """The company if this user may open it, else None (never another's)."""
        return db.session.scalar(self.companies_query().where(Company.id == company_id))

    def achats_role(self, company: Company) -> AchatsRole | None:
        """The user's role in « Achats » of that company; read once per company for this object's life
        (a request: the login loader builds the user anew each time)."""
        known = self.__dict__.setdefault("_achats_roles", {})
        if company.id not in known:
            known[company.id] = self._read_achats_role(company)
        return known[company.id]

    def _read_achats_role(self, company: Company) -> AchatsRole | None:
        return self._with_firm_access(company, db.session.scalar(
            select(ModuleRole.role).where(
                ModuleRole.user_id == self.id,
                ModuleRole.company_id == company.id,
                ModuleRole.module == "achats",
            )
        ))

    def _with_firm_access(self, company: Company, role: AchatsRole | None) -> AchatsRole | None:
        if role is None and self.is_accountant and company.accounting_firm_id == self.accounting_firm_id:
            # The firm's accountant works in the module, without administering it.
            return AchatsRole.USER
        return role

    def is_achats_admin(self, company: Company) -> bool:
        return self.achats_role(company) == AchatsRole.ADMIN


@cache
def _companies_with_achats_role(through_firm: bool):
    """:meth:`User.companies`' statement, built once per shape: every MEG page runs it, and a
    statement reused keeps its cache key where one built per request is traversed again for it."""
    role = aliased(ModuleRole)
    condition = Company.id.in_(select(ModuleRole.company_id).where(ModuleRole.user_id == bindparam("user_id")))
    if through_firm:
        condition = condition | (Company.accounting_firm_id == bindparam("firm_id"))
    return (
        select(Company, role.role)
        .outerjoin(role, (role.company_id == Company.id) & (role.user_id == bindparam("user_id"))
                   & (role.module == "achats"))
        .where(condition)
        .order_by(Company.name, Company.id)
    )


class ModuleRole(db.Model):
    """A user's role in one module of one company."""

    __tablename__ = "module_role"
    __table_args__ = (UniqueConstraint("user_id", "company_id", "module"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), index=True)
    module: Mapped[str] = mapped_column(String(30), default="achats")
    role: Mapped[AchatsRole] = mapped_column(Enum(AchatsRole, native_enum=False, length=20))

    user: Mapped[User] = relationship(back_populates="roles")
    company: Mapped[Company] = relationship()


class Supplier(db.Model):
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
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))
    # 14 digits, from an imported e-invoice (or typed); None when unknown.
    siret: Mapped[str | None] = mapped_column(String(14))

    company: Mapped[Company] = relationship()

    @property
    def iban_display(self) -> str:
        return format_iban(self.iban)

    @property
    def bank_name(self) -> str | None:
        """The bank of the IBAN (schwifty's registry), shown next to every IBAN."""
        return bank_name(self.iban)

    @property
    def bic_display(self) -> str:
        """The BIC entered, else the one of the IBAN's bank, said to be derived; « — » if unknown."""
        if self.bic:
            return self.bic
        derived = bank_bic(self.iban)
        return f"{derived} (déduit de l'IBAN)" if derived else "—"


class SupplierInvoice(db.Model):
    """A supplier invoice recorded in « Achats »."""

    __tablename__ = "supplier_invoice"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("due_date >= issue_date", name="due_after_issue"),
        UniqueConstraint("company_id", "supplier_id", "number", name="uq_invoice_number"),
        # « Règlements » lists a company's unpaid invoices by due date.
        Index("ix_invoice_settle", "company_id", "paid_at", "due_date", "id"),
        Index("ix_invoice_list", "company_id", "issue_date", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    supplier_id: Mapped[int] = mapped_column(ForeignKey("supplier.id"), index=True)
    number: Mapped[str] = mapped_column(String(60))
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    payment_mode: Mapped[PaymentMode] = mapped_column(Enum(PaymentMode, native_enum=False, length=30))
    # Set when the invoice is settled (in MEG, or once Libeo has paid it).
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    company: Mapped[Company] = relationship()
    supplier: Mapped[Supplier] = relationship()

    @property
    def amount_display(self) -> str:
        return format_amount(self.amount_cents, self.currency)

    @property
    def is_paid(self) -> bool:
        return self.paid_at is not None


def count(query) -> int:
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
