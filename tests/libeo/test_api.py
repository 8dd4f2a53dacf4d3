"""REST API v1: who-am-I, invoices by MEG's id, paying with an Idempotency-Key, payments."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from models.libeo import ApiKey, IdempotencyRecord, Invoice, Payment, Plan, db

from .conftest import SUPPLIER_IBAN, Api, invoice_body, make_account, make_key, pay_body


def count(libeo_app, model) -> int:
    with libeo_app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_me_describes_the_account(api, account):
    response = api.get("/me")
    assert response.status_code == 200
    assert response.json == {
        "id": account.id,
        "name": "Boulangerie Martin SARL",
        "siret": account.siret,
        "plan": "gratuit",
        "plan_label": "Gratuit",
        "payments_this_month": 0,
        "payment_limit": 5,
        "accountant_email": None,
        "verified": True,
        # Verified, but no IBAN to debit yet: Libeo says what keeps its transfers waiting.
        "waiting_for": "Aucun IBAN du compte à débiter : vos paiements restent « Programmé » et ne sont pas exécutés. "
                       "Renseignez l'IBAN de l'entreprise dans Libeo, « Configuration » → « Entreprise ».",
        # No approval rule: no payment is held for its amount nor for who asks.
        "approval_above_cents": None,
        "accountant_payments_approved": False,
    }


def test_me_of_partnerships_account_is_unlimited(client, libeo_app):
    info = make_account(libeo_app, plan=Plan.PARTNERSHIPS, accountant="expert@cabinet-durand.fr")
    me = Api(client, make_key(libeo_app, info.id)).get("/me").json
    assert me["plan"] == "partnerships"
    assert me["payment_limit"] is None
    assert me["accountant_email"] == "expert@cabinet-durand.fr"


BAD_KEYS = [
    None,
    "",
    "Basic dXNlcjpwYXNz",
    "lbo_meg_",
    "lbo_meg_000000000000_" + "A" * 43,
    "nimportequoi",
    "x" * 5000,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_every_bad_key_gets_the_same_401(client, api, key):
    headers = {} if key is None else {"Authorization": key if key.startswith("Basic") else f"Bearer {key}"}
    response = client.get("/libeo/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.json == {
        "error": {"code": "unauthorized", "message": "Clé d'API absente ou invalide.", "field": None}
    }
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="libeo"'


def test_the_api_ignores_a_signed_in_browsers_cookie_and_sets_none(client, api, signed_in):
    """The API authenticates by key only: a browser's Libeo session is not a key, and no answer sets a cookie."""
    assert client.get("/libeo/factures/").status_code == 200  # the browser is signed in
    alone = client.get("/libeo/api/v1/me")
    assert alone.status_code == 401 and alone.json["error"]["code"] == "unauthorized"
    for response in (alone, api.get("/me"), api.put_invoice("meg-1")):
        assert response.status_code in (200, 201, 401)
        assert "Set-Cookie" not in response.headers
    assert client.get("/libeo/factures/").status_code == 200  # still signed in


def test_revoked_and_tampered_keys_get_the_same_401(client, libeo_app, account, api_key):
    good = Api(client, api_key).get("/me")
    assert good.status_code == 200
    tampered = api_key[:-1] + ("A" if api_key[-1] != "A" else "B")
    answer_tampered = Api(client, tampered).get("/me")
    new_key = make_key(libeo_app, account.id)  # regenerating revokes the first key
    answer_revoked = Api(client, api_key).get("/me")
    assert answer_tampered.status_code == answer_revoked.status_code == 401
    assert answer_tampered.get_data() == answer_revoked.get_data()
    assert Api(client, new_key).get("/me").status_code == 200


def test_key_is_stored_hashed_and_never_logged(client, libeo_app, api, api_key, caplog):
    caplog.set_level(logging.DEBUG)
    api.put_invoice("meg-1")
    api.pay("meg-1")
    api.get("/me")
    assert api_key not in caplog.text
    secret = api_key.split("_", 3)[3]  # the secret itself may contain "_"
    with libeo_app.app_context():
        key = db.session.scalar(select(ApiKey))
        assert api_key not in repr(vars(key))
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)):
                assert all(secret not in str(value) for value in row)
        assert key.last_used_at is not None


def test_put_invoice_creates_then_updates(api, libeo_app):
    created = api.put_invoice("meg-42")
    assert created.status_code == 201
    assert created.json["status"] == "to_pay"
    assert created.json["supplier"] == {"name": "Minoterie Dupuis", "iban": SUPPLIER_IBAN, "bic": "AGRIFRPP"}
    updated = api.put_invoice("meg-42", amount_cents=50_000, due_date="2026-11-15")
    assert updated.status_code == 200
    assert updated.json["amount_cents"] == 50_000
    with libeo_app.app_context():
        invoices = db.session.scalars(select(Invoice)).all()
        assert len(invoices) == 1
        assert invoices[0].source.value == "MEG"
        assert invoices[0].due_date.isoformat() == "2026-11-15"


