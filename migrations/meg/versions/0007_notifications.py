"""E-mail notifications: the outbox, each user's preferences and bounces

Revision ID: 0007_notifications
Revises: 0006_sync_runs
Create Date: 2026-12-04 15:22:08.695693

E-mail notifications:
- ``notification``: the outbox, one row per event and recipient (unique),
  written with the event and sent by the notify workers;
- ``notification_setting``: each address's choice per kind (at once, daily
  digest, never);
- ``user_account.email_bounced_at`` / ``email_bounce_reason``: the SMTP server
  refused the person's address for good (shown on their next visit).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_notifications'
down_revision = '0006_sync_runs'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notification_setting',
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('setting', sa.String(length=40), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('email', 'setting', name=op.f('pk_notification_setting'))
    )
    op.create_table('notification',
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('event_key', sa.String(length=120), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('delivery', sa.String(length=10), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claim_token', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_notification_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_notification_user_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification')),
    sa.UniqueConstraint('event_key', 'recipient', name='uq_notification_event_recipient')
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_company_id'), ['company_id'], unique=False)
        batch_op.create_index('ix_notification_due', ['status', 'due_at'], unique=False)

    # Added in place (SQLite too): the users' table, which others reference, is not copied.
    op.add_column('user_account', sa.Column('email_bounced_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('user_account', sa.Column('email_bounce_reason', sa.String(length=300), nullable=True))


def downgrade():
    # SQLite 3.35+ drops a column in place (no copy of the table).
    op.execute('ALTER TABLE user_account DROP COLUMN email_bounce_reason')
    op.execute('ALTER TABLE user_account DROP COLUMN email_bounced_at')

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_due')
        batch_op.drop_index(batch_op.f('ix_notification_company_id'))

    op.drop_table('notification')
    op.drop_table('notification_setting')
