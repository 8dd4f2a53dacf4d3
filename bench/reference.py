"""The reference services the benchmark measures the products against, each served apart.

Nothing here imports the products: these are the minimal pages of the same
shape, each run by ``python -m bench`` in gunicorns of their own (2 sync
workers by default), on ports of their own.

- ``bench.reference:hello_app``: a bare Flask « hello » (no extension, no
  hook). It is also mounted at ``/ref/hello`` inside the products' server
  (``bench.wsgi``): the ceiling of any request *that* server answers, which
  Libeo's ``GET /me`` is held to (0.4 ×);
- ``bench.reference:list_app``: a minimal Flask app with SQLAlchemy 2 ORM, one
  Session per request, listing the same 50 invoices as MEG's « Règlements »
  page 1 for a company (its unpaid invoices by due date, with their
  supplier) in a bare five-column Jinja table, no login, layout or CSRF,
  reading MEG's benchmark database: the ceiling for a page of that shape;
  « Règlements » is held to 0.6 × it;
- ``bench.reference:pay_front_app`` and ``bench.reference:pay_back_app``: a
  minimal two-service pay. The front service records a request row, calls
  the back service over a kept-alive HTTP session, records the answer and
  redirects; the back service claims the Idempotency-Key, takes a quota slot
  with a conditional UPDATE and inserts the payment. SQLAlchemy ORM on SQLite
  in WAL mode (synchronous NORMAL, as the products), each its own database.
  « Payer » deployed apart is held to 0.7 × its throughput and 1.5 × its p95.

``python -m bench.reference init`` creates the pay services' databases
(``REF_FRONT_DATABASE_URL``, ``REF_BACK_DATABASE_URL``) and their quota rows.
"""

from __future__ import annotations

import os
import sys
import threading
import uuid
from datetime import UTC, date, datetime

import requests
from flask import Flask, abort, jsonify, redirect, render_template_string, request
from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    String,
    bindparam,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    joinedload,
    mapped_column,
    relationship,
    sessionmaker,
)

from core.db import rowcount

# --- a bare « hello » -------------------------------------------------------------------------------


def create_hello_app() -> Flask:
    app = Flask("reference_hello")

    @app.route("/hello")
    @app.route("/ref/hello")
    def hello():
        return "hello"

    return app


# --- the minimal list --------------------------------------------------------------------------------


class ListBase(DeclarativeBase):
    pass


class Supplier(ListBase):
    __tablename__ = "supplier"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class Invoice(ListBase):
    __tablename__ = "supplier_invoice"
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int]
    supplier_id: Mapped[int] = mapped_column(ForeignKey("supplier.id"))
    number: Mapped[str] = mapped_column(String(60))
    due_date: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    payment_mode: Mapped[str] = mapped_column(String(30))
    paid_at = mapped_column(DateTime(timezone=True))
    supplier: Mapped[Supplier] = relationship()


PAGE = """<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Règlements</title></head><body>
<table>{% for i in invoices %}<tr><td>{{ i.number }}</td><td>{{ i.supplier.name }}</td><td>{{ i.due_date }}</td>
<td>{{ i.amount_cents }}</td><td>{{ i.payment_mode }}</td></tr>{% endfor %}</table></body></html>"""


def _engine(url: str):
    engine = create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})
    if url.startswith("sqlite"):
        @event.listens_for(engine, "connect")
        def pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
    return engine


def create_list_app(database_url: str | None = None) -> Flask:
    app = Flask("reference_list")
    sessions = sessionmaker(_engine(database_url or os.environ["MEG_DATABASE_URL"]))
    statement = (
        select(Invoice).options(joinedload(Invoice.supplier))
        .where(Invoice.company_id == bindparam("company_id"), Invoice.paid_at.is_(None))
        .order_by(Invoice.due_date, Invoice.id).limit(50)
    )

    @app.route("/ref/reglements/<int:company_id>")
    def settlements(company_id: int):
        with sessions() as session:
            invoices = session.scalars(statement, {"company_id": company_id}).all()
            return render_template_string(PAGE, invoices=invoices)

    return app


# --- the minimal two-service pay --------------------------------------------------------------------


class PayBase(DeclarativeBase):
    pass


class PayRequest(PayBase):
    """The front service's record of one click: written before the call, completed with the answer."""

    __tablename__ = "pay_request"
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(index=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(20))
    payment_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class KeyClaim(PayBase):
    __tablename__ = "key_claim"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Quota(PayBase):
    __tablename__ = "quota"
    account_id: Mapped[int] = mapped_column(primary_key=True)
    used: Mapped[int]
    limit: Mapped[int]


