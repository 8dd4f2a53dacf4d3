"""Libeo's words where two walks found them wrong: who verified the account, who asked for a payment."""

from __future__ import annotations

from models.libeo import db
from models.libeo.accounts.models import Account
from models.libeo.accounts.services import verify_account
from tests.helpers import shown as text

from .conftest import PASSWORD, make_account


def test_the_company_page_says_verified_once(client, libeo_app, libeo_auth):
    account = make_account(libeo_app, name="Boulangerie Martin SARL", verified=False)
    with libeo_app.app_context():
        verify_account(db.session.get(Account, account.id),
                       "vérifié par MEG (admin@boulangerie-martin.fr, administrateur « Achats » "
                       "de Boulangerie Martin SARL)", "admin@boulangerie-martin.fr")
        db.session.commit()
    libeo_auth.login(account.email, PASSWORD)
    page = text(client.get("/libeo/configuration/"))
    assert "Vérifié par MEG (admin@boulangerie-martin.fr" in page
    assert "Vérifié vérifié" not in page


def test_a_payment_asked_from_meg_by_an_administrator_does_not_call_them_a_mere_user(client, account, api,
                                                                                    libeo_auth):
    api.put_invoice("meg-1")
    assert api.pay("meg-1", body={"initiated_by": {"email": "admin@boulangerie-martin.fr", "role": "user"}}
                   ).status_code == 201
    libeo_auth.login(account.email, PASSWORD)
    page = text(client.get("/libeo/paiements/"))
    assert "admin@boulangerie-martin.fr membre de l'entreprise, via MEG" in page
    assert "utilisateur, via MEG" not in page
