"""An invoice's totals as EN 16931 defines them, beside the amount due

Revision ID: 0015_invoice_totals
Revises: 0014_strong_auth
Create Date: 2026-12-04 22:40:00

``invoice``: total without VAT, VAT, total with VAT, prepaid amount and
rounding (BT-109, BT-110, BT-112, BT-113, BT-114), as MEG sends them from an
e-invoice or « Nouvelle facture » reads them from the file joined; nullable,
an invoice typed by hand having only its amount due (``amount_cents``).
``ck_invoice_totals_add_up``: the amount due is the total with VAT less what
was prepaid plus the rounding, whenever the totals are known.

SQLite adds the columns in place (no copy of the table, whose rows payments
point at): the check rides on the last column added, which SQLite allows
to name the others.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_invoice_totals'
down_revision = '0014_strong_auth'
branch_labels = None
depends_on = None

COLUMNS = ('net_cents', 'vat_cents', 'total_cents', 'prepaid_cents', 'rounding_cents')
CHECK = 'ck_invoice_totals_add_up'
ADD_UP = ('total_cents IS NULL OR amount_cents = total_cents - COALESCE(prepaid_cents, 0) '
          '+ COALESCE(rounding_cents, 0)')


def upgrade():
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for name in COLUMNS[:-1] if sqlite else COLUMNS:
        op.add_column('invoice', sa.Column(name, sa.BigInteger(), nullable=True))
    if sqlite:
        op.execute(f'ALTER TABLE invoice ADD COLUMN rounding_cents BIGINT CONSTRAINT {CHECK} CHECK ({ADD_UP})')
    else:
        op.create_check_constraint(op.f(CHECK), 'invoice', sa.text(ADD_UP))


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite 3.35+ drops a column in place; the check goes with the column that carries it.
        for name in reversed(COLUMNS):
            op.execute(f'ALTER TABLE invoice DROP COLUMN {name}')
    else:
        op.drop_constraint(op.f(CHECK), 'invoice', type_='check')
        for name in reversed(COLUMNS):
            op.drop_column('invoice', name)
