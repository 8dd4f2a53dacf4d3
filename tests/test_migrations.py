"""one Alembic history per product, and release-1 databases upgraded in place.

The rest of the suite builds its tables with ``create_all`` (faster); these
tests build them by migrations alone and check that nothing is left to
generate, on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import MetaData, create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url

from core.migrations import FIRST_REVISION
from tests.conftest import (
    TEST_DATABASE_URL,
    MegAuth,
    _created,
    _ensure_pg_database,
    build_apps,
)

RELEASE_1 = Path(__file__).parent / "data" / "release_1"
SIDES = ("meg", "libeo")


def _fresh_databases(tmp_path: Path, worker: str) -> dict:
    """Empty databases of their own (never those of other tests, which create_all fills)."""
    if not TEST_DATABASE_URL:
        return {}
    url = make_url(TEST_DATABASE_URL).set(drivername="postgresql+psycopg")
    configs = {}
    for side in SIDES:
        name = f"{url.database}_{side}_{worker}_mig"
        _created.discard(name)
        _ensure_pg_database(url, name)
        configs[side] = {"SQLALCHEMY_DATABASE_URI": url.set(database=name).render_as_string(hide_password=False)}
    return configs


@pytest.fixture
def bare_apps(tmp_path, worker_id_safe):
    """Both products on empty databases, no table created."""
    built = build_apps(tmp_path, worker_id_safe, create_tables=False, **_fresh_databases(tmp_path, worker_id_safe))
    yield built
    for app in (built.meg, built.libeo):
        with app.app_context():
            app.extensions["migrate"].db.engine.dispose()


def _cli(apps, *args: str):
    result = apps.root.test_cli_runner().invoke(args=list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _alembic_config(app):
    return app.extensions["migrate"].migrate.get_config(app.extensions["migrate"].directory)


def _at_head(app) -> bool:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with app.app_context():
        engine = app.extensions["migrate"].db.engine
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        engine.dispose()
        return current == ScriptDirectory.from_config(_alembic_config(app)).get_current_head()


def _tables(app) -> set[str]:
    with app.app_context():
        engine = app.extensions["migrate"].db.engine
        names = set(inspect(engine).get_table_names())
        engine.dispose()
    return names


@pytest.mark.parametrize("side", SIDES)
def test_migrations_alone_build_exactly_the_models(bare_apps, side):
    app = getattr(bare_apps, side)
    _cli(bare_apps, side, "db", "upgrade")
    with app.app_context():
        command.check(_alembic_config(app))  # raises if autogenerate would write anything
        db = app.extensions["migrate"].db
        assert _tables(app) == {t.name for t in db.metadata.sorted_tables} | {"alembic_version"}
    assert _at_head(app)


@pytest.mark.parametrize("side", SIDES)
def test_every_revision_goes_down_and_up_again(bare_apps, side):
    _cli(bare_apps, side, "db", "upgrade")
    _cli(bare_apps, side, "db", "downgrade", "base")
    assert _tables(getattr(bare_apps, side)) == {"alembic_version"}
    _cli(bare_apps, side, "db", "upgrade")
    with getattr(bare_apps, side).app_context():
        command.check(_alembic_config(getattr(bare_apps, side)))


# --- a database of release 1, found in place ---------------------------------------------------


def _load_release_1(apps, tmp_path: Path) -> dict[str, dict[str, int]]:
    """Puts release 1's databases (tests/data/release_1) where the apps look; returns row counts."""
    counts = {}
    for side in SIDES:
        app = getattr(apps, side)
        dump = (RELEASE_1 / f"{side}.sql").read_text()
        source = sqlite3.connect(tmp_path / f"release1-{side}.sqlite3")
        source.executescript(dump)
        source.commit()
        source.close()
        with app.app_context():
            engine = app.extensions["migrate"].db.engine
            if engine.dialect.name == "sqlite":
                engine.dispose()
                Path(engine.url.database).write_bytes((tmp_path / f"release1-{side}.sqlite3").read_bytes())
            else:
                _copy_into_postgres(app, tmp_path / f"release1-{side}.sqlite3")
            counts[side] = _row_counts(engine)
            engine.dispose()
    return counts


