"""Nobody sees or acts on another company's data, route by route.

Every route of both apps is taken from their URL maps, so a new route is in
the matrix the day it is added (and this test fails until its path
parameters have a victim's value here). Each is called, with GET and POST
(and PUT where the route takes it), with the ids of Garage Leroy (the victim)
by people who have no right to them:

- MEG: anonymous; Boulangerie Martin's administrator (another company);
  Boulangerie Martin's non-administrator; an expert-comptable of another firm
  (registered nowhere).
- Libeo: anonymous; Boulangerie Martin's Libeo user, who also sends
  Boulangerie's API key on every call. (A Libeo user who is not an
  administrator of the victim's own account is tested with « À approuver »
  and the « Journal », in tests/libeo/test_safeguards.py.)

Answers allowed: a redirect to the login page (anonymous), 401, 403, 404 —
never another company's data (its markers in the page), never a 500, and the
victim's rows unchanged at the end.
"""

from __future__ import annotations

import itertools

import pytest
from flask import url_for
from sqlalchemy import select

from tests.conftest import meg_initiator
from tests.factories import meg_user

from .conftest import MAILDIR_KEY, VICTIM_MARKERS, populate, unsubscribe_token
from .helpers import GARAGE_SIRET, LIBEO_PASSWORD, libeo_login, meg_login

# Public routes: anybody may call them; they are still called by everyone
# below (never a 500, never a victim's data), only the refusal is not required.
PUBLIC = {
    "meg": {
        "static": "feuilles de style et scripts",
        "auth.login": "le formulaire de connexion",
        "oauth.openid_configuration": "document de découverte OpenID Connect, public par nature",
        "oauth.jwks": "clés publiques qui vérifient les ID tokens",
        "oauth.authorize": "début du parcours OAuth : renvoie à la connexion, ou refuse une demande non enregistrée",
        "oauth.issue_token": "authentifié par le secret du client OAuth (400/401 sans lui), pas par la session",
        "observability.healthz": "le processus répond (répartiteur de charge) : aucune donnée",
        "observability.readyz": "la base répond et son schéma est à jour : ni adresse, ni version, ni erreur",
        "observability.metrics": "compteurs et jauges, servis à l'adresse locale ou au jeton METRICS_TOKEN",
        "notifications.unsubscribe": "lien signé d'un e-mail : désabonne l'adresse qu'il nomme, sans connexion",
        "favicon": "l'icône de l'onglet, la même pour tous",
    },
    "libeo": {
        "static": "feuilles de style et scripts",
        "main.home": "page d'accueil publique de Libeo",
        "auth.login": "le formulaire de connexion",
        "auth.signup": "la création de compte",
        "auth.terms": "les conditions générales d'utilisation, liées depuis la création de compte",
        "security.lost_factor": "que faire sans son téléphone ou sa clé d'accès : codes de secours, puis support",
        "api.openapi": "le document OpenAPI de l'API",
        "billing.webhook": "appelé par Stripe, authentifié par sa signature (400 sans elle)",
        "meg_connect.page": "« Me connecter avec MEG » : page d'entrée du parcours, sans donnée",
        "meg_connect.login": "départ vers MEG (redirection vers son autorisation)",
        "meg_connect.callback": "retour de MEG : refusé sans state de ce navigateur",
        "meg_connect.existing": "explique qu'un compte existe déjà (rien sans parcours en cours)",
        "meg_connect.signup": "création de compte après le consentement MEG (rien sans parcours en cours)",
        "observability.healthz": "le processus répond (répartiteur de charge) : aucune donnée",
        "observability.readyz": "la base répond et son schéma est à jour : ni adresse, ni version, ni erreur",
        "observability.metrics": "compteurs et jauges, servis à l'adresse locale ou au jeton METRICS_TOKEN",
        "notifications.unsubscribe": "lien signé d'un e-mail : désabonne l'adresse qu'il nomme, sans connexion",
        "favicon": "l'icône de l'onglet, la même pour tous",
    },
}

