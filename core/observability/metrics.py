"""Prometheus metrics: each product's requests and counters, and its gauges read at scrape time.

Names start with the product (``meg_…``, ``libeo_…``): in the combined run
both products count in one process, and each ``/metrics`` serves its own.

Under gunicorn's several workers, ``PROMETHEUS_MULTIPROC_DIR`` names an empty
directory (emptied before each start) where every worker writes its counts:
``/metrics`` answers from whichever worker with the sum of all of them
(prometheus_client's multiprocess mode). It must be set before the server
starts: prometheus_client chooses how to keep values when it is imported.

Gauges (work waiting, its age) are not kept in processes at all: each scrape
reads them from the database with a fixed number of queries, so they are the
same whichever worker, host or command reads them.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from ipaddress import ip_address

from flask import Request
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: the pages answer in milliseconds, a call that waits for the other product in seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

log = logging.getLogger(__name__)
# « …_created » samples (when each series began) say nothing an alert uses, and double the text.
disable_created_metrics()

_made: dict[str, object] = {}
_making = threading.Lock()


def _once(name: str, make: Callable[[], object]):
    """Each metric is created once per process (factories run many times in tests)."""
    made = _made.get(name)
    if made is None:
        with _making:
            made = _made.get(name)
            if made is None:
                made = _made[name] = make()
    return made


def counter(name: str, documentation: str, labelnames: tuple[str, ...] = ()) -> Counter:
    return _once(name, lambda: Counter(name, documentation, labelnames))


def histogram(name: str, documentation: str, labelnames: tuple[str, ...] = (),
              buckets: tuple[float, ...] = LATENCY_BUCKETS) -> Histogram:
    return _once(name, lambda: Histogram(name, documentation, labelnames, buckets=buckets))


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class RequestMetrics:
    """The count and duration of a product's answers, by endpoint, method and status.

    One histogram: its ``…_count`` is the number of answers (a separate
    counter would write the same number a second time on every request).
    """

    def __init__(self, product: str) -> None:
        self.duration = histogram(f"{product}_http_request_duration_seconds",
                                  "Time to answer an HTTP request, body included; its _count counts the answers.",
                                  ("endpoint", "method", "status"))
        self._children: dict[tuple[str, str, str], Histogram] = {}

    def observe(self, endpoint: str | None, method: str, status: int, seconds: float) -> None:
        key = (endpoint or "none", method if method in METHODS else "other", str(status))
        child = self._children.get(key)
        if child is None:
            child = self._children.setdefault(key, self.duration.labels(*key))
        child.observe(seconds)


# --- gauges read at scrape time --------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """One gauge's value as read now (``labels``: e.g. the company of a per-company gauge)."""

    name: str
    help: str
    value: float
    labels: tuple[tuple[str, str], ...] = field(default=())


class ReadingsCollector:
    """Yields a product's gauges, read when collected; ``<product>_gauges_up`` says whether they could be."""

    def __init__(self, product: str, read: Callable[[], Iterable[Reading]]) -> None:
        self.product = product
        self.read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            readings = list(self.read())
            up = 1.0
        except Exception:
            log.exception("Les jauges de %s n'ont pas pu être lues dans la base", self.product)
            readings, up = [], 0.0
        families: dict[str, GaugeMetricFamily] = {}
        for reading in readings:
            family = families.get(reading.name)
            if family is None:
                family = families[reading.name] = GaugeMetricFamily(
                    reading.name, reading.help, labels=[name for name, _ in reading.labels])
            family.add_metric([value for _, value in reading.labels], reading.value)
        yield from families.values()
        yield GaugeMetricFamily(f"{self.product}_gauges_up",
                                "Whether the gauges could be read from the database (1) or not (0).", value=up)


class _Prefixed:
    """The families of ``source`` whose names start with ``prefix`` (one product's, in a shared process)."""

    def __init__(self, source, prefix: str) -> None:
        self.source, self.prefix = source, prefix

    def collect(self):
        return (family for family in self.source.collect() if family.name.startswith(self.prefix))


def counted(product: str):
    """Where a product's counts are read: every worker's files, or this process's registry."""
    source = MultiProcessCollector(None) if multiprocess() else REGISTRY
    return _Prefixed(source, f"{product}_")


def exposition(product: str, read: Callable[[], Iterable[Reading]] | None) -> bytes:
    """The text ``/metrics`` answers: the product's counts, then its gauges (read now)."""
    registry = CollectorRegistry()  # auto_describe off: registering collects nothing
    registry.register(counted(product))
    if read is not None:
        registry.register(ReadingsCollector(product, read))
    return generate_latest(registry)


def counter_values(product: str) -> dict[str, float] | None:
    """The product's counters summed over every worker (``…_total`` samples without labels), or None
    when this process cannot see the servers' (no ``PROMETHEUS_MULTIPROC_DIR``)."""
    if not multiprocess():
        return None
    values: dict[str, float] = {}
    for family in counted(product).collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                values[sample.name] = values.get(sample.name, 0.0) + sample.value
    return values


# --- who may read them -----------------------------------------------------------------------------


def may_read_metrics(request: Request, token: str | None) -> bool:
    """A caller on this machine reaching the server directly, or one presenting ``METRICS_TOKEN``.

    A request relayed by a proxy on the same machine comes from 127.0.0.1
    too: one that carries a forwarding header is not taken for a local one.
    """
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return True
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        return ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
