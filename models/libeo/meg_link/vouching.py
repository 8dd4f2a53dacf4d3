"""« Me connecter avec MEG »: which MEG company is which Libeo account, and what happens next.

MEG (the OpenID Connect provider) says who signs in: its issuer, the user's
``sub`` and the company chosen on MEG's consent screen (id, name, SIRET). A
link ties that MEG company to one Libeo account, and the MEG user to the
Libeo user who logs in with it. An account is only linked by creating it
from MEG or by one of its administrators already logged into it: a SIRET
alone never opens an existing account, and a user who is not an
administrator neither links it nor gives MEG its key (as in « Intégrations »).
A link opens the account with neither password nor code: making one asks the
administrator's second factor first when Libeo asks it of them (as inviting a
user does), and a new password ends the links that open the account as its
person (:func:`_end_meg_sign_ins_on_new_password`).

The views of the dance (``blueprints/libeo/meg_connect``) read MEG's answer
or a form, call :func:`continue_sign_in`, :func:`create_account_and_finish`
or (once the second factor is answered) :func:`confirm_sign_in`, and
follow the :class:`SignInStep` they get back (log a user in, flash, go to a
page). These functions commit: the key Libeo issues must be committed before
MEG checks it against Libeo's API, and revoked in a second commit when MEG
refuses it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import (
    DateTime,
    ForeignKey,
    String,
    UniqueConstraint,
    delete,
    event,
    inspect,
    or_,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from core.dates import datetime_fr, utcnow
from core.french import of
from models.libeo.accounts.keys import MEG, active_api_key, issue_meg_api_key, revoke_api_key
from models.libeo.accounts.models import BY_MEG_SIGN_IN, REVOKED_BY_MEG, Account, ApiKey, LibeoUser, Plan
from models.libeo.accounts.services import (
    SIRET_REVIEW,
    account_for_siret,
    create_account,
    has_activity,
    siret_claimed,
    take_siret_back,
    verify_account,
)
from models.libeo.db import Model, db
from models.libeo.errors import Conflict, LibeoError, NotFound
from models.libeo.journal import JournalEntry, entry_values
from models.libeo.journal import record as journal
from models.libeo.meg_link.client import (
    MAX_CLAIM_LENGTH,
    MegProfile,
    VouchRefused,
    deliver_key,
    meg_error_code,
    meg_message,
    read_vouching_assertion,
)
from models.libeo.notifications.events import meg_connected
from models.libeo.strong_auth.services import Operation, Purpose, is_asked, simple_operation


class MegIdentity(Model):
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
    by = profile.email or "un utilisateur MEG"
    journal(account.id, "meg.linked", f"Compte relié à l'entreprise « {profile.company_name} » de MEG par {by}.",
            profile.email or None)
    meg_connected(account, f"meg-link:{link.id}", profile.company_name, profile.email or None)
    vouch(account, profile)
    return link


def _new_password(user: LibeoUser) -> bool:
    return inspect(user).attrs.password_hash.history.has_changes()


@event.listens_for(Session, "before_flush")
def _end_meg_sign_ins_on_new_password(session: Session, _context, _instances) -> None:
    """A new password ends the MEG sign-ins that open the account as its person, as it ends their sessions:
    whoever bound one with the former password (it alone, for a person Libeo asks no second factor) loses it.
    The next « Me connecter avec MEG » asks to log into the account, then binds it again."""
    changed = [user for user in session.dirty
               if isinstance(user, LibeoUser) and user not in session.deleted and _new_password(user)]
    for user in changed:
        for link in session.scalars(select(MegIdentity).where(MegIdentity.user_id == user.id)):
            session.delete(link)
            session.add(JournalEntry(**entry_values(
                user.account_id, "meg.unlinked",
                f"« Me connecter avec MEG » n'ouvre plus ce compte pour {user.email} : son mot de passe a changé. "
                "Pour le relier de nouveau, connectez-vous au compte puis cliquez sur « Me connecter avec MEG ».",
                user.email)))


def vouch(account: Account, profile: MegProfile) -> None:
    """MEG says an Achats administrator of the SIRET's company is here, and MEG trusts that SIRET: the account
    is « vérifié ». A SIRET MEG never checked makes nobody « vérifié »."""
    if profile.vouches and account.siret == profile.siret:
        verify_account(
            account,
            f"vérifié par MEG ({profile.email or profile.subject}, "
            f"administrateur « Achats » {of(profile.company_name)})",
            profile.email or None,
        )


def vouch_for_key(account: Account, assertion: str, key_id: int) -> Account:
    """The article's first path: MEG's Achats administrator saved this account's key in « Options », and MEG
    signs that it trusts the company's SIRET. The account becomes « vérifié par MEG », as through « Me
    connecter avec MEG », and its administrators are told, once per key (``key_id``), as of a link made
    there. Raises :class:`VouchRefused` (French) when MEG's word does not hold."""
    profile = read_vouching_assertion(assertion)
    if not profile.vouches:
        raise VouchRefused("MEG ne se porte pas garant de cette entreprise (SIRET non confirmé dans MEG, ou "
                           "personne qui n'administre pas « Achats »).")
    if account.siret != profile.siret:
        raise VouchRefused(f"MEG se porte garant du SIRET de « {profile.company_name} », qui n'est pas celui du "
                           f"compte Libeo « {account.name} ».")
    verify_account(
        account,
        f"vérifié par MEG ({profile.email or profile.subject}, administrateur « Achats » de "
        f"{profile.company_name}, clé enregistrée dans « Options »)",
        profile.email or None,
    )
    link = link_for_company(profile)
    if link is None or link.account_id != account.id:  # a link made through « Me connecter avec MEG » told already
        meg_connected(account, f"meg-key:{key_id}", profile.company_name, profile.email or None, with_key=True)
    return account


