"""Strong authentication: TOTP apps, passkeys, recovery codes, verifications bound to an operation

Revision ID: 0014_strong_auth
Revises: 0013_more_list_indexes
Create Date: 2026-12-04 22:15:00

- ``totp_factor``, ``passkey``, ``recovery_code``: each user's second factors (the TOTP secret sealed,
  the recovery codes hashed);
- ``strong_auth_challenge``: a verification asked for one operation, bound to a digest of it (for an
  approval, each payment's amount and payee IBAN), single use, valid five minutes;
- ``account.require_strong_auth``: « Exiger la double authentification pour tous ».
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_strong_auth'
down_revision = '0013_more_list_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('passkey',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('credential_id', sa.String(length=1400), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('sign_count', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['libeo_user.id'], name=op.f('fk_passkey_user_id_libeo_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_passkey')),
    sa.UniqueConstraint('credential_id', name=op.f('uq_passkey_credential_id'))
    )
    with op.batch_alter_table('passkey', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_passkey_user_id'), ['user_id'], unique=False)

    op.create_table('recovery_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['libeo_user.id'], name=op.f('fk_recovery_code_user_id_libeo_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_code'))
    )
    with op.batch_alter_table('recovery_code', schema=None) as batch_op:
        batch_op.create_index('ix_recovery_code_user', ['user_id', 'code_hash'], unique=False)

    op.create_table('strong_auth_challenge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('binding', sa.String(length=64), nullable=False),
    sa.Column('webauthn_challenge', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('method', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['libeo_user.id'], name=op.f('fk_strong_auth_challenge_user_id_libeo_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_strong_auth_challenge')),
    sa.UniqueConstraint('token', name=op.f('uq_strong_auth_challenge_token'))
    )
    with op.batch_alter_table('strong_auth_challenge', schema=None) as batch_op:
        batch_op.create_index('ix_strong_auth_challenge_user', ['user_id', 'created_at'], unique=False)

    op.create_table('totp_factor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_step', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['libeo_user.id'], name=op.f('fk_totp_factor_user_id_libeo_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_totp_factor')),
    sa.UniqueConstraint('user_id', name=op.f('uq_totp_factor_user_id'))
    )
    # A plain ADD COLUMN: a batch copy of « account » would cascade-delete its rows' children on SQLite.
    op.add_column('account', sa.Column('require_strong_auth', sa.Boolean(), server_default=sa.text('false'),
                                       nullable=False))



def downgrade():
    op.drop_column('account', 'require_strong_auth')

    op.drop_table('totp_factor')
    with op.batch_alter_table('strong_auth_challenge', schema=None) as batch_op:
        batch_op.drop_index('ix_strong_auth_challenge_user')

    op.drop_table('strong_auth_challenge')
    with op.batch_alter_table('recovery_code', schema=None) as batch_op:
        batch_op.drop_index('ix_recovery_code_user')

    op.drop_table('recovery_code')
    with op.batch_alter_table('passkey', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_passkey_user_id'))

    op.drop_table('passkey')
