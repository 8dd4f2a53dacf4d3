"""« Supprimer la connexion » while a « Payer » is still « Vérification en cours ».

A request whose answer MEG never heard may have reached Libeo (then Libeo
holds a payment, which MEG follows with the retired key) or not. When it did
not, MEG must not « follow » it forever: Libeo, asked with the key MEG still
holds, says it never received that request and closes it for good (no later
replay of that Idempotency-Key may ever create the payment, whatever the
key), and MEG shows « Non envoyé » with the next step — pay it again once
Libeo is connected. It is never counted as a payment Libeo may be making.

Libeo runs on a socket behind the fault proxy, so that a request can be lost
before it reaches Libeo (the proxy accepts the connection and closes it).
"""

from __future__ import annotations

from html import unescape

import pytest
from sqlalchemy import select

from tests.conftest import meg_initiator

from .test_payment_model import PAYMENTS, World


@pytest.fixture
def world(tmp_path):
    built = World(tmp_path)
    built.reset()
    yield built
    built.close()


def page(response) -> str:
    return unescape(response.get_data(as_text=True))


def logged_in(world, email: str = "admin@boulangerie-martin.fr"):
    client = world.apps.root.test_client()
    client.post("/meg/connexion", data={"email": email, "password": "demo-meg-2026"})
    return client


def first_invoice(world) -> tuple[int, str]:
    from models.meg import PaymentMode, SupplierInvoice
    from models.meg import db as meg_db

    with world.apps.meg.app_context():
        invoice = meg_db.session.scalar(
            select(SupplierInvoice).where(SupplierInvoice.company_id == world.company_id,
                                          SupplierInvoice.payment_mode == PaymentMode.LIBEO,
                                          SupplierInvoice.paid_at.is_(None)).order_by(SupplierInvoice.id))
        return invoice.id, invoice.number


def attempts(world) -> list[dict]:
    from models.meg import db as meg_db
    from models.meg.libeo_link.attempts import PaymentAttempt

    with world.apps.meg.app_context():
        return [{"status": a.status.value, "label": a.label, "key": a.idempotency_key, "body": a.request_body,
                 "code": a.refusal_code, "refusal": a.refusal}
                for a in meg_db.session.scalars(select(PaymentAttempt).order_by(PaymentAttempt.id))]


def libeo_payments(world) -> list[str]:
    from models.libeo import db as libeo_db
    from models.libeo.payments.models import Payment

    with world.apps.libeo.app_context():
        return [p.status.value for p in libeo_db.session.scalars(select(Payment).order_by(Payment.id))]


def sync(world) -> None:
    from models.meg.libeo_link.sync import sync_pass

    with world.apps.meg.app_context():
        sync_pass()


def connection(world) -> dict:
    from models.meg import db as meg_db
    from models.meg.libeo_link.attempts import in_flight_count
    from models.meg.libeo_link.connection import LibeoConnection

    with world.apps.meg.app_context():
        row = meg_db.session.scalar(select(LibeoConnection))
        return {"state": row.state.value, "key_kept": bool(row.key_ciphertext),
                "in_flight": in_flight_count(world.company_id)}


def new_key(world) -> str:
    from models.libeo import db as libeo_db
    from models.libeo.accounts.keys import issue_meg_api_key
    from models.libeo.accounts.models import Account

    with world.apps.libeo.app_context():
        key = issue_meg_api_key(libeo_db.session.get(Account, world.account_id))
        libeo_db.session.commit()
    return key


def unheard_payment(world, client, invoice_id: int) -> None:
    """« Payer » whose request never reaches Libeo: « Vérification en cours »."""
    world.proxy.down()
    answer = page(client.post(f"/meg/achats/factures/{invoice_id}/payer", follow_redirects=True))
    assert "Vérification en cours" in answer, answer
    assert [a["status"] for a in attempts(world)] == ["requested"]
    assert libeo_payments(world) == []


