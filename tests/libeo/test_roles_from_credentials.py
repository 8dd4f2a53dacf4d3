"""The approval rules follow who Libeo knows is paying, never the role a request declares.

Reproduced: the accountant's own e-mail with ``"role": "user"`` scheduled the
payment the account's rule holds for the expert-comptable.
"""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import func, select

from models.libeo import Payment, db
from tests.conftest import meg_initiator

from .conftest import INITIATOR_HEADER, Api, invoice_body, pay_body
from .test_safeguards import DAY, admin, dated_constants, held, pay, scheduled, text  # noqa: F401

ACCOUNTANT = "expert@cabinet-durand.fr"  # the account's expert-comptable in ``admin``


def test_the_accountant_declared_as_a_user_is_still_held(admin, client):  # noqa: F811
    client.post("/libeo/configuration/approbations", data={"threshold": "", "accountant_payments": "y"})
    payment = held(pay(admin.api, "meg-1", n=1, role="user", email=ACCOUNTANT))
    assert payment["hold_reasons"] == ["approval_rule"]
    assert f"Paiement initié par l'expert-comptable ({ACCOUNTANT})" in payment["hold_details"][0]
    assert payment["initiated_by"] == {"email": ACCOUNTANT, "role": "accountant"}


def test_the_accountant_written_otherwise_is_still_the_accountant(admin, client):  # noqa: F811
    client.post("/libeo/configuration/approbations", data={"threshold": "", "accountant_payments": "y"})
    payment = held(pay(admin.api, "meg-1", n=1, role="user", email="  Expert@Cabinet-Durand.FR "))
    assert payment["initiated_by"]["role"] == "accountant"


def test_a_user_is_not_made_an_accountant(admin, client):  # noqa: F811
    client.post("/libeo/configuration/approbations", data={"threshold": "", "accountant_payments": "y"})
    payment = scheduled(pay(admin.api, "meg-1", n=1, role="user", email="compta@entreprise.fr"))
    assert payment["initiated_by"] == {"email": "compta@entreprise.fr", "role": "user"}


def test_the_payments_page_says_who_libeo_knows(admin, client):  # noqa: F811
    client.post("/libeo/configuration/approbations", data={"threshold": "", "accountant_payments": "y"})
    payment = held(pay(admin.api, "meg-1", n=1, role="user", email=ACCOUNTANT))
    page = client.get(f"/libeo/paiements/{payment['id']}").get_data(as_text=True)
    assert "expert-comptable" in page


# --- the role is MEG's signed word (header MEG-Initiator), never the body's ---------------------------
#
# Reproduced (issue's third case, through the API with the key alone): a body naming a plain user scheduled the
# payment the account's rule holds for the expert-comptable. Whoever holds the key may write any body: only
# MEG's signature on who asks counts.


def _body(email: str, role: str, n: int = 1) -> dict:
    return pay_body(email=email, role=role, execution_date=DAY.isoformat(), invoice=invoice_body(n))


def _signed(root, admin, email: str, role: str) -> dict:  # noqa: F811
    return {INITIATOR_HEADER: meg_initiator(root, admin.siret, email, role)}


def _post(admin, body: dict, headers: dict | None = None, key: str = "k-1"):  # noqa: F811
    raw = Api(admin.api.client, admin.api.key, signed=False)
    return raw.post("/invoices/meg-1/payments", json=body, headers={"Idempotency-Key": key, **(headers or {})})


def test_a_body_alone_never_says_who_pays(admin, client, libeo_app):  # noqa: F811
    client.post("/libeo/configuration/approbations", data={"threshold": "", "accountant_payments": "y"})
    answer = _post(admin, _body("compta@entreprise.fr", "user"))
    assert answer.status_code == 400
    assert answer.json["error"]["code"] == "initiator_required"
    assert "MEG-Initiator est obligatoire" in answer.json["error"]["message"]
    with libeo_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 0


def test_the_accountant_signed_by_meg_declared_a_user_in_the_body_is_refused(admin, client, libeo_app):  # noqa: F811
    client.post("/libeo/configuration/approbations", data={"threshold": "", "accountant_payments": "y"})
    signed = _signed(client.application, admin, ACCOUNTANT, "accountant")
    for body in (_body(ACCOUNTANT, "user"), _body("compta@entreprise.fr", "user")):
        answer = _post(admin, body, signed)
        assert answer.status_code == 403, answer.json
        assert answer.json["error"]["code"] == "initiator_mismatch"
        assert "contredit l'en-tête MEG-Initiator signé par MEG" in answer.json["error"]["message"]
    with libeo_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 0
    # The same request, the body agreeing with MEG (or saying nobody): held by the accountant's rule.
    payment = held(_post(admin, _body(ACCOUNTANT, "accountant"), signed))
    assert payment["initiated_by"] == {"email": ACCOUNTANT, "role": "accountant"}
    assert payment["hold_reasons"] == ["approval_rule"]


