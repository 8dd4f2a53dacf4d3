"""Bulk seeding of both products' databases for the benchmark.

Rows are built as dicts and written in bulk (COPY on PostgreSQL, one
executemany on SQLite; no ORM unit of work), with explicit primary keys so
that the driver knows which rows to ask for. Secrets follow each product's
own scheme: one password hash (computed once) for every user, Libeo keys in
Libeo's ``lbo_meg_<public id>_<secret>`` shape stored as SHA-256, the same
keys encrypted in MEG with its Fernet helper.

The companies the driver logs in as (« tenants ») own the same rows at every
data size: what changes between sizes is only how much data the *other*
companies have, so the table isolates the effect of data volume.
"""

from __future__ import annotations

import itertools
import math
import secrets
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from schwifty import IBAN
from sqlalchemy import text
from stdnum import luhn
from werkzeug.security import generate_password_hash

from bench.driver import SELECTION_REQUESTS, SELECTION_SIZE
from config import BaseConfig

PASSWORD = "bench-mot-de-passe-2026"
SUPPLIERS_PER_COMPANY = 5
# What tells a company's suppliers apart (core.names.names_match never takes one for another): about
# twenty letters a name, as real ones (« Boulangerie Martin SARL »).
TRADES = ("Martin", "Lefebvre", "Dubois", "Moreau", "Girard")
FIRMS = 10
# Invoices each tenant owns besides the ones its pay rows consume.
BACKGROUND_PER_TENANT = 50


@dataclass
class Tenant:
    """A company (MEG) and its account (Libeo) that one driver thread works as."""

    number: int
    email: str
    api_key: str
    siret: str = ""
    meg_invoice_ids: list[int] = field(default_factory=list)
    meg_pay_pool: list[int] = field(default_factory=list)
    # « Payer la sélection »: fresh « Virement par Libeo » invoices, taken SELECTION_SIZE at a time.
    meg_selection_pool: list[int] = field(default_factory=list)
    libeo_pay_pool: list[str] = field(default_factory=list)


@dataclass
class SeedPlan:
    invoices: int
    companies: int
    tenants: int
    pool_per_tenant: int
    selection_pool: int = 0

    @property
    def tenant_invoices(self) -> int:
        return self.pool_per_tenant + self.selection_pool + BACKGROUND_PER_TENANT

    def check(self) -> None:
        if self.tenants >= self.companies:
            raise SystemExit("bench: --companies must exceed --concurrency (one company per load thread).")
        if self.tenants * self.tenant_invoices > self.invoices:
            raise SystemExit(
                f"bench: {self.invoices} invoices cannot hold the {self.tenants} measured companies' "
                f"{self.tenant_invoices} each: lower --pay-requests or --concurrency."
            )

    def owners(self) -> list[int]:
        """The company number (1-based) of each invoice, invoice k at index k-1."""
        owners = [t for t in range(1, self.tenants + 1) for _ in range(self.tenant_invoices)]
        others = self.companies - self.tenants
        owners += [self.tenants + 1 + k % others for k in range(self.invoices - len(owners))]
        return owners


def siret(number: int) -> str:
    siren = f"9{number:07d}"
    siren += luhn.calc_check_digit(siren)
    base = f"{siren}0001"
    return base + luhn.calc_check_digit(base)


def iban_pool(size: int = 64) -> list[tuple[str, str]]:
    pool = []
    for k in range(size):
        iban = IBAN.generate("FR", bank_code="3000600001", account_code=f"{k + 1:011d}")
        pool.append((iban.compact, str(iban.bic)))
    return pool


def libeo_key() -> tuple[str, str]:
    from models.libeo.accounts.keys import KEY_PREFIX

    public_id = secrets.token_hex(6)
    return public_id, f"{KEY_PREFIX}{public_id}_{secrets.token_urlsafe(32)}"


CHUNK = 50_000  # rows built and written at a time: memory stays bounded at a million invoices


