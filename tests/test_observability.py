"""What a load balancer, Prometheus and an operator get from each product, whatever the factory.

``/healthz`` (the process answers), ``/readyz`` (database and schema), ``/metrics`` (who may read
it), request ids (whose to believe) and the shape of log lines. The databases here are built by
the migrations, as in production.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import create_app, create_libeo_app, create_meg_app
from core.migrations import upgrade_database
from models.libeo import db as libeo_db
from models.meg import db as meg_db
from tests.conftest import side_configs

CLOSED = "http://127.0.0.1:9"
REQUEST_ID = re.compile(r"[0-9A-F]{4}(-[0-9A-F]{4}){3}")


def sqlite_configs(tmp_path: Path, **extra) -> tuple[dict, dict]:
    """Both sides' settings on SQLite files of this test (the migrations build them)."""
    meg, libeo = side_configs(tmp_path)
    meg["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'meg.sqlite3'}"
    libeo["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'libeo.sqlite3'}"
    for config in (meg, libeo):
        config.update(extra)
    return meg, libeo


def migrate(*pairs) -> None:
    for app in pairs:
        with app.app_context():
            upgrade_database()
            app.extensions["migrate"].db.engine.dispose()


def samples(response) -> dict[tuple[str, tuple], float]:
    """Every sample of a /metrics answer, read by prometheus_client's own parser."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=0.0.4")
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def sample(found: dict, name: str, **labels) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


# --- health and readiness under each factory ---------------------------------------------------


def test_meg_alone_is_alive_and_ready_and_says_libeo_does_not_answer(tmp_path):
    config, _ = sqlite_configs(tmp_path, LIBEO_URL=f"{CLOSED}/libeo")
    meg = create_meg_app(config)
    migrate(meg)
    client = meg.test_client()

    alive = client.get("/healthz")
    assert alive.status_code == 200 and alive.get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    # MEG keeps serving while Libeo is down: reported, not counted against readiness.
    assert ready.status_code == 200, ready.get_json()
    assert ready.get_json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"},
                                "libeo": "injoignable"}
    assert REQUEST_ID.fullmatch(ready.headers["X-Request-ID"])


def test_libeo_alone_is_alive_and_ready(tmp_path):
    _, config = sqlite_configs(tmp_path)
    libeo = create_libeo_app(config)
    migrate(libeo)
    client = libeo.test_client()

    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}


def test_the_combined_run_answers_under_each_mount_point(tmp_path):
    meg_config, libeo_config = sqlite_configs(tmp_path)
    root = create_app(meg_config, libeo_config)
    sides = root.extensions["sides"]
    migrate(sides["meg"], sides["libeo"])
    client = root.test_client()

    for path in ("/healthz", "/meg/healthz", "/libeo/healthz"):
        assert client.get(path).get_json() == {"status": "ok"}, path
    assert client.get("/libeo/readyz").get_json()["status"] == "ready"
    meg_ready = client.get("/meg/readyz")
    assert meg_ready.status_code == 200
    assert meg_ready.get_json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"},
                                    "libeo": "ok"}
    # Each product's own, not the other's.
    assert {name.split("_")[0] for name, _ in samples(client.get("/meg/metrics"))} == {"meg"}
    assert {name.split("_")[0] for name, _ in samples(client.get("/libeo/metrics"))} == {"libeo"}


def test_readiness_fails_when_the_database_goes_away_and_liveness_does_not(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    _, config = sqlite_configs(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder / 'libeo.sqlite3'}")
    libeo = create_libeo_app(config)
    migrate(libeo)
    client = libeo.test_client()
    assert client.get("/readyz").status_code == 200

    shutil.rmtree(folder)  # the disk is gone: no new connection can open the file
    with libeo.app_context():
        libeo_db.engine.dispose()
    gone = client.get("/readyz")
    assert gone.status_code == 503
    assert gone.get_json() == {"status": "not_ready", "checks": {"database": "injoignable", "migrations": "inconnu"}}
    assert str(tmp_path) not in gone.get_data(as_text=True)  # nothing of where or why: the log has it
    assert client.get("/healthz").status_code == 200


def test_readiness_fails_when_the_database_server_does_not_answer(tmp_path):
    config, _ = sqlite_configs(
        tmp_path, SQLALCHEMY_DATABASE_URI="postgresql+psycopg://meg:mot-de-passe-secret@127.0.0.1:9/meg?connect_timeout=2",
        LIBEO_URL=f"{CLOSED}/libeo")
    client = create_meg_app(config).test_client()

    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json()["checks"] == {"database": "injoignable", "migrations": "inconnu"}
    assert "mot-de-passe-secret" not in answer.get_data(as_text=True) and "5432" not in answer.get_data(as_text=True)
    assert client.get("/healthz").status_code == 200


def test_readiness_says_when_the_schema_is_behind_the_code(tmp_path):
    config, _ = sqlite_configs(tmp_path, LIBEO_URL=f"{CLOSED}/libeo")
    meg = create_meg_app(config)
    with meg.app_context():
        upgrade_database("0005_safeguards")  # the code is newer than the database
        meg_db.engine.dispose()

    answer = meg.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json()["checks"] == {
        "database": "ok", "migrations": "schéma pas à jour : lancez « flask --app app meg db upgrade »"}


def test_readiness_stays_while_a_newer_release_migrates_the_database_first(tmp_path):
    """A rolling deploy: the new release's ``db upgrade`` runs while this code still serves; its schema adds what
    this code does not read, so this instance stays in the load balancer until it is restarted."""
    from sqlalchemy import text as sql

    config, _ = sqlite_configs(tmp_path, LIBEO_URL=f"{CLOSED}/libeo")
    meg = create_meg_app(config)
    migrate(meg)
    with meg.app_context():
        with meg_db.engine.begin() as connection:
            connection.execute(sql("UPDATE alembic_version SET version_num = '0099_a_later_release'"))
        meg_db.engine.dispose()
    answer = meg.test_client().get("/readyz")
    assert answer.status_code == 200 and answer.get_json()["checks"]["migrations"] == "ok"


# --- /metrics: who may read it, and what it says -------------------------------------------------


@pytest.fixture
def libeo_alone(tmp_path):
    _, config = sqlite_configs(tmp_path, METRICS_TOKEN="jeton-des-metriques-0123456789")
    libeo = create_libeo_app(config)
    migrate(libeo)
    return libeo


def test_metrics_are_for_this_machine_or_the_token_holder(libeo_alone):
    client = libeo_alone.test_client()
    outside = {"REMOTE_ADDR": "203.0.113.7"}

    assert client.get("/metrics").status_code == 200  # 127.0.0.1, the test client's address
    refused = client.get("/metrics", environ_base=outside)
    assert refused.status_code == 403 and "METRICS_TOKEN" in refused.get_data(as_text=True)
    assert "jeton-des-metriques" not in refused.get_data(as_text=True)
    assert client.get("/metrics", environ_base=outside,
                      headers={"Authorization": "Bearer un-autre-jeton"}).status_code == 403
    assert client.get("/metrics", environ_base=outside,
                      headers={"Authorization": "Bearer jeton-des-metriques-0123456789"}).status_code == 200
    # A proxy on this machine relays outsiders from 127.0.0.1: its forwarding header gives it away.
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 403


def test_metrics_count_requests_per_endpoint_and_status_and_read_the_gauges(libeo_alone):
    client = libeo_alone.test_client()
    healthz = {"endpoint": "observability.healthz", "method": "GET", "status": "200"}
    not_found = {"endpoint": "none", "method": "GET", "status": "404"}
    refused = {"endpoint": "api.me", "method": "GET", "status": "401"}
    # The process's counts (other tests' included): what this test adds is compared.
    before = samples(client.get("/metrics"))
    for _ in range(3):
        client.get("/healthz").get_data()  # counted once its body is sent, as a server sends it
    client.get("/nulle-part").get_data()
    client.get("/api/v1/me", headers={"Authorization": "Bearer lbo_meg_0123456789ab_" + "x" * 43}).get_data()
    after = samples(client.get("/metrics"))

    def added(name: str, **labels) -> float:
        return (sample(after, name, **labels) or 0) - (sample(before, name, **labels) or 0)

    assert added("libeo_http_request_duration_seconds_count", **healthz) == 3
    assert added("libeo_http_request_duration_seconds_bucket", le="+Inf", **healthz) == 3
    assert added("libeo_http_request_duration_seconds_count", **not_found) == 1
    assert added("libeo_http_request_duration_seconds_count", **refused) == 1
    assert added("libeo_api_key_failures_total") == 1
    assert sample(after, "libeo_gauges_up") == 1
    assert sample(after, "libeo_payments", state="scheduled") == 0
    assert sample(after, "libeo_sepa_files_waiting") == 0


# --- request ids ----------------------------------------------------------------------------------


def test_a_page_makes_its_own_request_id_unless_a_trusted_proxy_gives_one(tmp_path):
    _, config = sqlite_configs(tmp_path)
    direct = create_libeo_app(config).test_client()
    forged = direct.get("/connexion", headers={"X-Request-ID": "choisi-par-le-visiteur"})
    assert REQUEST_ID.fullmatch(forged.headers["X-Request-ID"])

    behind = create_libeo_app({**config, "TRUSTED_PROXIES": 1}).test_client()
    assert behind.get("/connexion", headers={"X-Request-ID": "7f3c2a9e41b84d0c9e1f2a3b4c5d6e7f"}
                      ).headers["X-Request-ID"] == "7f3c2a9e41b84d0c9e1f2a3b4c5d6e7f"
    # Never anything a log line could be forged with.
    for odd in ("a b", "x" * 200, "ligne\tfausse", "<script>", "é"):
        assert REQUEST_ID.fullmatch(behind.get("/connexion", headers={"X-Request-ID": odd}).headers["X-Request-ID"])


def test_the_other_products_api_calls_keep_their_request_id(tmp_path):
    _, config = sqlite_configs(tmp_path)
    client = create_libeo_app(config).test_client()
    answer = client.get("/api/v1/me", headers={"X-Request-ID": "3F9A-07C2-5D1E-4B90"})
    assert answer.status_code == 401 and answer.headers["X-Request-ID"] == "3F9A-07C2-5D1E-4B90"


def test_log_lines_are_json_objects_with_the_request_context(tmp_path, capsys):
    _, config = sqlite_configs(tmp_path, LOG_FORMAT="json")
    libeo = create_libeo_app(config)
    migrate(libeo)
    capsys.readouterr()
    answer = libeo.test_client().get("/readyz")
    answer.get_data()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]

    [line] = [line for line in lines if line["logger"] == "libeo.requests"]
    assert line["product"] == "libeo" and line["request_id"] == answer.headers["X-Request-ID"]
    assert line["route"] == "observability.readyz" and line["method"] == "GET" and line["path"] == "/readyz"
    assert line["status"] == 200 and line["duration_ms"] > 0 and line["level"] == "INFO"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])


def test_text_log_lines_say_the_product_and_request_id(tmp_path, capsys):
    _, config = sqlite_configs(tmp_path, LOG_FORMAT="text")
    client = create_libeo_app(config).test_client()
    capsys.readouterr()
    answer = client.get("/healthz")
    answer.get_data()
    err = capsys.readouterr().err
    assert f"INFO [libeo {answer.headers['X-Request-ID']}] libeo.requests: GET /healthz 200" in err


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_the_unsubscribe_link_is_masked_in_request_lines(tmp_path, capsys, log_format):
    """Its token holds the person's address and turns their e-mails off: no log line keeps it."""
    from models.libeo.notifications.kinds import notifier

    _, config = sqlite_configs(tmp_path, LOG_FORMAT=log_format)
    libeo = create_libeo_app(config)
    migrate(libeo)
    with libeo.app_context():
        token = notifier.unsubscribe_token("claire@boulangerie-martin.fr", "payment_held")
    capsys.readouterr()
    libeo.test_client().get(f"/notifications/desabonnement/{token}").get_data()
    err = capsys.readouterr().err
    assert "/notifications/desabonnement/[masqué]" in err
    assert token not in err and token[:20] not in err
