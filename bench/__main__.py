"""``python -m bench``: seed, serve under gunicorn, load from another process, print one table.

For each data size: fresh benchmark databases (SQLite files in a temporary
folder, or PostgreSQL databases ``bench_meg`` / ``bench_libeo`` created by this
command), bulk seeding, gunicorn on a free port of 127.0.0.1 serving
``bench.wsgi:app``, the driver (``bench.driver``) in a subprocess, then
gunicorn is stopped. Results go to ``bench/results/`` (JSON and Markdown).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

from .report import PHASES, render

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432"
WARMUP_PAY_REQUESTS = 3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000", help="invoices per side, comma-separated (default: %(default)s)")
    parser.add_argument("--companies", type=int, default=1000, help="companies per side (default: %(default)s)")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=PG_DEFAULT, help="PostgreSQL server (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per row (default: %(default)s)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unrecorded seconds before each row (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="rows that read are measured in this many turns of seconds/rounds each, "
                             "interleaved with the other rows (default: %(default)s)")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="concurrent users, one company each; the pay rows run one connection per user "
                             "(default: %(default)s)")
    parser.add_argument("--connections", type=int, default=16,
                        help="keep-alive connections loading the rows that read, spread over the users' "
                             "companies (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default: %(default)s)")
    parser.add_argument("--threads", type=int,
                        help="gunicorn threads per worker (default: 1; 4 with --transport socket, where each "
                             "« Payer » holds a thread for MEG and one for Libeo)")
    parser.add_argument("--pay-requests", type=int, default=500,
                        help="at most this many requests in each row that consumes fresh invoices (default: %(default)s)")
    parser.add_argument("--transport", choices=("in-process", "socket"), default="in-process",
                        help="how MEG reaches Libeo: the combined run's in-process WSGI transport, "
                             "or a real loopback socket (default: %(default)s)")
    parser.add_argument("--only", help="comma-separated rows to run (default: all): " + ", ".join(p.name for p in PHASES))
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (databases, logs)")
    args = parser.parse_args(argv)
    args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if args.connections < args.concurrency:
        parser.error("--connections must be at least --concurrency (every user reads too)")
    if args.threads is None:
        args.threads = 4 if args.transport == "socket" else 1
    if args.transport == "socket" and args.concurrency > args.workers * args.threads // 2:
        parser.error("--transport socket needs concurrency <= workers*threads/2 (each « Payer » holds two threads)")
    return args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_databases(pg_url: str) -> tuple[str, str]:
    import psycopg
    from sqlalchemy.engine import make_url

    server = make_url(pg_url)
    admin = server.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in ("bench_meg", "bench_libeo"):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    base = server.set(drivername="postgresql+psycopg")
    return tuple(base.set(database=n).render_as_string(hide_password=False) for n in ("bench_meg", "bench_libeo"))


def environment(args, work: Path, port: int) -> dict[str, str]:
    public = f"http://127.0.0.1:{port}"
    env = {
        "INSTANCE_PATH": str(work / "instance"),
        "PUBLIC_URL": public,
        "MEG_SECRET_KEY": "bench-meg-secret-key",
        "LIBEO_SECRET_KEY": "bench-libeo-secret-key",
        "MEG_ENCRYPTION_KEY": "bench-meg-encryption-key",
        "RATELIMIT_ENABLED": "0",
        "IN_PROCESS_TRANSPORT": "1" if args.transport == "in-process" else "0",
        "HTTP_TIMEOUT": "30",
    }
    if args.db == "sqlite":
        env["MEG_DATABASE_URL"] = f"sqlite:///{work / 'meg.sqlite3'}"
        env["LIBEO_DATABASE_URL"] = f"sqlite:///{work / 'libeo.sqlite3'}"
    return env


def reset_databases(args, env: dict[str, str], work: Path) -> None:
    if args.db == "postgresql":
        env["MEG_DATABASE_URL"], env["LIBEO_DATABASE_URL"] = pg_databases(args.pg_url)
    else:
        for name in ("meg.sqlite3", "libeo.sqlite3"):
            for suffix in ("", "-wal", "-shm"):
                (work / (name + suffix)).unlink(missing_ok=True)


def seed_size(args, env: dict[str, str], size: int) -> list[dict]:
    """Seeds in a child process, so the served app reads exactly the environment gunicorn gets."""
    out = Path(env["INSTANCE_PATH"]).parent / "tenants.json"
    command = [sys.executable, "-m", "bench.seed", str(size), str(args.companies), str(args.concurrency),
               str(args.pay_requests), str(WARMUP_PAY_REQUESTS), str(out)]
    subprocess.run(command, cwd=ROOT, env={**os.environ, **env}, check=True)
    return json.loads(out.read_text())


class Server:
    def __init__(self, args, env: dict[str, str], port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "gunicorn", "--workers", str(args.workers), "--worker-class", "gthread",
                   "--threads", str(args.threads), "--bind", f"127.0.0.1:{port}", "--timeout", "120",
                   "--keep-alive", "5", "--log-level", "warning", "bench.wsgi:app"]
        self.log = open(log, "w")
        self.process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"bench: gunicorn exited ({self.process.returncode}), see {self.log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/meg/hello", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"bench: gunicorn not ready after {timeout:.0f} s, see {self.log.name}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def phases(args) -> list[dict]:
    chosen = set(args.only.split(",")) if args.only else None
    if chosen:  # a row's reference page is measured with it
        chosen |= {other for phase in PHASES if phase.name in chosen for other in (phase.reference, phase.per) if other}
    result = []
    for phase in PHASES:
        if chosen and phase.name not in chosen:
            continue
        spec = {"name": phase.name}
        if phase.consumes_invoices:
            spec["limit"] = phase.requests or -(-args.pay_requests // args.concurrency)
            spec["warmup_requests"] = 1 if phase.requests else WARMUP_PAY_REQUESTS
        result.append(spec)
    return result


def drive(args, env, server: Server, tenants: list[dict], work: Path, size: int) -> dict:
    plan = {"base_url": server.url, "password": "bench-mot-de-passe-2026", "seconds": args.seconds,
            "warmup": args.warmup, "rounds": args.rounds, "connections": args.connections, "tenants": tenants, "phases": phases(args)}
    plan_path, result_path = work / f"plan-{size}.json", work / f"result-{size}.json"
    plan_path.write_text(json.dumps(plan))
    budget = len(plan["phases"]) * (args.seconds + args.warmup + 0.2 * args.rounds + 30) + 120
    subprocess.run([sys.executable, "-m", "bench.driver", str(plan_path), str(result_path)], cwd=ROOT,
                   env={**os.environ, **env}, check=True, timeout=budget)
    return json.loads(result_path.read_text())


def verify_meg_payments(env: dict[str, str], invoice_ids: list[int]) -> int:
    """How many « Payer » clicks became a payment Libeo accepted (the redirect alone does not tell)."""
    if not invoice_ids:
        return 0
    out = subprocess.run([sys.executable, "-m", "bench.seed", "--count-paid", *map(str, invoice_ids)],
                         cwd=ROOT, env={**os.environ, **env}, check=True, capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1])


def revision() -> str:
    """The code measured: commit, and « -dirty » when tracked files differ from it."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    RESULTS.mkdir(exist_ok=True)
    code = revision()
    work = Path(tempfile.mkdtemp(prefix="meg-libeo-bench-"))
    port = free_port()
    env = environment(args, work, port)
    runs = []
    try:
        for size in args.sizes:
            reset_databases(args, env, work)
            load = os.getloadavg()[0]
            started = time.perf_counter()
            tenants = seed_size(args, env, size)
            print(f"[{size:,} invoices per side] seeded in {time.perf_counter() - started:.1f} s "
                  f"({args.db}); gunicorn {args.workers}×{args.threads} on {port}", file=sys.stderr, flush=True)
            server = Server(args, env, port, work / f"gunicorn-{size}.log")
            try:
                server.wait_ready()
                result = drive(args, env, server, tenants, work, size)
            finally:
                server.stop()
            result["meg_paid_ok"] = verify_meg_payments(env, result["meg_paid_invoice_ids"])
            result["meg_selection_ok"] = verify_meg_payments(env, result.get("meg_selection_invoice_ids", []))
            result["size"] = size
            result["load_before"] = load
            runs.append(result)
    finally:
        if args.keep:
            print(f"bench: kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    meta = {"db": args.db, "transport": args.transport, "companies": args.companies, "seconds": args.seconds,
            "rounds": args.rounds,
            "concurrency": args.concurrency, "connections": args.connections, "workers": args.workers, "threads": args.threads,
            "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
            "date": datetime.now().isoformat(timespec="seconds"), "cpus": os.cpu_count(), "revision": code}
    table = render(runs, meta)
    print(table)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"bench-{args.db}-{stamp}.md").write_text(table + "\n")
    (RESULTS / f"bench-{args.db}-{stamp}.json").write_text(json.dumps({"meta": meta, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
