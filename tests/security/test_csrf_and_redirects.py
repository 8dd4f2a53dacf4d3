"""CSRF on every form, and no open redirect."""

from __future__ import annotations

import re
from urllib.parse import quote, urljoin, urlsplit

import pytest
from flask import url_for
from sqlalchemy import select

from config import BASE_DIR

from .conftest import own_path_values, populate
from .helpers import LIBEO_PASSWORD

# Routes that take POST/PUT without a CSRF token, and why no cookie can be abused there.
CSRF_EXEMPT = {
    "meg": {
        "oauth.issue_token": "back-channel of OAuth clients, authenticated by the client secret, no cookie",
        "oauth.userinfo": "authenticated by the bearer access token only",
        "api.deliver_libeo_key": "authenticated by the bearer access token only",
        "notifications.unsubscribe": "an e-mail's signed link; mail clients post it without a form (RFC 8058)",
    },
    "libeo": {
        "api.put_invoice": "REST API, authenticated by the API key only (Authorization header)",
        "api.pay": "REST API, authenticated by the API key only (Authorization header)",
        "api.cancel_payment": "REST API, authenticated by the API key only (Authorization header)",
        "api.pay_batch": "REST API, authenticated by the API key only (Authorization header)",
        "api.void_payment_request": "REST API, authenticated by the API key only (Authorization header)",
        "api.delete_key": "REST API, authenticated by the API key only (Authorization header)",
        "api.meg_vouch": "MEG's signed assertion (a JWT checked with MEG's JWKS) and the API key, no cookie",
        "api.put_document": "REST API, authenticated by the API key only (Authorization header)",
        "billing.webhook": "called by Stripe, authenticated by its signature",
        "notifications.unsubscribe": "an e-mail's signed link; mail clients post it without a form (RFC 8058)",
    },
}
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
CSRF_MESSAGE = "Le formulaire a expiré ou n&#39;est pas valide"


def csrf_token(client, url: str) -> str:
    page = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert match, f"no CSRF token in {url}"
    return match.group(1)


def login_with_token(client, side: str, email: str, password: str):
    token = csrf_token(client, f"/{side}/connexion")
    answer = client.post(f"/{side}/connexion", data={"email": email, "password": password, "csrf_token": token})
    assert answer.status_code == 302, answer.get_data(as_text=True)[-2000:]


def everything(apps) -> dict:
    """Every row of every table of both databases."""
    from models.libeo import db as libeo_db
    from models.meg import db as meg_db

    rows = {}
    for side, app, db in (("meg", apps.meg, meg_db), ("libeo", apps.libeo, libeo_db)):
        with app.app_context():
            for table in db.metadata.sorted_tables:
                rows[f"{side}.{table.name}"] = sorted(tuple(map(str, r)) for r in db.session.execute(select(table)))
    return rows


def own_form(world, side):
    """Valid values on the user's own data: without the CSRF check, each POST would change something."""
    if side == "meg":
        return {
            "company_id": world.meg["boulangerie"], "supplier_id": world.meg["boulangerie_supplier"],
            "number": "CSRF-1", "issue_date": "2026-01-10", "due_date": "2026-02-10", "amount": "12,34",
            "payment_mode": "VIREMENT", "name": "Fournisseur Forgé", "iban": "FR7630006000010000000791963",
            "api_key": world.keys["boulangerie"], "email": "admin@boulangerie-martin.fr", "password": "demo-meg-2026",
            "current_password": "demo-meg-2026", "new_password": "Phrase forgée 2026 !",
            "confirm": "Phrase forgée 2026 !",
        }
    return {
        "number": "CSRF-1", "supplier_name": "Fournisseur Forgé", "supplier_iban": "FR7630006000010000000791963",
        "issue_date": "2026-01-10", "due_date": "2026-02-10", "amount": "12,34", "execution_date": "2099-01-01",
        "iban": "FR7630006000010000000791963", "email": "forge@exemple.fr", "company_name": "Forgé SAS",
        "siret": "73282932000074", "password": LIBEO_PASSWORD, "current_password": LIBEO_PASSWORD,
        "new_password": "Phrase forgée 2026 !", "confirm": "Phrase forgée 2026 !", "plan": "gratuit", "terms": "y",
    }


