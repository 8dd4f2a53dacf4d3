"""The IBANs that only refused payments taught are forgotten

Revision ID: 0021_refused_ibans_forgotten
Revises: 0020_invoice_number_keys
Create Date: 2026-12-06 10:45:00

Data only. A payment held for another reason than its payee (its amount above the account's threshold, a
possible duplicate) used to teach its IBAN when it was created (``known_supplier_iban``, « premier
paiement »), and refusing it did not take the lesson back: an IBAN an administrator refused as « RIB
frauduleux » was then trusted. Now only a payment created without any hold, or approved, teaches its IBAN.

So a known IBAN recorded as « premier paiement » is forgotten when a payment to it was refused and no
payment of the account to it taught it under the rule of today: none created without a hold (hold reasons
SQL or JSON null), none approved (decided, without a refusal's reason). An IBAN the bank rejected is kept
(it refuses the next payment to it), and so is one approved by an administrator. One that a payment still
waiting taught is left to its decision: refusing it forgets the IBAN (``forget_refused_iban``).

Downgrade leaves the rows forgotten: they taught what nobody approved.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0021_refused_ibans_forgotten"
down_revision = "0020_invoice_number_keys"
branch_labels = None
depends_on = None


def upgrade():
    known = sa.table("known_supplier_iban", sa.column("account_id", sa.Integer), sa.column("iban", sa.String),
                     sa.column("recorded_by", sa.String), sa.column("rejected_reason", sa.String))
    payment = sa.table("payment", sa.column("id", sa.Integer), sa.column("account_id", sa.Integer),
                       sa.column("creditor_iban", sa.String), sa.column("hold_reasons", sa.Text),
                       sa.column("decided_by", sa.String), sa.column("cancel_reason", sa.String))
    to_it = sa.and_(payment.c.account_id == known.c.account_id, payment.c.creditor_iban == known.c.iban)
    refused = sa.select(payment.c.id).where(to_it, payment.c.cancel_reason.is_not(None)).exists()
    taught = sa.select(payment.c.id).where(to_it, sa.or_(
        sa.func.coalesce(sa.cast(payment.c.hold_reasons, sa.String), "null") == "null",
        sa.and_(payment.c.decided_by.is_not(None), payment.c.cancel_reason.is_(None)),
    )).exists()
    op.get_bind().execute(known.delete().where(known.c.recorded_by == "premier paiement",
                                               known.c.rejected_reason.is_(None), refused, ~taught))


def downgrade():
    pass
