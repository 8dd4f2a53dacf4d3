"""What an error page says, in French, on both products, and how an unexpected error is traced."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app, g, render_template, request
from flask_limiter.errors import RateLimitExceeded
from markupsafe import escape

from core.observability.context import current_request_id, new_request_id
from core.security import safe_next_url

ERROR_MESSAGES = {
    400: "La requête n'a pas pu être traitée.",
    403: "Vous n'avez pas les droits nécessaires pour accéder à cette page.",
    404: "Cette page n'existe pas, ou vous n'y avez pas accès.",
    405: "Cette action n'est pas permise ici.",
    413: "Les données envoyées sont trop volumineuses.",
    429: "Trop de tentatives : patientez un instant avant de réessayer.",
    500: "Une erreur inattendue est survenue. Nos équipes ont été prévenues.",
}
CSRF_MESSAGE = "Le formulaire a expiré ou n'est pas valide : rien n'a été fait. Revenez à la page et recommencez."
# Said on the page of a form sent after its session ended or its token expired (``form_page``).
CSRF_EXPIRED = ("Le formulaire avait expiré (session terminée ou page ouverte depuis longtemps) : rien n'a été fait. "
                "Recommencez.")


def form_page() -> str | None:
    """The page of this product that showed the form just posted (the ``Referer``), or None.

    Only a path under this product's root on this host: never another site nor the other product.
    """
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host or referrer.scheme not in ("http", "https"):
        return None
    root = request.script_root.rstrip("/") + "/"
    if not (referrer.path + "/").startswith(root):
        return None
    target = referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return safe_next_url(target, "") or None


def describe(error) -> tuple[int, str, bool]:
    """(status, French message, whether the message is the view's own).

    A view's own French description (``abort(403, description=…)``) wins over
    werkzeug's English default; a rate limit's description is the limit
    itself, in English (« 10 per 1 minute »), so it never shows. An HTTP
    error without a message of its own here (416, 415…) keeps its status,
    with the message of its class (400's, or 500's).
    """
    code = getattr(error, "code", None) or 500
    if not 400 <= code < 600:
        code = 500
    known = code if code in ERROR_MESSAGES else 400 if code < 500 else 500
    description = getattr(error, "description", None)
    custom = bool(description) and description != getattr(type(error), "description", None)
    if isinstance(error, RateLimitExceeded):
        custom = False
    return code, description if custom and description else ERROR_MESSAGES[known], custom


# --- unexpected errors ----------------------------------------------------------------------------

# Shown when even the error page cannot be drawn (its layout reads the
# database, which may be what failed).
BARE_500_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Erreur</title></head>
<body><h1>Erreur</h1><p>{message}</p><p>Référence de l'erreur : {reference}</p></body></html>
"""


def new_reference() -> str:
    """The request's id (« 3F9A-07C2-5D1E-4B90 », in every log line of the request), else a new one."""
    return current_request_id() or new_request_id()


def trace_unexpected_errors(app: Flask) -> None:
    """Flask logs an unhandled exception, with its traceback, before asking for the 500 page.

    Its log line gets a reference, the request's id, and the 500 page shows
    the same one (:func:`error_reference`): the visitor sees no traceback,
    only what lets the support team find every line of the request in the log.
    """

    def log_exception(exc_info) -> None:
        g.error_reference = reference = new_reference()
        app.logger.error(
            "Erreur inattendue, référence %s : %s %s", reference, request.method, request.script_root + request.path,
            exc_info=exc_info,
        )

    app.log_exception = log_exception


def error_reference() -> str:
    """This request's 500 reference: the one logged with its exception, or one logged now (``abort(500)``)."""
    reference = g.get("error_reference")
    if reference is None:
        g.error_reference = reference = new_reference()
        current_app.logger.error(
            "Erreur 500, référence %s : %s %s", reference, request.method, request.script_root + request.path
        )
    return reference


def error_page(template: str, code: int, message: str, reference: str | None = None):
    """The product's error page; for a 500, a bare French page if the layout itself fails."""
    try:
        return render_template(template, code=code, message=message, reference=reference)
    except Exception:
        if code != 500:
            raise
        current_app.logger.exception("La page d'erreur n'a pas pu être affichée (référence %s)", reference)
        return BARE_500_PAGE.format(message=escape(message), reference=escape(reference or ""))
