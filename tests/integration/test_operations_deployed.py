"""Operations with the two products deployed apart, as production runs them.

Each under its own gunicorn, logging JSON lines; MEG reaches Libeo through the fault proxy. A lost
answer shows in MEG's gauges and one sync pass clears it; one « Payer » is one request id in both
servers' logs; two gunicorn workers count as one server; with an OTLP endpoint, one « Payer » is
one trace across both products.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from .deployment import Deployment, WebClient
from .test_deployed_apart import libeo_invoice_ids
from .test_payment_truth_faults import PAYMENTS, chosen_date, confirm_payment, connect

DEMO_PASSWORD = "demo-meg-2026"
LIBEO_PASSWORD = "mot-de-passe-solide-42"


def scrape(deployment, side: str) -> dict:
    answer = requests.get(deployment.url(side) + "/metrics", timeout=10)
    assert answer.status_code == 200, answer.text
    found = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def gauge(found: dict, name: str, **labels) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


def json_lines(deployment, side: str) -> list[dict]:
    """The product's own log lines (gunicorn's start-up lines are its own text)."""
    return [json.loads(line) for line in deployment.log(side).splitlines() if line.startswith("{")]


def request_line(deployment, side: str, path: str, method: str = "POST") -> list[dict]:
    return [line for line in json_lines(deployment, side)
            if line["logger"] == f"{side}.requests" and line.get("path") == path and line.get("method") == method]


@pytest.fixture
def observed(tmp_path, worker_id_safe):
    """Both products deployed apart, logging JSON lines, MEG reaching Libeo through the fault proxy."""
    apart = Deployment(tmp_path, worker_id_safe, with_proxy=True)
    for side in apart.sides.values():
        side.env["LOG_FORMAT"] = "json"
    apart.set_up()
    apart.start("libeo")
    apart.start("meg")
    yield apart
    apart.close()


def test_a_lost_answer_raises_megs_unheard_gauge_and_one_sync_pass_lowers_it(observed):
    libeo, meg = connect(observed)
    observed.flask("meg", "meg", "sync")  # the sync worker is running
    (invoice_id, _number), *_ = libeo_invoice_ids(observed)
    assert gauge(scrape(observed, "meg"), "meg_unheard_payment_requests") == 0

    observed.proxy.drop_answers(PAYMENTS)
    assert "Vérification en cours" in confirm_payment(meg, invoice_id, chosen_date())
    found = scrape(observed, "meg")
    assert gauge(found, "meg_unheard_payment_requests") == 1
    assert 0 <= gauge(found, "meg_unheard_payment_requests_oldest_age_seconds") < 120
    assert gauge(scrape(observed, "libeo"), "libeo_payments", state="scheduled") == 1  # Libeo did pay
    status = observed.flask("meg", "meg", "status", check=False)
    assert status.returncode == 0, status.stdout  # not an hour old yet: no one to wake
    assert re.search(r"Demandes de paiement sans réponse de Libeo +1 \(la plus ancienne : \d+ s\)", status.stdout)

    observed.proxy.heal()
    observed.flask("meg", "meg", "sync")
    found = scrape(observed, "meg")
    assert gauge(found, "meg_unheard_payment_requests") == 0
    assert gauge(found, "meg_sync_last_success_timestamp_seconds") > time.time() - 60
    libeo_found = scrape(observed, "libeo")
    assert gauge(libeo_found, "libeo_idempotency_replays_total") >= 1  # the replay got the stored answer
    assert gauge(libeo_found, "libeo_payments", state="scheduled") == 1  # still one payment

    # One « Payer »: one request id in MEG's line and in Libeo's (each try through the proxy).
    [pay_line] = request_line(observed, "meg", f"/achats/factures/{invoice_id}/payer")
    payments_path = f"/api/v1/invoices/meg-{invoice_id}/payments"
    libeo_lines = request_line(observed, "libeo", payments_path)
    assert pay_line["request_id"] in {line["request_id"] for line in libeo_lines}
    assert pay_line["user_id"] and pay_line["account_id"] and pay_line["route"] == "achats.pay"
    # The sync pass's replay: its own id, on both sides.
    replays = [line for line in libeo_lines if line["request_id"] != pay_line["request_id"]]
    assert replays and all(line["status"] == 201 for line in replays)

    logged = observed.log("meg") + observed.log("libeo")
    for secret in (DEMO_PASSWORD, LIBEO_PASSWORD, "apart-meg-secret", "apart-libeo-secret"):
        assert secret not in logged
    assert not re.search(r"lbo_[a-z]+_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}", logged)
    assert not re.search(r"\bFR\d{2}(?: ?[A-Z0-9]{4}){5}", logged)


def test_under_gunicorn_with_two_workers_the_metrics_are_the_sum_of_both(deployment, tmp_path):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    deployment.sides["libeo"].env["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    deployment.start("libeo", workers=2, threads=1)  # sync workers: a busy one leaves the next call to the other
    url = deployment.url("libeo")

    def hit(_):
        return requests.get(url + "/healthz", headers={"Connection": "close"}, timeout=10).status_code

    labels = {"endpoint": "observability.healthz", "method": "GET", "status": "200"}

    def per_worker() -> dict[str, float]:
        counts = {}
        for path in folder.glob("histogram_*.db"):
            merged = MultiProcessCollector.merge([str(path)])
            counts[path.name] = sum(sample.value for family in merged for sample in family.samples
                                    if sample.name == "libeo_http_request_duration_seconds_count"
                                    and sample.labels == labels)
        return counts

    # Calls until both workers have answered some (the second may still be starting), at most 30 s.
    sent, deadline = 0, time.monotonic() + 30
    with ThreadPoolExecutor(8) as pool:
        while len([n for n in per_worker().values() if n]) < 2 and time.monotonic() < deadline:
            assert set(pool.map(hit, range(40))) == {200}
            sent += 40
    # Each worker wrote its own counts…
    assert len([n for n in per_worker().values() if n]) == 2, per_worker()
    assert sum(per_worker().values()) == sent
    # …and whichever worker answers the scrape says the sum.
    for _ in range(6):
        found = scrape(deployment, "libeo")
        assert gauge(found, "libeo_http_request_duration_seconds_count", **labels) == sent

    # The status command reads the servers' counters from the same directory.
    for _ in range(3):
        requests.get(url + "/api/v1/me", headers={"Authorization": "Bearer lbo_meg_0123456789ab_" + "x" * 43},
                     timeout=10)
    status = deployment.flask("libeo", "libeo", "status", check=False)
    assert re.search(r"Clés d'API refusées +3 depuis le démarrage des serveurs", status.stdout), status.stdout


# --- traces -------------------------------------------------------------------------------------------


class Collector:
    """A tiny OTLP/HTTP receiver on 127.0.0.1: the spans each service exported."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        self.spans: list[dict] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                export = ExportTraceServiceRequest.FromString(body)
                for resource_spans in export.resource_spans:
                    service = next(a.value.string_value for a in resource_spans.resource.attributes
                                   if a.key == "service.name")
                    for scope in resource_spans.scope_spans:
                        for span in scope.spans:
                            collector.spans.append({
                                "service": service, "trace_id": span.trace_id.hex(), "name": span.name,
                                "scope": scope.scope.name,
                                "attributes": {a.key: a.value.string_value or a.value.int_value
                                               for a in span.attributes},
                            })
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def collector():
    received = Collector()
    yield received
    received.close()


