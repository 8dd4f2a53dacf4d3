"""What an error page says, in French, on both products."""

from __future__ import annotations

from flask_limiter.errors import RateLimitExceeded

ERROR_MESSAGES = {
    400: "La requête n'a pas pu être traitée.",
    403: "Vous n'avez pas les droits nécessaires pour accéder à cette page.",
    404: "Cette page n'existe pas, ou vous n'y avez pas accès.",
    405: "Cette action n'est pas permise ici.",
    413: "Les données envoyées sont trop volumineuses.",
    429: "Trop de tentatives : patientez un instant avant de réessayer.",
    500: "Une erreur inattendue est survenue. Nos équipes ont été prévenues.",
}
CSRF_MESSAGE = "Le formulaire a expiré ou n'est pas valide : rechargez la page et recommencez."


def describe(error) -> tuple[int, str, bool]:
    """(status, French message, whether the message is the view's own).

    A view's own French description (``abort(403, description=…)``) wins over
    werkzeug's English default; a rate limit's description is the limit
    itself, in English (« 10 per 1 minute »), so it never shows.
    """
    code = getattr(error, "code", None) or 500
    if code not in ERROR_MESSAGES:
        code = 500
    description = getattr(error, "description", None)
    custom = bool(description) and description != getattr(type(error), "description", None)
    if isinstance(error, RateLimitExceeded):
        custom = False
    return code, description if custom else ERROR_MESSAGES[code], custom
