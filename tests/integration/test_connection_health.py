"""The connection's health in MEG « Options », and nothing stuck unseen.

A key regenerated in Libeo, « Supprimer la connexion », an update Libeo
refuses for good, a supplier's IBAN changed while a payment is on its way,
and the housekeeping of old rows.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from core.dates import utcnow
from models.meg import LibeoConnection, OutboxMessage, SupplierInvoice
from models.meg import db as meg_db
from tests.helpers import page, sync

from .conftest import libeo_back, libeo_down, libeo_invoices, meg_libeo_invoices


def regenerate_in_libeo(libeo_app, account_id: int) -> str:
    from models.libeo import Account, db
    from models.libeo.accounts.keys import issue_meg_api_key

    with libeo_app.app_context():
        key = issue_meg_api_key(db.session.get(Account, account_id), actor="claire@boulangerie-martin.fr")
        db.session.commit()
    return key


# --- what « Options » says ------------------------------------------------------------------------


def test_a_key_regenerated_in_libeo_shows_as_revoked_after_one_sync_pass(connected, client, meg_app, libeo_app):
    assert "La connexion est établie" in page(client.get("/meg/achats/options"))
    regenerate_in_libeo(libeo_app, connected["account_id"])
    meg_app.config["SYNC_QUIET_SECONDS"] = 0
    sync(meg_app)
    options = page(client.get("/meg/achats/options"))
    assert "La clé enregistrée a été révoquée ou remplacée dans Libeo" in options
    assert "collez ci-dessous la nouvelle clé" in options and "La connexion est établie" not in options


def test_check_the_connection_now(connected, client, meg_app, libeo_app, apps):
    regenerate_in_libeo(libeo_app, connected["account_id"])
    checked = page(client.post("/meg/achats/options/libeo/verifier", follow_redirects=True))
    assert "Libeo refuse la clé enregistrée" in checked and "révoquée ou remplacée" in checked

    new_key = regenerate_in_libeo(libeo_app, connected["account_id"])
    client.post("/meg/achats/options", data={"api_key": new_key})
    saved = libeo_down(apps)
    down = page(client.post("/meg/achats/options/libeo/verifier", follow_redirects=True))
    assert "Libeo ne répond pas pour le moment" in down and "Libeo est injoignable depuis le" in down
    libeo_back(apps, saved)
    back = page(client.post("/meg/achats/options/libeo/verifier", follow_redirects=True))
    assert "la connexion avec le compte « Boulangerie Martin SARL » fonctionne" in back
    assert "Dernier échange réussi" in back


def test_the_gear_is_only_shown_to_those_who_may_open_options(client, demo, meg_auth):
    meg_auth.login("compta@boulangerie-martin.fr")
    assert 'aria-label="Options"' not in page(client.get("/meg/achats/"))
    meg_auth.logout()
    meg_auth.login("admin@boulangerie-martin.fr")
    assert 'aria-label="Options"' in page(client.get("/meg/achats/"))


# --- « Supprimer la connexion » --------------------------------------------------------------------


def assert_key_forgotten(meg_app) -> None:
    """MEG keeps no key (the row keeps only the feed's cursor, for a key of the same account later)."""
    with meg_app.app_context():
        [connection] = meg_db.session.scalars(select(LibeoConnection)).all()
        assert connection.state.value == "removed" and connection.key_ciphertext == ""


def test_disconnect_asks_first_then_libeo_refuses_the_key_at_once(connected, client, meg_app, libeo_app):
    ask = page(client.get("/meg/achats/options/libeo/supprimer"))
    assert "Supprimer la connexion à Libeo ?" in ask and "Oui, supprimer la connexion" in ask
    done = page(client.post("/meg/achats/options/libeo/supprimer", follow_redirects=True))
    assert "Libeo a révoqué la clé" in done
    assert_key_forgotten(meg_app)
    assert client.get("/libeo/api/v1/me", headers={"Authorization": f"Bearer {connected['key']}"}).status_code == 401


def test_disconnect_while_libeo_is_down_says_the_key_stays_valid(connected, client, meg_app, apps):
    saved = libeo_down(apps)
    done = page(client.post("/meg/achats/options/libeo/supprimer", follow_redirects=True))
    libeo_back(apps, saved)
    assert "la clé reste valable dans Libeo jusqu'à ce que vous la révoquiez là-bas" in done
    assert_key_forgotten(meg_app)
    assert client.get("/libeo/api/v1/me", headers={"Authorization": f"Bearer {connected['key']}"}).status_code == 200


# --- updates refused for good, and a change of IBAN -----------------------------------------------


def _edit(client, meg_app, invoice_id, **changes):
    with meg_app.app_context():
        invoice = meg_db.session.get(SupplierInvoice, invoice_id)
        data = {"number": invoice.number, "supplier_id": invoice.supplier_id,
                "issue_date": invoice.issue_date.isoformat(), "due_date": invoice.due_date.isoformat(),
                "amount": f"{invoice.amount_cents / 100:.2f}".replace(".", ","),
                "payment_mode": invoice.payment_mode.name}
    return client.post(f"/meg/achats/factures/{invoice_id}/modifier", data={**data, **changes}, follow_redirects=True)


def _set_supplier_iban(meg_app, invoice_id: int, iban: str) -> None:
    with meg_app.app_context():
        meg_db.session.get(SupplierInvoice, invoice_id).supplier.iban = iban
        meg_db.session.commit()


def test_an_update_refused_for_good_is_listed_and_does_not_block_the_next(connected, client, meg_app, libeo_app):
    from models.libeo import Account, Payment, db
    from models.libeo.payments.order import cancel_payment

    invoice_id, number, _ = meg_libeo_invoices(meg_app)[0]
    client.post(f"/meg/achats/factures/{invoice_id}/payer")
    with libeo_app.app_context():  # cancelled in Libeo: the invoice may change again
        cancel_payment(db.session.get(Account, connected["account_id"]), db.session.scalar(select(Payment)))
        db.session.commit()
    sync(meg_app)
    # Legacy data: a supplier IBAN whose check digits are wrong, which Libeo refuses.
    _set_supplier_iban(meg_app, invoice_id, "FR7630006000010000000791964")
    _edit(client, meg_app, invoice_id, number=f"{number}-A")
    sync(meg_app)
    options = page(client.get("/meg/achats/options"))
    assert "Mises à jour refusées par Libeo" in options and f"{number}-A" in options and "IBAN" in options
    sync(meg_app)  # refused for good: not tried again
    with meg_app.app_context():
        [refused] = meg_db.session.scalars(select(OutboxMessage).where(OutboxMessage.refused_at.is_not(None))).all()
        assert refused.attempts == 0

    _set_supplier_iban(meg_app, invoice_id, "FR7630006000010000000791963")  # corrected
    _edit(client, meg_app, invoice_id, number=f"{number}-B")
    sync(meg_app)
    assert libeo_invoices(libeo_app)[0]["number"] == f"{number}-B"
    assert "Mises à jour refusées par Libeo" not in page(client.get("/meg/achats/options"))


def test_retry_and_ignore_a_refused_update(connected, client, meg_app, libeo_app):
    from models.libeo import Account, Payment, db
    from models.libeo.payments.order import cancel_payment

    invoice_id, number, _ = meg_libeo_invoices(meg_app)[0]
    client.post(f"/meg/achats/factures/{invoice_id}/payer")
    with libeo_app.app_context():
        cancel_payment(db.session.get(Account, connected["account_id"]), db.session.scalar(select(Payment)))
        db.session.commit()
    sync(meg_app)
    _set_supplier_iban(meg_app, invoice_id, "FR7630006000010000000791964")
    _edit(client, meg_app, invoice_id, number=f"{number}-A")
    sync(meg_app)
    with meg_app.app_context():
        message_id = meg_db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.refused_at.is_not(None)))
    _set_supplier_iban(meg_app, invoice_id, "FR7630006000010000000791963")
    retried = page(client.post(f"/meg/achats/options/libeo/mises-a-jour/{message_id}/reessayer", follow_redirects=True))
    assert f"La mise à jour de la facture {number}-A sera envoyée de nouveau à Libeo" in retried
    sync(meg_app)
    assert libeo_invoices(libeo_app)[0]["number"] == f"{number}-A"

    _set_supplier_iban(meg_app, invoice_id, "FR7630006000010000000791964")
    _edit(client, meg_app, invoice_id, number=f"{number}-C")
    sync(meg_app)
    with meg_app.app_context():
        message_id = meg_db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.refused_at.is_not(None),
                                                                         OutboxMessage.ignored_at.is_(None)))
    ignored = page(client.post(f"/meg/achats/options/libeo/mises-a-jour/{message_id}/ignorer", follow_redirects=True))
    assert "est ignorée : Libeo garde la facture telle qu'il l'a" in ignored
    assert "Mises à jour refusées par Libeo" not in ignored
    assert libeo_invoices(libeo_app)[0]["number"] == f"{number}-A"


