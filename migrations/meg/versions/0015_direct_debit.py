"""The mandate a direct-debit invoice names is kept

Revision ID: 0015_direct_debit
Revises: 0014_invoice_totals
Create Date: 2026-12-04 19:10:00

- ``supplier_invoice.mandate_reference`` and ``debited_iban``: the mandate
  (BT-89) and the company's account it debits (BT-91), as the e-invoice says.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0015_direct_debit"
down_revision = "0014_invoice_totals"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("supplier_invoice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mandate_reference", sa.String(length=35), nullable=True))
        batch_op.add_column(sa.Column("debited_iban", sa.String(length=34), nullable=True))


def downgrade():
    with op.batch_alter_table("supplier_invoice", schema=None) as batch_op:
        batch_op.drop_column("debited_iban")
        batch_op.drop_column("mandate_reference")
