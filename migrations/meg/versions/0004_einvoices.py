"""E-invoices: supplier SIRET, invoice files, pending imports, outbox message kinds.

Suppliers gain a SIRET (unique within a company, NULL for those already
there); invoices may carry the file they were imported from; a file being
imported waits in ``einvoice_import``; outbox messages gain a kind
(« invoice » for every message already queued, « document » for files).
Downgrading forgets the files and the waiting « document » messages (release
2 would send them as invoice updates).

Revision ID: 0004_einvoices
Revises: 0003_connection_health
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_einvoices'
down_revision = '0003_connection_health'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('einvoice_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_einvoice_import_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_einvoice_import_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_einvoice_import'))
    )
    with op.batch_alter_table('einvoice_import', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_einvoice_import_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index('ix_einvoice_import_owner', ['company_id', 'user_id', 'created_at'], unique=False)

    op.create_table('invoice_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('format', sa.String(length=20), nullable=True),
    sa.Column('profile', sa.String(length=20), nullable=True),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['supplier_invoice.id'], name=op.f('fk_invoice_document_invoice_id_supplier_invoice'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_document')),
    sa.UniqueConstraint('invoice_id', name=op.f('uq_invoice_document_invoice_id'))
    )
    with op.batch_alter_table('libeo_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), server_default='invoice', nullable=False))

    # In place, without batch: SQLite's batch copy drops the table, which supplier_invoice references.
    op.add_column('supplier', sa.Column('siret', sa.String(length=14), nullable=True))
    op.create_index('uq_supplier_siret', 'supplier', ['company_id', 'siret'], unique=True)


def downgrade():
    op.execute("DELETE FROM libeo_outbox WHERE kind <> 'invoice'")
    op.drop_index('uq_supplier_siret', table_name='supplier')
    op.drop_column('supplier', 'siret')  # SQLite ≥ 3.35 drops a column in place

    with op.batch_alter_table('libeo_outbox', schema=None) as batch_op:
        batch_op.drop_column('kind')

    op.drop_table('invoice_document')
    with op.batch_alter_table('einvoice_import', schema=None) as batch_op:
        batch_op.drop_index('ix_einvoice_import_owner')
        batch_op.drop_index(batch_op.f('ix_einvoice_import_expires_at'))

    op.drop_table('einvoice_import')
