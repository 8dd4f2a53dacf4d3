"""The steps both products' factories take the same way.

Each factory (``blueprints/<side>/factory.py``) still reads as its list of
named steps; the steps that are the same for MEG and Libeo (the Flask object,
the extensions, the error pages, the common template filters, what wraps up
the app) are written once here, with the product's objects passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from flask import Flask, current_app, flash, redirect, render_template, request, session, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_login.utils import make_next_param
from flask_mailman import Mail
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from core.calendar import earliest_words, late_payment_words
from core.dates import paris_today, register_date_filters
from core.db import init_database
from core.errors import CSRF_EXPIRED, CSRF_MESSAGE, ERROR_MESSAGES, form_page, trace_unexpected_errors
from core.french import register_french_filters
from core.ids import register_id_converter
from core.listing import list_url
from core.mail import init_mail
from core.migrations import init_migrations
from core.money import format_amount
from core.security import session_user_loader
from core.setup import install_log_redaction, load_config, trust_proxies
from core.typography import init_typography
from core.views import init_upload_limits, register_favicon


class Extensions(NamedTuple):
    """A product's extension singletons, created once per process, bound by its factory."""

    login_manager: LoginManager
    csrf: CSRFProtect
    limiter: Limiter
    mail: Mail


def product_extensions(product: str) -> Extensions:
    login_manager = LoginManager()
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Connectez-vous pour accéder à cette page."
    login_manager.login_message_category = "info"
    login_manager.unauthorized_handler(lambda: sign_in_first(login_manager))
    # The prefix keeps this product's counts apart from the other's in a shared Redis (same endpoint
    # names, same addresses). Set here, not in the config: this one object serves every app built in
    # the process, and Flask-Limiter keeps the first prefix it sees.
    limiter = Limiter(key_func=get_remote_address, default_limits=[], key_prefix=product)
    # E-mail through SMTP (core/mail.py): only the notification workers send.
    return Extensions(login_manager, CSRFProtect(), limiter, Mail())


def sign_in_first(login_manager: LoginManager):
    """Flask-Login's answer to a page that needs a session (its message, then the login page and back), but
    without its message after a form sent once the session had ended: that form's own message says why
    (``CSRF_EXPIRED``). The page is returned to at its fragment (``with_return_anchor``)."""
    if not any(message == CSRF_EXPIRED for _category, message in session.get("_flashes", ())):
        flash(login_manager.login_message, login_manager.login_message_category)
    login_page = url_for(login_manager.login_view)
    return redirect(url_for(login_manager.login_view,
                            next=with_return_anchor(make_next_param(login_page, request.url))))


def register_return_anchor(app: Flask, anchor: Callable[[str], str]) -> None:
    """``anchor`` gives an address of the product the fragment its page opens at when returned to after a
    sign-in or a form that had expired (MEG: an invoice's « Payer » panel, ``#confirmer``)."""
    app.extensions["return_anchor"] = anchor


def with_return_anchor(url: str) -> str:
    """``url`` with the fragment its page opens at: a browser never sends it, so a page returned to by the
    server would open at its top."""
    anchor = current_app.extensions.get("return_anchor")
    return anchor(url) if anchor is not None else url


def new_app(name: str, config: type, test_config: dict | None, base_dir: Path, instance_dir: Path) -> Flask:
    """The product's Flask object over the shared templates and static files, its configuration loaded."""
    app = Flask(
        name,
        instance_path=str(instance_dir),
        template_folder=str(base_dir / "templates"),
        static_folder=str(base_dir / "static"),
    )
    load_config(app, config, test_config)
    return app


def assemble(app: Flask, *steps: Callable[[Flask], None]) -> Flask:
    """Runs the factory's steps in order, between what must come before the routes and what wraps up."""
    register_id_converter(app)  # before the routes are added: they take it for <int:…>
    for step in steps:
        step(app)
    init_typography(app)
    install_log_redaction()
    trust_proxies(app)
    return app


def init_extensions(app: Flask, extensions: Extensions, db: SQLAlchemy, user_model: type, migrations: Path, *,
                    begin_immediate: bool = True, user_options: tuple = (),
                    load_user: Callable[[int], Any] | None = None) -> None:
    init_database(app, db, begin_immediate=begin_immediate)
    init_migrations(app, db, migrations)
    extensions.login_manager.init_app(app)
    extensions.login_manager.user_loader(session_user_loader(db, user_model, user_options, load_user))
    init_upload_limits(app)  # before CSRF protection, which reads the form
    extensions.csrf.init_app(app)
    extensions.limiter.init_app(app)
    init_mail(app, extensions.mail)


def register_error_pages(app: Flask, template: str, render_error: Callable) -> None:
    """``render_error`` answers every code of ``ERROR_MESSAGES``, and any other HTTP error (werkzeug's 416,
    415…: never its English page); a refused CSRF token gets ``template``. A 405 says the methods allowed
    (``Allow``), whatever ``render_error`` made of it."""
    trace_unexpected_errors(app)

    def answer(error):
        response = app.make_response(render_error(error))
        allowed = getattr(error, "valid_methods", None)
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
        return response

    for code in ERROR_MESSAGES:
        app.register_error_handler(code, answer)
    # Looked up after the handlers of a code (the app's, a blueprint's), whatever their order.
    app.register_error_handler(HTTPException, answer)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        # A form posted after its session ended (or left open past its token's life): back to the page
        # that showed it, saying nothing was done; that page asks to sign in again if it must, and
        # brings the person back to it. Without such a page (no referrer, another site), the error page.
        back = form_page()
        if back is not None:
            flash(CSRF_EXPIRED, "error")
            return redirect(with_return_anchor(back), 303)
        return render_template(template, code=400, message=CSRF_MESSAGE), 400


def register_common_template_helpers(app: Flask) -> None:
    app.add_template_filter(format_amount, "euros")
    # « jamais avant aujourd'hui » (or the next business day's date), as every « Payer » says it.
    app.add_template_global(lambda: earliest_words(paris_today()), "earliest_execution_words")
    app.add_template_global(late_payment_words, "late_payment_words")
    app.add_template_global(list_url, "list_url")
    register_date_filters(app)
    register_french_filters(app)
    register_favicon(app, app.static_folder)