def test_with_an_otlp_endpoint_one_payer_is_one_trace_across_both_products(deployment, collector):
    from .test_deployed_apart import libeo_signup_and_key, meg_login

    for side in deployment.sides.values():
        side.env.update({"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "100"})
    deployment.start("libeo")
    deployment.start("meg")
    libeo, meg = deployment.client("libeo"), deployment.client("meg")
    key = libeo_signup_and_key(libeo)
    meg_login(meg)
    assert "La connexion est établie" in WebClient.text(meg.submit("/achats/options", data={"api_key": key}))
    (invoice_id, _), *_ = libeo_invoice_ids(deployment)
    paid = meg.submit("/achats/reglements", f"/achats/factures/{invoice_id}/payer", {"next": "/achats/reglements"})
    assert "Paiement programmé" in WebClient.text(paid)

    def payer_trace() -> tuple[str, list[dict]] | None:
        for span in list(collector.spans):
            if span["service"] == "meg" and span["scope"].endswith("flask") and "payer" in span["name"]:
                trace = [s for s in collector.spans if s["trace_id"] == span["trace_id"]]
                if any(s["service"] == "libeo" and "payments" in s["name"] for s in trace):
                    return span["trace_id"], trace
        return None

    deadline = time.monotonic() + 20
    while (found := payer_trace()) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert found, sorted({(s["service"], s["name"]) for s in collector.spans})
    _trace_id, spans = found
    services_scopes = {(span["service"], span["scope"].rsplit(".", 1)[-1]) for span in spans}
    # MEG's request, its call to Libeo, Libeo's request, and both products' SQL: one trace.
    assert {("meg", "flask"), ("meg", "requests"), ("meg", "sqlalchemy"),
            ("libeo", "flask"), ("libeo", "sqlalchemy")} <= services_scopes, services_scopes
    # (Libeo reads MEG's published keys within the trace too, to check MEG's signature on who pays.)
    meg_request = next(s for s in spans if s["service"] == "meg" and s["scope"].endswith("flask")
                       and "payer" in s["name"])
    libeo_request = next(s for s in spans if s["service"] == "libeo" and s["scope"].endswith("flask")
                         and "payments" in s["name"])
    assert meg_request["attributes"]["http.request.header.x_request_id"] == \
        libeo_request["attributes"]["http.request.header.x_request_id"]


def test_without_the_variable_nothing_of_opentelemetry_is_loaded(tmp_path):
    import subprocess
    import sys

    probe = ("import sys, app; app.create_app(); "
             "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=Path(__file__).resolve().parents[2],
                            capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "INSTANCE_PATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
