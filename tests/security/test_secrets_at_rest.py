"""No secret in clear in the databases or the logs after the article's paths.

Both products are served by a real HTTP server (the development server, whose
access log prints every request line and its query string), driven like a
browser. With every log captured at DEBUG level — SQLAlchemy's statements and
rows included — the test runs:

1. the article's first path: Libeo account, « Se connecter » (key shown
   once), key pasted in MEG's « Options », « Payer »; the key regenerated,
   revoked, issued again and pasted again;
2. a standard OAuth client's code flow (code, token, userinfo) and the
   libeo-key API it opens;
3. the second path, « Me connecter avec MEG », whose callback carries the
   authorization code in its address.

Then every cell of every table of both databases and every captured log line
is searched for each secret seen on the way.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from .helpers import (
    BOULANGERIE_SIRET,
    CLIENT_REDIRECT,
    LIBEO_PASSWORD,
    consent_url,
    register_client,
)

KEY = re.compile(r"lbo_meg_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def live(make_apps):
    from app import register_meg_client
    from models.meg.demo import create_demo_data

    server = make_server("127.0.0.1", 0, app=None, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    apps = make_apps(public_url=url, libeo={"LOCALSTRIPE_URL": "http://127.0.0.1:9"})
    register_meg_client(apps.meg, apps.libeo)
    with apps.meg.app_context():
        create_demo_data()
    server.app = apps.root
    thread = threading.Thread(target=server.serve_forever, name="secrets-live-server", daemon=True)
    thread.start()
    yield url, apps
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def company_id(apps, name):
    from models.meg import Company, db

    with apps.meg.app_context():
        return db.session.scalar(select(Company.id).where(Company.name == name))


def libeo_invoice_ids(apps, name):
    from models.meg import Company, SupplierInvoice, db
    from models.meg.achats.models import PaymentMode

    with apps.meg.app_context():
        return list(db.session.scalars(
            select(SupplierInvoice.id).join(Company).where(
                Company.name == name, SupplierInvoice.payment_mode == PaymentMode.LIBEO,
                SupplierInvoice.paid_at.is_(None)
            ).order_by(SupplierInvoice.id)
        ))


def new_key(libeo: requests.Session, url: str) -> str:
    page = libeo.post(f"{url}/libeo/configuration/integrations/meg")
    assert page.status_code == 200
    return KEY.search(page.text).group(0)


def paste_in_meg(meg: requests.Session, url: str, key: str) -> None:
    page = meg.post(f"{url}/meg/achats/options", data={"api_key": key})
    assert "La connexion est établie" in page.text


def first_path(url, apps, secrets):
    libeo, meg = requests.Session(), requests.Session()
    signup = libeo.post(f"{url}/libeo/inscription", data={
        "email": "claire@boulangerie-martin.fr", "password": LIBEO_PASSWORD, "company_name": "Boulangerie Martin SARL",
        "siret": BOULANGERIE_SIRET, "full_name": "Claire Martin", "terms": "y"})
    assert signup.url.endswith("/libeo/factures/"), signup.text[-2000:]
    meg.post(f"{url}/meg/connexion", data={"email": "admin@boulangerie-martin.fr", "password": "demo-meg-2026"})

    first = new_key(libeo, url)
    paste_in_meg(meg, url, first)
    invoices = libeo_invoice_ids(apps, "Boulangerie Martin SARL")
    assert "Paiement programmé" in meg.post(f"{url}/meg/achats/factures/{invoices[0]}/payer").text
    second = new_key(libeo, url)  # « Régénérer »: the first stops working
    assert libeo.post(f"{url}/libeo/configuration/integrations/meg/revoquer").status_code == 200
    third = new_key(libeo, url)
    paste_in_meg(meg, url, third)
    assert "Paiement programmé" in meg.post(f"{url}/meg/achats/factures/{invoices[1]}/payer").text
    secrets.update({"clé d'API 1": first, "clé d'API 2": second, "clé d'API 3": third})
    return meg, third


def oauth_client_flow(url, apps, meg, libeo_key, secrets):
    client_id, client_secret = register_client(apps.meg)
    authorize, verifier = consent_url(client_id)
    assert meg.get(f"{url}{authorize}").status_code == 200
    answer = meg.post(f"{url}{authorize}",
                      data={"allow": "1", "company_id": company_id(apps, "Boulangerie Martin SARL")},
                      allow_redirects=False)
    location = answer.headers["Location"]
    assert location.startswith(CLIENT_REDIRECT)
    code = parse_qs(urlsplit(location).query)["code"][0]
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    token = requests.post(f"{url}/meg/oauth/token", headers={"Authorization": f"Basic {basic}"}, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CLIENT_REDIRECT, "code_verifier": verifier})
    assert token.status_code == 200, token.text
    tokens = token.json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert requests.get(f"{url}/meg/oauth/userinfo", headers=bearer).status_code == 200
    delivered = requests.put(f"{url}/meg/api/v1/libeo-key", headers=bearer, json={"api_key": libeo_key})
    assert delivered.status_code == 200, delivered.text
    # A replayed code is refused (and revokes what it gave): its refusal must not log it either.
    replay = requests.post(f"{url}/meg/oauth/token", headers={"Authorization": f"Basic {basic}"}, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CLIENT_REDIRECT, "code_verifier": verifier})
    assert replay.status_code == 400
    secrets.update({"secret du client OAuth": client_secret, "code d'autorisation": code,
                    "jeton d'accès": tokens["access_token"]})
    if tokens.get("refresh_token"):
        secrets["jeton de rafraîchissement"] = tokens["refresh_token"]


def second_path(url, apps, secrets):
    """« Me connecter avec MEG » from Garage Leroy's « Payer », up to the new Libeo account."""
    from models.meg import Company, db
    from models.meg.libeo_link.connection import connection_of

    browser = requests.Session()
    browser.post(f"{url}/meg/connexion", data={"email": "gerant@garage-leroy.fr", "password": "demo-meg-2026"})
    invoice = libeo_invoice_ids(apps, "Garage Leroy SAS")[0]
    back = f"{url}/meg/achats/factures/{invoice}"
    consent = browser.get(f"{url}/libeo/connexion-meg/demarrer", params={"return_to": back})
    assert "/meg/oauth/authorize" in consent.url and consent.status_code == 200, consent.text[-1500:]
    answer = browser.post(consent.url, data={"allow": "1", "company_id": company_id(apps, "Garage Leroy SAS")},
                          allow_redirects=False)
    callback = answer.headers["Location"]
    assert "/libeo/connexion-meg/retour?" in callback
    code = parse_qs(urlsplit(callback).query)["code"][0]
    signup = browser.get(callback)
    assert signup.url.endswith("/libeo/connexion-meg/compte"), signup.url
    done = browser.post(signup.url, data={
        "company_name": "Garage Leroy SAS", "email": "marc@garage-leroy.fr", "full_name": "Marc Leroy",
        "plan": "gratuit", "password": "pistons-et-bougies-2026", "terms": "y"})
    assert done.url == back, (done.url, done.text[-1500:])
    with apps.meg.app_context():
        garage = db.session.scalar(select(Company).where(Company.name == "Garage Leroy SAS"))
        delivered = connection_of(garage).api_key  # the key Libeo handed to MEG, decrypted here only
    secrets.update({"code d'autorisation de Libeo": code, "clé livrée à MEG": delivered,
                    "secret du client OAuth de Libeo": apps.libeo.config["MEG_OAUTH_CLIENT_SECRET"]})


