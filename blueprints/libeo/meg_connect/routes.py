"""From MEG's « Payer » to a Libeo account connected to MEG, through MEG's consent.

The views read the request, call one function of ``models.libeo.meg_link``
and follow the step it returns. What the dance needs between requests
lives in Libeo's signed session under ``meg_connect``: the MEG page to
return to (checked again on every read), and between MEG's answer and the
account-creation form, MEG's profile of the person and the access token
(encrypted, usable for ``PENDING_SECONDS``). The token is used once, to
hand the new key to MEG, and never reaches the database.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user

from core.security import safe_next_url
from core.throttle import client_address, configured
from core.validators import format_siret
from core.views import show_domain_error
from models.libeo import LibeoUser
from models.libeo.errors import LibeoError
from models.libeo.meg_link.client import (
    MegProfile,
    authorization_redirect,
    meg_client,
    meg_return_url,
    read_meg_answer,
    seal,
    unseal,
)
from models.libeo.meg_link.vouching import (
    SignInStep,
    confirm_sign_in,
    confirmation,
    continue_sign_in,
    create_account_and_finish,
    squatted,
)

from ..auth.forms import every_signup_problem_shown
from ..extensions import limiter
from ..security.step_up import second_factor_first
from .forms import MegSignupForm

bp = Blueprint("meg_connect", __name__, url_prefix="/connexion-meg")


@bp.record_once
def _register_client(state) -> None:
    from models.libeo.meg_link.client import init_meg_sign_in

    init_meg_sign_in(state.app)


SESSION_KEY = "meg_connect"
BACK_TO_MEG = "back_to_meg"  # the MEG invoice to go back to, read by base.html
PENDING_SECONDS = 30 * 60
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


def _to_confirm() -> tuple[MegProfile, str, bool] | None:
    """MEG's profile and token kept for « Confirmez votre identité » (the key not issued yet, the MEG sign-in
    maybe not bound yet: the third value)."""
    data = _stored().get("confirm") or {}
    token = unseal(data.get("token"), PENDING_SECONDS)
    try:
        profile = MegProfile.from_dict(data["profile"])
    except (KeyError, TypeError):
        return None
    return (profile, token, data.get("bind") is True) if token else None


def _company(profile: MegProfile) -> dict:
    return {"company_name": profile.company_name, "siret": profile.siret}


def _follow(step: SignInStep, access_token: str | None = None):
    """Does what the use case decided: session, login, messages, then the next page (or its refusal)."""
    if step.refused is not None:
        _store(profile=None, token=None, existing=None, confirm=None)
        abort(403, description=step.refused)
    if step.confirm is not None:
        _store(confirm={"profile": step.confirm.as_dict(), "token": seal(access_token), "bind": step.bind}
               if access_token else None)
    elif step.pending is not None:
        _store(profile=step.pending.as_dict(), token=seal(access_token) if access_token else None, existing=None)
    elif step.existing is not None:
        _store(existing={**_company(step.existing), "revoked_on": step.revoked_on}, profile=None, token=None)
    elif step.done:
        _store(profile=None, token=None, existing=None, return_to=None, confirm=None)
    if step.user is not None:
        _log_in(step.user)
    for message, category in step.messages:
        flash(message, category)
    goto = step.goto if "://" in step.goto else url_for(step.goto)
    kept_next = _stored().get("next")
    if step.done:
        _store(next=None)
        if step.goto == "invoices.list_invoices" and kept_next:
            # Signed in from Libeo's login page on the way to a page (a link of MEG's, an e-mail's): that page.
            goto = safe_next_url(kept_next, goto)
    if step.back_to_meg:
        # Kept until followed: « Revenir à la facture dans MEG » stays on every page of Libeo,
        # across the card step of « Abonnement » too (base.html).
        session[BACK_TO_MEG] = step.back_to_meg
    return redirect(goto)


# --- pages -------------------------------------------------------------------------------------


@bp.get("")
def page():
    """Where MEG's « Payer » leads when the company is not connected yet."""
    _remember_return_to()
    return render_template(
        "libeo/meg_connect/page.html", available=meg_client() is not None, return_to=_return_to()
    )


