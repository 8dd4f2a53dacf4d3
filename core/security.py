"""Security helpers shared by both products: redirects, headers, passwords."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import Flask, current_app, request
from sqlalchemy import String, bindparam, select
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from core.forms import Form
from core.ids import parse_id
from core.observability.context import note

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128

# The most common passwords of French leaks, refused whatever their length.
COMMON_PASSWORDS = frozenset(
    {
        "123456789012", "azertyuiop", "azertyuiop1", "motdepasse", "motdepasse1",
        "motdepasse123", "password123", "password1234", "qwertyuiop", "1234567890",
        "0123456789", "aaaaaaaaaa", "iloveyou123", "soleil12345", "marseille13",
        "doudou12345", "chouchou123", "jetaime1234", "bonjour1234", "azerty12345",
        "azerty123456", "changeme123", "bienvenue1", "bienvenue123", "administrateur",
    }
)


def session_user_loader(db, model, options: tuple = (),
                        load: Callable[[int], Any] | None = None) -> Callable[[str], object | None]:
    """Flask-Login's loader for users whose ``get_id()`` is ``"<id>:<session token>"``.

    A rotated session token (logout, password change) ends every session that
    still carries the old one, whatever its cookie says. ``options``: what every
    page reads with the user, loaded in the same statement (Libeo: the account).
    ``load``: reads the user of an id instead (MEG: with the companies they may open).
    """

    # Built once: a prebuilt statement costs some 190 function calls less per request than
    # ``session.get``, whose identity-map lookup never finds the user in a request's new session.
    by_id = select(model).where(model.id == bindparam("user_id")).options(*options)

    def load_user(identity: str):
        raw_id, _, token = identity.partition(":")
        user_id = parse_id(raw_id)
        if user_id is None or not token:
            return None
        user = load(user_id) if load is not None else db.session.scalar(by_id, {"user_id": user_id})
        if user is None or not hmac.compare_digest(user.session_token, token):
            return None
        note(user_id=user.id, account_id=getattr(user, "account_id", None))  # for the request's log lines
        return user

    return load_user



class SessionUser:
    """On a product's user: what Flask-Login asks of it, and the session token the login cookie carries
    (``get_id()`` is ``"<id>:<token>"``, read back by :func:`session_user_loader`). The table declares
    its own ``password_hash``."""

    # Part of the login cookie's identity: rotating it ends every session.
    session_token: Mapped[str] = mapped_column(String(64), default=lambda: secrets.token_urlsafe(32))

    if TYPE_CHECKING:
        id: int
        password_hash: str | None

    # Flask-Login protocol
    is_active = True
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)
        self.end_sessions()

    def check_password(self, password: str) -> bool:
        return verify_password(self.password_hash, password)

    def end_sessions(self) -> None:
        self.session_token = secrets.token_urlsafe(32)

def safe_next_url(target: str | None, fallback: str) -> str:
    """Only a path on this site: no scheme, host, backslash or invisible character."""
    if not target:
        return fallback
    # Browsers drop tabs and newlines and read « \ » as « / »: « /\tevil » or
    # « /\evil » would leave the site.
    if "\\" in target or not target.isprintable():
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    return target


def password_problem(password: str) -> str | None:
    """Why a new password is refused, in French, or None when it is fine."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Le mot de passe doit comporter au moins {MIN_PASSWORD_LENGTH} caractères."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Le mot de passe ne doit pas dépasser {MAX_PASSWORD_LENGTH} caractères."
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        return "Ce mot de passe est trop courant : choisissez-en un autre."
    return None


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


@lru_cache(maxsize=4)
def _decoy_hash(method: str) -> str:
    return generate_password_hash("pas un vrai mot de passe", method=method)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; without a hash, the same work is done for nothing.

    Checking a decoy when there is no user (or no password) makes a wrong
    e-mail cost what a wrong password costs, so timing tells nothing.
    """
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    if not password_hash:
        check_password_hash(_decoy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        return False
    return check_password_hash(password_hash, password)


class PasswordChangeRefused(Exception):
    """A password change refused; ``message`` (French) belongs under ``field``."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message, self.field = message, field


def change_password(user, current: str, new: str) -> None:
    """Checks the current password and the new one, then sets it.

    ``user`` is either product's user (``check_password``/``set_password``);
    setting a password rotates its session token, which ends every other
    session of that user. The caller commits and signs the user in again.
    """
    if not user.password_hash:
        raise PasswordChangeRefused(
            "Ce compte n'a pas de mot de passe : il se connecte avec « Me connecter avec MEG ».", "current_password"
        )
    if not user.check_password(current or ""):
        raise PasswordChangeRefused("Le mot de passe actuel est incorrect.", "current_password")
    problem = password_problem(new or "")
    if problem:
        raise PasswordChangeRefused(problem, "new_password")
    if new == current:
        raise PasswordChangeRefused("Choisissez un mot de passe différent de l'actuel.", "new_password")
    user.set_password(new)