def every_cell(apps):
    from models.libeo import db as libeo_db
    from models.meg import db as meg_db

    for side, app, db in (("meg", apps.meg, meg_db), ("libeo", apps.libeo, libeo_db)):
        with app.app_context():
            for table in db.metadata.sorted_tables:
                for row in db.session.execute(select(table)).mappings():
                    for column, value in row.items():
                        if value is not None:
                            yield f"{side}.{table.name}.{column}", str(value)


def test_no_secret_in_clear_in_the_databases_or_the_logs(live, caplog):
    url, apps = live
    caplog.set_level(logging.DEBUG)
    # Every logger at DEBUG, SQLAlchemy's statements and rows included…
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and not name.startswith("authlib"):
            caplog.set_level(logging.DEBUG, logger=name)
    # …except Authlib, which logs the tokens it issues at DEBUG: the app keeps it at INFO, deliberately.
    assert logging.getLogger("authlib").getEffectiveLevel() >= logging.INFO

    secrets: dict[str, str] = {}
    meg, libeo_key = first_path(url, apps, secrets)
    oauth_client_flow(url, apps, meg, libeo_key, secrets)
    second_path(url, apps, secrets)
    assert len(secrets) >= 9 and all(len(value) >= 20 for value in secrets.values()), secrets.keys()

    cells = list(every_cell(apps))
    assert len(cells) > 500
    stored = [(name, where) for name, value in secrets.items() for where, cell in cells if value in cell]
    assert not stored, f"secrets stored in clear: {stored}"

    lines = [record.getMessage() + (record.exc_text or "") for record in caplog.records]
    logged = [(name, line[:200]) for name, value in secrets.items() for line in lines if value in line]
    assert not logged, f"secrets in the logs: {logged}"
    # The access log did see the callback; its code was masked, the line kept.
    callbacks = [line for line in lines if "/libeo/connexion-meg/retour?" in line]
    assert callbacks and all("code=[masqué]" in line for line in callbacks), callbacks
    assert any("SELECT" in line for line in lines)  # SQL was captured too
