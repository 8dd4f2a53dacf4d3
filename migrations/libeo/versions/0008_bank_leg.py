"""The bank leg told truly: file_ready, transmitted, accepted; the bank's dates, reasons and statements

Revision ID: 0008_bank_leg
Revises: 0007_notifications
Create Date: 2026-12-04 10:00:00

- ``payment``: « in_progress » (a SEPA file written) becomes ``file_ready``;
  ``transmitted`` and ``accepted`` join the active states of the
  one-payment-per-invoice index. New columns: the date asked for when the
  file's differs (``planned_execution_date``), the bank's reason code and
  text (``failure_code``, ``bank_text``), ``transmitted_at``, the bank's
  intermediate status and its time (``bank_status``, ``accepted_at``), the
  debit day (``paid_on``, for paid payments the Paris day of ``paid_at``).
- ``sepa_batch``: the block's id, the IBAN debited (read from each stored
  file), and when and by whom the file was transmitted.
- ``bank_status_import``: any bank file (``kind``: pain.002, camt.053,
  camt.054), a statement having no batch; counts of accepted payments and
  anomalies; the bank's creation time.
- ``bank_anomaly``: what a bank file said that was not applied.
- ``debtor_iban_change``: changes of the account debited.
- ``known_supplier_iban.rejected_reason``: an IBAN rejected for a reason of
  its account.
"""
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_bank_leg'
down_revision = '0007_notifications'
branch_labels = None
depends_on = None

ACTIVE_BEFORE = sa.text("status IN ('awaiting_approval', 'scheduled', 'in_progress', 'paid')")
ACTIVE_AFTER = sa.text(
    "status IN ('awaiting_approval', 'scheduled', 'file_ready', 'transmitted', 'accepted', 'paid')"
)
OPEN = sa.text("resolved_at IS NULL")
PENDING = sa.text("status = 'pending'")
PARIS = ZoneInfo("Europe/Paris")