def test_the_person_and_role_are_megs_when_the_body_names_nobody(admin, client):  # noqa: F811
    client.post("/libeo/configuration/approbations", data={"threshold": "", "accountant_payments": "y"})
    body = {"execution_date": DAY.isoformat(), "invoice": invoice_body(1)}
    payment = held(_post(admin, body, _signed(client.application, admin, ACCOUNTANT, "accountant")))
    assert payment["initiated_by"] == {"email": ACCOUNTANT, "role": "accountant"}
    page = _words(client.get(f"/libeo/paiements/{payment['id']}"))
    assert f"Initié par {ACCOUNTANT} (expert-comptable, via MEG)" in page
    assert f"Demandé par {ACCOUNTANT} (expert-comptable, via MEG" in _words(client.get("/libeo/a-approuver/"))


def _words(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", text(response)).split())


def _forged(root, admin, **changes) -> str:  # noqa: F811
    """MEG's claims, signed with MEG's key after ``changes`` (or, with ``key="other"``, by another key)."""
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    from models.meg.signing import signing_key

    meg = root.extensions["sides"]["meg"]
    with meg.app_context():
        now = int(time.time())
        claims = {"iss": "http://127.0.0.1:5000/meg", "aud": "libeo", "iat": now, "exp": now + 300,
                  "purpose": "payment_initiator", "sub": "1", "email": "compta@entreprise.fr", "role": "user",
                  "company_id": 1, "company_siret": admin.siret}
        other = changes.pop("key", None)
        claims.update(changes)
        key = RSAKey.generate_key(2048, parameters={"alg": "RS256"}, auto_kid=True) if other else signing_key()
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


@pytest.mark.parametrize(("changes", "words"), [
    ({"key": "other"}, "n'est pas signé par MEG"),
    ({"iat": int(time.time()) - 900, "exp": int(time.time()) - 600}, "a expiré"),
    ({"exp": int(time.time()) + 3600}, "vaut plus de cinq minutes"),
    ({"purpose": "libeo_key_saved"}, "a expiré"),
    ({"aud": "un-autre-service"}, "a expiré"),
    ({"company_siret": "73282932000074"}, "pour une autre entreprise"),
    ({"role": "administrateur"}, "ne dit pas qui demande"),
])
def test_an_assertion_meg_did_not_sign_for_this_account_now_is_refused(admin, client, libeo_app, changes,  # noqa: F811
                                                                        words):
    answer = _post(admin, _body("compta@entreprise.fr", "user"),
                   {INITIATOR_HEADER: _forged(client.application, admin, **changes)})
    assert answer.status_code == 403, answer.json
    assert answer.json["error"]["code"] == "initiator_refused"
    assert words in answer.json["error"]["message"]
    with libeo_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 0
    # Nothing was claimed: the same key, signed by MEG, pays.
    scheduled(_post(admin, _body("compta@entreprise.fr", "user"),
                    _signed(client.application, admin, "compta@entreprise.fr", "user")))


def test_a_replay_carries_a_fresh_assertion_and_gets_the_first_answer(admin, client):  # noqa: F811
    body = _body("compta@entreprise.fr", "user")
    first = scheduled(_post(admin, body, _signed(client.application, admin, "compta@entreprise.fr", "user")))
    again = _post(admin, body, _signed(client.application, admin, "compta@entreprise.fr", "user"))
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["id"] == first["id"]


def test_a_cancellation_is_the_signed_persons_too(admin, client):  # noqa: F811
    payment = scheduled(_post(admin, _body("compta@entreprise.fr", "user"),
                              _signed(client.application, admin, "compta@entreprise.fr", "user")))
    raw = Api(admin.api.client, admin.api.key, signed=False)
    path = f"/payments/{payment['id']}/cancel"
    unsigned = raw.post(path, json={"cancelled_by": {"email": "compta@entreprise.fr", "role": "user"}})
    assert (unsigned.status_code, unsigned.json["error"]["code"]) == (400, "initiator_required")
    contradicted = raw.post(path, json={"cancelled_by": {"email": "compta@entreprise.fr", "role": "user"}},
                            headers=_signed(client.application, admin, ACCOUNTANT, "accountant"))
    assert (contradicted.status_code, contradicted.json["error"]["code"]) == (403, "initiator_mismatch")
    done = raw.post(path, json={}, headers=_signed(client.application, admin, "compta@entreprise.fr", "user"))
    assert done.status_code == 200 and done.json["status"] == "cancelled"


def test_the_api_document_says_the_header_and_its_refusals(admin):  # noqa: F811
    document = admin.api.get("/openapi.json").json
    pay_operation = document["paths"]["/invoices/{external_id}/payments"]["post"]
    header = next(p for p in pay_operation["parameters"] if p["name"] == INITIATOR_HEADER)
    assert header["in"] == "header" and header["required"] is True
    assert "jamais du corps de la requête" in header["description"]
    assert "initiator_required" in pay_operation["responses"]["400"]["description"]
    assert "initiator_mismatch" in pay_operation["responses"]["403"]["description"]
    assert "initiator_refused" in pay_operation["responses"]["403"]["description"]
    cancel = document["paths"]["/payments/{payment_id}/cancel"]["post"]
    assert any(p["name"] == INITIATOR_HEADER for p in cancel["parameters"])
