"""Libeo's client of MEG: Authlib's Flask client, the return address, the key delivery.

Every server-to-server call to MEG (discovery, token, JWKS, key delivery)
goes through the adapters of ``core.http.http_session``: in the combined run
they hand the request to MEG's WSGI app, deployed apart they use the network.
Authlib's Flask client builds a fresh ``requests`` session (its
``client_cls``, an ``OAuth2Session``) for each of those calls, the metadata
fetch included; subclassing that class is the one hook that covers them all,
so the adapters are mounted in its constructor.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from authlib.integrations.flask_client import FlaskOAuth2App, OAuth
from authlib.integrations.requests_client import OAuth2Session
from cryptography.fernet import Fernet, InvalidToken
from flask import Flask, current_app, url_for

from core.http import http_session
from models.libeo import Account, db
from models.libeo.errors import LibeoError, NotFound
from models.libeo.keys import issue_meg_api_key, revoke_api_key

SCOPE = "openid profile email company libeo_key"
EXTENSION = "authlib.integrations.flask_client"
MAX_RETURN_URL_LENGTH = 2000


class PeerOAuth2Session(OAuth2Session):
    """Authlib's requests session, routed to MEG like every other call of Libeo."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trust_env = False
        for prefix, adapter in http_session(current_app).adapters.items():
            self.mount(prefix, adapter)


class MegOAuth2App(FlaskOAuth2App):
    client_cls = PeerOAuth2Session


class MegOAuth(OAuth):
    oauth2_client_cls = MegOAuth2App


def init_meg_sign_in(app: Flask) -> None:
    # Authlib logs code verifiers and tokens at DEBUG level: never let them reach a log.
    logging.getLogger("authlib").setLevel(logging.INFO)
    MegOAuth(app)


def meg_client() -> MegOAuth2App | None:
    """The "meg" client, registered on first use (the combined run sets its id after the factory)."""
    oauth = current_app.extensions[EXTENSION]
    client = oauth.create_client("meg")
    if client is None and current_app.config.get("MEG_OAUTH_CLIENT_ID"):
        client = oauth.register(
            "meg",
            client_id=current_app.config["MEG_OAUTH_CLIENT_ID"],
            client_secret=current_app.config.get("MEG_OAUTH_CLIENT_SECRET"),
            server_metadata_url=meg_url("/.well-known/openid-configuration"),
            client_kwargs={
                "scope": SCOPE,
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": "client_secret_basic",
                "default_timeout": current_app.config["HTTP_TIMEOUT"],
            },
        )
    return client


def meg_url(path: str) -> str:
    return current_app.config["MEG_URL"].rstrip("/") + path


def redirect_uri() -> str:
    """Where MEG sends the browser back: on Libeo's public host, as registered with MEG."""
    return current_app.config["PUBLIC_URL"].rstrip("/") + url_for("meg_connect.callback")


# --- where to send the person back -----------------------------------------------------------


def meg_return_url(candidate: str | None) -> str | None:
    """``candidate`` if it is a page of MEG (scheme, host, port and path under MEG_URL), else None.

    Strict on purpose: printable ASCII only, no backslash, no user info, no
    percent-encoding, no dot segments or empty segments, so that no browser
    can read it as another host or path.
    """
    if not candidate or len(candidate) > MAX_RETURN_URL_LENGTH:
        return None
    if any(not 33 <= ord(char) <= 126 for char in candidate) or "\\" in candidate or "%" in candidate:
        return None
    meg = urlsplit(current_app.config["MEG_URL"])
    try:
        parts = urlsplit(candidate)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme != meg.scheme or parts.netloc.lower() != meg.netloc.lower() or "@" in parts.netloc:
        return None
    prefix = meg.path.rstrip("/")
    if not (parts.path == prefix or parts.path.startswith(prefix + "/")) or not parts.path.startswith("/"):
        return None
    if "//" in parts.path or any(segment in (".", "..") for segment in parts.path.split("/")):
        return None
    return candidate


# --- the access token between MEG's answer and the account creation ----------------------------


def _fernet() -> Fernet:
    secret = current_app.config["SECRET_KEY"]
    key = hmac.new(secret.encode() if isinstance(secret, str) else secret, b"libeo.meg-connect.token", hashlib.sha256)
    return Fernet(base64.urlsafe_b64encode(key.digest()))


def seal(access_token: str) -> str:
    """The token as the signed session cookie may carry it: encrypted, for this app only."""
    return _fernet().encrypt(access_token.encode()).decode()


def unseal(sealed: str | None, max_age: int) -> str | None:
    if not sealed:
        return None
    try:
        return _fernet().decrypt(sealed.encode(), ttl=max_age).decode()
    except (InvalidToken, ValueError):
        return None


# --- the key delivery --------------------------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    """How the automatic connection to MEG went; ``message`` is French, for the person."""

    established: bool
    message: str


def connect_account(account: Account, access_token: str, company_name: str) -> Connection:
    """Creates the account's MEG key and hands it to MEG (« PUT /api/v1/libeo-key »).

    The key is committed first: MEG checks it against Libeo's API before
    keeping it. If MEG refuses it, it is revoked at once (nobody holds it).
    """
    try:
        api_key = issue_meg_api_key(account)
    except LibeoError as error:
        db.session.rollback()
        return Connection(False, _retry_later(error.message))
    db.session.commit()
    try:
        with http_session(current_app) as session:
            response = session.put(
                meg_url("/api/v1/libeo-key"),
                json={"api_key": api_key},
                headers={"Authorization": f"Bearer {access_token}"},
                timeout=current_app.config["HTTP_TIMEOUT"],
                allow_redirects=False,
            )
    except requests.RequestException:
        # MEG may have kept the key before the answer was lost: it stays valid.
        return Connection(False, _retry_later("MEG ne répond pas."))
    if response.status_code == 200:
        return Connection(True, "La connexion est établie : « Payer » fonctionne maintenant dans MEG.")
    if response.status_code >= 500:
        return Connection(False, _retry_later("MEG n'a pas pu enregistrer la connexion."))
    try:
        revoke_api_key(account)
    except NotFound:
        pass  # already revoked meanwhile (« Révoquer » in « Intégrations »)
    db.session.commit()
    if response.status_code == 403:
        return Connection(False, admin_must_connect(company_name))
    return Connection(False, _retry_later(_meg_message(response) or "MEG a refusé la connexion."))


def _meg_message(response: requests.Response) -> str | None:
    """MEG's own French explanation (``{"error": {"message": …}}``), if it sent a short one."""
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return None
    return message if isinstance(message, str) and len(message) <= 300 else None


def admin_must_connect(company_name: str) -> str:
    return (
        f"Votre compte Libeo est prêt, mais il n'est pas encore connecté à MEG : seul un administrateur "
        f"du module « Achats » de {company_name} peut le connecter. Demandez-lui de cliquer sur « Payer » "
        "dans MEG puis sur « Me connecter avec MEG », ou de coller dans « Options » la clé que vous "
        "créerez dans « Configuration » → « Intégrations »."
    )


def _retry_later(cause: str) -> str:
    return (
        f"{cause} Votre compte Libeo est prêt, mais il n'est pas encore connecté à MEG : "
        "réessayez plus tard avec « Me connecter avec MEG », ou depuis « Configuration » → « Intégrations »."
    )
