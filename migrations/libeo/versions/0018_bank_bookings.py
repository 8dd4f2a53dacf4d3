"""A statement's bookings applied once: the bank's reference of each booking a statement applied

Revision ID: 0018_bank_bookings
Revises: 0017_ascii_fold
Create Date: 2026-12-06 09:30:00

- ``bank_booking``: each entry of a statement (camt.053, camt.054) that Libeo applied to payments or kept as an
  anomaly, with the bank's reference (AcctSvcrRef, else NtryRef), its booking date, direction and amount: the
  same booking told again (the debit notification, then the day's statement) is not applied a second time.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0018_bank_bookings"
down_revision = "0017_ascii_fold"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'bank_booking',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('import_id', sa.Integer(), nullable=False),
        sa.Column('iban', sa.String(length=34), nullable=False),
        sa.Column('reference', sa.String(length=35), nullable=True),
        sa.Column('booked_on', sa.Date(), nullable=True),
        sa.Column('direction', sa.String(length=4), nullable=False),
        sa.Column('amount_cents', sa.BigInteger(), nullable=False),
        sa.Column('matched_by', sa.String(length=20), nullable=False),
        sa.Column('counterparty_iban', sa.String(length=34), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'], name='fk_bank_booking_account_id_account',
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['import_id'], ['bank_status_import.id'],
                                name='fk_bank_booking_import_id_bank_status_import', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_bank_booking'),
        sa.UniqueConstraint('account_id', 'iban', 'reference', 'booked_on', 'direction', 'amount_cents',
                            name='uq_bank_booking_entry'),
    )
    op.create_index('ix_bank_booking_import_id', 'bank_booking', ['import_id'])


def downgrade():
    op.drop_index('ix_bank_booking_import_id', table_name='bank_booking')
    op.drop_table('bank_booking')