class Payment(PayBase):
    __tablename__ = "payment"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(index=True)
    invoice_id: Mapped[int] = mapped_column(index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


_kept = threading.local()


def _kept_session() -> requests.Session:
    """One requests session per thread, its connection to the back service kept alive between calls."""
    session = getattr(_kept, "session", None)
    if session is None:
        session = _kept.session = requests.Session()
        session.trust_env = False
    return session


def create_pay_front_app(database_url: str | None = None, back_url: str | None = None) -> Flask:
    app = Flask("reference_pay_front")
    sessions = sessionmaker(_engine(database_url or os.environ["REF_FRONT_DATABASE_URL"]), expire_on_commit=False)
    back = (back_url or os.environ["REF_BACK_URL"]).rstrip("/") + "/ref/back/payments"

    @app.post("/ref/pay/<int:account_id>/<int:invoice_id>")
    def pay(account_id: int, invoice_id: int):
        key = uuid.uuid4().hex
        with sessions() as session:
            row = PayRequest(invoice_id=invoice_id, idempotency_key=key, state="sent", created_at=datetime.now(UTC))
            session.add(row)
            session.commit()
            answer = _kept_session().post(back, json={"account_id": account_id, "invoice_id": invoice_id,
                                                      "amount_cents": 1_000 + invoice_id % 5_000},
                                          headers={"Idempotency-Key": key}, timeout=30)
            row.state = "accepted" if answer.status_code == 201 else f"refused {answer.status_code}"
            row.payment_id = answer.json().get("id") if answer.status_code == 201 else None
            row.answered_at = datetime.now(UTC)
            session.commit()
        if answer.status_code != 201:
            abort(502)
        return redirect("/ref/reglements")

    return app


def create_pay_back_app(database_url: str | None = None) -> Flask:
    app = Flask("reference_pay_back")
    sessions = sessionmaker(_engine(database_url or os.environ["REF_BACK_DATABASE_URL"]), expire_on_commit=False)

    @app.post("/ref/back/payments")
    def payments():
        body = request.get_json()
        key = request.headers.get("Idempotency-Key", "")
        with sessions() as session:
            session.add(KeyClaim(key=key, created_at=datetime.now(UTC)))
            try:
                session.flush()
            except IntegrityError:
                session.rollback()
                return jsonify(error="clé déjà utilisée"), 409
            slot = session.execute(
                update(Quota).where(Quota.account_id == body["account_id"], Quota.used < Quota.limit)
                .values(used=Quota.used + 1)
            )
            if rowcount(slot) != 1:
                session.rollback()
                return jsonify(error="limite atteinte"), 402
            payment = Payment(account_id=body["account_id"], invoice_id=body["invoice_id"],
                              amount_cents=body["amount_cents"], status="scheduled", created_at=datetime.now(UTC))
            session.add(payment)
            session.commit()
            return jsonify(id=payment.id, status=payment.status), 201

    return app


def init_pay_databases(accounts: int) -> None:
    """Creates both pay services' tables (WAL mode) and a quota row per account."""
    front = _engine(os.environ["REF_FRONT_DATABASE_URL"])
    back = _engine(os.environ["REF_BACK_DATABASE_URL"])
    tables = PayBase.metadata.tables
    PayBase.metadata.create_all(front, tables=[tables[PayRequest.__tablename__]])
    PayBase.metadata.create_all(back, tables=[tables[model.__tablename__] for model in (KeyClaim, Quota, Payment)])
    with Session(back) as session:
        session.add_all(Quota(account_id=a, used=0, limit=1_000_000) for a in range(1, accounts + 1))
        session.commit()
    front.dispose()
    back.dispose()


def count_unpaid() -> int:
    """Clicks the front service recorded without a payment the back service recorded for them."""
    from sqlalchemy import func

    with Session(_engine(os.environ["REF_FRONT_DATABASE_URL"])) as session:
        clicks = session.execute(select(PayRequest.state, PayRequest.payment_id)).all()
    with Session(_engine(os.environ["REF_BACK_DATABASE_URL"])) as session:
        payments = session.scalar(select(func.count()).select_from(Payment)) or 0
    accepted = sum(1 for state, payment_id in clicks if state == "accepted" and payment_id is not None)
    return len(clicks) - accepted + abs(accepted - payments)


def __getattr__(name: str):
    """The WSGI apps gunicorn loads (``bench.reference:list_app``…), built on first access."""
    factories = {"hello_app": create_hello_app, "list_app": create_list_app,
                 "pay_front_app": create_pay_front_app, "pay_back_app": create_pay_back_app}
    if name in factories:
        app = factories[name]()
        globals()[name] = app
        return app
    raise AttributeError(name)


if __name__ == "__main__":
    if sys.argv[1:2] == ["init"]:
        init_pay_databases(int(sys.argv[2]))
    elif sys.argv[1:2] == ["unpaid"]:
        print(count_unpaid())