@pytest.fixture
def csrf_world(make_apps):
    apps = make_apps(libeo={"LOCALSTRIPE_URL": "http://127.0.0.1:9"})
    world = populate(apps)  # built without tokens; from here on, as a browser would
    for app in (apps.meg, apps.libeo):
        app.config["WTF_CSRF_ENABLED"] = True
    return world


def unsafe_routes(app, side, ids):
    from blueprints.libeo.extensions import csrf as libeo_csrf
    from blueprints.meg.extensions import csrf as meg_csrf

    csrf = meg_csrf if side == "meg" else libeo_csrf
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        for method in UNSAFE:
            if method not in rule.methods:
                continue
            with app.test_request_context():
                path = url_for(rule.endpoint, **{name: ids[name] for name in rule.arguments})
            with app.test_request_context(path, method=method):
                exempt = csrf._is_exempt()
            yield rule.endpoint, method, path, exempt


@pytest.mark.parametrize("side", ["meg", "libeo"])
def test_every_form_refuses_a_post_without_token_and_changes_nothing(csrf_world, side):
    world, apps = csrf_world, csrf_world.apps
    client = apps.root.test_client()
    if side == "meg":
        login_with_token(client, "meg", "admin@boulangerie-martin.fr", "demo-meg-2026")
    else:
        login_with_token(client, "libeo", world.libeo["boulangerie_email"], LIBEO_PASSWORD)
    before = everything(apps)
    exempt_found, checked = {}, 0
    for endpoint, method, path, exempt in unsafe_routes(getattr(apps, side), side, own_path_values(world, side)):
        if exempt:
            exempt_found[endpoint] = True
            continue
        response = client.open(f"/{side}{path}", method=method, data=own_form(world, side))
        assert response.status_code == 400, f"{method} /{side}{path} → {response.status_code}"
        assert CSRF_MESSAGE in response.get_data(as_text=True), path
        checked += 1
    assert set(exempt_found) == set(CSRF_EXEMPT[side]), "document every CSRF-exempt route in CSRF_EXEMPT"
    assert everything(apps) == before
    assert checked >= (10 if side == "meg" else 15)


def test_a_token_from_the_page_is_accepted(csrf_world):
    """The 400s above come from the missing token, not from something else."""
    world, apps = csrf_world, csrf_world.apps
    client = apps.root.test_client()
    login_with_token(client, "meg", "admin@boulangerie-martin.fr", "demo-meg-2026")
    token = csrf_token(client, "/meg/achats/fournisseurs/nouveau")
    answer = client.post("/meg/achats/fournisseurs/nouveau", data={
        "name": "Fournisseur Légitime", "iban": "FR7630006000010000000791963", "csrf_token": token})
    assert answer.status_code == 302
    assert client.post("/meg/achats/fournisseurs/nouveau", data={"name": "Sans jeton"}).status_code == 400
    # A token of Libeo's session is no token for MEG (distinct secrets).
    libeo = apps.root.test_client()
    login_with_token(libeo, "libeo", world.libeo["boulangerie_email"], LIBEO_PASSWORD)
    foreign = csrf_token(libeo, "/libeo/factures/nouvelle")
    answer = client.post("/meg/achats/fournisseurs/nouveau", data={"name": "X", "csrf_token": foreign})
    assert answer.status_code == 400


# Forms that post to a CSRF-exempt route (CSRF_EXEMPT), and why they carry no token.
TOKENLESS_FORMS = {
    "templates/_unsubscribe.html": "« Me désabonner » posts the e-mail's signed link (notifications.unsubscribe)",
}


def test_every_post_form_in_the_templates_carries_a_token():
    missing = []
    for path in sorted((BASE_DIR / "templates").rglob("*.html")):
        if str(path.relative_to(BASE_DIR)) in TOKENLESS_FORMS:
            continue
        text = path.read_text(encoding="utf-8")
        for form in re.findall(r"<form\b.*?</form>", text, flags=re.S | re.I):
            opening = form[: form.index(">") + 1].lower()
            if 'method="post"' in opening and "hidden_tag()" not in form and "csrf_token()" not in form:
                missing.append(f"{path.relative_to(BASE_DIR)}: {opening}")
    assert not missing, missing


# --- open redirects --------------------------------------------------------------------------

