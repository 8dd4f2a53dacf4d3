"""What keeps Libeo from executing a connected account's transfers, as MEG last read it

Revision ID: 0016_libeo_waiting_for
Revises: 0015_direct_debit
Create Date: 2026-12-04 19:30:00

``libeo_connection.account_waiting_for``: Libeo's sentence (account not
verified, no IBAN to debit) with the action that lifts it, shown on MEG's
confirmation before « Confirmer le paiement » and beside scheduled payments.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016_libeo_waiting_for'
down_revision = '0015_direct_debit'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('libeo_connection', sa.Column('account_waiting_for', sa.String(length=300), nullable=True))


def downgrade():
    op.drop_column('libeo_connection', 'account_waiting_for')  # SQLite ≥ 3.35 drops a column in place
