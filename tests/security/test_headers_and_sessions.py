"""Headers, cookies and sessions on both products."""

from __future__ import annotations

import re
from html import unescape

import pytest

from config import BASE_DIR
from core.security import content_security_policy

from .conftest import own_path_values
from .helpers import (
    LIBEO_PASSWORD,
    consent_url,
    inline_code,
    libeo_account,
    libeo_login,
    meg_login,
    register_client,
)

TEMPLATES = BASE_DIR / "templates"
STRICT_CSP = content_security_policy()


def get_pages(apps, side: str, ids: dict) -> list[str]:
    """Every GET route of the side's URL map, as a path under its mount point."""
    app = getattr(apps, side)
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        missing = set(rule.arguments) - set(ids)
        assert not missing, f"{side} {rule.rule}: give the crawl a value for {missing}"
        with app.test_request_context():
            from flask import url_for

            paths.append(url_for(rule.endpoint, **{name: ids[name] for name in rule.arguments}))
    return paths


def check_html_page(response, where: str, *, stripe: bool = False) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, where
    assert "frame-ancestors 'none'" in csp, where
    assert "script-src 'self'" in csp and "style-src 'self';" in csp, where
    assert ("stripe" in csp or "8420" in csp) == stripe, f"{where}: Stripe.js allowed where it is not needed: {csp}"
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    assert response.headers.get("Referrer-Policy") == "same-origin", where
    assert response.headers.get("X-Frame-Options") == "DENY", where
    if response.mimetype == "text/html":
        problems = inline_code(response.get_data(as_text=True))
        assert not problems, f"{where}: {problems}"


def test_every_page_of_both_products_has_a_strict_csp_and_no_inline_code(world):
    apps = world.apps
    crawled = 0
    for side, login in (("meg", lambda c: meg_login(c)),
                        ("libeo", lambda c: libeo_login(c, world.libeo["boulangerie_email"]))):
        paths = get_pages(apps, side, own_path_values(world, side))
        for signed_in in (False, True):
            client = apps.root.test_client()
            if signed_in:
                assert login(client).status_code == 302
            for path in paths:
                url = f"/{side}{path}"
                response = client.get(url)
                assert response.status_code < 500, url
                check_html_page(response, f"{url} (connecté : {signed_in})", stripe=path.startswith("/abonnement"))
                crawled += 1
    # Pages reached another way: the landing page, an error page, a form with errors.
    client = apps.root.test_client()
    for url in ("/", "/meg/nulle-part", "/libeo/nulle-part"):
        check_html_page(client.get(url), url)
    check_html_page(client.post("/libeo/inscription", data={"email": "x"}), "inscription refusée")
    assert crawled > 60


def test_consent_screen_and_the_page_showing_a_new_key_have_no_inline_code(world):
    apps = world.apps
    client = apps.root.test_client()
    meg_login(client)
    client_id, _secret = register_client(apps.meg)
    url, _verifier = consent_url(client_id)
    response = client.get(url)
    assert response.status_code == 200 and "Autoriser" in response.get_data(as_text=True)
    check_html_page(response, "écran de consentement")

    libeo = apps.root.test_client()
    libeo_login(libeo, world.libeo["boulangerie_email"])
    response = libeo.post("/libeo/configuration/integrations/meg")
    assert response.status_code == 200 and "lbo_meg_" in response.get_data(as_text=True)
    check_html_page(response, "clé affichée une fois")
    assert response.headers["Cache-Control"] == "no-store"


def is_email(path) -> bool:
    """E-mails' templates: mail clients drop style sheets, so they style inline (and are no page of ours)."""
    return path.name.startswith("_email") or path.parent.name == "emails"


def test_templates_have_no_inline_script_style_or_handler():
    """The source of every page, including those no test reaches."""
    problems = []
    for path in sorted(p for p in TEMPLATES.rglob("*.html") if not is_email(p)):
        text = path.read_text(encoding="utf-8")
        # Jinja expressions are left out: only the markup is parsed.
        markup = re.sub(r"{%.*?%}|{{.*?}}|{#.*?#}", "", text, flags=re.S)
        problems += [f"{path.relative_to(BASE_DIR)}: {p}" for p in inline_code(markup)]
        if re.search(r"\son[a-z]+\s*=", text, flags=re.I) or re.search(r"\sstyle\s*=", text, flags=re.I):
            problems.append(f"{path.relative_to(BASE_DIR)}: handler or style attribute")
    assert not problems, problems
    assert len(list(TEMPLATES.rglob("*.html"))) > 20


