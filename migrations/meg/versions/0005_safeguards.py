"""Safeguards: journal, hold details, Libeo account verification

Revision ID: 0005_safeguards
Revises: 0004_einvoices
Create Date: 2026-11-30 10:25:12.786166

Schema (SPEC §12, issue 15):
- ``meg_journal_entry``: the append-only journal of supplier IBAN changes
  and of the Libeo connection (triggers refuse UPDATE and DELETE);
- ``libeo_payment.hold_details``: Libeo's sentences explaining a hold;
- ``libeo_connection.account_verified``: whether Libeo says the account is
  « vérifié » (unknown for existing connections until the next GET /me).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_safeguards'
down_revision = '0004_einvoices'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('meg_journal_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('message', sa.String(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_meg_journal_entry_company_id_company')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meg_journal_entry'))
    )
    op.create_index('ix_meg_journal_entry_company', 'meg_journal_entry', ['company_id', 'id'], unique=False)
    for statement in _append_only_ddl('meg_journal_entry', op.get_bind().dialect.name):
        op.execute(statement)

    op.add_column('libeo_connection', sa.Column('account_verified', sa.Boolean(), nullable=True))
    op.add_column('libeo_payment', sa.Column('hold_details', sa.JSON(), nullable=True))


def downgrade():
    op.drop_column('libeo_payment', 'hold_details')
    op.drop_column('libeo_connection', 'account_verified')
    for statement in _drop_append_only_ddl('meg_journal_entry', op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_index('ix_meg_journal_entry_company', table_name='meg_journal_entry')
    op.drop_table('meg_journal_entry')


def _append_only_ddl(table_name, dialect):
    """As ``core.journal.append_only_ddl`` writes them at this revision."""
    message = f"{table_name} is append-only"
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table_name}_no_{verb.lower()} BEFORE {verb} ON {table_name} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            for verb in ("UPDATE", "DELETE")
        ]
    if dialect == "postgresql":
        return [
            f"CREATE OR REPLACE FUNCTION {table_name}_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$",
            f"CREATE TRIGGER {table_name}_append_only BEFORE UPDATE OR DELETE ON {table_name} "
            f"FOR EACH ROW EXECUTE FUNCTION {table_name}_refuse()",
        ]
    return []


def _drop_append_only_ddl(table_name, dialect):
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table_name}_no_update", f"DROP TRIGGER IF EXISTS {table_name}_no_delete"]
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {table_name}_append_only ON {table_name}",
                f"DROP FUNCTION IF EXISTS {table_name}_refuse()"]
    return []
