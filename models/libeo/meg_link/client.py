"""Libeo's client of MEG: Authlib's Flask client, the return address, MEG's answer, the key delivery.

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
import json
import logging
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import FlaskOAuth2App, OAuth
from authlib.integrations.requests_client import OAuth2Session
from cryptography.fernet import Fernet, InvalidToken
from flask import Flask, current_app, url_for
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from core.files import write_private_text
from core.http import SendsRequestId, http_session
from models.libeo.accounts.services import check_siret
from models.libeo.errors import Forbidden, InvalidData, LibeoError

SCOPE = "openid profile email company libeo_key"
EXTENSION = "authlib.integrations.flask_client"
MAX_RETURN_URL_LENGTH = 2000


class PeerOAuth2Session(SendsRequestId, OAuth2Session):
    """Authlib's requests session, routed to MEG like every other call of Libeo (with its request id)."""

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


MAX_CLAIM_LENGTH = 255


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
    # MEG vouches for the SIRET (confirmed by the company's expert-comptable or the registry):
    # without it, MEG's word makes no account « vérifié » and takes no SIRET from anyone.
    siret_trusted: bool = False

    @classmethod
    def from_claims(cls, claims: dict) -> MegProfile:
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
            siret_trusted=claims.get("company_siret_trusted") is True,
        )

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def vouches(self) -> bool:
        """MEG says an Achats administrator of the company is here, and MEG trusts the company's SIRET."""
        return self.achats_admin and self.siret_trusted

    @classmethod
    def from_dict(cls, data: dict) -> MegProfile:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


def _claim(claims: dict, name: str, max_length: int = MAX_CLAIM_LENGTH) -> str:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return ""
    text = str(value).strip()
    return text if len(text) <= max_length and text.isprintable() else ""


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


# --- the dance's two HTTP moments -------------------------------------------------------------

UNAVAILABLE = "La connexion avec MEG n'est pas configurée sur ce serveur Libeo."
MEG_DOWN = "MEG ne répond pas pour le moment : réessayez dans quelques instants. Rien n'a été créé."
STATE_MISMATCH = (
    "Cette réponse de MEG ne correspond pas à une demande partie de ce navigateur : elle est refusée "
    "et rien n'a été créé. Cliquez de nouveau sur « Me connecter avec MEG »."
)
DENIED = "Vous n'avez pas autorisé Libeo dans MEG : aucun compte n'a été créé."
FAILED = "La connexion avec MEG n'a pas abouti et rien n'a été créé : cliquez de nouveau sur « Me connecter avec MEG »."


class SignInFailed(LibeoError):
    """« Me connecter avec MEG » cannot go on; the message says why, in French."""

    code = "meg_sign_in_failed"


def authorization_redirect():
    """The redirect to MEG's authorization endpoint (PKCE S256, state and nonce kept in the session)."""
    client = meg_client()
    if client is None:
        raise SignInFailed(UNAVAILABLE)
    try:
        return client.authorize_redirect(redirect_uri())
    except (requests.RequestException, ValueError, RuntimeError) as exc:
        raise SignInFailed(MEG_DOWN) from exc


def read_meg_answer() -> tuple[MegProfile, str]:
    """MEG's answer on the callback: the code exchanged, the ID token checked; (profile, access token)."""
    client = meg_client()
    if client is None:
        raise SignInFailed(UNAVAILABLE)
    try:
        token = client.authorize_access_token()
        return MegProfile.from_claims(dict(token.get("userinfo") or {})), token["access_token"]
    except MismatchingStateError as exc:
        raise SignInFailed(STATE_MISMATCH) from exc
    except OAuthError as exc:
        raise SignInFailed(DENIED if exc.error == "access_denied" else FAILED) from exc
    except requests.RequestException as exc:
        raise SignInFailed(MEG_DOWN) from exc
    except (AuthlibBaseError, JoseError, ValueError, KeyError) as exc:
        raise SignInFailed(FAILED) from exc


# --- MEG's signed word when its Achats administrator saves a key (the article's first path) ---------

VOUCH_AUDIENCE = "libeo"
VOUCH_PURPOSE = "libeo_key_saved"
VOUCH_MAX_LIFETIME = 5 * 60


class VouchRefused(Forbidden):
    """MEG's assertion cannot be taken as MEG's word; the message says why, in French."""

    code = "vouch_refused"


