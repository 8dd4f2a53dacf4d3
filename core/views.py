"""View steps both products take the same way: paging, domain errors on forms, a form saved, files (logout
and password change: ``core.auth``).

Each product keeps its own one-line views (its URLs, templates and
database); what happens inside them is written once, here.
"""

from __future__ import annotations

from io import BytesIO

from flask import Flask, abort, flash, redirect, request, send_file, send_from_directory, url_for
from flask_sqlalchemy import SQLAlchemy

from .ids import parse_id

MAX_PAGE_DIGITS = 6
# What a multipart form adds around an uploaded file (boundaries, headers, CSRF token, other fields).
FORM_OVERHEAD_BYTES = 64 * 1024
# A refused upload is read to its end up to this size, so that the browser sees the answer
# rather than a connection reset; a larger one is cut off.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024


def page_number() -> int:
    """``?page=`` as a positive integer of at most six ASCII digits; page 1 for anything else.

    (« ² » or « ١٢ » are digits to ``str.isdigit``: ``int`` refuses the first.)
    """
    number = parse_id(request.args.get("page"))
    return number if number is not None and number < 10**MAX_PAGE_DIGITS else 1


def _form_field(form, domain_field: str | None, fields: dict[str, str] | None):
    """The form's field for a domain's field name (``fields`` maps names that differ), or None."""
    if domain_field is None:
        return None
    name = (fields or {}).get(domain_field, domain_field)
    field = getattr(form, name, None) if name else None
    return field if field is not None and hasattr(field, "errors") else None


def show_domain_error(form, error, fields: dict[str, str] | None = None) -> None:
    """Puts a domain error's French message under the field it concerns, else flashes it.

    ``error`` has ``message`` and ``field`` (the domain's name for it);
    ``fields`` maps domain names to the form's where they differ.
    """
    field = _form_field(form, error.field, fields)
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        flash(error.message, "error")


def show_domain_errors(form, problems: dict[str, str], fields: dict[str, str] | None = None) -> None:
    """Each problem (domain field → French message) under its field, unless the form already says
    something there; one without a field of the form is flashed."""
    for domain_field, message in problems.items():
        field = _form_field(form, domain_field, fields)
        if field is None:
            flash(message, "error")
        elif not field.errors:
            field.errors = [*field.errors, message]


def saved(db: SQLAlchemy, message: str, endpoint: str, *, warning: str | None = None, **values):
    """A form's use case done: commit it, say so (and what to watch, ``warning``), and go back to a page
    (POST → redirect → GET)."""
    db.session.commit()
    flash(message, "success")
    if warning:
        flash(warning, "warning")
    return redirect(url_for(endpoint, **values))


def file_response(content: bytes, mimetype: str, download_name: str):
    """A stored file, downloaded under its name: never shown inside the site (a supplier's file is
    not trusted content: an attachment, with the site's strict CSP and nosniff), never kept by a cache.

    Always the whole file (``conditional=False``: a ``Range`` header is ignored): what is downloaded may be
    generated anew each time (a receipt), so a slice could belong to another version, and nothing keeps it
    to resume from anyway."""
    response = send_file(BytesIO(content), mimetype=mimetype, as_attachment=True, download_name=download_name,
                         max_age=0, conditional=False)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def pdf_response(content: bytes, download_name: str):
    return file_response(content, "application/pdf", download_name)


def accepts_upload(max_file_bytes: int):
    """Marks a view that receives a file of up to ``max_file_bytes`` (the app's limit stays for the others).

    A larger request is refused with a 413 before anything reads it: the
    view's blueprint turns it into its own page (``errorhandler(413)``).
    """

    def mark(view):
        view.max_content_length = max_file_bytes + FORM_OVERHEAD_BYTES
        return view

    return mark


def init_upload_limits(app: Flask) -> None:
    """Applies ``accepts_upload`` limits; registered before CSRF protection, which reads the form."""

    @app.before_request
    def upload_limit():
        view = app.view_functions.get(request.endpoint or "")
        limit = getattr(view, "max_content_length", None)
        if limit is None:
            return
        request.max_content_length = limit
        length = request.content_length
        if length is not None and length > limit:
            _discard_body(length)
            abort(413)


def _discard_body(length: int) -> None:
    if length > DRAIN_LIMIT_BYTES:
        return
    stream = request.environ.get("wsgi.input")
    left = length
    while stream is not None and left > 0:
        chunk = stream.read(min(left, 1024 * 1024))
        if not chunk:
            break
        left -= len(chunk)


def mailbox_message_response(response):
    """An e-mail's HTML shown inside « E-mails envoyés »: its inline styles allowed, nothing else,
    in a sandbox (no script, no form, no navigation), framed by this site only."""
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox allow-popups "
        "allow-popups-to-escape-sandbox; frame-ancestors 'self'"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def register_favicon(app, static_folder) -> None:
    """``/favicon.ico``, which every browser asks of the site's root whatever the page says."""

    def favicon():
        return send_from_directory(static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon",
                                   max_age=86400)

    app.add_url_rule("/favicon.ico", "favicon", favicon)
