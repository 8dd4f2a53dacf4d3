"""MEG's companies, their users and each user's role in « Achats »; the accountants' firms."""

from __future__ import annotations

import enum
from datetime import datetime
from functools import cache

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    DateTime,
    Enum,
    ForeignKey,
    String,
    UniqueConstraint,
    bindparam,
    select,
    union,
)
from sqlalchemy.orm import Mapped, aliased, mapped_column, relationship

from core.dates import utcnow
from core.notifications import BounceColumns
from core.security import SessionUser
from core.validators import format_siret
from models.meg.db import Model, db


class AchatsRole(enum.Enum):
    ADMIN = "administrateur"
    USER = "utilisateur"


class AccountingFirm(Model):
    """A firm of expert-comptables working for several client companies."""

    __tablename__ = "accounting_firm"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))

    clients: Mapped[list[Company]] = relationship(back_populates="accounting_firm", order_by="Company.name")


class Company(Model):
    __tablename__ = "company"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # 14 digits, checked on entry; None for organisations without one.
    siret: Mapped[str | None] = mapped_column(String(14), unique=True)
    accounting_firm_id: Mapped[int | None] = mapped_column(ForeignKey("accounting_firm.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Who or what vouches that the SIRET is this company's (its expert-comptable, or the registry):
    # until then MEG vouches for nobody in Libeo (models/meg/companies/siret_trust.py).
    siret_trusted_by: Mapped[str | None] = mapped_column(String(300))
    siret_trusted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When someone other than the company's expert-comptable last changed its name in MEG (None: the name the
    # company was opened with, or one its expert-comptable gave): the registry no longer confirms a SIRET by it.
    renamed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    accounting_firm: Mapped[AccountingFirm | None] = relationship(back_populates="clients")

    @property
    def siret_display(self) -> str:
        return format_siret(self.siret) if self.siret else "Pas de SIRET"

    @property
    def siret_trusted(self) -> bool:
        return bool(self.siret and self.siret_trusted_by)


class User(SessionUser, BounceColumns, Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    # Set for an expert-comptable: the firm whose client companies they serve.
    accounting_firm_id: Mapped[int | None] = mapped_column(ForeignKey("accounting_firm.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    accounting_firm: Mapped[AccountingFirm | None] = relationship()
    roles: Mapped[list[ModuleRole]] = relationship(back_populates="user", cascade="all, delete-orphan")


    @property
    def is_accountant(self) -> bool:
        return self.accounting_firm_id is not None

    def companies_query(self):
        """The companies this user may open, by name."""
        direct = select(ModuleRole.company_id).where(ModuleRole.user_id == self.id)
        condition: ColumnElement[bool] = Company.id.in_(direct)
        if self.accounting_firm_id is not None:
            condition = condition | (Company.accounting_firm_id == self.accounting_firm_id)
        return select(Company).where(condition).order_by(Company.name, Company.id)

    def companies(self) -> list[Company]:
        """The companies this user may open; the user's « Achats » role in each is read by the same
        statement, so that :meth:`achats_role` needs no other for them. A user read by
        :func:`load_with_companies` (the signed-in person of a page) already holds them."""
        kept = self.__dict__.get("_companies")
        if kept is not None:
            return list(kept)
        rows = db.session.execute(_companies_with_achats_role(self.accounting_firm_id is not None),
                                  {"user_id": self.id, "firm_id": self.accounting_firm_id})
        return self._keep_roles(rows)

    def _keep_roles(self, rows) -> list[Company]:
        known = self.__dict__.setdefault("_achats_roles", {})
        companies = []
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
    condition: ColumnElement[bool] = Company.id.in_(
        select(ModuleRole.company_id).where(ModuleRole.user_id == bindparam("user_id")))
    if through_firm:
        condition = condition | (Company.accounting_firm_id == bindparam("firm_id"))
    return (
        select(Company, role.role)
        .outerjoin(role, (role.company_id == Company.id) & (role.user_id == bindparam("user_id"))
                   & (role.module == "achats"))
        .where(condition)
        .order_by(Company.name, Company.id)
    )


def load_with_companies(user_id: int) -> User | None:
    """The user of a session and the companies they may open, each with their « Achats » role, in one
    statement (the login loader's: every MEG page reads both, the company switcher lists them). The user
    keeps them for its life, a request (:meth:`User.companies`)."""
    rows = db.session.execute(_person_with_companies(), {"user_id": user_id}).all()
    if not rows:
        return None
    user = rows[0][0]
    user.__dict__["_companies"] = user._keep_roles((company, role) for _, company, role in rows if company is not None)
    return user


@cache
def _person_with_companies():
    """:func:`load_with_companies`' statement: the user, left-joined to each company they may open (theirs
    through a role, and their firm's clients for an expert-comptable), with the role. Both lists are
    read through their indexes (``module_role.user_id``, ``company.accounting_firm_id``), as
    :meth:`User.companies` reads them; PostgreSQL then finds the companies by their key, or hashes the
    whole table when it is small (a thousand companies: 0.05 ms)."""
    user_id: BindParameter[int] = bindparam("user_id")
    role, firm_of = aliased(ModuleRole), aliased(User)
    openable = union(
        select(ModuleRole.company_id).where(ModuleRole.user_id == user_id),
        select(Company.id).where(Company.accounting_firm_id == select(firm_of.accounting_firm_id)
                                 .where(firm_of.id == user_id).scalar_subquery()),
    )
    return (
        select(User, Company, role.role)
        .select_from(User)
        .outerjoin(Company, Company.id.in_(openable))
        .outerjoin(role, (role.company_id == Company.id) & (role.user_id == user_id) & (role.module == "achats"))
        .where(User.id == user_id)
        .order_by(Company.name, Company.id)
    )


class ModuleRole(Model):
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
