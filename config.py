"""Configuration of the two products, read from the environment.

Each side (MEG, Libeo) is a Flask app of its own with its own database,
secret key and session cookie. Defaults are for a developer's machine: SQLite
files in ``instance/``, no external service. Production sets the variables
named below (PostgreSQL, Redis, real Stripe keys, secure cookies).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import overload

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))


@overload
def _env(name: str) -> str | None: ...
@overload
def _env(name: str, default: str) -> str: ...
@overload
def _env(name: str, default: str | None) -> str | None: ...


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    return int(_env_number(name, default))


def _env_float(name: str, default: float) -> float:
    return _env_number(name, default)


def _env_number(name: str, default: float) -> float:
    """A number from the environment; a value that is not one stops the start with a French message."""
    value = _env(name)
    if value is None:
        return default
    try:
        number = float(value) if isinstance(default, float) else int(value)
    except ValueError:
        word = "un nombre" if isinstance(default, float) else "un nombre entier"
        raise SystemExit(f"{name}={value!r} : la valeur doit être {word}.") from None
    return number


def _limit(name: str, default: str) -> str:
    """A rate limit: the variable's value, the default when unset, and none at all when set empty."""
    value = os.environ.get(name)
    return default if value is None else value.strip()


def _env_bool_or_none(name: str) -> bool | None:
    value = os.environ.get(name)
    return None if value in (None, "") else _env_bool(name, False)


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class BaseConfig:
    """What both sides share: security defaults and the public base URL."""

    # The public address of the combined run; each side's absolute URLs
    # (OAuth redirect URIs, upgrade links) are built from it.
    PUBLIC_URL = _env("PUBLIC_URL", "http://127.0.0.1:5000")

    # Cookies live under the app's own mount point: "/" when a product is
    # deployed alone, /meg and /libeo in the combined run (see app.create_app).
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # None: Secure exactly when PUBLIC_URL is https:// (see core.setup.secure_cookies_over_https).
    SESSION_COOKIE_SECURE = _env_bool_or_none("SESSION_COOKIE_SECURE")
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = _env_bool_or_none("SESSION_COOKIE_SECURE")
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 8
    # How many load balancers in front of the app set X-Forwarded-For/-Proto
    # (0: none, the app is reached directly). See core.setup.trust_proxies.
    TRUSTED_PROXIES = _env_int("TRUSTED_PROXIES", 0)

    WTF_CSRF_TIME_LIMIT = 60 * 60 * 8
    WTF_I18N_ENABLED = False  # WTForms' own French catalogue, see core.forms
    MAX_CONTENT_LENGTH = 1024 * 1024

    # werkzeug's scrypt with the OWASP parameters (N=2^17, r=8, p=1).
    PASSWORD_HASH_METHOD = "scrypt:131072:8:1"

    # Outgoing HTTP between the sides: seconds before giving up.
    HTTP_TIMEOUT = _env_float("HTTP_TIMEOUT", 5.0)

    # Rate limits: in memory by default; RATELIMIT_STORAGE_URI=redis://… when
    # several processes serve the app. If Redis stops answering, limits are
    # counted in memory meanwhile rather than every request failing.
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    # A moving window: « 5 per minute » means in any 60 s, never 10 across the turn of a minute
    # (a fixed window would allow that burst, and its reset at the minute would make the limit arbitrary).
    RATELIMIT_STRATEGY = "moving-window"
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    # The limits themselves (Flask-Limiter strings; "" turns one off).
    LOGIN_LIMIT_PER_ACCOUNT = _limit("LOGIN_LIMIT_PER_ACCOUNT", "10 per minute")
    LOGIN_LIMIT_PER_ADDRESS = _limit("LOGIN_LIMIT_PER_ADDRESS", "50 per minute")
    PASSWORD_CHANGE_LIMIT = _limit("PASSWORD_CHANGE_LIMIT", "10 per hour")
    PAYMENT_LIMIT = _limit("PAYMENT_LIMIT", "30 per minute")
    # Invoice files read, per user: MEG's « Importer une facture électronique », Libeo's « Nouvelle facture »
    # with its file (reading a 10 MB PDF costs CPU).
    EINVOICE_IMPORT_LIMIT = _limit("EINVOICE_IMPORT_LIMIT", "30 per minute")

    # Log lines: "json" (one object a line, for a log collector) or "text" (readable, the default);
    # LOG_LEVEL as Python's logging names it.
    LOG_FORMAT = _env("LOG_FORMAT", "text")
    LOG_LEVEL = _env("LOG_LEVEL", "INFO")
    # GET /metrics answers callers on this machine, and any caller sending « Authorization: Bearer <token> ».
    METRICS_TOKEN = _env("METRICS_TOKEN")
    # E-mail notifications: the hour (Paris) of the daily digest, for those who chose it.
    NOTIFICATION_DIGEST_HOUR = _env_int("NOTIFICATION_DIGEST_HOUR", 8)
    # Where a development server's local SMTP server keeps what it received (a Maildir); set by
    # ``flask serve`` only, never read from the environment: it opens the « E-mails envoyés » page.
    LOCAL_MAILBOX = None

    # In the combined run the sides call each other through an in-process
    # WSGI transport (the full HTTP stack of the other app, no socket), so
    # that a single-worker server cannot deadlock calling itself.
    IN_PROCESS_TRANSPORT = _env_bool("IN_PROCESS_TRANSPORT", True)


