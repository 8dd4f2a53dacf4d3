"""Libeo's accounts (one company, one SIRET) with their plan, users and API keys.

Everything else belongs to an account and is always read through it, so an
account never reaches another's rows.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from core.banks import bank_name
from core.dates import utcnow
from core.money import format_amount
from core.notifications import BounceColumns
from core.security import SessionUser
from core.validators import format_iban, format_siret, mask_iban
from models.libeo.db import Model


def _enum(cls: type[enum.Enum], length: int) -> Enum:
    """Stores the enum's value (« scheduled », « MEG »…), readable in SQL and in indexes."""
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class Plan(enum.Enum):
    """The article's two plans; the value is the name a person reads."""

    GRATUIT = "Gratuit"
    PARTNERSHIPS = "Partnerships"

    @property
    def label(self) -> str:
        return self.value

    @property
    def code(self) -> str:
        return self.name.lower()

    @property
    def payment_limit(self) -> int | None:
        """Payments per calendar month (Europe/Paris); None is unlimited."""
        return 5 if self is Plan.GRATUIT else None

    @property
    def user_limit(self) -> int:
        return 1

    @property
    def accountant_limit(self) -> int:
        return 1

    @property
    def monthly_price_cents(self) -> int:
        return 0 if self is Plan.GRATUIT else 900

    @classmethod
    def from_code(cls, code: str) -> Plan:
        return cls[code.strip().upper()]


NO_DEBTOR_IBAN = ("Aucun IBAN du compte à débiter : vos paiements restent « Programmé » et ne sont pas exécutés. "
                  "Renseignez l'IBAN de l'entreprise dans Libeo, « Configuration » → « Entreprise ».")


class Account(Model):
    """A company using Libeo; the SIRET identifies it."""

    __tablename__ = "account"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # None once a verified account of the company took the SIRET back (``lost_siret``).
    siret: Mapped[str | None] = mapped_column(String(14), unique=True)
    plan: Mapped[Plan] = mapped_column(_enum(Plan, 20), default=Plan.GRATUIT)
    # The expert-comptable the company gave access to (at most one), lower case.
    accountant_email: Mapped[str | None] = mapped_column(String(254))
    # The company's own bank account, debited by the SEPA transfers.
    debtor_iban: Mapped[str | None] = mapped_column(String(34))
    debtor_bic: Mapped[str | None] = mapped_column(String(11))
    # Subscription billing (Stripe), kept in step by its webhooks.
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255))
    subscription_status: Mapped[str | None] = mapped_column(String(40))
    current_period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    # The number of the account's last event (« payment.updated »…): taken
    # under this row's lock, so events are numbered in commit order.
    last_event_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # « Vérifié »: the company's owner proved it (MEG vouched for an Achats
    # administrator of the SIRET, or support checked). Only then are its SEPA files executed.
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_by: Mapped[str | None] = mapped_column(String(254))
    # « Exiger la double authentification pour tous »: every user confirms sensitive operations with a
    # second factor (otherwise only those who enrolled one are asked).
    require_strong_auth: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # « SIRET à confirmer »: the SIRET this account declared, taken back by the company's verified account.
    lost_siret: Mapped[str | None] = mapped_column(String(14))
    siret_lost_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # « Au-delà de … €, un paiement doit être approuvé » (strictly above; None: no such rule).
    approval_threshold_cents: Mapped[int | None] = mapped_column(BigInteger)
    # « Les paiements initiés par l'expert-comptable doivent être approuvés ».
    approve_accountant_payments: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # Separation of duties (« Configuration » → « Approbations »), checked by ``approve_payment``:
    # « La personne qui a demandé un paiement ne peut pas l'approuver »;
    approver_not_requester: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # « Au-delà de … €, deux approbateurs » (strictly above; such a payment is held; None: one approver);
    dual_approval_above_cents: Mapped[int | None] = mapped_column(BigInteger)
    # « L'expert-comptable peut approuver les paiements » (with a Libeo login on the account); when not,
    # not even as an administrator.
    accountant_may_approve: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))

    users: Mapped[list[LibeoUser]] = relationship(back_populates="account", order_by="LibeoUser.id")

    @property
    def payment_limit(self) -> int | None:
        return self.plan.payment_limit

    @property
    def siret_display(self) -> str:
        return format_siret(self.siret) if self.siret else f"à confirmer ({format_siret(self.lost_siret)})"

    @property
    def lost_siret_display(self) -> str:
        return format_siret(self.lost_siret)

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None and self.siret is not None

    @property
    def verified_how(self) -> str:
        """Who verified it, after the « Vérifié » badge: « par MEG (…) », not « Vérifié vérifié par MEG »."""
        how = (self.verified_by or "").strip()
        return how[len("vérifié "):] if how.lower().startswith("vérifié ") else how

    @property
    def approval_threshold_display(self) -> str:
        return format_amount(self.approval_threshold_cents) if self.approval_threshold_cents is not None else ""

    @property
    def dual_approval_display(self) -> str:
        return format_amount(self.dual_approval_above_cents) if self.dual_approval_above_cents is not None else ""

    @property
    def debtor_iban_display(self) -> str:
        return format_iban(self.debtor_iban) if self.debtor_iban else ""

    @property
    def debtor_bank_name(self) -> str | None:
        return bank_name(self.debtor_iban) if self.debtor_iban else None

    @property
    def can_execute_payments(self) -> bool:
        """Whether its SEPA files are made: a bank account to debit, and a verified owner."""
        return self.has_debtor_iban and self.is_verified

    @property
    def has_debtor_iban(self) -> bool:
        return bool(self.debtor_iban)

    @property
    def execution_blocker(self) -> str | None:
        """Why the account's scheduled payments are not executed, in French; None when they are."""
        if not self.is_verified:
            return (
                "Compte non vérifié : vos paiements restent « Programmé » et ne sont pas exécutés tant que la "
                "propriété du SIRET n'est pas confirmée. Un administrateur « Achats » de MEG la "
                "confirme en enregistrant la clé Libeo dans « Options » ou avec « Me connecter avec MEG », ou "
                "contactez le support de Libeo."
            )
        if not self.has_debtor_iban:
            return NO_DEBTOR_IBAN
        return None

    def is_accountant(self, email: str) -> bool:
        return bool(self.accountant_email) and self.accountant_email == email.strip().lower()