EVIL = [
    "//evil.example", "///evil.example", "////evil.example", "/\\evil.example", "\\\\evil.example", "\\/evil.example",
    "https://evil.example", "http://evil.example/meg/", "https:evil.example", "https:/evil.example",
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "data:text/html,<script>1</script>",
    "%2F%2Fevil.example", "%252F%252Fevil.example", "/%2F%2Fevil.example", "%5C%5Cevil.example",
    "/%5Cevil.example", "\t//evil.example", "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example",
    " //evil.example", "/\u3000/evil.example", "/\x00//evil.example", "http://127.0.0.1:5000@evil.example/",
    "//127.0.0.1:5000@evil.example", "evil.example", ".evil.example",
]
# The same, once more percent-encoded, as a raw query string would carry them.
ENCODED = [quote(value, safe="") for value in EVIL]


def stays_on_site(location: str | None, request_url: str) -> bool:
    if location is None:
        return True
    if any(ord(c) < 33 for c in location) or location.lstrip().lower().startswith(("javascript:", "data:")):
        return False
    if location.startswith(("//", "/\\", "\\")):
        return False
    target = urlsplit(urljoin(request_url, location))
    return target.scheme in ("http", "https") and target.netloc == urlsplit(request_url).netloc


def check(response, where):
    location = response.headers.get("Location")
    assert response.status_code < 500, where
    assert stays_on_site(location, "http://localhost/"), f"{where} → {location!r}"


@pytest.fixture
def redirect_world(make_apps):
    return populate(make_apps(libeo={"LOCALSTRIPE_URL": "http://127.0.0.1:9"}))


def test_next_and_return_addresses_never_leave_the_site(redirect_world):
    world, apps = redirect_world, redirect_world.apps
    meg = apps.root.test_client()
    libeo = apps.root.test_client()
    meg_creds = {"email": "admin@boulangerie-martin.fr", "password": "demo-meg-2026"}
    libeo_creds = {"email": world.libeo["boulangerie_email"], "password": LIBEO_PASSWORD}
    invoice = world.meg["boulangerie_libeo_invoice"]
    payment = world.libeo["boulangerie_payment"]
    checked = 0
    for raw, encoded in zip(EVIL, ENCODED, strict=False):
        # Logging in, and the login page of someone already logged in.
        for client, side, creds in ((meg, "meg", meg_creds), (libeo, "libeo", libeo_creds)):
            client.post(f"/{side}/deconnexion")
            check(client.post(f"/{side}/connexion", query_string={"next": raw}, data=creds), f"{side} login {raw!r}")
            check(client.get(f"/{side}/connexion?next={encoded}"), f"{side} logged in {encoded}")
        # MEG: the company switcher and « Payer ».
        check(meg.post("/meg/entreprise", data={"company_id": world.meg["boulangerie"], "next": raw}),
              f"switcher {raw!r}")
        check(meg.post(f"/meg/achats/factures/{invoice}/payer", data={"next": raw}), f"Payer {raw!r}")
        # Libeo: « Annuler » a payment, and the way back to MEG of « Me connecter avec MEG ».
        check(libeo.post(f"/libeo/paiements/{payment}/annuler", data={"next": raw}), f"annuler {raw!r}")
        page = libeo.get(f"/libeo/connexion-meg?return_to={encoded}")
        check(page, f"connexion-meg {raw!r}")
        assert "evil.example" not in page.get_data(as_text=True), f"connexion-meg shows a link to {raw!r}"
        checked += 1
    assert checked == len(EVIL)


def test_a_return_address_inside_meg_is_kept(redirect_world):
    apps = redirect_world.apps
    back = "http://127.0.0.1:5000/meg/achats/factures/1"
    page = apps.root.test_client().get("/libeo/connexion-meg", query_string={"return_to": back})
    assert f'href="{back}"' in page.get_data(as_text=True)
    client = apps.root.test_client()
    answer = client.post("/meg/connexion", query_string={"next": "/meg/achats/reglements?page=2"},
                         data={"email": "admin@boulangerie-martin.fr", "password": "demo-meg-2026"})
    assert answer.headers["Location"] == "/meg/achats/reglements?page=2"


# --- a form sent after its session ended -------------------------------------------------------

EXPIRED = "Le formulaire avait expiré (session terminée ou page ouverte depuis longtemps) : rien n&#39;a été fait."