# Routes whose path parameter is a name the caller chooses in its own
# namespace, not a reference to somebody's row.
# Path parameters that name no one's data (an export's format): a route with only these takes no victim's id.
NEUTRAL_PARAMS = {"fmt"}
OWN_NAMESPACE = {
    "api.put_invoice": "external_id est l'identifiant que l'appelant donne à SA facture",
    "api.pay": "external_id est cherché parmi les factures du compte de la clé",
    "api.put_document": "external_id est cherché parmi les factures du compte de la clé",
}
# Answers of an outside service that this test does not run (localstripe).
SERVICE_DOWN_OK = {"billing.card_setup": "Stripe (localstripe) n'est pas lancé ici : 503 et message en français"}

LOGIN = {"meg": "/meg/connexion", "libeo": "/libeo/connexion"}
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")


def victim_params(world, side: str) -> dict[str, list]:
    if side == "meg":
        return {
            "invoice_id": [world.meg["garage_invoice"], world.meg["garage_libeo_invoice"]],
            "supplier_id": [world.meg["garage_supplier"]],
            "message_id": [world.meg["garage_refused_update"]],
            "action": ["reessayer", "ignorer"],
            "import_id": [world.meg["garage_import"]],
            "token": [unsubscribe_token(world, "meg", "gerant@garage-leroy.fr", "payment_outcome")],
            "key": [MAILDIR_KEY],
            "fmt": ["csv"],
        }
    return {
        "invoice_id": [world.libeo["garage_direct_invoice"], world.libeo["garage_invoice"]],
        "payment_id": [world.libeo["garage_payment"]],
        "external_id": [world.libeo["garage_external_id"]],
        "batch_id": [world.libeo["garage_batch"]],
        "token": [unsubscribe_token(world, "libeo", world.libeo["garage_email"], "payment_debited")],
        "key": [MAILDIR_KEY],
        "anomaly_id": [world.libeo["garage_anomaly"]],
        "passkey_id": [world.libeo["garage_passkey"]],
        "fmt": ["csv"],
    }


def form_data(world, side: str) -> dict:
    """Every field any form of the side reads, filled with valid values pointing at the victim."""
    if side == "meg":
        return {
            "company_id": world.meg["garage"], "supplier_id": world.meg["garage_supplier"], "number": "PIRATE-1",
            "issue_date": "2026-01-10", "due_date": "2026-02-10", "amount": "12,34", "payment_mode": "LIBEO",
            "name": "Fournisseur Pirate", "iban": "FR7630006000010000000791963", "bic": "AGRIFRPP",
            # A key of the victim's Libeo account is refused too, but the refusal names that account (to
            # someone who holds its key): tests/integration covers it. Here, a well-formed unknown key.
            "api_key": "lbo_meg_0123456789ab_" + "A" * 43, "next": "/meg/achats/", "allow": "1",
            "email": "pirate@exemple.fr", "password": "mauvais-mot-de-passe",
            "grant_type": "authorization_code", "code": "x", "redirect_uri": "https://evil.example/",
            # « Payer la sélection » naming the victim's invoice.
            "facture": world.meg["garage_libeo_invoice"],
        }
    return {
        "number": "PIRATE-1", "supplier_name": "Fournisseur Pirate", "supplier_iban": "FR7630006000010000000791963",
        "supplier_bic": "AGRIFRPP", "issue_date": "2026-01-10", "due_date": "2026-02-10", "amount": "12,34",
        "execution_date": "2099-01-01", "iban": "FR7630006000010000000791963", "bic": "AGRIFRPP",
        "email": world.libeo["garage_email"], "password": "mauvais-mot-de-passe", "company_name": "Pirate SAS",
        "siret": GARAGE_SIRET, "next": "/libeo/factures/", "facture": world.libeo["garage_direct_invoice"],
    }


