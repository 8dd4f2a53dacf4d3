"""From MEG's « Payer » to a Libeo account connected to MEG, through MEG's consent.

What the dance needs between requests lives in Libeo's signed session under
``meg_connect``: the MEG page to return to (checked again on every read), and
between MEG's answer and the account-creation form, MEG's profile of the
person and the access token (encrypted, usable for ``PENDING_SECONDS``). The
token is used once, to hand the new key to MEG, and never reaches the database.
"""

from __future__ import annotations

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user
from joserfc.errors import JoseError
from markupsafe import Markup

from core.throttle import client_address, configured
from core.validators import format_siret
from core.views import show_domain_error
from models.libeo import Account, LibeoUser, db
from models.libeo.accounts import account_for_siret
from models.libeo.errors import LibeoError
from models.libeo.keys import active_api_key
from models.libeo.meg_identity import MegProfile, create_account_from_meg, link_account, link_for_company

from ..extensions import limiter
from . import bp
from .client import Connection, admin_must_connect, connect_account, meg_client, meg_return_url, redirect_uri, seal, unseal
from .forms import MegSignupForm

SESSION_KEY = "meg_connect"
PENDING_SECONDS = 30 * 60

UNAVAILABLE = "La connexion avec MEG n'est pas configurée sur ce serveur Libeo."
MEG_DOWN = "MEG ne répond pas pour le moment : réessayez dans quelques instants. Rien n'a été créé."
STATE_MISMATCH = (
    "Cette réponse de MEG ne correspond pas à une demande partie de ce navigateur : elle est refusée "
    "et rien n'a été créé. Cliquez de nouveau sur « Me connecter avec MEG »."
)
DENIED = "Vous n'avez pas autorisé Libeo dans MEG : aucun compte n'a été créé."
FAILED = "La connexion avec MEG n'a pas abouti et rien n'a été créé : cliquez de nouveau sur « Me connecter avec MEG »."
EXPIRED = "Votre connexion avec MEG a expiré : cliquez de nouveau sur « Me connecter avec MEG »."


# --- what the dance keeps in the session -------------------------------------------------------


def _stored() -> dict:
    return dict(session.get(SESSION_KEY) or {})


def _store(**changes) -> None:
    data = _stored() | changes
    session[SESSION_KEY] = {name: value for name, value in data.items() if value is not None}


def _return_to() -> str | None:
    return meg_return_url(_stored().get("return_to"))


def _remember_return_to() -> None:
    """A ``return_to`` in the address replaces the stored one; an invalid one is dropped."""
    if "return_to" in request.args:
        _store(return_to=meg_return_url(request.args.get("return_to")))


def _pending() -> tuple[MegProfile, str] | None:
    data = _stored()
    token = unseal(data.get("token"), PENDING_SECONDS)
    try:
        profile = MegProfile.from_dict(data["profile"])
    except (KeyError, TypeError):
        return None
    return (profile, token) if token else None


def _log_in(user: LibeoUser) -> None:
    # A new session for a new login; only the dance's own data carries over.
    kept = session.get(SESSION_KEY)
    session.clear()
    if kept:
        session[SESSION_KEY] = kept
    login_user(user)


# --- pages -------------------------------------------------------------------------------------


@bp.get("")
def page():
    """Where MEG's « Payer » leads when the company is not connected yet."""
    _remember_return_to()
    return render_template(
        "libeo/meg_connect/page.html", available=meg_client() is not None, return_to=_return_to()
    )


@bp.get("/demarrer")
@limiter.limit("30 per minute", key_func=client_address)
def login():
    """« Me connecter avec MEG »: off to MEG's authorization endpoint (PKCE S256, state, nonce)."""
    _remember_return_to()
    client = meg_client()
    if client is None:
        flash(UNAVAILABLE, "error")
        return redirect(url_for(".page"))
    try:
        return client.authorize_redirect(redirect_uri())
    except (requests.RequestException, ValueError, RuntimeError):
        flash(MEG_DOWN, "error")
        return redirect(url_for(".page"))


@bp.get("/retour")
@limiter.limit("30 per minute", key_func=client_address)
def callback():
    """MEG's answer: the code is exchanged and the ID token checked, then the account is found or made."""
    client = meg_client()
    if client is None:
        flash(UNAVAILABLE, "error")
        return redirect(url_for(".page"))
    try:
        token = client.authorize_access_token()
        access_token = token["access_token"]
        profile = MegProfile.from_claims(dict(token.get("userinfo") or {}))
    except MismatchingStateError:
        flash(STATE_MISMATCH, "error")
        return redirect(url_for(".page"))
    except OAuthError as error:
        flash(DENIED if error.error == "access_denied" else FAILED, "error")
        return redirect(url_for(".page"))
    except LibeoError as error:
        flash(error.message, "error")
        return redirect(url_for(".page"))
    except requests.RequestException:
        flash(MEG_DOWN, "error")
        return redirect(url_for(".page"))
    except (AuthlibBaseError, JoseError, ValueError, KeyError):
        flash(FAILED, "error")
        return redirect(url_for(".page"))
    return _continue_with(profile, access_token)


