"""Release 1 schema: the tables as release 1 created them (before migrations existed).

Revision ID: 0001_initial
Revises:
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001_initial'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('accounting_firm',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounting_firm'))
    )
    op.create_table('oauth_client',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('client_secret_hash', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('redirect_uris', sa.JSON(), nullable=False),
    sa.Column('scope', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_client')),
    sa.UniqueConstraint('client_id', name=op.f('uq_oauth_client_client_id'))
    )
    op.create_table('company',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('siret', sa.String(length=14), nullable=True),
    sa.Column('accounting_firm_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['accounting_firm_id'], ['accounting_firm.id'], name=op.f('fk_company_accounting_firm_id_accounting_firm')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company')),
    sa.UniqueConstraint('siret', name=op.f('uq_company_siret'))
    )
    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_company_accounting_firm_id'), ['accounting_firm_id'], unique=False)

    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('session_token', sa.String(length=64), nullable=False),
    sa.Column('accounting_firm_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['accounting_firm_id'], ['accounting_firm.id'], name=op.f('fk_user_account_accounting_firm_id_accounting_firm')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('email', name=op.f('uq_user_account_email'))
    )
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_account_accounting_firm_id'), ['accounting_firm_id'], unique=False)

    op.create_table('libeo_connection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('key_ciphertext', sa.Text(), nullable=False),
    sa.Column('key_prefix', sa.String(length=24), nullable=False),
    sa.Column('account_name', sa.String(length=200), nullable=False),
    sa.Column('connected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('connected_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_libeo_connection_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['connected_by_id'], ['user_account.id'], name=op.f('fk_libeo_connection_connected_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_libeo_connection')),
    sa.UniqueConstraint('company_id', name=op.f('uq_libeo_connection_company_id'))
    )
    op.create_table('module_role',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('module', sa.String(length=30), nullable=False),
    sa.Column('role', sa.Enum('ADMIN', 'USER', name='achatsrole', native_enum=False, length=20), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_module_role_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_module_role_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_module_role')),
    sa.UniqueConstraint('user_id', 'company_id', 'module', name=op.f('uq_module_role_user_id'))
    )
    with op.batch_alter_table('module_role', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_module_role_company_id'), ['company_id'], unique=False)

    op.create_table('oauth_authorization_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('redirect_uri', sa.Text(), nullable=False),
    sa.Column('scope', sa.String(length=200), nullable=False),
    sa.Column('nonce', sa.Text(), nullable=True),
    sa.Column('code_challenge', sa.String(length=128), nullable=False),
    sa.Column('code_challenge_method', sa.String(length=10), nullable=False),
    sa.Column('expires_at', sa.Integer(), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['oauth_client.id'], name=op.f('fk_oauth_authorization_code_client_id_oauth_client'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_oauth_authorization_code_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_oauth_authorization_code_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_authorization_code')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_oauth_authorization_code_code_hash'))
    )
    with op.batch_alter_table('oauth_authorization_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_authorization_code_client_id'), ['client_id'], unique=False)

    op.create_table('supplier',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('iban', sa.String(length=34), nullable=False),
    sa.Column('bic', sa.String(length=11), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_supplier_company_id_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supplier'))
    )
    with op.batch_alter_table('supplier', schema=None) as batch_op:
        batch_op.create_index('ix_supplier_company_name', ['company_id', 'name'], unique=False)

    op.create_table('oauth_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('access_token_hash', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('authorization_code_id', sa.Integer(), nullable=True),
    sa.Column('scope', sa.String(length=200), nullable=False),
    sa.Column('issued_at', sa.Integer(), nullable=False),
    sa.Column('expires_in', sa.Integer(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['authorization_code_id'], ['oauth_authorization_code.id'], name=op.f('fk_oauth_token_authorization_code_id_oauth_authorization_code'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['client_id'], ['oauth_client.id'], name=op.f('fk_oauth_token_client_id_oauth_client'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_oauth_token_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_oauth_token_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_token')),
    sa.UniqueConstraint('access_token_hash', name=op.f('uq_oauth_token_access_token_hash'))
    )
    with op.batch_alter_table('oauth_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_token_authorization_code_id'), ['authorization_code_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_oauth_token_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_oauth_token_user_id'), ['user_id'], unique=False)

    op.create_table('supplier_invoice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('supplier_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=60), nullable=False),
    sa.Column('issue_date', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('payment_mode', sa.Enum('VIREMENT', 'CHEQUE', 'PRELEVEMENT', 'CARTE', 'ESPECES', 'LIBEO', name='paymentmode', native_enum=False, length=30), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_cents > 0', name=op.f('ck_supplier_invoice_amount_positive')),
    sa.CheckConstraint('due_date >= issue_date', name=op.f('ck_supplier_invoice_due_after_issue')),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_supplier_invoice_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['supplier_id'], ['supplier.id'], name=op.f('fk_supplier_invoice_supplier_id_supplier')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supplier_invoice')),
    sa.UniqueConstraint('company_id', 'supplier_id', 'number', name='uq_invoice_number')
    )
    with op.batch_alter_table('supplier_invoice', schema=None) as batch_op:
        batch_op.create_index('ix_invoice_list', ['company_id', 'issue_date', 'id'], unique=False)
        batch_op.create_index('ix_invoice_settle', ['company_id', 'paid_at', 'due_date', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_supplier_invoice_supplier_id'), ['supplier_id'], unique=False)

    op.create_table('libeo_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_libeo_outbox_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invoice_id'], ['supplier_invoice.id'], name=op.f('fk_libeo_outbox_invoice_id_supplier_invoice'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_libeo_outbox'))
    )
    with op.batch_alter_table('libeo_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_libeo_outbox_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index('ix_libeo_outbox_pending', ['delivered_at', 'next_attempt_at', 'id'], unique=False)

    op.create_table('libeo_payment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('libeo_payment_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.Enum('REQUESTED', 'SCHEDULED', 'IN_PROGRESS', 'PAID', 'FAILED', 'CANCELLED', name='paymentstatus', native_enum=False, length=20), nullable=False),
    sa.Column('execution_date', sa.String(length=10), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['supplier_invoice.id'], name=op.f('fk_libeo_payment_invoice_id_supplier_invoice'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'], name=op.f('fk_libeo_payment_requested_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_libeo_payment')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_libeo_payment_idempotency_key')),
    sa.UniqueConstraint('invoice_id', 'attempt', name='uq_libeo_payment_attempt')
    )
    with op.batch_alter_table('libeo_payment', schema=None) as batch_op:
        batch_op.create_index('ix_libeo_payment_invoice_status', ['invoice_id', 'status'], unique=False)



def downgrade():
    with op.batch_alter_table('libeo_payment', schema=None) as batch_op:
        batch_op.drop_index('ix_libeo_payment_invoice_status')

    op.drop_table('libeo_payment')
    with op.batch_alter_table('libeo_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_libeo_outbox_pending')
        batch_op.drop_index(batch_op.f('ix_libeo_outbox_invoice_id'))

    op.drop_table('libeo_outbox')
    with op.batch_alter_table('supplier_invoice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supplier_invoice_supplier_id'))
        batch_op.drop_index('ix_invoice_settle')
        batch_op.drop_index('ix_invoice_list')

    op.drop_table('supplier_invoice')
    with op.batch_alter_table('oauth_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_token_user_id'))
        batch_op.drop_index(batch_op.f('ix_oauth_token_client_id'))
        batch_op.drop_index(batch_op.f('ix_oauth_token_authorization_code_id'))

    op.drop_table('oauth_token')
    with op.batch_alter_table('supplier', schema=None) as batch_op:
        batch_op.drop_index('ix_supplier_company_name')

    op.drop_table('supplier')
    with op.batch_alter_table('oauth_authorization_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_authorization_code_client_id'))

    op.drop_table('oauth_authorization_code')
    with op.batch_alter_table('module_role', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_module_role_company_id'))

    op.drop_table('module_role')
    op.drop_table('libeo_connection')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_account_accounting_firm_id'))

    op.drop_table('user_account')
    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_company_accounting_firm_id'))

    op.drop_table('company')
    op.drop_table('oauth_client')
    op.drop_table('accounting_firm')