def _processor(conn, column):
    """The column type's bind processor, remembering each distinct value's result (dates, enums and
    timestamps repeat across a million rows)."""
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    if process is None:
        return None
    seen: dict = {}

    def cached(value):
        if value is None:
            return None
        try:
            return seen[value]
        except KeyError:
            result = seen[value] = process(value)
            return result
        except TypeError:  # not hashable
            return process(value)

    return cached


def _write(conn, table, rows) -> None:
    """COPY on PostgreSQL, one driver-level executemany per chunk on SQLite.

    ``rows``: a list of dicts, or an iterable of such lists (chunks). Values
    go through each column type's own bind processor (enums, dates), so the
    rows read exactly as if the ORM had written them.
    """
    chunks = [rows] if isinstance(rows, list) else rows
    processors: list = []
    names: list[str] | None = None
    for chunk in chunks:
        if not chunk:
            continue
        if names is None:
            names = list(chunk[0])
            processors = [_processor(conn, table.c[name]) for name in names]
        columns = []
        for name, process in zip(names, processors, strict=True):
            values = [row[name] for row in chunk]
            columns.append(values if process is None else list(map(process, values)))
        _write_values(conn, table, names, list(zip(*columns, strict=True)))


def _write_values(conn, table, names: list[str], values: list[tuple]) -> None:
    columns = ", ".join(f'"{name}"' for name in names)
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()
        with cursor, cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
            for row in values:
                copy.write_row(row)
    else:
        placeholders = ", ".join("?" for _ in names)
        conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({columns}) VALUES ({placeholders})', values)


@contextmanager
def _bulk_load(db, tables: list):
    """One transaction to write ``tables``' rows in, their secondary indexes dropped before and built
    after (building an index once is much faster than keeping it up to date row by row)."""
    with db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":  # this connection only, before its transaction: a lost load is redone
            conn.connection.driver_connection.execute("PRAGMA synchronous=OFF")
        with conn.begin():
            indexes = [index for model in tables for index in model.__table__.indexes]
            for index in indexes:
                index.drop(conn)
            yield conn
            for index in indexes:
                index.create(conn)
            _reset_sequences(conn, [model.__table__ for model in tables])
        if conn.dialect.name == "sqlite":
            conn.connection.driver_connection.execute("PRAGMA synchronous=NORMAL")


def _reset_sequences(conn, tables) -> None:
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        conn.execute(text(
            f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM \"{table.name}\"))"
        ))


def _analyze(engine) -> None:
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        else:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()


def _amount(k: int) -> int:
    return 1_000 + (k * 7_919) % 500_000


def _libeo_amount(k: int) -> int:
    """Libeo's invoice k is not MEG's invoice k: its amount differs, so paying one is never a possible
    duplicate of the other (same supplier, same issue date)."""
    return 1_000 + (k * 7_919 + 250_000) % 500_000


def supplier_of(company: int, k: int, ibans: list[tuple[str, str]]) -> tuple[str, str, str]:
    """Invoice k's supplier in the company, on both sides: its name, its IBAN and BIC.

    Each of a company's suppliers has its own IBAN, the same in MEG and in Libeo, so the pay rows
    measure the usual payment, a known supplier on its known IBAN, which Libeo schedules; an IBAN paid
    under several names would have every payment held for approval (« Bénéficiaire différent »).
    """
    s = k % SUPPLIERS_PER_COMPANY
    iban, bic = ibans[(company * SUPPLIERS_PER_COMPANY + s) % len(ibans)]
    return f"Fournisseur {s + 1} {TRADES[s]}", iban, bic


def seed(meg_app, libeo_app, plan: SeedPlan, today: date | None = None) -> list[Tenant]:
    """Creates both schemas and fills them; returns what the driver needs to know."""
    from models.libeo import db as libeo_db
    from models.meg import db as meg_db

    plan.check()
    today = today or date.today()
    now = datetime.now(UTC)
    password_hash = generate_password_hash(PASSWORD, method=BaseConfig.PASSWORD_HASH_METHOD)
    ibans = iban_pool()
    keys = [libeo_key() for _ in range(plan.companies)]
    tenants = [Tenant(t, email(t), keys[t - 1][1], siret(t)) for t in range(1, plan.tenants + 1)]
    owners = plan.owners()

    with meg_app.app_context():
        meg_db.create_all()
        _seed_meg(meg_db, plan, tenants, owners, keys, ibans, password_hash, today, now)
        _analyze(meg_db.engine)
        meg_db.engine.dispose()
    with libeo_app.app_context():
        libeo_db.create_all()
        _seed_libeo(libeo_db, plan, tenants, owners, keys, ibans, password_hash, today, now)
        _analyze(libeo_db.engine)
        _check_key(tenants[0].api_key)
        libeo_db.session.remove()
        libeo_db.engine.dispose()
    return tenants


