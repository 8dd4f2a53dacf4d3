"""Never a 500: the reproductions that answered 500, and the answer to a real one.

Each reproduction runs with the production setting PROPAGATE_EXCEPTIONS off,
so that a crash shows as it would to a visitor: a 500 and a traceback in the
log. The fuzzers that keep whole classes of such input answered are in
test_fuzzing_routes.py, test_fuzzing_oauth.py and test_fuzzing_webhook.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from html import unescape

import pytest
from sqlalchemy import BigInteger, Integer

from config import BASE_DIR
from tests.conftest import free_port

from .helpers import (
    CLIENT_REDIRECT,
    LIBEO_PASSWORD,
    WEBHOOK_SECRET,
    assert_french,
    billing_state,
    consent_url,
    libeo_login,
    meg_login,
    register_client,
    stripe_headers,
    subscribed_account,
)

PRODUCTION = {"PROPAGATE_EXCEPTIONS": False}
FRENCH_PAGE = '<html lang="fr">'


@pytest.fixture
def prod_apps(make_apps):
    """Both apps as in production on the error path: an exception becomes a 500 page and a log line."""
    return make_apps(
        meg=PRODUCTION,
        libeo={**PRODUCTION, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "LOCALSTRIPE_URL": "http://127.0.0.1:9"},
    )


@pytest.fixture
def prod_people(prod_apps):
    from .conftest import populate

    return populate(prod_apps)


def assert_no_traceback(caplog) -> None:
    crashes = [r for r in caplog.records if r.exc_info or r.levelname == "ERROR"]
    assert not crashes, [r.getMessage() for r in crashes]
    assert "Traceback" not in caplog.text


# --- 1. path ids beyond what the databases hold -----------------------------------------------

HUGE_IDS = ["99999999999999999999", "9999999999", str(2**31), str(2**63), str(2**64), "0", "-1"]


@pytest.mark.parametrize("value", HUGE_IDS)
def test_ids_no_database_can_hold_are_a_french_404(prod_people, caplog, value):
    world, apps = prod_people, prod_people.apps
    meg = apps.root.test_client()
    assert meg_login(meg).status_code == 302
    libeo = apps.root.test_client()
    assert libeo_login(libeo, world.libeo["boulangerie_email"], LIBEO_PASSWORD).status_code == 302
    key = {"Authorization": f"Bearer {world.keys['boulangerie']}"}
    calls = [
        (meg, "GET", f"/meg/achats/factures/{value}", {}),
        (meg, "GET", f"/meg/achats/factures/{value}/modifier", {}),
        (meg, "POST", f"/meg/achats/factures/{value}/payer", {}),
        (meg, "GET", f"/meg/achats/fournisseurs/{value}/modifier", {}),
        (libeo, "GET", f"/libeo/factures/{value}", {}),
        (libeo, "POST", f"/libeo/factures/{value}/payer", {}),
        (libeo, "POST", f"/libeo/paiements/{value}/annuler", {}),
        (libeo, "GET", f"/libeo/api/v1/payments/{value}", key),
    ]
    for client, method, path, headers in calls:
        response = client.open(path, method=method, headers=headers)
        assert response.status_code == 404, f"{method} {path} → {response.status_code}"
        assert_french(response)
    assert_no_traceback(caplog)


def test_the_largest_id_a_path_accepts_fits_every_id_column():
    """Ids are SQL INTEGER on PostgreSQL (int4): a larger id in a query is an error, not « not found »."""
    from core.ids import MAX_ID
    from models.libeo import db as libeo_db
    from models.meg import db as meg_db

    for metadata in (meg_db.metadata, libeo_db.metadata):
        for table in metadata.sorted_tables:
            for column in table.columns:
                if (column.primary_key or column.foreign_keys) and isinstance(column.type, Integer):
                    holds = 2**63 - 1 if isinstance(column.type, BigInteger) else 2**31 - 1
                    assert holds >= MAX_ID, f"{table.name}.{column.name} holds ids up to {holds} only"


def test_a_page_number_or_company_beyond_what_the_database_holds_is_ignored(prod_people, caplog):
    apps = prod_people.apps
    client = apps.root.test_client()
    meg_login(client)
    # « ² » is a digit for str.isdigit() but not for int().
    for page in ("²", "99999999999", "١٢"):
        assert client.get(f"/meg/achats/?page={page}").status_code == 200
    for company in ("²", "99999999999", str(2**63)):
        assert client.post("/meg/entreprise", data={"company_id": company}).status_code == 404
    assert_no_traceback(caplog)


# --- 2. OAuth parameters Authlib cannot put in an error ---------------------------------------


@pytest.mark.parametrize("suffix", ["%5C", "%22", "%00", "%0A"])
def test_an_odd_redirect_uri_gets_a_french_page_not_a_crash(prod_people, caplog, suffix):
    apps = prod_people.apps
    client_id, _ = register_client(apps.meg)
    client = apps.root.test_client()
    url = f"/meg/oauth/authorize?client_id={client_id}&response_type=code&redirect_uri={CLIENT_REDIRECT}{suffix}"
    response = client.get(url)
    assert response.status_code == 400
    assert_french(response)
    assert "Location" not in response.headers
    assert_no_traceback(caplog)


@pytest.mark.parametrize("response_type", ['code"', "code\\", "c\x01de"])
def test_an_odd_response_type_gets_a_french_page_not_a_crash(prod_people, caplog, response_type):
    from urllib.parse import urlencode

    apps = prod_people.apps
    client_id, _ = register_client(apps.meg)
    client = apps.root.test_client()
    meg_login(client)
    query = urlencode({"client_id": client_id, "response_type": response_type, "redirect_uri": CLIENT_REDIRECT})
    response = client.get(f"/meg/oauth/authorize?{query}")
    assert response.status_code in (302, 400)
    if response.status_code == 400:
        assert_french(response)
    assert_no_traceback(caplog)


# --- 3. webhooks: signed but malformed, or signed for later -----------------------------------


def subscription_event(**subscription) -> dict:
    return {
        "id": "evt_1", "object": "event", "type": "customer.subscription.updated", "created": int(time.time()),
        "data": {"object": {"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "canceled",
                            "cancel_at_period_end": True, **subscription}},
    }


MALFORMED_EVENTS = {
    "the issue's": {"id": ["a"], "type": "customer.subscription.updated",
                    "data": {"object": {"id": {"x": 1}, "customer": "cus_1", "status": "canceled"}}},
    "id of the subscription an object": subscription_event(id={"x": 1}),
    "id of the event a list": {**subscription_event(), "id": ["a"]},
    "created a text": {**subscription_event(), "created": "hier"},
    "created a float": {**subscription_event(), "created": 1.5},
    "created beyond 64 bits": {**subscription_event(), "created": 2**64},
    "status a number": subscription_event(status=3),
    "status too long": subscription_event(status="a" * 200),
    "customer an object": subscription_event(customer={"id": "cus_1"}),
    "period end a text": subscription_event(current_period_end="demain"),
    "period end beyond any date": subscription_event(current_period_end=10**20),
    "items not a list": subscription_event(items={"data": {"current_period_end": 1}}),
    "data a list": {**subscription_event(), "data": ["object"]},
    "the event a list": [subscription_event()],
    "object a text": {**subscription_event(), "data": {"object": "sub_1"}},
}


@pytest.mark.parametrize("event", list(MALFORMED_EVENTS.values()), ids=list(MALFORMED_EVENTS))
def test_a_signed_event_of_the_wrong_shape_is_refused_and_changes_nothing(prod_people, caplog, event):
    apps = prod_people.apps
    account_id = subscribed_account(apps.libeo)
    before = billing_state(apps.libeo, account_id)
    payload = json.dumps(event)
    response = apps.root.test_client().post("/libeo/abonnement/webhook", data=payload, headers=stripe_headers(payload))
    assert response.status_code == 400
    assert_french(response)
    assert billing_state(apps.libeo, account_id) == before
    assert_no_traceback(caplog)


def test_json_nested_beyond_the_parsers_depth_is_refused(prod_people, caplog):
    apps = prod_people.apps
    payload = "[" * 100_000 + "]" * 100_000
    response = apps.root.test_client().post("/libeo/abonnement/webhook", data=payload, headers=stripe_headers(payload))
    assert response.status_code == 400
    assert_no_traceback(caplog)


# Ten seconds from the limit either way: the request is signed, sent and checked by a real clock, whose
# second may turn between the signature and the check (301 s was refused or not by the clock's sub-second part).
@pytest.mark.parametrize("offset, accepted", [(-310, False), (-290, True), (-60, True), (60, True), (290, True),
                                              (310, False), (600, False)])
def test_signed_timestamps_more_than_five_minutes_away_are_refused(prod_people, offset, accepted):
    apps = prod_people.apps
    account_id = subscribed_account(apps.libeo)
    before = billing_state(apps.libeo, account_id)
    payload = json.dumps(subscription_event())
    response = apps.root.test_client().post(
        "/libeo/abonnement/webhook", data=payload, headers=stripe_headers(payload, int(time.time()) + offset)
    )
    assert response.status_code == (200 if accepted else 400)
    after = billing_state(apps.libeo, account_id)
    if accepted:
        assert after[1] == "canceled" and after[5] == 1
    else:
        assert after == before


def test_a_scope_repeated_past_its_column_is_kept_once(prod_people, caplog):
    """« openid openid … » (1,750 characters) used to be stored as asked: beyond String(200) on PostgreSQL."""
    from urllib.parse import parse_qs, urlsplit

    apps = prod_people.apps
    client_id, secret = register_client(apps.meg)
    client = apps.root.test_client()
    meg_login(client)
    url, verifier = consent_url(client_id, scope="openid " * 250)
    answer = client.post(url, data={"allow": "1"})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    token = exchange(client, client_id, secret, code, verifier)
    assert token.status_code == 200 and token.get_json()["scope"] == "openid"
    assert_no_traceback(caplog)


# --- 4. a wrong code_verifier spends the code -------------------------------------------------


def code_for(client, client_id):
    from urllib.parse import parse_qs, urlsplit

    url, verifier = consent_url(client_id, scope="openid profile")
    answer = client.post(url, data={"allow": "1"})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0], verifier


def exchange(client, client_id, secret, code, verifier):
    return client.post("/meg/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CLIENT_REDIRECT, "code_verifier": verifier,
        "client_id": client_id, "client_secret": secret,
    })


def test_a_wrong_code_verifier_spends_the_code(prod_people):
    apps = prod_people.apps
    client_id, secret = register_client(apps.meg)
    client = apps.root.test_client()
    meg_login(client)
    code, verifier = code_for(client, client_id)

    wrong = exchange(client, client_id, secret, code, "x" * 43)
    assert wrong.status_code == 400 and wrong.get_json()["error"] == "invalid_grant"
    right = exchange(client, client_id, secret, code, verifier)
    assert right.status_code == 400 and right.get_json()["error"] == "invalid_grant"
    assert "access_token" not in right.get_json()


def test_a_wrong_code_verifier_after_the_exchange_revokes_its_tokens(prod_people):
    apps = prod_people.apps
    client_id, secret = register_client(apps.meg)
    client = apps.root.test_client()
    meg_login(client)
    code, verifier = code_for(client, client_id)
    token = exchange(client, client_id, secret, code, verifier).get_json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/meg/oauth/userinfo", headers=bearer).status_code == 200

    assert exchange(client, client_id, secret, code, "y" * 43).status_code == 400
    assert client.get("/meg/oauth/userinfo", headers=bearer).status_code == 401


# --- 6. the answer to an unexpected error -----------------------------------------------------


def add_broken_routes(app) -> None:
    def broken():
        raise RuntimeError("panne simulée")

    app.add_url_rule("/panne", "panne", broken, methods=["GET"])
    app.add_url_rule("/api/v1/panne", "api_panne", broken, methods=["GET"])


@pytest.mark.parametrize("side", ["meg", "libeo"])
@pytest.mark.parametrize("where", ["page", "api"])
def test_an_unexpected_error_is_a_french_page_with_a_reference_the_log_carries(prod_apps, caplog, side, where):
    app = getattr(prod_apps, side)
    add_broken_routes(app)
    path = f"/{side}/panne" if where == "page" else f"/{side}/api/v1/panne"

    response = prod_apps.root.test_client().get(path)

    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "panne simulée" not in body and "RuntimeError" not in body
    assert_french(response)
    reference = re.search(r"\b[0-9A-F]{4}(-[0-9A-F]{4}){3}\b", body)
    assert reference, body
    # The reference is the request's id: the answer's X-Request-ID, in every log line of the request.
    assert reference.group() == response.headers["X-Request-ID"]
    logged = [r for r in caplog.records if reference.group() in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info and logged[0].exc_info[0] is RuntimeError
    assert logged[0].request_id == reference.group()
    assert path.removeprefix(f"/{side}") in logged[0].getMessage()
    if where == "api":
        assert response.is_json
    else:
        assert response.mimetype == "text/html"


def test_an_explicit_500_gets_a_reference_too(prod_apps, caplog):
    from flask import abort

    prod_apps.libeo.add_url_rule("/arret", "arret", lambda: abort(500))
    response = prod_apps.root.test_client().get("/libeo/arret")
    assert response.status_code == 500
    reference = re.search(r"\b[0-9A-F]{4}(-[0-9A-F]{4}){3}\b", response.get_data(as_text=True))
    assert reference and reference.group() == response.headers["X-Request-ID"]
    assert any(reference.group() in r.getMessage() for r in caplog.records)


def test_a_500_page_is_french_even_when_its_layout_cannot_be_drawn(prod_people, caplog):
    """The database is gone: the page fails, and so does the layout of the error page (it reads the user)."""
    from models.meg import db

    apps = prod_people.apps
    client = apps.root.test_client()
    meg_login(client)
    with apps.meg.app_context():
        db.drop_all()
    try:
        response = client.get("/meg/achats/")
    finally:
        with apps.meg.app_context():
            db.create_all()
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert FRENCH_PAGE in body and "Traceback" not in body
    reference = re.search(r"\b[0-9A-F]{4}(-[0-9A-F]{4}){3}\b", body)
    assert reference and reference.group() == response.headers["X-Request-ID"]
    assert any(reference.group() in r.getMessage() and r.exc_info for r in caplog.records)


# Werkzeug's English titles of the codes no product page names (its page when no handler answers).
ENGLISH_TITLES = ("Requested Range Not Satisfiable", "Unsupported Media Type", "Service Unavailable",
                  "Unprocessable Entity", "Not Found", "Method Not Allowed")


@pytest.mark.parametrize("side", ["meg", "libeo"])
@pytest.mark.parametrize("where", ["page", "api"])
@pytest.mark.parametrize("status", [416, 415, 422, 503])
def test_any_other_http_error_keeps_its_status_and_answers_in_french(prod_apps, caplog, side, where, status):
    """An HTTP error no product names (werkzeug's 416 for a Range past the end, a 415…) is still a French page,
    or the API's JSON on Libeo's API, with its own status."""
    from flask import abort

    app = getattr(prod_apps, side)
    app.add_url_rule("/refus", "refus", lambda: abort(status))
    app.add_url_rule("/api/v1/refus", "api_refus", lambda: abort(status))
    path = f"/{side}/refus" if where == "page" else f"/{side}/api/v1/refus"

    response = prod_apps.root.test_client().get(path)

    assert response.status_code == status
    body = response.get_data(as_text=True)
    assert not any(title in body for title in ENGLISH_TITLES), body[:300]
    assert_french(response)
    if side == "libeo" and where == "api":
        error = response.get_json()["error"]
        assert set(error) >= {"code", "message", "field"}
        assert error["code"] == ("bad_request" if status < 500 else "internal_error")  # the words of its class
    else:
        assert FRENCH_PAGE in body
    assert_no_traceback(caplog)


@pytest.mark.parametrize("method, path, status, title", [
    ("GET", "/nulle-part", 404, "Page introuvable"),
    ("GET", "/robots.txt", 404, "Page introuvable"),
    ("POST", "/", 405, "Cette action n'est pas permise ici."),
    ("DELETE", "/healthz", 405, "Cette action n'est pas permise ici."),
])
def test_the_combined_app_answers_outside_both_products_in_french(prod_apps, caplog, method, path, status, title):
    """The landing app that mounts /meg and /libeo: its own error pages are French too, with its look."""
    from .test_headers_and_sessions import check_html_page

    response = prod_apps.root.test_client().open(path, method=method)

    assert response.status_code == status
    body = unescape(response.get_data(as_text=True))
    assert FRENCH_PAGE in body and title in body
    assert not any(english in body for english in ENGLISH_TITLES), body[:300]
    assert 'href="/"' in body  # back to the landing page
    check_html_page(response, f"{method} {path}")
    if status == 405:
        assert "GET" in response.headers["Allow"]
    assert_no_traceback(caplog)


@pytest.mark.parametrize("path", ["/meg/healthz", "/libeo/healthz", "/healthz"])
def test_a_method_not_allowed_says_which_are_in_every_app(prod_apps, path):
    """A 405 names the methods the address takes (``Allow``, RFC 9110), in MEG, Libeo and the landing app."""
    response = prod_apps.root.test_client().delete(path)
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert "Cette action n'est pas permise ici." in unescape(response.get_data(as_text=True))


# --- 6. the Server header ---------------------------------------------------------------------

VERSION = re.compile(r"\d|python", re.IGNORECASE)


def test_the_development_server_names_no_version(apps):
    """``flask --app app serve`` (``make run``) serves with this handler."""
    from werkzeug.serving import make_server

    from core.http import QuietRequestHandler

    server = make_server("127.0.0.1", 0, apps.root, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/", timeout=5) as answer:
            header = answer.headers.get("Server", "")
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
    assert not VERSION.search(header), header


def test_gunicorn_names_no_version(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "INSTANCE_PATH": str(tmp_path),
        "MEG_DATABASE_URL": f"sqlite:///{tmp_path / 'meg.sqlite3'}",
        "LIBEO_DATABASE_URL": f"sqlite:///{tmp_path / 'libeo.sqlite3'}",
    }
    command = [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}", "app:create_app()"]
    process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        headers = None
        deadline = time.monotonic() + 30
        while headers is None and time.monotonic() < deadline:
            assert process.poll() is None, "gunicorn exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as answer:
                    headers = answer.headers
            except OSError:
                time.sleep(0.2)
        assert headers is not None, "gunicorn did not answer"
        servers = headers.get_all("Server")
        assert servers and not any(VERSION.search(s) for s in servers), servers
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
