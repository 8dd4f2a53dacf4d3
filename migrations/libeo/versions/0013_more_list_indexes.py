"""Indexes of « À approuver »' and « Journal »'s filters and sorts; trigram indexes of the journal's search on PostgreSQL

Revision ID: 0013_more_list_indexes
Revises: 0012_payment_versions
Create Date: 2026-12-04 22:40:00

- ``payment``: by account, state and execution date (« À approuver » sorted or filtered by it).
- ``journal_entry``: by account and kind (the journal's tabs).
- On PostgreSQL (with the ``pg_trgm`` extension available): GIN trigram indexes of the folded
  sentence and author of the journal's entries, the expression its search compares.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "0013_more_list_indexes"
down_revision = "0012_payment_versions"
branch_labels = None
depends_on = None

# core.listing's folding table as it is at this revision (see 0011_list_indexes).
FOLD_FROM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZÀÁÂÃÄÅàáâãäåÇçĆćČčĎďĐđÈÉÊËèéêëĘęĚěÌÍÎÏìíîïŁłĹĺĽľÑñŃńŇňÒÓÔÕÖØòóôõöøŒœŘřŔŕŚśŠšŞşŤťŢţÙÚÛÜùúûüŮůŰűÝýÿŸŹźŻżŽžÆæ'
FOLD_TO = 'abcdefghijklmnopqrstuvwxyzaaaaaaaaaaaaccccccddddeeeeeeeeeeeeiiiiiiiillllllnnnnnnoooooooooooooorrrrssssssttttuuuuuuuuuuuuyyyyzzzzzzaa'

INDEXES = (
    ('ix_payment_status_execution', 'payment', ['account_id', 'status', 'execution_date']),
    ('ix_journal_entry_account_kind', 'journal_entry', ['account_id', 'kind', 'id']),
)
TRIGRAMS = (("ix_journal_entry_message_trgm", "journal_entry", "message"),
            ("ix_journal_entry_actor_trgm", "journal_entry", "actor"))


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
