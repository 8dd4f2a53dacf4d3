"""MEG's signing keys, kept by Libeo: a « Payer » never waits for MEG to answer while MEG waits for Libeo.

Deployed apart with sync workers, MEG's workers may all be waiting for Libeo's
answer to a « Payer »; if Libeo then had to ask MEG for its keys to check the
``MEG-Initiator`` header, each side would wait for the other until the
timeout. Libeo keeps MEG's keys in its instance folder (``flask libeo
meg-keys`` fetches them at deployment), so that a new worker, or a restarted
one, checks MEG's word without asking MEG; an assertion naming a key Libeo
has not seen sends it to MEG at most every few seconds.
"""

from __future__ import annotations

import base64
import json
import stat
import threading
from dataclasses import replace
from pathlib import Path

from joserfc import jwt
from joserfc.jwk import RSAKey

from models.libeo.meg_link.client import CHECKED_INITIATORS, KEYS_FILE, MEG_KEYS, REFETCH_SECONDS, fetch_megs_keys

from .conftest import invoice_body, pay_body


def _keys_file(libeo_app) -> Path:
    return Path(libeo_app.instance_path) / KEYS_FILE


def _new_worker(libeo_app) -> None:
    """A Libeo worker that has nothing in memory: neither MEG's keys nor the assertions it checked."""
    libeo_app.extensions.pop(MEG_KEYS, None)
    libeo_app.extensions.pop(CHECKED_INITIATORS, None)


def _pay(api, n: int, **headers):
    return api.post(f"/invoices/meg-{n}/payments", json={**pay_body(), "invoice": invoice_body(n)},
                    headers={"Idempotency-Key": f"cle-{n}", **headers})


def test_a_worker_that_never_asked_meg_checks_megs_word_with_the_kept_keys(api, libeo_app):
    assert _pay(api, 1).status_code == 201  # the first « Payer » reads MEG's keys, and keeps them
    kept = _keys_file(libeo_app)
    assert kept.exists() and stat.S_IMODE(kept.stat().st_mode) == 0o600
    # A new worker (nothing in its memory), MEG unreachable: the payment is checked with the kept keys.
    _new_worker(libeo_app)
    libeo_app.config["MEG_URL"] = "http://127.0.0.1:9/meg"
    assert _pay(api, 2).status_code == 201
    # Without the kept keys, the same worker would have had to ask MEG: refused, MEG unreachable.
    _new_worker(libeo_app)
    kept.unlink()
    refused = _pay(api, 3)
    assert refused.status_code == 503 and refused.json["error"]["code"] == "meg_unreachable"


def test_an_assertion_naming_an_unknown_key_asks_meg_once_in_a_while(api, libeo_app):
    assert _pay(api, 1).status_code == 201
    stranger = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
    forged = jwt.encode({"alg": "RS256", "kid": stranger.kid}, {"email": "escroc@exemple.fr"}, stranger)
    # Just fetched: a key Libeo does not know is refused without asking MEG again.
    fetched = libeo_app.extensions[MEG_KEYS].fetched_at
    answer = _pay(api, 2, **{"MEG-Initiator": forged})
    assert answer.status_code == 403 and answer.json["error"]["code"] == "initiator_refused"
    assert libeo_app.extensions[MEG_KEYS].fetched_at == fetched
    # Some time later (MEG may have rotated its key): asked once, then not for each forged request.
    libeo_app.extensions[MEG_KEYS] = replace(libeo_app.extensions[MEG_KEYS], fetched_at=fetched - REFETCH_SECONDS - 1)
    assert _pay(api, 3, **{"MEG-Initiator": forged}).json["error"]["code"] == "initiator_refused"
    asked = libeo_app.extensions[MEG_KEYS].fetched_at
    assert asked > fetched
    for n in (4, 5):
        assert _pay(api, n, **{"MEG-Initiator": forged}).json["error"]["code"] == "initiator_refused"
    assert libeo_app.extensions[MEG_KEYS].fetched_at == asked
    assert _pay(api, 6).status_code == 201  # MEG's own word still passes