def test_paying_after_the_session_ended_leads_back_to_the_invoice_and_pays_nothing(csrf_world):
    """« Confirmer le paiement » clicked once the session is gone: not a dead end, and nothing paid."""
    world, apps = csrf_world, csrf_world.apps
    invoice = world.meg["boulangerie_libeo_invoice"]
    client = apps.root.test_client()
    login_with_token(client, "meg", "admin@boulangerie-martin.fr", "demo-meg-2026")
    page = f"http://localhost/meg/achats/factures/{invoice}?payer={invoice}"
    token = csrf_token(client, page)
    before = everything(apps)
    client.delete_cookie("meg_session", path="/meg")  # the session ended while the page stayed open

    answer = client.post(f"/meg/achats/factures/{invoice}/payer", data={"csrf_token": token},
                         headers={"Referer": page})
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/meg/achats/factures/{invoice}?payer={invoice}#confirmer"
    login = client.get(answer.headers["Location"])
    assert login.status_code == 302 and "/meg/connexion" in login.headers["Location"]
    login_page = client.get(login.headers["Location"]).get_data(as_text=True)
    assert EXPIRED in login_page
    # The form's own message says why: not « Connectez-vous pour accéder à cette page. » besides.
    assert "Connectez-vous pour accéder à cette page." not in login_page
    assert everything(apps) == before

    # Signed in again, the person is back on the invoice with its confirmation open, where it is on the page.
    token = csrf_token(client, login.headers["Location"])
    again = client.post(login.headers["Location"], data={
        "email": "admin@boulangerie-martin.fr", "password": "demo-meg-2026", "csrf_token": token})
    assert again.status_code == 302
    assert again.headers["Location"].endswith(f"/meg/achats/factures/{invoice}?payer={invoice}#confirmer")


def test_a_page_that_needs_a_session_still_asks_to_sign_in(csrf_world):
    client = csrf_world.apps.root.test_client()
    login = client.get("/meg/achats/reglements")
    assert login.status_code == 302
    assert "Connectez-vous pour accéder à cette page." in client.get(login.headers["Location"]).get_data(as_text=True)


def test_an_expired_confirmation_with_the_session_alive_opens_again_at_the_panel(csrf_world):
    world, apps = csrf_world, csrf_world.apps
    invoice = world.meg["boulangerie_libeo_invoice"]
    client = apps.root.test_client()
    login_with_token(client, "meg", "admin@boulangerie-martin.fr", "demo-meg-2026")
    page = f"http://localhost/meg/achats/factures/{invoice}?payer={invoice}"
    answer = client.post(f"/meg/achats/factures/{invoice}/payer", data={"csrf_token": "expiré"},
                         headers={"Referer": page})
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/meg/achats/factures/{invoice}?payer={invoice}#confirmer"
    # Any other page is returned to as it was.
    other = client.post("/meg/achats/fournisseurs/nouveau", data={"csrf_token": "expiré"},
                        headers={"Referer": "http://localhost/meg/achats/fournisseurs/nouveau?payer=3"})
    assert other.headers["Location"] == "/meg/achats/fournisseurs/nouveau?payer=3"


@pytest.mark.parametrize("referrer", [
    None, "https://evil.example/meg/achats/", "http://localhost/libeo/paiements/", "http://localhost//evil.example/",
])
def test_an_expired_form_without_a_page_of_its_own_gets_the_error_page(csrf_world, referrer):
    """No referrer, another site or the other product: the French error page, never a redirect there."""
    apps = csrf_world.apps
    client = apps.root.test_client()
    headers = {"Referer": referrer} if referrer else {}
    answer = client.post("/meg/achats/fournisseurs/nouveau", data={"name": "X"}, headers=headers)
    assert answer.status_code == 400
    assert CSRF_MESSAGE in answer.get_data(as_text=True)


def test_cancelling_in_libeo_after_the_session_ended_cancels_nothing(csrf_world):
    world, apps = csrf_world, csrf_world.apps
    client = apps.root.test_client()
    login_with_token(client, "libeo", world.libeo["boulangerie_email"], LIBEO_PASSWORD)
    page = "http://localhost/libeo/paiements/"
    token = csrf_token(client, page)
    before = everything(apps)
    client.delete_cookie("libeo_session", path="/libeo")
    answer = client.post("/libeo/paiements/1/annuler", data={"csrf_token": token}, headers={"Referer": page})
    assert answer.status_code == 303 and answer.headers["Location"] == "/libeo/paiements/"
    login = client.get(answer.headers["Location"])
    assert login.status_code == 302
    assert EXPIRED in client.get(login.headers["Location"]).get_data(as_text=True)
    assert everything(apps) == before
