"""Libeo's « Cette semaine »: the account's invoices to pay by Sunday (and those already late), its
transfers executed this week, and its payments waiting for an approval. Two aggregate statements."""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, bindparam, case, func, select

from core.dates import paris_today, week_of
from core.week import WeekLine, WeekSummary
from models.libeo.accounts.models import Account
from models.libeo.db import db
from models.libeo.invoices.models import Invoice, InvoiceStatus
from models.libeo.payments.models import Payment, PaymentStatus

LEAVING = (PaymentStatus.SCHEDULED, PaymentStatus.FILE_READY, PaymentStatus.TRANSMITTED, PaymentStatus.ACCEPTED)


def _line(count, cents) -> WeekLine:
    return WeekLine(int(count or 0), int(cents or 0))


# Built once, the account and the days as named parameters: building and walking these two aggregates
# was most of their cost.
_LATE = Invoice.due_date < bindparam("today")
_TO_PAY = (
    select(func.count(), func.sum(Invoice.amount_cents),
           func.sum(case((_LATE, 1), else_=0)), func.sum(case((_LATE, Invoice.amount_cents), else_=0)))
    .where(Invoice.account_id == bindparam("account_id"), Invoice.due_date <= bindparam("end"),
           Invoice.status.in_((InvoiceStatus.TO_PAY, InvoiceStatus.PAYMENT_FAILED)),
           # The invoices « Factures » lists: not one MEG sent but never paid (a refused request, then edited).
           Invoice.imported_at.is_not(None))
)
_AWAITING = Payment.status == PaymentStatus.AWAITING_APPROVAL
_IN_FLIGHT = (
    select(func.sum(case((_AWAITING, 1), else_=0)), func.sum(case((_AWAITING, Payment.amount_cents), else_=0)),
           func.sum(case((~_AWAITING, 1), else_=0)), func.sum(case((~_AWAITING, Payment.amount_cents), else_=0)))
    .where(Payment.account_id == bindparam("account_id"),
           _AWAITING | and_(Payment.status.in_(LEAVING),
                            Payment.execution_date.between(bindparam("start"), bindparam("end"))))
)


def week_summary(account: Account, today: date | None = None) -> WeekSummary:
    today = today or paris_today()
    start, end = week_of(today)
    values = {"account_id": account.id, "today": today, "start": start, "end": end}
    to_pay = db.session.execute(_TO_PAY, values).one()
    in_flight = db.session.execute(_IN_FLIGHT, values).one()
    return WeekSummary(start, end, to_pay=_line(to_pay[0], to_pay[1]), overdue=_line(to_pay[2], to_pay[3]),
                       awaiting_approval=_line(in_flight[0], in_flight[1]), leaving=_line(in_flight[2], in_flight[3]))
