"""MEG's API for OAuth clients: Libeo delivers a company's API key here."""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, jsonify, request

from core.text import UnsafeText, door_json
from models.meg import db
from models.meg.companies.second_factor import is_enrolled
from models.meg.libeo_link.connection import LibeoLinkError
from models.meg.libeo_link.reconnecting import connect_libeo
from models.meg.oauth import KEY_SCOPE

from ..extensions import csrf
from ..oauth.server import authenticate_bearer

bp = Blueprint("api", __name__)

ADMIN_ONLY = "Seul un administrateur du module « Achats » peut connecter Libeo."
TOKEN_MESSAGES = {
    "insufficient_scope": "Ce jeton d'accès ne donne pas le droit de connecter Libeo à MEG.",
}
BAD_TOKEN = "Jeton d'accès MEG absent, invalide, expiré ou révoqué."
SECOND_FACTOR_MISSING = (
    "La double authentification est activée pour vous dans MEG, et le code de votre application "
    "d'authentification n'a pas été saisi sur l'écran d'autorisation de MEG : la clé n'est pas enregistrée. "
    "Recommencez « Me connecter avec MEG » et saisissez ce code quand MEG le demande."
)
# RFC 9470: the token is valid, but the person's authentication when it was given is not enough for this call.
STEP_UP = "insufficient_user_authentication"


def api_error(status: int, code: str, message: str, headers=None):
    return jsonify(error={"code": code, "message": message}), status, headers or []


@bp.route("/api/v1/libeo-key", methods=["PUT"])
@csrf.exempt
def deliver_libeo_key():
    """Connects the token's company to Libeo with the key Libeo made for MEG."""
    try:
        token = authenticate_bearer(KEY_SCOPE)
    except OAuth2Error as error:
        message = TOKEN_MESSAGES.get(error.error, BAD_TOKEN)
        return api_error(error.status_code, error.error, message, error.get_headers())
    user, company = token.user, token.company
    # Rights are read now, not at consent: a role withdrawn since then counts.
    if company is None or user.company(company.id) is None or not user.is_achats_admin(company):
        return api_error(403, "forbidden", ADMIN_ONLY)
    # As « Options »: a person who enrolled an authentication app saves a key only with its code, here the one
    # the consent screen asked (enrolled since the consent counts too).
    if is_enrolled(user) and not token.second_factor_verified:
        return api_error(401, STEP_UP, SECOND_FACTOR_MISSING, [("WWW-Authenticate", f'Bearer error="{STEP_UP}"')])
    try:
        body = door_json(request.get_json(silent=True))
    except UnsafeText as refused:
        return api_error(400, "invalid_request", refused.message)
    except RecursionError:  # nested deeper than the parser, or the door, goes (silent=True silences ValueError only)
        body = None  # answered as any body that is not JSON
    api_key = body.get("api_key") if isinstance(body, dict) else None
    if not isinstance(api_key, str):
        return api_error(400, "invalid_request", "Envoyez un objet JSON de la forme {\"api_key\": \"…\"}.")
    try:
        connection = connect_libeo(company, api_key, user)
    except LibeoLinkError as error:
        db.session.rollback()
        return api_error(422, "libeo_key_refused", error.message)
    db.session.commit()
    return jsonify(connected=True, company_id=company.id, account_name=connection.account_name)
