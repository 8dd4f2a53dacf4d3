"""Accounts opened with « Me connecter avec MEG »: which MEG company is which Libeo account.

MEG (the OpenID Connect provider) says who signs in: its issuer, the user's
``sub`` and the company chosen on MEG's consent screen (id, name, SIRET). A
link ties that MEG company to one Libeo account, and the MEG user to the
Libeo user who logs in with it. An account is only linked by creating it
from MEG or by a user already logged into it: a SIRET alone never opens an
existing account.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.dates import utcnow

from . import db
from .accounts import check_siret, create_account
from .entities import Account, LibeoUser, Plan
from .errors import Conflict, InvalidData, LibeoError

MAX_CLAIM_LENGTH = 255


class MegIdentity(db.Model):
    """The link between a MEG company (and the MEG user who made it) and a Libeo account."""

    __tablename__ = "meg_identity"
    __table_args__ = (UniqueConstraint("issuer", "company_ref", name="uq_meg_identity_company"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(MAX_CLAIM_LENGTH))
    # MEG's id of the company, kept as text: Libeo does not rely on its type.
    company_ref: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(MAX_CLAIM_LENGTH))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("libeo_user.id", ondelete="CASCADE"), index=True)
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    account: Mapped[Account] = relationship()
    user: Mapped[LibeoUser] = relationship()


class NoSiret(LibeoError):
    """The MEG company has no SIRET: Libeo cannot open an account for it."""

    code = "no_siret"


@dataclass(frozen=True)
class MegProfile:
    """What MEG's signed ID token says about the person and the company they chose."""

    issuer: str
    subject: str
    company_ref: str
    company_name: str
    siret: str
    email: str
    full_name: str
    achats_admin: bool

    @classmethod
    def from_claims(cls, claims: dict) -> "MegProfile":
        """Checks the claims; raises :class:`NoSiret` or :class:`InvalidData` in French."""
        issuer, subject = _claim(claims, "iss"), _claim(claims, "sub")
        company_ref = _claim(claims, "company_id", max_length=64)
        company_name = _claim(claims, "company_name", max_length=200)
        if not (issuer and subject and company_ref and company_name):
            raise InvalidData(
                "MEG n'a pas transmis l'entreprise choisie : recommencez et choisissez l'entreprise "
                "sur l'écran d'autorisation de MEG."
            )
        if not claims.get("company_siret"):
            raise NoSiret(
                f"« {company_name} » n'a pas de SIRET dans MEG : Libeo est réservé aux entreprises qui en ont un. "
                "Renseignez le SIRET de l'entreprise dans MEG, puis recommencez. Aucun compte n'a été créé."
            )
        try:
            siret = check_siret(str(claims["company_siret"]))
        except InvalidData as exc:
            raise InvalidData(f"Le SIRET transmis par MEG pour « {company_name} » n'est pas valide.", "siret") from exc
        return cls(
            issuer=issuer,
            subject=subject,
            company_ref=company_ref,
            company_name=company_name,
            siret=siret,
            email=_claim(claims, "email", max_length=254),
            full_name=_claim(claims, "name", max_length=200),
            achats_admin=claims.get("company_achats_admin") is True,
        )

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "MegProfile":
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def _claim(claims: dict, name: str, max_length: int = MAX_CLAIM_LENGTH) -> str:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return ""
    text = str(value).strip()
    return text if len(text) <= max_length and text.isprintable() else ""


def link_for_company(profile: MegProfile) -> MegIdentity | None:
    return db.session.scalar(
        select(MegIdentity).where(MegIdentity.issuer == profile.issuer, MegIdentity.company_ref == profile.company_ref)
    )


def link_account(profile: MegProfile, user: LibeoUser) -> MegIdentity:
    """Ties the MEG company and user to ``user``'s account, replacing older links of either.

    Only for a user who has proved they belong to the account (just created
    it, or is logged into it) and whose account has the company's SIRET.
    """
    account = user.account
    if account.siret != profile.siret:
        raise Conflict(
            f"Le compte Libeo « {account.name} » n'a pas le SIRET de « {profile.company_name} » : "
            "il ne peut pas être lié à cette entreprise MEG."
        )
    db.session.execute(
        delete(MegIdentity).where(
            or_(
                MegIdentity.account_id == account.id,
                (MegIdentity.issuer == profile.issuer) & (MegIdentity.company_ref == profile.company_ref),
            )
        )
    )
    link = MegIdentity(
        issuer=profile.issuer,
        company_ref=profile.company_ref,
        subject=profile.subject,
        account_id=account.id,
        user_id=user.id,
    )
    db.session.add(link)
    try:
        db.session.flush()
    except IntegrityError as exc:
        # The same company was linked by another request at this very moment.
        db.session.rollback()
        raise Conflict("Cette entreprise MEG vient d'être liée à un compte Libeo : recommencez.") from exc
    return link


def create_account_from_meg(
    profile: MegProfile, *, name: str, email: str, password: str, full_name: str = ""
) -> LibeoUser:
    """A new account for the MEG company (its SIRET, never one typed in), linked to it.

    The account starts on « Gratuit »: Partnerships begins once a card is
    accepted (« Abonnement »). Raises ``siret_taken`` if the SIRET already has
    an account, which is then never taken over.
    """
    account = create_account(name, profile.siret, email, password, full_name=full_name, plan=Plan.GRATUIT)
    user = account.users[0]
    link_account(profile, user)
    return user
