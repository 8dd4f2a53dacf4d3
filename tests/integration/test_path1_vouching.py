"""The article's first path lets money leave: MEG vouches when its Achats administrator saves the key.

Reproduced on the earlier code: a Libeo account created on Libeo, connected by
pasting its key in MEG « Options » by the company's « Achats » administrator,
stayed « Non vérifié », and ``execute-payments`` skipped its payments until
support ran ``libeo verify-account``.
"""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select

from models.libeo import Account
from models.libeo import db as libeo_db
from models.meg import Company
from models.meg import db as meg_db

from .conftest import libeo_account

pytestmark = pytest.mark.usefixtures("demo", "libeo_oauth_client")


def _account(libeo_app, account_id) -> Account:
    with libeo_app.app_context():
        account = libeo_db.session.get(Account, account_id)
        libeo_db.session.expunge(account)
        return account


def test_a_key_saved_by_the_achats_administrator_makes_the_account_verified_by_meg(client, meg_auth, libeo_app):
    account_id, key = libeo_account(libeo_app, verified=False)  # signed up on Libeo: « Non vérifié »
    meg_auth.login("admin@boulangerie-martin.fr")
    saved = client.post("/meg/achats/options", data={"api_key": key}, follow_redirects=True)
    assert "La connexion est établie" in saved.get_data(as_text=True)

    account = _account(libeo_app, account_id)
    assert account.is_verified
    assert account.verified_by == ("vérifié par MEG (admin@boulangerie-martin.fr, administrateur « Achats » de "
                                   "Boulangerie Martin SARL, clé enregistrée dans « Options »)")
    me = client.get("/libeo/api/v1/me", headers={"Authorization": f"Bearer {key}"}).json
    assert me["verified"] is True


def test_meg_does_not_vouch_for_a_siret_it_has_not_confirmed(client, meg_auth, meg_app, libeo_app):
    with meg_app.app_context():
        company = meg_db.session.scalar(select(Company).where(Company.name == "Boulangerie Martin SARL"))
        company.siret_trusted_by = None
        meg_db.session.commit()
    account_id, key = libeo_account(libeo_app, verified=False)
    meg_auth.login("admin@boulangerie-martin.fr")
    assert "La connexion est établie" in client.post("/meg/achats/options", data={"api_key": key},
                                                     follow_redirects=True).get_data(as_text=True)
    assert not _account(libeo_app, account_id).is_verified


def _forged(claims: dict) -> str:
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def test_an_assertion_meg_did_not_sign_is_refused(client, libeo_app):
    account_id, key = libeo_account(libeo_app, verified=False)
    now = int(time.time())
    forged = _forged({"iss": "http://127.0.0.1:5000/meg", "aud": "libeo", "iat": now, "exp": now + 60,
                      "purpose": "libeo_key_saved", "sub": "1", "email": "x@y.fr", "company_id": 1,
                      "company_name": "Boulangerie Martin SARL", "company_siret": "83451234500002",
                      "company_achats_admin": True, "company_siret_trusted": True})
    refused = client.post("/libeo/api/v1/account/meg-vouch", json={"assertion": forged},
                          headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "vouch_refused"
    assert "n'est pas signée par MEG" in refused.json["error"]["message"]
    assert not _account(libeo_app, account_id).is_verified


def test_bad_input_to_the_vouch_endpoint_is_a_clear_refusal(client, libeo_app):
    _, key = libeo_account(libeo_app, verified=False)
    for body in ({}, {"assertion": 12}, {"assertion": "x" * 30}, {"assertion": "a.b.c" * 10}):
        answer = client.post("/libeo/api/v1/account/meg-vouch", json=body, headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code in (403, 422), (body, answer.status_code)
        assert answer.json["error"]["message"]
