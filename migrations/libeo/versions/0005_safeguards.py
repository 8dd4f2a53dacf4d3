"""Safeguards: holds, approvals, journal, SIRET verification

Revision ID: 0005_safeguards
Revises: 0004_einvoices
Create Date: 2026-11-30 10:23:07.819223

Schema (SPEC §12, issue 15):
- ``payment``: why it is held (``hold_reasons``, ``hold_details``), who
  decided and when (``decided_by``, ``decided_at``), the refusal's
  ``cancel_reason``; ``awaiting_approval`` joins the active statuses of the
  one-payment-per-invoice index (``uq_payment_active_invoice``), and
  « À approuver » gets its partial index (``ix_payment_awaiting``);
- ``account``: « vérifié » (``verified_at``, ``verified_by``), the SIRET a
  squatting account lost (``lost_siret``, ``siret_lost_at``; ``siret``
  becomes nullable), the approval rules (``approval_threshold_cents``,
  ``approve_accountant_payments``);
- ``libeo_user.is_admin`` (every existing user administers its account);
- ``known_supplier_iban``: the IBANs each supplier was paid on;
- ``journal_entry``: the append-only « Journal » (triggers refuse UPDATE and DELETE).

Making ``account.siret`` nullable copies the table on SQLite: that is only
safe with foreign keys off (dropping the old table would otherwise cascade
to every row that points at it), so the copy checks they are, and refuses
to run otherwise.

Data:
- accounts already linked to a MEG company (``meg_identity``) are
  « vérifié » (a person of that company consented on MEG); the others are
  not, until an Achats administrator links them through « Me connecter
  avec MEG » or support runs ``flask libeo verify-account``: their SEPA
  files wait until then;
- each supplier's IBANs already paid (payments scheduled, in progress or
  paid) are known, so that a changed IBAN is held from the first payment
  after the upgrade. Supplier names are normalised here as
  ``models.libeo.safeguards.supplier_key`` does at this revision (a
  migration does not import the application's code, which will change).
"""
import re
import unicodedata
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_safeguards'
down_revision = '0004_einvoices'
branch_labels = None
depends_on = None

ACTIVE_BEFORE = sa.text("status IN ('scheduled', 'in_progress', 'paid')")
ACTIVE_AFTER = sa.text("status IN ('awaiting_approval', 'scheduled', 'in_progress', 'paid')")
AWAITING = sa.text("status = 'awaiting_approval'")