def squatted(siret: str) -> Account | None:
    """The unverified, unused account holding ``siret``, which a verified claim would take it from."""
    holder = account_for_siret(siret)
    return holder if holder is not None and not holder.is_verified and not has_activity(holder) else None


def _claim_for_review(profile: MegProfile) -> bool:
    """A vouched claim on a SIRET an unverified but used account holds: journaled there for support."""
    holder = account_for_siret(profile.siret)
    if holder is None or holder.is_verified or not has_activity(holder):
        return False
    siret_claimed(holder.id, profile.siret, _claimant(profile), profile.email or None)
    db.session.commit()
    return True


def _claimant(profile: MegProfile) -> str:
    return f"{profile.email or profile.subject}, administrateur « Achats » de « {profile.company_name} » dans MEG"


def create_account_from_meg(
    profile: MegProfile, *, name: str, email: str, password: str, full_name: str = "",
    debtor_iban: str | None = None,
) -> LibeoUser:
    """A new account for the MEG company (its SIRET, never one typed in), linked to it.

    The account starts on « Gratuit »: Partnerships begins once a card is
    accepted (« Abonnement »). Raises ``siret_taken`` if the SIRET already has
    an account, which is then never taken over — unless MEG vouches for an
    Achats administrator of the company and that account is not verified:
    the SIRET then goes to the new, verified account. ``debtor_iban`` (checked, compact): the company's
    account to debit, which MEG does not know, journaled like on Libeo's own sign-up; None to give it later.
    """
    taken_from = None
    if profile.vouches:
        taken_from = take_siret_back(profile.siret, f"vérifié par MEG pour « {profile.company_name} »")
    account = create_account(name, profile.siret, email, password, full_name=full_name, plan=Plan.GRATUIT,
                             debtor_iban=debtor_iban)
    user = account.users[0]
    link_account(profile, user)
    if taken_from is not None:
        journal(account.id, "siret.claimed",
                f"SIRET repris au compte Libeo non vérifié « {taken_from.name} », qui l'utilisait.",
                profile.email or None)
    return user


