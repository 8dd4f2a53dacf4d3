"""Following payments after « Supprimer la connexion »; the IBAN Libeo pays

Revision ID: 0009_following_after_disconnect
Revises: 0008_bank_leg_states
Create Date: 2026-12-04 18:40:00

- ``libeo_connection.removed_at``: « Supprimer la connexion » was clicked;
  the row stays while MEG follows the payments still in flight (the key
  reads only), and afterwards keeps the feed's cursor for a reconnection.
- ``libeo_connection.libeo_account_id``: the Libeo account the key belongs
  to: a key of another account starts a new cursor.
- ``libeo_payment.payee_iban``: the IBAN Libeo's payment pays, as Libeo
  holds it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_following_after_disconnect'
down_revision = '0008_bank_leg_states'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('libeo_connection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('libeo_account_id', sa.String(length=32), nullable=True))
    with op.batch_alter_table('libeo_payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payee_iban', sa.String(length=34), nullable=True))


def downgrade():
    with op.batch_alter_table('libeo_payment', schema=None) as batch_op:
        batch_op.drop_column('payee_iban')
    with op.batch_alter_table('libeo_connection', schema=None) as batch_op:
        batch_op.drop_column('libeo_account_id')
        batch_op.drop_column('removed_at')
