"""``python -m bench``: seed, serve under gunicorn, load from another process, print one table.

For each data size: fresh benchmark databases (SQLite files in a temporary
folder, or PostgreSQL databases ``bench_meg`` / ``bench_libeo`` created by this
command), bulk seeding, then two passes, each with its gunicorns on free ports
of 127.0.0.1 and the driver (``bench.driver``) in a subprocess:

- in-process: the combined app (``bench.wsgi:app``), and beside it, in its own
  gunicorn, the minimal list (``bench.reference:list_app``); every row but the
  ones deployed apart;
- socket: MEG and Libeo each in its own gunicorn (real HTTP between them),
  on a copy of the seeded databases, and the minimal two-service pay (its
  front and back services, each its own gunicorn and SQLite database).

Results go to ``bench/results/`` (JSON and Markdown).
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
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

from .report import PHASES, render
from .seed import BACKGROUND_PER_TENANT, selection_pool

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432"
WARMUP_PAY_REQUESTS = 3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000",
                        help="invoices per side, comma-separated (default: %(default)s)")
    parser.add_argument("--companies", type=int, default=1000, help="companies per side (default: %(default)s)")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=PG_DEFAULT, help="PostgreSQL server (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per row (default: %(default)s)")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="unrecorded seconds before each row (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="rows that read are measured in this many turns of seconds/rounds each, "
                             "interleaved with the other rows (default: %(default)s)")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="concurrent users, one company each; the pay rows run one connection per user "
                             "(default: %(default)s)")
    parser.add_argument("--connections", type=int, default=16,
                        help="keep-alive connections loading the rows that read, spread over the users' "
                             "companies (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2,
                        help="gunicorn workers of each server, products and references (default: %(default)s)")
    parser.add_argument("--worker-class", choices=("sync", "gthread"), default="sync",
                        help="the products' gunicorn workers (default: %(default)s, as the reference services, "
                             "which always run sync workers)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per product worker; more than 1 means gthread workers (default: %(default)s)")
    parser.add_argument("--pay-requests", type=int, default=500,
                        help="at most this many requests in each row that consumes fresh invoices "
                             "(default: %(default)s)")
    parser.add_argument("--transport", default="in-process,socket",
                        help="the passes, comma-separated: « in-process » (the combined app, MEG → Libeo through "
                             "the in-process WSGI transport; every row), « socket » (MEG and Libeo deployed apart, "
                             "each its own gunicorn, real HTTP between them, beside the minimal two-service pay; "
                             "the « Payer » rows) (default: %(default)s)")
    parser.add_argument("--only",
                        help="comma-separated rows to run (default: all): " + ", ".join(p.name for p in PHASES))
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (databases, logs)")
    args = parser.parse_args(argv)
    args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if args.connections < args.concurrency:
        parser.error("--connections must be at least --concurrency (every user reads too)")
    args.transports = [t.strip() for t in args.transport.split(",") if t.strip()]
    if not args.transports or set(args.transports) - {"in-process", "socket"}:
        parser.error("--transport: in-process, socket, or both (in-process,socket)")
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
    meg, libeo = (base.set(database=n).render_as_string(hide_password=False) for n in ("bench_meg", "bench_libeo"))
    return meg, libeo


def environment(args, work: Path) -> dict[str, str]:
    env = {
        "INSTANCE_PATH": str(work / "instance"),
        "MEG_SECRET_KEY": "bench-meg-secret-key",
        "LIBEO_SECRET_KEY": "bench-libeo-secret-key",
        "MEG_ENCRYPTION_KEY": "bench-meg-encryption-key",
        "RATELIMIT_ENABLED": "0",
        "IN_PROCESS_TRANSPORT": "1",
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
    """One gunicorn on a free port of 127.0.0.1, in its own process group."""

    def __init__(self, name: str, target: str, env: dict[str, str], log: Path, *, workers: int,
                 threads: int = 1, worker_class: str = "sync", probe: str = "/ref/hello",
                 port: int | None = None) -> None:
        self.name, self.probe = name, probe
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", worker_class,
                   "--bind", f"127.0.0.1:{self.port}", "--timeout", "120", "--log-level", "warning"]
        if worker_class == "gthread":
            command += ["--threads", str(threads), "--keep-alive", "5"]
        self.log = open(log, "w")  # noqa: SIM115 (closed by stop())
        self.process = subprocess.Popen([*command, target], cwd=ROOT, env={**os.environ, **env}, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"bench: {self.name} (gunicorn) exited ({self.process.returncode}), "
                                 f"see {self.log.name}")
            try:
                request = urllib.request.Request(f"{self.url}{self.probe}", method="HEAD")
                with urllib.request.urlopen(request, timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # it answers (a POST-only route says 405)
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"bench: {self.name} not ready after {timeout:.0f} s, see {self.log.name}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


class Servers:
    """The gunicorns of one pass, started together (all ready before the load), stopped together."""

    def __init__(self) -> None:
        self.started: list[Server] = []

    def start(self, *args, **kwargs) -> Server:
        server = Server(*args, **kwargs)
        self.started.append(server)
        return server

    def __enter__(self) -> Servers:
        return self

    def __exit__(self, *exc) -> None:
        for server in reversed(self.started):
            server.stop()

    def wait_ready(self) -> None:
        for server in self.started:
            server.wait_ready()

    def cpu_groups(self, args) -> dict[str, int]:
        """Whose CPU the driver measures per row: each gunicorn's process group, and PostgreSQL's server."""
        groups = {server.name: server.process.pid for server in self.started}
        if args.db == "postgresql":
            groups["PostgreSQL"] = 0
        return groups


def phases(args, apart: bool) -> list[dict]:
    chosen = set(args.only.split(",")) if args.only else None
    if chosen:  # a row's reference page is measured with it
        chosen |= {other for phase in PHASES if phase.name in chosen for other in (phase.reference, phase.per) if other}
    result = []
    for phase in PHASES:
        if phase.apart != apart or (chosen and phase.name not in chosen):
            continue
        spec: dict[str, str | int] = {"name": phase.name}
        if phase.consumes_invoices:
            spec["limit"] = phase.requests or -(-args.pay_requests // args.concurrency)
            spec["warmup_requests"] = 1 if phase.requests else WARMUP_PAY_REQUESTS
        result.append(spec)
    return result


def drive(args, env, routes: dict[str, int], tenants: list[dict], plan_phases: list[dict], work: Path,
          name: str, cpu: dict[str, int], meg_signing: dict | None = None) -> dict:
    plan = {"routes": routes, "password": "bench-mot-de-passe-2026", "seconds": args.seconds,
            "warmup": args.warmup, "rounds": args.rounds, "connections": args.connections, "tenants": tenants,
            "phases": plan_phases, "meg_signing": meg_signing, "cpu": cpu}
    plan_path, result_path = work / f"plan-{name}.json", work / f"result-{name}.json"
    plan_path.write_text(json.dumps(plan))
    budget = len(plan["phases"]) * (args.seconds + args.warmup + 0.2 * args.rounds + 30) + 120
    subprocess.run([sys.executable, "-m", "bench.driver", str(plan_path), str(result_path)], cwd=ROOT,
                   env={**os.environ, **env}, check=True, timeout=budget)
    return json.loads(result_path.read_text())


def verify_meg_payments(env: dict[str, str], phase: dict, invoice_ids: list[int]) -> None:
    """How many « Payer » clicks did not become a payment Libeo accepted (the redirect alone does not tell),
    and how many of those it accepted it held for approval (the rows measure payments it schedules)."""
    recorded = held = 0
    if invoice_ids:
        out = subprocess.run([sys.executable, "-m", "bench.seed", "--count-paid", *map(str, invoice_ids)],
                             cwd=ROOT, env={**os.environ, **env}, check=True, capture_output=True, text=True)
        recorded, held = map(int, out.stdout.strip().splitlines()[-1].split())
    phase.update(checked=len(invoice_ids), unconfirmed=len(invoice_ids) - recorded, held=held)


def _reference_command(env: dict[str, str], *argv: str) -> str:
    out = subprocess.run([sys.executable, "-m", "bench.reference", *argv], cwd=ROOT, env={**os.environ, **env},
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def _product_options(args) -> dict:
    worker_class = "gthread" if args.threads > 1 else args.worker_class
    return {"workers": args.workers, "threads": args.threads, "worker_class": worker_class}


def run_combined(args, env, work: Path, size: int, tenants: list[dict]) -> list[dict]:
    """The combined app (MEG → Libeo in-process), the minimal list in its own gunicorn beside it."""
    plan_phases = phases(args, apart=False)
    if not plan_phases:
        return []
    with Servers() as servers:
        reference = servers.start("minimal list", "bench.reference:list_app", env, work / f"list-{size}.log",
                                  workers=args.workers, probe="/ref/reglements/1")
        port = free_port()  # the products' own URL: their pages' links and the in-process transport's target
        product = servers.start("MEG + Libeo", "bench.wsgi:app",
                                {**env, "BENCH_SIDES": "meg,libeo", "PUBLIC_URL": f"http://127.0.0.1:{port}"},
                                work / f"products-{size}.log", probe="/meg/hello", port=port,
                                **_product_options(args))
        servers.wait_ready()
        routes = {"/meg": product.port, "/libeo": product.port, "/ref/hello": product.port,
                  "/ref/reglements": reference.port}
        signing = {"keys_dir": str(Path(env["INSTANCE_PATH"]) / "meg_oauth"),
                   "issuer": f"http://127.0.0.1:{port}/meg"}
        result = drive(args, env, routes, tenants, plan_phases, work, f"combined-{size}", servers.cpu_groups(args),
                       signing)
    paid, selected = result["meg_paid_invoice_ids"], result["meg_selection_invoice_ids"]
    for phase in result["phases"]:
        if phase["name"] == "meg_pay":
            verify_meg_payments(env, phase, paid)
        if phase["name"] == "meg_pay_selection":  # 20 invoices a request: each checked
            verify_meg_payments(env, phase, selected)
    return result["phases"]


def run_apart(args, env, work: Path, size: int, tenants: list[dict]) -> list[dict]:
    """MEG and Libeo each in its own gunicorn, real HTTP between them; the minimal two-service pay likewise."""
    plan_phases = phases(args, apart=True)
    if not plan_phases:
        return []
    ref_env = {**env, "REF_FRONT_DATABASE_URL": f"sqlite:///{work / f'ref-front-{size}.sqlite3'}",
               "REF_BACK_DATABASE_URL": f"sqlite:///{work / f'ref-back-{size}.sqlite3'}"}
    _reference_command(ref_env, "init", str(args.companies))
    meg_port, libeo_port = free_port(), free_port()
    meg_env = {**env, "BENCH_SIDES": "meg", "IN_PROCESS_TRANSPORT": "0", "PUBLIC_URL": f"http://127.0.0.1:{meg_port}",
               "LIBEO_URL": f"http://127.0.0.1:{libeo_port}/libeo"}
    libeo_env = {**env, "BENCH_SIDES": "libeo", "IN_PROCESS_TRANSPORT": "0",
                 "PUBLIC_URL": f"http://127.0.0.1:{libeo_port}", "MEG_URL": f"http://127.0.0.1:{meg_port}/meg"}
    with Servers() as servers:
        back = servers.start("minimal pay (back)", "bench.reference:pay_back_app", ref_env,
                             work / f"pay-back-{size}.log", workers=args.workers, probe="/ref/back/payments")
        front = servers.start("minimal pay (front)", "bench.reference:pay_front_app",
                              {**ref_env, "REF_BACK_URL": back.url}, work / f"pay-front-{size}.log",
                              workers=args.workers, probe="/ref/pay/1/1")
        meg = servers.start("MEG", "bench.wsgi:app", meg_env, work / f"meg-{size}.log", probe="/meg/hello",
                            port=meg_port, **_product_options(args))
        libeo = servers.start("Libeo", "bench.wsgi:app", libeo_env, work / f"libeo-{size}.log",
                              probe="/libeo/hello", port=libeo_port, **_product_options(args))
        servers.wait_ready()
        # As a deployment does (README « Production »): Libeo holds MEG's keys before the first « Payer ».
        subprocess.run([sys.executable, "-m", "flask", "--app", "app", "libeo", "meg-keys"], cwd=ROOT,
                       env={**os.environ, **libeo_env}, check=True, capture_output=True)
        routes = {"/meg": meg.port, "/libeo": libeo.port, "/ref/hello": meg.port, "/ref/pay": front.port}
        result = drive(args, env, routes, tenants, plan_phases, work, f"apart-{size}", servers.cpu_groups(args))
    paid = result["meg_paid_invoice_ids"]
    for phase in result["phases"]:
        if phase["name"] == "meg_pay_apart":
            verify_meg_payments(env, phase, paid)
        if phase["name"] == "ref_pay":
            # Every click (warm-up included) must have become a back-service payment.
            phase["unconfirmed"] = int(_reference_command(ref_env, "unpaid"))
    return result["phases"]


def revision() -> str:
    """The code measured: commit, and « -dirty » when tracked files differ from it."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def copy_databases(args, env: dict[str, str], work: Path) -> dict[str, str]:
    """A copy of both seeded databases, for the pass deployed apart: it pays the same fresh invoices."""
    if args.db == "postgresql":
        import psycopg
        from sqlalchemy.engine import make_url

        urls = {}
        admin = make_url(args.pg_url).set(drivername="postgresql", database="postgres")
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
            for key in ("MEG_DATABASE_URL", "LIBEO_DATABASE_URL"):
                source = make_url(env[key])
                name = f"{source.database}_apart"
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source.database}"')
                urls[key] = source.set(database=name).render_as_string(hide_password=False)
        return urls
    urls = {}
    for key, name in (("MEG_DATABASE_URL", "meg"), ("LIBEO_DATABASE_URL", "libeo")):
        # The previous size's copy leaves its WAL and shared memory behind: SQLite would read that WAL
        # into the new copy (« malformed database schema », the second size's pass failing at once).
        for suffix in ("-wal", "-shm"):
            (work / f"{name}-apart.sqlite3{suffix}").unlink(missing_ok=True)
        for suffix in ("", "-wal"):
            seeded = work / f"{name}.sqlite3{suffix}"
            if seeded.exists():
                shutil.copyfile(seeded, work / f"{name}-apart.sqlite3{suffix}")
        urls[key] = f"sqlite:///{work / f'{name}-apart.sqlite3'}"
    return urls


