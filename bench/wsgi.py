"""What the products' gunicorn serves during the benchmark: the products, a bare « hello », two probes.

``BENCH_SIDES`` says which: ``meg,libeo`` (the default) is the combined app
(``app.create_app``, MEG → Libeo in-process or over a socket to itself);
``meg`` or ``libeo`` alone is one product deployed apart, mounted at its
usual prefix, reaching the other over HTTP (``LIBEO_URL``, ``MEG_URL``).

- ``/ref/hello``: a bare Flask « hello » (``bench/reference.py``), mounted
  beside the products: the ceiling of any request this server answers (the
  minimal list and the minimal two-service pay are served apart, by their own
  gunicorns);
- ``/meg/hello`` and ``/libeo/hello``: the cheapest route each product can
  answer through its own stack (hooks, security headers);
- an ``X-SQL-Queries`` response header: the SQL statements the request ran on
  each side (``BEGIN`` excluded, so SQLite and PostgreSQL count alike) and
  its commits of transactions that wrote (each one a durable write, the main
  cost of the pay requests; a commit ending a read transaction is not counted).

Nothing here changes product behaviour; the product code is not touched.
"""

from __future__ import annotations

import os
import threading

import requests
from sqlalchemy import event
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from app import create_app, create_libeo_app, create_meg_app, mounted_at
from core.db import WRITE_STATEMENTS

from .reference import create_hello_app

HEADER = "X-SQL-Queries"
_local = threading.local()


def _counters(side: str):
    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        words = statement.lstrip()[:7].upper()
        if words.startswith(WRITE_STATEMENTS):
            conn.info["wrote"] = True
        counts = getattr(_local, "counts", None)
        if counts is not None and not words.startswith("BEGIN"):
            counts[side] += 1

    def commit(conn):
        # Only a transaction that wrote costs a durable commit (one that read ends with nothing to flush).
        counts = getattr(_local, "counts", None)
        if conn.info.pop("wrote", False) and counts is not None:
            counts[f"{side}_commits"] += 1

    def rollback(conn):
        conn.info.pop("wrote", None)

    return before_cursor_execute, commit, rollback


def _empty() -> dict[str, int]:
    return {"meg": 0, "libeo": 0, "meg_commits": 0, "libeo_commits": 0}


def _add_hello(flask_app) -> None:
    flask_app.add_url_rule("/hello", "bench_hello", lambda: "hello")


def _count_peer_queries() -> None:
    """With a real socket between the sides, adds the callee's count to the caller's."""
    send = requests.Session.send

    def send_and_count(self, request, **kwargs):
        response = send(self, request, **kwargs)
        counts = getattr(_local, "counts", None)
        peer = response.headers.get(HEADER)
        if counts is not None and peer:
            for part in peer.split(","):
                side, _, value = part.partition("=")
                if side in counts and value.isdigit():
                    counts[side] += int(value)
        return response

    requests.Session.send = send_and_count


def _products(which: str):
    """The WSGI app to serve and the product apps in it, by side."""
    if which == "meg,libeo":
        root = create_app()
        dispatcher = root.wsgi_app
        assert isinstance(dispatcher, DispatcherMiddleware)  # app.create_app mounts both products with one
        dispatcher.mounts["/ref"] = create_hello_app()
        return root, root.extensions["sides"]
    factory = {"meg": create_meg_app, "libeo": create_libeo_app}[which]
    side = factory(mounted_at(f"/{which}"))
    return DispatcherMiddleware(NotFound(), {f"/{which}": side, "/ref": create_hello_app()}), {which: side}


class _Served:
    """The dispatcher, with a ``wsgi_app`` to wrap as Flask's (the counting layer replaces it)."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        return self.wsgi_app(environ, start_response)


def build(which: str | None = None):
    which = which or os.environ.get("BENCH_SIDES", "meg,libeo")
    served, sides = _products(which)
    root = served if hasattr(served, "extensions") else _Served(served)
    for side, flask_app in sides.items():
        _add_hello(flask_app)
        if os.environ.get("BENCH_OBSERVABILITY") == "off":
            # The request layer's cost (README « What operations cost the hot pages »): the same
            # product served without its request ids, counts and log lines.
            flask_app.wsgi_app = getattr(flask_app.wsgi_app, "wsgi_app", flask_app.wsgi_app)
        db = flask_app.extensions["sqlalchemy"]
        statements, commits, rollbacks = _counters(side)
        with flask_app.app_context():
            event.listen(db.engine, "before_cursor_execute", statements)
            event.listen(db.engine, "commit", commits)
            event.listen(db.engine, "rollback", rollbacks)
    if "meg" in sides and not sides["meg"].config["IN_PROCESS_TRANSPORT"]:
        _count_peer_queries()
    inner = root.wsgi_app

    def counted(environ, start_response):
        _local.counts = _empty()

        def start(status, headers, exc_info=None):
            counts = _local.counts
            headers.append((HEADER, ",".join(f"{side}={n}" for side, n in counts.items())))
            return start_response(status, headers, exc_info)

        try:
            return inner(environ, start)
        finally:
            _local.counts = None

    root.wsgi_app = counted
    return root


app = build()
