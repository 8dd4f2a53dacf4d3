"""What both products' rate limits are keyed on, and where their values come from.

The limits are Flask-Limiter decorators on the views (each product has its
own ``limiter`` in its ``extensions``); their strings live in the config
(``LOGIN_LIMIT_PER_ACCOUNT`` …) so that a deployment, or a test, changes them
without touching code. An empty string turns a limit off.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import current_app, request
from flask_login import current_user


def configured(name: str) -> Callable[[], str]:
    """The limit string of config ``name``, read at each request."""
    return lambda: current_app.config.get(name) or ""


def client_address() -> str:
    """The visitor's address (the balancer's unless TRUSTED_PROXIES is set)."""
    return f"ip:{request.remote_addr or 'inconnue'}"


def submitted_account() -> str:
    """The account a login form names: its e-mail, digested (a key prints in Redis)."""
    email = (request.form.get("email") or "").strip().lower()[:254]
    if not email:
        return client_address()
    return "account:" + hashlib.sha256(email.encode("utf-8")).hexdigest()[:32]


def signed_in_user() -> str:
    """The signed-in user (the session's user id), else the address."""
    if current_user.is_authenticated:
        return f"user:{current_user.get_id().partition(':')[0]}"
    return client_address()


def refused_credentials(response) -> bool:
    """Counts an answer as a failed authentication (401)."""
    return response.status_code == 401