def fitting_pay_requests(asked: int, size: int, concurrency: int) -> int:
    """The pay rows' requests that the measured companies' share of ``size`` invoices can hold.

    Each measured company holds its pay pool, its selection pool and its background invoices; at
    1,000 invoices and 4 users, the 500 requests asked do not fit beside the selection's."""
    room = size // concurrency - selection_pool() - BACKGROUND_PER_TENANT - WARMUP_PAY_REQUESTS
    return max(1, min(asked, room * concurrency))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    RESULTS.mkdir(exist_ok=True)
    code = revision()
    work = Path(tempfile.mkdtemp(prefix="meg-libeo-bench-"))
    env = environment(args, work)
    runs = []
    asked_pay_requests = args.pay_requests
    try:
        for size in args.sizes:
            args.pay_requests = fitting_pay_requests(asked_pay_requests, size, args.concurrency)
            if args.pay_requests < asked_pay_requests:
                print(f"[{size:,} invoices per side] the pay rows take {args.pay_requests} requests each: "
                      f"the measured companies' invoices must fit in {size:,}", file=sys.stderr, flush=True)
            reset_databases(args, env, work)
            load = os.getloadavg()[0]
            started = time.perf_counter()
            tenants = seed_size(args, env, size)
            seeded = time.perf_counter() - started
            print(f"[{size:,} invoices per side] seeded in {seeded:.1f} s ({args.db}, load {load:.1f})",
                  file=sys.stderr, flush=True)
            results = []
            if "socket" in args.transports:
                apart_env = {**env, **copy_databases(args, env, work)}
            if "in-process" in args.transports:
                results += run_combined(args, env, work, size, tenants)
            if "socket" in args.transports:
                results += run_apart(args, apart_env, work, size, tenants)
            runs.append({"phases": results, "size": size, "load_before": load, "seed_seconds": seeded,
                         "load_after": os.getloadavg()[0]})
    finally:
        if args.keep:
            print(f"bench: kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    meta = {"db": args.db, "transport": " and ".join(args.transports), "companies": args.companies,
            "seconds": args.seconds, "rounds": args.rounds, "concurrency": args.concurrency,
            "connections": args.connections, "workers": args.workers, "threads": args.threads,
            "worker_class": "gthread" if args.threads > 1 else args.worker_class,
            "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
            "date": datetime.now().isoformat(timespec="seconds"), "cpus": os.cpu_count(), "revision": code}
    table = render(runs, meta)
    print(table)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"bench-{args.db}-{stamp}.md").write_text(table + "\n")
    (RESULTS / f"bench-{args.db}-{stamp}.json").write_text(json.dumps({"meta": meta, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