def test_stripe_is_allowed_on_the_billing_pages_only(make_apps):
    keys = {"STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_PUBLISHABLE_KEY": "pk_test_x", "STRIPE_WEBHOOK_SECRET": "whsec_x"}
    apps = make_apps(libeo=keys)
    client = apps.root.test_client()
    billing = client.get("/libeo/abonnement").headers["Content-Security-Policy"]
    assert "script-src 'self' https://js.stripe.com" in billing
    assert "frame-src 'self' https://js.stripe.com https://hooks.stripe.com" in billing
    assert "connect-src 'self' https://js.stripe.com https://api.stripe.com" in billing
    for url in ("/libeo/connexion", "/libeo/inscription", "/libeo/factures/", "/meg/connexion", "/"):
        assert "stripe" not in client.get(url).headers["Content-Security-Policy"], url


def test_hsts_only_over_https(client):
    for url in ("/", "/meg/connexion", "/libeo/connexion", "/libeo/api/v1/openapi.json"):
        assert "Strict-Transport-Security" not in client.get(url).headers, url
        secure = client.get(url, base_url="https://meg-libeo.example")
        assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains", url


def test_https_behind_a_trusted_balancer_gets_hsts_and_its_client_address(make_apps):
    apps = make_apps(meg={"TRUSTED_PROXIES": 1}, libeo={"TRUSTED_PROXIES": 1})
    client = apps.root.test_client()
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    assert "Strict-Transport-Security" in client.get("/meg/connexion", headers=forwarded).headers
    assert "Strict-Transport-Security" in client.get("/libeo/connexion", headers=forwarded).headers
    # Without the setting, the headers are anybody's to forge: ignored.
    plain = make_apps()
    assert "Strict-Transport-Security" not in plain.root.test_client().get("/meg/connexion", headers=forwarded).headers


def set_cookie_headers(response, name: str) -> list[str]:
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]


@pytest.mark.parametrize("public_url, secure", [("http://127.0.0.1:5000", False), ("https://compta.example.fr", True)])
def test_session_cookies_are_httponly_lax_scoped_and_secure_over_https(make_apps, public_url, secure):
    apps = make_apps(public_url=public_url)
    from models.meg.demo import create_demo_data

    with apps.meg.app_context():
        create_demo_data()
    libeo_account(apps.libeo, "Boulangerie Martin SARL", "83451234500002", "claire@boulangerie-martin.fr", key=False)
    client = apps.root.test_client()
    for name, path, response in (
        ("meg_session", "/meg", meg_login(client)),
        ("libeo_session", "/libeo", libeo_login(client, "claire@boulangerie-martin.fr")),
    ):
        assert response.status_code == 302, name
        (header,) = set_cookie_headers(response, name)
        attributes = {part.strip().split("=")[0].lower(): part.strip() for part in header.split(";")[1:]}
        assert "httponly" in attributes, header
        assert attributes["samesite"].lower() == "samesite=lax", header
        assert attributes["path"] == f"Path={path}", header
        assert ("secure" in attributes) is secure, header


def test_an_explicit_cookie_setting_wins_over_the_public_url(make_apps):
    apps = make_apps(public_url="https://compta.example.fr", meg={"SESSION_COOKIE_SECURE": False})
    assert apps.meg.config["SESSION_COOKIE_SECURE"] is False
    assert apps.libeo.config["SESSION_COOKIE_SECURE"] is True


def replay(apps, cookie_name: str, value: str, path: str):
    """A fresh browser holding a copy of an old session cookie."""
    client = apps.root.test_client()
    client.set_cookie(cookie_name, value, path=path)
    return client


def cookie_value(client, name: str, path: str) -> str:
    cookie = client.get_cookie(name, path=path)
    assert cookie is not None, name
    return cookie.value


SIDES = {
    "meg": {"cookie": "meg_session", "private": "/meg/achats/", "login": "/meg/connexion"},
    "libeo": {"cookie": "libeo_session", "private": "/libeo/factures/", "login": "/libeo/connexion"},
}


def sign_in(world, side, client):
    if side == "meg":
        return meg_login(client)
    return libeo_login(client, world.libeo["boulangerie_email"])


