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
- « Payer »'s floor (``/meg/achats/plancher/<n>`` calling Libeo's
  ``/libeo/api/v1/plancher``): the same two requests as « Payer » with what
  each product checks before any work (:func:`_add_floor`) and nothing
  written, measured deployed apart beside the minimal two-service pay;
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


def _add_floor(sides: dict) -> None:
    """« Payer »'s floor: MEG's and Libeo's halves of a « Payer » with their checks and nothing written.

    MEG: the signed-in person with their companies, the form's CSRF token, the
    company and its Libeo connection (its key decrypted), MEG's signed word on
    who pays, then the call to Libeo with the payment's body, no transaction
    held (as ``pay_invoice``), a flash and the redirect. Libeo: the API key with
    its account, the Idempotency-Key, the body read and checked against the
    payment's schema, MEG's signed initiator verified, a 201 answer. What
    « Payer » does beyond this is its work: the attempt, the invoice, the
    payment with its safeguards, events and stored answer, their commits.
    """
    from flask import flash, jsonify, redirect, request
    from flask_login import current_user

    if "meg" in sides:
        from blueprints.meg.achats.forms import PayForm
        from blueprints.meg.context import current_company
        from core.db import end_reading, keep_loaded, reads_first
        from models.meg.db import db as meg_db
        from models.meg.libeo_link.connection import connection_of
        from models.meg.signing import initiator_assertion

        @reads_first
        def meg_floor(number: int):
            form = PayForm()
            if not form.validate_on_submit():
                return "CSRF", 400
            company = current_company()
            connection = connection_of(company)
            if connection is None:
                return "pas de connexion à Libeo", 409
            client = connection.client()
            body = {"initiated_by": {"email": current_user.email, "role": "user"}, "execution_date": "2027-01-04",
                    "invoice": {"number": f"F-{number}", "issue_date": "2026-12-01", "due_date": "2027-01-04",
                                "supplier": {"name": "Fournisseur plancher", "iban": "FR7630006000011234567890189"},
                                "amount_cents": 1_000 + number % 5_000, "currency": "EUR"}}
            initiator = initiator_assertion(company, current_user.email, "user", current_user.id)
            with keep_loaded(meg_db):
                end_reading(meg_db)
            answer = client._call("POST", "/plancher", json=body,
                                  headers={"Idempotency-Key": f"plancher-{number}", "MEG-Initiator": initiator})
            flash(f"Paiement {answer['id']} : {answer['status']}.", "success")
            return redirect(form.next.data or "/meg/achats/reglements")

        # In the « Achats » blueprint: its hooks (the signed-in person) run as for « Payer ».
        sides["meg"].add_url_rule("/achats/plancher/<int:number>", "achats.bench_floor", meg_floor,
                                  methods=["POST"])
    if "libeo" in sides:
        from blueprints.libeo.api.routes import (
            INITIATOR_HEADER,
            PAYMENT_BODY,
            _idempotency_key,
            api_account,
            json_body,
            signed_initiator,
        )
        from blueprints.libeo.api.validation import validate

        def libeo_floor():
            key = _idempotency_key()
            body = validate(PAYMENT_BODY, json_body())
            account = api_account()
            initiator = signed_initiator(account, request.headers.get(INITIATOR_HEADER), body.get("initiated_by"),
                                         "initiated_by")
            response = jsonify(id=f"plancher-{account.id}", status="scheduled", key=key, email=initiator.email)
            response.status_code = 201
            return response

        # In the API's blueprint: its hooks (the key, its limits) run as for a payment request.
        sides["libeo"].add_url_rule("/api/v1/plancher", "api.bench_floor", libeo_floor, methods=["POST"])


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
    _add_floor(sides)
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
