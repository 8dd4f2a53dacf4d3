"""``flask libeo …`` commands. In the combined app they run in Libeo's context."""

from __future__ import annotations

import functools

import click
from flask import current_app
from flask.cli import AppGroup

from models.libeo import db

libeo_cli = AppGroup("libeo", help="Commandes de Libeo.")


def in_libeo_app(f):
    """Runs the command in Libeo's app context, also when called from the combined app."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        app = current_app.extensions.get("sides", {}).get("libeo", current_app._get_current_object())
        with app.app_context():
            return f(*args, **kwargs)

    return wrapper


@libeo_cli.command("init-db")
@in_libeo_app
def init_db():
    """Creates Libeo's tables (idempotent)."""
    db.create_all()
    click.echo("Base Libeo prête.")