class LibeoUser(SessionUser, BounceColumns, Model):
    __tablename__ = "libeo_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    # None for a user who can only sign in another way (e.g. through MEG).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Administrators approve held payments, read the « Journal » and set the rules.
    # The account's creator is one; an invited user is not, unless made so.
    is_admin: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))

    account: Mapped[Account] = relationship(back_populates="users")
    # The header's « À approuver » counter, read with the signed-in person on a page (``LOADED_WITH_THE_PERSON``
    # in blueprints/libeo/factory.py); None when the person was loaded otherwise.
    awaiting_approvals: Mapped[int | None] = query_expression()
    # The account's bank anomalies still to resolve (« Remises » → « À vérifier »), read the same way.
    open_anomalies: Mapped[int | None] = query_expression()

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    @property
    def role_label(self) -> str:
        return "Administrateur" if self.is_admin else "Utilisateur"

    @property
    def can_approve(self) -> bool:
        """Sees « À approuver »: an administrator, or the account's expert-comptable when its rules let them
        approve. Whether they may approve a given payment is ``approval_blocker``'s to say."""
        return self.is_admin or (self.account.accountant_may_approve and self.account.is_accountant(self.email))



REVOKED_BY_MEG = "MEG"
# Who issued or revoked a key in the « Me connecter avec MEG » dance (``meg_link.vouching.MEG_SIGN_IN``): a key it
# revokes is one MEG refused, which MEG never held.
BY_MEG_SIGN_IN = "« Me connecter avec MEG »"


class ApiKey(Model):
    """A key an integration (MEG) uses to call the REST API for one account.

    Only the SHA-256 of the key is kept: keys are 256-bit random secrets, so a
    fast hash is enough and lets every API call check the key cheaply.
    """

    __tablename__ = "api_key"
    __table_args__ = (
        # At most one usable key per integration and account.
        Index(
            "uq_api_key_active",
            "account_id",
            "integration",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    integration: Mapped[str] = mapped_column(String(20), default="meg")
    # The key's public part, looked up first; it is shown as the key's prefix.
    public_id: Mapped[str] = mapped_column(String(16), unique=True)
    prefix: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Who revoked it: « MEG » (« Supprimer la connexion » there), or the Libeo user's e-mail.
    revoked_by: Mapped[str | None] = mapped_column(String(254))
    # MEG gave the key up (« Supprimer la connexion ») while payments were in flight: it only reads the
    # account's payments and events until none is, then it is revoked.
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    account: Mapped[Account] = relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def is_retired(self) -> bool:
        return self.revoked_at is None and self.retired_at is not None

    @property
    def refused_by_meg(self) -> bool:
        return self.revoked_by == BY_MEG_SIGN_IN

    @property
    def revoked_by_label(self) -> str:
        return "MEG (« Supprimer la connexion »)" if self.revoked_by == REVOKED_BY_MEG else (self.revoked_by or "")


class DebtorIbanChange(Model):
    """A change of the account debited by the SEPA files, asked for and, when it must be, confirmed.

    With approval rules, a change waits for a second administrator (or
    support) to confirm it; without, it applies when asked. Either way the
    « Journal » says who and when, with both IBANs masked, and « Remises »
    shows the latest change.
    """

    __tablename__ = "debtor_iban_change"
    __table_args__ = (
        # At most one change waits per account.
        Index("uq_debtor_iban_change_pending", "account_id", unique=True,
              sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
        Index("ix_debtor_iban_change_account", "account_id", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    old_iban: Mapped[str | None] = mapped_column(String(34))
    new_iban: Mapped[str] = mapped_column(String(34))
    new_bic: Mapped[str | None] = mapped_column(String(11))
    # « pending », « applied », « cancelled ».
    status: Mapped[str] = mapped_column(String(20))
    requested_by: Mapped[str] = mapped_column(String(254))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(254))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def is_pending(self) -> bool:
        return self.status == "pending"

    @property
    def old_iban_masked(self) -> str:
        return mask_iban(self.old_iban) if self.old_iban else "aucun"

    @property
    def new_iban_masked(self) -> str:
        return mask_iban(self.new_iban)