@pytest.mark.parametrize("side", ["meg", "libeo"])
def test_logout_ends_the_session_on_the_server_not_only_in_the_cookie(people, side):
    apps, s = people.apps, SIDES[side]
    client = apps.root.test_client()
    sign_in(people, side, client)
    stolen = cookie_value(client, s["cookie"], f"/{side}")
    assert client.get(s["private"]).status_code == 200
    assert client.post(f"/{side}/deconnexion").status_code == 302
    again = replay(apps, s["cookie"], stolen, f"/{side}").get(s["private"])
    assert again.status_code == 302 and again.headers["Location"].startswith(s["login"])


@pytest.mark.parametrize("side", ["meg", "libeo"])
def test_password_change_ends_every_other_session_and_keeps_this_one(people, side):
    apps, s = people.apps, SIDES[side]
    old = "demo-meg-2026" if side == "meg" else LIBEO_PASSWORD
    laptop, phone = apps.root.test_client(), apps.root.test_client()
    sign_in(people, side, laptop)
    sign_in(people, side, phone)
    assert phone.get(s["private"]).status_code == 200
    page = laptop.get(f"/{side}/mot-de-passe")
    assert page.status_code == 200 and "Changer mon mot de passe" in page.get_data(as_text=True)

    new = "Nouvelle phrase de passe 2026 !"
    response = laptop.post(f"/{side}/mot-de-passe", data={"current_password": old, "new_password": new, "confirm": new})
    assert response.status_code == 302
    assert laptop.get(s["private"]).status_code == 200
    refused = phone.get(s["private"])
    assert refused.status_code == 302 and refused.headers["Location"].startswith(s["login"])

    email = "admin@boulangerie-martin.fr" if side == "meg" else people.libeo["boulangerie_email"]
    fresh = apps.root.test_client()
    assert fresh.post(s["login"], data={"email": email, "password": old}).status_code == 200
    assert fresh.post(s["login"], data={"email": email, "password": new}).status_code == 302


REFUSALS = [
    ("faux-mot-de-passe", "Nouvelle phrase 2026 !", None, "Le mot de passe actuel est incorrect."),
    (None, "motdepasse123", None, "Ce mot de passe est trop courant"),
    (None, "AZERTYUIOP", None, "Ce mot de passe est trop courant"),
    (None, "court", None, "au moins 10 caractères"),
    (None, "x" * 120 + "abcdefghi", None, "128 caractères au plus"),
    (None, "Nouvelle phrase 2026 !", "Autre chose 2026 !", "Les deux saisies du nouveau mot de passe diffèrent."),
]


@pytest.mark.parametrize("side", ["meg", "libeo"])
def test_password_change_refusals_change_nothing(people, side):
    apps, s = people.apps, SIDES[side]
    old = "demo-meg-2026" if side == "meg" else LIBEO_PASSWORD
    client = apps.root.test_client()
    sign_in(people, side, client)
    for current, new, confirm, message in REFUSALS:
        data = {"current_password": current or old, "new_password": new, "confirm": confirm or new}
        response = client.post(f"/{side}/mot-de-passe", data=data)
        assert response.status_code == 200, message
        assert message in unescape(response.get_data(as_text=True))
        assert client.get(s["private"]).status_code == 200
    assert sign_in(people, side, apps.root.test_client()).status_code == 302  # the old password still works


def test_passwords_of_128_characters_work_and_longer_ones_are_refused_without_error(people):
    apps, client = people.apps, people.apps.root.test_client()
    sign_in(people, "meg", client)
    longest = "Une très longue phrase de passe, " * 3 + "x" * (128 - 33 * 3)
    assert len(longest) == 128
    data = {"current_password": "demo-meg-2026", "new_password": longest, "confirm": longest}
    assert client.post("/meg/mot-de-passe", data=data).status_code == 302
    fresh = apps.root.test_client()
    assert meg_login(fresh, password=longest).status_code == 302
    for too_long in (longest + "y", "z" * 10_000):
        response = meg_login(apps.root.test_client(), password=too_long)
        assert response.status_code == 200 and "Mot de passe trop long." in response.get_data(as_text=True)
        response = libeo_login(apps.root.test_client(), people.libeo["boulangerie_email"], too_long)
        assert response.status_code == 200


