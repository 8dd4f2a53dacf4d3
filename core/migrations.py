"""Schema migrations: one Alembic history per product (``migrations/meg``, ``migrations/libeo``).

Each product's database carries its own ``alembic_version``. A database made
by release 1 (``create_all``, before migrations existed) has the tables of
the first revision and no version table: ``upgrade`` recognises it, stamps
it at that revision instead of recreating it, then upgrades it.
"""

from __future__ import annotations

from pathlib import Path

import click
import flask_migrate
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_migrate.cli import db as migrate_group
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import inspect

from core.db import refresh_planner_statistics

FIRST_REVISION = "0001_initial"


def init_migrations(app: Flask, db: SQLAlchemy, directory: Path) -> None:
    # Batch mode: SQLite can only ALTER a table by copying it.
    flask_migrate.Migrate(app, db, directory=str(directory), render_as_batch=True, compare_type=True)


def adopt_unversioned_database() -> bool:
    """Stamps a database of release 1 (its tables, no version table) at the first revision."""
    db = current_app.extensions["migrate"].db
    tables = set(inspect(db.engine).get_table_names())
    db.engine.dispose()
    if not tables or "alembic_version" in tables:
        return False
    flask_migrate.stamp(revision=FIRST_REVISION)
    return True


def upgrade_database(revision: str = "head") -> None:
    adopt_unversioned_database()
    flask_migrate.upgrade(revision=revision)


@click.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def upgrade_command(revision: str) -> None:
    """Upgrades the database to a later version (a release-1 database is adopted first)."""
    if adopt_unversioned_database():
        click.echo(f"Base sans historique de migrations : marquée à la révision {FIRST_REVISION}.")
    flask_migrate.upgrade(revision=revision)
    if refresh_planner_statistics(current_app.extensions["migrate"].db):
        click.echo("Statistiques des index mises à jour (ANALYZE).")


def db_group() -> click.Group:
    """Flask-Migrate's ``db`` commands, with ``upgrade`` adopting release-1 databases."""
    group = click.Group("db", help="Migrations du schéma de la base (Alembic).",
                        params=migrate_group.params, callback=migrate_group.callback)
    for name, command in migrate_group.commands.items():
        group.add_command(upgrade_command if name == "upgrade" else command, name)
    return group


def _not_search_index(name, type_, parent_names) -> bool:
    """Autogenerate leaves the trigram indexes of the lists' search alone: PostgreSQL's only, made by
    the migrations that need them (``*_trgm``, core/listing.py), never declared by the models."""
    return not (type_ == "index" and (name or "").endswith("_trgm"))


def run_alembic_environment() -> None:
    """The body of each history's ``env.py``: the app's engine and models, nothing from a file.

    Logging is left as the app set it (Alembic's usual ``fileConfig`` would
    silence every logger that exists, the secret-redacting filters' included).
    An autogenerate that finds nothing writes no empty revision.
    """
    from alembic import context

    migrate = current_app.extensions["migrate"]
    metadata = migrate.db.metadata
    options = dict(migrate.configure_args)

    def skip_empty(ctx, revision, directives):
        if getattr(context.config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []

    options.setdefault("process_revision_directives", skip_empty)
    options.setdefault("include_name", _not_search_index)
    if context.is_offline_mode():
        context.configure(url=migrate.db.engine.url, target_metadata=metadata, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    with migrate.db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, **options)
        with context.begin_transaction():
            context.run_migrations()
    # A revision may have changed its connection's settings (SQLite's foreign
    # keys, off while a table is copied): no later request may reuse it.
    migrate.db.engine.dispose()