def assert_not_sent(world, client, invoice_id: int) -> None:
    [attempt] = attempts(world)
    assert attempt["status"] == "refused" and attempt["label"] == "Non envoyé", attempt
    assert connection(world)["in_flight"] == 0
    invoice_page = page(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert "Non envoyé" in invoice_page
    assert "Libeo n'a jamais reçu cette demande" in invoice_page
    assert "payez-la de nouveau une fois Libeo reconnecté" in invoice_page
    assert "Vérification en cours" not in invoice_page
    options = page(client.get("/meg/achats/options"))
    assert "suivi des" not in options and "Vérification en cours" not in options
    assert libeo_payments(world) == []


def assert_never_created_afterwards(world, client, invoice_id: int) -> str:
    """The old request, replayed with a new key of the same account, creates nothing: Libeo closed it."""
    from models.meg import Company
    from models.meg import db as meg_db

    [attempt] = attempts(world)
    key = new_key(world)
    with world.apps.meg.app_context():
        siret = meg_db.session.get_one(Company, world.company_id).siret
    asked = attempt["body"]["initiated_by"]
    replayed = client.post(f"/libeo/api/v1/invoices/meg-{invoice_id}/payments", json=attempt["body"],
                           headers={"Authorization": f"Bearer {key}", "Idempotency-Key": attempt["key"],
                                    "MEG-Initiator": meg_initiator(world.apps.root, siret, asked["email"],
                                                                   asked["role"])})
    assert replayed.status_code == 410 and replayed.json["error"]["code"] == "request_void", replayed.json
    assert libeo_payments(world) == []
    return key


def test_an_unheard_request_is_not_sent_once_the_connection_is_removed(world):
    client = logged_in(world)
    invoice_id, number = first_invoice(world)
    unheard_payment(world, client, invoice_id)
    world.proxy.heal()

    ask = page(client.get("/meg/achats/options/libeo/supprimer"))
    assert number in ask and "Vérification en cours" in ask
    done = page(client.post("/meg/achats/options/libeo/supprimer", follow_redirects=True))
    assert "La connexion à Libeo est supprimée" in done
    sync(world)
    sync(world)
    assert_not_sent(world, client, invoice_id)
    assert connection(world) == {"state": "removed", "key_kept": False, "in_flight": 0}

    # Reconnected: the invoice is paid again, once; the old request never becomes a payment.
    key = assert_never_created_afterwards(world, client, invoice_id)
    assert "La connexion est établie" in page(client.post("/meg/achats/options", data={"api_key": key},
                                                          follow_redirects=True))
    paid = page(client.post(f"/meg/achats/factures/{invoice_id}/payer", follow_redirects=True))
    assert "Paiement programmé le" in paid, paid
    sync(world)
    assert libeo_payments(world) == ["scheduled"]
    assert [a["status"] for a in attempts(world)] == ["refused", "scheduled"]


def test_an_unheard_request_ends_not_sent_when_libeo_comes_back_after_the_removal(world):
    """Libeo unreachable when the connection is removed: MEG keeps the key, then learns Libeo never received it."""
    client = logged_in(world)
    invoice_id, _ = first_invoice(world)
    unheard_payment(world, client, invoice_id)
    done = page(client.post("/meg/achats/options/libeo/supprimer", follow_redirects=True))
    assert "Libeo n'a pas pu être joint" in done
    sync(world)  # still down: MEG cannot know yet, and says so
    assert [a["status"] for a in attempts(world)] == ["requested"]
    assert "Vérification en cours" in page(client.get(f"/meg/achats/factures/{invoice_id}"))

    world.proxy.heal()
    sync(world)
    sync(world)
    assert_not_sent(world, client, invoice_id)
    assert connection(world)["key_kept"] is False
    assert_never_created_afterwards(world, client, invoice_id)


def test_a_request_libeo_received_is_followed_not_called_not_sent(world):
    """The answer was lost after Libeo made the payment: removing the connection follows it, as Libeo holds it."""
    client = logged_in(world)
    invoice_id, _ = first_invoice(world)
    world.proxy.drop_answers(PAYMENTS)
    assert "Vérification en cours" in page(client.post(f"/meg/achats/factures/{invoice_id}/payer",
                                                       follow_redirects=True))
    world.proxy.heal()
    assert libeo_payments(world) == ["scheduled"]
    done = page(client.post("/meg/achats/options/libeo/supprimer", follow_redirects=True))
    assert "suivi des 1 paiement(s) en cours" in done
    sync(world)
    [attempt] = attempts(world)
    assert attempt["status"] == "scheduled", attempt
    assert "Connexion supprimée — suivi des 1 paiement(s) en cours" in page(client.get("/meg/achats/options"))


def test_the_void_call_answers_each_case_and_refuses_bad_input_in_french(world):
    """``POST /payment-requests/void``: a key never received is closed (again and again the same); an answered
    one tells its answer; bad input is a clear French refusal, nothing changed."""
    client = logged_in(world)
    invoice_id, _ = first_invoice(world)
    world.proxy.drop_answers(PAYMENTS)
    client.post(f"/meg/achats/factures/{invoice_id}/payer")
    world.proxy.heal()
    [attempt] = attempts(world)
    key = new_key(world)

    def void(body, **kwargs):
        return client.post("/libeo/api/v1/payment-requests/void", headers={"Authorization": f"Bearer {key}"},
                           **({"json": body} if body is not None else kwargs))

    answered = void({"idempotency_key": attempt["key"]})
    assert answered.status_code == 200 and answered.json["outcome"] == "answered"
    assert answered.json["status"] == 201 and answered.json["payment"]["status"] == "scheduled"
    for _ in range(2):
        closed = void({"idempotency_key": "jamais-recue-1"})
        assert closed.status_code == 200 and closed.json == {"idempotency_key": "jamais-recue-1", "outcome": "void"}

    for body, status in (({}, 422), ({"idempotency_key": ""}, 422), ({"idempotency_key": "é" * 3}, 422),
                         ({"idempotency_key": "k" * 256}, 422), ({"idempotency_key": 12}, 422),
                         ({"idempotency_key": "k", "autre": 1}, 422), ([], 422)):
        refused = void(body)
        assert refused.status_code in (400, status), (body, refused.status_code)
        message = refused.json["error"]["message"]
        assert message and any(word in message for word in ("clé", "champ", "corps", "JSON", "objet")), message
    unreadable = void(None, data="pas du json", content_type="application/json")
    assert unreadable.status_code == 400 and "JSON" in unreadable.json["error"]["message"]
    anonymous = client.post("/libeo/api/v1/payment-requests/void", json={"idempotency_key": "k"})
    assert anonymous.status_code == 401
    assert libeo_payments(world) == ["scheduled"]
