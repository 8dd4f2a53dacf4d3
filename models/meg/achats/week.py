"""MEG's « Cette semaine »: the company's invoices to pay by Sunday (and those already late), the Libeo
transfers executed this week, and those waiting for an approval in Libeo, as the last sync pass recorded
them. Two aggregate statements, whatever the number of invoices."""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, case, exists, func, select

from core.dates import paris_today, week_of
from core.week import WeekLine, WeekSummary
from models.meg.achats.models import SupplierInvoice
from models.meg.companies.models import Company
from models.meg.db import db
from models.meg.libeo_link.attempts import PaymentAttempt, PaymentState, settled_through_libeo

LEAVING = (PaymentState.SCHEDULED, PaymentState.FILE_READY, PaymentState.TRANSMITTED, PaymentState.ACCEPTED)
# A payment exists or may: the invoice is being paid, not « to pay ».
UNDER_WAY = (PaymentState.REQUESTED, PaymentState.AWAITING_APPROVAL, *LEAVING, PaymentState.UNKNOWN,
             PaymentState.UNVERIFIABLE)


def _line(count, cents) -> WeekLine:
    return WeekLine(int(count or 0), int(cents or 0))


def week_summary(company: Company, today: date | None = None) -> WeekSummary:
    today = today or paris_today()
    start, end = week_of(today)
    under_way = exists().where(PaymentAttempt.invoice_id == SupplierInvoice.id, PaymentAttempt.status.in_(UNDER_WAY))
    late = SupplierInvoice.due_date < today
    to_pay = db.session.execute(
        select(func.count(), func.sum(SupplierInvoice.amount_cents),
               func.sum(case((late, 1), else_=0)), func.sum(case((late, SupplierInvoice.amount_cents), else_=0)))
        .where(SupplierInvoice.company_id == company.id, SupplierInvoice.paid_at.is_(None),
               SupplierInvoice.due_date <= end, ~settled_through_libeo(), ~under_way)
    ).one()
    awaiting = PaymentAttempt.status == PaymentState.AWAITING_APPROVAL
    cents = SupplierInvoice.amount_cents
    in_flight = db.session.execute(
        select(func.sum(case((awaiting, 1), else_=0)), func.sum(case((awaiting, cents), else_=0)),
               func.sum(case((~awaiting, 1), else_=0)), func.sum(case((~awaiting, cents), else_=0)))
        .join(SupplierInvoice, SupplierInvoice.id == PaymentAttempt.invoice_id)
        .where(SupplierInvoice.company_id == company.id,
               awaiting | and_(PaymentAttempt.status.in_(LEAVING), PaymentAttempt.execution_date.between(start, end)))
    ).one()
    return WeekSummary(start, end, to_pay=_line(to_pay[0], to_pay[1]), overdue=_line(to_pay[2], to_pay[3]),
                       awaiting_approval=_line(in_flight[0], in_flight[1]), leaving=_line(in_flight[2], in_flight[3]))
