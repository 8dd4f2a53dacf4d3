"""Database engine settings shared by both products."""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from flask import Flask, current_app, g, has_request_context, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import delete, event, select
from sqlalchemy.engine import CursorResult, Result, make_url

from core.files import create_private_file, private_folder
from core.listing import register_fold

# Constraint names both products' schemas share, so migrations can name them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# The statements that write (what a transaction begins with to become a writer).
WRITE_STATEMENTS = ("INSERT", "UPDATE", "DELETE", "REPLACE")
# How often a writer waiting for another process tries again.
WRITER_POLL_SECONDS = 0.0005


# One turn per database file and process: a thread waits for its process's turn on a
# lock (asleep, woken when it is free), then only the thread holding it polls the file lock.
_PROCESS_TURNS: dict[str, threading.Lock] = {}
_PROCESS_TURNS_GUARD = threading.Lock()


# A process forked while one of its threads held a turn must not inherit that lock held.
os.register_at_fork(after_in_child=_PROCESS_TURNS.clear)


def _process_turn(path: str) -> threading.Lock:
    with _PROCESS_TURNS_GUARD:
        return _PROCESS_TURNS.setdefault(path, threading.Lock())


class QueuedWriterConnection(sqlite3.Connection):
    """A SQLite connection whose writers take turns, waking as soon as the previous one is done.

    SQLite lets one writer at a time in; the others wait in its busy handler,
    which sleeps longer and longer between tries (1, 2, 5, 10… up to 100 ms):
    a writer may sleep 50 ms for a lock freed after 2. Here a transaction that
    writes first takes its turn, and gives it back once committed or rolled
    back, so SQLite's own lock is free when it asks:

    - within a process, on a lock per database (threads wait asleep and the
      first is woken when it is released);
    - between processes, then, an exclusive ``flock`` on ``<database>.writers``,
      tried every half millisecond by the one thread of each process that
      holds its process's turn. A process that dies loses its lock with it.

    A writer waits at most as long as SQLite would (the connection's
    ``timeout``), then fails as SQLite does: « database is locked ».
    """

    def __init__(self, database, timeout: float = 5.0, *args, **kwargs) -> None:
        super().__init__(database, timeout, *args, **kwargs)
        self.wait_seconds = timeout
        name = os.fspath(database)
        # A database named by URI (« file:…?mode=ro ») is left to SQLite's own waiting.
        self._queue_path = None if name.startswith("file:") else os.path.abspath(f"{name}.writers")
        self._queue_fd: int | None = None
        self._turn: threading.Lock | None = None

    def _queue(self) -> int | None:
        """The lock file, opened once; None when it cannot be (SQLite's own waiting then applies)."""
        if self._queue_fd is None and self._queue_path is not None:
            try:
                # Read-only is enough to flock. Its owner's only, like the database it guards.
                self._queue_fd = os.open(self._queue_path, os.O_RDONLY | os.O_CREAT, 0o600)
            except OSError:
                self._queue_path = None
        return self._queue_fd

    def take_turn(self) -> None:
        queue_fd = self._queue()
        if self._turn is not None or queue_fd is None or self._queue_path is None:
            return
        deadline = time.monotonic() + self.wait_seconds
        turn = _process_turn(self._queue_path)
        if not turn.acquire(timeout=self.wait_seconds):
            raise sqlite3.OperationalError("database is locked")  # as SQLite says it when its wait runs out
        try:
            while True:
                try:
                    fcntl.flock(queue_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise sqlite3.OperationalError("database is locked") from None
                    time.sleep(WRITER_POLL_SECONDS)
        except BaseException:
            turn.release()
            raise
        self._turn = turn

    def _end_turn(self) -> None:
        turn, self._turn = self._turn, None
        if turn is not None:
            try:
                if self._queue_fd is not None:
                    fcntl.flock(self._queue_fd, fcntl.LOCK_UN)
            finally:
                turn.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._end_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._end_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._end_turn()
            if self._queue_fd is not None:
                os.close(self._queue_fd)
                self._queue_fd = None


# A SELECT that locks rows (``with_for_update``) needs the transaction its locks last for.
_LOCKING_READ = re.compile(r"\sFOR\s+(?:NO\s+KEY\s+)?UPDATE\b|\sFOR\s+(?:KEY\s+)?SHARE\b", re.IGNORECASE)


def _plain_read(statement: str) -> bool:
    return statement.lstrip()[:7].upper() == "SELECT " and not (" FOR " in statement.upper()
                                                                 and _LOCKING_READ.search(statement))


def begin_at_first_write(engine) -> None:
    """On PostgreSQL, reads run outside any transaction and BEGIN comes right before the first statement
    that may write, as Libeo's on SQLite (``init_database``): a request that only reads sends its
    SELECTs alone, not wrapped in a BEGIN and a COMMIT (two round trips of the six to nine a page sends).

    At READ COMMITTED, PostgreSQL's level here, each statement sees what was committed when it began,
    inside a transaction or not: reads outside one see exactly what they would inside. What a transaction
    gives, writes undone together and row locks held until the end, is kept: any statement other than a
    plain SELECT (an INSERT, UPDATE or DELETE, a SELECT … FOR UPDATE or FOR SHARE, a SAVEPOINT, a SET, a
    CTE), and a SELECT streamed through a server-side cursor (an export), opens the transaction first, and
    what follows runs in it until COMMIT or ROLLBACK.

    It also keeps the connection's prepared statements: psycopg prepares a statement on the server once a
    connection has run it five times (no parsing nor planning then, 0.2 to 1.2 ms of the server's CPU a
    statement on the lists) and forgets every one at each ROLLBACK; a request that only read used to end
    with one (its session's rollback at teardown), which now finds no transaction and sends nothing.
    """
    from psycopg import ServerCursor  # PostgreSQL's driver, there when this is called
    from psycopg.pq import TransactionStatus

    idle = TransactionStatus.IDLE

    @event.listens_for(engine, "begin")
    def _reading(connection):
        dbapi_connection = connection.connection.dbapi_connection
        if dbapi_connection is not None and not dbapi_connection.autocommit \
                and dbapi_connection.info.transaction_status == idle:
            dbapi_connection.autocommit = True

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(connection, cursor, statement, parameters, context, executemany):
        dbapi_connection = cursor.connection
        # A streamed read (an export's ``yield_per``) runs in a server-side cursor, which lives in a transaction.
        if dbapi_connection.autocommit and (not _plain_read(statement) or isinstance(cursor, ServerCursor)):
            dbapi_connection.autocommit = False  # psycopg sends BEGIN before this statement


def _file_database(uri: str) -> bool:
    return uri.startswith("sqlite") and ":memory:" not in uri and uri.rstrip("/") not in ("sqlite:", "sqlite")


def sqlite_file(uri: str) -> Path | None:
    """The file of a SQLite database URL (``sqlite:///instance/meg.sqlite3``); None for anything else."""
    if not _file_database(uri):
        return None
    database = make_url(uri).database
    if not database or database.startswith("file:") or make_url(uri).query.get("uri"):
        return None
    return Path(database)


def init_database(app: Flask, db: SQLAlchemy, *, begin_immediate: bool = True) -> None:
    """Binds ``db`` to ``app``; on SQLite, makes concurrent writers wait for each other.

    Every SQLite connection waits up to 30 s for a lock, in WAL mode. Then two
    ways to keep a reader from failing at once (SQLITE_BUSY, no wait) when it
    tries to become a writer while another connection writes:

    - ``begin_immediate`` (MEG): every transaction that may write starts with
      BEGIN IMMEDIATE; those of GET and HEAD requests, which only read, with a
      plain BEGIN (a GET that must write does it in a transaction of its own);
    - otherwise (Libeo) pysqlite's own handling: reads run outside any
      transaction and BEGIN comes right before the first write, whose
      guarantees rest on conditional UPDATEs and constraints, as on PostgreSQL.
    """
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    queued = _file_database(uri)
    database = sqlite_file(uri)
    if database is not None and not database.exists():
        # Created 0600 before SQLite opens it: SQLite gives its WAL and SHM files the database's mode.
        private_folder(database.parent)
        create_private_file(database)
    if uri.startswith("sqlite"):
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        connect_args = options.setdefault("connect_args", {})
        connect_args.setdefault("timeout", 30)
        if queued:
            connect_args.setdefault("factory", QueuedWriterConnection)
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    if uri.startswith("postgresql"):
        with app.app_context():
            begin_at_first_write(db.engine)
    if uri.startswith("sqlite"):
        with app.app_context():
            engine = db.engine

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            if begin_immediate:
                dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            # WAL: readers never wait for the writer; NORMAL: a commit does
            # not wait for the disk (a power cut may lose the last one).
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            register_fold(dbapi_connection)  # the lists' search (core/listing.py)

        if begin_immediate:

            @event.listens_for(engine, "begin")
            def _on_begin(connection):
                reading = has_request_context() and (request.method in ("GET", "HEAD") or _still_reading())
                if not reading:
                    _take_turn(connection.connection.dbapi_connection)
                connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

            @event.listens_for(engine, "commit")
            def _on_commit(connection):
                # The request's first commit ends a ``reads_first`` view's reading (its use case's own commit).
                if has_request_context():
                    g.db_committed = True

        if queued:

            @event.listens_for(engine, "before_cursor_execute")
            def _before_write(connection, cursor, statement, parameters, context, executemany):
                # The first write of a transaction (pysqlite begins it right before), or a read
                # transaction of MEG's GET requests turning into a writer.
                if statement.lstrip()[:7].upper().startswith(WRITE_STATEMENTS):
                    _take_turn(connection.connection.dbapi_connection)


def reads_first(view):
    """Marks a view whose use case reads, then writes in transactions of its own (see ``end_reading``).

    On SQLite, MEG's transactions of a POST begin IMMEDIATE, holding the
    writers' turn (one writer at a time for the whole database) from their
    first read. Such a view's transactions begin as plain reads instead,
    until the request's first commit (the use case's ``end_reading``): what
    it checks first (the person, the company, the invoice) no longer keeps
    every other writer waiting. It must not write before that commit.
    """
    view.reads_first = True
    return view


def end_reading(db: SQLAlchemy) -> None:
    """A use case's reading is over: on SQLite its read transaction is committed, so that what follows
    begins IMMEDIATE and takes the writers' turn (when its view is ``reads_first``).

    Use ``keep_loaded`` to keep what the reading loaded; the writes that
    follow see the database as it is when they take their turn, so what must
    hold when writing is checked again there (a constraint, a conditional
    UPDATE, a read inside the write transaction). PostgreSQL locks rows, not
    the database: nothing to end.
    """
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.commit()


def _still_reading() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "reads_first", False) and not g.get("db_committed", False)


