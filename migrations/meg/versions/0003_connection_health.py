"""Connection health: updates Libeo refused for good, who revoked a key, housekeeping indexes.

Revision ID: 0003_connection_health
Revises: 0002_payment_truth
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_connection_health'
down_revision = '0002_payment_truth'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('libeo_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refused_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('ignored_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_libeo_outbox_company_id'), ['company_id'], unique=False)



def downgrade():
    with op.batch_alter_table('libeo_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_libeo_outbox_company_id'))
        batch_op.drop_column('ignored_at')
        batch_op.drop_column('refused_at')

