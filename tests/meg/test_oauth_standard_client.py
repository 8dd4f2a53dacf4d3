"""A client that is not ours — Authlib's requests client — signs in with MEG.

The client is registered with ``flask meg oauth-client create`` and configured
from the discovery document only; it reaches MEG over HTTP (an in-process
WSGI transport instead of a socket), the browser part runs in the test client.
"""

from __future__ import annotations

import json
import secrets
from urllib.parse import urlsplit

import pytest
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from core.http import WSGITransport
from models.meg import db
from models.meg.oauth import OAuthClient, OAuthClientError, digest, ensure_client

from .conftest import company_id

PUBLIC = "http://127.0.0.1:5000"
CALLBACK = "https://rp.example.org/auth/meg/callback"


def create_client(apps, *args):
    return apps.root.test_cli_runner().invoke(args=["meg", "oauth-client", "create", *args])


def test_the_command_prints_id_and_secret_once(apps, meg_app):
    result = create_client(apps, "--name", "Mon appli", "--redirect-uri", CALLBACK,
                           "--redirect-uri", "http://127.0.0.1:8765/cb", "--scope", "openid profile email company")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    printed = json.loads(lines[0])
    assert set(printed) == {"client_id", "client_secret"}
    with meg_app.app_context():
        client = db.session.scalar(select(OAuthClient).where(OAuthClient.client_id == printed["client_id"]))
        assert client.name == "Mon appli"
        assert client.redirect_uris == [CALLBACK, "http://127.0.0.1:8765/cb"]
        assert client.scope == "openid profile email company"
        assert client.client_secret_hash == digest(printed["client_secret"])
        assert printed["client_secret"] not in repr(client.__dict__)


def test_the_command_refuses_bad_input(apps, meg_app):
    for args in (
        ["--name", "X", "--redirect-uri", "http://app.example.com/cb"],  # plain http off this machine
        ["--name", "X", "--redirect-uri", "https://app.example.com/cb#frag"],
        ["--name", "X", "--redirect-uri", "/relative"],
        ["--name", "X", "--redirect-uri", "https://user@app.example.com/cb"],
        ["--name", "X", "--redirect-uri", "https://app;script-src.example.com/cb"],
        ["--name", "X", "--redirect-uri", "https://app.example.com:99999/cb"],
        ["--name", "X", "--redirect-uri", CALLBACK, "--scope", "openid admin"],
        ["--name", " ", "--redirect-uri", CALLBACK],
    ):
        result = create_client(apps, *args)
        assert result.exit_code == 2, args
        assert "client_secret" not in result.output
    with meg_app.app_context():
        assert db.session.scalar(select(OAuthClient)) is None


def test_authlib_requests_client_signs_in(apps, client, demo, meg_auth, meg_app):
    result = create_client(apps, "--name", "Appli tierce", "--redirect-uri", CALLBACK,
                           "--scope", "openid profile email company")
    registered = json.loads(result.output)

    session = OAuth2Session(
        registered["client_id"],
        registered["client_secret"],
        scope="openid profile email company",
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
    )
    session.mount(f"{PUBLIC}/", WSGITransport(apps.root, ""))
    metadata = session.get(f"{PUBLIC}/meg/.well-known/openid-configuration", withhold_token=True).json()
    verifier = secrets.token_urlsafe(64)
    nonce = secrets.token_urlsafe(16)
    authorization_url, state = session.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )

    # The browser: login, consent screen, « Autoriser ».
    meg_auth.login("gerant@garage-leroy.fr")
    parts = urlsplit(authorization_url)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC
    page = f"{parts.path}?{parts.query}"
    assert "Appli tierce" in client.get(page).get_data(as_text=True)
    answer = client.post(page, data={"allow": "1", "company_id": company_id(meg_app, "Garage Leroy SAS")})
    callback = answer.headers["Location"]
    assert callback.startswith(CALLBACK + "?")

    token = session.fetch_token(metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    jwks = KeySet.import_key_set(session.get(metadata["jwks_uri"], withhold_token=True).json())
    decoded = jwt.decode(token["id_token"], jwks, algorithms=metadata["id_token_signing_alg_values_supported"])
    claims = CodeIDToken(decoded.claims, decoded.header,
                         options={"iss": {"value": metadata["issuer"]}, "aud": {"value": registered["client_id"]},
                                  "nonce": {"value": nonce}},
                         params={"nonce": nonce, "access_token": token["access_token"]})
    claims.validate()
    assert claims["email"] == "gerant@garage-leroy.fr"
    assert claims["company_siret"] == "85123456700002"

    info = session.get(metadata["userinfo_endpoint"]).json()
    assert info["sub"] == claims["sub"]
    assert info["name"] == "Marc Leroy"
    assert info["company_name"] == "Garage Leroy SAS"
    assert info["company_achats_admin"] is True


def test_ensure_client_keeps_one_client_with_a_fixed_id(meg_app):
    secret, new_secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with meg_app.app_context():
        first = ensure_client("libeo", "Libeo", [f"{PUBLIC}/libeo/meg/callback"], "openid email company libeo_key",
                              secret)
        db.session.commit()
        again = ensure_client("libeo", "Libeo", [f"{PUBLIC}/libeo/meg/retour"], "openid email company libeo_key",
                              new_secret)
        db.session.commit()
        assert again.id == first.id
        assert db.session.scalar(select(OAuthClient.redirect_uris)) == [f"{PUBLIC}/libeo/meg/retour"]
        assert again.check_client_secret(new_secret) and not again.check_client_secret(secret)
        with pytest.raises(OAuthClientError, match="secret"):
            ensure_client("libeo", "Libeo", [CALLBACK], "openid", "court")
