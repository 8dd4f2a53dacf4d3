"""The reference pages the benchmark measures the products against, served by the same gunicorn.

- ``/ref/hello``: a bare Flask « hello » (no extension, no hook): the ceiling
  of any request this server answers; Libeo's ``GET /me`` is held to 0.4 × it;
- ``/ref/reglements/<company>``: a minimal Flask + Flask-SQLAlchemy page that
  lists the same 50 invoices as MEG's « Règlements » page 1 for that company
  (its unpaid invoices by due date, with their supplier), with no login,
  layout or CSRF: the ceiling for a page of that shape; « Règlements » is held
  to 0.6 × it.
"""

from __future__ import annotations

import os
from datetime import date

from flask import Flask, render_template_string
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, String, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    joinedload,
    mapped_column,
    relationship,
)


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Supplier(db.Model):
    __tablename__ = "supplier"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class Invoice(db.Model):
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


def create_reference_app() -> Flask:
    app = Flask("reference")
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["MEG_DATABASE_URL"]
    db.init_app(app)

    @app.route("/hello")
    def hello():
        return "hello"

    @app.route("/reglements/<int:company_id>")
    def settlements(company_id: int):
        invoices = db.session.scalars(
            select(Invoice).options(joinedload(Invoice.supplier))
            .where(Invoice.company_id == company_id, Invoice.paid_at.is_(None))
            .order_by(Invoice.due_date, Invoice.id).limit(50)
        ).all()
        return render_template_string(PAGE, invoices=invoices)

    return app
