"""Indexes of the lists' filters and sorts; trigram indexes of their search on PostgreSQL

Revision ID: 0010_list_indexes
Revises: 0009_following_after_disconnect
Create Date: 2026-12-04 18:30:00

- ``supplier_invoice``: by company and amount, by company, mode and due date.
- On PostgreSQL (with the ``pg_trgm`` extension available): GIN trigram indexes
  of the folded number and supplier name, the expression the search compares
  (``core.listing.folded``), so that a search « %dupuis% » does not read every
  row. SQLite searches the company's rows (its index) with the same function.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "0010_list_indexes"
down_revision = "0009_following_after_disconnect"
branch_labels = None
depends_on = None

# core.listing's folding table as it is at this revision: the indexed expression must be the one
# the search compares (a later change of the table comes with a migration of its own).
FOLD_FROM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZÀÁÂÃÄÅàáâãäåÇçĆćČčĎďĐđÈÉÊËèéêëĘęĚěÌÍÎÏìíîïŁłĹĺĽľÑñŃńŇňÒÓÔÕÖØòóôõöøŒœŘřŔŕŚśŠšŞşŤťŢţÙÚÛÜùúûüŮůŰűÝýÿŸŹźŻżŽžÆæ'
FOLD_TO = 'abcdefghijklmnopqrstuvwxyzaaaaaaaaaaaaccccccddddeeeeeeeeeeeeiiiiiiiillllllnnnnnnoooooooooooooorrrrssssssttttuuuuuuuuuuuuyyyyzzzzzzaa'

TRIGRAMS = (("ix_supplier_invoice_number_trgm", "supplier_invoice", "number"),
            ("ix_supplier_name_trgm", "supplier", "name"))


def _with_trigrams() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bool(
        bind.exec_driver_sql("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'").scalar())


def upgrade():
    op.create_index('ix_invoice_company_amount', 'supplier_invoice', ['company_id', 'amount_cents'])
    op.create_index('ix_invoice_company_mode', 'supplier_invoice', ['company_id', 'payment_mode', 'due_date'])
    if _with_trigrams():
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, table, column in TRIGRAMS:
            op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
                       f"USING gin (translate({column}, '{FOLD_FROM}', '{FOLD_TO}') gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name, _table, _column in TRIGRAMS:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_index('ix_invoice_company_mode', table_name='supplier_invoice')
    op.drop_index('ix_invoice_company_amount', table_name='supplier_invoice')