def begin_writing(db: SQLAlchemy) -> None:
    """Opens the transaction of a use case that writes several times and commits once (a batch whose items
    each run in a savepoint: ``undo_work``).

    On SQLite, pysqlite begins a transaction only right before a write, and a
    SAVEPOINT issued outside one would begin and end its own (its RELEASE
    commits). Here the transaction begins at once, holding the writers' turn
    (BEGIN IMMEDIATE): its reads see what the writes will, and every
    savepoint nests in it. On PostgreSQL the session's transaction is enough.
    """
    connection = db.session.connection()
    if connection.dialect.name != "sqlite":
        return
    dbapi_connection = connection.connection.dbapi_connection
    if dbapi_connection is None or dbapi_connection.in_transaction:
        return
    _take_turn(dbapi_connection)
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def undo_work(db: SQLAlchemy) -> bool:
    """Undoes the work in progress after a refusal or a failed write: only the current savepoint when one is
    open (an item of a batch: the other items stay), else the whole transaction.

    True when the transaction was rolled back whole, so the caller may start again in a fresh one;
    False inside a savepoint: the caller must not go on writing, since what follows would run
    outside the item's savepoint.
    """
    nested = db.session().get_nested_transaction()
    if nested is not None and nested.is_active:
        nested.rollback()
        return False
    db.session.rollback()
    return True


