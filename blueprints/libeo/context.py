"""What every signed-in Libeo page works on: the user's account (one company)."""

from __future__ import annotations

from flask import flash
from flask_login import current_user

from models.libeo import Account
from models.libeo.errors import LibeoError


def current_account() -> Account:
    return current_user.account


def show_domain_error(form, error: LibeoError, fields: dict[str, str] | None = None) -> None:
    """Puts the message under the field it concerns, else flashes it."""
    name = (fields or {}).get(error.field, error.field)
    field = getattr(form, name, None) if name else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, error.message]
    else:
        flash(error.message, "error")
