"""``/healthz`` (the process answers) and ``/readyz`` (its database answers, its schema is at head).

Both are cheap, need no login and say nothing secret: no address, no
version, no error text (the log has it, with the request id).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

from flask import Blueprint, current_app, jsonify
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

# How long the other product's answer is remembered: a load balancer polls every few seconds.
PEER_MEMORY_SECONDS = 10.0
_VERSIONS = text("SELECT version_num FROM alembic_version")
_ANSWERS = text("SELECT 1")


@cache
def migration_heads(directory: str) -> frozenset[str]:
    """The head revisions of a migrations folder, read once per process (they only change with the code)."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory(directory).get_heads())


class PeerCheck:
    """Whether the other product answers, asked at most every ``PEER_MEMORY_SECONDS`` by this process."""

    def __init__(self, name: str, answers: Callable[[], bool]) -> None:
        self.name, self.answers = name, answers
        self._known: tuple[float, bool] | None = None
        self._lock = threading.Lock()

    def __call__(self) -> bool:
        known = self._known
        if known is not None and time.monotonic() - known[0] < PEER_MEMORY_SECONDS:
            return known[1]
        with self._lock:
            known = self._known
            if known is None or time.monotonic() - known[0] >= PEER_MEMORY_SECONDS:
                try:
                    answered = bool(self.answers())
                except Exception:
                    log.warning("%s n'a pas pu être interrogé", self.name, exc_info=True)
                    answered = False
                self._known = known = (time.monotonic(), answered)
        return known[1]


@cache
def known_revisions(directory: str) -> frozenset[str]:
    """Every revision of a migrations folder: a database at another one was migrated by newer code."""
    from alembic.script import ScriptDirectory

    return frozenset(script.revision for script in ScriptDirectory(directory).walk_revisions())


def schema_state(db: SQLAlchemy, directory: str) -> tuple[bool, bool]:
    """(database answers, schema ready for this code): at the code's head, or ahead of it (a release being
    rolled out migrated it first; its revisions add what the code still running does not read). Only a
    schema behind the code is not ready."""
    try:
        with db.engine.connect() as connection:
            applied = frozenset(connection.execute(_VERSIONS).scalars())
    except SQLAlchemyError:
        try:
            with db.engine.connect() as connection:
                connection.execute(_ANSWERS)
        except SQLAlchemyError:
            log.warning("Base de données injoignable", exc_info=True)
            return False, False
        return True, False  # it answers, without a migration history
    if applied == migration_heads(directory):
        return True, True
    newer = bool(applied) and not applied & known_revisions(directory)
    if newer:
        log.info("Base de données migrée par une version plus récente du code (révision %s)", ", ".join(applied))
    return True, newer


def health_blueprint(product: str, db: SQLAlchemy, *, upgrade_command: str,
                     peer: PeerCheck | None = None) -> Blueprint:
    bp = Blueprint("observability", __name__)

    @bp.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @bp.get("/readyz")
    def readyz():
        directory = current_app.extensions["migrate"].directory
        answers, at_head = schema_state(db, str(Path(directory)))
        checks = {
            "database": "ok" if answers else "injoignable",
            "migrations": "ok" if at_head else (
                f"schéma pas à jour : lancez « {upgrade_command} »" if answers else "inconnu"),
        }
        ready = answers and at_head
        body = {"status": "ready" if ready else "not_ready", "checks": checks}
        if peer is not None:
            # Reported, never counted: the product keeps serving while the other is down.
            body[peer.name] = "ok" if peer() else "injoignable"
        return jsonify(body), 200 if ready else 503

    return bp
