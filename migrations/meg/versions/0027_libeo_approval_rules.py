"""The Libeo account's approval rules, as MEG last read them

Revision ID: 0027_libeo_approval_rules
Revises: 0026_libeo_bank_text
Create Date: 2026-12-07 09:10:00

``libeo_connection.approval_above_cents`` and ``accountant_payments_approved``: the rules under which Libeo holds
a payment until an administrator approves it (GET /me), so that « Payer » says it before the click. Empty at
upgrade: MEG reads them at its next exchange with Libeo.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0027_libeo_approval_rules'
down_revision = '0026_libeo_bank_text'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('libeo_connection') as batch:
        batch.add_column(sa.Column('approval_above_cents', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('accountant_payments_approved', sa.Boolean(), nullable=True))


def downgrade():
    with op.batch_alter_table('libeo_connection') as batch:
        batch.drop_column('accountant_payments_approved')
        batch.drop_column('approval_above_cents')
