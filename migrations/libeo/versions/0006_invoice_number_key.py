"""The duplicate check's indexes: an invoice's number key, and its amount by date

Revision ID: 0006_invoice_number_key
Revises: 0005_safeguards
Create Date: 2026-11-30 16:40:00

Each payment looks for another invoice of the account with the same number
(lower case, without separators) or the same amount around the same date.
It used to compute each of the account's invoice numbers in SQL, reading
them all: the number's key is now stored (``invoice.number_key``, kept by
the model when ``number`` is set) and both conditions are indexed.

Existing invoices get their key here, computed as
``models.libeo.entities.invoice_number_key`` does at this revision (a
migration does not import the application's code, which will change).
The column is added with a default, so SQLite does not copy the table.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_invoice_number_key'
down_revision = '0005_safeguards'
branch_labels = None
depends_on = None

_SEPARATORS = (" ", "-", "_", ".", "/")
_BATCH = 1000


def _number_key(number):
    key = (number or "").lower()
    for separator in _SEPARATORS:
        key = key.replace(separator, "")
    return key[:60]


def upgrade():
    op.add_column('invoice', sa.Column('number_key', sa.String(length=60), server_default='', nullable=False))
    connection = op.get_bind()
    invoice = sa.table('invoice', sa.column('id', sa.Integer), sa.column('number', sa.String),
                       sa.column('number_key', sa.String))
    last = 0
    while True:
        rows = connection.execute(
            sa.select(invoice.c.id, invoice.c.number).where(invoice.c.id > last).order_by(invoice.c.id).limit(_BATCH)
        ).all()
        if not rows:
            break
        connection.execute(
            invoice.update().where(invoice.c.id == sa.bindparam('invoice_id')).values(number_key=sa.bindparam('key')),
            [{'invoice_id': row.id, 'key': _number_key(row.number)} for row in rows],
        )
        last = rows[-1].id
    op.create_index('ix_invoice_number_key', 'invoice', ['account_id', 'number_key'], unique=False)
    op.create_index('ix_invoice_amount', 'invoice', ['account_id', 'amount_cents', 'issue_date'], unique=False)


def downgrade():
    op.drop_index('ix_invoice_amount', table_name='invoice')
    op.drop_index('ix_invoice_number_key', table_name='invoice')
    # SQLite 3.35+ drops a column in place (no copy of the table, whose rows payments point at).
    op.execute('ALTER TABLE invoice DROP COLUMN number_key')
