"""Each invoice's state stored on it: « Factures »' tabs, their counts and « Cette semaine » read an index

Revision ID: 0022_invoice_settlement_state
Revises: 0021_ascii_fold
Create Date: 2026-12-05 16:00:00

- ``supplier_invoice.settlement_state``: « a_regler », « programmees », « payees » or « rejetees », as
  « Factures » shows it (settled in MEG, else its latest Libeo payment's status). The application keeps it
  in the transaction that writes either (``libeo_link.attempts.refresh_invoice_states``); this revision
  fills it for the invoices there are.
- Indexes by company and state, then due date (the tabs sorted by due date, « Cette semaine », the filter's
  selection: with the mode and the amount, so that those two read no row) or issue date (the tabs in their
  default order).
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "0022_invoice_settlement_state"
down_revision = "0021_ascii_fold"
branch_labels = None
depends_on = None

# The payment statuses as stored at this revision (names), and the state each gives its invoice; any
# other (« REFUSED », « CANCELLED ») leaves it to settle.
STATES = {
    "PAID": "payees", "FAILED": "rejetees",
    **dict.fromkeys(("REQUESTED", "AWAITING_APPROVAL", "SCHEDULED", "FILE_READY", "IN_PROGRESS", "TRANSMITTED",
                     "ACCEPTED", "UNKNOWN", "UNVERIFIABLE"), "programmees"),
}
INDEXES = (
    ("ix_invoice_company_state_due", ["company_id", "settlement_state", "due_date", "id", "payment_mode", "amount_cents"]),
    ("ix_invoice_company_state_issue", ["company_id", "settlement_state", "issue_date", "id"]),
)


def upgrade():
    op.add_column("supplier_invoice", sa.Column("settlement_state", sa.String(length=12), nullable=False,
                                                server_default="a_regler"))
    whens = " ".join(f"WHEN '{status}' THEN '{state}'" for status, state in STATES.items())
    latest = ("(SELECT status FROM libeo_payment WHERE libeo_payment.invoice_id = supplier_invoice.id "
              "ORDER BY attempt DESC LIMIT 1)")
    op.execute(f"UPDATE supplier_invoice SET settlement_state = CASE WHEN paid_at IS NOT NULL THEN 'payees' "
               f"ELSE CASE {latest} {whens} ELSE 'a_regler' END END "
               "WHERE paid_at IS NOT NULL OR EXISTS "
               "(SELECT 1 FROM libeo_payment WHERE libeo_payment.invoice_id = supplier_invoice.id)")
    for name, columns in INDEXES:
        op.create_index(name, "supplier_invoice", columns)


def downgrade():
    for name, _columns in reversed(INDEXES):
        op.drop_index(name, table_name="supplier_invoice")
    with op.batch_alter_table("supplier_invoice") as batch:
        batch.drop_column("settlement_state")