def read_vouching_assertion(assertion: str) -> MegProfile:
    """MEG's signed assertion, checked with MEG's JWKS: issuer, audience, purpose, at most five minutes.

    Raises :class:`VouchRefused` (forged, expired, another purpose) or :class:`SignInFailed` (MEG
    unreachable or not configured).
    """
    client = meg_client()
    if client is None:
        raise SignInFailed(UNAVAILABLE)
    try:
        issuer = client.load_server_metadata()["issuer"]
        token = _decoded(client, assertion)
    except requests.RequestException as exc:
        raise SignInFailed(MEG_DOWN) from exc
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise VouchRefused("Cette attestation de MEG n'est pas valide : elle n'est pas signée par MEG.") from exc
    claims = token.claims
    try:
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer}, aud={"essential": True, "value": VOUCH_AUDIENCE},
            exp={"essential": True}, iat={"essential": True}, purpose={"essential": True, "value": VOUCH_PURPOSE},
        ).validate(claims)
    except JoseError as exc:
        raise VouchRefused("Cette attestation de MEG n'est pas valide ou a expiré : enregistrez de nouveau la clé "
                           "dans MEG.") from exc
    if not isinstance(claims["exp"], int) or not isinstance(claims["iat"], int) or (
            claims["exp"] - claims["iat"] > VOUCH_MAX_LIFETIME):
        raise VouchRefused("Cette attestation de MEG vaut plus de cinq minutes : elle est refusée.")
    try:
        return MegProfile.from_claims(dict(claims))
    except LibeoError as exc:
        raise VouchRefused(exc.message) from exc


def _decoded(client, assertion: str):
    """Decoded with MEG's published keys; fetched again once if the key is new (MEG rotated it)."""
    if not isinstance(assertion, str) or not assertion or len(assertion) > 8_000:
        raise ValueError("no assertion")
    try:
        return jwt.decode(assertion, KeySet.import_key_set(client.fetch_jwk_set()), algorithms=["RS256"])
    except JoseError:
        return jwt.decode(assertion, KeySet.import_key_set(client.fetch_jwk_set(force=True)), algorithms=["RS256"])


# --- MEG's signed word on who asks for a payment or its cancellation ------------------------------

INITIATOR_PURPOSE = "payment_initiator"
INITIATOR_ROLES = ("user", "accountant")


class InitiatorRefused(Forbidden):
    """MEG's initiator assertion cannot be taken as MEG's word for this account; the message says why."""

    code = "initiator_refused"


@dataclass(frozen=True)
class SignedInitiator:
    """Who asks, as MEG signed it: the person's e-mail and role, MEG's user id."""

    email: str
    role: str
    subject: str


MEG_KEYS = "libeo.meg_keys"
# MEG's keys as last fetched, in Libeo's instance folder: every worker and every restart starts with them.
KEYS_FILE = "meg-keys.json"
# A token naming a key Libeo has not seen sends it to MEG for its keys at most this often (per process).
REFETCH_SECONDS = 10


@dataclass(frozen=True)
class MegKeys:
    issuer: str
    keys: KeySet
    kids: frozenset[str]
    fetched_at: float  # time.monotonic() of this process's fetch (0: read from the file)


def _checked_with_megs_keys(assertion: str):
    """(MEG's issuer, the decoded assertion), with the keys MEG publishes at ``MEG_URL`` (its OpenID Connect
    metadata, then its JWKS): a Libeo without « Me connecter avec MEG » configured checks MEG's word too.

    The keys are kept for the process and in the instance folder (``KEYS_FILE``), so that a « Payer »
    never waits for MEG to answer while MEG waits for Libeo (sync workers all busy paying, on both
    sides). ``flask libeo meg-keys`` fetches them at deployment. They are read again only when an
    assertion names a key not seen yet (MEG rotated it) or another issuer (MEG moved), at most every
    ``REFETCH_SECONDS``.
    """
    if not isinstance(assertion, str) or not assertion or len(assertion) > 8_000:
        raise ValueError("no assertion")
    kept = current_app.extensions.get(MEG_KEYS) or _read_keys_file()
    if kept is None:
        kept = fetch_megs_keys()
    current_app.extensions[MEG_KEYS] = kept
    compact = jws.extract_compact(assertion.encode("ascii"))
    said = json.loads(compact.payload)
    said_issuer = said.get("iss") if isinstance(said, dict) else None  # not trusted: only tells whether MEG moved
    if ((compact.protected.get("kid") not in kept.kids or said_issuer != kept.issuer)
            and time.monotonic() - kept.fetched_at > REFETCH_SECONDS):
        kept = fetch_megs_keys()
    return kept.issuer, jwt.decode(assertion, kept.keys, algorithms=["RS256"])


