"""``flask libeo billing-setup`` and ``flask libeo localstripe``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app, url_for

from devtools.localstripe_server import LocalStripe
from models.libeo.billing import subscriptions as billing
from models.libeo.billing.stripe_gateway import (
    stripe_client,
    uses_localstripe,
    webhook_secret,
)

from ..commands import libeo_cli


@libeo_cli.command("billing-setup")
def billing_setup():
    """Creates the Partnerships product and its 9 € / month plan in Stripe (idempotent)."""
    _ensure_catalog()
    click.echo(f"Formule Partnerships prête dans Stripe : plan {billing.PLAN_ID} (9 € / mois).")


@libeo_cli.command("localstripe")
@click.option("--webhook-url", help="Adresse du webhook de Libeo (par défaut : PUBLIC_URL + /libeo/abonnement/webhook).")
def localstripe(webhook_url):
    """Runs localstripe on 127.0.0.1 (LOCALSTRIPE_URL), wired to Libeo's webhook, until Ctrl+C."""
    app = current_app._get_current_object()
    if not uses_localstripe(app.config):
        raise click.UsageError("STRIPE_SECRET_KEY est défini : Libeo utilise Stripe, pas localstripe.")
    server = start_localstripe(app, webhook_url)
    try:
        server.wait()
    finally:
        server.stop()


def start_localstripe(app, webhook_url: str | None = None) -> LocalStripe | None:
    """For development without Stripe keys: localstripe running, webhook registered, plan created.

    Returns None when Stripe keys are configured. A localstripe already
    answering at LOCALSTRIPE_URL is reused (and left running on stop).
    """
    if not uses_localstripe(app.config):
        return None
    server = LocalStripe(app.config["LOCALSTRIPE_URL"], state_file=Path(app.instance_path) / "localstripe.pickle", verbose=True)
    server.start()
    try:
        server.register_webhook(webhook_url or default_webhook_url(app), webhook_secret(app))
        with app.app_context():
            _ensure_catalog()
    except BaseException:
        server.stop()
        raise
    click.echo(f"localstripe (Stripe local) sur {server.url}")
    return server


def default_webhook_url(app) -> str:
    """Libeo is mounted at /libeo of PUBLIC_URL in the combined run."""
    with app.test_request_context(base_url=app.config["PUBLIC_URL"].rstrip("/") + "/libeo"):
        return url_for("billing.webhook", _external=True)


def _ensure_catalog() -> None:
    try:
        billing.ensure_catalog(stripe_client(current_app.config))
    except billing.BillingError as error:
        hint = " Lancez d'abord localstripe : flask --app app libeo localstripe." if uses_localstripe(current_app.config) else ""
        raise click.ClickException(f"Stripe n'a pas pu créer la formule Partnerships.{hint}") from error
