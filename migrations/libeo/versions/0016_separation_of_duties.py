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


CHECK = 'ck_payment_approvals_required'


def upgrade():
    # Columns added in place: on SQLite a batch copy of « account » or « payment » (drop, then rename)
    # made their children's ON DELETE CASCADE empty the tables that point at them (known IBANs…).
    op.add_column('account', sa.Column('approver_not_requester', sa.Boolean(), server_default=sa.false(),
                                       nullable=False))
    op.add_column('account', sa.Column('dual_approval_above_cents', sa.BigInteger(), nullable=True))
    op.add_column('account', sa.Column('accountant_may_approve', sa.Boolean(), server_default=sa.false(),
                                       nullable=False))
    op.add_column('payment', sa.Column('approval_count', sa.Integer(), server_default='0', nullable=False))
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite adds a column's own check in place; a table check would need the copy above.
        op.execute(f"ALTER TABLE payment ADD COLUMN approvals_required INTEGER DEFAULT '1' NOT NULL "
                   f"CONSTRAINT {CHECK} CHECK (approvals_required BETWEEN 1 AND 2)")
    else:
        op.add_column('payment', sa.Column('approvals_required', sa.Integer(), server_default='1', nullable=False))
        op.create_check_constraint(op.f(CHECK), 'payment', sa.text('approvals_required BETWEEN 1 AND 2'))
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
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite 3.35+ drops a column in place; the check goes with the column that carries it.
        for table, column in (('payment', 'approvals_required'), ('payment', 'approval_count'),
                              ('account', 'accountant_may_approve'), ('account', 'dual_approval_above_cents'),
                              ('account', 'approver_not_requester')):
            op.execute(f'ALTER TABLE {table} DROP COLUMN {column}')
        return
    op.drop_constraint(op.f(CHECK), 'payment', type_='check')
    op.drop_column('payment', 'approval_count')
    op.drop_column('payment', 'approvals_required')
    op.drop_column('account', 'accountant_may_approve')
    op.drop_column('account', 'dual_approval_above_cents')
    op.drop_column('account', 'approver_not_requester')
