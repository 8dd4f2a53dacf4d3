"""A key MEG gave up with payments in flight: retired (reads only) until they end

Revision ID: 0009_key_retired
Revises: 0008_bank_leg
Create Date: 2026-12-04 18:40:00

- ``api_key.retired_at``: « Supprimer la connexion » in MEG while payments of
  MEG's invoices were in flight; the key then only reads the account's
  payments and events, and is revoked once the last one has ended and MEG
  has read it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_key_retired'
down_revision = '0008_bank_leg'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_column('retired_at')
