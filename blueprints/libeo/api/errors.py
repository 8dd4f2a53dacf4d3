"""The API's one error shape: ``{"error": {"code", "message", "field"}}``, French message."""

from __future__ import annotations

from flask import jsonify

from core.urls import public_url
from models.libeo.errors import (
    Conflict,
    Forbidden,
    InvalidData,
    LibeoError,
    NotFound,
    PlanLimitReached,
    QuotaExceeded,
)

STATUS_OF = {
    InvalidData: 422,
    NotFound: 404,
    Forbidden: 403,
    PlanLimitReached: 403,
    Conflict: 409,
    QuotaExceeded: 402,
}

# Domain field names, as the API's caller wrote them.
API_FIELDS = {
    "supplier_name": "supplier.name",
    "supplier_iban": "supplier.iban",
    "supplier_bic": "supplier.bic",
    "initiated_by_email": "initiated_by.email",
}

HTTP_ERRORS = {
    400: ("bad_request", "La requête n'a pas pu être traitée."),
    401: ("unauthorized", "Clé d'API absente ou invalide."),
    404: ("not_found", "Cette ressource n'existe pas."),
    405: ("method_not_allowed", "Cette méthode n'est pas permise sur cette adresse."),
    413: ("payload_too_large", "Le corps de la requête est trop volumineux (1 Mo au plus)."),
    429: ("rate_limited", "Trop de requêtes : patientez un instant avant de réessayer."),
    500: ("internal_error", "Une erreur inattendue est survenue : réessayez plus tard."),
}


def error_response(status: int, code: str, message: str, field: str | None = None, **extra):
    response = jsonify({"error": {"code": code, "message": message, "field": field, **extra}})
    response.status_code = status
    return response


def http_error_response(status: int, message: str | None = None, reference: str | None = None):
    """An error of the HTTP layer; a 500 carries the reference its log line has. A status without its own
    words here (416, 415…) takes those of its class (400's, or 500's)."""
    code, default = HTTP_ERRORS.get(status) or HTTP_ERRORS[400 if status < 500 else 500]
    return error_response(status, code, message or default, **({"reference": reference} if reference else {}))


class ApiError(Exception):
    """A refusal of the HTTP layer itself (malformed JSON, missing header…)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def unauthorized():
    """One answer for every bad key, so that it tells nothing about the key."""
    response = http_error_response(401)
    response.headers["WWW-Authenticate"] = 'Bearer realm="libeo"'
    return response


def upgrade_url() -> str:
    """The absolute address of the « Abonnement » page, where the plan is upgraded."""
    return public_url("billing.subscription")


def api_field(field: str) -> str:
    """A domain field as the API's caller wrote it, under its prefix if any (« invoice.supplier.name »)."""
    prefix, dot, name = field.rpartition(".")
    return prefix + dot + API_FIELDS.get(name, name)


def domain_error_body(error: LibeoError) -> tuple[int, dict]:
    """The status and ``{"error": …}`` body of a domain refusal (a whole answer, or one item of a batch)."""
    status = next((s for cls, s in STATUS_OF.items() if isinstance(error, cls)), 422)
    field = api_field(error.field) if error.field else None
    extra = {}
    if isinstance(error, QuotaExceeded):
        extra["upgrade_url"] = upgrade_url()
    if error.details.get("payment_id") is not None:
        extra["payment_id"] = error.details["payment_id"]
    return status, {"error": {"code": error.code, "message": error.message, "field": field, **extra}}


def domain_error_response(error: LibeoError):
    status, body = domain_error_body(error)
    response = jsonify(body)
    response.status_code = status
    return response