def _copy_into_postgres(app, sqlite_file: Path) -> None:
    """What release 1 made on PostgreSQL: the first revision's tables, no version table, the rows."""
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(revision=FIRST_REVISION)
        engine = app.extensions["migrate"].db.engine
        source = create_engine(f"sqlite:///{sqlite_file}")
        tables = MetaData()
        tables.reflect(engine)
        with source.connect() as reading, engine.begin() as writing:
            writing.execute(text("DROP TABLE alembic_version"))
            for table in tables.sorted_tables:
                if table.name == "alembic_version":
                    continue
                rows = [dict(row._mapping) for row in reading.execute(text(f'SELECT * FROM "{table.name}"'))]
                if rows:
                    writing.execute(table.insert(), rows)
                if "id" in table.c and rows:
                    writing.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                         f"(SELECT max(id) FROM \"{table.name}\"))"))
        source.dispose()


def _row_counts(engine) -> dict[str, int]:
    tables = MetaData()
    tables.reflect(engine)
    with engine.connect() as connection:
        return {
            table.name: connection.scalar(select(func.count()).select_from(table))
            for table in tables.sorted_tables
            if table.name != "alembic_version"
        }


def test_a_release_1_installation_is_upgraded_in_place_and_served(bare_apps, tmp_path):
    before = _load_release_1(bare_apps, tmp_path)
    assert before["meg"]["libeo_payment"] == 3 and before["libeo"]["payment"] == 3
    for side in SIDES:
        output = _cli(bare_apps, side, "db", "upgrade")
        assert f"marquée à la révision {FIRST_REVISION}" in output
        app = getattr(bare_apps, side)
        with app.app_context():
            engine = app.extensions["migrate"].db.engine
            after = _row_counts(engine)
            engine.dispose()
        assert {table: after[table] for table in before[side]} == before[side]  # every row kept

    # Values change type without changing meaning (release 1 kept MEG's execution dates as text).
    with bare_apps.meg.app_context():
        from datetime import date

        from models.meg import PaymentAttempt, db

        dates = {payment.execution_date for payment in db.session.scalars(select(PaymentAttempt))}
        assert dates and all(isinstance(day, date) and day.year == 2026 for day in dates)
        # Each invoice's state (0022) as its payments give it: three scheduled through Libeo, six settled
        # in MEG, the others to settle.
        from models.meg import SupplierInvoice
        from models.meg.libeo_link.attempts import stale_invoice_states

        states: dict[str, set[int]] = {}
        for invoice_id, state in db.session.execute(select(SupplierInvoice.id, SupplierInvoice.settlement_state)):
            states.setdefault(state, set()).add(invoice_id)
        assert states.pop("programmees") == {1, 2, 3} and states.pop("payees") == {7, 9, 16, 18, 25, 27}
        assert set(states) == {"a_regler"} and stale_invoice_states(db.session.connection(), limit=10) == []
        db.session.remove()

    # Served as it is: the company is still connected, its invoices and payments are there.
    client = bare_apps.root.test_client()
    MegAuth(client).login("admin@boulangerie-martin.fr")
    options = client.get("/meg/achats/options").get_data(as_text=True)
    assert "Boulangerie Martin SARL" in options and "lbo_meg_" in options
    invoices = client.get("/meg/achats/").get_data(as_text=True)
    assert "F-BM-2026-003-B" in invoices

    for side in SIDES:
        _cli(bare_apps, side, "db", "downgrade", FIRST_REVISION)
        _cli(bare_apps, side, "db", "upgrade")
        assert _at_head(getattr(bare_apps, side))
    assert "F-BM-2026-003-B" in client.get("/meg/achats/").get_data(as_text=True)


def test_upgrading_twice_changes_nothing(bare_apps):
    for side in SIDES:
        _cli(bare_apps, side, "db", "upgrade")
        assert "marquée" not in _cli(bare_apps, side, "db", "upgrade")