def json_body(world, side: str, endpoint: str) -> dict:
    if side == "meg":
        return {"api_key": "lbo_meg_0123456789ab_" + "A" * 43}
    if endpoint == "api.put_invoice":
        return {"number": "PIRATE-1", "supplier": {"name": "Fournisseur Pirate", "iban": "FR7630006000010000000791963"},
                "amount_cents": 1234, "currency": "EUR", "issue_date": "2026-01-10", "due_date": "2026-02-10"}
    return {"initiated_by": {"email": "pirate@exemple.fr", "role": "user"}}


def calls(app, side: str, params: dict[str, list]):
    """(endpoint, method, path, takes victim ids) for every route and method of the app."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint == "static":
            values = [{"filename": "css/app.css"}]
        else:
            missing = set(rule.arguments) - set(params)
            assert not missing, (
                f"{side} {rule.rule}: give this matrix a victim's value for {sorted(missing)} (victim_params)"
            )
            names = sorted(rule.arguments)
            values = [dict(zip(names, combo, strict=False)) for combo in itertools.product(*(params[n] for n in names))]
        for method in METHODS:
            if method not in rule.methods:
                continue
            for args in values:
                with app.test_request_context():
                    path = url_for(rule.endpoint, **args)
                takes_ids = bool(set(rule.arguments) - NEUTRAL_PARAMS) and rule.endpoint != "static"
                yield rule.endpoint, method, f"/{side}{path}", takes_ids


def leaked(body: str, sent: dict | None = None) -> list[str]:
    """The victim's markers in a page, except what the request typed itself (a form shows its input back)."""
    typed = " ".join(str(v) for v in (sent or {}).values())
    markers = (*VICTIM_MARKERS, "Garage Leroy", GARAGE_SIRET, "851 234 567 00002")
    return [m for m in markers if m in body and m not in typed]


def send(client, world, side, endpoint, method, path, headers):
    if method in ("PUT",) or (side == "libeo" and endpoint.startswith("api.")):
        return client.open(path, method=method, json=json_body(world, side, endpoint),
                           headers={**headers, "Idempotency-Key": "matrice-1"})
    if method == "GET":
        return client.open(path, method=method, headers=headers)
    return client.open(path, method=method, data=form_data(world, side), headers=headers)


def check_answer(world, side, endpoint, method, path, response, *, anonymous: bool, victim_ids: bool, who: str):
    where = f"{who}: {method} {path} → {response.status_code}"
    # A file (a PDF, a spreadsheet) is read as text too: a victim's name in it would still show.
    body = response.get_data().decode("utf-8", "replace")
    assert response.status_code != 500, where
    if response.status_code >= 500:
        assert endpoint in SERVICE_DOWN_OK, where
    sent = {} if method == "GET" else form_data(world, side)
    assert not leaked(body, sent), f"{where} shows {leaked(body, sent)}"
    public = endpoint in PUBLIC[side]
    if anonymous and not public:
        if response.status_code == 302:
            assert response.headers["Location"].startswith(LOGIN[side]), where
        else:
            assert response.status_code in (401, 403, 404, 405), where
    elif victim_ids and not public and endpoint not in OWN_NAMESPACE:
        assert response.status_code in (401, 403, 404, 405), where


def snapshot(apps, world) -> dict:
    """The victim's rows in both databases: tables reaching it by company/account or by its invoices."""
    from models.libeo import db as libeo_db
    from models.meg import db as meg_db

    rows = {}
    for side, app, db, owner, owner_id, root in (
        ("meg", apps.meg, meg_db, "company_id", world.meg["garage"], "company"),
        ("libeo", apps.libeo, libeo_db, "account_id", world.libeo["garage"], "account"),
    ):
        with app.app_context():
            invoices = "supplier_invoice" if side == "meg" else "invoice"
            invoice_table = db.metadata.tables[invoices]
            invoice_ids = set(db.session.scalars(select(invoice_table.c.id).where(invoice_table.c[owner] == owner_id)))
            for table in db.metadata.sorted_tables:
                if table.name == root:
                    condition = table.c.id == owner_id
                elif owner in table.c:
                    condition = table.c[owner] == owner_id
                elif "invoice_id" in table.c:
                    condition = table.c.invoice_id.in_(invoice_ids)
                else:
                    continue
                rows[f"{side}.{table.name}"] = sorted(
                    tuple(str(v) for v in row) for row in db.session.execute(select(table).where(condition))
                )
    return rows


