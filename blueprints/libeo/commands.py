"""``flask libeo …`` commands. In the combined app they run in Libeo's context."""

from __future__ import annotations

import functools
from datetime import date

import click
from flask import current_app
from flask.cli import AppGroup

from core.money import format_amount
from models.libeo import Plan, db
from models.libeo.accounts import set_plan
from models.libeo.errors import LibeoError
from models.libeo.sepa import execute_due_payments

libeo_cli = AppGroup("libeo", help="Commandes de Libeo.")


def in_libeo_app(f):
    """Runs the command in Libeo's app context, also when called from the combined app."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        app = current_app.extensions.get("sides", {}).get("libeo", current_app._get_current_object())
        with app.app_context():
            return f(*args, **kwargs)

    return wrapper


@libeo_cli.command("init-db")
@in_libeo_app
def init_db():
    """Creates Libeo's tables (idempotent)."""
    db.create_all()
    click.echo("Base Libeo prête.")


@libeo_cli.command("set-plan")
@click.option("--siret", required=True, help="SIRET du compte (14 chiffres).")
@click.option("--plan", "plan_code", required=True, type=click.Choice(["gratuit", "partnerships"]))
@in_libeo_app
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
@in_libeo_app
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
