"""``flask libeo …`` commands, run in Libeo's app context (see core.cli)."""

from __future__ import annotations

from datetime import date

import click
from flask import current_app

from core.cli import ProductGroup
from core.migrations import db_group
from core.money import format_amount
from models.libeo import Plan, db
from models.libeo.accounts import set_plan
from models.libeo.errors import LibeoError
from models.libeo.sepa import execute_due_payments

libeo_cli = ProductGroup("libeo", side="libeo", help="Commandes de Libeo.")
libeo_cli.add_command(db_group())


@libeo_cli.command("set-plan")
@click.option("--siret", required=True, help="SIRET du compte (14 chiffres).")
@click.option("--plan", "plan_code", required=True, type=click.Choice(["gratuit", "partnerships"]))
def set_plan_command(siret: str, plan_code: str):
    """Sets an account's plan (administration, tests)."""
    try:
        account = set_plan(siret, Plan.from_code(plan_code))
    except LibeoError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"{account.name} ({account.siret}) : formule {account.plan.label}.")


@libeo_cli.command("execute-payments")
@click.option("--date", "on_date", type=click.DateTime(formats=["%Y-%m-%d"]), help="Jour d'exécution (AAAA-MM-JJ), aujourd'hui par défaut.")
def execute_payments(on_date):
    """Writes the SEPA transfer files of the due payments; their payments are then paid."""
    today: date | None = on_date.date() if on_date else None
    report = execute_due_payments(current_app.config["SEPA_EXPORT_DIR"], today)
    for batch in report.batches:
        if batch.file_path:
            click.echo(
                f"{batch.account_name} : {batch.payment_count} virement(s), "
                f"{format_amount(batch.total_cents)} → {batch.file_path}"
            )
        if batch.failed_payments:
            click.echo(f"{batch.account_name} : {batch.failed_payments} virement(s) refusé(s) par le format SEPA.")
    for name, count in report.waiting_for_iban:
        click.echo(f"{name} : {count} paiement(s) en attente — IBAN du compte bancaire à renseigner.")
    if not report.batches and not report.waiting_for_iban:
        click.echo("Aucun paiement à exécuter.")