def fetch_megs_keys() -> MegKeys:
    """MEG's issuer and keys, read from MEG now, kept for the process and in the instance folder."""
    timeout = current_app.config["HTTP_TIMEOUT"]
    with http_session(current_app) as session:
        metadata = session.get(meg_url("/.well-known/openid-configuration"), timeout=timeout, allow_redirects=False)
        metadata.raise_for_status()
        document = metadata.json()
        keys = session.get(document["jwks_uri"], timeout=timeout, allow_redirects=False)
        keys.raise_for_status()
        published = keys.json()
    kept = _meg_keys(document["issuer"], published, time.monotonic())
    current_app.extensions[MEG_KEYS] = kept
    path = Path(current_app.instance_path) / KEYS_FILE
    # Each writer its own temporary file (threads of one process too), then renamed: whole or not at all.
    temporary = path.with_name(f".{KEYS_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        write_private_text(temporary, json.dumps({"issuer": kept.issuer, "jwks": published}))
        os.replace(temporary, path)
    except OSError as error:  # kept for this process all the same; the next fetch tries again
        temporary.unlink(missing_ok=True)
        current_app.logger.warning("Les clés de MEG n'ont pas pu être gardées dans %s : %s", path, error)
    return kept


def _meg_keys(issuer: str, published: dict, fetched_at: float) -> MegKeys:
    keys = KeySet.import_key_set(published)  # type: ignore[arg-type]
    return MegKeys(issuer, keys, frozenset(key.kid for key in keys.keys if key.kid), fetched_at)


def _read_keys_file() -> MegKeys | None:
    try:
        kept = json.loads((Path(current_app.instance_path) / KEYS_FILE).read_text(encoding="utf-8"))
        return _meg_keys(kept["issuer"], kept["jwks"], 0.0)
    except (OSError, ValueError, KeyError, TypeError, JoseError):
        return None  # none yet, or unreadable: fetched from MEG


def read_initiator_assertion(assertion: str, siret: str | None) -> SignedInitiator:
    """MEG's signed word on who asks (header ``MEG-Initiator``), checked with MEG's JWKS: issuer, audience,
    purpose, at most five minutes, and for the company of ``siret`` (the account's).

    Raises :class:`InitiatorRefused` (forged, expired, another purpose or company) or
    :class:`SignInFailed` (MEG unreachable or not configured).
    """
    if not isinstance(assertion, str):
        raise InitiatorRefused("L'en-tête MEG-Initiator n'est pas valide : il n'est pas signé par MEG.")
    checked = current_app.extensions.setdefault(CHECKED_INITIATORS, {})
    kept = checked.get((assertion, siret))
    if kept is not None and time.time() < kept[1]:
        return kept[0]
    signed, expires = _read_initiator_assertion(assertion, siret)
    if len(checked) >= MAX_CHECKED_INITIATORS:
        checked.clear()
    checked[(assertion, siret)] = (signed, expires)
    return signed


# Assertions already checked, until they expire: MEG reuses one for the same person for a minute.
CHECKED_INITIATORS = "libeo.checked_initiators"
MAX_CHECKED_INITIATORS = 1024


def _read_initiator_assertion(assertion: str, siret: str | None) -> tuple[SignedInitiator, int]:
    try:
        issuer, token = _checked_with_megs_keys(assertion)
    except requests.RequestException as exc:
        raise SignInFailed(MEG_DOWN) from exc
    # RecursionError: the claims, read before their signature is checked, nested thousands of levels deep.
    except (JoseError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise InitiatorRefused("L'en-tête MEG-Initiator n'est pas valide : il n'est pas signé par MEG.") from exc
    claims = token.claims
    try:
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer}, aud={"essential": True, "value": VOUCH_AUDIENCE},
            exp={"essential": True}, iat={"essential": True},
            purpose={"essential": True, "value": INITIATOR_PURPOSE},
        ).validate(claims)
    except JoseError as exc:
        raise InitiatorRefused("L'en-tête MEG-Initiator n'est pas valide ou a expiré (il vaut cinq minutes) : "
                               "MEG doit signer de nouveau la demande.") from exc
    if not isinstance(claims["exp"], int) or not isinstance(claims["iat"], int) or (
            claims["exp"] - claims["iat"] > VOUCH_MAX_LIFETIME):
        raise InitiatorRefused("L'en-tête MEG-Initiator vaut plus de cinq minutes : il est refusé.")
    email, role = _claim(claims, "email", max_length=254), claims.get("role")
    if not email or role not in INITIATOR_ROLES:
        raise InitiatorRefused("L'en-tête MEG-Initiator ne dit pas qui demande ce paiement (e-mail et rôle).")
    if not siret or _claim(claims, "company_siret", max_length=14) != siret:
        raise InitiatorRefused("L'en-tête MEG-Initiator a été signé pour une autre entreprise que celle de ce "
                               "compte Libeo : la demande est refusée.")
    return SignedInitiator(email=email, role=role, subject=_claim(claims, "sub")), claims["exp"]


# --- the key delivery --------------------------------------------------------------------------


def deliver_key(api_key: str, access_token: str) -> requests.Response | None:
    """Hands the key to MEG (« PUT /api/v1/libeo-key », with the token); None when MEG does not answer."""
    try:
        with http_session(current_app) as session:
            return session.put(
                meg_url("/api/v1/libeo-key"),
                json={"api_key": api_key},
                headers={"Authorization": f"Bearer {access_token}"},
                timeout=current_app.config["HTTP_TIMEOUT"],
                allow_redirects=False,
            )
    except requests.RequestException:
        return None


def meg_error_code(response: requests.Response) -> str | None:
    """MEG's error code (``{"error": {"code": …}}``), if it sent one."""
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None


def meg_message(response: requests.Response) -> str | None:
    """MEG's own French explanation (``{"error": {"message": …}}``), if it sent a short one."""
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return None
    return message if isinstance(message, str) and len(message) <= 300 else None
