"""The Libeo application factory: a list of named steps."""

from __future__ import annotations

import logging

from flask import Flask, render_template

from config import BASE_DIR, INSTANCE_DIR, LibeoConfig
from core.money import format_amount
from core.security import init_security_headers
from core.setup import RedactSecrets, load_config
from models.libeo import db

from .extensions import csrf, limiter, login_manager


def create_libeo_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        "libeo",
        instance_path=str(INSTANCE_DIR),
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
    )
    load_config(app, LibeoConfig, test_config)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_commands(app)
    init_security_headers(app)
    logging.getLogger("werkzeug").addFilter(RedactSecrets())
    return app


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)


@login_manager.user_loader
def load_user(identity: str):
    return None  # accounts arrive with the Libeo issue


def register_blueprints(app: Flask) -> None:
    from .main import bp as main_bp

    app.register_blueprint(main_bp)


def register_errorhandlers(app: Flask) -> None:
    pass


def register_template_helpers(app: Flask) -> None:
    app.add_template_filter(format_amount, "euros")


def register_commands(app: Flask) -> None:
    from .commands import libeo_cli

    app.cli.add_command(libeo_cli)
