"""The steps every product's factory starts with."""

from __future__ import annotations

import logging
import re
import secrets
from pathlib import Path

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from werkzeug.middleware.proxy_fix import ProxyFix

from core.db import sqlite_file
from core.files import keep_files_private, loose_paths_warning, private_folder, write_private_text

_WARNED: set[str] = set()


def load_config(app: Flask, config_object: object, test_config: dict | None) -> None:
    """Defaults first, then the test mapping; a missing secret is kept in instance/.

    From here on the process creates its files for their owner only, and the
    files it keeps that others may read are named in a warning.
    """
    keep_files_private()
    app.config.from_object(config_object)
    if test_config:
        app.config.from_mapping(test_config)
    private_folder(app.instance_path)
    warning = loose_paths_warning(kept_paths(app))
    if warning and warning not in _WARNED:  # once per process (both products may share a folder)
        _WARNED.add(warning)
        app.logger.warning(warning)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret(app, f"{app.name}_secret_key")
    secure_cookies_over_https(app)
    app.session_interface = SigningOnceSessionInterface()


class SigningOnceSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, their serializer built once per key rather than on every request.

    Paths under ``SESSIONLESS_PATHS`` (Libeo's API: a key in a header, never a
    cookie) get an empty session that is never saved: a browser's cookie sent
    along is neither verified nor used, and no answer sets one.
    """

    def open_session(self, app: Flask, request):
        if self._sessionless(app, request.path):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session, response) -> None:
        if not self._sessionless(app, request.path):
            super().save_session(app, session, response)

    @staticmethod
    def _sessionless(app: Flask, path: str) -> bool:
        return path.startswith(tuple(app.config.get("SESSIONLESS_PATHS") or ()))

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        built = getattr(self, "_built", None)
        if built is None or built[0] != keys:
            built = self._built = (keys, super().get_signing_serializer(app))
        return built[1]


def secure_cookies_over_https(app: Flask) -> None:
    """Cookies are ``Secure`` when the site is public over HTTPS, unless set explicitly."""
    over_https = str(app.config.get("PUBLIC_URL", "")).startswith("https://")
    for name in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        if app.config.get(name) is None:
            app.config[name] = over_https


def trust_proxies(app: Flask) -> None:
    """Behind ``TRUSTED_PROXIES`` load balancers, the client's address and scheme are theirs to tell.

    Without it every visitor would share the balancer's address (one rate
    limit for all) and HTTPS would look like plain HTTP (no HSTS). Never set
    it when clients can reach the app directly: they could forge the headers.
    """
    count = int(app.config.get("TRUSTED_PROXIES") or 0)
    if count > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count, x_port=count)


def instance_secret(app: Flask, name: str) -> str:
    """A random secret generated once per instance and kept in a 0600 file."""
    path = Path(app.instance_path) / f"{name}.txt"
    if not path.exists():
        write_private_text(path, secrets.token_urlsafe(48))
    return path.read_text().strip()


def kept_paths(app: Flask) -> list[Path]:
    """What the app keeps on disk: its instance folder, a SQLite database (with its WAL, SHM and
    writers' lock files) and the folders of SEPA files and OAuth keys, wherever configured."""
    paths = [Path(app.instance_path)]
    database = sqlite_file(app.config.get("SQLALCHEMY_DATABASE_URI") or "")
    if database is not None:
        paths += [database, *(database.with_name(database.name + suffix) for suffix in ("-wal", "-shm", ".writers"))]
    for name in ("SEPA_EXPORT_DIR", "OAUTH_KEYS_DIR"):
        if app.config.get(name):
            paths.append(Path(app.config[name]))
    instance = Path(app.instance_path).resolve()
    # Under the instance folder already: looked at once.
    return paths[:1] + [p for p in paths[1:] if not p.resolve().is_relative_to(instance)]


class RedactSecrets(logging.Filter):
    """Masks bearer tokens, API keys, codes and client secrets in log lines, whatever logs them.

    The access log of the development server (``werkzeug``) and of gunicorn
    prints each request line, and the OAuth callback carries ``code=`` in its
    query string: the value is masked, the line is kept.
    """

    MASK = "[masqué]"
    PATTERNS = (
        re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"),
        re.compile(
            r"(?i)\b(code|access_token|refresh_token|id_token|client_secret|code_verifier|api_key|password|state)"
            r"(=|\"?\s*:\s*\"?)[^&\s\"',;]+"
        ),
        re.compile(r"\b(lbo_[a-z]+_[0-9a-f]{12})_[A-Za-z0-9_-]{20,}"),
        # The one-click unsubscribe link: a signed token that holds the person's address and turns e-mails off.
        re.compile(r"(/desabonnement/)[^/?#\s\"']+"),
    )

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True

    @classmethod
    def redact(cls, text: str) -> str:
        bearer, pairs, api_key, unsubscribe = cls.PATTERNS
        text = bearer.sub(lambda m: f"{m.group(1)} {cls.MASK}", text)
        text = pairs.sub(lambda m: f"{m.group(1)}{m.group(2)}{cls.MASK}", text)
        text = unsubscribe.sub(lambda m: f"{m.group(1)}{cls.MASK}", text)
        return api_key.sub(lambda m: f"{m.group(1)}_{cls.MASK}", text)


# Loggers that print request lines (with their query strings): the servers'
# access logs, and urllib3's (at DEBUG) for calls between the products over the network.
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error", "urllib3.connectionpool")


def install_log_redaction() -> None:
    """Puts one RedactSecrets filter on each access logger (idempotent: factories run often in tests)."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
