"""A second factor for MEG's users: a TOTP app and its recovery codes

Revision ID: 0018_second_factor
Revises: 0017_more_list_indexes
Create Date: 2026-12-04 22:15:00

Once enrolled, saving or deleting the company's Libeo key asks for a code.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018_second_factor'
down_revision = '0017_more_list_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('meg_recovery_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_meg_recovery_code_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meg_recovery_code'))
    )
    with op.batch_alter_table('meg_recovery_code', schema=None) as batch_op:
        batch_op.create_index('ix_meg_recovery_code_user', ['user_id', 'code_hash'], unique=False)

    op.create_table('meg_totp_factor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_step', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_meg_totp_factor_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meg_totp_factor')),
    sa.UniqueConstraint('user_id', name=op.f('uq_meg_totp_factor_user_id'))
    )


def downgrade():
    op.drop_table('meg_totp_factor')
    with op.batch_alter_table('meg_recovery_code', schema=None) as batch_op:
        batch_op.drop_index('ix_meg_recovery_code_user')

    op.drop_table('meg_recovery_code')
