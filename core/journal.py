"""Append-only tables (the journals of both products): rows are added, never changed or removed.

Three locks, each enough on its own for the code paths it covers:

- the ORM refuses to flush a change or a deletion of a journal row, and any
  ``update()`` or ``delete()`` statement aimed at the table
  (:func:`make_append_only`);
- the database refuses them too, whoever asks (a trigger on SQLite and on
  PostgreSQL, created with the table by ``create_all`` or by the migration
  that adds it: :func:`append_only_ddl`);
- a test reads the source and fails if any code names the table in an
  UPDATE or DELETE (tests/test_journals.py).

Purging old entries, if a law ever asks for it, is a migration, not a code path.
"""

from __future__ import annotations

from sqlalchemy import Table, event
from sqlalchemy.orm import Session
from sqlalchemy.sql import Delete, Update


class AppendOnlyViolation(RuntimeError):
    """Code tried to change or remove a journal row."""


def append_only_ddl(table_name: str, dialect: str) -> list[str]:
    """The statements that make the database refuse UPDATE and DELETE on ``table_name``."""
    message = f"{table_name} is append-only"
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table_name}_no_{verb.lower()} BEFORE {verb} ON {table_name} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            for verb in ("UPDATE", "DELETE")
        ]
    if dialect == "postgresql":
        return [
            f"CREATE OR REPLACE FUNCTION {table_name}_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$",
            f"CREATE TRIGGER {table_name}_append_only BEFORE UPDATE OR DELETE ON {table_name} "
            f"FOR EACH ROW EXECUTE FUNCTION {table_name}_refuse()",
        ]
    return []


def drop_append_only_ddl(table_name: str, dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table_name}_no_update", f"DROP TRIGGER IF EXISTS {table_name}_no_delete"]
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {table_name}_append_only ON {table_name}",
                f"DROP FUNCTION IF EXISTS {table_name}_refuse()"]
    return []


def make_append_only(model: type) -> None:
    """Refuses, in the ORM and in the database, any change or deletion of ``model``'s rows."""
    table: Table = model.__table__  # type: ignore[attr-defined]  # a mapped class

    def refuse_change(_mapper, _connection, target):
        raise AppendOnlyViolation(f"{table.name} is append-only: {target!r} cannot be changed or removed")

    event.listen(model, "before_update", refuse_change)
    event.listen(model, "before_delete", refuse_change)

    @event.listens_for(Session, "do_orm_execute")
    def _refuse_bulk(state):
        statement = state.statement
        if isinstance(statement, (Update, Delete)) and getattr(statement.table, "name", None) == table.name:
            raise AppendOnlyViolation(f"{table.name} is append-only: no UPDATE or DELETE statement")

    @event.listens_for(table, "after_create")
    def _create_triggers(target, connection, **_kw):
        for statement in append_only_ddl(table.name, connection.dialect.name):
            connection.exec_driver_sql(statement)
