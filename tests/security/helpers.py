"""Small helpers of the security suite."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import quote

import hypothesis.strategies as st

DEMO_PASSWORD = "demo-meg-2026"
LIBEO_PASSWORD = "sécurité-libeo-2026"
BOULANGERIE_SIRET = "83451234500002"
GARAGE_SIRET = "85123456700002"


def meg_login(client, email="admin@boulangerie-martin.fr", password=DEMO_PASSWORD):
    return client.post("/meg/connexion", data={"email": email, "password": password})


def libeo_login(client, email, password=LIBEO_PASSWORD):
    return client.post("/libeo/connexion", data={"email": email, "password": password})


def libeo_account(libeo_app, name, siret, email, password=LIBEO_PASSWORD, key=True, verified=True):
    """A Libeo account signed up directly (and verified as support does); returns (account_id, API key or None)."""
    from models.libeo import db
    from models.libeo.accounts.keys import issue_meg_api_key
    from models.libeo.accounts.services import create_account, verify_account

    with libeo_app.app_context():
        account = create_account(name=name, siret=siret, email=email, password=password)
        if verified:
            verify_account(account, "vérifié par le support de Libeo", "tests")
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
            if (name in ("href", "src", "action", "formaction")
                    and (value or "").strip().lower().startswith("javascript:")):
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


# --- answers a person reads -------------------------------------------------------------------

FRENCH = re.compile(r"[àâçéèêëîïôûùœ]|\b(le|la|les|de|des|du|un|une|est|pas|vous|votre|cette?)\b", re.IGNORECASE)
# RFC 6749 §5.2 and RFC 6750 §3.1: what an OAuth endpoint answers a program, in English by the RFCs' choice.
OAUTH_ERRORS = {
    "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
    "invalid_scope", "invalid_token", "insufficient_scope", "access_denied", "unsupported_response_type",
    # Authlib's names for RFC 6750's request without (or with another kind of) credentials.
    "missing_authorization", "unsupported_token_type",
}


def french_message(response) -> str | None:
    """The French sentence of an error answer (page, or JSON in one of the products' shapes), else None."""
    if not response.is_json:
        page = response.get_data(as_text=True)
        return page if '<html lang="fr">' in page else None
    body = response.get_json(silent=True)
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    message = error.get("message") if isinstance(error, dict) else body.get("error_description", error)
    return message if isinstance(message, str) and FRENCH.search(message) else None


def is_oauth_error(response) -> bool:
    body = response.get_json(silent=True) if response.is_json else None
    return isinstance(body, dict) and body.get("error") in OAUTH_ERRORS


def assert_french(response, where: str = "") -> None:
    assert french_message(response), f"{where} → {response.status_code}: {response.get_data(as_text=True)[:300]}"


# --- Stripe's webhook -------------------------------------------------------------------------

WEBHOOK_SECRET = "whsec_security_suite"


def stripe_headers(payload: str, timestamp: int | None = None, secret: str = WEBHOOK_SECRET) -> dict:
    """The headers Stripe sends with ``payload``, signed at ``timestamp`` (now by default)."""
    import stripe

    return {
        "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp),
        "Content-Type": "application/json",
    }


def subscribed_account(libeo_app) -> int:
    """The first Libeo account, on Partnerships through subscription sub_1 of Stripe customer cus_1."""
    import time

    from sqlalchemy import select

    from models.libeo import Account, db
    from models.libeo.billing.subscriptions import _record_state

    with libeo_app.app_context():
        account = db.session.scalars(select(Account).order_by(Account.id)).first()
        account.stripe_customer_id = "cus_1"
        _record_state(account, {"id": "sub_1", "status": "active", "customer": "cus_1"}, int(time.time()) - 3600)
        db.session.commit()
        return account.id


def billing_state(libeo_app, account_id: int) -> tuple:
    """What webhooks may change: the account's plan and subscription, the events and subscriptions recorded."""
    from sqlalchemy import func, select

    from models.libeo import Account, db
    from models.libeo.billing.subscriptions import StripeEvent, StripeSubscription

    with libeo_app.app_context():
        account = db.session.get(Account, account_id)
        return (
            account.plan, account.subscription_status, account.stripe_subscription_id, account.cancel_at_period_end,
            account.current_period_end,
            db.session.scalar(select(func.count()).select_from(StripeEvent)),
            db.session.scalar(select(func.count()).select_from(StripeSubscription)),
        )


# --- fuzzing ----------------------------------------------------------------------------------

# Values no form or link of ours sends: numbers no column holds, digits int() refuses, JSON words,
# broken escapes, quotes, markup, ways out of the site, control and invisible characters, 10 KB.
ODD_VALUES = ["", "0", "-1", str(2**63), "9" * 40, "²", "١٢", "1e309", "NaN", "null", "[]", "{}", "%", "%00", "%zz",
              "\\", '"', "'", "<script>", "//evil.example/", "/\\evil.example", "javascript:alert(1)",
              "\x00", "\r\n", "\u202e", "\ufeff", "a" * 10_240]
odd_values = st.one_of(
    st.sampled_from(ODD_VALUES),
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)


def encoded(pairs: list[tuple[str, str]], raw: bool) -> str:
    """The pairs percent-encoded as browsers do, or written raw (control characters, broken escapes and all)."""
    if raw:
        return "&".join(f"{k}={v}" for k, v in pairs)
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
