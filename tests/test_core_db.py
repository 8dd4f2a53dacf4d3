"""SQLite writers take turns (core/db.py): a turn is held from the first write to commit or rollback."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text

from core.db import (
    QueuedWriterConnection,
    end_reading,
    init_database,
    reads_first,
    refresh_planner_statistics,
)


def _connect(path, timeout: float = 5.0) -> QueuedWriterConnection:
    return sqlite3.connect(path, timeout=timeout, factory=QueuedWriterConnection, isolation_level=None,
                           check_same_thread=False)


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "queue.sqlite3"
    with _connect(path) as setup:
        setup.execute("CREATE TABLE t (n INTEGER)")
    return path


def test_a_second_writer_waits_for_the_first_ones_commit(database):
    first, second = _connect(database), _connect(database)
    first.execute("BEGIN")
    first.take_turn()
    first.execute("INSERT INTO t VALUES (1)")
    done = threading.Event()

    def write():
        second.take_turn()
        second.execute("BEGIN IMMEDIATE")
        second.execute("INSERT INTO t VALUES (2)")
        second.commit()
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    assert not done.wait(0.2), "the second writer went ahead while the first held its turn"
    first.commit()
    writer.join(10)
    assert done.is_set()
    assert [row[0] for row in first.execute("SELECT n FROM t ORDER BY n")] == [1, 2]


def test_a_rollback_ends_the_turn_too(database):
    first, second = _connect(database), _connect(database, timeout=0.2)
    first.execute("BEGIN")
    first.take_turn()
    first.execute("INSERT INTO t VALUES (1)")
    first.rollback()
    second.take_turn()  # at once: no « database is locked »
    second.commit()


def test_a_writer_that_waits_longer_than_its_timeout_is_told_the_database_is_locked(database):
    first, second = _connect(database), _connect(database, timeout=0.1)
    first.take_turn()
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        second.take_turn()
    first.commit()
    second.take_turn()
    second.commit()


def test_a_closed_connection_gives_its_turn_back(database):
    first, second = _connect(database), _connect(database, timeout=0.2)
    first.take_turn()
    first.close()
    second.take_turn()
    second.commit()


def _product_database(tmp_path, begin_immediate: bool) -> tuple[Flask, SQLAlchemy]:
    """A product's SQLite database, begun as MEG begins (BEGIN IMMEDIATE) or as Libeo does."""
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'product.sqlite3'}"
    db = SQLAlchemy()
    init_database(app, db, begin_immediate=begin_immediate)
    return app, db


@pytest.mark.parametrize("begin_immediate", [True, False])
def test_every_write_of_a_product_database_takes_a_turn(tmp_path, begin_immediate):
    """Both ways products begin (MEG's BEGIN IMMEDIATE, Libeo's BEGIN before the first write)."""
    app, db = _product_database(tmp_path, begin_immediate)
    with app.app_context():
        db.session.execute(text("CREATE TABLE t (n INTEGER)"))
        db.session.commit()
        db.session.execute(text("INSERT INTO t VALUES (1)"))
        raw = db.session.connection().connection.dbapi_connection
        assert isinstance(raw, QueuedWriterConnection)
        other = _connect(tmp_path / "product.sqlite3", timeout=0.1)
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            other.take_turn()
        db.session.commit()
        other.take_turn()
        other.commit()
        assert db.session.scalar(text("SELECT count(*) FROM t")) == 1


def test_without_a_lock_file_writers_fall_back_to_sqlites_own_waiting(tmp_path):
    """A folder the lock file cannot be made in, or a database named by URI: writes still work."""
    path = tmp_path / "queue.sqlite3"
    with _connect(path) as setup:
        setup.execute("CREATE TABLE t (n INTEGER)")
    (tmp_path / "queue.sqlite3.writers").mkdir()  # open() fails on a folder
    connection = _connect(path)
    connection.take_turn()
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("INSERT INTO t VALUES (1)")
    connection.commit()
    by_uri = sqlite3.connect(f"file:{path}?mode=rw", uri=True, factory=QueuedWriterConnection,
                             isolation_level=None)
    by_uri.take_turn()
    by_uri.execute("INSERT INTO t VALUES (2)")
    assert [row[0] for row in by_uri.execute("SELECT n FROM t ORDER BY n")] == [1, 2]
    assert not (tmp_path / f"file:{path}?mode=rw.writers").exists()


def _product(tmp_path):
    app = Flask(__name__)
    path = tmp_path / "product.sqlite3"
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
    db = SQLAlchemy()
    init_database(app, db)
    with app.app_context():
        db.session.execute(text("CREATE TABLE t (n INTEGER)"))
        db.session.commit()
    return app, db, path


def _other_writer_goes_ahead(path) -> bool:
    other = _connect(path, timeout=0.1)
    try:
        other.take_turn()
    except sqlite3.OperationalError:
        return False
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (0)")
    other.commit()
    other.close()
    return True


