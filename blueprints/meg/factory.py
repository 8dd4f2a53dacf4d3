"""The MEG application factory: a list of named steps."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError

from config import BASE_DIR, INSTANCE_DIR, MegConfig
from core.dates import register_date_filters
from core.db import init_database
from core.errors import (
    CSRF_MESSAGE,
    ERROR_MESSAGES,
    describe,
    error_page,
    error_reference,
    trace_unexpected_errors,
)
from core.french import register_french_filters
from core.ids import register_id_converter
from core.mail import init_mail
from core.migrations import init_migrations
from core.money import format_amount
from core.observability import init_observability
from core.observability.health import PeerCheck
from core.security import init_security_headers, origin_of, session_user_loader
from core.setup import install_log_redaction, load_config, trust_proxies
from core.typography import init_typography
from core.views import init_upload_limits, register_favicon
from models.meg import User, db
from models.meg.libeo_link import monitoring

from .extensions import csrf, limiter, login_manager, mail


def create_meg_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        "meg",
        instance_path=str(INSTANCE_DIR),
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
    )
    load_config(app, MegConfig, test_config)
    # First: its request id, count and log line wrap everything MEG does.
    init_observability(app, product="meg", db=db, gauges=monitoring.readings,
                       peer=PeerCheck("libeo", monitoring.libeo_answers))
    register_id_converter(app)  # before the routes are added: they take it for <int:…>
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_commands(app)
    # « Payer » answers a form with a redirect to Libeo when the company is not connected yet.
    init_security_headers(app, everywhere={"form-action": (origin_of(app.config["LIBEO_URL"]),)})
    init_typography(app)
    install_log_redaction()
    trust_proxies(app)
    return app


def register_extensions(app: Flask) -> None:
    init_database(app, db)
    init_migrations(app, db, BASE_DIR / "migrations" / "meg")
    login_manager.init_app(app)
    login_manager.user_loader(session_user_loader(db, User))
    init_upload_limits(app)  # before CSRF protection, which reads the form
    csrf.init_app(app)
    limiter.init_app(app)
    init_mail(app, mail)


def register_blueprints(app: Flask) -> None:
    from .achats import bp as achats_bp
    from .api import bp as api_bp
    from .auth import bp as auth_bp
    from .einvoices import bp as einvoices_bp
    from .journal import bp as journal_bp
    from .main import bp as main_bp
    from .notifications import bp as notifications_bp
    from .oauth import bp as oauth_bp
    from .oauth.server import config_oauth
    from .security import bp as security_bp
    from .selection import bp as selection_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(achats_bp, url_prefix="/achats")
    app.register_blueprint(selection_bp, url_prefix="/achats/reglements/selection")
    app.register_blueprint(einvoices_bp, url_prefix="/achats")
    app.register_blueprint(journal_bp, url_prefix="/achats/journal")
    app.register_blueprint(oauth_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(notifications_bp, url_prefix="/notifications")
    app.register_blueprint(security_bp, url_prefix="/securite")
    config_oauth(app)


# Endpoints programs call (OAuth clients, Libeo): they get JSON, not a page.
MACHINE_PATHS = ("/oauth/token", "/oauth/userinfo", "/api/")
MACHINE_ERRORS = {429: "rate_limited", 500: "server_error"}


def register_errorhandlers(app: Flask) -> None:
    trace_unexpected_errors(app)

    def render_error(error):
        code, message, _ = describe(error)
        reference = error_reference() if code == 500 else None
        if code in MACHINE_ERRORS and request.path.startswith(MACHINE_PATHS):
            body = {"error": MACHINE_ERRORS[code], "error_description": message}
            return jsonify(body | ({"reference": reference} if reference else {})), code
        return error_page("meg/error.html", code, message, reference), code

    for code in ERROR_MESSAGES:
        app.register_error_handler(code, render_error)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_template("meg/error.html", code=400, message=CSRF_MESSAGE), 400


def register_template_helpers(app: Flask) -> None:
    from .context import inject_company

    app.add_template_filter(format_amount, "euros")
    register_date_filters(app)
    register_french_filters(app)
    register_favicon(app, app.static_folder)
    app.context_processor(inject_company)


def register_commands(app: Flask) -> None:
    from .commands import meg_cli

    app.cli.add_command(meg_cli)
