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
    op.create_table('account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('siret', sa.String(length=14), nullable=False),
    sa.Column('plan', sa.Enum('Gratuit', 'Partnerships', name='plan', native_enum=False, length=20), nullable=False),
    sa.Column('accountant_email', sa.String(length=254), nullable=True),
    sa.Column('debtor_iban', sa.String(length=34), nullable=True),
    sa.Column('debtor_bic', sa.String(length=11), nullable=True),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_subscription_id', sa.String(length=255), nullable=True),
    sa.Column('subscription_status', sa.String(length=40), nullable=True),
    sa.Column('current_period_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_at_period_end', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account')),
    sa.UniqueConstraint('siret', name=op.f('uq_account_siret')),
    sa.UniqueConstraint('stripe_customer_id', name=op.f('uq_account_stripe_customer_id'))
    )
    op.create_table('stripe_event',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('created', sa.BigInteger(), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_event'))
    )
    op.create_table('api_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('integration', sa.String(length=20), nullable=False),
    sa.Column('public_id', sa.String(length=16), nullable=False),
    sa.Column('prefix', sa.String(length=32), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_api_key_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_key')),
    sa.UniqueConstraint('public_id', name=op.f('uq_api_key_public_id'))
    )
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_key_account_id'), ['account_id'], unique=False)
        batch_op.create_index('uq_api_key_active', ['account_id', 'integration'], unique=True, sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))

    op.create_table('idempotency_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_idempotency_record_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_record')),
    sa.UniqueConstraint('account_id', 'key', name='uq_idempotency_key')
    )
    op.create_table('invoice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.Enum('MEG', 'Libeo', name='invoicesource', native_enum=False, length=10), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('number', sa.String(length=60), nullable=False),
    sa.Column('supplier_name', sa.String(length=200), nullable=False),
    sa.Column('supplier_iban', sa.String(length=34), nullable=False),
    sa.Column('supplier_bic', sa.String(length=11), nullable=True),
    sa.Column('issue_date', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.Enum('to_pay', 'payment_scheduled', 'paid', 'payment_failed', name='invoicestatus', native_enum=False, length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_cents > 0', name=op.f('ck_invoice_amount_positive')),
    sa.CheckConstraint('due_date >= issue_date', name=op.f('ck_invoice_due_after_issue')),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_invoice_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice')),
    sa.UniqueConstraint('account_id', 'external_id', name='uq_invoice_external')
    )
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.create_index('ix_invoice_list', ['account_id', 'issue_date', 'id'], unique=False)

    op.create_table('libeo_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('session_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_libeo_user_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_libeo_user')),
    sa.UniqueConstraint('email', name=op.f('uq_libeo_user_email'))
    )
    with op.batch_alter_table('libeo_user', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_libeo_user_account_id'), ['account_id'], unique=False)

    op.create_table('payment_usage',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('payment_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_payment_usage_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'month', name=op.f('pk_payment_usage'))
    )
    op.create_table('sepa_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=35), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('execution_date', sa.Date(), nullable=False),
    sa.Column('payment_count', sa.Integer(), nullable=False),
    sa.Column('total_cents', sa.BigInteger(), nullable=False),
    sa.Column('message_id', sa.String(length=35), nullable=True),
    sa.Column('file_name', sa.String(length=255), nullable=True),
    sa.Column('file_sha256', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_sepa_batch_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sepa_batch')),
    sa.UniqueConstraint('reference', name=op.f('uq_sepa_batch_reference'))
    )
    with op.batch_alter_table('sepa_batch', schema=None) as batch_op:
        batch_op.create_index('ix_sepa_batch_account', ['account_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sepa_batch_status'), ['status'], unique=False)

    op.create_table('stripe_subscription',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('state_at', sa.BigInteger(), nullable=False),
    sa.Column('ended', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_stripe_subscription_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_subscription'))
    )
    with op.batch_alter_table('stripe_subscription', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stripe_subscription_account_id'), ['account_id'], unique=False)

    op.create_table('meg_identity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=255), nullable=False),
    sa.Column('company_ref', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_meg_identity_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['libeo_user.id'], name=op.f('fk_meg_identity_user_id_libeo_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meg_identity')),
    sa.UniqueConstraint('account_id', name=op.f('uq_meg_identity_account_id')),
    sa.UniqueConstraint('issuer', 'company_ref', name='uq_meg_identity_company')
    )
    with op.batch_alter_table('meg_identity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meg_identity_user_id'), ['user_id'], unique=False)

    op.create_table('payment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('scheduled', 'in_progress', 'paid', 'failed', 'cancelled', name='paymentstatus', native_enum=False, length=20), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('execution_date', sa.Date(), nullable=False),
    sa.Column('creditor_name', sa.String(length=200), nullable=False),
    sa.Column('creditor_iban', sa.String(length=34), nullable=False),
    sa.Column('creditor_bic', sa.String(length=11), nullable=True),
    sa.Column('initiated_by_email', sa.String(length=254), nullable=False),
    sa.Column('initiated_by_role', sa.Enum('user', 'accountant', name='initiatorrole', native_enum=False, length=20), nullable=False),
    sa.Column('channel', sa.Enum('MEG', 'Libeo', name='channel', native_enum=False, length=10), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('failure_reason', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('amount_cents > 0', name=op.f('ck_payment_amount_positive')),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_payment_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['batch_id'], ['sepa_batch.id'], name=op.f('fk_payment_batch_id_sepa_batch')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], name=op.f('fk_payment_invoice_id_invoice'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment'))
    )
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index('ix_payment_due', ['status', 'execution_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index('ix_payment_list', ['account_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('uq_payment_active_invoice', ['invoice_id'], unique=True, sqlite_where=sa.text("status IN ('scheduled', 'in_progress', 'paid')"), postgresql_where=sa.text("status IN ('scheduled', 'in_progress', 'paid')"))



def downgrade():
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_index('uq_payment_active_invoice', sqlite_where=sa.text("status IN ('scheduled', 'in_progress', 'paid')"), postgresql_where=sa.text("status IN ('scheduled', 'in_progress', 'paid')"))
        batch_op.drop_index('ix_payment_list')
        batch_op.drop_index(batch_op.f('ix_payment_invoice_id'))
        batch_op.drop_index('ix_payment_due')
        batch_op.drop_index(batch_op.f('ix_payment_batch_id'))

    op.drop_table('payment')
    with op.batch_alter_table('meg_identity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meg_identity_user_id'))

    op.drop_table('meg_identity')
    with op.batch_alter_table('stripe_subscription', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stripe_subscription_account_id'))

    op.drop_table('stripe_subscription')
    with op.batch_alter_table('sepa_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sepa_batch_status'))
        batch_op.drop_index('ix_sepa_batch_account')

    op.drop_table('sepa_batch')
    op.drop_table('payment_usage')
    with op.batch_alter_table('libeo_user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_libeo_user_account_id'))

    op.drop_table('libeo_user')
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.drop_index('ix_invoice_list')

    op.drop_table('invoice')
    op.drop_table('idempotency_record')
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_index('uq_api_key_active', sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_api_key_account_id'))

    op.drop_table('api_key')
    op.drop_table('stripe_event')
    op.drop_table('account')
