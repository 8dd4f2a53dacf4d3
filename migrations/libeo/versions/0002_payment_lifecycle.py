"""Payment lifecycle, bank status reports, events feed

Revision ID: 0002_payment_lifecycle
Revises: 0001_initial
Create Date: 2026-11-30 09:14:52.458216

Schema: the account's event counter (``account.last_event_seq``), the events
feed (``payment_event``), bank status reports applied (``bank_status_import``),
the SEPA file kept with its batch (``sepa_batch.xml``, MsgId unique), who
marked a transfer debited (``payment.marked_paid_by``), and when an invoice
entered Libeo's lists (``invoice.imported_at``).

Data: invoices entered in Libeo are listed from their creation, those MEG
sent from their first payment (MEG invoices never paid stay out of the
lists); payments keep their status (a release-1 payment « paid » by its SEPA
file stays paid); and every existing payment gets one event with its current
state, so that MEG's first reading of the feed learns them all. The payment
JSON and its French label are written here as they are at this revision (a
migration does not import the application's code, which will change).
"""
import json
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002_payment_lifecycle'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('bank_status_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=35), nullable=False),
    sa.Column('imported_by', sa.String(length=254), nullable=False),
    sa.Column('paid_count', sa.Integer(), nullable=False),
    sa.Column('failed_count', sa.Integer(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_bank_status_import_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['batch_id'], ['sepa_batch.id'], name=op.f('fk_bank_status_import_batch_id_sepa_batch'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_status_import')),
    sa.UniqueConstraint('batch_id', 'message_id', name='uq_bank_status_import_report')
    )
    with op.batch_alter_table('bank_status_import', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bank_status_import_account_id'), ['account_id'], unique=False)

    op.create_table('payment_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_payment_event_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], name=op.f('fk_payment_event_payment_id_payment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_event')),
    sa.UniqueConstraint('account_id', 'seq', name='uq_payment_event_seq')
    )
    with op.batch_alter_table('payment_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_event_payment_id'), ['payment_id'], unique=False)

    # Columns added and dropped in place, never by copying the table (SQLite's
    # batch mode): rows of other tables point at these, and a copy would break them.
    op.add_column('account', sa.Column('last_event_seq', sa.BigInteger(), server_default='0', nullable=False))
    op.add_column('invoice', sa.Column('imported_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('payment', sa.Column('marked_paid_by', sa.String(length=254), nullable=True))
    op.add_column('sepa_batch', sa.Column('xml', sa.LargeBinary(), nullable=True))
    op.create_index(op.f('ix_sepa_batch_message_id'), 'sepa_batch', ['message_id'], unique=True)

    bind = op.get_bind()
    _list_invoices(bind)
    _first_events(bind)


_account = sa.table("account", sa.column("id", sa.Integer), sa.column("last_event_seq", sa.BigInteger))
_invoice = sa.table(
    "invoice",
    sa.column("id", sa.Integer),
    sa.column("source", sa.String),
    sa.column("external_id", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("imported_at", sa.DateTime(timezone=True)),
)
_payment = sa.table(
    "payment",
    sa.column("id", sa.Integer),
    sa.column("account_id", sa.Integer),
    sa.column("invoice_id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("amount_cents", sa.BigInteger),
    sa.column("currency", sa.String),
    sa.column("execution_date", sa.Date),
    sa.column("paid_at", sa.DateTime(timezone=True)),
    sa.column("failure_reason", sa.String),
    sa.column("cancelled_at", sa.DateTime(timezone=True)),
    sa.column("initiated_by_email", sa.String),
    sa.column("initiated_by_role", sa.String),
    sa.column("channel", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_event = sa.table(
    "payment_event",
    sa.column("account_id", sa.Integer),
    sa.column("seq", sa.BigInteger),
    sa.column("type", sa.String),
    sa.column("payment_id", sa.Integer),
    sa.column("data", sa.Text),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_PARIS = ZoneInfo("Europe/Paris")


def _list_invoices(bind) -> None:
    bind.execute(_invoice.update().where(_invoice.c.source == "Libeo").values(imported_at=_invoice.c.created_at))
    first_payment = (
        sa.select(sa.func.min(_payment.c.created_at)).where(_payment.c.invoice_id == _invoice.c.id).scalar_subquery()
    )
    bind.execute(
        _invoice.update()
        .where(_invoice.c.source == "MEG", sa.exists().where(_payment.c.invoice_id == _invoice.c.id))
        .values(imported_at=first_payment)
    )


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _label(row) -> str:
    if row.status == "scheduled":
        return f"Programmé le {row.execution_date:%d/%m/%Y}"
    if row.status == "in_progress":
        return "Remis à la banque"
    if row.status == "paid":
        return f"Payé le {_utc(row.paid_at).astimezone(_PARIS):%d/%m/%Y}" if row.paid_at else "Payé"
    if row.status == "failed":
        reason = (row.failure_reason or "").strip()
        if not reason:
            return "Rejeté par la banque"
        return reason if reason.startswith("Rejeté") else f"Rejeté : {reason}"
    return "Annulé"


def _payment_json(row) -> dict:
    iso = lambda value: _utc(value).isoformat() if value else None  # noqa: E731
    return {
        "id": row.id,
        "status": row.status,
        "status_label": _label(row),
        "hold_reasons": [],
        "amount_cents": row.amount_cents,
        "currency": row.currency,
        "execution_date": row.execution_date.isoformat() if isinstance(row.execution_date, date) else None,
        "paid_at": iso(row.paid_at),
        "failure_reason": row.failure_reason,
        "cancelled_at": iso(row.cancelled_at),
        "cancel_reason": None,
        "invoice_external_id": row.external_id,
        "initiated_by": {"email": row.initiated_by_email, "role": row.initiated_by_role},
        "channel": row.channel,
        "created_at": iso(row.created_at),
    }


def _first_events(bind) -> None:
    rows = bind.execute(
        sa.select(_payment, _invoice.c.external_id)
        .join_from(_payment, _invoice, _payment.c.invoice_id == _invoice.c.id)
        .order_by(_payment.c.account_id, _payment.c.id)
    ).all()
    now = datetime.now(timezone.utc)
    last: dict[int, int] = {}
    events = []
    for row in rows:
        seq = last[row.account_id] = last.get(row.account_id, 0) + 1
        data = json.dumps(_payment_json(row), ensure_ascii=False, separators=(",", ":"))
        events.append({"account_id": row.account_id, "seq": seq, "type": "payment.updated", "payment_id": row.id,
                       "data": data, "created_at": now})
    if events:
        bind.execute(_event.insert(), events)
    for account_id, seq in last.items():
        bind.execute(_account.update().where(_account.c.id == account_id).values(last_event_seq=seq))


def downgrade():
    op.drop_index(op.f('ix_sepa_batch_message_id'), table_name='sepa_batch')
    op.drop_column('sepa_batch', 'xml')
    op.drop_column('payment', 'marked_paid_by')
    op.drop_column('invoice', 'imported_at')
    op.drop_column('account', 'last_event_seq')

    with op.batch_alter_table('payment_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_event_payment_id'))

    op.drop_table('payment_event')
    with op.batch_alter_table('bank_status_import', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bank_status_import_account_id'))

    op.drop_table('bank_status_import')
