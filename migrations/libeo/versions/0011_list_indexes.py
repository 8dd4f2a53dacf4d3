"""Indexes of the lists' filters and sorts; trigram indexes of their search on PostgreSQL

Revision ID: 0011_list_indexes
Revises: 0010_name_skeletons
Create Date: 2026-12-04 18:30:00

- ``invoice``: by account and due date, state, supplier.
- ``payment``: by account and execution date, state, amount, supplier.
- On PostgreSQL (with the ``pg_trgm`` extension available): GIN trigram indexes
  of the folded numbers and names the search compares (``core.listing.folded``).
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "0011_list_indexes"
down_revision = "0010_name_skeletons"
branch_labels = None
depends_on = None

# core.listing's folding table as it is at this revision: the indexed expression must be the one
# the search compares (a later change of the table comes with a migration of its own).
FOLD_FROM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZÀÁÂÃÄÅàáâãäåÇçĆćČčĎďĐđÈÉÊËèéêëĘęĚěÌÍÎÏìíîïŁłĹĺĽľÑñŃńŇňÒÓÔÕÖØòóôõöøŒœŘřŔŕŚśŠšŞşŤťŢţÙÚÛÜùúûüŮůŰűÝýÿŸŹźŻżŽžÆæ'
FOLD_TO = 'abcdefghijklmnopqrstuvwxyzaaaaaaaaaaaaccccccddddeeeeeeeeeeeeiiiiiiiillllllnnnnnnoooooooooooooorrrrssssssttttuuuuuuuuuuuuyyyyzzzzzzaa'

INDEXES = (
    ('ix_invoice_due', 'invoice', ['account_id', 'due_date', 'id']),
    ('ix_invoice_status', 'invoice', ['account_id', 'status', 'issue_date']),
    ('ix_invoice_supplier', 'invoice', ['account_id', 'supplier_name']),
    ('ix_payment_execution', 'payment', ['account_id', 'execution_date', 'id']),
    ('ix_payment_status', 'payment', ['account_id', 'status', 'created_at']),
    ('ix_payment_amount', 'payment', ['account_id', 'amount_cents']),
    ('ix_payment_creditor', 'payment', ['account_id', 'creditor_name']),
)
TRIGRAMS = (("ix_invoice_number_trgm", "invoice", "number"),
            ("ix_invoice_supplier_trgm", "invoice", "supplier_name"),
            ("ix_payment_creditor_trgm", "payment", "creditor_name"))


def _with_trigrams() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bool(
        bind.exec_driver_sql("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'").scalar())


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    if _with_trigrams():
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, table, column in TRIGRAMS:
            op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
                       f"USING gin (translate({column}, '{FOLD_FROM}', '{FOLD_TO}') gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name, _table, _column in TRIGRAMS:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
