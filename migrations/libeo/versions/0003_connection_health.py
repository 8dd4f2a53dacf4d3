"""Connection health: updates Libeo refused for good, who revoked a key, housekeeping indexes.

Revision ID: 0003_connection_health
Revises: 0002_payment_lifecycle
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_connection_health'
down_revision = '0002_payment_lifecycle'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revoked_by', sa.String(length=254), nullable=True))

    with op.batch_alter_table('idempotency_record', schema=None) as batch_op:
        batch_op.create_index('ix_idempotency_record_created', ['created_at'], unique=False)



def downgrade():
    with op.batch_alter_table('idempotency_record', schema=None) as batch_op:
        batch_op.drop_index('ix_idempotency_record_created')

    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_column('revoked_by')

