"""The Libeo application factory: a list of named steps."""

from __future__ import annotations

from flask import Flask, current_app, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from config import BASE_DIR, INSTANCE_DIR, LibeoConfig
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
from core.security import init_security_headers, origin_of, session_user_loader
from core.setup import install_log_redaction, load_config, trust_proxies
from core.typography import init_typography
from core.validators import mask_iban
from core.views import init_upload_limits, register_favicon
from models.libeo import LibeoUser, db, monitoring
from models.libeo.billing.stripe_gateway import csp_sources
from models.libeo.payments.approvals import awaiting_count

from .extensions import csrf, limiter, login_manager, mail


def create_libeo_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        "libeo",
        instance_path=str(INSTANCE_DIR),
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
    )
    load_config(app, LibeoConfig, test_config)
    # First: its request id, count and log line wrap everything Libeo does.
    init_observability(app, product="libeo", db=db, gauges=monitoring.readings)
    register_id_converter(app)  # before the routes are added: they take it for <int:…>
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_commands(app)
    init_security_headers(
        app,
        # Forms whose answer is a redirect to MEG (« Me connecter avec MEG »).
        everywhere={"form-action": (origin_of(app.config["MEG_URL"]),)},
        # Stripe.js runs on the « Abonnement » pages only.
        pages={"billing": csp_sources(app.config)},
    )
    init_typography(app)
    install_log_redaction()
    trust_proxies(app)
    return app


def register_extensions(app: Flask) -> None:
    init_database(app, db, begin_immediate=False)
    init_migrations(app, db, BASE_DIR / "migrations" / "libeo")
    login_manager.init_app(app)
    login_manager.user_loader(session_user_loader(db, LibeoUser))
    init_upload_limits(app)  # before CSRF protection, which reads the form
    csrf.init_app(app)
    limiter.init_app(app)
    init_mail(app, mail)


def register_blueprints(app: Flask) -> None:
    from .api import bp as api_bp
    from .approvals import bp as approvals_bp
    from .auth import bp as auth_bp
    from .billing import bp as billing_bp
    from .invoices import bp as invoices_bp
    from .journal import bp as journal_bp
    from .main import bp as main_bp
    from .meg_connect import bp as meg_connect_bp
    from .notifications import bp as notifications_bp
    from .payments import bp as payments_bp
    from .remittances import bp as remittances_bp
    from .security import bp as security_bp
    from .settings import bp as settings_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(invoices_bp, url_prefix="/factures")
    app.register_blueprint(payments_bp, url_prefix="/paiements")
    app.register_blueprint(remittances_bp, url_prefix="/remises")
    app.register_blueprint(approvals_bp, url_prefix="/a-approuver")
    app.register_blueprint(journal_bp, url_prefix="/journal")
    app.register_blueprint(settings_bp, url_prefix="/configuration")
    app.register_blueprint(security_bp, url_prefix="/securite")
    app.register_blueprint(billing_bp, url_prefix="/abonnement")
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(meg_connect_bp)
    app.register_blueprint(notifications_bp, url_prefix="/notifications")
    csrf.exempt(api_bp)


def register_errorhandlers(app: Flask) -> None:
    from .api.errors import http_error_response

    trace_unexpected_errors(app)

    def render_error(error):
        code, message, custom = describe(error)
        reference = error_reference() if code == 500 else None
        if request.path.startswith("/api/"):
            response = http_error_response(code, message if custom else None, reference=reference)
        else:
            response = current_app.make_response((error_page("libeo/error.html", code, message, reference), code))
        allowed = getattr(error, "valid_methods", None)
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
        return response

    for code in ERROR_MESSAGES:
        app.register_error_handler(code, render_error)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_template("libeo/error.html", code=400, message=CSRF_MESSAGE), 400


def has_endpoint(name: str) -> bool:
    """Whether a page exists in this deployment (the nav links only to those)."""
    return name in current_app.view_functions


def awaiting_approvals() -> int:
    """The header's « À approuver » counter, for the account's administrators (one query)."""
    if not (current_user.is_authenticated and current_user.is_admin):
        return 0
    return awaiting_count(current_user.account)


def register_template_helpers(app: Flask) -> None:
    app.add_template_filter(format_amount, "euros")
    app.add_template_filter(mask_iban, "mask_iban")
    register_date_filters(app)
    register_french_filters(app)
    register_favicon(app, app.static_folder)
    app.add_template_global(has_endpoint, "has_endpoint")
    app.add_template_global(awaiting_approvals, "awaiting_approvals")


def register_commands(app: Flask) -> None:
    from .commands import libeo_cli

    app.cli.add_command(libeo_cli)