def test_release_1_payments_keep_their_state_and_open_the_events_feed(bare_apps, tmp_path):
    """Revision 0002: paid stays paid, MEG's paid invoices are listed, each payment's state is in the feed."""
    import json
    from html import unescape

    from models.libeo import Account, PaymentEvent
    from models.libeo.payments.events import events_after

    _load_release_1(bare_apps, tmp_path)
    _cli(bare_apps, "libeo", "db", "upgrade")
    client = bare_apps.root.test_client()
    signed_in = client.post("/libeo/connexion",
                            data={"email": "claire@boulangerie-martin.fr", "password": "mot-de-passe-solide-42"})
    assert signed_in.status_code == 302
    invoices = unescape(client.get("/libeo/factures/").get_data(as_text=True))
    assert invoices.count('data-testid="invoice-status">Débité le 30/11/2026<') == 2
    assert 'data-testid="invoice-status">Programmé le 30/11/2026<' in invoices
    assert "LBO-1-20261130-5C841A8B" in client.get("/libeo/remises/").get_data(as_text=True)
    with bare_apps.libeo.app_context():
        db = bare_apps.libeo.extensions["migrate"].db
        account = db.session.get(Account, 1)
        page = events_after(account, 0)
        assert [(e.seq, json.loads(e.data)["status"]) for e in page.events] == [
            (1, "paid"), (2, "paid"), (3, "scheduled")]
        assert account.last_event_seq == 3
        db.session.remove()
        db.engine.dispose()
    # The next change of a payment takes the next number.
    with bare_apps.libeo.app_context():
        from models.libeo import Payment
        from models.libeo.payments.order import cancel_payment

        db = bare_apps.libeo.extensions["migrate"].db
        cancel_payment(db.session.get(Account, 1), db.session.get(Payment, 3))
        db.session.commit()
        assert db.session.scalar(select(func.max(PaymentEvent.seq))) == 4
        db.session.remove()
        db.engine.dispose()


def test_release_1_invoices_get_the_number_key_of_the_duplicate_check(bare_apps, tmp_path):
    """0006 fills ``invoice.number_key`` as the model keeps it, so an old invoice is found as a duplicate."""
    from models.libeo.invoices.models import invoice_number_key

    _load_release_1(bare_apps, tmp_path)
    _cli(bare_apps, "libeo", "db", "upgrade")
    with bare_apps.libeo.app_context():
        engine = bare_apps.libeo.extensions["migrate"].db.engine
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT number, number_key FROM invoice")).all()
        engine.dispose()
    assert rows, "release 1's Libeo database has invoices"
    assert all(key == invoice_number_key(number) and key for number, key in rows)


def test_known_ibans_are_keyed_on_the_names_skeleton_after_upgrade(bare_apps):
    """0010 and 0019 rekey each known IBAN as ``core.names.name_key`` does: a Greek supplier no longer has an
    empty key shared with every other, a look-alike is keyed as what it imitates, and two spellings that are one
    supplier become one row."""
    from core.names import name_key

    _cli(bare_apps, "libeo", "db", "upgrade", "0008_bank_leg")
    with bare_apps.libeo.app_context():
        engine = bare_apps.libeo.extensions["migrate"].db.engine
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO account (id, name, siret, plan, created_at, approve_accountant_payments, "
                "cancel_at_period_end) "
                "VALUES (1, 'Boulangerie Martin', '73282932000074', 'gratuit', '2026-12-01', false, false)"))
            for row_id, key, name, iban in [(1, "", "Ωμέγα Τεχνική", "FR7630006000011234567890189"),
                                            (2, "", "Δέλτα Εμπόριο", "FR7630004008220000001583859"),
                                            (3, "minoterie dupuis", "Minoterie Dupuis", "FR7617569000706397384867456"),
                                            (4, "minoteries", "MINOTERIE DUPUIS", "FR7617569000706397384867456"),
                                            (5, "edf", "EDF", "FR7630003000000003055555530"),
                                            (6, "e f", "E.D.F.", "FR7630003000000003055555530"),
                                            (7, "acme", "ACME", "FR7630001007941234567890185"),
                                            (8, "amse", "ΑϹΜΕ", "FR7630004000031234567890143")]:
                connection.execute(text(
                    "INSERT INTO known_supplier_iban (id, account_id, supplier_key, supplier_name, iban, recorded_at, "
                    "recorded_by) VALUES (:id, 1, :key, :name, :iban, '2026-12-01', 'premier paiement')"),
                    {"id": row_id, "key": key, "name": name, "iban": iban})
        engine.dispose()
    _cli(bare_apps, "libeo", "db", "upgrade")
    with bare_apps.libeo.app_context():
        engine = bare_apps.libeo.extensions["migrate"].db.engine
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT supplier_name, supplier_key FROM known_supplier_iban "
                                           "ORDER BY id")).all()
        engine.dispose()
    # « MINOTERIE DUPUIS » on the same IBAN is « Minoterie Dupuis »: one row, the first (0010); « E.D.F. » on
    # EDF's IBAN is EDF (0019); the Greek look-alike of « ACME » is keyed as « ACME » (0019).
    assert [tuple(row) for row in rows] == [(name, name_key(name)) for name in
                                           ("Ωμέγα Τεχνική", "Δέλτα Εμπόριο", "Minoterie Dupuis", "EDF", "ACME",
                                            "ΑϹΜΕ")]
    assert name_key("ΑϹΜΕ") == name_key("ACME") and name_key("E.D.F.") == name_key("EDF")


