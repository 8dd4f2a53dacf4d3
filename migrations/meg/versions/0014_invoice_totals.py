"""An invoice's totals as EN 16931 defines them, beside the amount due

Revision ID: 0014_invoice_totals
Revises: 0013_siret_trust
Create Date: 2026-12-04 19:00:00

``supplier_invoice``: total without VAT, VAT, total with VAT, prepaid
amount and rounding, as an imported e-invoice gives them (nullable: an
invoice typed by hand has only its amount, the amount due).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0014_invoice_totals"
down_revision = "0013_siret_trust"
branch_labels = None
depends_on = None

COLUMNS = ("net_cents", "vat_cents", "total_cents", "prepaid_cents", "rounding_cents")


def upgrade():
    with op.batch_alter_table("supplier_invoice", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.BigInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table("supplier_invoice", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
