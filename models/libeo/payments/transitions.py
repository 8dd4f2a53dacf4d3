"""A payment's moves from one state to the next.

Every change of state is a conditional UPDATE from the states it leaves
(``WHERE status IN (…)``), so concurrent imports, clicks and runs decide once;
each move appends its event in the same transaction and counts one more
``version`` of the payment (in the same UPDATE).
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, bindparam, select, update
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


_PAYMENTS = cast(Table, Payment.__table__)
_RETELL = (
    update(_PAYMENTS)
    .where(_PAYMENTS.c.id == bindparam("payment_id"), _PAYMENTS.c.account_id == bindparam("account"))
    .values(bank_anomaly=bindparam("said"), version=_PAYMENTS.c.version + 1)
)


def retell_payments(bank_anomalies: dict[int, str | None], *, account_id: int) -> list[Payment]:
    """A new version of each payment whose ``bank_anomaly`` changes (its state does not), with its event: what
    the API and MEG tell of it changed. One statement for them all; call it last before commit, as
    ``move_payments``."""
    if not bank_anomalies:
        return []
    db.session.flush()
    db.session.connection().execute(_RETELL, [{"payment_id": payment_id, "account": account_id, "said": said}
                                              for payment_id, said in bank_anomalies.items()])
    payments = list(
        db.session.scalars(
            select(Payment)
            .options(joinedload(Payment.invoice))
            .where(Payment.id.in_(bank_anomalies), Payment.account_id == account_id)
            .order_by(Payment.id)
            .execution_options(populate_existing=True)
        ).unique()
    )
    record_payment_events(account_id, payments)
    return payments
