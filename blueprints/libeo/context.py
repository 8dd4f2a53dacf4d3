"""What every signed-in Libeo page works on: the user's account (one company)."""

from __future__ import annotations

from flask_login import current_user

from models.libeo import Account


def current_account() -> Account:
    return current_user.account
