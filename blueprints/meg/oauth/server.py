"""MEG's OAuth 2.0 / OpenID Connect provider: Authlib's server objects, in one place.

Authorization code grant only, with PKCE S256 required of every client,
redirect URIs compared byte for byte, single-use codes that live five
minutes, RS256 ID tokens. Secrets, codes and tokens are looked up by their
digest (see ``models.meg.oauth``): Authlib's SQLAlchemy mixins, which keep
them in clear, are not used.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import re

from authlib.integrations.flask_oauth2 import (
    AuthorizationServer as FlaskAuthorizationServer,
)
from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    grants,
    scope_to_list,
)
from authlib.oauth2.rfc6750 import BearerTokenValidator as _BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge, create_s256_code_challenge
from authlib.oidc.core import grants as oidc_grants
from flask import Flask, current_app, request
from joserfc.jwk import RSAKey

from core.urls import public_url
from models.meg import Company, User, db
from models.meg import oauth as store
from models.meg.oauth import SCOPES, OAuthAuthorizationCode, OAuthClient, OAuthToken
from models.meg.signing import ID_TOKEN_ALG, signing_key

CLAIMS_SUPPORTED = [
    "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "amr",
    "name", "email",
    "company_id", "company_name", "company_siret", "company_achats_admin", "company_siret_trusted",
]


# --- where MEG is -----------------------------------------------------------------------------


def issuer() -> str:
    return current_app.config["PUBLIC_URL"].rstrip("/") + request.script_root


def provider_metadata() -> dict:
    return {
        "issuer": issuer(),
        "authorization_endpoint": public_url("oauth.authorize"),
        "token_endpoint": public_url("oauth.issue_token"),
        "userinfo_endpoint": public_url("oauth.userinfo"),
        "jwks_uri": public_url("oauth.jwks"),
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ID_TOKEN_ALG],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS_SUPPORTED,
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "ui_locales_supported": ["fr-FR"],
    }


# --- the ID token signing key -----------------------------------------------------------------


# --- claims -----------------------------------------------------------------------------------


def user_claims(user: User, scope: str) -> dict:
    scopes = set(scope_to_list(scope) or [])
    claims: dict = {"sub": str(user.id)}
    if "profile" in scopes:
        claims["name"] = user.full_name
    if "email" in scopes:
        claims["email"] = user.email
    return claims


def company_claims(user: User, company: Company | None, scope: str) -> dict:
    """The company the token (or code) was granted for, with the rights read now, not at consent: nothing once
    the person no longer reaches it (its firm lost the company, their role was removed)."""
    if company is None or "company" not in (scope_to_list(scope) or []) or user.company(company.id) is None:
        return {}
    return {
        "company_id": company.id,
        "company_name": company.name,
        "company_siret": company.siret,
        "company_achats_admin": user.is_achats_admin(company),
        # Whether MEG vouches for the SIRET (its expert-comptable or the registry confirmed it).
        "company_siret_trusted": company.siret_trusted,
    }


# --- grant and extensions ---------------------------------------------------------------------


def _s256_matches(verifier: str, challenge: str) -> bool:
    return hmac.compare_digest(create_s256_code_challenge(verifier), challenge)


class S256CodeChallenge(CodeChallenge):
    """PKCE for every client, S256 only.

    Authlib's check lets a confidential client go without PKCE and accepts
    ``plain`` (also when the method is left out); both are refused here.
    """

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    CODE_CHALLENGE_METHODS = {"S256": _s256_matches}

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: missing 'code_challenge'.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be 'S256'.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant, result):
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'.")
        super().validate_code_verifier(grant, result)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    #: The company chosen on the consent screen, and how the person proved who they were (``amr``): set by
    #: ``issue_code``.
    company: Company | None = None
    amr: str = store.PASSWORD
    #: The unused code a token request named, once found (grants live one request).
    presented_code: OAuthAuthorizationCode | None = None

    def validate_token_request(self) -> None:
        try:
            super().validate_token_request()
        except OAuth2Error:
            # A good code with a wrong verifier or return address may be a
            # stolen one: it is spent, and what it gave withdrawn (RFC 9700).
            if self.presented_code is not None:
                store.spend_authorization_code(self.presented_code)
                db.session.commit()
            raise

    def save_authorization_code(self, code: str, request) -> None:
        data = request.payload.data
        store.save_authorization_code(
            code,
            client=request.client,
            user=request.user,
            company=self.company,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            nonce=data.get("nonce"),
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
            amr=self.amr,
        )
        db.session.commit()

    def query_authorization_code(self, code: str, client: OAuthClient) -> OAuthAuthorizationCode | None:
        item = store.find_authorization_code(code, client)
        if item is None:
            return None
        if item.used_at is not None:
            store.revoke_tokens_from_code(item)
            db.session.commit()
            return None
        if item.is_expired:
            return None
        self.presented_code = item
        return item

    def authenticate_user(self, authorization_code: OAuthAuthorizationCode) -> User:
        # Every check has passed: the code is spent now, in the transaction
        # that will store the token, and only one exchange can spend it.
        if not store.consume_authorization_code(authorization_code):
            store.revoke_tokens_from_code(authorization_code)
            db.session.commit()
            raise InvalidGrantError("Invalid 'code' in request.")
        return authorization_code.user

    def delete_authorization_code(self, authorization_code: OAuthAuthorizationCode) -> None:
        # Kept, marked used by authenticate_user: a replay must still be
        # recognised so that the tokens it gave can be revoked.
        pass


class OpenIDCode(oidc_grants.OpenIDCode):
    def exists_nonce(self, nonce: str, request) -> bool:
        return store.nonce_was_used(request.payload.client_id, nonce)

    def resolve_client_private_key(self, client: OAuthClient) -> RSAKey:
        return signing_key()

    def get_encode_header(self, client: OAuthClient) -> dict:
        return {"alg": ID_TOKEN_ALG, "kid": signing_key().kid}

    def get_client_claims(self, client: OAuthClient) -> dict:
        return {"iss": issuer(), "aud": [client.client_id]}

    def generate_user_info(self, user: User, scope: str) -> dict:
        return user_claims(user, scope)

    def get_authorization_code_claims(self, authorization_code: OAuthAuthorizationCode) -> dict:
        claims = super().get_authorization_code_claims(authorization_code)
        claims.update(company_claims(authorization_code.user, authorization_code.company, authorization_code.scope))
        return claims


class BearerTokenValidator(_BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> OAuthToken | None:
        return store.find_token(token_string)


# RFC 6749 (appendix A): every parameter is printable ASCII. Authlib also
# copies redirect_uri and response_type into error descriptions, which must
# not hold « " » or « \ » (it raises ValueError where it should refuse).
PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
QUOTABLE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")
QUOTED_IN_ERRORS = ("redirect_uri", "response_type")
MAX_PARAMETER_LENGTH = 2048


def check_parameters(values: dict[str, list[str]]) -> None:
    """Refuses, as ``invalid_request``, a request whose parameters no client would send."""
    for name, given in values.items():
        if len(given) > 1:
            raise InvalidRequestError("A parameter is repeated.")
        value = given[0] if given else ""
        pattern = QUOTABLE if name in QUOTED_IN_ERRORS else PRINTABLE_ASCII
        if len(value) > MAX_PARAMETER_LENGTH or not pattern.fullmatch(value):
            raise InvalidRequestError("A parameter is too long or holds characters outside printable ASCII.")


def check_basic_credentials(authorization: str | None) -> None:
    """Refuses the Basic credentials Authlib would fail to read (« Basic » alone, not UTF-8 once decoded).

    Mirrors ``authlib.oauth2.rfc6749.util.extract_basic_authorization``:
    what it ignores (another scheme, bad base64) is left to it.
    """
    if not authorization or " " not in authorization:
        return
    parts = authorization.split(None, 1)
    if len(parts) == 2 and parts[0].lower() != "basic":
        return
    try:
        if len(parts) < 2:
            raise ValueError("no credentials")
        base64.b64decode(parts[1]).decode("utf-8")
    except binascii.Error:
        return
    except ValueError as error:
        raise InvalidClientError("Malformed Basic credentials.", status_code=401) from error


class AuthorizationServer(FlaskAuthorizationServer):
    """Authlib's server, with every request's parameters checked before Authlib reads them."""

    def create_oauth2_request(self, request):
        oauth_request = super().create_oauth2_request(request)
        check_basic_credentials(oauth_request.headers.get("Authorization"))
        check_parameters(oauth_request.payload.datalist)
        return oauth_request

    def create_token_response(self, request=None):
        try:
            return super().create_token_response(request)
        except OAuth2Error as error:  # from create_oauth2_request, which Authlib calls before its own try
            return self.handle_error_response(None, error)


def save_token(token: dict, request) -> None:
    store.save_token(token, client=request.client, user=request.user, code=request.authorization_code)
    db.session.commit()


server = AuthorizationServer(query_client=store.find_client, save_token=save_token)
server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True), OpenIDCode(require_nonce=False)])

require_oauth = ResourceProtector()
require_oauth.register_token_validator(BearerTokenValidator())


def config_oauth(app: Flask) -> None:
    # Authlib logs issued tokens at DEBUG level: never let them reach a log.
    logging.getLogger("authlib").setLevel(logging.INFO)
    app.config.setdefault("OAUTH2_SCOPES_SUPPORTED", list(SCOPES))
    app.config.setdefault("OAUTH2_TOKEN_EXPIRES_IN", {"authorization_code": store.ACCESS_TOKEN_LIFETIME_SECONDS})
    server.init_app(app)


# --- what the views call ----------------------------------------------------------------------


def issue_code(grant: AuthorizationCodeGrant, user: User, company: Company | None, *, second_factor: bool = False):
    """The redirect to the client with a code for this user and company; ``second_factor``: the consent
    asked the person's code and it was given (recorded on the code, then its token)."""
    grant.company = company
    grant.amr = f"{store.PASSWORD} {store.ONE_TIME_CODE}" if second_factor else store.PASSWORD
    return server.create_authorization_response(grant=grant, grant_user=user)


def deny(grant: AuthorizationCodeGrant):
    """The redirect to the client with ``error=access_denied``."""
    return server.create_authorization_response(grant=grant, grant_user=None)


def error_redirect(error: OAuth2Error):
    return server.handle_error_response(None, error)


def authenticate_bearer(scope: str) -> OAuthToken:
    """The request's valid access token carrying ``scope``; raises OAuth2Error."""
    return require_oauth.acquire_token([scope])