def _set(body: dict, path: str, value):
    target = body
    *parents, last = path.split(".")
    for name in parents:
        target = target[name]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value


DELETE = object()

BAD_INVOICES = [
    ("supplier.iban", "FR7630006000011234567890188", "supplier.iban"),
    ("supplier.iban", "XX12", "supplier.iban"),
    ("supplier.iban", "fr76 3000 6000 0112 3456 7890 189", "supplier.iban"),
    ("supplier.bic", "ABC", "supplier.bic"),
    ("amount_cents", 0, "amount_cents"),
    ("amount_cents", -100, "amount_cents"),
    ("amount_cents", 10**15, "amount_cents"),
    ("amount_cents", "100", "amount_cents"),
    ("amount_cents", 12.5, "amount_cents"),
    ("amount_cents", True, "amount_cents"),
    ("amount_cents", None, "amount_cents"),
    ("amount_cents", DELETE, "amount_cents"),
    ("currency", "USD", "currency"),
    ("number", "X" * 61, "number"),
    ("number", "", "number"),
    ("number", "   ", "number"),
    ("number", "F\u0000-1", "number"),
    ("number", 12, "number"),
    ("supplier.name", "N" * 201, "supplier.name"),
    ("supplier.name", "Nom\u202e", "supplier.name"),
    ("supplier", "Minoterie", "supplier"),
    ("supplier.extra", "x", "supplier.extra"),
    ("unknown", "x", "unknown"),
    ("issue_date", "02/11/2026", "issue_date"),
    ("issue_date", "2026-02-30", "issue_date"),
    ("issue_date", "1999-12-31", "issue_date"),
    ("due_date", "2026-09-01", "due_date"),
    ("due_date", 20261101, "due_date"),
]


@pytest.mark.parametrize("path, value, field", BAD_INVOICES)
def test_bad_invoice_is_refused_naming_the_field(api, libeo_app, path, value, field):
    body = invoice_body()
    _set(body, path, value)
    response = api.put("/invoices/meg-1", json=body)
    assert response.status_code == 422, response.json
    assert response.json["error"]["field"] == field
    assert response.json["error"]["code"] == "validation_error"
    assert response.json["error"]["message"]
    assert count(libeo_app, Invoice) == 0