def no_cross_links(apps) -> None:
    """No row of one company points at another company's supplier."""
    from models.meg import Supplier, SupplierInvoice, db

    with apps.meg.app_context():
        crossed = db.session.scalars(
            select(SupplierInvoice.id).join(Supplier, Supplier.id == SupplierInvoice.supplier_id)
            .where(Supplier.company_id != SupplierInvoice.company_id)
        ).all()
        assert not crossed


@pytest.fixture
def matrix_world(make_apps):
    # Stripe is not running: billing calls fail fast, on a closed port.
    apps = make_apps(libeo={"LOCALSTRIPE_URL": "http://127.0.0.1:9"})
    world = populate(apps)
    from models.meg import AccountingFirm, db

    with apps.meg.app_context():
        meg_user("expert@cabinet-ailleurs.fr", "demo-meg-2026", full_name="Paul Ailleurs",
                 firm=AccountingFirm(name="Cabinet Ailleurs"))
        db.session.commit()
    return world


MEG_PERSONAS = {
    "anonyme": None,
    "administrateur d'une autre entreprise": "admin@boulangerie-martin.fr",
    "non-administrateur d'une autre entreprise": "compta@boulangerie-martin.fr",
    "expert-comptable d'un autre cabinet": "expert@cabinet-ailleurs.fr",
}


def test_meg_routes_refuse_everyone_but_the_company(matrix_world):
    world, apps = matrix_world, matrix_world.apps
    before = snapshot(apps, world)
    params = victim_params(world, "meg")
    checked = 0
    for who, email in MEG_PERSONAS.items():
        client = apps.root.test_client()
        for endpoint, method, path, victim_ids in calls(apps.meg, "meg", params):
            if email:
                # Each call starts signed in (the previous one may have been « Se déconnecter »).
                assert meg_login(client, email).status_code == 302
            response = send(client, world, "meg", endpoint, method, path, {})
            check_answer(world, "meg", endpoint, method, path, response, anonymous=email is None,
                         victim_ids=victim_ids, who=who)
            checked += 1
            if email and method != "GET":
                # An action must not have moved this person onto the victim's company.
                after = client.get("/meg/achats/", follow_redirects=True).get_data(as_text=True)
                assert not leaked(after), f"{who} after {method} {path}: {leaked(after)}"
    assert snapshot(apps, world) == before
    no_cross_links(apps)
    assert checked > 80


def test_libeo_routes_and_api_refuse_everyone_but_the_account(matrix_world):
    world, apps = matrix_world, matrix_world.apps
    before = snapshot(apps, world)
    params = victim_params(world, "libeo")
    checked = 0
    for who, signed_in in (("anonyme", False), ("utilisateur et clé d'un autre compte", True)):
        client = apps.root.test_client()
        headers = {"Authorization": f"Bearer {world.keys['boulangerie']}"} if signed_in else {}
        for endpoint, method, path, victim_ids in calls(apps.libeo, "libeo", params):
            if signed_in:
                assert libeo_login(client, world.libeo["boulangerie_email"], LIBEO_PASSWORD).status_code == 302
            response = send(client, world, "libeo", endpoint, method, path, headers)
            check_answer(world, "libeo", endpoint, method, path, response, anonymous=not signed_in,
                         victim_ids=victim_ids, who=who)
            checked += 1
    assert snapshot(apps, world) == before
    assert checked > 60