# --- connecting the account to MEG (its key, delivered with MEG's access token) ----------------

MEG_SIGN_IN = BY_MEG_SIGN_IN


@dataclass(frozen=True)
class Connection:
    """How the automatic connection to MEG went; ``message`` is French, for the person, shown on ``page``
    when it failed (a Libeo endpoint)."""

    established: bool
    message: str
    page: str = "settings.integrations"


def connect_account(account: Account, access_token: str, company_name: str) -> Connection:
    """Creates the account's MEG key and hands it to MEG.

    The key is committed first: MEG checks it against Libeo's API before
    keeping it. If MEG refuses it, it is revoked at once (nobody holds it).
    """
    try:
        api_key = issue_meg_api_key(account, actor=MEG_SIGN_IN)
    except LibeoError as error:
        db.session.rollback()
        return Connection(False, _retry_later(error.message))
    db.session.commit()
    # Handing the same key over again changes nothing in MEG: once more if no answer came back (it may have
    # been lost after MEG kept the key).
    response = deliver_key(api_key, access_token) or deliver_key(api_key, access_token)
    if response is None:
        # MEG may have kept the key before its answer was lost: it stays valid, and nobody can say it did not.
        return Connection(False, MEG_UNHEARD)
    if response.status_code == 200:
        return Connection(True, "La connexion est établie : « Payer » fonctionne maintenant dans MEG.")
    if response.status_code >= 500:  # the key is kept: MEG may have saved it all the same
        return Connection(False, "MEG n'a pas pu enregistrer la connexion. Votre compte Libeo est prêt, mais il "
                                 f"n'est peut-être pas connecté à MEG : réessayez plus tard ; {AGAIN_FROM_MEG}")
    with contextlib.suppress(NotFound):  # already revoked meanwhile (« Révoquer » in « Intégrations »)
        revoke_api_key(account, actor=MEG_SIGN_IN)
    db.session.commit()
    if response.status_code == 403:
        return Connection(False, admin_must_connect(company_name))
    if meg_error_code(response) == MEG_ASKS_SECOND_FACTOR:
        # Back where « Me connecter avec MEG » is, to give MEG the code this time.
        return Connection(False, MEG_CODE_MISSING, page=PAGE)
    return Connection(False, _retry_later(meg_message(response) or "MEG a refusé la connexion."))


# While the account keeps the key it made for MEG, « Me connecter avec MEG » from Libeo signs in without making
# another: MEG's « Payer » (an « Achats » administrator) or a key pasted in « Options » connects it.
AGAIN_FROM_MEG = (
    "dans MEG, cliquez sur « Payer » puis sur « Me connecter avec MEG » ; ou créez une clé dans « Configuration » "
    "→ « Intégrations » et collez-la dans « Options » de MEG."
)
MEG_UNHEARD = (
    "MEG n'a pas répondu quand Libeo lui a remis la clé : Libeo ne peut pas savoir s'il l'a enregistrée. "
    "Vérifiez dans MEG, « Achats » → « Options » : s'il dit « La connexion est établie », « Payer » fonctionne. "
    f"Votre compte Libeo est prêt. Sinon, {AGAIN_FROM_MEG}"
)

# MEG's answer (RFC 9470) when the person enrolled MEG's authentication app and did not give its code at consent.
MEG_ASKS_SECOND_FACTOR = "insufficient_user_authentication"
MEG_CODE_MISSING = (
    "MEG n'a pas enregistré la clé : la double authentification est activée pour vous dans MEG, et son code n'a "
    "pas été saisi sur l'écran d'autorisation de MEG. Votre compte Libeo est prêt : cliquez sur « Me connecter "
    "avec MEG » et saisissez, dans MEG, le code de votre application d'authentification."
)


