"""Peak memory of « Exporter »: MEG « Règlements » of one company holding N unpaid invoices, as CSV and XLSX.

    .venv/bin/python -m bench.export_memory                 # 10,000 and 100,000 rows, SQLite
    .venv/bin/python -m bench.export_memory --rows 1000 --db-url postgresql+psycopg://…   # an existing, empty database

Each export runs in a child process of its own, through the app's whole stack (signed in, the
test client reading the streamed answer chunk by chunk): its peak resident memory (``ru_maxrss``)
after a first export of no row (the app, its modules and openpyxl loaded) and after the whole
export. Bounded memory is the same growth at every size: the rows are never held together.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPANY = "Boulangerie Martin SARL"


def _environment(db_url: str | None, work: Path) -> dict[str, str]:
    return {"INSTANCE_PATH": str(work / "instance"), "MEG_SECRET_KEY": "bench-export", "LIBEO_SECRET_KEY": "bench-x",
            "MEG_ENCRYPTION_KEY": "bench-export-key", "RATELIMIT_ENABLED": "0",
            "MEG_DATABASE_URL": db_url or f"sqlite:///{work / 'meg.sqlite3'}",
            "LIBEO_DATABASE_URL": f"sqlite:///{work / 'libeo.sqlite3'}"}


def seed(rows: int) -> None:
    """The demo, then ``rows`` more unpaid invoices of its first company, written in bulk."""
    from sqlalchemy import insert, select

    from app import create_app
    from models.meg import Company, PaymentMode, Supplier, SupplierInvoice, db
    from models.meg.demo import create_demo_data

    meg = create_app().extensions["sides"]["meg"]
    with meg.app_context():
        db.drop_all()
        db.create_all()
        create_demo_data()
        company_id = db.session.scalar(select(Company.id).where(Company.name == COMPANY))
        suppliers = db.session.scalars(select(Supplier.id).where(Supplier.company_id == company_id)).all()
        modes, today = list(PaymentMode), date.today()
        for start in range(0, rows, 10_000):
            db.session.execute(insert(SupplierInvoice), [
                {"company_id": company_id, "supplier_id": suppliers[k % len(suppliers)], "number": f"X-{k:07d}",
                 "issue_date": today - timedelta(days=k % 300), "due_date": today + timedelta(days=k % 60),
                 "amount_cents": 100 + k % 500_000, "currency": "EUR", "payment_mode": modes[k % len(modes)]}
                for k in range(start, min(start + 10_000, rows))])
        db.session.commit()


def measure(fmt: str) -> dict:
    """In this process: peak RSS after an empty export, then after the whole one (kilobytes)."""
    from app import create_app
    from bench.driver import CSRF

    root = create_app()
    client = root.test_client()
    token = CSRF.search(client.get("/meg/connexion").get_data(as_text=True))
    assert token is not None, "the sign-in page carries its CSRF token"
    reply = client.post("/meg/connexion", data={"email": "admin@boulangerie-martin.fr", "password": "demo-meg-2026",
                                                "csrf_token": token.group(1) or token.group(2)})
    assert reply.status_code == 302, reply.status_code

    def export(query: str) -> int:
        response = client.get(f"/meg/achats/reglements/export.{fmt}?{query}", buffered=False)
        assert response.status_code == 200, response.status_code
        size = sum(len(chunk) for chunk in response.response)
        response.close()
        return size

    export("q=aucune-ligne-ne-porte-ce-nom")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    size = export("tri=-montant")
    return {"format": fmt, "bytes": size, "seconds": round(time.perf_counter() - started, 2),
            "rss_before_kb": before, "rss_after_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,100000", help="sizes, comma-separated (default: 10000,100000)")
    parser.add_argument("--db-url", help="MEG's database (default: a SQLite file in a temporary folder)")
    args = parser.parse_args(argv)
    print("| rows | format | file | time | peak RSS, app loaded | peak RSS after | growth |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:
        env = {**os.environ, **_environment(args.db_url, Path(folder))}
        for rows in (int(size) for size in args.rows.split(",")):
            subprocess.run([sys.executable, "-m", "bench.export_memory", "--seed", str(rows)], cwd=ROOT, env=env,
                           check=True)
            for fmt in ("csv", "xlsx"):
                out = subprocess.run([sys.executable, "-m", "bench.export_memory", "--measure", fmt], cwd=ROOT,
                                     env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
                found = json.loads(out.strip().splitlines()[-1])
                growth = (found["rss_after_kb"] - found["rss_before_kb"]) / 1024
                print(f"| {rows:,} | {fmt.upper()} | {found['bytes'] / 1e6:.1f} MB | {found['seconds']} s "
                      f"| {found['rss_before_kb'] / 1024:.0f} MB | {found['rss_after_kb'] / 1024:.0f} MB "
                      f"| {growth:+.0f} MB |", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--seed"]:
        seed(int(sys.argv[2]))
    elif sys.argv[1:2] == ["--measure"]:
        print(json.dumps(measure(sys.argv[2])))
    else:
        main()