def refresh_planner_statistics(db: SQLAlchemy) -> bool:
    """On SQLite, the statistics its query planner chooses indexes by (``ANALYZE``, each index sampled, so
    that a million rows take about a second); True when refreshed.

    SQLite keeps none until asked: without them it guesses, and walked every invoice of an account, or
    every payment paid, where one index read per term of an OR finds the few rows wanted (the safeguards'
    possible duplicates). Run at each upgrade and by Libeo's daily housekeeping. PostgreSQL's autovacuum
    keeps its own.
    """
    if db.session.get_bind().dialect.name != "sqlite":
        return False
    connection = db.session.connection()
    connection.exec_driver_sql("PRAGMA analysis_limit=1000")
    connection.exec_driver_sql("ANALYZE")
    db.session.commit()
    return True


def _take_turn(dbapi_connection) -> None:
    if isinstance(dbapi_connection, QueuedWriterConnection):
        dbapi_connection.take_turn()


def purge_in_batches(db: SQLAlchemy, model, condition, *, batch_size: int = 1000, max_batches: int = 100) -> int:
    """Deletes the rows matching ``condition`` a batch at a time, each batch its own transaction.

    Short transactions never hold many locks for long, so the product's own
    work (a « Payer ») is not kept waiting; on PostgreSQL rows another
    worker is purging are skipped (``SKIP LOCKED``), so several may run.
    """
    deleted = 0
    for _ in range(max_batches):
        ids = select(model.id).where(condition).order_by(model.id).limit(batch_size)
        if db.session.get_bind().dialect.name == "postgresql":
            ids = ids.with_for_update(skip_locked=True)
        result: CursorResult = db.session.execute(  # type: ignore[assignment]  # a DELETE's result has a rowcount
            delete(model).where(model.id.in_(ids.scalar_subquery())).execution_options(synchronize_session=False)
        )
        count = result.rowcount
        db.session.commit()
        deleted += count
        if count < batch_size:
            break
    return deleted


def rowcount(result: Result[Any]) -> int:
    """The rows an INSERT, UPDATE or DELETE run with ``session.execute`` touched.

    ``Session.execute`` is typed to return a ``Result``; for these statements it is
    a ``CursorResult``, which counts them.
    """
    return cast("CursorResult[Any]", result).rowcount


@contextmanager
def keep_loaded(db: SQLAlchemy):
    """Commits inside keep the objects as loaded instead of expiring them.

    For a request that commits before and after an HTTP call: what it
    loaded still describes what it answers about, and reading it again
    would cost a query per object (and on SQLite, the write lock) for nothing.
    """
    session = db.session()
    previous = session.expire_on_commit
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = previous