_TOO_LONG = Length(max=MAX_PASSWORD_LENGTH, message=f"{MAX_PASSWORD_LENGTH} caractères au plus.")


class LogoutForm(Form):
    """« Se déconnecter »: a form, so that no other site can log a person out."""

    submit = SubmitField("Se déconnecter")


class ChangePasswordForm(Form):
    """« Changer mon mot de passe », the same on both products."""

    current_password = PasswordField(
        "Mot de passe actuel", validators=[DataRequired("Saisissez votre mot de passe actuel."), _TOO_LONG]
    )
    new_password = PasswordField(
        "Nouveau mot de passe", validators=[DataRequired("Choisissez un nouveau mot de passe."), _TOO_LONG]
    )
    confirm = PasswordField(
        "Confirmez le nouveau mot de passe",
        validators=[
            DataRequired("Saisissez le nouveau mot de passe une seconde fois."),
            EqualTo("new_password", "Les deux saisies du nouveau mot de passe diffèrent."),
        ],
    )
    submit = SubmitField("Changer mon mot de passe")


# --- response headers -------------------------------------------------------------------------

# Directives a page may widen: Stripe.js on the billing pages, the return
# address of an OAuth client on the consent screen.
WIDENABLE = ("script-src", "frame-src", "connect-src", "form-action")
Sources = Mapping[str, tuple[str | None, ...]]  # None (an origin not configured) is left out


def origin_of(url: str | None) -> str | None:
    """``scheme://host[:port]`` of an http(s) address, else None."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(extra: Sources | None = None) -> str:
    """No inline script or style, no plugin, no framing; ``extra`` widens WIDENABLE directives."""
    extra = extra or {}

    def sources(directive: str) -> str:
        return " ".join(dict.fromkeys(("'self'", *(source for source in extra.get(directive, ()) if source))))

    return (
        "default-src 'self'; "
        f"script-src {sources('script-src')}; "
        "style-src 'self'; "
        "img-src 'self' data:; "
        f"frame-src {sources('frame-src')}; "
        f"connect-src {sources('connect-src')}; "
        f"form-action {sources('form-action')}; "
        "base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
    )


def _merge(*parts: Sources) -> dict[str, tuple[str, ...]]:
    merged: dict[str, tuple[str, ...]] = {}
    for part in parts:
        for directive, values in part.items():
            if directive not in WIDENABLE:
                raise ValueError(f"CSP directive {directive!r} cannot be widened")
            merged[directive] = merged.get(directive, ()) + tuple(v for v in values if v)
    return merged


_ALWAYS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)


def init_security_headers(
    app: Flask,
    *,
    everywhere: Sources | None = None,
    pages: Mapping[str, Sources | Callable[[], Sources]] | None = None,
) -> None:
    """CSP without inline script, no framing, no sniffing, HSTS over HTTPS.

    ``everywhere`` widens the policy of every page (e.g. ``form-action`` to the
    other product, where a form's answer redirects). ``pages`` widens it for
    one endpoint (``"oauth.authorize"``) or a whole blueprint (``"billing"``)
    only, with fixed sources or a function of the request.
    """
    base = _merge(everywhere or {})
    default_csp = content_security_policy(base)
    pages = dict(pages or {})

    def page_sources() -> Sources | None:
        endpoint = request.endpoint or ""
        for name, sources in pages.items():
            if endpoint == name or endpoint.startswith(name + "."):
                return sources() if callable(sources) else sources
        return None

    @app.after_request
    def _headers(response):
        extra = page_sources() if pages else None
        csp = content_security_policy(_merge(base, extra)) if extra else default_csp
        wanted = [("Content-Security-Policy", csp), *_ALWAYS]
        if response.mimetype == "text/html":
            # Pages show private data: no shared cache keeps them, and the
            # back button after « Se déconnecter » does not show them again.
            wanted.append(("Cache-Control", "no-store"))
        if request.is_secure:
            wanted.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
        # Those a view set itself are kept (one pass over the headers, not one per header).
        present = {name.lower() for name, _ in response.headers}
        response.headers.extend([(name, value) for name, value in wanted if name.lower() not in present])
        return response
