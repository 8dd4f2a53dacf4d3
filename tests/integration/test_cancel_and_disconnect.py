"""« Annuler » from MEG, and « Supprimer la connexion » that never leaves MEG blind.

Both products for real: MEG's client calls Libeo's API through its WSGI
stack, Libeo writes real SEPA files and reads real bank status reports.
"""

from __future__ import annotations

from sqlalchemy import select

from devtools.bank_simulator import status_report_for
from models.meg import Company, LibeoConnection, SupplierInvoice
from models.meg import db as meg_db
from tests.conftest import meg_initiator
from tests.helpers import page, sync

from .conftest import BOULANGERIE_SIRET, libeo_account, libeo_payments, meg_libeo_invoices
from .test_bank_leg_both_sides import execute, import_file, set_debtor_iban


def pay(client, invoice_id: int) -> None:
    answer = page(client.post(f"/meg/achats/factures/{invoice_id}/payer", data={"next": "/meg/achats/reglements"},
                              follow_redirects=True))
    assert "Paiement programmé le" in answer, answer


def quota_used(libeo_app, account_id: int) -> int:
    from models.libeo import Account, db
    from models.libeo.payments.quota import PaymentQuota

    with libeo_app.app_context():
        return PaymentQuota.for_account(db.session.get(Account, account_id)).used


def api(client, key: str, method: str, path: str, headers: dict | None = None, **kwargs):
    return client.open(f"/libeo/api/v1{path}", method=method,
                       headers={"Authorization": f"Bearer {key}", **(headers or {})}, **kwargs)


def meg_connection(meg_app) -> dict:
    with meg_app.app_context():
        connection = meg_db.session.scalar(select(LibeoConnection))
        return {"state": connection.state.value, "cursor": connection.events_cursor,
                "key_kept": bool(connection.key_ciphertext), "removed": connection.removed_at is not None}


# --- « Annuler » from MEG -------------------------------------------------------------------------------