def test_a_libeo_user_without_password_is_told_so(people):
    from models.libeo import LibeoUser, db

    apps = people.apps
    client = apps.root.test_client()
    libeo_login(client, people.libeo["boulangerie_email"])
    with apps.libeo.app_context():
        user = db.session.query(LibeoUser).filter_by(email=people.libeo["boulangerie_email"]).one()
        user.password_hash = None
        db.session.commit()
    response = client.post("/libeo/mot-de-passe", data={"current_password": "x", "new_password": "Nouvelle 2026 !!",
                                                       "confirm": "Nouvelle 2026 !!"})
    # The session is still valid (the token did not change): the page explains.
    assert "n'a pas de mot de passe" in unescape(response.get_data(as_text=True))


def test_passwords_are_hashed_with_scrypt_at_owasp_strength(make_apps):
    from config import LibeoConfig, MegConfig
    from models.libeo import LibeoUser, db

    for config in (MegConfig, LibeoConfig):
        name, n, r, p = config.PASSWORD_HASH_METHOD.split(":")
        assert name == "scrypt" and int(n) >= 2**17 and int(r) >= 8 and int(p) >= 1
    # The tests' own apps use a cheaper setting; a product app stores what BaseConfig says.
    apps = make_apps(libeo={"PASSWORD_HASH_METHOD": LibeoConfig.PASSWORD_HASH_METHOD})
    client = apps.root.test_client()
    answer = client.post("/libeo/inscription", data={
        "email": "claire@boulangerie-martin.fr", "password": LIBEO_PASSWORD, "company_name": "Boulangerie Martin SARL",
        "siret": "83451234500002", "terms": "y"})
    assert answer.status_code == 302
    with apps.libeo.app_context():
        stored = db.session.query(LibeoUser.password_hash).scalar()
    assert stored.startswith("scrypt:131072:8:1$") and LIBEO_PASSWORD not in stored


def test_common_passwords_are_refused_at_sign_up(apps):
    from models.libeo import Account, db

    client = apps.root.test_client()
    for password in ("motdepasse123", "Azertyuiop", "aaaaaaaaaaaaaa", "court"):
        answer = client.post("/libeo/inscription", data={"email": "claire@boulangerie-martin.fr", "password": password,
                                                         "company_name": "Boulangerie Martin SARL",
                                                         "siret": "83451234500002"})
        assert answer.status_code == 200, password
        assert "mot de passe" in unescape(answer.get_data(as_text=True)).lower()
    with apps.libeo.app_context():
        assert db.session.query(Account).count() == 0


@pytest.mark.parametrize("side", ["meg", "libeo"])
def test_an_unknown_address_costs_a_password_check_too(people, side, monkeypatch):
    import core.security

    checks = []
    real = core.security.check_password_hash
    monkeypatch.setattr(core.security, "check_password_hash", lambda *a: checks.append(1) or real(*a))
    client = people.apps.root.test_client()
    answer = client.post(f"/{side}/connexion", data={"email": "personne@exemple.fr", "password": "peu-importe-2026"})
    assert answer.status_code == 200 and checks == [1]


@pytest.mark.parametrize(
    "line, secret",
    [
        ('127.0.0.1 - - "GET /libeo/connexion-meg/retour?code=AbC123xyz&state=s1 HTTP/1.1" 302 -', "AbC123xyz"),
        ("Authorization: Bearer lbo_meg_0123456789ab_" + "Z" * 43, "Z" * 43),
        ('{"access_token": "tok-123456", "token_type": "Bearer"}', "tok-123456"),
        ("client_secret=s3cr3t-value&grant_type=authorization_code", "s3cr3t-value"),
        ("clé lbo_meg_0123456789ab_" + "y" * 43 + " refusée", "y" * 43),
    ],
)
def test_log_lines_keep_their_shape_without_the_secret(line, secret):
    from core.setup import RedactSecrets

    redacted = RedactSecrets.redact(line)
    assert secret not in redacted and "[masqué]" in redacted


def test_e_mail_templates_have_no_script_nor_handler():
    """E-mails may style inline, never run code (mail clients block it; a reader must not need it)."""
    emails = [path for path in TEMPLATES.rglob("*.html") if is_email(path)]
    assert len(emails) > 10
    for path in emails:
        text = path.read_text(encoding="utf-8")
        assert "<script" not in text.lower() and not re.search(r"\son[a-z]+\s*=", text, flags=re.I), path
