"""Domain errors of Libeo: a stable code, a French message, the field concerned.

The web views flash the message; the REST API turns the class into a status
(see ``blueprints.libeo.api.errors``) and sends code, message and field.
"""

from __future__ import annotations

from core.validators import InvalidIdentifier, normalize_bic, normalize_iban


class LibeoError(Exception):
    code = "invalid"

    def __init__(self, message: str, field: str | None = None, *, code: str | None = None, **details) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code
        self.details = details


class InvalidData(LibeoError):
    """Input that does not hold (type, length, IBAN, amount, date…)."""

    code = "validation_error"


class NotFound(LibeoError):
    code = "not_found"


class Forbidden(LibeoError):
    code = "forbidden"


class Conflict(LibeoError):
    """The request clashes with the current state (already paid, taken…)."""

    code = "conflict"


class PlanLimitReached(LibeoError):
    """What the account's plan includes is used up (users, accountant access)."""

    code = "plan_limit"


class QuotaExceeded(LibeoError):
    """The monthly payments of the « Gratuit » plan are used up."""

    code = "quota_exceeded"


def checked_iban_and_bic(iban: str | None, bic: str | None, iban_field: str = "iban",
                         bic_field: str = "bic") -> tuple[str, str | None]:
    """An IBAN and an optional BIC, normalised; InvalidData naming the field of the one that does not hold."""
    try:
        iban = normalize_iban(iban)
    except InvalidIdentifier as exc:
        raise InvalidData(str(exc), iban_field) from exc
    try:
        bic = normalize_bic(bic)
    except InvalidIdentifier as exc:
        raise InvalidData(str(exc), bic_field) from exc
    return iban, bic
