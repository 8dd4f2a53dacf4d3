"""E-invoices: the PDF of an invoice, as MEG sends it (PUT /invoices/{external_id}/document).

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
    op.create_table('invoice_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_invoice_document_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], name=op.f('fk_invoice_document_invoice_id_invoice'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_document')),
    sa.UniqueConstraint('invoice_id', name=op.f('uq_invoice_document_invoice_id'))
    )
    with op.batch_alter_table('invoice_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_document_account_id'), ['account_id'], unique=False)



def downgrade():
    with op.batch_alter_table('invoice_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_document_account_id'))

    op.drop_table('invoice_document')
