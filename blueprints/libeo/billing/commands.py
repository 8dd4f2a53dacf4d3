"""``flask libeo billing-setup`` (``libeo localstripe``, for development, is in ``devtools/cli.py``)."""

from __future__ import annotations

import click
from flask import current_app

from models.libeo.billing import subscriptions as billing
from models.libeo.billing.stripe_gateway import stripe_client, uses_localstripe

from ..commands import libeo_cli


@libeo_cli.command("billing-setup")
def billing_setup():
    """Creates the Partnerships product and its 9 € / month plan in Stripe (idempotent)."""
    _ensure_catalog()
    click.echo(f"Formule Partnerships prête dans Stripe : plan {billing.PLAN_ID} (9 € / mois).")


def _ensure_catalog() -> None:
    try:
        billing.ensure_catalog(stripe_client(current_app.config))
    except billing.BillingError as error:
        hint = (" Lancez d'abord localstripe : flask --app app libeo localstripe."
                if uses_localstripe(current_app.config) else "")
        raise click.ClickException(f"Stripe n'a pas pu créer la formule Partnerships.{hint}") from error
