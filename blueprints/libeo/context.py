"""What every signed-in Libeo page works on: the user's account (one company), and who administers it."""

from __future__ import annotations

from flask import abort
from flask_login import current_user

from models.libeo import Account
from models.libeo.payments.order import account_payment

ADMIN_ONLY = "Cette page est réservée aux administrateurs du compte Libeo."


def current_account() -> Account:
    return current_user.account


def require_admin() -> None:
    """Approvals, the « Journal » and the rules are for the account's administrators (403 otherwise)."""
    if not current_user.is_admin:
        abort(403, description=ADMIN_ONLY)


def account_payment_or_404(payment_id: int):
    """A payment of the signed-in user's account; another account's is « not found »."""
    payment = account_payment(current_account(), payment_id)
    if payment is None:
        abort(404)
    return payment
