"""The Libeo application factory: a list of named steps."""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_login import current_user
from sqlalchemy.orm import joinedload, with_expression

from config import BASE_DIR, INSTANCE_DIR, LibeoConfig
from core.app_factory import assemble, init_extensions, new_app, register_common_template_helpers, register_error_pages
from core.errors import describe, error_page, error_reference
from core.observability import init_observability
from core.payment_words import waiting_words
from core.security import init_security_headers, origin_of
from core.validators import mask_iban
from models.libeo import LibeoUser, db, monitoring
from models.libeo.billing.stripe_gateway import csp_sources
from models.libeo.payments.approvals import AWAITING_COUNT_OF_THE_PERSON, awaiting_count
from models.libeo.payments.bank_leg import OPEN_ANOMALIES_OF_THE_PERSON

from .extensions import EXTENSIONS, csrf
from .payments.rows import anomalies_to_check, payment_rows


def create_libeo_app(test_config: dict | None = None) -> Flask:
    app = new_app("libeo", LibeoConfig, test_config, BASE_DIR, INSTANCE_DIR)
    # First: its request id, count and log line wrap everything Libeo does.
    init_observability(app, product="libeo", db=db, gauges=monitoring.readings)
    return assemble(app, register_extensions, register_blueprints, register_errorhandlers,
                    register_template_helpers, register_commands, register_security_headers)


def register_extensions(app: Flask) -> None:
    init_extensions(app, EXTENSIONS, db, LibeoUser, BASE_DIR / "migrations" / "libeo", begin_immediate=False,
                    user_options=LOADED_WITH_THE_PERSON)


# What every page reads with the signed-in person, in the same statement: the account, and the header's
# « À approuver » counter (a statement of its own on every page until then).
LOADED_WITH_THE_PERSON = (joinedload(LibeoUser.account),
                          with_expression(LibeoUser.awaiting_approvals, AWAITING_COUNT_OF_THE_PERSON),
                          with_expression(LibeoUser.open_anomalies, OPEN_ANOMALIES_OF_THE_PERSON))


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

    for blueprint in (main_bp, auth_bp, invoices_bp, payments_bp, remittances_bp, approvals_bp, journal_bp,
                      settings_bp, security_bp, billing_bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(meg_connect_bp)
    app.register_blueprint(notifications_bp)
    csrf.exempt(api_bp)


def register_errorhandlers(app: Flask) -> None:
    from .api.errors import http_error_response

    def render_error(error):
        code, message, custom = describe(error)
        reference = error_reference() if code == 500 else None
        if request.path.startswith("/api/"):
            return http_error_response(code, message if custom else None, reference=reference)
        return error_page("libeo/error.html", code, message, reference), code

    register_error_pages(app, "libeo/error.html", render_error)


def register_security_headers(app: Flask) -> None:
    init_security_headers(
        app,
        # Forms whose answer is a redirect to MEG (« Me connecter avec MEG »).
        everywhere={"form-action": (origin_of(app.config["MEG_URL"]),)},
        # Stripe.js runs on the « Abonnement » pages only.
        pages={"billing": csp_sources(app.config)},
    )


def has_endpoint(name: str) -> bool:
    """Whether a page exists in this deployment (the nav links only to those)."""
    return name in current_app.view_functions


def awaiting_approvals() -> int:
    """The header's « À approuver » counter, for the account's administrators: read with the person on a
    GET; after a request that may have approved or refused, counted again."""
    if not (current_user.is_authenticated and current_user.is_admin):
        return 0
    if request.method in ("GET", "HEAD") and current_user.awaiting_approvals is not None:
        return current_user.awaiting_approvals
    return awaiting_count(current_user.account)


def register_template_helpers(app: Flask) -> None:
    register_common_template_helpers(app)
    app.add_template_filter(mask_iban, "mask_iban")
    app.add_template_global(has_endpoint, "has_endpoint")
    app.add_template_global(awaiting_approvals, "awaiting_approvals")
    app.add_template_global(anomalies_to_check, "anomalies_to_check")
    app.add_template_global(payment_rows, "payment_rows")
    app.add_template_global(waiting_words, "waiting_words")


def register_commands(app: Flask) -> None:
    from .commands import libeo_cli

    app.cli.add_command(libeo_cli)
