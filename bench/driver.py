"""The load driver: ``python -m bench.driver PLAN.json RESULT.json``.

Runs in its own process, apart from the server. One thread per connection,
each with its own keep-alive connection and its own logins (done once, cookies
kept) as one of the tenants, runs every phase for a bounded time (and, for the
rows that consume fresh invoices, a bounded count), in step with the other
threads. The rows that read are loaded by every connection (``connections``,
16 by default, as the budgets define it); the rows that pay, by one connection per
tenant: 4 concurrent users. Only
127.0.0.1 is ever contacted. Writes, per phase: requests, errors, duration,
latencies (p50/p95/p99) and the SQL counts the server reported.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlencode

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
SQL_HEADER = "X-SQL-Queries"
HOST = "127.0.0.1"  # the only host ever loaded
LIBEO_LOGIN = "/libeo/connexion"
LIBEO_INVOICES = "/libeo/factures/"
# « Payer la sélection »: each request pays this many invoices; each user sends this many requests.
SELECTION_SIZE = 20
SELECTION_REQUESTS = 5


class DriverError(Exception):
    pass


SIGNER = None  # set by main() from the plan's « meg_signing »: signs as MEG's client does


def meg_signer(spec: dict):
    """Signs MEG's « MEG-Initiator » with MEG's own key (its instance folder), as MEG's client does."""
    from pathlib import Path

    from joserfc import jwt

    from models.meg.signing import ID_TOKEN_ALG, INITIATOR_PURPOSE, VOUCH_AUDIENCE, load_or_create_key

    key = load_or_create_key(Path(spec["keys_dir"]))

    def sign(email: str, siret: str) -> str:
        now = int(time.time())
        claims = {"iss": spec["issuer"], "aud": VOUCH_AUDIENCE, "iat": now, "exp": now + 300,
                  "jti": uuid.uuid4().hex, "purpose": INITIATOR_PURPOSE, "sub": email, "email": email,
                  "role": "user", "company_id": 0, "company_siret": siret}
        return jwt.encode({"alg": ID_TOKEN_ALG, "kid": key.kid}, claims, key)

    return sign


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