def revoked_in_libeo(account: Account) -> ApiKey | None:
    """The account's last MEG key, when a person of Libeo revoked it (« Révoquer » in « Intégrations »): MEG's
    « Payer » alone does not connect the account again. None when that key is active, or was revoked by MEG
    (« Supprimer la connexion ») or by « Me connecter avec MEG » (MEG refused it): a key an administrator of the
    account issued since, even one MEG then refused (a Libeo administrator who is no « Achats » administrator
    in MEG), lifts the revocation — an administrator asked to connect MEG again."""
    last = db.session.scalar(select(ApiKey).where(ApiKey.account_id == account.id, ApiKey.integration == MEG)
                             .order_by(ApiKey.id.desc()).limit(1))
    if last is None or last.revoked_at is None or last.revoked_by in (None, REVOKED_BY_MEG, MEG_SIGN_IN):
        return None
    return last


def administrator_must_link(account: Account) -> str:
    """Why a Libeo user who is not an administrator of ``account`` may not link it to MEG."""
    return (
        f"Seuls les administrateurs du compte Libeo {of(account.name)} peuvent le relier à MEG : la connexion "
        "donne à MEG la clé d'API avec laquelle il paie depuis ce compte. Demandez à un administrateur du compte "
        "de cliquer sur « Me connecter avec MEG », ou de créer la clé dans « Configuration » → « Intégrations ». "
        "Rien n'a été modifié."
    )


def admin_must_connect(company_name: str) -> str:
    return (
        f"Votre compte Libeo est prêt, mais il n'est pas encore connecté à MEG : seul un administrateur "
        f"du module « Achats » {of(company_name)} peut le connecter. Demandez-lui de cliquer sur « Payer » "
        "dans MEG puis sur « Me connecter avec MEG », ou de coller dans « Options » la clé que vous "
        "créerez dans « Configuration » → « Intégrations »."
    )


def _retry_later(cause: str) -> str:
    return (
        f"{cause} Votre compte Libeo est prêt, mais il n'est pas encore connecté à MEG : "
        "réessayez plus tard avec « Me connecter avec MEG », ou depuis « Configuration » → « Intégrations »."
    )


# --- the steps of the dance -------------------------------------------------------------------


@dataclass(frozen=True)
class SignInStep:
    """What the view does next, in this order: log ``user`` in, flash ``messages``, go on.

    ``goto`` is a Libeo endpoint, or an absolute address of MEG (``return_to``);
    ``pending`` tells the view to keep MEG's profile and token for the
    account-creation form; ``existing`` to show « compte existant » for that company;
    ``confirm`` to keep them for « Confirmez votre identité », the second factor asked
    before the key is issued — and, with ``bind``, before the MEG sign-in is bound to the account (then
    :func:`confirm_sign_in`); ``refused`` to answer with that French refusal (403), nothing changed.
    """

    goto: str
    user: LibeoUser | None = None
    messages: tuple[tuple[str, str], ...] = ()
    back_to_meg: str | None = None
    pending: MegProfile | None = None
    existing: MegProfile | None = None
    confirm: MegProfile | None = None
    bind: bool = False
    done: bool = field(default=False)
    refused: str | None = None
    revoked_on: str | None = None  # with ``existing``: when an administrator of the account revoked MEG's key


PAGE, SIGNUP, EXISTING = "meg_connect.page", "meg_connect.signup", "meg_connect.existing"
CONFIRM = "meg_connect.confirm"


