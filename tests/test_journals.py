"""Both journals are append-only: no code path updates or deletes an entry.

Three locks, each tested: the ORM refuses to flush a change or a deletion
of an entry and refuses UPDATE/DELETE statements on the table; the database
itself refuses them (triggers, on SQLite and PostgreSQL, made by create_all
here and by the migrations in tests/test_migrations.py); and no source file
of the products writes an UPDATE or DELETE of a journal table.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from core.journal import AppendOnlyViolation

ROOT = Path(__file__).resolve().parents[1]
JOURNALS = {
    "libeo": ("models.libeo", "JournalEntry", "journal_entry"),
    "meg": ("models.meg", "MegJournalEntry", "meg_journal_entry"),
}


def _side(apps, side):
    import importlib

    module, model_name, table = JOURNALS[side]
    package = importlib.import_module(module)
    return getattr(apps, side), package.db, getattr(package, model_name), table


def _one_entry(apps, side) -> int:
    """An entry written the way the products write them (a use case), its id."""
    app, db, model, _ = _side(apps, side)
    with app.app_context():
        if side == "libeo":
            from models.libeo.accounts.services import create_account

            create_account("Boulangerie Martin SARL", "83451234500002", "claire@boulangerie-martin.fr", None)
        else:
            from models.meg import Company
            from models.meg.achats.invoices import SupplierData, create_supplier

            company = Company(name="Boulangerie Martin SARL", siret="83451234500002")
            db.session.add(company)
            db.session.flush()
            create_supplier(company, SupplierData("Minoterie Dupuis", "FR7630006000010000000791963", None))
        db.session.commit()
        entry_id = db.session.scalar(db.select(model.id))
        db.session.remove()
        return entry_id


@pytest.mark.parametrize("side", JOURNALS)
def test_the_orm_refuses_to_change_or_remove_an_entry(apps, side):
    entry_id = _one_entry(apps, side)
    app, db, model, _ = _side(apps, side)
    with app.app_context():
        entry = db.session.get(model, entry_id)
        entry.message = "Rien ne s'est passé."
        with pytest.raises(AppendOnlyViolation):
            db.session.flush()
        db.session.rollback()

        db.session.delete(db.session.get(model, entry_id))
        with pytest.raises(AppendOnlyViolation):
            db.session.flush()
        db.session.rollback()

        for statement in (update(model).values(message="effacé"), delete(model)):
            with pytest.raises(AppendOnlyViolation):
                db.session.execute(statement)
            db.session.rollback()
        assert db.session.get(model, entry_id).message != "effacé"


@pytest.mark.parametrize("side", JOURNALS)
def test_the_database_refuses_to_change_or_remove_an_entry(apps, side):
    _one_entry(apps, side)
    app, db, model, table = _side(apps, side)
    with app.app_context():
        for sql in (f"UPDATE {table} SET message = 'effacé'", f"DELETE FROM {table}"):
            with db.engine.connect() as connection:
                with pytest.raises(DBAPIError, match="append-only"):
                    connection.execute(text(sql))
                connection.rollback()
        with db.engine.connect() as connection:
            assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 1
        db.engine.dispose()


# --- no code path: read the source ---------------------------------------------------------------

SOURCES = [path for folder in ("models", "blueprints", "core", "app.py", "devtools")
           for path in ((ROOT / folder).rglob("*.py") if (ROOT / folder).is_dir() else [ROOT / folder])]
TABLE_WORDS = re.compile(r"\b(UPDATE|DELETE\s+FROM)\s+\"?(meg_)?journal_entry\b", re.IGNORECASE)


def _journal_names(tree: ast.AST) -> set[str]:
    """The names a module gives the journal models (``JournalEntry``, ``MegJournalEntry``, aliases)."""
    names = {"JournalEntry", "MegJournalEntry"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names |= {alias.asname for alias in node.names if alias.name in names and alias.asname}
    return names


def _offences(path: Path) -> list[str]:
    source = path.read_text()
    tree = ast.parse(source, filename=str(path))
    journal = _journal_names(tree)
    found = []
    for node in ast.walk(tree):
        # update(JournalEntry) / delete(JournalEntry) / sa.update(...), and Table.update()/.delete().
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            arguments = [arg.id if isinstance(arg, ast.Name) else getattr(arg, "attr", None) for arg in node.args]
            if called in ("update", "delete") and journal.intersection(arguments):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {called}({', '.join(map(str, arguments))})")
            owner = func.value if isinstance(func, ast.Attribute) else None
            owner_name = getattr(owner, "id", None) or getattr(owner, "attr", None)
            if called in ("update", "delete") and owner_name in journal:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {owner_name}.{called}()")
        # db.session.delete(entry) where entry came from a journal query is caught by the ORM at run
        # time; here, raw SQL naming the table.
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and TABLE_WORDS.search(node.value):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} SQL {node.value[:60]!r}")
    return found


def test_no_code_updates_or_deletes_a_journal_entry():
    assert [offence for path in SOURCES for offence in _offences(path)] == []


def test_the_source_check_would_see_an_offence(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from models.libeo.journal import JournalEntry as Entry\n"
        "db.session.execute(update(Entry).values(message='x'))\n"
        "db.session.execute(sa.delete(JournalEntry))\n"
        "conn.exec_driver_sql('DELETE FROM journal_entry WHERE id = 1')\n"
        "conn.exec_driver_sql('update meg_journal_entry set actor = 1')\n"
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert len(_offences(sample)) == 4
    finally:
        ROOT = saved


def test_the_migrations_create_the_same_triggers_as_the_models():
    """The revisions copy core.journal's DDL (a migration does not import the application's code)."""
    import importlib.util

    from core.journal import append_only_ddl, drop_append_only_ddl

    for side, (_, _, table) in JOURNALS.items():
        path = ROOT / "migrations" / side / "versions" / "0005_safeguards.py"
        spec = importlib.util.spec_from_file_location(f"revision_{side}_0003", path)
        revision = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(revision)
        for dialect in ("sqlite", "postgresql"):
            assert revision._append_only_ddl(table, dialect) == append_only_ddl(table, dialect)
            assert revision._drop_append_only_ddl(table, dialect) == drop_append_only_ddl(table, dialect)
