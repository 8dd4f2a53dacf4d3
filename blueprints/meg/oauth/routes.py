"""The provider's endpoints: consent, token, userinfo, JWKS, discovery."""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import scope_to_list
from authlib.oidc.core.errors import ConsentRequiredError
from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from core.security import content_security_policy, origin_of
from core.throttle import client_address, configured
from models.meg.companies.second_factor import is_enrolled
from models.meg.oauth import COMPANY_SCOPES, KEY_SCOPE
from models.meg.signing import public_jwks

from ..context import current_company
from ..extensions import csrf, limiter
from ..security.routes import second_factor_problem
from .forms import ConsentForm
from .server import (
    authenticate_bearer,
    company_claims,
    deny,
    error_redirect,
    issue_code,
    provider_metadata,
    server,
    user_claims,
)

bp = Blueprint("oauth", __name__)

# Shown when the request cannot be sent back to the application: unknown
# client, a return address that is not one it registered, or a parameter no
# client sends (repeated, over-long, not printable ASCII).
UNTRUSTED_REQUEST = (
    "Cette demande de connexion ne peut pas aboutir : l'application qui l'envoie "
    "n'est pas enregistrée auprès de MEG, son adresse de retour n'est pas celle "
    "qu'elle a déclarée, ou la demande est mal formée. Aucune information n'a été transmise."
)


@bp.route("/oauth/authorize", methods=["GET", "POST"])
@limiter.limit("60 per minute", methods=["POST"])
def authorize():
    user = current_user._get_current_object() if current_user.is_authenticated else None
    try:
        grant = server.get_consent_grant(end_user=user)
        if user is not None and "none" in (request.args.get("prompt") or "").split():
            # MEG always asks: it cannot answer without showing its screen.
            raise ConsentRequiredError(redirect_uri=grant.redirect_uri, state=grant.request.payload.state)
    except OAuth2Error as error:
        if error.redirect_uri:
            return error_redirect(error)
        return render_template("meg/error.html", code=400, message=UNTRUSTED_REQUEST), 400
    if user is None:
        return redirect(url_for("auth.login", next=request.script_root + request.full_path))

    scopes = set(scope_to_list(grant.request.scope) or [])
    form = ConsentForm()
    if scopes & COMPANY_SCOPES:
        form.company_id.choices = [SelectChoice(c.id, c.name) for c in user.companies()]
        if request.method == "GET":
            form.company_id.data = current_company().id
    else:
        del form.company_id

    # Delivering the company's Libeo key is what « Options » asks a code for: the consent asks it too, of a person
    # who enrolled an authentication app. Left empty, the client signs the person in but MEG refuses its key.
    if not (KEY_SCOPE in scopes and is_enrolled(user)):
        del form.second_factor

    if request.method == "POST" and form.deny.data:
        return deny(grant)
    problem = None
    if form.validate_on_submit() and form.allow.data:
        company = user.company(form.company_id.data) if "company_id" in form else None
        given = "second_factor" in form and bool((form.second_factor.data or "").strip())
        problem = second_factor_problem(form.second_factor.data) if given else None
        if problem is None:
            return issue_code(grant, user, company, second_factor=given)
        form.second_factor.errors = [*form.second_factor.errors, problem]
    page = render_template("meg/oauth/authorize.html", form=form, client=grant.client, scopes=scopes)
    headers = {"Cache-Control": "no-store", "Content-Security-Policy": consent_page_policy(grant.redirect_uri)}
    return page, (422 if problem else 200), headers


def consent_page_policy(redirect_uri: str) -> str:
    """MEG's usual CSP, plus the client's origin as a place forms may lead to.

    Browsers apply form-action to the redirect that follows « Autoriser » or
    « Refuser »: without it, a client on another site never gets its answer.
    """
    return content_security_policy({"form-action": (origin_of(redirect_uri),)})


@bp.route("/oauth/token", methods=["POST"])
@csrf.exempt
@limiter.limit(configured("OAUTH_TOKEN_LIMIT"), key_func=client_address)
def issue_token():
    return server.create_token_response()


@bp.route("/oauth/userinfo", methods=["GET", "POST"])
@csrf.exempt
def userinfo():
    try:
        token = authenticate_bearer("openid")
    except OAuth2Error as error:
        status, body, headers = error()
        return jsonify(dict(body)), status, headers
    claims = user_claims(token.user, token.scope) | company_claims(token.user, token.company, token.scope)
    return jsonify(claims), 200, {"Cache-Control": "no-store"}


@bp.route("/oauth/jwks")
def jwks():
    return jsonify(public_jwks())


@bp.route("/.well-known/openid-configuration")
def openid_configuration():
    return jsonify(provider_metadata())
