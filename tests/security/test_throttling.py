"""Rate limits: login, sign-up, API key failures, token endpoint, payments.

Each test builds the apps with rate limiting on and short limits, set
through the config keys a deployment would use.
"""

from __future__ import annotations

import os
import time
import uuid
from html import unescape

import pytest

from tests.conftest import REQUIRE_SERVICES, build_apps, meg_initiator

from .helpers import (
    BOULANGERIE_SIRET,
    GARAGE_SIRET,
    LIBEO_PASSWORD,
    libeo_account,
    libeo_login,
    meg_login,
    register_client,
)

TOO_MANY = "Trop de tentatives : patientez un instant avant de réessayer."
# Everything generous except what a test narrows.
OPEN = {
    "RATELIMIT_ENABLED": True,
    "LOGIN_LIMIT_PER_ACCOUNT": "1000 per minute",
    "LOGIN_LIMIT_PER_ADDRESS": "1000 per minute",
    "PASSWORD_CHANGE_LIMIT": "1000 per minute",
    "PAYMENT_LIMIT": "1000 per minute",
}


def build(make_apps, meg=None, libeo=None, **extra):
    apps = make_apps(meg={**OPEN, **(meg or {})}, libeo={**OPEN, **(libeo or {})}, **extra)
    from models.meg.demo import create_demo_data

    with apps.meg.app_context():
        create_demo_data()
    return apps


def login_as(apps, side, client, email, password):
    if side == "meg":
        return meg_login(client, email, password)
    return libeo_login(client, email, password)


def people(apps, side):
    """(victim e-mail, password, another user's e-mail) on that side."""
    if side == "meg":
        return "admin@boulangerie-martin.fr", "demo-meg-2026", "gerant@garage-leroy.fr"
    libeo_account(apps.libeo, "Boulangerie Martin SARL", BOULANGERIE_SIRET, "claire@boulangerie-martin.fr", key=False)
    libeo_account(apps.libeo, "Garage Leroy SAS", "85123456700002", "marc@garage-leroy.fr", key=False)
    return "claire@boulangerie-martin.fr", LIBEO_PASSWORD, "marc@garage-leroy.fr"


def assert_french_429(response):
    assert response.status_code == 429
    assert TOO_MANY in unescape(response.get_data(as_text=True))
    assert int(response.headers["Retry-After"]) >= 0