def upgrade():
    op.create_table('journal_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('message', sa.String(length=1000), nullable=False),
    sa.Column('payment_id', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_journal_entry_account_id_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_entry'))
    )
    op.create_index('ix_journal_entry_account', 'journal_entry', ['account_id', 'id'], unique=False)
    for statement in _append_only_ddl('journal_entry', op.get_bind().dialect.name):
        op.execute(statement)

    op.create_table('known_supplier_iban',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('supplier_key', sa.String(length=200), nullable=False),
    sa.Column('supplier_name', sa.String(length=200), nullable=False),
    sa.Column('iban', sa.String(length=34), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.String(length=254), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_known_supplier_iban_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_known_supplier_iban')),
    sa.UniqueConstraint('account_id', 'supplier_key', 'iban', name='uq_known_supplier_iban')
    )
    op.create_index('ix_known_supplier_iban_iban', 'known_supplier_iban', ['account_id', 'iban'], unique=False)

    # Added in place (never by copying these tables: rows of other tables point at them).
    op.add_column('libeo_user', sa.Column('is_admin', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.add_column('payment', sa.Column('hold_reasons', sa.JSON(), nullable=True))
    op.add_column('payment', sa.Column('hold_details', sa.JSON(), nullable=True))
    op.add_column('payment', sa.Column('decided_by', sa.String(length=254), nullable=True))
    op.add_column('payment', sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('payment', sa.Column('cancel_reason', sa.String(length=300), nullable=True))
    op.drop_index('uq_payment_active_invoice', table_name='payment',
                  sqlite_where=ACTIVE_BEFORE, postgresql_where=ACTIVE_BEFORE)
    op.create_index('uq_payment_active_invoice', 'payment', ['invoice_id'], unique=True,
                    sqlite_where=ACTIVE_AFTER, postgresql_where=ACTIVE_AFTER)
    op.create_index('ix_payment_awaiting', 'payment', ['account_id', 'created_at'], unique=False,
                    sqlite_where=AWAITING, postgresql_where=AWAITING)

    with _foreign_keys_off():
        with op.batch_alter_table('account', schema=None) as batch_op:
            batch_op.add_column(sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column('verified_by', sa.String(length=254), nullable=True))
            batch_op.add_column(sa.Column('lost_siret', sa.String(length=14), nullable=True))
            batch_op.add_column(sa.Column('siret_lost_at', sa.DateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column('approval_threshold_cents', sa.BigInteger(), nullable=True))
            batch_op.add_column(sa.Column('approve_accountant_payments', sa.Boolean(), server_default=sa.false(),
                                          nullable=False))
            batch_op.alter_column('siret', existing_type=sa.VARCHAR(length=14), nullable=True)

    bind = op.get_bind()
    _verify_linked_accounts(bind)
    _remember_paid_ibans(bind)


def downgrade():
    bind = op.get_bind()
    lost = bind.execute(sa.text("SELECT count(*) FROM account WHERE siret IS NULL")).scalar()
    if lost:
        raise RuntimeError(
            f"{lost} compte(s) ont perdu leur SIRET au profit du compte vérifié de l'entreprise : la révision "
            "précédente exige un SIRET par compte. Réglez ces comptes avant de revenir en arrière."
        )
    held = bind.execute(sa.text("SELECT count(*) FROM payment WHERE status = 'awaiting_approval'")).scalar()
    if held:
        raise RuntimeError(
            f"{held} paiement(s) attendent une approbation, statut inconnu de la révision précédente : "
            "approuvez-les ou refusez-les avant de revenir en arrière."
        )
    with _foreign_keys_off():
        with op.batch_alter_table('account', schema=None) as batch_op:
            batch_op.alter_column('siret', existing_type=sa.VARCHAR(length=14), nullable=False)
            batch_op.drop_column('approve_accountant_payments')
            batch_op.drop_column('approval_threshold_cents')
            batch_op.drop_column('siret_lost_at')
            batch_op.drop_column('lost_siret')
            batch_op.drop_column('verified_by')
            batch_op.drop_column('verified_at')

    op.drop_index('ix_payment_awaiting', table_name='payment', sqlite_where=AWAITING, postgresql_where=AWAITING)
    op.drop_index('uq_payment_active_invoice', table_name='payment',
                  sqlite_where=ACTIVE_AFTER, postgresql_where=ACTIVE_AFTER)
    op.create_index('uq_payment_active_invoice', 'payment', ['invoice_id'], unique=True,
                    sqlite_where=ACTIVE_BEFORE, postgresql_where=ACTIVE_BEFORE)
    op.drop_column('payment', 'cancel_reason')
    op.drop_column('payment', 'decided_at')
    op.drop_column('payment', 'decided_by')
    op.drop_column('payment', 'hold_details')
    op.drop_column('payment', 'hold_reasons')
    op.drop_column('libeo_user', 'is_admin')

    op.drop_index('ix_known_supplier_iban_iban', table_name='known_supplier_iban')
    op.drop_table('known_supplier_iban')
    for statement in _drop_append_only_ddl('journal_entry', bind.dialect.name):
        op.execute(statement)
    op.drop_index('ix_journal_entry_account', table_name='journal_entry')
    op.drop_table('journal_entry')


class _foreign_keys_off:
    """SQLite copies a table to change a column: foreign keys must be off, or the copy cascades.

    ``PRAGMA foreign_keys`` only changes outside a transaction; this revision
    starts with none open on SQLite (pysqlite begins one before the first
    INSERT/UPDATE/DELETE, and the statements above are DDL). If one is open
    anyway, the copy is refused rather than run.
    """

    def __enter__(self):
        bind = op.get_bind()
        self.sqlite = bind.dialect.name == "sqlite"
        if self.sqlite:
            bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
            if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
                raise RuntimeError("SQLite: foreign keys could not be turned off; the account table is not copied.")
        return self

    def __exit__(self, *exc):
        if self.sqlite and exc[0] is None:
            problems = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise RuntimeError(f"SQLite: foreign keys broken by the copy of account: {problems[:5]}")
        return False


def _append_only_ddl(table_name, dialect):
    """As ``core.journal.append_only_ddl`` writes them at this revision."""
    message = f"{table_name} is append-only"
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table_name}_no_{verb.lower()} BEFORE {verb} ON {table_name} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            for verb in ("UPDATE", "DELETE")
        ]
    if dialect == "postgresql":
        return [
            f"CREATE OR REPLACE FUNCTION {table_name}_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$",
            f"CREATE TRIGGER {table_name}_append_only BEFORE UPDATE OR DELETE ON {table_name} "
            f"FOR EACH ROW EXECUTE FUNCTION {table_name}_refuse()",
        ]
    return []


def _drop_append_only_ddl(table_name, dialect):
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table_name}_no_update", f"DROP TRIGGER IF EXISTS {table_name}_no_delete"]
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {table_name}_append_only ON {table_name}",
                f"DROP FUNCTION IF EXISTS {table_name}_refuse()"]
    return []


_account = sa.table("account", sa.column("id", sa.Integer), sa.column("verified_at", sa.DateTime(timezone=True)),
                    sa.column("verified_by", sa.String))
_link = sa.table("meg_identity", sa.column("account_id", sa.Integer))
_payment = sa.table(
    "payment",
    sa.column("account_id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("creditor_name", sa.String),
    sa.column("creditor_iban", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_known = sa.table(
    "known_supplier_iban",
    sa.column("account_id", sa.Integer),
    sa.column("supplier_key", sa.String),
    sa.column("supplier_name", sa.String),
    sa.column("iban", sa.String),
    sa.column("recorded_at", sa.DateTime(timezone=True)),
    sa.column("recorded_by", sa.String),
)


def _verify_linked_accounts(bind):
    bind.execute(
        _account.update()
        .where(_account.c.id.in_(sa.select(_link.c.account_id)), _account.c.verified_at.is_(None))
        .values(verified_at=datetime.now(timezone.utc),
                verified_by="relié à MEG avant la vérification des SIRET (mise à jour de Libeo)")
    )


_LEGAL_FORMS = frozenset(
    "sa sas sasu sarl eurl sci snc scs sca scop scp scm sel selarl selas earl gaec gie ei eirl eurl "
    "ets etablissement etablissements societe ste cie compagnie".split()
)
_ARTICLES = frozenset("de du des d la le les l et au aux".split())


def _supplier_key(name):
    decomposed = unicodedata.normalize("NFKD", name or "")
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    words = re.findall(r"[0-9a-z]+", plain.replace("&", " et "))
    kept = [word for word in words if word not in _LEGAL_FORMS and word not in _ARTICLES]
    return " ".join(kept or words)[:200]


def _remember_paid_ibans(bind):
    rows = bind.execute(
        sa.select(_payment.c.account_id, _payment.c.creditor_name, _payment.c.creditor_iban, _payment.c.created_at)
        .where(_payment.c.status.in_(("scheduled", "in_progress", "paid")))
        .order_by(_payment.c.created_at)
    ).all()
    known = {}
    for account_id, name, iban, created_at in rows:
        known.setdefault((account_id, _supplier_key(name), iban), (name, created_at))
    if known:
        bind.execute(_known.insert(), [
            {"account_id": account_id, "supplier_key": key, "supplier_name": name, "iban": iban,
             "recorded_at": created_at, "recorded_by": "paiement antérieur à la mise à jour de Libeo"}
            for (account_id, key, iban), (name, created_at) in known.items()
        ])
