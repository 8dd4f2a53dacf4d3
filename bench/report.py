"""The rows the benchmark measures, and the one table it prints (Markdown)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Phase:
    name: str  # the driver's method
    label: str
    consumes_invoices: bool = False
    # The budget (README « Benchmark »): at least ``ratio`` × the requests per second
    # of the ``reference`` row, or a p95 of at most ``p95_ms``.
    reference: str | None = None
    ratio: float | None = None
    p95_ms: float | None = None
    # At most this multiple of the reference's p95.
    p95_ratio: float | None = None
    # Measured with the products deployed apart (two gunicorns, real HTTP between them).
    apart: bool = False
    # At most this many times the p50 of the ``per`` row, same run (« Payer la sélection »: 4 × one « Payer »).
    per: str | None = None
    times: float | None = None
    # Requests per user, for a row whose every request takes many fresh invoices.
    requests: int | None = None


BARE_HELLO, MINIMAL_LIST, MINIMAL_PAY = "ref_hello", "ref_settlements", "ref_pay"
PHASES = [
    Phase("ref_hello", "Reference: bare Flask « hello » (in the products' server)"),
    Phase("ref_settlements", "Reference: minimal Flask + SQLAlchemy list of the same 50 invoices (own gunicorn)"),
    Phase("meg_hello", "MEG `hello` (its own stack)", reference=BARE_HELLO),
    Phase("meg_settlements", "MEG « Règlements », page 1", reference=MINIMAL_LIST, ratio=0.6),
    # A filtered, sorted or searched list keeps the « Règlements » budget.
    Phase("meg_settlements_filtered", "MEG « Règlements », searched, filtered and sorted", reference=MINIMAL_LIST,
          ratio=0.6),
    Phase("meg_settlements_searched", "MEG « Règlements », an amount searched", reference=MINIMAL_LIST, ratio=0.6),
    Phase("meg_invoices_tab", "MEG « Factures », a state tab with the tabs' counts", reference=MINIMAL_LIST,
          ratio=0.6),
    Phase("meg_invoice", "MEG invoice detail", reference=MINIMAL_LIST),
    Phase("libeo_hello", "Libeo `hello` (its own stack)", reference=BARE_HELLO),
    Phase("libeo_invoices", "Libeo invoice list, page 1", reference=MINIMAL_LIST),
    Phase("libeo_payments_filtered", "Libeo « Paiements », a state tab searched and sorted", reference=MINIMAL_LIST,
          ratio=0.6),
    Phase("libeo_api_me", "Libeo API `GET /me`", reference=BARE_HELLO, ratio=0.4),
    Phase("libeo_api_pay", "Libeo API pay (`POST …/payments`)", True, reference=BARE_HELLO),
    Phase("meg_pay", "MEG « Payer » → Libeo, end to end (in-process)", True, reference=BARE_HELLO, p95_ms=60.0),
    Phase("meg_pay_selection", "MEG « Payer la sélection », 20 invoices, end to end (in-process)", True,
          per="meg_pay", times=4.0, requests=5),
    Phase("ref_pay", "Reference: minimal two-service pay, deployed apart", True, apart=True),
    # What « Payer » costs before its work: no budget, the measure of what the work may cost.
    Phase("meg_pay_floor_apart", "« Payer »'s floor: the same two requests, checks only, nothing written, apart",
          True, reference=MINIMAL_PAY, apart=True),
    Phase("meg_pay_apart", "MEG « Payer » → Libeo, deployed apart", True, reference=MINIMAL_PAY, ratio=0.7,
          p95_ratio=1.5, apart=True),
]
REFERENCE_LABELS = {BARE_HELLO: "bare hello", MINIMAL_LIST: "minimal list", MINIMAL_PAY: "minimal pay"}
BY_NAME = {p.name: p for p in PHASES}


def _verdict(phase: Phase, size: int, met: bool, what: str) -> str:
    return f"{'met' if met else 'MISSED'}: {phase.label} at {size:,} invoices: {what}"


def _per_side(counts: dict[str, int], suffix: str = "") -> str:
    """« 7 » for one side, « 9 + 5 » for MEG + Libeo, a range if requests differed."""
    meg, libeo = set(), set()
    if set(counts) <= {"?"}:
        return "—"  # a reference service: not counted
    for header in counts:
        parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        if not parts:
            return "?"
        meg.add(int(parts.get("meg" + suffix, 0)))
        libeo.add(int(parts.get("libeo" + suffix, 0)))

    def span(values: set[int]) -> str:
        return str(min(values)) if min(values) == max(values) else f"{min(values)}–{max(values)}"

    if max(libeo) == 0:
        return span(meg)
    if max(meg) == 0:
        return span(libeo)
    return f"{span(meg)} + {span(libeo)}"


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:.1f}"


def _constancy(runs: list[dict], results: dict, names: list[str]) -> str:
    """Whether each request ran the same SQL at every data size."""
    if len(runs) < 2:
        return "One data size measured: run with --sizes a,b to compare SQL statements per request."
    sizes = " and ".join(f"{run['size']:,}" for run in runs)
    differing = []
    for name in names:
        shapes = {(_per_side(r["sql"]), _per_side(r["sql"], "_commits"))
                  for r in (results.get((run["size"], name)) for run in runs) if r is not None}
        if len(shapes) > 1:
            differing.append(BY_NAME[name].label)
    if differing:
        return f"SQL statements per request DIFFER between {sizes} invoices for: " + "; ".join(differing) + "."
    return f"SQL statements and commits per request are the same at {sizes} invoices per side, for every row."


def _cpu_cell(r: dict) -> str | None:
    """« MEG 7.8 + Libeo 6.0 = 13.8 »: CPU milliseconds a request of each server that worked for the row."""
    if not r.get("cpu") or not r["requests"]:
        return None
    spent = sorted(((seconds * 1000 / r["requests"], server) for server, seconds in r["cpu"].items()), reverse=True)
    spent = [(ms, server) for ms, server in spent if ms >= 0.05]
    if not spent:
        return None
    parts = " + ".join(f"{server} {ms:.1f}" for ms, server in spent)
    return parts if len(spent) == 1 else f"{parts} = {sum(ms for ms, _ in spent):.1f}"


def _cpu_table(runs: list[dict], results: dict, names: list[str]) -> list[str]:
    """Where each row's CPU went, server by server: why a ratio is what it is, on a machine the servers share."""
    rows = []
    for name in names:
        for run in runs:
            r = results.get((run["size"], name))
            cell = _cpu_cell(r) if r else None
            if cell:
                rows.append(f"| {BY_NAME[name].label} | {run['size']:,} | {cell} |")
    if not rows:
        return []
    return ["", "CPU per request, by server (user + system time of its processes during the row's measured time, "
            "divided by its requests; the driver's own CPU is not counted):", "",
            "| Request | Invoices / side | CPU ms / request |", "|---|--:|---|", *rows]


