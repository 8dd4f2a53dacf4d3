"""Factories for MEG's tests: the demo companies and their invoices, and the OAuth dance's steps."""

from __future__ import annotations

import base64
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import func, select

from models.meg import Company, SupplierInvoice, db
from models.meg.achats.models import PaymentMode
from models.meg.oauth import OAuthAuthorizationCode, OAuthToken, register_client


def company_id(meg_app, name: str = "Boulangerie Martin SARL") -> int:
    with meg_app.app_context():
        return db.session.scalar(select(Company.id).where(Company.name == name))


def invoice_ids(meg_app, company: str = "Boulangerie Martin SARL", mode: PaymentMode | None = None) -> list[int]:
    """The company's invoices (of one « Mode de règlement » if given), oldest first."""
    with meg_app.app_context():
        query = (select(SupplierInvoice.id).join(Company)
                 .where(Company.name == company).order_by(SupplierInvoice.id))
        if mode is not None:
            query = query.where(SupplierInvoice.payment_mode == mode)
        return list(db.session.scalars(query))


@pytest.fixture
def libeo_invoice_id(meg_app, demo) -> int:
    """Boulangerie Martin's first « Virement par Libeo » invoice."""
    return invoice_ids(meg_app, mode=PaymentMode.LIBEO)[0]


# --- the OAuth dance (tests/meg/test_oauth*.py) ----------------------------------------------

REDIRECT = "https://app.example.com/callback"
ISSUER = "http://127.0.0.1:5000/meg"
ALL_SCOPES = "openid profile email company libeo_key"




def new_client(meg_app, scope=ALL_SCOPES, redirect_uris=(REDIRECT,), name="Compta Cloud"):
    """A registered client: (client_id, client_secret)."""
    with meg_app.app_context():
        client, secret = register_client(name, list(redirect_uris), scope)
        db.session.commit()
        return client.client_id, secret


def pkce():
    verifier = secrets.token_urlsafe(48)
    return verifier, create_s256_code_challenge(verifier)


def authorize_query(client_id, challenge, **changes):
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": ALL_SCOPES,
        "state": "etat-123",
        "nonce": secrets.token_urlsafe(12),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(changes)
    return "/meg/oauth/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


def consent(client, url, company_id=None, button="allow"):
    data = {button: "1"}
    if company_id is not None:
        data["company_id"] = company_id
    return client.post(url, data=data)


def redirect_params(response):
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    location = response.headers["Location"]
    return location, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def get_code(client, client_id, challenge, company_id=None, **changes):
    location, params = redirect_params(consent(client, authorize_query(client_id, challenge, **changes), company_id))
    assert location.startswith(REDIRECT + "?")
    return params["code"]


def basic(client_id, secret):
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def exchange(client, code, client_id, secret, verifier, redirect_uri=REDIRECT, **extra):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        data["code_verifier"] = verifier
    data.update(extra)
    return client.post("/meg/oauth/token", data=data, headers=basic(client_id, secret))


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def counts(meg_app):
    with meg_app.app_context():
        codes = db.session.scalar(select(func.count()).select_from(OAuthAuthorizationCode))
        tokens = db.session.scalar(select(func.count()).select_from(OAuthToken))
        return codes, tokens


def access_token_for(client, meg_app, meg_auth, email, scope=ALL_SCOPES, company="Boulangerie Martin SARL"):
    """Logs ``email`` in, runs the whole dance, returns the access token."""
    client_id, secret = new_client(meg_app)
    meg_auth.login(email)
    verifier, challenge = pkce()
    code = get_code(client, client_id, challenge, company_id=company_id(meg_app, company), scope=scope)
    response = exchange(client, code, client_id, secret, verifier)
    assert response.status_code == 200, response.json
    return response.json["access_token"]