def _continue_with(profile: MegProfile, access_token: str):
    if current_user.is_authenticated and current_user.account.siret == profile.siret:
        # Logged into the company's account: this is how an existing account gets linked.
        user = current_user._get_current_object()
        try:
            link_account(profile, user)
        except LibeoError as error:
            flash(error.message, "error")
            return redirect(url_for(".page"))
        db.session.commit()
        return _finish(user.account, profile, access_token)

    link = link_for_company(profile)
    if link is not None and link.account.siret != profile.siret:
        link = None  # the company's SIRET changed in MEG: that account is not this company's
    if link is not None and link.subject == profile.subject:
        _log_in(link.user)
        return _finish(link.account, profile, access_token)
    if link is not None and profile.achats_admin and _return_to():
        # Another MEG user of the company opened the account; an Achats
        # administrator may still connect it to MEG, without entering Libeo.
        connection = connect_account(link.account, access_token, profile.company_name)
        if connection.established:
            return redirect(_return_to())
        flash(connection.message, "error")
        return redirect(url_for(".page"))
    if link is not None or account_for_siret(profile.siret) is not None:
        _store(existing={"company_name": profile.company_name, "siret": profile.siret}, profile=None, token=None)
        return redirect(url_for(".existing"))
    _store(profile=profile.as_dict(), token=seal(access_token), existing=None)
    return redirect(url_for(".signup"))


@bp.route("/compte", methods=["GET", "POST"])
@limiter.limit(configured("SIGNUP_LIMIT"), key_func=client_address, methods=["POST"])
def signup():
    """The account-creation step, pre-filled from MEG: name, SIRET (read-only), e-mail; plan; terms."""
    pending = _pending()
    if pending is None:
        flash(EXPIRED, "error")
        return redirect(url_for(".page"))
    profile, access_token = pending
    form = MegSignupForm()
    if not form.is_submitted():
        form.company_name.data = profile.company_name
        form.email.data = profile.email
        form.full_name.data = profile.full_name
    if form.validate_on_submit():
        try:
            user = create_account_from_meg(
                profile,
                name=form.company_name.data,
                email=form.email.data,
                password=form.password.data,
                full_name=form.full_name.data,
            )
        except LibeoError as error:
            db.session.rollback()
            if error.code == "siret_taken":
                _store(existing={"company_name": profile.company_name, "siret": profile.siret}, profile=None, token=None)
                return redirect(url_for(".existing"))
            show_domain_error(form, error, {"name": "company_name"})
        else:
            db.session.commit()
            _log_in(user)
            return _finish(user.account, profile, access_token, partnerships=form.plan.data == "partnerships")
    return render_template(
        "libeo/meg_connect/signup.html", form=form, profile=profile, siret=format_siret(profile.siret)
    )


@bp.get("/compte-existant")
def existing():
    """The SIRET already has an account: it is linked only once someone logs into it."""
    company = _stored().get("existing")
    if not company:
        return redirect(url_for(".page"))
    # Logging in starts a new session, so the way back rides in ``next``
    # (and is checked again when it comes back).
    login_url = url_for("auth.login", next=url_for(".login", return_to=_return_to()))
    return render_template(
        "libeo/meg_connect/existing.html",
        company_name=company["company_name"],
        siret=format_siret(company["siret"]),
        login_url=login_url,
    )


# --- the end of the dance ----------------------------------------------------------------------


def _finish(account: Account, profile: MegProfile, access_token: str, partnerships: bool = False):
    """Connects the account to MEG if needed, then back to the invoice the person wanted to pay."""
    return_to = _return_to()
    if active_api_key(account) is None or (return_to and profile.achats_admin):
        connection: Connection | None = connect_account(account, access_token, profile.company_name)
    elif return_to:
        connection = Connection(False, admin_must_connect(profile.company_name))
    else:
        connection = None
    _store(profile=None, token=None, existing=None, return_to=None)

    if partnerships and "billing.subscription" in current_app.view_functions:
        flash(
            "Votre compte Libeo est créé en formule Gratuit. Pour passer à Partnerships (9 € / mois, sans "
            "engagement), saisissez votre carte bancaire ci-dessous.",
            "success",
        )
        return _stay_in_libeo("billing.subscription", connection, return_to)
    if connection is not None and not connection.established:
        return _stay_in_libeo("settings.integrations", connection, return_to)
    if return_to:
        return redirect(return_to)
    flash(f"Vous êtes connecté au compte Libeo de {account.name}.", "success")
    return redirect(url_for("invoices.list_invoices"))


def _stay_in_libeo(endpoint: str, connection: Connection | None, return_to: str | None):
    if connection is not None:
        flash(connection.message, "success" if connection.established else "error")
    if return_to:
        flash(Markup('<a href="{}">Revenir à la facture dans MEG</a>').format(return_to), "info")
    return redirect(url_for(endpoint))
