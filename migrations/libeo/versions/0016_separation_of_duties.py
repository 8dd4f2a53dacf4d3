"""Separation of duties: who may approve a held payment, and two approvers above an amount

Revision ID: 0016_separation_of_duties
Revises: 0015_invoice_totals
Create Date: 2026-12-04 22:30:00

- ``account.approver_not_requester``: the person who asked for a payment cannot approve it;
  ``account.dual_approval_above_cents``: above it, a payment is held for two approvers;
  ``account.accountant_may_approve``: whether the account's expert-comptable may approve.
- ``payment.approvals_required`` (1 or 2, set when the payment is asked for) and
  ``payment.approval_count`` (approvals given so far).
- ``payment_approval``: each approver's « Approuver », once per person and payment.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0016_separation_of_duties"
down_revision = "0015_invoice_totals"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('account') as batch:
        batch.add_column(sa.Column('approver_not_requester', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column('dual_approval_above_cents', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('accountant_may_approve', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('payment') as batch:
        batch.add_column(sa.Column('approvals_required', sa.Integer(), server_default='1', nullable=False))
        batch.add_column(sa.Column('approval_count', sa.Integer(), server_default='0', nullable=False))
        batch.create_check_constraint('ck_payment_approvals_required', 'approvals_required BETWEEN 1 AND 2')
    op.create_table(
        'payment_approval',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('payment_id', sa.Integer(), nullable=False),
        sa.Column('approver_email', sa.String(length=254), nullable=False),
        sa.Column('approved_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'], name='fk_payment_approval_account_id_account',
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], name='fk_payment_approval_payment_id_payment',
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_payment_approval'),
        sa.UniqueConstraint('payment_id', 'approver_email', name='uq_payment_approval_approver'),
    )
    op.create_index('ix_payment_approval_account_id', 'payment_approval', ['account_id'])


def downgrade():
    op.drop_index('ix_payment_approval_account_id', table_name='payment_approval')
    op.drop_table('payment_approval')
    with op.batch_alter_table('payment') as batch:
        batch.drop_constraint('ck_payment_approvals_required', type_='check')
        batch.drop_column('approval_count')
        batch.drop_column('approvals_required')
    with op.batch_alter_table('account') as batch:
        batch.drop_column('accountant_may_approve')
        batch.drop_column('dual_approval_above_cents')
        batch.drop_column('approver_not_requester')
