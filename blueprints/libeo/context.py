"""What every signed-in Libeo page works on: the user's account (one company), and who administers it."""

from __future__ import annotations

from flask import abort
from flask_login import current_user

from models.libeo import Account

ADMIN_ONLY = "Cette page est réservée aux administrateurs du compte Libeo."


def current_account() -> Account:
    return current_user.account


def require_admin() -> None:
    """Approvals, the « Journal » and the rules are for the account's administrators (403 otherwise)."""
    if not current_user.is_admin:
        abort(403, description=ADMIN_ONLY)
