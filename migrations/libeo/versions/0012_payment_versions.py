"""Each payment's version, and the owner of each Idempotency-Key claim

Revision ID: 0012_payment_versions
Revises: 0011_list_indexes
Create Date: 2026-12-04 18:30:00

- ``payment.version``: 1 at creation, one more at each change of state;
  every answer and event of the API carries it, so that MEG keeps the newest
  account of a payment whatever order answers and events reach it in.
- ``idempotency_record.owner``: the request holding a claim; a claim is a
  lease of a few seconds, taken over from a request that died, and only its
  owner may store the answer.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0012_payment_versions"
down_revision = "0011_list_indexes"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payment') as batch:
        batch.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
    with op.batch_alter_table('idempotency_record') as batch:
        batch.add_column(sa.Column('owner', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('idempotency_record') as batch:
        batch.drop_column('owner')
    with op.batch_alter_table('payment') as batch:
        batch.drop_column('version')
