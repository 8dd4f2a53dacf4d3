"""The MEG application factory: a list of named steps."""

from __future__ import annotations

from flask import Flask, jsonify, request

from config import BASE_DIR, INSTANCE_DIR, MegConfig
from core.app_factory import (
    assemble,
    init_extensions,
    new_app,
    register_common_template_helpers,
    register_error_pages,
    register_return_anchor,
)
from core.errors import describe, error_page, error_reference
from core.observability import init_observability
from core.observability.health import PeerCheck
from core.security import init_security_headers, origin_of
from models.meg import User, db
from models.meg.companies.models import load_with_companies
from models.meg.libeo_link import monitoring

from .extensions import EXTENSIONS


def create_meg_app(test_config: dict | None = None) -> Flask:
    app = new_app("meg", MegConfig, test_config, BASE_DIR, INSTANCE_DIR)
    # First: its request id, count and log line wrap everything MEG does.
    init_observability(app, product="meg", db=db, gauges=monitoring.readings,
                       peer=PeerCheck("libeo", monitoring.libeo_answers))
    return assemble(app, register_extensions, register_blueprints, register_errorhandlers,
                    register_template_helpers, register_commands, register_security_headers)


def register_extensions(app: Flask) -> None:
    init_extensions(app, EXTENSIONS, db, User, BASE_DIR / "migrations" / "meg", load_user=load_with_companies)


def register_blueprints(app: Flask) -> None:
    from .achats import bp as achats_bp
    from .achats import confirmation_anchor
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

    for blueprint in (main_bp, auth_bp, achats_bp, selection_bp, einvoices_bp, journal_bp, oauth_bp, api_bp,
                      notifications_bp, security_bp):
        app.register_blueprint(blueprint)
    config_oauth(app)
    register_return_anchor(app, confirmation_anchor)


# Endpoints programs call (OAuth clients, Libeo): they get JSON, not a page.
MACHINE_PATHS = ("/oauth/token", "/oauth/userinfo", "/api/")
MACHINE_ERRORS = {429: "rate_limited", 500: "server_error"}


def register_errorhandlers(app: Flask) -> None:
    def render_error(error):
        code, message, _ = describe(error)
        reference = error_reference() if code == 500 else None
        if code in MACHINE_ERRORS and request.path.startswith(MACHINE_PATHS):
            body = {"error": MACHINE_ERRORS[code], "error_description": message}
            return jsonify(body | ({"reference": reference} if reference else {})), code
        return error_page("meg/error.html", code, message, reference), code

    register_error_pages(app, "meg/error.html", render_error)


def register_security_headers(app: Flask) -> None:
    # « Payer » answers a form with a redirect to Libeo when the company is not connected yet.
    init_security_headers(app, everywhere={"form-action": (origin_of(app.config["LIBEO_URL"]),)})


def register_template_helpers(app: Flask) -> None:
    from .context import inject_company

    register_common_template_helpers(app)
    app.context_processor(inject_company)


def register_commands(app: Flask) -> None:
    from .commands import meg_cli

    app.cli.add_command(meg_cli)
