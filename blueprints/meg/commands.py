"""``flask meg …`` commands. In the combined app they run in MEG's context."""

from __future__ import annotations

import functools

import click
from flask import current_app
from flask.cli import AppGroup

from models.meg import db
from models.meg.demo import DEMO_LOGINS, DEMO_PASSWORD, create_demo_data, demo_data_exists

meg_cli = AppGroup("meg", help="Commandes de MEG.")


def in_meg_app(f):
    """Runs the command in MEG's app context, also when called from the combined app."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        app = current_app.extensions.get("sides", {}).get("meg", current_app._get_current_object())
        with app.app_context():
            return f(*args, **kwargs)

    return wrapper


@meg_cli.command("init-db")
@in_meg_app
def init_db():
    """Creates MEG's tables (idempotent)."""
    db.create_all()
    click.echo("Base MEG prête.")


@meg_cli.command("seed-demo")
@in_meg_app
def seed_demo():
    """Creates the demo data if MEG's database is empty."""
    db.create_all()
    if demo_data_exists():
        click.echo("Données de démonstration MEG déjà présentes.")
        return
    create_demo_data()
    click.echo(f"Données de démonstration MEG créées (mot de passe : {DEMO_PASSWORD}) :")
    for email, role in DEMO_LOGINS:
        click.echo(f"  {email} — {role}")


@meg_cli.command("deliver-updates")
@click.option("--loop", is_flag=True, help="Continue indéfiniment (toutes les --every secondes).")
@click.option("--every", default=10.0, show_default=True, help="Secondes entre deux passages, avec --loop.")
@in_meg_app
def deliver_updates(loop: bool, every: float):
    """Delivers queued invoice changes to Libeo (in order, retried with backoff)."""
    import time

    from models.meg.libeo_link import deliver_invoice_updates

    while True:
        delivered, postponed = deliver_invoice_updates()
        if delivered or postponed or not loop:
            click.echo(f"Mises à jour envoyées à Libeo : {delivered} ; reportées : {postponed}.")
        if not loop:
            return
        time.sleep(every)


@meg_cli.group("oauth-client")
def oauth_client_cli():
    """Clients OAuth / OpenID Connect de MEG (« Se connecter avec MEG »)."""


@oauth_client_cli.command("create")
@click.option("--name", required=True, help="Nom montré sur l'écran de consentement.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True, help="Adresse de retour exacte (répétable).")
@click.option("--scope", default="openid profile email company", show_default=True, help="Portées permises.")
@in_meg_app
def create_oauth_client(name: str, redirect_uris: tuple[str, ...], scope: str):
    """Registers a client; prints its id and secret as one JSON line (the secret is shown once)."""
    import json

    from models.meg.oauth import OAuthClientError, register_client

    db.create_all()
    try:
        client, secret = register_client(name, list(redirect_uris), scope)
    except OAuthClientError as error:
        raise click.UsageError(error.message) from error
    db.session.commit()
    click.echo(json.dumps({"client_id": client.client_id, "client_secret": secret}))
