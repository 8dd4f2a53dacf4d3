"""MEG as an OAuth 2.0 / OpenID Connect provider: clients, codes, tokens.

Nothing secret is stored in clear: client secrets, authorization codes and
access tokens are kept as SHA-256 digests. They are random values of more than
190 bits, so a fast digest is enough (no password-style stretching), and a
database leak gives nothing that can be presented back to MEG.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import time
from datetime import datetime
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, list_to_scope, scope_to_list
from authlib.oidc.core import AuthorizationCodeMixin
from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.dates import utcnow
from core.db import rowcount
from core.validators import InvalidIdentifier, clean_text
from models.meg.companies.models import Company, User
from models.meg.db import Model, db

# What a client may ask for. ``company``: the company chosen on the consent
# screen; ``libeo_key``: the right to deliver that company's Libeo API key.
KEY_SCOPE = "libeo_key"
SCOPES = ("openid", "profile", "email", "company", KEY_SCOPE)
COMPANY_SCOPES = frozenset({"company", KEY_SCOPE})

# How the person proved who they were when they consented (OpenID Connect ``amr``, RFC 8176 values): the
# password of their session, and the code of their authentication app (or a recovery code) when they gave it.
PASSWORD, ONE_TIME_CODE = "pwd", "otp"

CODE_LIFETIME_SECONDS = 5 * 60
ACCESS_TOKEN_LIFETIME_SECONDS = 60 * 60
MAX_REDIRECT_URIS = 10
MAX_URI_LENGTH = 2000
# Letters, digits, dots and hyphens (IDNs in punycode), or an IPv6 address.
HOST_PATTERN = re.compile(r"[a-z0-9.-]+|[0-9a-f:.]+")


class OAuthClientError(Exception):
    """A client registration refused, with a French message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def now_seconds() -> int:
    return int(time.time())


class OAuthClient(Model, ClientMixin):
    """An application allowed to sign its users in with MEG (confidential client)."""

    __tablename__ = "oauth_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    scope: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        # Every authorization request names its redirect_uri (OpenID Connect
        # requires it), so it is always compared with the registered ones.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = set(scope_to_list(self.scope))
        # Each scope once: « openid openid … » must not outgrow the column.
        return list_to_scope(list(dict.fromkeys(s for s in scope_to_list(scope or "") or [] if s in allowed)))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Character for character: no normalisation of case, slash, port or query.
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(digest(client_secret), self.client_secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


class OAuthAuthorizationCode(Model, AuthorizationCodeMixin):
    """A code given to a client after consent; kept once used, to spot replays."""

    __tablename__ = "oauth_authorization_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("oauth_client.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(200))
    nonce: Mapped[str | None] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(10))
    # Space-separated, like ``scope``: « pwd », or « pwd otp » when the consent asked the second factor.
    amr: Mapped[str] = mapped_column(String(40), default=PASSWORD, server_default=PASSWORD)
    # Seconds since the epoch: compared in Python, free of time-zone quirks.
    expires_at: Mapped[int] = mapped_column(Integer)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    client: Mapped[OAuthClient] = relationship()
    user: Mapped[User] = relationship()
    company: Mapped[Company | None] = relationship()

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> None:
        # MEG does not record when the login happened; Authlib then uses the
        # time the ID token is made.
        return None

    def get_amr(self) -> list[str]:
        # The ID token's « amr »: what the client may read of how the person signed in.
        return self.amr.split()

    @property
    def is_expired(self) -> bool:
        return now_seconds() >= self.expires_at


class OAuthToken(Model, TokenMixin):
    """An access token: bound to a client, a user and the company chosen at consent."""

    __tablename__ = "oauth_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("oauth_client.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    authorization_code_id: Mapped[int | None] = mapped_column(
        ForeignKey("oauth_authorization_code.id", ondelete="SET NULL"), index=True
    )
    scope: Mapped[str] = mapped_column(String(200))
    # The ``amr`` of the consent that gave the token (its code's).
    amr: Mapped[str] = mapped_column(String(40), default=PASSWORD, server_default=PASSWORD)
    issued_at: Mapped[int] = mapped_column(Integer)
    expires_in: Mapped[int] = mapped_column(Integer)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    client: Mapped[OAuthClient] = relationship()
    user: Mapped[User] = relationship()
    company: Mapped[Company | None] = relationship()

    def check_client(self, client: OAuthClient) -> bool:
        return self.client_id == client.id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return now_seconds() >= self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def get_user(self) -> User:
        return self.user

    def get_client(self) -> OAuthClient:
        return self.client

    @property
    def second_factor_verified(self) -> bool:
        """Whether the consent that gave this token asked the person's second factor, and it was given."""
        return ONE_TIME_CODE in self.amr.split()


# --- clients ----------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_redirect_uri(uri: str) -> str:
    """An absolute https address (http only on this machine), no fragment."""
    if not uri or len(uri) > MAX_URI_LENGTH or not uri.isascii() or any(c.isspace() for c in uri):
        raise OAuthClientError(f"Adresse de retour invalide : « {uri[:100]} ».")
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise OAuthClientError(f"Adresse de retour invalide : « {uri[:100]} ».") from exc
    if not host or parts.fragment or "#" in uri or "@" in parts.netloc:
        raise OAuthClientError(
            f"L'adresse de retour doit être absolue, sans identifiants (@) ni fragment (#) : « {uri[:100]} »."
        )
    if not HOST_PATTERN.fullmatch(host):
        raise OAuthClientError(f"Nom d'hôte invalide dans l'adresse de retour : « {uri[:100]} ».")
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(host)):
        raise OAuthClientError(
            f"L'adresse de retour doit être en https (http n'est admis que pour cette machine) : « {uri[:100]} »."
        )
    return uri


