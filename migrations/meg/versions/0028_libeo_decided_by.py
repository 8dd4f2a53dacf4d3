"""Who approved or refused a held payment in Libeo, and when

Revision ID: 0028_libeo_decided_by
Revises: 0027_libeo_approval_rules
Create Date: 2026-12-07 09:35:00

``libeo_payment.decided_by`` and ``decided_at``: the Libeo administrator who approved or refused the payment
held for approval, as Libeo tells it, so that MEG's invoice says who refused it and when, as Libeo's does.
Empty at upgrade: MEG learns them from Libeo's next account of the payment.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0028_libeo_decided_by'
down_revision = '0027_libeo_approval_rules'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('libeo_payment') as batch:
        batch.add_column(sa.Column('decided_by', sa.String(length=254), nullable=True))
        batch.add_column(sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('libeo_payment') as batch:
        batch.drop_column('decided_at')
        batch.drop_column('decided_by')