@bp.get("/revenir")
@login_required
def back_to_meg():
    """« Revenir à la facture dans MEG »: to the MEG invoice the person came from (checked again)."""
    target = meg_return_url(session.pop(BACK_TO_MEG, None))
    return redirect(target or url_for("invoices.list_invoices"))


@bp.get("/demarrer")
@limiter.limit("30 per minute", key_func=client_address)
def login():
    """« Me connecter avec MEG »: off to MEG's authorization endpoint (``next``: the page of Libeo the login page
    was asked for, opened once signed in)."""
    _remember_return_to()
    if "next" in request.args:
        _store(next=safe_next_url(request.args.get("next"), "") or None)
    try:
        return authorization_redirect()
    except LibeoError as error:
        flash(error.message, "error")
        return redirect(url_for(".page"))


@bp.get("/retour")
@limiter.limit("30 per minute", key_func=client_address)
def callback():
    """MEG's answer: the account is found, linked, or to be created."""
    try:
        profile, access_token = read_meg_answer()
    except LibeoError as error:
        flash(error.message, "error")
        return redirect(url_for(".page"))
    signed_in = current_user._get_current_object() if current_user.is_authenticated else None
    return _follow(continue_sign_in(profile, access_token, signed_in, _return_to()), access_token)


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
    if form.is_submitted() and every_signup_problem_shown(form, None):
        try:
            step = create_account_and_finish(
                profile, access_token, _return_to(),
                name=form.company_name.data, email=form.email.data, password=form.password.data,
                full_name=form.full_name.data, debtor_iban=form.debtor_iban.data,
                partnerships=form.plan.data == "partnerships" and "billing.subscription" in current_app.view_functions,
            )
        except LibeoError as error:
            if error.code == "siret_taken":
                return _follow(SignInStep("meg_connect.existing", existing=profile))
            show_domain_error(form, error, {"name": "company_name"})
        else:
            return _follow(step, access_token)
    return render_template(
        "libeo/meg_connect/signup.html", form=form, profile=profile, siret=format_siret(profile.siret),
        squatter=squatted(profile.siret) if profile.achats_admin else None, login_url=_login_url(),
    )


@bp.route("/confirmer", methods=["GET", "POST"])
@login_required
def confirm():
    """« Confirmez votre identité » before the MEG sign-in is bound to the account and before the key MEG
    receives is issued, for a person whom sensitive operations ask a second factor (as inviting a user or
    « Créer une clé d'API » in « Intégrations »); then the binding and the connection."""
    kept = _to_confirm()
    user = current_user._get_current_object()
    operation = confirmation(kept[0], user, _return_to(), bind=kept[2]) if kept is not None else None
    if kept is None or operation is None:
        _store(confirm=None)
        flash(EXPIRED, "error")
        return redirect(url_for(".page"))
    profile, access_token, bind = kept
    blocked = second_factor_first(operation)
    if blocked is not None:
        return blocked
    _store(confirm=None)
    return _follow(confirm_sign_in(profile, access_token, user, _return_to(), bind=bind))


def _login_url() -> str:
    # Logging in starts a new session, so the way back rides in ``next``
    # (and is checked again when it comes back).
    return url_for("auth.login", next=url_for(".login", return_to=_return_to()))


@bp.get("/compte-existant")
def existing():
    """The SIRET already has an account: it is linked only once someone logs into it."""
    company = _stored().get("existing")
    if not company:
        return redirect(url_for(".page"))
    return render_template(
        "libeo/meg_connect/existing.html",
        company_name=company["company_name"],
        siret=format_siret(company["siret"]),
        login_url=_login_url(),
        revoked_on=company.get("revoked_on"),
        return_to=_return_to(),
    )
