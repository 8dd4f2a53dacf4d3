"""A SIRET MEG can vouch for: who or what confirmed it

Revision ID: 0013_siret_trust
Revises: 0012_payment_versions
Create Date: 2026-12-04 18:50:00

``company.siret_trusted_by`` / ``siret_trusted_at``: the company's
expert-comptable or the company registry that confirmed the SIRET. Existing
SIRETs start unconfirmed (anyone administering « Achats » could type one):
MEG vouches for them in Libeo again once the expert-comptable confirms them
in the « Fiche de l'entreprise », or saving the fiche finds them in the
registry. Connections already made stay as they are.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013_siret_trust"
down_revision = "0012_payment_versions"
branch_labels = None
depends_on = None


def upgrade():
    # In place, without batch: SQLite's batch copy drops the table, which most others reference.
    op.add_column('company', sa.Column('siret_trusted_by', sa.String(length=300), nullable=True))
    op.add_column('company', sa.Column('siret_trusted_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column('company', 'siret_trusted_at')  # SQLite ≥ 3.35 drops a column in place
    op.drop_column('company', 'siret_trusted_by')