@pytest.mark.parametrize(
    "data, content_type",
    [(b"{not json", "application/json"), (b'{"a": NaN}', "application/json"), (b"[]" * 3, "application/json"),
     (b"number=1", "application/x-www-form-urlencoded"), (b"\xff\xfe\x00", "application/json")],
)
def test_unreadable_bodies_are_400(api, libeo_app, data, content_type):
    response = api.client.put(
        "/libeo/api/v1/invoices/meg-1", data=data, headers={**api.headers(), "Content-Type": content_type}
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_json"
    assert count(libeo_app, Invoice) == 0


@pytest.mark.parametrize("depth", [600, 900, 100_000])
def test_a_body_nested_too_deep_is_400_in_french(api, libeo_app, depth):
    """The parser reads a few hundred levels; what checks each text after it must not give up on them either."""
    response = api.put("/invoices/meg-1", data=b"[" * depth + b"]" * depth,
                       headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json["error"] == {"code": "invalid_json", "message": "Le corps de la requête n'est pas du JSON "
                                      "valide.", "field": None}
    assert count(libeo_app, Invoice) == 0


@pytest.mark.parametrize("body", [b"[]", b'"texte"', b"12", b"null"])
def test_body_must_be_an_object(api, body):
    response = api.put("/invoices/meg-1", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json["error"]["message"] == "Le corps de la requête doit être un objet JSON."


def test_bad_external_id(api):
    response = api.put("/invoices/" + "x" * 65, json=invoice_body())
    assert response.status_code == 422
    assert response.json["error"]["field"] == "external_id"


def test_pay_creates_a_scheduled_payment_and_records_its_initiator(api, libeo_app):
    api.put_invoice("meg-7")
    response = api.pay("meg-7", body=pay_body("Claire@Boulangerie-Martin.fr"))
    assert response.status_code == 201
    payment = response.json
    assert payment["status"] == "scheduled"
    assert payment["amount_cents"] == invoice_body()["amount_cents"]
    assert payment["invoice_external_id"] == "meg-7"
    assert payment["initiated_by"] == {"email": "claire@boulangerie-martin.fr", "role": "user"}
    assert payment["channel"] == "MEG"
    assert api.get(f"/payments/{payment['id']}").json == payment
    assert api.get("/me").json["payments_this_month"] == 1
    with libeo_app.app_context():
        invoice = db.session.scalar(select(Invoice))
        assert invoice.status.value == "payment_scheduled"


def test_same_idempotency_key_replays_and_other_body_is_422(api, libeo_app):
    api.put_invoice("meg-7")
    first = api.pay("meg-7", key="clic-1")
    again = api.pay("meg-7", key="clic-1")
    assert again.status_code == 201
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    other = api.pay("meg-7", key="clic-1", body=pay_body("autre@entreprise.fr"))
    assert other.status_code == 422
    assert other.json["error"]["code"] == "idempotency_key_reused"
    assert count(libeo_app, Payment) == 1
    assert api.get("/me").json["payments_this_month"] == 1


def test_second_payment_of_an_invoice_is_409(api, libeo_app):
    api.put_invoice("meg-7")
    first = api.pay("meg-7", key="clic-1").json
    second = api.pay("meg-7", key="clic-2")
    assert second.status_code == 409
    assert second.json["error"]["code"] == "payment_exists"
    assert second.json["error"]["payment_id"] == first["id"]
    assert "déjà programmé" in second.json["error"]["message"]
    assert api.get("/me").json["payments_this_month"] == 1


def test_paid_invoice_transfer_cannot_change_but_dates_can(api):
    api.put_invoice("meg-7")
    api.pay("meg-7")
    locked = api.put_invoice("meg-7", amount_cents=1)
    assert locked.status_code == 409
    assert locked.json["error"]["code"] == "invoice_locked"
    assert api.put_invoice("meg-7", due_date="2026-12-01").status_code == 200


def test_idempotency_key_is_required_and_bounded(api):
    api.put_invoice("meg-7")
    missing = api.post("/invoices/meg-7/payments", json=pay_body())
    assert missing.status_code == 400
    assert missing.json["error"] == {
        "code": "missing_idempotency_key",
        "message": "L'en-tête Idempotency-Key est obligatoire.",
        "field": "Idempotency-Key",
    }
    assert api.pay("meg-7", key="k" * 256).status_code == 400


@pytest.mark.parametrize(
    "body, field",
    [
        ({"initiated_by": {"email": "a@b.fr"}}, "initiated_by.role"),
        ({"initiated_by": {"email": "a@b.fr", "role": "patron"}}, "initiated_by.role"),
        ({"initiated_by": {"email": "pas-une-adresse", "role": "user"}}, "initiated_by.email"),
        ({"initiated_by": {"email": "a@" + "b" * 260 + ".fr", "role": "user"}}, "initiated_by.email"),
        ({"initiated_by": {"email": "a@b.fr", "role": "user", "x": 1}}, "initiated_by.x"),
        ({**pay_body(), "amount_cents": 1}, "amount_cents"),
        ({**pay_body(), "execution_date": "2020-01-01"}, "execution_date"),
        ({**pay_body(), "execution_date": "2099-01-01"}, "execution_date"),
        ({**pay_body(), "execution_date": "demain"}, "execution_date"),
    ],
)
def test_bad_payment_request_is_refused_and_counts_nothing(api, libeo_app, body, field):
    api.put_invoice("meg-7")
    response = api.pay("meg-7", body=body)
    assert response.status_code == 422, response.json
    assert response.json["error"]["field"] == field
    assert count(libeo_app, Payment) == 0
    assert count(libeo_app, IdempotencyRecord) == 0
    assert api.get("/me").json["payments_this_month"] == 0


def test_a_body_naming_nobody_without_megs_signed_word_is_refused(api, libeo_app):
    """Who asks is MEG's signed word (MEG-Initiator), never the body's: without it, nothing is claimed."""
    api.put_invoice("meg-7")
    response = api.pay("meg-7", body={})
    assert response.status_code == 400 and response.json["error"]["code"] == "initiator_required"
    assert response.json["error"]["field"] == "MEG-Initiator"
    assert count(libeo_app, IdempotencyRecord) == 0


def test_unknown_invoice_is_404_and_releases_the_key(api, libeo_app):
    response = api.pay("meg-inconnue", key="clic-1")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert count(libeo_app, IdempotencyRecord) == 0
    api.put_invoice("meg-inconnue")
    assert api.pay("meg-inconnue", key="clic-1").status_code == 201


def test_accountant_must_be_the_registered_one(client, libeo_app):
    info = make_account(libeo_app, accountant="expert@cabinet-durand.fr")
    api = Api(client, make_key(libeo_app, info.id))
    api.put_invoice("meg-1")
    refused = api.pay("meg-1", key="a", body=pay_body("autre@cabinet.fr", "accountant"))
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "initiator_not_allowed"
    assert refused.json["error"]["field"] == "initiated_by.email"
    assert count(libeo_app, Payment) == 0
    accepted = api.pay("meg-1", key="b", body=pay_body("Expert@Cabinet-Durand.fr", "accountant"))
    assert accepted.status_code == 201
    assert accepted.json["initiated_by"] == {"email": "expert@cabinet-durand.fr", "role": "accountant"}


def test_accountant_refused_when_account_has_none(api):
    api.put_invoice("meg-1")
    assert api.pay("meg-1", body=pay_body("expert@cabinet-durand.fr", "accountant")).status_code == 403


def test_sixth_payment_of_the_month_is_402_with_upgrade_address(api, libeo_app):
    for n in range(1, 7):
        api.put_invoice(f"meg-{n}", n=n)
    for n in range(1, 6):
        assert api.pay(f"meg-{n}", key=f"k{n}").status_code == 201
    refused = api.pay("meg-6", key="k6")
    assert refused.status_code == 402
    error = refused.json["error"]
    assert error["code"] == "quota_exceeded"
    assert "5 paiements par mois" in error["message"]
    assert error["upgrade_url"] == "http://127.0.0.1:5000/libeo/abonnement"
    assert count(libeo_app, Payment) == 5
    assert count(libeo_app, IdempotencyRecord) == 5
    assert api.get("/me").json["payments_this_month"] == 5


def test_accounts_never_see_each_other(client, libeo_app, api):
    api.put_invoice("meg-1")
    payment = api.pay("meg-1").json
    other = Api(client, make_key(libeo_app, make_account(libeo_app).id))
    assert other.get(f"/payments/{payment['id']}").status_code == 404
    assert other.pay("meg-1").status_code == 404
    created = other.put_invoice("meg-1", amount_cents=99)  # the same MEG id is another company's invoice
    assert created.status_code == 201
    assert api.get(f"/payments/{payment['id']}").json["amount_cents"] == payment["amount_cents"]


@pytest.mark.parametrize("path", ["/payments/0", "/payments/99999999999", "/payments/abc", "/nulle-part"])
def test_unknown_resources_are_json_404(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_wrong_method_is_json_405_with_allow(api):
    response = api.client.delete("/libeo/api/v1/me", headers=api.headers())
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


def test_too_large_body_is_json_413(api):
    response = api.put("/invoices/meg-1", json={"number": "x" * 2_000_000})
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"


def test_openapi_document_describes_the_api(client):
    document = client.get("/libeo/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {"/me", "/invoices/{external_id}", "/invoices/{external_id}/payments",
                                      "/invoices/{external_id}/document", "/payments/{payment_id}",
                                      "/payments/{payment_id}/receipt.pdf", "/payments/{payment_id}/cancel", "/events",
                                      "/key", "/payment-batches", "/account/meg-vouch", "/payment-requests/void"}
    assert document["servers"] == [{"url": "http://127.0.0.1:5000/libeo/api/v1"}]
    pay = document["paths"]["/invoices/{external_id}/payments"]["post"]
    assert {"201", "402", "403", "409", "422"} <= set(pay["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in pay["parameters"])
    schemas = document["components"]["schemas"]
    assert schemas["InvoiceInput"]["additionalProperties"] is False
    assert schemas["PaymentInput"]["properties"]["initiated_by"]["additionalProperties"] is False


def test_responses_match_the_published_schemas(client, api):
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    schemas = client.get("/libeo/api/v1/openapi.json").json["components"]["schemas"]

    def check(name, instance):
        jsonschema_rs.validator_for(schemas[name]).validate(instance)

    check("Account", api.get("/me").json)
    check("Invoice", api.put_invoice("meg-1").json)
    payment = api.pay("meg-1").json
    check("Payment", payment)
    check("Error", api.pay("meg-1", key="autre").json)
    check("Error", api.get("/payments/999").json)
    check("InvoiceInput", invoice_body())
    check("PaymentInput", pay_body(execution_date=None))


def test_delete_key_revokes_the_key_of_the_call_at_once(client, libeo_app, api, api_key, account, libeo_auth):
    assert client.get("/libeo/api/v1/me", headers={"Authorization": f"Bearer {api_key}"}).status_code == 200
    assert client.delete("/libeo/api/v1/key", headers={"Authorization": f"Bearer {api_key}"}).status_code == 204
    assert client.get("/libeo/api/v1/me", headers={"Authorization": f"Bearer {api_key}"}).status_code == 401
    assert client.delete("/libeo/api/v1/key", headers={"Authorization": f"Bearer {api_key}"}).status_code == 401
    libeo_auth.login(account.email)
    integrations = client.get("/libeo/configuration/integrations").get_data(as_text=True)
    assert "a été révoquée le" in integrations and "par MEG" in integrations
    assert "Se connecter" in integrations
