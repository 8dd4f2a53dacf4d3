"""The Libeo account each payment request was sent to; « Vérification impossible »

Revision ID: 0019_request_account
Revises: 0018_second_factor
Create Date: 2026-12-04 23:30:00

- ``libeo_payment.libeo_account_id``: Libeo's id of the account the request
  was sent to; MEG never sends it to another. Existing rows get their
  company's connection's account (the only one MEG knew of), or stay NULL.
- ``libeo_payment.status`` may read ``UNVERIFIABLE`` (a string column, no
  constraint to change): sent unanswered to an account MEG no longer
  reaches. A downgrade makes those « Vérification en cours » again.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0019_request_account'
down_revision = '0018_second_factor'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('libeo_payment', sa.Column('libeo_account_id', sa.String(length=32), nullable=True))
    op.execute(
        "UPDATE libeo_payment SET libeo_account_id = ("
        " SELECT libeo_connection.libeo_account_id FROM libeo_connection"
        " JOIN supplier_invoice ON supplier_invoice.company_id = libeo_connection.company_id"
        " WHERE supplier_invoice.id = libeo_payment.invoice_id)"
    )


def downgrade():
    op.execute("UPDATE libeo_payment SET status = 'REQUESTED' WHERE status = 'UNVERIFIABLE'")
    op.drop_column('libeo_payment', 'libeo_account_id')  # SQLite ≥ 3.35 drops a column in place
