"""Issue 36, operations: the last sync pass, and when each company's events were read to the end

Revision ID: 0006_issue36_sync_runs
Revises: 0005_safeguards
Create Date: 2026-12-04 15:00:00.000000

Schema:
- ``libeo_sync_run``: one row, the last sync pass that went to its end (when, how long), whichever
  worker ran it: ``/metrics`` and ``flask meg status`` read it;
- ``libeo_connection.events_read_at``: when a sync pass last read the company's Libeo events feed to
  its end (the lag gauge); unknown for existing connections until their next read.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_issue36_sync_runs'
down_revision = '0005_safeguards'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('libeo_sync_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_libeo_sync_run'))
    )
    with op.batch_alter_table('libeo_connection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('events_read_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('libeo_connection', schema=None) as batch_op:
        batch_op.drop_column('events_read_at')
    op.drop_table('libeo_sync_run')
