"""The bank leg as Libeo tells it: file ready, transmitted, accepted, debited on the bank's date

Revision ID: 0008_bank_leg_states
Revises: 0007_notifications
Create Date: 2026-12-04 10:00:00

``libeo_payment`` (MEG's record of each payment Libeo makes) keeps what
Libeo's feed now says of the bank leg: when the file was transmitted, the
bank's intermediate status and when, the debit day, the rejection's code and
whether the supplier's new IBAN is needed, and Libeo's own words for a state
MEG does not know. « IN_PROGRESS » (a SEPA file written) is now FILE_READY.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_bank_leg_states'
down_revision = '0007_notifications'
branch_labels = None
depends_on = None

COLUMNS = ('transmitted_at', 'accepted_at', 'bank_status', 'paid_on', 'failure_code', 'new_iban_required',
           'libeo_label')


def upgrade():
    op.add_column('libeo_payment', sa.Column('transmitted_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('libeo_payment', sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('libeo_payment', sa.Column('bank_status', sa.String(length=4), nullable=True))
    op.add_column('libeo_payment', sa.Column('paid_on', sa.Date(), nullable=True))
    op.add_column('libeo_payment', sa.Column('failure_code', sa.String(length=35), nullable=True))
    op.add_column('libeo_payment', sa.Column('new_iban_required', sa.Boolean(), server_default=sa.false(),
                                             nullable=False))
    op.add_column('libeo_payment', sa.Column('libeo_label', sa.String(length=300), nullable=True))
    op.execute("UPDATE libeo_payment SET status = 'FILE_READY' WHERE status = 'IN_PROGRESS'")


def downgrade():
    op.execute("UPDATE libeo_payment SET status = 'IN_PROGRESS' "
               "WHERE status IN ('FILE_READY', 'TRANSMITTED', 'ACCEPTED')")
    op.execute("UPDATE libeo_payment SET status = 'SCHEDULED' WHERE status = 'UNKNOWN'")
    for column in reversed(COLUMNS):
        op.drop_column('libeo_payment', column)