def continue_sign_in(profile: MegProfile, access_token: str, signed_in: LibeoUser | None,
                     return_to: str | None) -> SignInStep:
    """After MEG's consent: link, log in, connect, or ask to create or log into the account."""
    if signed_in is not None and signed_in.account.siret == profile.siret:
        # Logged into the company's account: this is how an existing account gets linked, by an administrator.
        if not signed_in.is_admin:
            return SignInStep(PAGE, refused=administrator_must_link(signed_in.account))
        if is_asked(signed_in):
            # The link will open the account without password nor code: its second factor first.
            return SignInStep(CONFIRM, confirm=profile, bind=True)
        return _bind_and_finish(profile, access_token, signed_in, return_to)

    link = link_for_company(profile)
    if link is not None and link.account.siret != profile.siret:
        link = None  # the company's SIRET changed in MEG: that account is not this company's
    if link is not None and profile.vouches and not link.account.is_verified:
        vouch(link.account, profile)
        db.session.commit()
    if link is not None and link.subject == profile.subject:
        return finish_sign_in(link.account, profile, access_token, return_to, user=link.user)
    if link is not None and profile.achats_admin and return_to:
        # Another MEG user of the company opened the account; an Achats
        # administrator may still connect it to MEG, without entering Libeo…
        revoked = revoked_in_libeo(link.account)
        if revoked is not None:
            # …unless an administrator of the account revoked MEG's key in Libeo: only one of them undoes that.
            return SignInStep(EXISTING, existing=profile, revoked_on=datetime_fr(revoked.revoked_at))
        connection = connect_account(link.account, access_token, profile.company_name)
        if connection.established:
            return SignInStep(return_to, done=True)
        return SignInStep(PAGE, messages=((connection.message, "error"),))
    if link is None and profile.vouches and squatted(profile.siret) is not None:
        # An unverified account holds the SIRET: the company's administrator may take it back.
        return SignInStep(SIGNUP, pending=profile)
    if link is None and profile.vouches and _claim_for_review(profile):
        return SignInStep(EXISTING, existing=profile, messages=((SIRET_REVIEW, "warning"),))
    if link is not None or account_for_siret(profile.siret) is not None:
        return SignInStep(EXISTING, existing=profile)
    return SignInStep(SIGNUP, pending=profile)


def create_account_and_finish(profile: MegProfile, access_token: str, return_to: str | None, *, name: str,
                              email: str, password: str, full_name: str, partnerships: bool,
                              debtor_iban: str | None = None) -> SignInStep:
    """The account-creation form, sent: the account, its link to MEG, then the connection.

    Raises :class:`LibeoError` for the form (``siret_taken`` when the SIRET
    got an account meanwhile: the view then shows « compte existant »).
    """
    try:
        user = create_account_from_meg(profile, name=name, email=email, password=password, full_name=full_name,
                                       debtor_iban=debtor_iban)
    except LibeoError as error:
        db.session.rollback()
        if error.code == "siret_review":
            _claim_for_review(profile)
        raise
    db.session.commit()
    return finish_sign_in(user.account, profile, access_token, return_to, user=user, partnerships=partnerships)


def _bind_and_finish(profile: MegProfile, access_token: str, user: LibeoUser, return_to: str | None, *,
                     confirmed: bool = False) -> SignInStep:
    """Binds the MEG sign-in to the account ``user`` is logged into, then connects it (:func:`finish_sign_in`)."""
    try:
        link_account(profile, user)
    except LibeoError as error:
        db.session.rollback()
        return SignInStep(PAGE, messages=((error.message, "error"),))
    db.session.commit()
    return finish_sign_in(user.account, profile, access_token, return_to, by=user, confirmed=confirmed)


def confirmation(profile: MegProfile, user: LibeoUser, return_to: str | None, *, bind: bool) -> Operation | None:
    """What « Confirmez votre identité » confirms for ``user``, who is logged in: binding the MEG sign-in to their
    account (``bind``) and issuing the key MEG receives, as far as each is still to do. None when what was kept
    no longer holds (the company linked elsewhere since, another account, a user who is not an administrator):
    the dance starts again."""
    account = user.account
    if bind:
        if account.siret != profile.siret or not user.is_admin:
            return None
    else:
        link = link_for_company(profile)
        if link is None or link.account_id != account.id:
            return None
    lines = []
    if bind:
        who = profile.email or "cet utilisateur de MEG"
        lines.append(f"Relier ce compte Libeo à « {profile.company_name} » dans MEG : « Me connecter avec MEG » "
                     f"ouvrira ce compte Libeo à {who}, sans mot de passe ni code")
    connects = not bind or _connects(account, profile, return_to)
    if connects:
        lines.append(f"Connecter Libeo à MEG : créer la clé d'API que MEG recevra pour « {profile.company_name} »")
    return simple_operation(Purpose.API_KEYS if connects else Purpose.USERS, *lines)


