"""The one way Libeo reaches Stripe.

With ``STRIPE_SECRET_KEY`` (and its publishable key and webhook secret) Libeo
talks to Stripe's test mode; without it, to localstripe at ``LOCALSTRIPE_URL``
with a fake key. Everything else — the domain, the page, the webhook — is the
same code in both cases.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import stripe
from flask import Flask

from core.setup import instance_secret

STRIPE_JS_URL = "https://js.stripe.com/v3/"
# localstripe accepts any key of the right shape.
LOCALSTRIPE_SECRET_KEY = "sk_test_localstripe"
LOCALSTRIPE_PUBLISHABLE_KEY = "pk_test_localstripe"


def uses_localstripe(config) -> bool:
    return not config.get("STRIPE_SECRET_KEY")


def stripe_client(config) -> stripe.StripeClient:
    http_client = stripe.RequestsClient(timeout=config["HTTP_TIMEOUT"])
    if uses_localstripe(config):
        return stripe.StripeClient(
            LOCALSTRIPE_SECRET_KEY,
            base_addresses={"api": config["LOCALSTRIPE_URL"].rstrip("/")},
            http_client=http_client,
            max_network_retries=0,
        )
    # Retried requests carry the same idempotency key, so a retry never charges twice.
    return stripe.StripeClient(config["STRIPE_SECRET_KEY"], http_client=http_client, max_network_retries=2)


def publishable_key(config) -> str:
    return LOCALSTRIPE_PUBLISHABLE_KEY if uses_localstripe(config) else config["STRIPE_PUBLISHABLE_KEY"]


def stripe_js_url(config) -> str:
    if uses_localstripe(config):
        return config["LOCALSTRIPE_URL"].rstrip("/") + "/js.stripe.com/v3/"
    return STRIPE_JS_URL


def csp_sources(config) -> dict[str, tuple[str, ...]]:
    """What the Content-Security-Policy of the « Abonnement » pages adds for Stripe.js and its calls."""
    if uses_localstripe(config):
        parts = urlsplit(config["LOCALSTRIPE_URL"])
        origin = (f"{parts.scheme}://{parts.netloc}",)
        return {"script-src": origin, "connect-src": origin}
    return {
        "script-src": ("https://js.stripe.com",),
        "connect-src": ("https://js.stripe.com", "https://api.stripe.com"),
        "frame-src": ("https://js.stripe.com", "https://hooks.stripe.com"),
    }


def webhook_secret(app: Flask) -> str | None:
    """Stripe's signing secret; with localstripe, one kept in instance/ and registered with it."""
    if app.config.get("STRIPE_WEBHOOK_SECRET"):
        return app.config["STRIPE_WEBHOOK_SECRET"]
    if uses_localstripe(app.config):
        return "whsec_" + instance_secret(app, "libeo_localstripe_webhook_secret")
    return None
