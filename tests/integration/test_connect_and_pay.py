"""The article's first path and « Payer », both apps over HTTP."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text

from core.dates import paris_today
from models.meg import db as meg_db
from models.meg.libeo_link.connection import LibeoConnection
from tests.conftest import MegAuth
from tests.factories import meg_company, meg_invoice, meg_supplier
from tests.helpers import page

from .conftest import (
    GARAGE_SIRET,
    libeo_account,
    libeo_back,
    libeo_down,
    libeo_invoices,
    libeo_payments,
    meg_libeo_invoices,
)


def _business_day_ahead(days: int):
    from datetime import timedelta

    from core.calendar import next_business_day
    from core.dates import paris_today

    return next_business_day(paris_today() + timedelta(days=days))


def _connections(meg_app):
    with meg_app.app_context():
        return meg_db.session.scalars(select(LibeoConnection)).all()


# --- « Options » → « Clé d'api LIBEO » --------------------------------------------------------------


def test_connect_with_a_libeo_key(connected, client, meg_app):
    options = page(client.get("/meg/achats/options"))
    assert "La connexion est établie avec le compte Libeo « Boulangerie Martin SARL »" in options
    assert connected["key"] not in options  # never shown again in full
    assert connected["key"][:12] in options
    [connection] = _connections(meg_app)
    assert connected["key"] not in connection.key_ciphertext
    with meg_app.app_context():
        dump = "\n".join(str(row) for row in meg_db.session.execute(text("SELECT * FROM libeo_connection")))
    assert connected["key"] not in dump


@pytest.mark.parametrize(
    "key, message",
    [
        ("", "Collez la clé d'API affichée par Libeo."),
        ("lbo_meg_pas une clé", "n'a pas le bon format"),
        ("x" * 500, "n'a pas le bon format"),
        ("lbo_meg_0000000000000000_abcdefabcdefabcdefabcdefabcdef", "Libeo ne reconnaît pas cette clé"),
    ],
)
def test_bad_keys_are_refused_and_nothing_is_saved(client, demo, meg_auth, meg_app, libeo_app, key, message):
    libeo_account(libeo_app)
    meg_auth.login()
    response = client.post("/meg/achats/options", data={"api_key": key})
    assert message in page(response)
    assert _connections(meg_app) == []


def test_revoked_key_is_refused(client, demo, meg_auth, meg_app, libeo_app):
    from models.libeo import db
    from models.libeo.accounts.keys import revoke_api_key
    from models.libeo.accounts.models import Account

    account_id, key = libeo_account(libeo_app)
    with libeo_app.app_context():
        revoke_api_key(db.session.get(Account, account_id))
        db.session.commit()
    meg_auth.login()
    assert "Libeo ne reconnaît pas cette clé" in page(client.post("/meg/achats/options", data={"api_key": key}))
    assert _connections(meg_app) == []


def test_key_of_another_siret_is_refused(client, demo, meg_auth, meg_app, libeo_app):
    _, key = libeo_account(libeo_app, name="Garage Leroy SAS", siret=GARAGE_SIRET, email="marc@garage-leroy.fr")
    meg_auth.login()
    response = client.post("/meg/achats/options", data={"api_key": key})
    assert "n'est pas celui de Boulangerie Martin SARL" in page(response)
    assert _connections(meg_app) == []


def test_non_administrator_cannot_save_a_key_even_by_crafted_post(client, demo, meg_auth, meg_app, libeo_app):
    _, key = libeo_account(libeo_app)
    meg_auth.login("compta@boulangerie-martin.fr")
    assert client.get("/meg/achats/options").status_code == 403
    assert client.post("/meg/achats/options", data={"api_key": key}).status_code == 403
    assert client.post("/meg/achats/options/libeo/supprimer").status_code == 403
    assert _connections(meg_app) == []


def test_remove_and_replace_the_key(connected, client, meg_app, libeo_app):
    from models.libeo import db
    from models.libeo.accounts.keys import issue_meg_api_key
    from models.libeo.accounts.models import Account

    with libeo_app.app_context():
        new_key = issue_meg_api_key(db.session.get(Account, connected["account_id"]))
        db.session.commit()
    assert "La connexion est établie" in page(client.post("/meg/achats/options", data={"api_key": new_key},
                                                          follow_redirects=True))
    [connection] = _connections(meg_app)
    assert connection.key_prefix == new_key[:12]
    response = client.post("/meg/achats/options/libeo/supprimer", follow_redirects=True)
    assert "La connexion à Libeo est supprimée" in page(response)
    # Nothing in flight: the key is forgotten; the row keeps the feed's cursor for a later key of this account.
    [removed] = _connections(meg_app)
    assert removed.state.value == "removed" and removed.key_ciphertext == "" and removed.is_removed


# --- « Payer » --------------------------------------------------------------------------------------


def test_pay_sends_the_invoice_and_creates_the_payment(connected, client, meg_app, libeo_app):
    invoice_id, number, amount = meg_libeo_invoices(meg_app)[0]
    settle = page(client.get("/meg/achats/reglements"))
    assert f'/meg/achats/reglements?payer={invoice_id}#confirmer' in settle
    confirm = page(client.get(f"/meg/achats/reglements?payer={invoice_id}"))
    assert "Confirmer le paiement" in confirm and "Date d'exécution" in confirm
    assert f'/meg/achats/factures/{invoice_id}/payer' in confirm
    assert 'name="next" value="/meg/achats/reglements"' in confirm  # back to this page, under /meg
    assert "FR76 •••• •••• •••• •••• ••91 963" in confirm and "CREDIT AGRICOLE SA" in confirm
    assert "FR7630006000010000000791963" not in confirm
    day = _business_day_ahead(10)
    response = client.post(f"/meg/achats/factures/{invoice_id}/payer",
                           data={"next": "/meg/achats/reglements", "execution_date": day.isoformat()},
                           follow_redirects=True)
    shown = page(response)
    assert f"Paiement programmé le {day:%d/%m/%Y}" in shown and number in shown
    [payment] = libeo_payments(libeo_app)
    assert payment["amount_cents"] == amount
    assert payment["initiated_by_email"] == "admin@boulangerie-martin.fr"
    assert payment["initiated_by_role"] == "user" and payment["channel"] == "MEG"
    [invoice] = libeo_invoices(libeo_app)
    assert invoice["number"] == number and invoice["supplier_iban"] == "FR7630006000010000000791963"
    assert invoice["source"] == "MEG"
    # Every page shows what Libeo answered, and no longer offers « Payer ».
    detail = page(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert f"Programmé le {day:%d/%m/%Y}" in detail
    assert "payer=" not in detail and "À régler" not in detail
    assert f"Programmé le {day:%d/%m/%Y}" in page(client.get("/meg/achats/"))


def test_double_click_makes_one_payment(connected, client, meg_app, libeo_app):
    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    first = client.post(f"/meg/achats/factures/{invoice_id}/payer", follow_redirects=True)
    second = client.post(f"/meg/achats/factures/{invoice_id}/payer", follow_redirects=True)
    assert "Paiement programmé" in page(first) and "Paiement programmé" in page(second)
    assert len(libeo_payments(libeo_app)) == 1


def test_twenty_concurrent_clicks_make_one_payment(connected, apps, meg_app, libeo_app):
    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    clients = []
    for _ in range(20):
        c = apps.root.test_client()
        MegAuth(c).login()
        clients.append(c)
    statuses, barrier = [], threading.Barrier(20)

    def click(c):
        barrier.wait()
        statuses.append(c.post(f"/meg/achats/factures/{invoice_id}/payer").status_code)

    threads = [threading.Thread(target=click, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses == [302] * 20
    assert len(libeo_payments(libeo_app)) == 1
    assert "Paiement programmé" in page(clients[0].get(f"/meg/achats/factures/{invoice_id}"))


def test_libeo_down_then_back(connected, client, apps, meg_app, libeo_app):
    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    saved = libeo_down(apps)
    response = client.post(f"/meg/achats/factures/{invoice_id}/payer", follow_redirects=True)
    assert "la demande n'a pas pu lui être envoyée" in page(response) and "Rien n'a été payé" in page(response)
    assert libeo_payments(libeo_app) == []
    assert invoice_id in [row[0] for row in meg_libeo_invoices(meg_app)]  # still to settle
    libeo_back(apps, saved)
    response = client.post(f"/meg/achats/factures/{invoice_id}/payer", follow_redirects=True)
    assert "Paiement programmé" in page(response)
    assert len(libeo_payments(libeo_app)) == 1


def test_company_without_siret_cannot_pay(client, demo, meg_auth):
    meg_auth.login("president@amis-du-quartier.fr")
    settle = page(client.get("/meg/achats/reglements"))
    assert "l'entreprise n'a pas de SIRET" in settle
    assert "/payer" not in settle


def test_not_connected_payer_leads_to_libeo(client, demo, meg_auth, meg_app):
    invoice_id, *_ = meg_libeo_invoices(meg_app, "Garage Leroy SAS")[0]
    meg_auth.login("gerant@garage-leroy.fr")
    settle = page(client.get("/meg/achats/reglements"))
    assert "/libeo/connexion-meg?return_to=" in settle
    response = client.post(f"/meg/achats/factures/{invoice_id}/payer")
    assert "/libeo/connexion-meg?return_to=" in response.headers["Location"]


def test_revoked_connection_is_explained(connected, client, meg_app, libeo_app):
    from models.libeo import db
    from models.libeo.accounts.keys import revoke_api_key
    from models.libeo.accounts.models import Account

    with libeo_app.app_context():
        revoke_api_key(db.session.get(Account, connected["account_id"]))
        db.session.commit()
    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    response = client.post(f"/meg/achats/factures/{invoice_id}/payer", follow_redirects=True)
    assert "Libeo refuse la clé d'API" in page(response) and "Options" in page(response)
    assert "Rien n'a été payé" in page(response)
    # The key was refused before Libeo looked at the request: nothing to settle, nothing « Refusé ».
    assert "Refusé" not in page(client.get(f"/meg/achats/factures/{invoice_id}"))
    assert libeo_payments(libeo_app) == []


def test_quota_reached_links_to_the_upgrade(connected, client, meg_app, libeo_app):
    with meg_app.app_context():
        company = meg_company("Boulangerie Martin SARL")
        supplier = meg_supplier(company)
        for k in range(3):
            meg_invoice(company, supplier, f"Q-{k}", amount_cents=1000 + k, due_date=paris_today())
        meg_db.session.commit()
    invoices = meg_libeo_invoices(meg_app)
    assert len(invoices) >= 6
    for invoice_id, *_ in invoices[:5]:
        assert "Paiement programmé" in page(client.post(f"/meg/achats/factures/{invoice_id}/payer",
                                                        follow_redirects=True))
    sixth = page(client.post(f"/meg/achats/factures/{invoices[5][0]}/payer", follow_redirects=True))
    assert "Passer à la formule Partnerships" in sixth
    assert "/libeo/abonnement" in sixth
    assert len(libeo_payments(libeo_app)) == 5


def test_invalid_supplier_iban_is_explained(connected, client, meg_app, libeo_app):
    from models.meg import Supplier

    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    with meg_app.app_context():
        from models.meg import SupplierInvoice

        supplier = meg_db.session.get(SupplierInvoice, invoice_id).supplier
        supplier.iban = "FR7630006000010000000791964"  # legacy data with a wrong check digit
        meg_db.session.commit()
        assert meg_db.session.get(Supplier, supplier.id).iban.endswith("964")
    response = client.post(f"/meg/achats/factures/{invoice_id}/payer", follow_redirects=True)
    assert "IBAN" in page(response)
    assert libeo_payments(libeo_app) == []


def test_accountant_pays_only_once_registered_in_libeo(connected, client, meg_auth, meg_app, libeo_app):
    from models.libeo import db
    from models.libeo.accounts.models import Account

    meg_auth.logout()
    meg_auth.login("expert@cabinet-durand.fr")
    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    with meg_app.app_context():
        from models.meg import SupplierInvoice

        company_id = meg_db.session.get(SupplierInvoice, invoice_id).company_id
    client.post("/meg/entreprise", data={"company_id": company_id})
    settle = page(client.get("/meg/achats/reglements"))
    assert "l'entreprise doit vous ajouter comme expert-comptable" in settle
    assert "/payer" not in settle
    response = client.post(f"/meg/achats/factures/{invoice_id}/payer", follow_redirects=True)
    assert "expert-comptable" in page(response)
    assert libeo_payments(libeo_app) == []
    with libeo_app.app_context():
        db.session.get(Account, connected["account_id"]).accountant_email = "expert@cabinet-durand.fr"
        db.session.commit()
    # MEG shows what Libeo last said; the accountant asks it again.
    assert "Vérifier mon accès" in settle
    checked = page(client.post("/meg/achats/libeo/acces", data={"next": "/meg/achats/reglements"},
                               follow_redirects=True))
    assert "Libeo vous reconnaît comme l'expert-comptable" in checked
    assert f"/meg/achats/reglements?payer={invoice_id}" in checked
    response = client.post(f"/meg/achats/factures/{invoice_id}/payer", follow_redirects=True)
    assert "Paiement programmé" in page(response)
    [payment] = libeo_payments(libeo_app)
    assert payment["initiated_by_role"] == "accountant"
    assert payment["initiated_by_email"] == "expert@cabinet-durand.fr"


def test_the_accountants_payer_comes_with_the_next_sync_pass(connected, client, meg_auth, meg_app, libeo_app):
    """The company adds its expert-comptable in Libeo: MEG's next reading of the events feed learns it,
    without « Vérifier mon accès »."""
    from datetime import timedelta

    from core.dates import utcnow
    from models.libeo import db
    from models.libeo.accounts.models import Account
    from models.libeo.accounts.services import add_accountant
    from models.meg import SupplierInvoice
    from models.meg.libeo_link.sync import sync_pass

    invoice_id, *_ = meg_libeo_invoices(meg_app)[0]
    with meg_app.app_context():
        company_id = meg_db.session.get(SupplierInvoice, invoice_id).company_id
    meg_auth.logout()
    meg_auth.login("expert@cabinet-durand.fr")
    client.post("/meg/entreprise", data={"company_id": company_id})
    assert f"payer={invoice_id}" not in page(client.get("/meg/achats/reglements"))
    with libeo_app.app_context():
        add_accountant(db.session.get(Account, connected["account_id"]), "expert@cabinet-durand.fr", "Claire Martin")
        db.session.commit()
    with meg_app.app_context():
        sync_pass(utcnow() + timedelta(seconds=61))  # the time a company without a payment in flight waits
    settle = page(client.get("/meg/achats/reglements"))
    assert f"payer={invoice_id}" in settle
    assert "l'entreprise doit vous ajouter comme expert-comptable" not in settle
    response = client.post(f"/meg/achats/factures/{invoice_id}/payer", follow_redirects=True)
    assert "Paiement programmé" in page(response)
    [payment] = libeo_payments(libeo_app)
    assert payment["initiated_by_role"] == "accountant"