def test_a_view_that_reads_first_keeps_no_writer_waiting_until_it_writes(tmp_path):
    """MEG's « Payer »: its checks read without the writers' turn; its writes then take it."""
    app, db, path = _product(tmp_path)
    seen = {}

    @app.post("/plain")
    def plain():
        db.session.scalar(text("SELECT count(*) FROM t"))
        seen["plain, reading"] = _other_writer_goes_ahead(path)
        db.session.rollback()
        return ""

    @app.post("/reads-first")
    @reads_first
    def reads_first_view():
        count = db.session.scalar(text("SELECT count(*) FROM t"))
        seen["reading"] = _other_writer_goes_ahead(path)
        end_reading(db)
        db.session.execute(text("INSERT INTO t VALUES (:n)"), {"n": count + 10})
        seen["writing"] = _other_writer_goes_ahead(path)
        db.session.commit()
        seen["committed"] = _other_writer_goes_ahead(path)
        return ""

    client = app.test_client()
    assert client.post("/plain").status_code == 200
    assert client.post("/reads-first").status_code == 200
    assert seen == {"plain, reading": False, "reading": True, "writing": False, "committed": True}
    with app.app_context():
        # The other writer's two rows (while the view read, after it committed) and the view's own.
        assert sorted(db.session.scalars(text("SELECT n FROM t"))) == [0, 0, 10]


@pytest.mark.parametrize("begin_immediate", [True, False])
def test_the_planners_statistics_are_refreshed_on_both_products(tmp_path, begin_immediate):
    """``ANALYZE`` (sampled), through each way the products begin: SQLite then chooses indexes by what the
    tables hold, not by guesses (run by ``db upgrade`` and Libeo's daily housekeeping)."""
    app, db = _product_database(tmp_path, begin_immediate)
    with app.app_context():
        db.session.execute(text("CREATE TABLE t (n INTEGER, k INTEGER)"))
        db.session.execute(text("CREATE INDEX ix_t_k ON t (k)"))
        db.session.execute(text("INSERT INTO t VALUES (1, 1), (2, 1), (3, 2)"))
        db.session.commit()
        assert refresh_planner_statistics(db)
        assert db.session.execute(text("SELECT idx, stat FROM sqlite_stat1")).all() == [("ix_t_k", "3 2")]


@pytest.mark.postgres
def test_postgresql_reads_outside_a_transaction_until_the_first_write_and_keeps_its_prepared_statements(meg_app):
    """On PostgreSQL a request that only reads sends no BEGIN nor COMMIT (``begin_at_first_write``): psycopg
    then keeps the statements it prepared (it forgets them all at each ROLLBACK). A write, a locking read or a
    savepoint opens the transaction first: what follows runs in it and a rollback undoes it whole."""
    from psycopg.pq import TransactionStatus
    from sqlalchemy import func, select
    from sqlalchemy.exc import ProgrammingError

    from models.meg import Company, db

    count = select(func.count(Company.id)).where(Company.name == "Prepared SARL")

    def prepared(session) -> list[str]:
        return list(session.scalars(text("SELECT statement FROM pg_prepared_statements")))

    with meg_app.app_context():
        connection = db.session.connection().connection.dbapi_connection
        for _ in range(7):  # each request's reads, then the session's rollback at teardown
            assert db.session.scalar(count) == 0
            assert connection.info.transaction_status == TransactionStatus.IDLE  # no BEGIN was sent
            db.session.rollback()
        assert db.session.connection().connection.dbapi_connection is connection
        assert any("FROM company" in statement for statement in prepared(db.session))

        # A write opens the transaction; the reads after it run in it, and a rollback undoes it whole.
        db.session.add(Company(name="Prepared SARL"))
        db.session.flush()
        assert connection.info.transaction_status == TransactionStatus.INTRANS
        assert db.session.scalar(count) == 1
        db.session.add(Company(name="Prepared SARL"))
        db.session.flush()
        db.session.rollback()
        assert db.session.scalar(count) == 0
        db.session.rollback()

        # A read that locks rows holds them until the transaction ends.
        db.session.execute(select(Company.id).where(Company.name == "Prepared SARL").with_for_update())
        assert connection.info.transaction_status == TransactionStatus.INTRANS
        db.session.rollback()

        # A savepoint nests in a transaction opened for it.
        with db.session.begin_nested():
            assert db.session.scalar(count) == 0  # after the SAVEPOINT, sent with the session's first statement
            assert connection.info.transaction_status == TransactionStatus.INTRANS
            db.session.add(Company(name="Prepared SARL"))
        db.session.rollback()
        assert db.session.scalar(count) == 0
        db.session.rollback()

        # A streamed read (an export's server-side cursor) runs in a transaction.
        streamed = db.session.execute(select(Company.id), execution_options={"yield_per": 10})
        assert connection.info.transaction_status == TransactionStatus.INTRANS
        streamed.all()
        db.session.rollback()

        # A failed read is reported, and the session goes on.
        with pytest.raises(ProgrammingError, match="prepared_nowhere"):
            db.session.execute(text("SELECT * FROM prepared_nowhere"))
        db.session.rollback()
        assert db.session.scalar(count) == 0
