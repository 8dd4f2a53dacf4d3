"""How the person proved who they were at consent: the code of their authentication app, when asked

Revision ID: 0024_consent_second_factor
Revises: 0023_other_mode_not_rejected
Create Date: 2026-12-06 12:00:00

- ``oauth_authorization_code.amr`` and ``oauth_token.amr`` (RFC 8176, space-separated): « pwd », or
  « pwd otp » when the consent screen asked the person's second factor and it was given. MEG keeps the Libeo
  key a client delivers (``PUT /api/v1/libeo-key``) from a person who enrolled an authentication app only with
  a token of the second kind. Codes and tokens given before say « pwd »: a token of an enrolled person
  then delivers no key (it lives an hour at most), as « Options » saves none without the code.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0024_consent_second_factor'
down_revision = '0023_other_mode_not_rejected'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('oauth_authorization_code', 'oauth_token'):
        op.add_column(table, sa.Column('amr', sa.String(length=40), server_default='pwd', nullable=False))


def downgrade():
    for table in ('oauth_token', 'oauth_authorization_code'):
        op.drop_column(table, 'amr')  # SQLite ≥ 3.35 drops a column in place
