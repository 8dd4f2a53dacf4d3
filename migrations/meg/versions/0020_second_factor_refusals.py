"""The codes MEG refused: its limit on guessing a second factor

Revision ID: 0020_second_factor_refusals
Revises: 0019_request_account
Create Date: 2026-12-05 00:00:00

After 20 refused codes in 15 minutes, MEG refuses every code for a while, as Libeo does.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0020_second_factor_refusals'
down_revision = '0019_request_account'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('meg_second_factor_refusal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('refused_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'],
                            name=op.f('fk_meg_second_factor_refusal_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meg_second_factor_refusal'))
    )
    with op.batch_alter_table('meg_second_factor_refusal', schema=None) as batch_op:
        batch_op.create_index('ix_meg_second_factor_refusal_user', ['user_id', 'refused_at'], unique=False)


def downgrade():
    with op.batch_alter_table('meg_second_factor_refusal', schema=None) as batch_op:
        batch_op.drop_index('ix_meg_second_factor_refusal_user')

    op.drop_table('meg_second_factor_refusal')
