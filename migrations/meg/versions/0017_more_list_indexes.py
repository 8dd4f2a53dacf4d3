"""Indexes of « Factures »' and « Factures des clients »' sorts

Revision ID: 0017_more_list_indexes
Revises: 0016_libeo_waiting_for
Create Date: 2026-12-04 22:40:00

- ``supplier_invoice``: by company and due date (« Factures » sorts and filters every invoice on it,
  paid or not, which the settlements' index by payment does not serve), by company and number.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "0017_more_list_indexes"
down_revision = "0016_libeo_waiting_for"
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_invoice_company_due', 'supplier_invoice', ['company_id', 'due_date', 'id']),
    ('ix_invoice_company_number', 'supplier_invoice', ['company_id', 'number']),
)


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
