"""The bank's own words of a rejected transfer, as Libeo tells them

Revision ID: 0026_libeo_bank_text
Revises: 0025_libeo_bank_anomaly
Create Date: 2026-12-07 08:10:00

``libeo_payment.bank_text``: what the bank wrote beside its reason code (pain.002 ``AddtlInf``), shown on the
invoice of a rejected payment as Libeo shows it. Empty at upgrade: MEG learns it from Libeo's next account of
the payment.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0026_libeo_bank_text'
down_revision = '0025_libeo_bank_anomaly'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('libeo_payment', sa.Column('bank_text', sa.String(length=500), nullable=True))


def downgrade():
    op.drop_column('libeo_payment', 'bank_text')  # SQLite ≥ 3.35 drops a column in place
