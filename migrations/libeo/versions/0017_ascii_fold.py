"""The lists' search on PostgreSQL folds ASCII values without ``translate``: its trigram indexes follow

Revision ID: 0017_ascii_fold
Revises: 0016_separation_of_duties
Create Date: 2026-12-05 06:30:00

``core.listing.fold_postgresql`` now folds a value made of ASCII characters only with
``lower(… COLLATE "C")`` (same result, some twenty times cheaper than ``translate``): the GIN trigram
indexes of the search (0011, 0013) are rebuilt on that expression, so that the planner still finds them.
Nothing changes on SQLite.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "0017_ascii_fold"
down_revision = "0016_separation_of_duties"
branch_labels = None
depends_on = None

# core.listing's folding table as it is at this revision (unchanged since 0011).
FOLD_FROM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZÀÁÂÃÄÅàáâãäåÇçĆćČčĎďĐđÈÉÊËèéêëĘęĚěÌÍÎÏìíîïŁłĹĺĽľÑñŃńŇňÒÓÔÕÖØòóôõöøŒœŘřŔŕŚśŠšŞşŤťŢţÙÚÛÜùúûüŮůŰűÝýÿŸŹźŻżŽžÆæ'
FOLD_TO = 'abcdefghijklmnopqrstuvwxyzaaaaaaaaaaaaccccccddddeeeeeeeeeeeeiiiiiiiillllllnnnnnnoooooooooooooorrrrssssssttttuuuuuuuuuuuuyyyyzzzzzzaa'

TRIGRAMS = (("ix_invoice_number_trgm", "invoice", "number"),
            ("ix_invoice_supplier_trgm", "invoice", "supplier_name"),
            ("ix_payment_creditor_trgm", "payment", "creditor_name"),
            ("ix_journal_entry_message_trgm", "journal_entry", "message"),
            ("ix_journal_entry_actor_trgm", "journal_entry", "actor"))


def _translated(column: str) -> str:
    return f"translate({column}, '{FOLD_FROM}', '{FOLD_TO}')"


def _folded(column: str) -> str:
    return (f'CASE WHEN octet_length({column}) = char_length({column}) THEN lower(({column}) COLLATE "C") '
            f"ELSE {_translated(column)} END")


def _rebuild(expression) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for name, table, column in TRIGRAMS:
        # Only where 0011 and 0013 made them (pg_trgm was available then).
        if bind.exec_driver_sql(f"SELECT to_regclass('{name}')").scalar() is None:
            continue
        op.execute(f"DROP INDEX {name}")
        op.execute(f"CREATE INDEX {name} ON {table} USING gin (({expression(column)}) gin_trgm_ops)")


def upgrade():
    _rebuild(_folded)


def downgrade():
    _rebuild(_translated)
