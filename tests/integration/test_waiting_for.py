"""Whatever keeps Libeo from executing an account's transfers is said before the money is committed.

MEG's confirmation before « Confirmer le paiement », MEG's lists beside a
« Programmé » payment, and Libeo's payment page each say it, with the action
that lifts it.
"""

from __future__ import annotations

from sqlalchemy import select

from models.libeo import Account, Payment
from models.libeo import db as libeo_db
from models.meg import Company
from models.meg import db as meg_db
from tests.helpers import words as text

from .conftest import libeo_account, meg_libeo_invoices


def _connect_unverified(client, meg_auth, meg_app, libeo_app):
    """An account signed up on Libeo, connected by a company whose SIRET MEG has not confirmed."""
    with meg_app.app_context():
        meg_db.session.scalar(select(Company).where(Company.name == "Boulangerie Martin SARL")).siret_trusted_by = None
        meg_db.session.commit()
    account_id, key = libeo_account(libeo_app, verified=False)
    meg_auth.login("admin@boulangerie-martin.fr")
    assert "La connexion est établie" in text(client.post("/meg/achats/options", data={"api_key": key},
                                                          follow_redirects=True))
    return account_id


def test_an_unverified_account_is_said_before_and_after_payer(client, demo, meg_auth, meg_app, libeo_app):
    account_id = _connect_unverified(client, meg_auth, meg_app, libeo_app)
    invoice_id, number, _ = meg_libeo_invoices(meg_app)[0]
    confirm = text(client.get(f"/meg/achats/reglements?payer={invoice_id}"))
    assert ("Le paiement sera programmé, mais Libeo ne l'exécutera pas tant que ceci n'est pas réglé. Compte non "
            "vérifié") in confirm
    assert "en enregistrant la clé Libeo dans « Options » ou avec « Me connecter avec MEG »" in confirm

    client.post(f"/meg/achats/factures/{invoice_id}/payer", data={"next": "/meg/achats/reglements"})
    for page in ("/meg/achats/reglements", f"/meg/achats/factures/{invoice_id}", "/meg/achats/?etat=programmees"):
        assert "— en attente : compte non vérifié" in text(client.get(page)), page

    # Libeo's payment page says it too.
    with libeo_app.app_context():
        payment_id = libeo_db.session.scalar(select(Payment.id).where(Payment.account_id == account_id))
        email = libeo_db.session.get(Account, account_id).users[0].email
    client.post("/libeo/connexion", data={"email": email, "password": "mot-de-passe-solide-42"})
    assert "<strong>En attente</strong> — Compte non vérifié" in text(client.get(f"/libeo/paiements/{payment_id}"))


def test_no_debit_iban_is_said_with_where_to_give_it(client, demo, meg_auth, meg_app, libeo_app):
    account_id, key = libeo_account(libeo_app)  # verified, no IBAN to debit yet
    with libeo_app.app_context():
        assert libeo_db.session.get(Account, account_id).debtor_iban is None
    meg_auth.login("admin@boulangerie-martin.fr")
    client.post("/meg/achats/options", data={"api_key": key})
    invoice_id, _, _ = meg_libeo_invoices(meg_app)[0]
    confirm = text(client.get(f"/meg/achats/reglements?payer={invoice_id}"))
    assert "Aucun IBAN du compte à débiter" in confirm
    assert "Renseignez l'IBAN de l'entreprise dans Libeo, « Configuration » → « Entreprise »." in confirm