class Client:
    """Keep-alive HTTP/1.1 connections (one per server) with the cookies of one person, per product.

    ``routes`` maps a path prefix to the port of the server that answers it
    (the products, apart or combined, and the reference services); the
    longest prefix wins. A server that closes each connection (gunicorn's sync
    workers) gets a new one for the next request.
    """

    def __init__(self, host: str, routes: dict[str, int]) -> None:
        self.host = host
        self.routes = sorted(routes.items(), key=lambda item: -len(item[0]))
        self.cookies: dict[str, dict[str, str]] = {"/meg": {}, "/libeo": {}, "/ref": {}}
        self.conns: dict[int, http.client.HTTPConnection] = {}

    def port(self, path: str) -> int:
        for prefix, port in self.routes:
            if path.startswith(prefix):
                return port
        raise DriverError(f"no server for {path}")

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()
        self.conns.clear()

    def reconnect(self) -> None:
        self.close()

    def request(self, method: str, path: str, *, body: bytes | None = None, headers: dict | None = None,
                keep_cookies: bool = True) -> Reply:
        jar = self.cookies["/meg" if path.startswith("/meg") else "/libeo" if path.startswith("/libeo") else "/ref"]
        headers = dict(headers or {})
        if jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        port = self.port(path)
        for attempt in (1, 2):
            conn = self.conns.get(port)
            if conn is None:
                conn = self.conns[port] = http.client.HTTPConnection(self.host, port, timeout=60)
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, ConnectionError, OSError):
                # A keep-alive connection the server closed while idle: once more on a new one.
                conn.close()
                del self.conns[port]
                if attempt == 2:
                    raise
        if keep_cookies:
            for line in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = line.partition("=")
                jar[name.strip()] = rest.split(";", 1)[0]
        return Reply(response.status, response.headers, data)

    def csrf(self, reply: Reply) -> str:
        match = CSRF.search(reply.body.decode("utf-8", "replace"))
        if not match:
            raise DriverError(f"no CSRF token in the page (HTTP {reply.status})")
        return match.group(1) or match.group(2)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Worker:
    tenant: dict
    client: Client
    meg_csrf: str = ""
    cursor: Counter = field(default_factory=Counter)

    def login(self, password: str, libeo: bool) -> None:
        c = self.client
        page = c.request("GET", "/meg/connexion")
        form = {"email": self.tenant["email"], "password": password, "csrf_token": c.csrf(page)}
        reply = c.request("POST", "/meg/connexion", body=urlencode(form).encode(), headers=FORM)
        if reply.status != 302:
            raise DriverError(f"MEG login refused (HTTP {reply.status})")
        # The first page stores the company and a CSRF token in the session;
        # the cookie is then kept as is (flash messages of « Payer » are not kept).
        self.meg_csrf = c.csrf(c.request("GET", "/meg/achats/reglements"))
        if not libeo:
            return
        page = c.request("GET", LIBEO_LOGIN)
        form = {"email": self.tenant["email"], "password": password}
        if page.status == 200 and b"csrf_token" in page.body:
            form["csrf_token"] = c.csrf(page)
        reply = c.request("POST", LIBEO_LOGIN, body=urlencode(form).encode(), headers=FORM)
        if reply.status != 302:
            raise DriverError(f"Libeo login refused (HTTP {reply.status})")
        c.request("GET", LIBEO_INVOICES)

    def next_item(self, pool: str):
        items = self.tenant[pool]
        i = self.cursor[pool]
        if i >= len(items):
            return None
        self.cursor[pool] += 1
        return items[i]

    # Each returns (method, path, body, headers, expected status), or None when its pool is used up.
    def meg_hello(self):
        return "GET", "/meg/hello", None, {}, 200

    def libeo_hello(self):
        return "GET", "/libeo/hello", None, {}, 200

    def ref_hello(self):
        return "GET", "/ref/hello", None, {}, 200

    def ref_settlements(self):
        return "GET", f"/ref/reglements/{self.tenant['number']}", None, {}, 200

    def meg_settlements(self):
        return "GET", "/meg/achats/reglements", None, {}, 200

    def meg_settlements_filtered(self):
        # A supplier's Libeo invoices due this month, the largest first.
        return ("GET", "/meg/achats/reglements?q=Fournisseur%201&mode=libeo&periode=mois&min=10&tri=-montant",
                None, {}, 200)

    def meg_settlements_searched(self):
        # An amount typed the French way (« 1 234,50 »), accents and case ignored on the names.
        return "GET", "/meg/achats/reglements?q=1%20234%2C50", None, {}, 200

    def libeo_payments_filtered(self):
        return "GET", "/libeo/paiements/?etat=payes&q=fournisseur&tri=-montant", None, {}, 200

    def meg_invoices_tab(self):
        # « À régler » by due date, with the four tabs' counts of the company's invoices.
        return "GET", "/meg/achats/?etat=a_regler&tri=echeance", None, {}, 200

    def meg_invoice(self):
        ids = self.tenant["meg_invoice_ids"] + self.tenant["meg_pay_pool"]
        invoice_id = ids[self.cursor["detail"] % len(ids)]
        self.cursor["detail"] += 1
        return "GET", f"/meg/achats/factures/{invoice_id}", None, {}, 200

    def libeo_invoices(self):
        return "GET", LIBEO_INVOICES, None, {}, 200

    def _api(self, extra: dict | None = None) -> dict:
        return {"Authorization": f"Bearer {self.tenant['api_key']}", "Accept": "application/json", **(extra or {})}

    def libeo_api_me(self):
        return "GET", "/libeo/api/v1/me", None, self._api(), 200

    def libeo_api_pay(self):
        external_id = self.next_item("libeo_pay_pool")
        if external_id is None:
            return None
        body = json.dumps({"initiated_by": {"email": self.tenant["email"], "role": "user"}}).encode()
        headers = self._api({"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())})
        if SIGNER is not None:  # MEG's signed word on who pays, as MEG sends it (Libeo requires it)
            headers["MEG-Initiator"] = SIGNER(self.tenant["email"], self.tenant["siret"])
        return "POST", f"/libeo/api/v1/invoices/{external_id}/payments", body, headers, 201

    def meg_pay(self):
        invoice_id = self.next_item("meg_pay_pool")
        if invoice_id is None:
            return None
        self.tenant.setdefault("paid", []).append(invoice_id)
        body = urlencode({"csrf_token": self.meg_csrf, "next": "/meg/achats/reglements"}).encode()
        return "POST", f"/meg/achats/factures/{invoice_id}/payer", body, FORM, 302

    def meg_pay_selection(self):
        """« Confirmer les 20 paiements »: one round trip to Libeo for the twenty."""
        pool = self.tenant["meg_selection_pool"]
        start = self.cursor["selection"]
        chosen = pool[start:start + SELECTION_SIZE]
        if len(chosen) < SELECTION_SIZE:
            return None
        self.cursor["selection"] += SELECTION_SIZE
        self.tenant.setdefault("paid_selection", []).extend(chosen)
        body = urlencode([("csrf_token", self.meg_csrf), *(("facture", str(i)) for i in chosen)]).encode()
        return "POST", "/meg/achats/reglements/selection/confirmer", body, FORM, 302

    # Deployed apart: the same « Payer », MEG and Libeo each in its own gunicorn.
    meg_pay_apart = meg_pay

    def meg_pay_floor_apart(self):
        """« Payer »'s floor (``bench.wsgi``): the same two requests, their checks only, nothing written."""
        self.cursor["floor"] += 1
        body = urlencode({"csrf_token": self.meg_csrf, "next": "/meg/achats/reglements"}).encode()
        number = self.tenant["number"] * 1_000_000 + self.cursor["floor"]
        return "POST", f"/meg/achats/plancher/{number}", body, FORM, 302

    def ref_pay(self):
        """The minimal two-service pay: a click on the front service, its call to the back one."""
        self.cursor["ref_pay"] += 1
        return "POST", f"/ref/pay/{self.tenant['number']}/{self.cursor['ref_pay']}", b"", FORM, 302


@dataclass
class Samples:
    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    sql: Counter = field(default_factory=Counter)
    duration: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds each server spent in the measured time


CPU_GROUPS: dict[str, int] = {}  # the plan's « cpu »: a server's name → its gunicorn's process group
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) so far of each server's processes, from Linux's /proc (nothing elsewhere).

    A gunicorn and its workers share a process group (the bench starts each in its own session);
    PostgreSQL's processes are counted as one « PostgreSQL » server when the plan names it.
    """
    totals: dict[str, float] = {}
    if not CPU_GROUPS or not os.path.isdir("/proc"):
        return totals
    names = {group: name for name, group in CPU_GROUPS.items() if group > 0}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                head, _, tail = f.read().rpartition(")")
        except OSError:
            continue  # it ended meanwhile
        fields = tail.split()
        name = names.get(int(fields[2]))  # the process group
        if name is None and "PostgreSQL" in CPU_GROUPS and head.endswith("(postgres"):
            name = "PostgreSQL"
        if name is not None:
            totals[name] = totals.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / TICKS
    return totals


def _run(worker: Worker, name: str, samples: Samples, deadline: float, limit: int | None, record: bool) -> None:
    make = getattr(worker, name)
    done = 0
    while time.perf_counter() < deadline and (limit is None or done < limit):
        item = make()
        if item is None:
            break
        method, path, body, headers, expected = item
        start = time.perf_counter()
        reply = worker.client.request(method, path, body=body, headers=headers, keep_cookies=False)
        elapsed = time.perf_counter() - start
        done += 1
        if not record:
            continue
        if reply.status == expected:
            samples.latencies.append(elapsed)
        else:
            samples.errors[f"HTTP {reply.status}"] += 1
        samples.sql[reply.headers.get(SQL_HEADER, "?")] += 1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def run_phase(workers: list[Worker], phase: dict, seconds: float, warmup: float,
              into: Samples | None = None) -> Samples:
    """One timed pass of a row; its samples are added to ``into`` (a row measured in several rounds)."""
    name = phase["name"]
    per_thread_limit = phase.get("limit")
    warm_count = phase.get("warmup_requests")
    # Warm-up, not recorded: a short time, or a few requests for the rows that consume invoices.
    _parallel(workers, lambda w: _run(w, name, Samples(), time.perf_counter() + warmup, warm_count, False))
    parts = [Samples() for _ in workers]
    cpu_before = cpu_seconds()
    start = time.perf_counter()
    deadline = start + seconds
    _parallel_indexed(workers, lambda i, w: _run(w, name, parts[i], deadline, per_thread_limit, True))
    total = into or Samples()
    total.duration += time.perf_counter() - start
    for server, seconds in cpu_seconds().items():
        total.cpu[server] = total.cpu.get(server, 0.0) + seconds - cpu_before.get(server, 0.0)
    for part in parts:
        total.latencies.extend(part.latencies)
        total.errors.update(part.errors)
        total.sql.update(part.sql)
    return total


def summary(name: str, samples: Samples) -> dict:
    latencies = samples.latencies
    result = {"name": name, "requests": len(latencies) + sum(samples.errors.values()), "ok": len(latencies),
              "errors": dict(samples.errors), "duration": samples.duration, "sql": dict(samples.sql),
              "cpu": dict(samples.cpu)}
    if latencies:
        result.update({"p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
                       "p99": percentile(latencies, 99), "mean": sum(latencies) / len(latencies)})
    return result


def _parallel(workers: list[Worker], job) -> None:
    _parallel_indexed(workers, lambda i, w: job(w))


def _parallel_indexed(workers: list[Worker], job) -> None:
    barrier = threading.Barrier(len(workers))
    failures: list[BaseException] = []

    def target(i: int, w: Worker) -> None:
        barrier.wait()
        try:
            job(i, w)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=target, args=(i, w)) for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]


def main(plan_path: str, result_path: str) -> None:
    with open(plan_path) as f:
        plan = json.load(f)
    global SIGNER
    if plan.get("meg_signing"):
        SIGNER = meg_signer(plan["meg_signing"])
    CPU_GROUPS.update(plan.get("cpu") or {})
    tenants = plan["tenants"]
    connections = max(len(tenants), plan.get("connections", len(tenants)))
    # Connection i signs in as tenant i mod n: the first n are the paying users.
    workers = [Worker(tenants[i % len(tenants)], Client(HOST, plan["routes"])) for i in range(connections)]
    payers = workers[:len(tenants)]
    names = {p["name"] for p in plan["phases"]}
    libeo_pages = bool(names & {"libeo_invoices", "libeo_payments_filtered"})
    if names - {"ref_hello", "ref_settlements", "ref_pay", "libeo_hello", "libeo_api_me", "libeo_api_pay"}:
        _parallel(workers, lambda w: w.login(plan["password"], libeo_pages))
    # Rows that read are measured in rounds, each a slice of their time, in turn with
    # the other rows (reference pages included): a slow spell of the machine then
    # falls on every row alike instead of on the one it happened to meet.
    reading = [p for p in plan["phases"] if "limit" not in p]
    rounds = max(1, plan.get("rounds", 1))
    samples = {p["name"]: Samples() for p in plan["phases"]}
    for turn in range(rounds):
        warmup = plan["warmup"] if turn == 0 else min(plan["warmup"], 0.2)
        for phase in reading:
            for w in workers:
                w.client.reconnect()
            run_phase(workers, phase, plan["seconds"] / rounds, warmup, samples[phase["name"]])
    for w in workers[len(payers):]:
        w.client.close()
    for phase in plan["phases"]:
        if "limit" in phase:
            for w in payers:
                w.client.reconnect()
            run_phase(payers, phase, plan["seconds"], plan["warmup"], samples[phase["name"]])
    results = [summary(p["name"], samples[p["name"]]) for p in plan["phases"]]
    for r in results:
        print(f"  {r['name']:<16} {r['requests']:>6} requests", file=sys.stderr, flush=True)
    paid = [i for w in payers for i in w.tenant.get("paid", [])]
    selected = [i for w in payers for i in w.tenant.get("paid_selection", [])]
    with open(result_path, "w") as f:
        json.dump({"phases": results, "meg_paid_invoice_ids": paid, "meg_selection_invoice_ids": selected}, f)


if __name__ == "__main__":
    main(*sys.argv[1:3])
