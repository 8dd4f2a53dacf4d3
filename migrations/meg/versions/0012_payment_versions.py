"""Libeo's version of each payment state MEG records, and why an outcome is still unknown

Revision ID: 0012_payment_versions
Revises: 0011_libeo_quota
Create Date: 2026-12-04 18:30:00

- ``libeo_payment.libeo_version``: the version of Libeo's account MEG
  recorded (Libeo's answers, replays and events carry it); MEG writes a state
  only when it is newer.
- ``libeo_payment.pending_reason``: why an attempt « Vérification en cours »
  could not be settled yet (the key refused, Libeo busy…) and what to do.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0012_payment_versions"
down_revision = "0011_libeo_quota"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('libeo_payment') as batch:
        batch.add_column(sa.Column('libeo_version', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('pending_reason', sa.String(length=300), nullable=True))


def downgrade():
    with op.batch_alter_table('libeo_payment') as batch:
        batch.drop_column('pending_reason')
        batch.drop_column('libeo_version')
