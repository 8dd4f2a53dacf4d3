"""Security helpers shared by both products: redirects, headers, passwords."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app, request
from werkzeug.security import check_password_hash, generate_password_hash

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


def safe_next_url(target: str | None, fallback: str) -> str:
    """Only a path on this site: no scheme, host, backslash or control character."""
    if not target:
        return fallback
    if any(ch in target for ch in ("\\", "\r", "\n", "\t")) or any(ord(c) < 32 for c in target):
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


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash or len(password) > MAX_PASSWORD_LENGTH:
        return False
    return check_password_hash(password_hash, password)


def init_security_headers(app: Flask, *, script_sources: tuple[str, ...] = (), frame_sources: tuple[str, ...] = ()) -> None:
    """CSP without inline script, no framing, no sniffing, HSTS over HTTPS."""
    script_src = " ".join(("'self'",) + script_sources)
    frame_src = " ".join(("'self'",) + frame_sources)
    csp = (
        "default-src 'self'; "
        f"script-src {script_src}; "
        "style-src 'self'; "
        "img-src 'self' data:; "
        f"frame-src {frame_src}; "
        f"connect-src {script_src}; "
        "form-action 'self' " + " ".join(app.config.get("CSP_FORM_ACTION", ())) + "; "
        "base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
    )

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
