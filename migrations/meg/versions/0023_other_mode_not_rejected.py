"""An invoice switched to another mode after its Libeo transfer was rejected is to settle that way

Revision ID: 0023_other_mode_not_rejected
Revises: 0022_invoice_settlement_state
Create Date: 2026-12-06 05:40:00

« Factures » filed it under « Rejetées » while its row and its page said « À régler »: its stored state
now says « a_regler » too (``libeo_link.attempts.COMPUTED_INVOICE_STATE``). Nothing to undo: the previous
revision's rule files it under « rejetees » again.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "0023_other_mode_not_rejected"
down_revision = "0022_invoice_settlement_state"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE supplier_invoice SET settlement_state = 'a_regler' "
               "WHERE settlement_state = 'rejetees' AND payment_mode <> 'LIBEO'")


def downgrade():
    latest = ("(SELECT status FROM libeo_payment WHERE libeo_payment.invoice_id = supplier_invoice.id "
              "ORDER BY attempt DESC LIMIT 1)")
    op.execute(f"UPDATE supplier_invoice SET settlement_state = 'rejetees' "
               f"WHERE settlement_state = 'a_regler' AND paid_at IS NULL AND {latest} = 'FAILED'")
