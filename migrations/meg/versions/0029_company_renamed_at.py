"""When a company was renamed by someone other than its expert-comptable

Revision ID: 0029_company_renamed_at
Revises: 0028_libeo_decided_by
Create Date: 2026-12-07 12:05:00

``company.renamed_at``: the registry (INSEE SIRENE) confirms a SIRET only by the name the company was opened
with in MEG, or one its expert-comptable gave it, never by a name its « Achats » administrator typed. Empty at
upgrade: the names MEG holds are the ones it was given.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0029_company_renamed_at'
down_revision = '0028_libeo_decided_by'
branch_labels = None
depends_on = None


# Plain ALTER TABLE (SQLite 3.35+ drops a column in place): a batch's copy of ``company``, which every company's
# rows refer to, would cascade their deletion on SQLite, whose foreign keys are on.


def upgrade():
    op.add_column('company', sa.Column('renamed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column('company', 'renamed_at')