def test_invoices_are_rekeyed_so_a_number_written_otherwise_is_a_duplicate_after_upgrade(bare_apps):
    """0020 rekeys each invoice as ``invoice_number_key`` does: a reminder written with en dashes, no-break
    spaces, full-width characters or without the leading zeros has the key of the invoice it repeats; on the
    way down the keys are the previous code's again."""
    from models.libeo.invoices.models import invoice_number_key

    numbers = ["F-2026-001", "F–2026–001", "F\u00a02026\u00a0001", "Ｆ-２０２６-００１", "F2026001", "FA-000123",
               "FA-123", "F-2026-002"]
    _cli(bare_apps, "libeo", "db", "upgrade", "0019_name_skeletons_uts39")

    def keys(*, insert: bool = False) -> list[str]:
        """The invoices' keys, in order (``insert``: their account and them first, keyed as 0019 left them)."""
        with bare_apps.libeo.app_context():
            engine = bare_apps.libeo.extensions["migrate"].db.engine
            with engine.begin() as connection:
                if insert:
                    connection.execute(text(
                        "INSERT INTO account (id, name, siret, plan, created_at, approve_accountant_payments, "
                        "cancel_at_period_end) VALUES (1, 'Boulangerie Martin', '73282932000074', 'gratuit', "
                        "'2026-12-01', false, false)"))
                    connection.execute(text(
                        "INSERT INTO invoice (id, account_id, source, number, number_key, supplier_name, "
                        "supplier_iban, issue_date, due_date, amount_cents, currency, status, created_at, "
                        "updated_at) VALUES (:id, 1, 'MEG', :number, :key, 'Minoterie Dupuis', "
                        "'FR7617569000706397384867456', '2026-11-02', '2026-12-02', :amount, 'EUR', 'to_pay', "
                        "'2026-11-02', '2026-11-02')"),
                        [{"id": row_id, "number": number, "amount": 120_000 + row_id,
                          "key": number.lower().replace("-", "").replace(" ", "")}
                         for row_id, number in enumerate(numbers, start=1)])
                found = connection.scalars(text("SELECT number_key FROM invoice ORDER BY id")).all()
            engine.dispose()
        return list(found)

    before = keys(insert=True)
    assert before.count(before[0]) == 2 and before[5] != before[6]  # only « F2026001 » was « F-2026-001 »
    _cli(bare_apps, "libeo", "db", "upgrade")
    after = keys()
    assert after == [invoice_number_key(number) for number in numbers]
    assert after == ["f2026001"] * 5 + ["fa123"] * 2 + ["f2026002"]
    _cli(bare_apps, "libeo", "db", "downgrade", "0019_name_skeletons_uts39")
    assert keys() == before


