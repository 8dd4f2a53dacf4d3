"""What Libeo says of a bank anomaly about a payment

Revision ID: 0025_libeo_bank_anomaly
Revises: 0024_consent_second_factor
Create Date: 2026-12-07 00:30:00

``libeo_payment.bank_anomaly``: Libeo's words for what a bank file said of the payment that Libeo did not
apply (a rejection of a debited transfer, a debit of another amount…), until a person of the Libeo account
decides. Empty at upgrade: MEG learns it from Libeo's next account of the payment.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0025_libeo_bank_anomaly'
down_revision = '0024_consent_second_factor'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('libeo_payment', sa.Column('bank_anomaly', sa.String(length=1000), nullable=True))


def downgrade():
    op.drop_column('libeo_payment', 'bank_anomaly')  # SQLite ≥ 3.35 drops a column in place
