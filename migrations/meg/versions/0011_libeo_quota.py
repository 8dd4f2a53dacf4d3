"""The Libeo plan's monthly quota as MEG last heard it, and why a payment was refused

Revision ID: 0011_libeo_quota
Revises: 0010_list_indexes
Create Date: 2026-12-04 18:30:00

``libeo_connection`` keeps the account's plan and how many of its monthly
payments are used (Libeo's ``GET /me``, and the account described with each
page of the events feed), so that « Payer » says the quota before the click.
``libeo_payment.refusal_code`` keeps Libeo's error code of a refusal
(``quota_exceeded``: « Non payée — limite de la formule atteinte »).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0011_libeo_quota"
down_revision = "0010_list_indexes"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('libeo_connection') as batch:
        batch.add_column(sa.Column('plan_label', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('payments_used', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('payment_limit', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('quota_month', sa.Date(), nullable=True))
    with op.batch_alter_table('libeo_payment') as batch:
        batch.add_column(sa.Column('refusal_code', sa.String(length=40), nullable=True))


def downgrade():
    with op.batch_alter_table('libeo_payment') as batch:
        batch.drop_column('refusal_code')
    with op.batch_alter_table('libeo_connection') as batch:
        batch.drop_column('quota_month')
        batch.drop_column('payment_limit')
        batch.drop_column('payments_used')
        batch.drop_column('plan_label')