def test_the_api_refuses_a_revoked_key_and_a_key_of_another_account(matrix_world):
    world, apps = matrix_world, matrix_world.apps
    client = apps.root.test_client()
    libeo_login(client, world.libeo["garage_email"])
    assert client.post("/libeo/configuration/integrations/meg/revoquer").status_code == 302
    revoked = {"Authorization": f"Bearer {world.keys['garage']}"}
    other = {"Authorization": f"Bearer {world.keys['boulangerie']}"}
    for path in ("/libeo/api/v1/me", f"/libeo/api/v1/payments/{world.libeo['garage_payment']}"):
        assert client.get(path, headers=revoked).status_code == 401
    assert client.get(f"/libeo/api/v1/payments/{world.libeo['garage_payment']}", headers=other).status_code == 404
    assert client.get("/libeo/api/v1/me", headers=other).get_json()["siret"] != GARAGE_SIRET


def test_a_non_administrator_cannot_open_or_change_the_options_of_their_own_company(matrix_world):
    from models.meg import db
    from models.meg.libeo_link.connection import LibeoConnection

    world, apps = matrix_world, matrix_world.apps
    client = apps.root.test_client()
    meg_login(client, "compta@boulangerie-martin.fr")
    assert client.get("/meg/achats/options").status_code == 403
    assert client.post("/meg/achats/options", data={"api_key": world.keys["boulangerie"]}).status_code == 403
    assert client.post("/meg/achats/options/libeo/supprimer").status_code == 403
    with apps.meg.app_context():
        assert db.session.scalar(select(LibeoConnection).where(LibeoConnection.company_id == world.meg["boulangerie"]))


def test_an_accountant_not_registered_in_libeo_cannot_pay(matrix_world):
    """Cabinet Durand works on Garage Leroy in MEG, but Garage Leroy did not add it in Libeo."""
    from models.libeo import Payment
    from models.libeo import db as libeo_db

    world, apps = matrix_world, matrix_world.apps
    with apps.libeo.app_context():
        payments = libeo_db.session.query(Payment).count()
    client = apps.root.test_client()
    meg_login(client, "expert@cabinet-durand.fr")
    client.post("/meg/entreprise", data={"company_id": world.meg["garage"]})
    page = client.get(f"/meg/achats/factures/{world.meg['garage_invoice']}").get_data(as_text=True)
    assert "doit vous ajouter comme expert-comptable" in page.replace("&#39;", "'")
    answer = client.post(f"/meg/achats/factures/{world.meg['garage_invoice']}/payer", follow_redirects=True)
    assert answer.status_code in (200, 403)
    # Libeo refuses it too, whatever MEG would send.
    api = apps.root.test_client().post(
        f"/libeo/api/v1/invoices/{world.libeo['garage_external_id']}/payments",
        json={"initiated_by": {"email": "expert@cabinet-durand.fr", "role": "accountant"}},
        headers={"Authorization": f"Bearer {world.keys['garage']}", "Idempotency-Key": "comptable-1",
                 "MEG-Initiator": meg_initiator(apps.root, GARAGE_SIRET, "expert@cabinet-durand.fr", "accountant")},
    )
    assert api.status_code in (403, 409)
    with apps.libeo.app_context():
        assert libeo_db.session.query(Payment).count() == payments


def test_consent_cannot_name_a_company_of_someone_else(people):
    from models.meg import Company, db

    from .helpers import consent_url, register_client

    apps = people.apps
    with apps.meg.app_context():
        garage = db.session.scalar(select(Company.id).where(Company.siret == GARAGE_SIRET))
    client_id, _ = register_client(apps.meg)
    client = apps.root.test_client()
    meg_login(client)
    url, _ = consent_url(client_id)
    answer = client.post(url, data={"allow": "1", "company_id": garage})
    assert answer.status_code == 200 and "code=" not in answer.headers.get("Location", "")
    assert "Garage Leroy" not in answer.get_data(as_text=True)


def test_every_allow_listed_route_exists(apps):
    for side in ("meg", "libeo"):
        endpoints = {rule.endpoint for rule in getattr(apps, side).url_map.iter_rules()}
        assert set(PUBLIC[side]) <= endpoints, set(PUBLIC[side]) - endpoints
    assert set(OWN_NAMESPACE) | set(SERVICE_DOWN_OK) <= {r.endpoint for r in apps.libeo.url_map.iter_rules()}
