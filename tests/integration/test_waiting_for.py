"""Whatever keeps Libeo from executing an account's transfers is said before the money is committed.

MEG's confirmation before « Confirmer le paiement », MEG's lists beside a
« Programmé » payment, and Libeo's payment page each say it, with the action
that lifts it.
"""

from __future__ import annotations

from html import unescape

from sqlalchemy import select

from models.libeo import Account, Payment
from models.libeo import db as libeo_db
from models.meg import Company
from models.meg import db as meg_db
from tests.helpers import confirmation_panel
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
    assert "Le paiement sera programmé. Compte non vérifié : vos paiements restent « Programmé »" in confirm
    assert ("en enregistrant la clé Libeo dans « Options » ou avec « Me connecter avec MEG », ou contactez le "
            "support de Libeo.") in confirm

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


def test_back_from_libeo_without_a_debit_iban_the_panel_says_it_once(client, demo, meg_auth, meg_app, libeo_app):
    _, key = libeo_account(libeo_app)  # verified, no IBAN to debit yet
    meg_auth.login("admin@boulangerie-martin.fr")
    client.post("/meg/achats/options", data={"api_key": key})
    invoice_id, _, _ = meg_libeo_invoices(meg_app)[0]
    # Where « Me connecter avec MEG » sends the person back: the invoice's « Payer » panel.
    back = client.get(f"/meg/achats/factures/{invoice_id}?payer={invoice_id}&connexion=etablie",
                      follow_redirects=True)
    panel = " ".join(unescape(confirmation_panel(back.get_data(as_text=True))).split())
    assert "La connexion est établie avec le compte Libeo « Boulangerie Martin SARL »" in panel
    assert panel.lower().count("iban du compte à débiter") == 1
    assert panel.count("ne sont pas exécutés") == 1 and "exécutera" not in panel
    assert "Renseignez l'IBAN de l'entreprise dans Libeo, « Configuration » → « Entreprise »." in panel


def test_back_from_libeo_elsewhere_the_message_says_what_libeo_waits_for(client, demo, meg_auth, meg_app,
                                                                         libeo_app):
    _, key = libeo_account(libeo_app)
    meg_auth.login("admin@boulangerie-martin.fr")
    client.post("/meg/achats/options", data={"api_key": key})
    invoice_id, _, _ = meg_libeo_invoices(meg_app)[0]
    back = text(client.get(f"/meg/achats/factures/{invoice_id}?connexion=etablie", follow_redirects=True))
    assert ("« Payer » fonctionne, mais Libeo n'exécutera les virements qu'une fois ceci réglé : aucun IBAN du "
            "compte à débiter.") in back


def test_what_libeo_waits_for_fits_what_meg_keeps():
    """MEG shows Libeo's whole sentence, down to « contactez le support de Libeo. »."""
    from datetime import UTC, datetime

    from models.meg.libeo_link.client import WAITING_FOR_LENGTH

    for verified_at, iban in ((None, None), (None, "FR7630004008220000001583859"), (datetime.now(UTC), None)):
        account = Account(name="Boulangerie Martin SARL", siret="83451234500002", debtor_iban=iban,
                          verified_at=verified_at)
        assert account.execution_blocker is not None and len(account.execution_blocker) <= WAITING_FOR_LENGTH


def test_a_longer_sentence_from_libeo_is_cut_on_a_word():
    from models.meg.libeo_link.client import WAITING_FOR_LENGTH, LibeoAccount

    said = LibeoAccount.from_json({"name": "Boulangerie Martin SARL", "siret": "83451234500002", "plan": "free",
                                   "waiting_for": "Compte non vérifié : " + "paiements programmés " * 30}).waiting_for
    assert said is not None and len(said) <= WAITING_FOR_LENGTH
    assert said.endswith("programmés…") or said.endswith("paiements…")