def email(number: int) -> str:
    return f"achats@entreprise{number:04d}.fr"


def _tenant_slot(plan: SeedPlan, owners: list[int], k: int) -> int | None:
    """Position of invoice k within its tenant's block, or None for another company's invoice."""
    owner = owners[k - 1]
    return (k - 1) - (owner - 1) * plan.tenant_invoices if owner <= plan.tenants else None


def _seed_meg(db, plan, tenants, owners, keys, ibans, password_hash, today, now) -> None:
    from core.dates import utcnow
    from models.meg import (
        AccountingFirm,
        AchatsRole,
        Company,
        ModuleRole,
        PaymentMode,
        Supplier,
        SupplierInvoice,
        User,
    )
    from models.meg.libeo_link.attempts import PaymentAttempt, PaymentState
    from models.meg.libeo_link.connection import (
        ConnectionState,
        LibeoConnection,
        _fernet,
    )

    fernet = _fernet()
    modes = list(PaymentMode)
    firms = [{"id": f, "name": f"Cabinet Bench {f:02d}"} for f in range(1, FIRMS + 1)]
    companies, users, roles, suppliers, connections = [], [], [], [], []
    for c in range(1, plan.companies + 1):
        name = f"Entreprise {c:04d} SAS"
        companies.append({"id": c, "name": name, "siret": siret(c), "accounting_firm_id": 1 + c % FIRMS,
                          "created_at": now})
        users.append({"id": c, "email": email(c), "full_name": f"Achats {c:04d}", "password_hash": password_hash,
                      "session_token": secrets.token_urlsafe(32), "accounting_firm_id": None, "created_at": now})
        roles.append({"id": c, "user_id": c, "company_id": c, "module": "achats", "role": AchatsRole.ADMIN})
        for s in range(SUPPLIERS_PER_COMPANY):
            supplier_name, iban, bic = supplier_of(c, s, ibans)
            suppliers.append({"id": (c - 1) * SUPPLIERS_PER_COMPANY + s + 1, "company_id": c,
                              "name": supplier_name, "iban": iban, "bic": bic})
        key = keys[c - 1][1]
        connections.append({"id": c, "company_id": c, "key_ciphertext": fernet.encrypt(key.encode()).decode(),
                            "key_prefix": key[:12], "account_name": name, "connected_at": now,
                            "connected_by_id": c, "state": ConnectionState.ACTIVE, "state_since": now,
                            "last_success_at": now, "last_checked_at": now, "account_checked_at": utcnow()})
    for f in range(1, FIRMS + 1):
        users.append({"id": plan.companies + f, "email": f"expert{f:02d}@cabinet-bench.fr",
                      "full_name": f"Expert {f:02d}", "password_hash": password_hash,
                      "session_token": secrets.token_urlsafe(32), "accounting_firm_id": f, "created_at": now})

    tables = [AccountingFirm, Company, User, ModuleRole, Supplier, SupplierInvoice, LibeoConnection, PaymentAttempt]
    with _bulk_load(db, tables) as conn:
        for model, batch in zip(tables, [firms, companies, users, roles, suppliers], strict=False):
            _write(conn, model.__table__, batch)
        _write(conn, LibeoConnection.__table__, connections)
        payment_ids = itertools.count(1)
        for start in range(1, plan.invoices + 1, CHUNK):
            invoices, payments = [], []
            for k in range(start, min(start + CHUNK, plan.invoices + 1)):
                company = owners[k - 1]
                slot = _tenant_slot(plan, owners, k)
                pool = slot is not None and slot < plan.pool_per_tenant + plan.selection_pool
                mode = PaymentMode.LIBEO if pool else modes[k % len(modes)]
                paid = not pool and (k // len(modes)) % 3 == 0
                issued = today - timedelta(days=k % 120)
                invoices.append({
                    "id": k, "company_id": company,
                    "supplier_id": (company - 1) * SUPPLIERS_PER_COMPANY + 1 + k % SUPPLIERS_PER_COMPANY,
                    "number": f"F-{k:07d}", "issue_date": issued, "due_date": issued + timedelta(days=30),
                    "amount_cents": _amount(k), "currency": "EUR", "payment_mode": mode,
                    "paid_at": now if paid else None, "created_at": now, "updated_at": now,
                    # As ``refresh_invoice_states`` stores it: settled, or to settle (no payment under way).
                    "settlement_state": "payees" if paid else "a_regler",
                })
                if paid and mode is PaymentMode.LIBEO:
                    payments.append({"id": next(payment_ids), "invoice_id": k, "attempt": 1,
                                     "idempotency_key": secrets.token_urlsafe(24), "libeo_payment_id": str(k),
                                     "status": PaymentState.PAID, "execution_date": issued, "paid_at": now,
                                     "requested_by_id": company, "requested_at": now, "updated_at": now})
                if slot is not None:
                    tenant = tenants[company - 1]
                    if slot < plan.pool_per_tenant:
                        tenant.meg_pay_pool.append(k)
                    else:
                        (tenant.meg_selection_pool if pool else tenant.meg_invoice_ids).append(k)
            _write(conn, SupplierInvoice.__table__, invoices)
            _write(conn, PaymentAttempt.__table__, payments)


def _seed_libeo(db, plan, tenants, owners, keys, ibans, password_hash, today, now) -> None:
    from models.libeo import (
        Account,
        ApiKey,
        Channel,
        InitiatorRole,
        Invoice,
        InvoiceSource,
        InvoiceStatus,
        LibeoUser,
        Payment,
        PaymentStatus,
        Plan,
    )
    from models.libeo.accounts.keys import KEY_PREFIX, MEG, hash_key
    from models.libeo.invoices.models import invoice_number_key

    accounts, users, api_keys = [], [], []
    for c in range(1, plan.companies + 1):
        debtor_iban, debtor_bic = ibans[c % len(ibans)]
        # The tenants pay without a monthly quota (Partnerships); others mix both plans.
        plan_of = Plan.PARTNERSHIPS if c <= plan.tenants or c % 2 else Plan.GRATUIT
        accounts.append({"id": c, "name": f"Entreprise {c:04d} SAS", "siret": siret(c), "plan": plan_of,
                         "debtor_iban": debtor_iban, "debtor_bic": debtor_bic, "cancel_at_period_end": False,
                         "created_at": now})
        users.append({"id": c, "account_id": c, "email": email(c), "full_name": f"Achats {c:04d}",
                      "password_hash": password_hash, "session_token": secrets.token_urlsafe(32), "created_at": now})
        public_id, key = keys[c - 1]
        api_keys.append({"id": c, "account_id": c, "integration": MEG, "public_id": public_id,
                         "prefix": f"{KEY_PREFIX}{public_id}", "key_hash": hash_key(key), "created_at": now})

    tables = [Account, LibeoUser, ApiKey, Invoice, Payment]
    with _bulk_load(db, tables) as conn:
        for model, batch in zip(tables, [accounts, users, api_keys], strict=False):
            _write(conn, model.__table__, batch)
        payment_ids = itertools.count(1)
        for start in range(1, plan.invoices + 1, CHUNK):
            invoices, payments = [], []
            for k in range(start, min(start + CHUNK, plan.invoices + 1)):
                account = owners[k - 1]
                slot = _tenant_slot(plan, owners, k)
                pool = slot is not None and slot < plan.pool_per_tenant
                from_meg = pool or k % 2 == 0
                paid = not pool and k % 3 == 0
                issued = today - timedelta(days=k % 120)
                supplier_name, iban, bic = supplier_of(account, k, ibans)
                external_id = f"bench-{k}" if from_meg else None
                number = f"L-{k:07d}"
                invoices.append({
                    "id": k, "account_id": account, "source": InvoiceSource.MEG if from_meg else InvoiceSource.LIBEO,
                    "external_id": external_id, "number": number, "number_key": invoice_number_key(number),
                    "supplier_name": supplier_name,
                    "supplier_iban": iban, "supplier_bic": bic, "issue_date": issued,
                    "due_date": issued + timedelta(days=30), "amount_cents": _libeo_amount(k), "currency": "EUR",
                    "status": InvoiceStatus.PAID if paid else InvoiceStatus.TO_PAY, "created_at": now,
                    "updated_at": now,
                })
                if paid:
                    payments.append({
                        "id": next(payment_ids), "account_id": account, "invoice_id": k,
                        "status": PaymentStatus.PAID, "amount_cents": _libeo_amount(k), "currency": "EUR",
                        "execution_date": issued, "creditor_name": supplier_name, "creditor_iban": iban,
                        "creditor_bic": bic, "initiated_by_email": email(account),
                        "initiated_by_role": InitiatorRole.USER, "channel": Channel.MEG if from_meg else Channel.LIBEO,
                        "created_at": now, "paid_at": now,
                    })
                if pool:
                    tenants[account - 1].libeo_pay_pool.append(external_id)
            _write(conn, Invoice.__table__, invoices)
            _write(conn, Payment.__table__, payments)


def _check_key(api_key: str) -> None:
    """The keys written above must be ones Libeo accepts (its scheme may evolve)."""
    from models.libeo.accounts.keys import authenticate_api_key

    if authenticate_api_key(api_key) is None:
        raise SystemExit("bench: Libeo refuses the seeded API keys: its key scheme changed, update bench/seed.py.")


def manifest(tenants: list[Tenant]) -> list[dict]:
    return [asdict(t) for t in tenants]


def pool_per_tenant(pay_requests: int, tenants: int, warmup: int) -> int:
    return math.ceil(pay_requests / tenants) + warmup


def selection_pool() -> int:
    """Each user's invoices for « Payer la sélection »: its requests and one warm-up, twenty each."""
    return (SELECTION_REQUESTS + 1) * SELECTION_SIZE


def count_meg_payments(invoice_ids: list[int]) -> tuple[int, int]:
    """Invoices among these that MEG records as paid or being paid through Libeo, with Libeo's payment (an
    attempt Libeo never answered, « Vérification en cours », holds its invoice but is not a payment yet),
    and how many of those Libeo held for approval (« À approuver »)."""
    from sqlalchemy import func, select

    from models.meg import db
    from models.meg.libeo_link.attempts import PaymentAttempt, PaymentState

    active = [s for s in PaymentState if s.holds_invoice]
    counted = (
        select(func.count(func.distinct(PaymentAttempt.invoice_id)),
               func.count(func.distinct(PaymentAttempt.invoice_id))
               .filter(PaymentAttempt.status == PaymentState.AWAITING_APPROVAL))
        .where(PaymentAttempt.invoice_id.in_(invoice_ids), PaymentAttempt.status.in_(active),
               PaymentAttempt.libeo_payment_id.is_not(None))
    )
    recorded, held = db.session.execute(counted).one()
    return recorded or 0, held or 0


def main(argv: list[str]) -> None:
    """Run by ``python -m bench`` in a child process with the server's environment."""
    import json

    from app import create_app

    root = create_app()
    meg, libeo = root.extensions["sides"]["meg"], root.extensions["sides"]["libeo"]
    if argv[0] == "--count-paid":
        with meg.app_context():
            print(*count_meg_payments([int(i) for i in argv[1:]]))
        return
    size, companies, tenants, pay_requests, warmup = map(int, argv[:5])
    plan = SeedPlan(size, companies, tenants, pool_per_tenant(pay_requests, tenants, warmup), selection_pool())
    Path(argv[5]).write_text(json.dumps(manifest(seed(meg, libeo, plan))))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