def render(runs: list[dict], meta: dict) -> str:
    db = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[meta["db"]]
    workers = (f"{meta['workers']} sync workers" if meta.get("worker_class", "sync") == "sync"
               else f"{meta['workers']} workers × {meta['threads']} threads")
    lines = [
        f"MEG ↔ Libeo benchmark — {db}, {meta['companies']:,} companies per side, each server a gunicorn of "
        f"{workers} (references: {meta['workers']} sync workers), driver (separate process): "
        f"{meta.get('connections', meta['concurrency'])} connections on the rows that read, "
        f"{meta['concurrency']} users on the rows that pay, {meta['seconds']:g} s per row (reading rows in "
        f"{meta.get('rounds', 1)} interleaved rounds), {meta['cpus']} CPUs, MEG → Libeo {meta['transport']}, "
        f"{meta['date']}; 1-min load average before and after each size: "
        + " / ".join(f"{run['load_before']:.1f}–{run.get('load_after', run['load_before']):.1f}" for run in runs)
        + "; seeding: " + " / ".join(f"{run['seed_seconds']:.0f} s" for run in runs if "seed_seconds" in run),
        f"`{meta['command']}` on `{meta['revision']}`",
        "",
        "| Request | Invoices / side | req/s | p50 ms | p95 ms | p99 ms | SQL / req | commits / req | vs reference "
        "| requests (errors) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    verdicts = []
    results = {(run["size"], phase["name"]): phase for run in runs for phase in run["phases"]}
    names = [p.name for p in PHASES if any(n == p.name for _, n in results)]
    for name in names:
        phase = BY_NAME[name]
        for run in runs:
            r = results.get((run["size"], name))
            if r is None:
                continue
            rps = r["ok"] / r["duration"] if r["duration"] else 0.0
            reference = results.get((run["size"], phase.reference)) if phase.reference else None
            label = REFERENCE_LABELS[phase.reference] if phase.reference else ""
            ratio, measured = "—", None
            if reference and reference["ok"] and reference["duration"]:
                measured = rps / (reference["ok"] / reference["duration"])
                ratio = f"{measured:.2f} × {label}"
            if phase.ratio is not None and measured is not None:
                verdicts.append(_verdict(phase, run["size"], measured >= phase.ratio,
                                         f"{measured:.2f} × {label} "
                                         f"(budget ≥ {phase.ratio})"))
            if phase.p95_ms is not None and r.get("p95") is not None:
                verdicts.append(_verdict(phase, run["size"], r["p95"] * 1000 <= phase.p95_ms,
                                         f"p95 {r['p95'] * 1000:.1f} ms (budget ≤ {phase.p95_ms:g} ms)"))
            # Beside the minimal pay, each row's p95 too (« Payer »'s floor has no budget).
            shows_p95 = phase.p95_ratio is not None or phase.reference == MINIMAL_PAY
            if shows_p95 and r.get("p95") is not None and reference and reference.get("p95"):
                p95_ratio = r["p95"] / reference["p95"]
                ratio += f", p95 {p95_ratio:.2f} ×"
                if phase.p95_ratio is not None:
                    verdicts.append(_verdict(phase, run["size"], p95_ratio <= phase.p95_ratio,
                                             f"p95 {r['p95'] * 1000:.1f} ms = {p95_ratio:.2f} × the "
                                             f"{label}'s {reference['p95'] * 1000:.1f} ms "
                                             f"(budget ≤ {phase.p95_ratio:g} ×)"))
            single = results.get((run["size"], phase.per)) if phase.per else None
            if single and single.get("p50") is not None and r.get("p50") is not None:
                verdicts.append(_verdict(phase, run["size"], r["p50"] <= phase.times * single["p50"],
                                         f"p50 {r['p50'] * 1000:.1f} ms for 20 invoices, one « Payer » "
                                         f"{single['p50'] * 1000:.1f} ms (budget ≤ {phase.times:g} ×)"))
            # A refused « Payer » still redirects: the pay rows count what was recorded as paid instead.
            errors = max(sum(r["errors"].values()), r.get("unconfirmed", 0))
            lines.append(
                f"| {phase.label} | {run['size']:,} | {rps:,.0f} | {_ms(r.get('p50'))} | {_ms(r.get('p95'))} | "
                f"{_ms(r.get('p99'))} | {_per_side(r['sql'])} | {_per_side(r['sql'], '_commits')} | {ratio} "
                f"| {r['requests']:,} ({errors}) |"
            )
    if verdicts:
        lines += ["", "Budgets:"] + [f"- {verdict}" for verdict in verdicts]
    held = [f"{BY_NAME[name].label} at {size:,} invoices: {r['held']:,} of {r['checked']:,}"
            for (size, name), r in results.items() if "held" in r]
    if held:
        lines += ["", "Payments Libeo held for approval (« À approuver »; the pay rows measure payments it schedules): "
                  + "; ".join(held) + "."]
    lines += _cpu_table(runs, results, names)
    lines += ["", _constancy(runs, results, names)]
    lines += [
        "",
        "SQL / req: statements per request (BEGIN excluded), « MEG + Libeo » when one request runs on both sides; "
        "commits / req: commits of transactions that wrote (each one a durable write; a transaction that "
        "only read ends without one and is not counted). "
        "A range (5–6) means the row's requests differ in kind, not in data size: the detail of a "
        "« Virement par Libeo » invoice also reads its Libeo payment attempts. "
        "vs reference: requests per second as a fraction of the reference's, same run (bare hello: a Flask app "
        "with one route and nothing else, mounted in the products' server; minimal list: a minimal Flask + "
        "SQLAlchemy 2 ORM app in its own gunicorn listing the same 50 invoices, no login, layout or CSRF; "
        "minimal pay: a front service recording the request and its answer, calling a back service that claims "
        "the key, takes a quota slot and inserts the payment, each its own gunicorn and SQLite database, beside "
        "MEG and Libeo deployed apart, each its own gunicorn). The pay rows each use fresh invoices (and fresh "
        "Idempotency-Keys), so they stop after their pool of invoices; the pass deployed apart pays the same "
        "invoices on a copy of the seeded databases. « Payer »'s floor: MEG's and Libeo's halves of a « Payer » "
        "with what each checks before any work (the signed-in person, CSRF, the connection and its key, MEG's "
        "signed word on who pays; Libeo: the key and its account, the body's schema, the signature) and nothing "
        "written: what the minimal pay compares with before « Payer »'s own work (bench/wsgi.py).",
    ]
    return "\n".join(lines)