def test_a_new_supplier_iban_is_explained_and_the_payment_keeps_the_old_one(connected, client, meg_app, libeo_app):
    invoice_id, number, _ = meg_libeo_invoices(meg_app)[0]
    client.post(f"/meg/achats/factures/{invoice_id}/payer")
    with meg_app.app_context():
        supplier = meg_db.session.get(SupplierInvoice, invoice_id).supplier
        supplier_id, name = supplier.id, supplier.name
    changed = page(client.post(f"/meg/achats/fournisseurs/{supplier_id}/modifier", follow_redirects=True,
                               data={"name": name, "iban": "FR76 3000 4008 2200 0000 1583 859", "bic": ""}))
    assert "Le nouvel IBAN servira aux prochains paiements" in changed
    assert f"facture {number} (Programmé le" in changed
    assert "annulez le paiement (« Annuler le paiement »" in changed and "« Payer »" in changed
    # Later changes of the invoice still reach Libeo: they keep the IBAN being paid.
    _edit(client, meg_app, invoice_id, number=f"{number}-R")
    sync(meg_app)
    [invoice] = libeo_invoices(libeo_app)
    assert invoice["number"] == f"{number}-R" and invoice["supplier_iban"] == "FR7630006000010000000791963"
    assert "Mises à jour refusées par Libeo" not in page(client.get("/meg/achats/options"))