def test_the_deployment_command_fetches_megs_keys(apps, libeo_app):
    result = apps.root.test_cli_runner().invoke(args=["libeo", "meg-keys"])
    assert result.exit_code == 0, result.output
    assert "Clés de MEG enregistrées (1, émetteur" in result.output and _keys_file(libeo_app).exists()
    libeo_app.config["MEG_URL"] = "http://127.0.0.1:9/meg"
    failed = apps.root.test_cli_runner().invoke(args=["libeo", "meg-keys"])
    assert failed.exit_code != 0 and "Les clés de MEG n'ont pas pu être lues" in failed.output


def test_threads_fetching_megs_keys_at_once_each_keep_them_whole(apps, libeo_app):
    """A gthread worker's threads may all fetch at once: each writes its own file, renamed over the kept one."""
    errors: list[BaseException] = []

    def fetch():
        with libeo_app.app_context():
            try:
                fetch_megs_keys()
            except BaseException as error:  # noqa: BLE001 (reported below)
                errors.append(error)

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    kept = json.loads(_keys_file(libeo_app).read_text())
    assert kept["issuer"] and kept["jwks"]["keys"]
    assert not list(_keys_file(libeo_app).parent.glob(f".{KEYS_FILE}.*"))  # no temporary file left


def test_an_assertion_whose_claims_are_not_an_object_is_refused_in_french(api, libeo_app):
    assert _pay(api, 1).status_code == 201
    kid = next(iter(libeo_app.extensions[MEG_KEYS].kids))
    header = base64.urlsafe_b64encode(json.dumps({"alg": "RS256", "kid": kid}).encode()).rstrip(b"=").decode()
    for claims in (b"[1, 2]", b"\"texte\"", b"{"):
        payload = base64.urlsafe_b64encode(claims).rstrip(b"=").decode()
        answer = _pay(api, 2, **{"MEG-Initiator": f"{header}.{payload}.c2lnbmF0dXJl"})
        assert answer.status_code == 403 and answer.json["error"]["code"] == "initiator_refused"
        assert "n'est pas signé par MEG" in answer.json["error"]["message"]


def test_an_assertion_whose_claims_are_nested_too_deep_is_refused_in_french(api, libeo_app):
    """Claims nested thousands of levels deep (under the header's 8,000 characters): refused as any assertion
    MEG did not sign, for a payment, a batch (its header or an item's) and a cancellation; nothing is paid."""
    paid = _pay(api, 1)
    assert paid.status_code == 201
    kid = next(iter(libeo_app.extensions[MEG_KEYS].kids))
    header = base64.urlsafe_b64encode(json.dumps({"alg": "RS256", "kid": kid}).encode()).rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(b"[" * 5_000).rstrip(b"=").decode()
    nested = f"{header}.{payload}.c2lnbmF0dXJl"
    assert len(nested) < 8_000

    def refused(answer) -> None:
        assert answer.status_code == 403, answer.json
        assert answer.json["error"]["code"] == "initiator_refused"
        assert "n'est pas signé par MEG" in answer.json["error"]["message"]

    refused(_pay(api, 2, **{"MEG-Initiator": nested}))
    item = {"external_id": "meg-3", "idempotency_key": "cle-3", "payment": {**pay_body(), "invoice": invoice_body(3)}}
    batch = api.post("/payment-batches", json={"items": [item]}, headers={"MEG-Initiator": nested})
    assert batch.status_code == 200
    [answer] = batch.json["items"]
    assert answer["status"] == 403 and answer["error"]["code"] == "initiator_refused"
    in_item = api.post("/payment-batches", json={"items": [{**item, "initiator": nested}]})
    assert in_item.json["items"][0]["error"]["code"] == "initiator_refused"
    refused(api.post(f"/payments/{paid.json['id']}/cancel", json={}, headers={"MEG-Initiator": nested}))
    assert api.get(f"/payments/{paid.json['id']}").json["status"] == "scheduled"
    assert [e["data"]["id"] for e in api.get("/events").json["events"]] == [paid.json["id"]]  # nothing else paid