@pytest.mark.parametrize("side", ["meg", "libeo"])
def test_a_hundred_wrong_passwords_are_throttled_and_the_right_one_works_after_the_window(make_apps, side):
    window = 2
    limits = {"LOGIN_LIMIT_PER_ACCOUNT": f"5 per {window} second"}
    apps = build(make_apps, meg=limits, libeo=limits)
    email, password, other = people(apps, side)
    client = apps.root.test_client()

    started = time.monotonic()
    statuses = [login_as(apps, side, client, email, f"mauvais-{n}").status_code for n in range(100)]
    elapsed = time.monotonic() - started
    windows = int(elapsed // window) + 2
    assert set(statuses) <= {200, 429}
    assert statuses.count(200) <= 5 * windows, (statuses.count(200), elapsed)
    assert statuses.count(429) >= 100 - 5 * windows
    throttled = login_as(apps, side, client, email, password)
    assert_french_429(throttled)  # even the right password waits for the window
    # Per account: someone else logging in from the same address is not held up.
    assert login_as(apps, side, apps.root.test_client(), other, password).status_code == 302

    time.sleep(window + 0.2)
    assert login_as(apps, side, client, email, password).status_code == 302


@pytest.mark.parametrize("side", ["meg", "libeo"])
def test_login_attempts_on_many_accounts_from_one_address_are_throttled(make_apps, side):
    limits = {"LOGIN_LIMIT_PER_ADDRESS": "8 per minute"}
    apps = build(make_apps, meg=limits, libeo=limits)
    client = apps.root.test_client()
    statuses = [login_as(apps, side, client, f"personne{n}@exemple.fr", "x" * 12).status_code for n in range(12)]
    assert statuses[:8] == [200] * 8 and statuses[8:] == [429] * 4
    # Another address is not concerned.
    other = apps.root.test_client()
    answer = other.post(f"/{side}/connexion", data={"email": "x@exemple.fr", "password": "y" * 12},
                        environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert answer.status_code == 200


def test_libeo_sign_up_is_throttled_per_address(make_apps):
    apps = build(make_apps, libeo={"SIGNUP_LIMIT": "3 per minute"})
    client = apps.root.test_client()
    statuses = []
    for n in range(5):
        form = {"email": f"gerant{n}@exemple.fr", "password": "court", "company_name": "X", "siret": "1"}
        statuses.append(client.post("/libeo/inscription", data=form).status_code)
    assert statuses[:3] == [200] * 3
    assert_french_429(client.post("/libeo/inscription", data={"email": "z@exemple.fr"}))
    assert client.get("/libeo/inscription").status_code == 200  # reading the page is not counted


def test_wrong_api_keys_are_throttled_per_address_but_a_valid_key_is_never_slowed(make_apps):
    apps = build(make_apps, libeo={"API_KEY_FAILURE_LIMIT": "5 per minute"})
    _, key = libeo_account(apps.libeo, "Boulangerie Martin SARL", BOULANGERIE_SIRET, "claire@boulangerie-martin.fr")
    client = apps.root.test_client()
    wrong = [f"lbo_meg_{n:012x}_{'A' * 43}" for n in range(4)] + ["n'importe quoi", ""]
    statuses = [client.get("/libeo/api/v1/me", headers={"Authorization": f"Bearer {k}"}).status_code for k in wrong]
    assert statuses == [401] * 5 + [429]
    answer = client.get("/libeo/api/v1/payments/1", headers={"Authorization": "Bearer encore-faux"})
    assert answer.status_code == 429
    error = answer.get_json()["error"]
    assert error["code"] == "rate_limited" and error["message"].startswith("Trop de requêtes")
    assert "Retry-After" in answer.headers
    good = client.get("/libeo/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert good.status_code == 200 and good.get_json()["siret"] == BOULANGERIE_SIRET
    # Only failures count: many good calls never reach the limit.
    for _ in range(10):
        assert client.get("/libeo/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_the_token_endpoint_is_throttled_with_a_json_answer(make_apps):
    apps = build(make_apps, meg={"OAUTH_TOKEN_LIMIT": "3 per minute"})
    client_id, secret = register_client(apps.meg)
    client = apps.root.test_client()
    data = {"grant_type": "authorization_code", "code": "inconnu", "redirect_uri": "https://x.example/",
            "client_id": client_id, "client_secret": secret, "code_verifier": "v" * 43}
    statuses = [client.post("/meg/oauth/token", data=data).status_code for _ in range(3)]
    assert statuses == [400] * 3
    answer = client.post("/meg/oauth/token", data=data)
    assert answer.status_code == 429
    assert answer.get_json() == {"error": "rate_limited", "error_description": TOO_MANY}


def test_payments_are_throttled_in_meg_and_in_libeo_api_and_pages(make_apps):
    from .conftest import populate

    limits = {"PAYMENT_LIMIT": "2 per minute"}
    apps = make_apps(meg={**OPEN, **limits}, libeo={**OPEN, **limits})
    world = populate(apps)  # has already paid one invoice per company, through MEG and the API
    client = apps.root.test_client()
    meg_login(client)
    invoice = world.meg["boulangerie_libeo_invoice"]
    # The admin paid once while the world was built; « Payer » again is answered (already paid), then throttled.
    assert client.post(f"/meg/achats/factures/{invoice}/payer").status_code == 302
    assert_french_429(client.post(f"/meg/achats/factures/{invoice}/payer"))

    api = apps.root.test_client()
    headers = {"Authorization": f"Bearer {world.keys['garage']}", "Idempotency-Key": f"k-{uuid.uuid4()}",
               "MEG-Initiator": meg_initiator(apps.root, GARAGE_SIRET, "gerant@garage-leroy.fr")}
    body = {"initiated_by": {"email": "gerant@garage-leroy.fr", "role": "user"}}
    path = f"/libeo/api/v1/invoices/{world.libeo['garage_external_id']}/payments"
    assert api.post(path, json=body, headers=headers).status_code == 409  # paid already: counted
    answer = api.post(path, json=body, headers={**headers, "Idempotency-Key": "autre"})
    assert answer.status_code == 429 and answer.get_json()["error"]["code"] == "rate_limited"
    # Other API calls of that key are not payment creations.
    assert api.get("/libeo/api/v1/me", headers=headers).status_code == 200

    page = apps.root.test_client()
    libeo_login(page, world.libeo["boulangerie_email"])
    url = f"/libeo/factures/{world.libeo['boulangerie_invoice']}/payer"
    statuses = [page.post(url, data={"execution_date": "2099-01-01"}).status_code for _ in range(2)]
    assert 429 not in statuses
    assert_french_429(page.post(url, data={"execution_date": "2099-01-01"}))


@pytest.mark.parametrize("side", ["meg", "libeo"])
def test_password_change_is_throttled_per_user(make_apps, side):
    limits = {"PASSWORD_CHANGE_LIMIT": "3 per minute"}
    apps = build(make_apps, meg=limits, libeo=limits)
    email, password, _ = people(apps, side)
    client = apps.root.test_client()
    assert login_as(apps, side, client, email, password).status_code == 302
    wrong = {"current_password": "devine-encore", "new_password": "Nouvelle 2026 !!", "confirm": "Nouvelle 2026 !!"}
    statuses = [client.post(f"/{side}/mot-de-passe", data=wrong).status_code for _ in range(3)]
    assert statuses == [200] * 3
    assert_french_429(client.post(f"/{side}/mot-de-passe", data=wrong))


# --- Redis ------------------------------------------------------------------------------------

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_or_skip():
    import redis

    connection = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        connection.ping()
    except redis.RedisError as error:
        message = f"Redis unreachable at TEST_REDIS_URL={REDIS_URL}: {error} (.ci/run starts it)"
        if REQUIRE_SERVICES:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return connection


def test_limits_are_counted_in_redis_when_configured(make_apps, tmp_path, worker_id_safe):
    """Several processes share the counts: a second app (another worker) sees the first one's."""
    import random

    connection = redis_or_skip()
    # An address of this run only: concurrent runs on the same Redis count apart.
    address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    config = {"RATELIMIT_STORAGE_URI": REDIS_URL, "LOGIN_LIMIT_PER_ADDRESS": "4 per minute",
              "LOGIN_LIMIT_PER_ACCOUNT": ""}

    def attempt(client, side, password="faux"):
        return client.post(f"/{side}/connexion", data={"email": "admin@boulangerie-martin.fr", "password": password},
                           environ_base={"REMOTE_ADDR": address})

    def forget():
        for key in connection.scan_iter(match=f"LIMITS:LIMITER/*/ip:{address}/*"):
            connection.delete(key)

    forget()
    try:
        apps = build(make_apps, meg=config, libeo=config)
        client = apps.root.test_client()
        assert [attempt(client, "meg").status_code for _ in range(3)] == [200] * 3
        # Libeo's login counts apart, although the endpoint names and the address are the same.
        assert [attempt(client, "libeo").status_code for _ in range(4)] == [200] * 4

        # Another process: other app objects, same databases, same Redis.
        again = build_apps(tmp_path, worker_id_safe, meg={**OPEN, **config}, libeo={**OPEN, **config})
        second = again.root.test_client()
        assert attempt(second, "meg").status_code == 200
        assert attempt(second, "meg", "demo-meg-2026").status_code == 429
        assert attempt(second, "libeo").status_code == 429
        keys = {k.decode() for k in connection.scan_iter(match=f"LIMITS:LIMITER/*/ip:{address}/*")}
        assert {k.split("/")[1] for k in keys} == {"meg", "libeo"}, keys
    finally:
        forget()


def test_an_unreachable_limit_store_degrades_to_memory_without_errors(make_apps):
    apps = build(make_apps, meg={"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0",
                                 "LOGIN_LIMIT_PER_ACCOUNT": "3 per minute"})
    client = apps.root.test_client()
    statuses = [meg_login(client, password=f"faux-{n}").status_code for n in range(5)]
    assert statuses == [200] * 3 + [429] * 2


@pytest.mark.parametrize("limit, throttled", [("", False), ("2 per minute", True)])
def test_a_payment_limit_configured_empty_lets_every_click_through(make_apps, limit, throttled):
    """README: an empty limit variable turns that limit off (config.py reads "" as « no limit »)."""
    apps = build(make_apps, meg={"PAYMENT_LIMIT": limit})
    client = apps.root.test_client()
    meg_login(client)
    answers = [client.post("/meg/achats/factures/1/payer").status_code for _ in range(35)]
    assert (429 in answers) is throttled


def test_reading_e_invoices_is_limited_per_person(make_apps):
    from io import BytesIO

    apps = build(make_apps, meg={"EINVOICE_IMPORT_LIMIT": "2 per minute"})
    client = apps.root.test_client()
    assert meg_login(client, "admin@boulangerie-martin.fr", "demo-meg-2026").status_code == 302

    def send():
        return client.post("/meg/achats/factures/importer", data={"file": (BytesIO(b"pas une facture"), "x.txt")},
                           content_type="multipart/form-data")

    assert [send().status_code for _ in range(2)] == [422, 422]
    refused = send()
    assert refused.status_code == 429 and TOO_MANY in unescape(refused.get_data(as_text=True))
    assert client.get("/meg/achats/factures/importer").status_code == 200  # the page itself is not counted
    other = apps.root.test_client()
    assert meg_login(other, "compta@boulangerie-martin.fr", "demo-meg-2026").status_code == 302
    assert other.post("/meg/achats/factures/importer", data={"file": (BytesIO(b"x"), "x.txt")},
                      content_type="multipart/form-data").status_code == 422


def test_reading_invoice_files_in_libeo_is_limited_per_person(make_apps):
    from io import BytesIO

    from sqlalchemy import func, select

    from models.libeo import Invoice, db

    apps = build(make_apps, libeo={"EINVOICE_IMPORT_LIMIT": "2 per minute"})
    email, password, other_email = people(apps, "libeo")
    client = apps.root.test_client()
    assert libeo_login(client, email, password).status_code == 302

    def send(who):
        return who.post("/libeo/factures/nouvelle", data={"document": (BytesIO(b"pas une facture"), "x.txt")},
                        content_type="multipart/form-data")

    assert [send(client).status_code for _ in range(2)] == [200, 200]  # the form, with the file refused
    refused = send(client)
    assert refused.status_code == 429 and TOO_MANY in unescape(refused.get_data(as_text=True))
    assert "Too Many Requests" not in refused.get_data(as_text=True)
    assert client.get("/libeo/factures/nouvelle").status_code == 200  # the page itself is not counted
    other = apps.root.test_client()
    assert libeo_login(other, other_email, password).status_code == 302
    assert send(other).status_code == 200
    with apps.libeo.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invoice)) == 0