# --- housekeeping ---------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_old_delivered_updates_are_purged_in_batches_without_holding_up_payer(connected, client, meg_app, libeo_app):
    """100,000 rows go a thousand at a time, each batch its own short transaction: « Payer » goes between two."""
    rows = 100_000
    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    second_id, *_ = meg_libeo_invoices(meg_app)[1]
    old = utcnow() - timedelta(days=40)
    with meg_app.app_context():
        company_id = meg_db.session.get(SupplierInvoice, invoice_id).company_id
        meg_db.session.execute(insert(OutboxMessage), [
            {"company_id": company_id, "invoice_id": invoice_id, "payload": {}, "created_at": old,
             "next_attempt_at": old, "delivered_at": old, "attempts": 1} for _ in range(rows)
        ])
        meg_db.session.commit()

    from models.meg.libeo_link.outbox import purge_old_messages

    finished = threading.Event()

    def purge():
        with meg_app.app_context():
            while purge_old_messages():
                pass
        finished.set()

    def remaining() -> int:
        with meg_app.app_context():
            return meg_db.session.scalar(select(func.count(OutboxMessage.id)))

    worker = threading.Thread(target=purge)
    worker.start()
    while remaining() == rows and not finished.is_set():
        time.sleep(0.01)  # the first batch is gone: the purge is under way
    paid = page(client.post(f"/meg/achats/factures/{second_id}/payer", follow_redirects=True))
    paid_while_purging = not finished.is_set() and remaining() > 0
    worker.join(timeout=300)
    assert "Paiement programmé le" in paid
    assert paid_while_purging, "« Payer » had to wait for the whole purge"
    with meg_app.app_context():
        assert meg_db.session.scalar(select(func.count(OutboxMessage.id))) == 0


def test_libeo_forgets_idempotency_answers_after_30_days(libeo_app):
    from models.libeo import IdempotencyRecord, db
    from models.libeo.payments.idempotency import purge_old_records

    from .conftest import libeo_account

    account_id, _ = libeo_account(libeo_app)
    with libeo_app.app_context():
        now = utcnow()
        db.session.add_all([
            IdempotencyRecord(account_id=account_id, key=f"k-{n}", request_hash="h", state="done",
                              created_at=now - timedelta(days=days))
            for n, days in enumerate([45, 31, 29, 1])
        ])
        db.session.commit()
        assert purge_old_records() == 2
        assert sorted(db.session.scalars(select(IdempotencyRecord.key))) == ["k-2", "k-3"]
