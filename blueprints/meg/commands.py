"""``flask meg …`` commands, run in MEG's app context (see core.cli)."""

from __future__ import annotations

import click

from core.cli import product_cli
from models.meg import db
from models.meg.demo import DEMO_LOGINS, DEMO_PASSWORD, create_demo_data, demo_data_exists
from models.meg.libeo_link.monitoring import snapshot
from models.meg.notifications.kinds import notifier
from models.meg.notifications.reminders import write_reminders

meg_cli = product_cli("meg", "MEG", snapshot=snapshot, notifier=notifier, write_reminders=write_reminders,
                      status_help="The exchange with Libeo as an operator watches it; exit status 1 when a person "
                                  "must act (for cron).")


@meg_cli.command("seed-demo")
def seed_demo():
    """Creates the demo data if MEG's database is empty (after ``meg db upgrade``)."""
    if demo_data_exists():
        click.echo("Données de démonstration MEG déjà présentes.")
        return
    create_demo_data()
    click.echo(f"Données de démonstration MEG créées (mot de passe : {DEMO_PASSWORD}) :")
    for email, role in DEMO_LOGINS:
        click.echo(f"  {email} — {role}")


@meg_cli.command("sync")
@click.option("--loop", is_flag=True, help="Continue indéfiniment (toutes les --every secondes).")
@click.option("--every", default=5.0, show_default=True, help="Secondes entre deux passages, avec --loop.")
def sync(loop: bool, every: float):
    """One sync pass with Libeo: unheard payment requests, queued invoice changes, the events feed."""
    import time

    from models.meg.libeo_link.sync import sync_pass

    while True:
        report = sync_pass()
        if not loop or report.replayed or report.delivered or report.postponed or report.events:
            click.echo(str(report))
        if not loop:
            return
        time.sleep(every)


# ``invoice-states`` reads at most this many differing invoices (it prints the first ten).
STALE_SHOWN_AT_MOST = 100


@meg_cli.command("invoice-states")
@click.option("--repair", is_flag=True, help="Enregistre de nouveau l'état des factures qui diffère.")
def invoice_states(repair: bool):
    """Checks each invoice's stored state against its payments (« Factures »' tabs read it); exit status 1
    when some differ and ``--repair`` was not asked."""
    from models.meg.libeo_link.attempts import refresh_all_invoice_states, stale_invoice_states

    with db.engine.begin() as connection:
        stale = stale_invoice_states(connection, limit=STALE_SHOWN_AT_MOST)
        if not stale:
            click.echo("État des factures : à jour.")
            return
        if not repair:
            shown = " ; ".join(f"id {invoice_id} : « {stored} » au lieu de « {computed} »"
                               for invoice_id, stored, computed in stale[:10])
            many = "au moins " if len(stale) == STALE_SHOWN_AT_MOST else ""
            click.echo(f"État des factures : {many}{len(stale)} facture(s) à recalculer ({shown}). "
                       "Relancez avec --repair.")
            raise SystemExit(1)
        click.echo(f"État des factures : {refresh_all_invoice_states(connection)} facture(s) recalculée(s).")


@meg_cli.group("oauth-client")
def oauth_client_cli():
    """Clients OAuth / OpenID Connect de MEG (« Se connecter avec MEG »)."""


@oauth_client_cli.command("create")
@click.option("--name", required=True, help="Nom montré sur l'écran de consentement.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True,
              help="Adresse de retour exacte (répétable).")
@click.option("--scope", default="openid profile email company", show_default=True, help="Portées permises.")
def create_oauth_client(name: str, redirect_uris: tuple[str, ...], scope: str):
    """Registers a client; prints its id and secret as one JSON line (the secret is shown once)."""
    import json

    from models.meg.oauth import OAuthClientError, register_client

    try:
        client, secret = register_client(name, list(redirect_uris), scope)
    except OAuthClientError as error:
        raise click.UsageError(error.message) from error
    db.session.commit()
    click.echo(json.dumps({"client_id": client.client_id, "client_secret": secret}))
