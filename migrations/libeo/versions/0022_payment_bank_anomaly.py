"""A payment says the bank anomaly that waits for a person

Revision ID: 0022_payment_bank_anomaly
Revises: 0021_refused_ibans_forgotten
Create Date: 2026-12-07 00:30:00

``payment.bank_anomaly``: while an anomaly of a bank file about a payment (or naming it among others)
is open, the oldest one's words, which the API (and so MEG) tells beside the state Libeo keeps. Filled
from the anomalies open at upgrade; MEG learns them at the payment's next change.
"""
import json

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0022_payment_bank_anomaly"
down_revision = "0021_refused_ibans_forgotten"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("payment", sa.Column("bank_anomaly", sa.String(length=1000), nullable=True))
    anomaly = sa.table("bank_anomaly", sa.column("id", sa.Integer), sa.column("account_id", sa.Integer),
                       sa.column("payment_id", sa.Integer), sa.column("candidate_ids", sa.Text),
                       sa.column("message", sa.String), sa.column("created_at", sa.DateTime(timezone=True)),
                       sa.column("resolved_at", sa.DateTime(timezone=True)))
    payment = sa.table("payment", sa.column("id", sa.Integer), sa.column("account_id", sa.Integer),
                       sa.column("bank_anomaly", sa.String))
    bind = op.get_bind()
    said: dict[tuple[int, int], str] = {}
    for row in bind.execute(sa.select(anomaly).where(anomaly.c.resolved_at.is_(None))
                            .order_by(anomaly.c.created_at, anomaly.c.id)):
        candidates = row.candidate_ids
        if isinstance(candidates, str):
            candidates = json.loads(candidates)
        for named in [row.payment_id, *(int(i) for i in candidates or ())]:
            if named is not None:
                said.setdefault((row.account_id, named), row.message)
    for (account_id, payment_id), message in said.items():
        bind.execute(payment.update().where(payment.c.id == payment_id, payment.c.account_id == account_id)
                     .values(bank_anomaly=message))


def downgrade():
    op.drop_column("payment", "bank_anomaly")