def test_a_scheduled_payment_is_cancelled_from_meg_after_asking_and_shows_cancelled_on_both_sides_at_once(
        connected, client, meg_app, libeo_app):
    invoice_id, number, _ = meg_libeo_invoices(meg_app)[0]
    pay(client, invoice_id)
    assert quota_used(libeo_app, connected["account_id"]) == 1
    invoice_page = page(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert "Annuler le paiement" in invoice_page
    assert "annulez le paiement dans Libeo" not in invoice_page  # no longer sent to Libeo to do it

    ask = page(client.get(f"/meg/achats/factures/{invoice_id}/annuler-paiement"))
    assert "Annuler ce paiement ?" in ask and "Oui, annuler le paiement" in ask and "Non, le garder" in ask
    assert number in ask and "Programmé le" in ask
    assert libeo_payments(libeo_app)[0]["status"] == "scheduled"  # asking changes nothing

    done = page(client.post(f"/meg/achats/factures/{invoice_id}/annuler-paiement",
                            data={"next": f"/meg/achats/factures/{invoice_id}"}, follow_redirects=True))
    # Both sides at once: no sync pass in between.
    assert f"Le paiement de la facture {number} est annulé dans Libeo" in done
    assert "Annulé" in done and f"payer={invoice_id}" in done  # may be paid again
    assert libeo_payments(libeo_app)[0]["status"] == "cancelled"
    assert quota_used(libeo_app, connected["account_id"]) == 0  # the slot is free, as a cancel in Libeo frees it
    # MEG counts it free at once too, as its message says (it said « 1 paiement sur 5 » until the next pass).
    other_id, *_ = meg_libeo_invoices(meg_app)[1]
    confirmation = page(client.get(f"/meg/achats/factures/{other_id}?payer={other_id}"))
    assert "0 paiement sur 5 utilisé ce mois-ci" in confirmation
    assert "est annulé dans Libeo : le virement ne partira pas" in done
    from models.libeo import db
    from models.libeo.journal import JournalEntry

    with libeo_app.app_context():
        assert any("(via MEG)" in entry.actor and "annulé" in entry.message
                   for entry in db.session.scalars(select(JournalEntry)))
    # A second « Oui » (a double click, or a lost answer asked again) is harmless.
    again = page(client.post(f"/meg/achats/factures/{invoice_id}/annuler-paiement", follow_redirects=True))
    # Said as it is (the back button on a cancelled payment read « ne peut plus être annulé … tant que son
    # virement n'est pas dans un fichier remis à la banque », as if it had gone to the bank).
    assert "Ce paiement est déjà annulé : le virement ne partira pas." in again
    assert "remis à la banque" not in again
    assert [p["status"] for p in libeo_payments(libeo_app)] == ["cancelled"]


def test_a_payment_already_in_a_sepa_file_is_not_cancelled_and_meg_shows_where_it_is(
        connected, client, meg_app, libeo_app):
    set_debtor_iban(libeo_app, connected["account_id"])
    invoice_id, number, _ = meg_libeo_invoices(meg_app)[0]
    pay(client, invoice_id)
    execute(libeo_app)  # Libeo put it in a file; MEG has not synced yet and still offers « Annuler »
    assert "Annuler le paiement" in page(client.get(f"/meg/achats/factures/{invoice_id}"))
    refused = page(client.post(f"/meg/achats/factures/{invoice_id}/annuler-paiement", follow_redirects=True))
    assert "ne peut plus être annulé" in refused
    assert "Fichier prêt — à transmettre à votre banque" in refused  # MEG learnt where it stands
    assert "Annuler le paiement" not in refused
    assert libeo_payments(libeo_app)[0]["status"] == "file_ready"
    assert quota_used(libeo_app, connected["account_id"]) == 1


def test_cancel_without_a_payment_or_of_another_companys_invoice_is_refused_plainly(
        connected, client, meg_app, libeo_app):
    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    refused = client.get(f"/meg/achats/factures/{invoice_id}/annuler-paiement", follow_redirects=True)
    assert refused.status_code == 200
    assert "Aucun paiement de cette facture n'est en cours : il n'y a rien à annuler." in page(refused)
    other_id, *_ = meg_libeo_invoices(meg_app, "Garage Leroy SAS")[0]
    assert client.get(f"/meg/achats/factures/{other_id}/annuler-paiement").status_code == 404
    assert client.post(f"/meg/achats/factures/{other_id}/annuler-paiement").status_code == 404
    assert client.post("/meg/achats/factures/99999999999999999999/annuler-paiement").status_code == 404
    assert libeo_payments(libeo_app) == []


def test_libeo_api_cancel_refuses_bad_input_and_other_accounts(connected, client, meg_app, libeo_app):
    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    pay(client, invoice_id)
    [payment] = libeo_payments(libeo_app)
    key = connected["key"]
    path = f"/payments/{payment['id']}/cancel"
    unsigned = api(client, key, "POST", path, json={})  # who cancels is MEG's signed word, never the body's
    assert unsigned.status_code == 400 and unsigned.json["error"]["code"] == "initiator_required"
    assert api(client, key, "POST", path, json={"cancelled_by": "moi"}).status_code == 422
    assert api(client, key, "POST", path, data="pas du json", content_type="application/json").status_code == 400
    signed = {"MEG-Initiator": meg_initiator(client.application, BOULANGERIE_SIRET, "x@cabinet.fr", "accountant")}
    stranger = api(client, key, "POST", path, headers=signed,
                   json={"cancelled_by": {"email": "x@cabinet.fr", "role": "accountant"}})
    assert stranger.status_code == 403 and stranger.json["error"]["code"] == "initiator_not_allowed"
    _, garage_key = libeo_account(libeo_app, "Garage Leroy SAS", "85123456700002", "gerant@garage-leroy.fr")
    other = api(client, garage_key, "POST", path, json={"cancelled_by": {"email": "g@garage.fr", "role": "user"}})
    assert other.status_code == 404
    assert libeo_payments(libeo_app)[0]["status"] == "scheduled"


# --- « Supprimer la connexion » with payments in flight ----------------------------------------------------


def test_disconnecting_with_a_payment_in_flight_keeps_following_it_to_its_end(connected, client, meg_app, libeo_app):
    set_debtor_iban(libeo_app, connected["account_id"])
    (paid_id, paid_number, _), (other_id, _, _) = meg_libeo_invoices(meg_app)[:2]
    pay(client, paid_id)

    ask = page(client.get("/meg/achats/options/libeo/supprimer"))
    assert "Paiements en cours" in ask and paid_number in ask and "Programmé le" in ask
    assert "Annuler le paiement" in ask  # offered before the connection goes
    done = page(client.post("/meg/achats/options/libeo/supprimer", follow_redirects=True))
    assert "suivre les 1 paiement(s) en cours" in done
    assert "Connexion supprimée — suivi des 1 paiement(s) en cours" in done

    # Libeo narrows the key: reading the account's payments and events only.
    key = connected["key"]
    assert api(client, key, "GET", "/me").status_code == 200
    assert api(client, key, "GET", "/events").status_code == 200
    with meg_app.app_context():
        invoice = meg_db.session.get(SupplierInvoice, other_id)
        from models.meg.libeo_link.attempts import external_id, invoice_payload

        body, reference = invoice_payload(invoice), external_id(other_id)
    written = api(client, key, "PUT", f"/invoices/{reference}", json=body)
    assert written.status_code == 403 and written.json["error"]["code"] == "key_retired"
    assert "Supprimer la connexion" in written.json["error"]["message"]
    signed = meg_initiator(client.application, BOULANGERIE_SIRET, "admin@boulangerie-martin.fr")
    paid = api(client, key, "POST", f"/invoices/{reference}/payments",
               headers={"Idempotency-Key": "k-1", "MEG-Initiator": signed},
               json={"initiated_by": {"email": "admin@boulangerie-martin.fr", "role": "user"}, "invoice": body})
    assert paid.status_code in (401, 403)
    assert len(libeo_payments(libeo_app)) == 1

    # MEG says « Payer » cannot work before any click, on « Règlements » and the invoice.
    settlements = page(client.get("/meg/achats/reglements"))
    assert "Connexion supprimée — suivi des 1 paiement(s) en cours" in settlements
    assert f"payer={other_id}" not in settlements and "Coller une nouvelle clé dans « Options »" in settlements
    other_page = page(client.get(f"/meg/achats/factures/{other_id}"))
    assert "Connexion à Libeo supprimée : « Payer » ne fonctionne plus" in other_page
    assert f"payer={other_id}" not in other_page

    # The bank debits it: MEG still hears of it.
    import_file(libeo_app, status_report_for(execute(libeo_app)))
    sync(meg_app)
    assert "Payée via Libeo le" in page(client.get(f"/meg/achats/factures/{paid_id}"))
    # Nothing left in flight: MEG forgot the key, and Libeo revoked it.
    assert meg_connection(meg_app)["state"] == "removed" and not meg_connection(meg_app)["key_kept"]
    assert api(client, key, "GET", "/me").status_code == 401
    options = page(client.get("/meg/achats/options"))
    assert "suivi des" not in options and "Supprimer la connexion" not in options


def test_a_new_key_of_the_same_account_resumes_the_feed_and_another_accounts_starts_anew(
        connected, client, meg_app, libeo_app):
    from models.libeo import Account, db
    from models.libeo.accounts.keys import issue_meg_api_key

    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    pay(client, invoice_id)
    sync(meg_app)
    client.post("/meg/achats/options/libeo/supprimer")
    with libeo_app.app_context():  # the payment ends in Libeo (cancelled there)
        from models.libeo import Payment
        from models.libeo.payments.order import cancel_payment

        cancel_payment(db.session.get(Account, connected["account_id"]), db.session.scalar(select(Payment)))
        db.session.commit()
    sync(meg_app)
    assert "Annulé" in page(client.get(f"/meg/achats/factures/{invoice_id}"))
    cursor = meg_connection(meg_app)["cursor"]
    assert cursor is not None and meg_connection(meg_app)["state"] == "removed"

    with libeo_app.app_context():
        same_account_key = issue_meg_api_key(db.session.get(Account, connected["account_id"]))
        db.session.commit()
    client.post("/meg/achats/options", data={"api_key": same_account_key})
    assert meg_connection(meg_app) == {"state": "active", "cursor": cursor, "key_kept": True, "removed": False}

    # Another Libeo account (the company's SIRET changed meanwhile): its own feed, from its start.
    client.post("/meg/achats/options/libeo/supprimer")
    new_siret = "83451234500010"
    with meg_app.app_context():
        meg_db.session.scalar(select(Company).where(Company.siret == BOULANGERIE_SIRET)).siret = new_siret
        meg_db.session.commit()
    _, other_key = libeo_account(libeo_app, "Boulangerie Martin — Atelier", new_siret, "atelier@boulangerie-martin.fr")
    connected_again = page(client.post("/meg/achats/options", data={"api_key": other_key}, follow_redirects=True))
    assert "La connexion est établie" in connected_again
    assert meg_connection(meg_app)["cursor"] is None
    assert "Annulé" in page(client.get(f"/meg/achats/factures/{invoice_id}"))  # the old history stays