def confirm_sign_in(profile: MegProfile, access_token: str, user: LibeoUser, return_to: str | None, *,
                    bind: bool) -> SignInStep:
    """Once « Confirmez votre identité » is answered: the binding if it was asked, then the connection."""
    if bind:
        return _bind_and_finish(profile, access_token, user, return_to, confirmed=True)
    return finish_sign_in(user.account, profile, access_token, return_to, by=user, confirmed=True)


def _connects(account: Account, profile: MegProfile, return_to: str | None) -> bool:
    """Whether signing in issues a key for MEG: the account has none, or MEG's « Payer » sent an Achats
    administrator, who may connect the company again."""
    return active_api_key(account) is None or bool(return_to and profile.achats_admin)


def finish_sign_in(account: Account, profile: MegProfile, access_token: str, return_to: str | None, *,
                   user: LibeoUser | None = None, partnerships: bool = False, by: LibeoUser | None = None,
                   confirmed: bool = False) -> SignInStep:
    """Connects the account to MEG if needed, then back to the invoice the person wanted to pay.

    The connection issues an API key: a Libeo person (``user``, logged in by this step, or ``by``, already
    logged in) must be an administrator of the account, and one whom sensitive operations ask for a second
    factor is asked it first, as creating a key in « Intégrations » does — the step says so (``confirm``) and
    nothing is issued until ``confirmed``.
    """
    person = user or by
    connection: Connection | None
    if _connects(account, profile, return_to):
        if person is not None and not person.is_admin:
            connection = Connection(False, administrator_must_link(account))
        elif not confirmed and person is not None and is_asked(person):
            return SignInStep(CONFIRM, user=user, confirm=profile)
        else:
            connection = connect_account(account, access_token, profile.company_name)
    elif return_to:
        connection = Connection(False, admin_must_connect(profile.company_name))
    else:
        connection = None
    messages: list[tuple[str, str]] = []
    if partnerships:
        messages.append((
            "Votre compte Libeo est créé en formule Gratuit. Pour passer à Partnerships (9 € HT / mois, sans "
            "engagement), saisissez votre carte bancaire ci-dessous.",
            "success",
        ))
        return _stay_in_libeo("billing.subscription", user, messages, connection, return_to)
    if connection is not None and not connection.established:
        return _stay_in_libeo(connection.page, user, messages, connection, return_to)
    if return_to:
        if connection is not None:  # established: MEG says so on the invoice, where « Payer » now works
            return_to = said_connected(return_to)
        return SignInStep(return_to, user=user, done=True)
    messages.append((f"Vous êtes connecté au compte Libeo {of(account.name)}.", "success"))
    if connection is not None:  # established: say so, as « Payer » in MEG now works
        messages.append((connection.message, "success"))
    return SignInStep("invoices.list_invoices", user=user, messages=tuple(messages), done=True)


def said_connected(return_to: str) -> str:
    """MEG's page ``return_to`` asked to say that the connection was just established (``connexion=etablie``:
    MEG says it only if its connection is active)."""
    parts = urlsplit(return_to)
    query = "&".join(part for part in (parts.query, "connexion=etablie") if part)
    return urlunsplit(parts._replace(query=query))


def _stay_in_libeo(endpoint: str, user: LibeoUser | None, messages: list, connection: Connection | None,
                   return_to: str | None) -> SignInStep:
    if connection is not None:
        messages.append((connection.message, "success" if connection.established else "error"))
    return SignInStep(endpoint, user=user, messages=tuple(messages), back_to_meg=return_to, done=True)
