"""Payment truth: Libeo payments' life and requests, connection health, events cursor.

Existing connections start « active » (checked at the next sync pass, which
also reads the accountant from Libeo); existing attempts keep their state
until the sync pass reads Libeo's events feed from its start.

Revision ID: 0002_payment_truth
Revises: 0001_initial
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002_payment_truth'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('libeo_connection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accountant_email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('state', sa.Enum('ACTIVE', 'KEY_REVOKED', 'UNREACHABLE', name='connectionstate', native_enum=False, length=20), nullable=False, server_default='ACTIVE'))
        batch_op.add_column(sa.Column('state_since', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()))
        batch_op.add_column(sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_checked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('account_checked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('events_cursor', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('sync_claimed_until', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('libeo_connection', schema=None) as batch_op:
        # The defaults were for the rows already there; new rows get theirs from the application.
        batch_op.alter_column('state', server_default=None)
        batch_op.alter_column('state_since', server_default=None)

    with op.batch_alter_table('libeo_payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_body', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('refusal', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('failure_reason', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('hold_reasons', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column('idempotency_key',
               existing_type=sa.VARCHAR(length=64),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_libeo_payment_libeo_payment_id'), ['libeo_payment_id'], unique=False)
        batch_op.create_index('ix_libeo_payment_status', ['status', 'requested_at'], unique=False)
    _retype_execution_date(sa.Date(), "CAST(execution_date AS DATE)")



def downgrade():
    # Payments MEG only learnt from Libeo's feed have no request of their own: release 1 cannot hold them.
    op.execute("DELETE FROM libeo_payment WHERE idempotency_key IS NULL")
    with op.batch_alter_table('libeo_payment', schema=None) as batch_op:
        batch_op.drop_index('ix_libeo_payment_status')
        batch_op.drop_index(batch_op.f('ix_libeo_payment_libeo_payment_id'))
        batch_op.alter_column('idempotency_key',
               existing_type=sa.VARCHAR(length=64),
               nullable=False)
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('hold_reasons')
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('failure_reason')
        batch_op.drop_column('refusal')
        batch_op.drop_column('paid_at')
        batch_op.drop_column('request_body')
    _retype_execution_date(sa.VARCHAR(length=10), "to_char(execution_date, 'YYYY-MM-DD')")

    with op.batch_alter_table('libeo_connection', schema=None) as batch_op:
        batch_op.drop_column('sync_claimed_until')
        batch_op.drop_column('events_cursor')
        batch_op.drop_column('account_checked_at')
        batch_op.drop_column('last_error')
        batch_op.drop_column('last_checked_at')
        batch_op.drop_column('last_success_at')
        batch_op.drop_column('state_since')
        batch_op.drop_column('state')
        batch_op.drop_column('accountant_email')



def _retype_execution_date(new_type, postgresql_expression: str) -> None:
    """Release 1 kept « 2026-11-30 » as text. SQLite's batch copy would CAST it to a number
    (2026), so the value moves through a new column, copied as is on SQLite (the same text
    a Date column holds there) and converted on PostgreSQL."""
    copy = "execution_date" if op.get_bind().dialect.name == "sqlite" else postgresql_expression
    with op.batch_alter_table('libeo_payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('execution_date_new', new_type, nullable=True))
    op.execute(f"UPDATE libeo_payment SET execution_date_new = {copy}")
    with op.batch_alter_table('libeo_payment', schema=None) as batch_op:
        batch_op.drop_column('execution_date')
        batch_op.alter_column('execution_date_new', new_column_name='execution_date')
