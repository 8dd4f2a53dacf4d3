"""A payment's moves from one state to the next.

Every change of state is a conditional UPDATE from the states it leaves
(``WHERE status IN (…)``), so concurrent imports, clicks and runs decide once;
each move appends its event in the same transaction and counts one more
``version`` of the payment (in the same UPDATE).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from models.libeo.db import db
from models.libeo.payments.events import record_payment_events
from models.libeo.payments.models import (
    Payment,
    PaymentStatus,
    invoice_status_for,
)


def move_payments(
    ids: list[int], leaving: tuple[PaymentStatus, ...], status: PaymentStatus, *, account_id: int, **values
) -> list[Payment]:
    """Moves the payments still in one of the ``leaving`` states to ``status``; those moved.

    One conditional UPDATE: of two concurrent moves of a payment, exactly
    one finds it in the state it leaves. Their invoices follow, and each
    moved payment gets its event. Call it last before commit (it ends with
    the events, which lock the account's row).
    """
    if not ids:
        return []
    moved = list(
        db.session.scalars(
            update(Payment)
            .where(Payment.id.in_(ids), Payment.account_id == account_id, Payment.status.in_(leaving))
            .values(status=status, version=Payment.version + 1, **values)
            .returning(Payment.id)
            .execution_options(synchronize_session=False)
        )
    )
    if not moved:
        return []
    payments = list(
        db.session.scalars(
            select(Payment)
            .options(joinedload(Payment.invoice))
            .where(Payment.id.in_(moved))
            .order_by(Payment.id)
            .execution_options(populate_existing=True)
        ).unique()
    )
    for payment in payments:
        payment.invoice.status = invoice_status_for(status)
    record_payment_events(account_id, payments)
    return payments
