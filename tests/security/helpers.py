"""Small helpers of the security suite (imported by name, like tests/libeo/libeo_helpers.py)."""

from __future__ import annotations

from html.parser import HTMLParser

DEMO_PASSWORD = "demo-meg-2026"
LIBEO_PASSWORD = "sécurité-libeo-2026"
BOULANGERIE_SIRET = "83451234500002"
GARAGE_SIRET = "85123456700002"


def meg_login(client, email="admin@boulangerie-martin.fr", password=DEMO_PASSWORD):
    return client.post("/meg/connexion", data={"email": email, "password": password})


def libeo_login(client, email, password=LIBEO_PASSWORD):
    return client.post("/libeo/connexion", data={"email": email, "password": password})


def libeo_account(libeo_app, name, siret, email, password=LIBEO_PASSWORD, key=True):
    """A Libeo account signed up directly; returns (account_id, API key or None)."""
    from models.libeo import db
    from models.libeo.accounts import create_account
    from models.libeo.keys import issue_meg_api_key

    with libeo_app.app_context():
        account = create_account(name=name, siret=siret, email=email, password=password)
        db.session.commit()
        plaintext = issue_meg_api_key(account) if key else None
        db.session.commit()
        return account.id, plaintext


def session_cookie(client, name):
    cookie = next((c for c in client._cookies.values() if c.key == name), None)
    return cookie


class PageScan(HTMLParser):
    """What a CSP without 'unsafe-inline' would block: inline scripts, handlers, styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = {name.lower() for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.problems.append("<script> without src")
        if tag == "style":
            self.problems.append("<style> element")
        if "style" in names:
            self.problems.append(f"style attribute on <{tag}>")
        for name in names:
            if name.startswith("on"):
                self.problems.append(f"{name} attribute on <{tag}>")
        for name, value in attrs:
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL in <{tag} {name}>")


def inline_code(html: str) -> list[str]:
    scan = PageScan()
    scan.feed(html)
    return scan.problems


# --- OAuth (MEG as provider) ------------------------------------------------------------------

CLIENT_REDIRECT = "https://compta-cloud.example/retour"
ALL_SCOPES = "openid profile email company libeo_key"


def register_client(meg_app, scope=ALL_SCOPES):
    """A registered OAuth client: (client_id, client_secret)."""
    from models.meg import db
    from models.meg.oauth import register_client as register

    with meg_app.app_context():
        client, secret = register("Compta Cloud", [CLIENT_REDIRECT], scope)
        db.session.commit()
        return client.client_id, secret


def consent_url(client_id, scope=ALL_SCOPES):
    """The authorization request of a PKCE code flow: (URL, code_verifier)."""
    import secrets
    from urllib.parse import urlencode

    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    verifier = secrets.token_urlsafe(48)
    query = urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": CLIENT_REDIRECT, "scope": scope,
        "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
        "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256",
    })
    return f"/meg/oauth/authorize?{query}", verifier