def _checked(name: str, redirect_uris: list[str] | tuple[str, ...], scope: str) -> tuple[str, list[str], str]:
    try:
        name = clean_text(name, max_length=200, label="Nom du client")
    except InvalidIdentifier as exc:
        raise OAuthClientError(str(exc)) from exc
    uris = list(dict.fromkeys(redirect_uris))
    if not uris or len(uris) > MAX_REDIRECT_URIS:
        raise OAuthClientError(f"Indiquez entre 1 et {MAX_REDIRECT_URIS} adresses de retour.")
    uris = [validate_redirect_uri(uri) for uri in uris]
    scopes = scope_to_list(scope or "") or []
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise OAuthClientError(f"Portées admises : {' '.join(SCOPES)}.")
    return name, uris, list_to_scope(list(dict.fromkeys(scopes)))


def register_client(name: str, redirect_uris: list[str], scope: str) -> tuple[OAuthClient, str]:
    """A new client and its secret, in clear for this once only (MEG keeps its digest)."""
    name, uris, scope = _checked(name, redirect_uris, scope)
    secret = secrets.token_urlsafe(32)
    client = OAuthClient(
        client_id=secrets.token_urlsafe(18),
        client_secret_hash=digest(secret),
        name=name,
        redirect_uris=uris,
        scope=scope,
    )
    db.session.add(client)
    db.session.flush()
    return client, secret


def ensure_client(client_id: str, name: str, redirect_uris: list[str], scope: str, secret: str) -> OAuthClient:
    """The client with this fixed id, created or brought up to date (for the default run)."""
    name, uris, scope = _checked(name, redirect_uris, scope)
    if not client_id or len(client_id) > 64 or len(secret or "") < 32:
        raise OAuthClientError("Identifiant de client invalide ou secret trop court (32 caractères au moins).")
    client = db.session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    if client is None:
        client = OAuthClient(client_id=client_id)
        db.session.add(client)
    client.client_secret_hash = digest(secret)
    client.name = name
    client.redirect_uris = uris
    client.scope = scope
    db.session.flush()
    return client


def find_client(client_id: str | None) -> OAuthClient | None:
    if not client_id or len(client_id) > 64:
        return None
    return db.session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))


# --- codes and tokens -------------------------------------------------------------------------


def save_authorization_code(
    code: str,
    *,
    client: OAuthClient,
    user: User,
    company: Company | None,
    redirect_uri: str,
    scope: str,
    nonce: str | None,
    code_challenge: str,
    code_challenge_method: str,
    amr: str = PASSWORD,
) -> OAuthAuthorizationCode:
    item = OAuthAuthorizationCode(
        code_hash=digest(code),
        client_id=client.id,
        user_id=user.id,
        company_id=company.id if company else None,
        redirect_uri=redirect_uri,
        scope=scope,
        nonce=nonce,
        code_challenge=code_challenge,
        code_challenge_method=code_challenge_method,
        amr=amr,
        expires_at=now_seconds() + CODE_LIFETIME_SECONDS,
    )
    db.session.add(item)
    return item


def find_authorization_code(code: str | None, client: OAuthClient) -> OAuthAuthorizationCode | None:
    """The code issued to this client (used or not, expired or not), by its digest."""
    if not code or len(code) > 255:
        return None
    return db.session.scalar(
        select(OAuthAuthorizationCode).where(
            OAuthAuthorizationCode.code_hash == digest(code),
            OAuthAuthorizationCode.client_id == client.id,
        )
    )


def nonce_was_used(client_id: str | None, nonce: str) -> bool:
    return (
        db.session.scalar(
            select(OAuthAuthorizationCode.id)
            .join(OAuthClient)
            .where(OAuthClient.client_id == client_id, OAuthAuthorizationCode.nonce == nonce)
            .limit(1)
        )
        is not None
    )


def consume_authorization_code(item: OAuthAuthorizationCode) -> bool:
    """Marks the code used; False if another request used it first.

    One conditional UPDATE: of two concurrent exchanges only one sees a row
    change (PostgreSQL re-checks ``used_at`` once the first one commits).
    """
    result = db.session.execute(
        update(OAuthAuthorizationCode)
        .where(OAuthAuthorizationCode.id == item.id, OAuthAuthorizationCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def revoke_tokens_from_code(item: OAuthAuthorizationCode) -> None:
    """A replayed code may have leaked: what it gave is withdrawn (RFC 6749 §4.1.2)."""
    db.session.execute(
        update(OAuthToken)
        .where(OAuthToken.authorization_code_id == item.id, OAuthToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def spend_authorization_code(item: OAuthAuthorizationCode) -> None:
    """A code presented with a wrong verifier: nobody may use it any more, and its tokens are revoked."""
    consume_authorization_code(item)
    revoke_tokens_from_code(item)


def save_token(token: dict, *, client: OAuthClient, user: User, code: OAuthAuthorizationCode) -> OAuthToken:
    item = OAuthToken(
        access_token_hash=digest(token["access_token"]),
        client_id=client.id,
        user_id=user.id,
        company_id=code.company_id,
        authorization_code_id=code.id,
        scope=token.get("scope", ""),
        amr=code.amr,
        issued_at=now_seconds(),
        expires_in=int(token["expires_in"]),
    )
    db.session.add(item)
    return item


def find_token(access_token: str | None) -> OAuthToken | None:
    # The lookup is by digest: timing reveals nothing about a stored token.
    if not access_token or len(access_token) > 255:
        return None
    return db.session.scalar(select(OAuthToken).where(OAuthToken.access_token_hash == digest(access_token)))