def test_an_iban_only_refused_payments_taught_is_forgotten_after_upgrade(bare_apps):
    """0021: a payment held for its amount taught its IBAN at its creation, and its refusal left it known. Such an
    IBAN is forgotten; one another payment taught (created without a hold, or approved), one the bank rejected
    and one a payment still waiting taught stay."""
    ibans = {name: f"FR76300060000000000{n:06d}" for n, name in enumerate(
        ["refused", "paid before", "approved before", "rejected by the bank", "paid before (json null)", "waiting"])}
    # (IBAN, status, hold reasons, decided by, refusal's reason), one invoice each.
    payments = [("refused", "cancelled", '["approval_rule"]', "admin@martin.fr", "RIB frauduleux"),
                ("paid before", "paid", None, None, None),
                ("paid before", "cancelled", '["approval_rule"]', "admin@martin.fr", "Montant à vérifier"),
                ("approved before", "scheduled", '["approval_rule"]', "admin@martin.fr", None),
                ("approved before", "cancelled", '["duplicate_suspected"]', "admin@martin.fr", "Déjà payée"),
                ("rejected by the bank", "cancelled", '["approval_rule"]', "admin@martin.fr", "RIB frauduleux"),
                ("paid before (json null)", "scheduled", "null", None, None),
                ("paid before (json null)", "cancelled", '["approval_rule"]', "admin@martin.fr", "Trop cher"),
                ("waiting", "awaiting_approval", '["approval_rule"]', None, None)]
    _cli(bare_apps, "libeo", "db", "upgrade", "0020_invoice_number_keys")
    with bare_apps.libeo.app_context():
        engine = bare_apps.libeo.extensions["migrate"].db.engine
        # The hold reasons as JSON text: PostgreSQL's column is json; SQLite keeps text (its CAST makes 'null' 0).
        reasons_sql = "CAST(:reasons AS JSON)" if engine.dialect.name == "postgresql" else ":reasons"
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO account (id, name, siret, plan, created_at, approve_accountant_payments, "
                "cancel_at_period_end) VALUES (1, 'Boulangerie Martin', '73282932000074', 'gratuit', '2026-12-01', "
                "false, false)"))
            for row_id, (iban, status, reasons, decided_by, reason) in enumerate(payments, start=1):
                connection.execute(text(
                    "INSERT INTO invoice (id, account_id, source, number, number_key, supplier_name, supplier_iban, "
                    "issue_date, due_date, amount_cents, currency, status, created_at, updated_at) VALUES (:id, 1, "
                    "'MEG', :number, :number, 'Minoterie Dupuis', :iban, '2026-11-02', '2026-12-02', 150000, 'EUR', "
                    "'to_pay', '2026-11-02', '2026-11-02')"),
                    {"id": row_id, "number": f"f{row_id}", "iban": ibans[iban]})
                connection.execute(text(
                    "INSERT INTO payment (id, account_id, invoice_id, status, amount_cents, currency, execution_date, "
                    "creditor_name, creditor_iban, initiated_by_email, initiated_by_role, channel, created_at, "
                    "hold_reasons, decided_by, cancel_reason) VALUES (:id, 1, :id, :status, 150000, 'EUR', "
                    "'2026-12-02', 'Minoterie Dupuis', :iban, 'compta@martin.fr', 'user', 'api', '2026-11-02', "
                    f"{reasons_sql}, :decided_by, :reason)"),
                    {"id": row_id, "status": status, "iban": ibans[iban], "reasons": reasons, "decided_by": decided_by,
                     "reason": reason})
            for row_id, iban in enumerate(ibans, start=1):
                connection.execute(text(
                    "INSERT INTO known_supplier_iban (id, account_id, supplier_key, supplier_name, iban, recorded_at, "
                    "recorded_by, rejected_reason) VALUES (:id, 1, 'minoterie dupuis', 'Minoterie Dupuis', :iban, "
                    "'2026-11-02', 'premier paiement', :rejected)"),
                    {"id": row_id, "iban": ibans[iban],
                     "rejected": "compte clôturé" if iban == "rejected by the bank" else None})
        engine.dispose()
    _cli(bare_apps, "libeo", "db", "upgrade")
    with bare_apps.libeo.app_context():
        engine = bare_apps.libeo.extensions["migrate"].db.engine
        with engine.connect() as connection:
            known = set(connection.scalars(text("SELECT iban FROM known_supplier_iban")))
        engine.dispose()
    assert known == {ibans[name] for name in ibans if name != "refused"}


def test_an_invoice_switched_to_another_mode_after_its_rejected_transfer_is_to_settle_after_upgrade(bare_apps,
                                                                                                    tmp_path):
    """0023: release 2.x filed it under « Rejetées » while its row said « À régler »; now under « À régler »,
    and back under « Rejetées » on the way down."""
    _load_release_1(bare_apps, tmp_path)
    _cli(bare_apps, "meg", "db", "upgrade", "0022_invoice_settlement_state")

    def state(sql: str | None = None) -> str:
        with bare_apps.meg.app_context():
            engine = bare_apps.meg.extensions["migrate"].db.engine
            with engine.begin() as connection:
                if sql:
                    connection.execute(text(sql))
                found = connection.scalar(text("SELECT settlement_state FROM supplier_invoice WHERE id = 1"))
            engine.dispose()
        return found

    # Invoice 1 (paid through Libeo in release 1): its transfer rejected, then switched to « Virement ».
    assert state("UPDATE libeo_payment SET status = 'FAILED' WHERE invoice_id = 1") == "programmees"
    assert state("UPDATE supplier_invoice SET settlement_state = 'rejetees', payment_mode = 'VIREMENT' "
                 "WHERE id = 1") == "rejetees"
    _cli(bare_apps, "meg", "db", "upgrade")
    assert state() == "a_regler"
    with bare_apps.meg.app_context():
        from models.meg import db
        from models.meg.libeo_link.attempts import stale_invoice_states

        assert stale_invoice_states(db.session.connection(), limit=10) == []
        db.session.remove()
    _cli(bare_apps, "meg", "db", "downgrade", "0022_invoice_settlement_state")
    assert state() == "rejetees"