def upgrade():
    op.add_column('payment', sa.Column('planned_execution_date', sa.Date(), nullable=True))
    op.add_column('payment', sa.Column('failure_code', sa.String(length=35), nullable=True))
    op.add_column('payment', sa.Column('bank_text', sa.String(length=500), nullable=True))
    op.add_column('payment', sa.Column('transmitted_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('payment', sa.Column('bank_status', sa.String(length=4), nullable=True))
    op.add_column('payment', sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('payment', sa.Column('paid_on', sa.Date(), nullable=True))
    op.drop_index('uq_payment_active_invoice', table_name='payment',
                  sqlite_where=ACTIVE_BEFORE, postgresql_where=ACTIVE_BEFORE)
    op.execute("UPDATE payment SET status = 'file_ready' WHERE status = 'in_progress'")
    op.create_index('uq_payment_active_invoice', 'payment', ['invoice_id'], unique=True,
                    sqlite_where=ACTIVE_AFTER, postgresql_where=ACTIVE_AFTER)

    op.add_column('sepa_batch', sa.Column('payment_info_id', sa.String(length=35), nullable=True))
    op.add_column('sepa_batch', sa.Column('debtor_iban', sa.String(length=34), nullable=True))
    op.add_column('sepa_batch', sa.Column('transmitted_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('sepa_batch', sa.Column('transmitted_by', sa.String(length=254), nullable=True))

    op.add_column('known_supplier_iban', sa.Column('rejected_reason', sa.String(length=300), nullable=True))

    # Nothing points at these rows yet: the table may be copied (SQLite) to make ``batch_id`` optional.
    with op.batch_alter_table('bank_status_import', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), server_default='pain.002', nullable=False))
        batch_op.add_column(sa.Column('bank_created_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('accepted_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('anomaly_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.alter_column('batch_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_unique_constraint('uq_bank_status_import_kind', ['account_id', 'kind', 'message_id'])

    op.create_table('bank_anomaly',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('import_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('message', sa.String(length=1000), nullable=False),
    sa.Column('reported_status', sa.String(length=20), nullable=True),
    sa.Column('reported_on', sa.Date(), nullable=True),
    sa.Column('reported_code', sa.String(length=35), nullable=True),
    sa.Column('reported_text', sa.String(length=500), nullable=True),
    sa.Column('reported_reason', sa.String(length=300), nullable=True),
    sa.Column('amount_cents', sa.BigInteger(), nullable=True),
    sa.Column('candidate_ids', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=254), nullable=True),
    sa.Column('resolution', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_bank_anomaly_account_id_account'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['import_id'], ['bank_status_import.id'],
                            name=op.f('fk_bank_anomaly_import_id_bank_status_import'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], name=op.f('fk_bank_anomaly_payment_id_payment'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_anomaly'))
    )
    op.create_index('ix_bank_anomaly_open', 'bank_anomaly', ['account_id', 'created_at'], unique=False,
                    sqlite_where=OPEN, postgresql_where=OPEN)
    op.create_index(op.f('ix_bank_anomaly_payment_id'), 'bank_anomaly', ['payment_id'], unique=False)

    op.create_table('debtor_iban_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('old_iban', sa.String(length=34), nullable=True),
    sa.Column('new_iban', sa.String(length=34), nullable=False),
    sa.Column('new_bic', sa.String(length=11), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('requested_by', sa.String(length=254), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=254), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_debtor_iban_change_account_id_account'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_debtor_iban_change'))
    )
    op.create_index('ix_debtor_iban_change_account', 'debtor_iban_change', ['account_id', 'requested_at'],
                    unique=False)
    op.create_index('uq_debtor_iban_change_pending', 'debtor_iban_change', ['account_id'], unique=True,
                    sqlite_where=PENDING, postgresql_where=PENDING)

    bind = op.get_bind()
    _paid_days(bind)
    _batch_identities(bind)


def downgrade():
    bind = op.get_bind()
    later = bind.execute(sa.text(
        "SELECT count(*) FROM bank_status_import WHERE kind <> 'pain.002' OR batch_id IS NULL")).scalar()
    if later:
        raise RuntimeError(
            f"{later} relevé(s) de compte (camt.053/054) ont été importés, ce que la révision précédente ne sait pas "
            "garder : revenir en arrière les perdrait."
        )
    op.drop_index('uq_debtor_iban_change_pending', table_name='debtor_iban_change',
                  sqlite_where=PENDING, postgresql_where=PENDING)
    op.drop_index('ix_debtor_iban_change_account', table_name='debtor_iban_change')
    op.drop_table('debtor_iban_change')
    op.drop_index(op.f('ix_bank_anomaly_payment_id'), table_name='bank_anomaly')
    op.drop_index('ix_bank_anomaly_open', table_name='bank_anomaly', sqlite_where=OPEN, postgresql_where=OPEN)
    op.drop_table('bank_anomaly')
    with op.batch_alter_table('bank_status_import', schema=None) as batch_op:
        batch_op.drop_constraint('uq_bank_status_import_kind', type_='unique')
        batch_op.alter_column('batch_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('anomaly_count')
        batch_op.drop_column('accepted_count')
        batch_op.drop_column('bank_created_at')
        batch_op.drop_column('kind')
    op.drop_column('known_supplier_iban', 'rejected_reason')
    op.drop_column('sepa_batch', 'transmitted_by')
    op.drop_column('sepa_batch', 'transmitted_at')
    op.drop_column('sepa_batch', 'debtor_iban')
    op.drop_column('sepa_batch', 'payment_info_id')
    op.drop_index('uq_payment_active_invoice', table_name='payment',
                  sqlite_where=ACTIVE_AFTER, postgresql_where=ACTIVE_AFTER)
    # The three states of the bank leg were one before: « handed to the bank ».
    op.execute("UPDATE payment SET status = 'in_progress' WHERE status IN ('file_ready', 'transmitted', 'accepted')")
    op.create_index('uq_payment_active_invoice', 'payment', ['invoice_id'], unique=True,
                    sqlite_where=ACTIVE_BEFORE, postgresql_where=ACTIVE_BEFORE)
    for column in ('paid_on', 'accepted_at', 'bank_status', 'transmitted_at', 'bank_text', 'failure_code',
                   'planned_execution_date'):
        op.drop_column('payment', column)


def _paid_days(bind):
    """A paid payment's debit day: the Paris day its confirmation was recorded (the best known)."""
    rows = bind.execute(sa.text("SELECT id, paid_at FROM payment WHERE status = 'paid' AND paid_at IS NOT NULL"))
    for payment_id, paid_at in rows.fetchall():
        if isinstance(paid_at, str):
            paid_at = datetime.fromisoformat(paid_at)
        if paid_at.tzinfo is None:
            paid_at = paid_at.replace(tzinfo=UTC)
        bind.execute(sa.text("UPDATE payment SET paid_on = :day WHERE id = :id"),
                     {"day": paid_at.astimezone(PARIS).date(), "id": payment_id})


_IBAN = re.compile(rb"<DbtrAcct>\s*<Id>\s*<IBAN>([A-Z0-9]+)</IBAN>")
_BLOCK = re.compile(rb"<PmtInfId>([^<]+)</PmtInfId>")


def _batch_identities(bind):
    """Each stored file's debited IBAN and block id, as the file says them."""
    rows = bind.execute(sa.text("SELECT id, xml FROM sepa_batch WHERE xml IS NOT NULL"))
    for batch_id, xml in rows.fetchall():
        content = bytes(xml)
        iban, block = _IBAN.search(content), _BLOCK.search(content)
        bind.execute(sa.text("UPDATE sepa_batch SET debtor_iban = :iban, payment_info_id = :block WHERE id = :id"),
                     {"iban": iban.group(1).decode() if iban else None,
                      "block": block.group(1).decode()[:35] if block else None, "id": batch_id})