class MegConfig(BaseConfig):
    OAUTH_TOKEN_LIMIT = _limit("OAUTH_TOKEN_LIMIT", "60 per minute")
    SECRET_KEY = _env("MEG_SECRET_KEY")  # else one kept in instance/
    SQLALCHEMY_DATABASE_URI = _env(
        "MEG_DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'meg.sqlite3'}"
    )
    SESSION_COOKIE_NAME = "meg_session"
    # Paths the other product calls: they keep the caller's X-Request-ID (one id for one « Payer » in
    # both products' logs); elsewhere only a trusted proxy's is kept (TRUSTED_PROXIES).
    PEER_PATHS = ("/api/", "/oauth/token", "/oauth/userinfo")
    REMEMBER_COOKIE_NAME = "meg_remember"
    # Where MEG reaches Libeo's REST API and pages.
    LIBEO_URL = _env("LIBEO_URL", f"{BaseConfig.PUBLIC_URL}/libeo")
    # Key that encrypts the Libeo API keys MEG stores (Fernet, urlsafe base64).
    LIBEO_KEY_ENCRYPTION_KEY = _env("MEG_ENCRYPTION_KEY")
    OAUTH_KEYS_DIR = str(INSTANCE_DIR / "meg_oauth")
    # The company registry a SIRET is checked against before MEG vouches for it in Libeo: an
    # API shaped like INSEE's SIRENE (« GET {url}/siret/{siret} »); empty, the local extract
    # shipped in models/meg/companies/data (demo companies), as ``make run`` and the tests use.
    SIRENE_API_URL = _env("SIRENE_API_URL", "")
    SIRENE_API_TOKEN = _env("SIRENE_API_TOKEN", "")
    # How long a sync worker owns a piece of work (a replay, a company's events) before
    # another may take it over: longer than one piece takes, short enough to recover
    # soon from a worker killed mid-pass.
    SYNC_CLAIM_SECONDS = _env_int("SYNC_CLAIM_SECONDS", 120)
    # A connected company without a payment in flight is still read this often (a revoked
    # key or an unreachable Libeo shows in « Options » within that time).
    SYNC_QUIET_SECONDS = _env_int("SYNC_QUIET_SECONDS", 60)
    # E-mail: smtp[s]://[user:password@]host[:port][?starttls=1] (core/mail.py), and the sender.
    SMTP_URL = _env("MEG_SMTP_URL", _env("SMTP_URL"))
    MAIL_FROM = _env("MEG_MAIL_FROM", _env("MAIL_FROM", "MEG <notifications@meg.localhost>"))


class LibeoConfig(BaseConfig):
    SIGNUP_LIMIT = _limit("SIGNUP_LIMIT", "10 per hour")
    # Every API call, per key (MEG calls for all its companies with one key each).
    API_RATE_LIMIT = _limit("API_RATE_LIMIT", "600 per minute")
    # Wrong, revoked or malformed API keys, per address (a valid key is never slowed by them).
    API_KEY_FAILURE_LIMIT = _limit("API_KEY_FAILURE_LIMIT", "20 per minute")
    SECRET_KEY = _env("LIBEO_SECRET_KEY")  # else one kept in instance/
    SQLALCHEMY_DATABASE_URI = _env(
        "LIBEO_DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'libeo.sqlite3'}"
    )
    SESSION_COOKIE_NAME = "libeo_session"
    # MEG's calls keep its X-Request-ID (see MegConfig.PEER_PATHS).
    PEER_PATHS = ("/api/",)
    # The API authenticates by key only: no cookie session there (core.setup).
    SESSIONLESS_PATHS = ("/api/",)
    REMEMBER_COOKIE_NAME = "libeo_remember"
    # Where Libeo reaches MEG (OAuth provider, key delivery API) and the
    # MEG pages a user may be sent back to.
    MEG_URL = _env("MEG_URL", f"{BaseConfig.PUBLIC_URL}/meg")
    MEG_OAUTH_CLIENT_ID = _env("MEG_OAUTH_CLIENT_ID")
    MEG_OAUTH_CLIENT_SECRET = _env("MEG_OAUTH_CLIENT_SECRET")
    SEPA_EXPORT_DIR = str(INSTANCE_DIR / "sepa")
    # An Idempotency-Key claimed by a request that has not answered after this many seconds (its process
    # died) is taken over by the next request with the key; the first one may no longer store its answer.
    IDEMPOTENCY_LEASE_SECONDS = float(_env("IDEMPOTENCY_LEASE_SECONDS", "10"))
    # E-mail: smtp[s]://[user:password@]host[:port][?starttls=1] (core/mail.py), and the sender.
    SMTP_URL = _env("LIBEO_SMTP_URL", _env("SMTP_URL"))
    MAIL_FROM = _env("LIBEO_MAIL_FROM", _env("MAIL_FROM", "Libeo <notifications@libeo.localhost>"))

    STRIPE_SECRET_KEY = _env("STRIPE_SECRET_KEY")
    STRIPE_PUBLISHABLE_KEY = _env("STRIPE_PUBLISHABLE_KEY")
    STRIPE_WEBHOOK_SECRET = _env("STRIPE_WEBHOOK_SECRET")
    # Without real keys, dev and tests talk to localstripe on loopback.
    LOCALSTRIPE_URL = _env("LOCALSTRIPE_URL", "http://127.0.0.1:8420")
