"""``flask libeo …`` commands, run in Libeo's app context (see core.cli)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import NoReturn

import click
from flask import current_app
from sqlalchemy import select

from core.cli import product_cli
from core.dates import date_fr
from core.db import refresh_planner_statistics
from core.money import format_amount
from models.libeo import LibeoUser, Plan, db
from models.libeo.accounts.debtor_iban import confirm_debtor_iban
from models.libeo.accounts.services import (
    account_for_siret,
    check_siret,
    pending_siret_reviews,
    set_plan,
    take_siret_back,
    verify_by_support,
)
from models.libeo.errors import LibeoError, NotFound
from models.libeo.journal import COMMAND_LINE as SUPPORT
from models.libeo.meg_link.client import KEYS_FILE, fetch_megs_keys
from models.libeo.monitoring import snapshot
from models.libeo.notifications.kinds import notifier
from models.libeo.notifications.reminders import write_reminders
from models.libeo.payments.bank_status_import import COMMAND_LINE, import_bank_status
from models.libeo.payments.sepa import execute_due_payments
from models.libeo.strong_auth.services import forget_old_challenges, reset_factors

libeo_cli = product_cli("libeo", "Libeo", snapshot=snapshot, notifier=notifier, write_reminders=write_reminders,
                        status_help="Payments, SEPA files and bank reports as an operator watches them; exit status 1 "
                                    "when a person must act.")


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


@libeo_cli.command("verify-account")
@click.option("--siret", required=True, help="SIRET du compte (14 chiffres).")
def verify_account_command(siret: str):
    """Marks the account holding this SIRET « vérifié » (support checked the company): its SEPA files are executed."""
    try:
        account, changed = verify_by_support(siret)
    except LibeoError as error:
        db.session.rollback()
        _fail(error.message)
    db.session.commit()
    if changed:
        click.echo(f"{account.name} ({account.siret}) : compte vérifié.")
    else:
        click.echo(f"{account.name} ({account.siret}) : déjà vérifié ({account.verified_by}).")


@libeo_cli.command("review-siret")
@click.option("--siret", help="SIRET à trancher (14 chiffres) ; sans lui, la liste des demandes en attente.")
@click.option("--take-back", is_flag=True,
              help="Le compte qui détient le SIRET n'est pas l'entreprise : il le perd (« SIRET à confirmer »).")
def review_siret_command(siret: str | None, take_back: bool):
    """SIRETs claimed through MEG from an unverified account that has been used: support's review.

    Such an account keeps its SIRET and key until support decides: ``--take-back`` when it is not the
    company (its SIRET set aside, its MEG keys revoked, its « Journal » told), or ``verify-account``
    when it is."""
    if siret is None:
        pending = pending_siret_reviews()
        for account, claim in pending:
            click.echo(f"{account.name} ({account.siret}) : {claim}")
        if not pending:
            click.echo("Aucune revendication de SIRET en attente.")
        return
    if not take_back:
        _fail("Précisez --take-back pour retirer le SIRET au compte qui le détient, ou vérifiez ce compte avec "
              "verify-account s'il est bien celui de l'entreprise.")
    try:
        holder = take_siret_back(check_siret(siret), "décision du support de Libeo", by_support=True)
    except LibeoError as error:
        db.session.rollback()
        _fail(error.message)
    if holder is None:
        _fail("Aucun compte Libeo n'a ce SIRET.")
    db.session.commit()
    click.echo(f"{holder.name} : SIRET {siret} retiré (« SIRET à confirmer »), clés MEG révoquées. L'entreprise "
               "peut maintenant relier son compte avec « Me connecter avec MEG ».")


@libeo_cli.command("execute-payments")
@click.option("--date", "on_date", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Jour d'exécution (AAAA-MM-JJ), aujourd'hui par défaut.")
def execute_payments(on_date):
    """Creates the SEPA transfer files (pain.001) of the due payments: « Fichier prêt » for the bank."""
    today: date | None = on_date.date() if on_date else None
    report = execute_due_payments(current_app.config.get("SEPA_EXPORT_DIR"), today)
    for batch in report.batches:
        if batch.payment_count:
            where = f" → {batch.file_path}" if batch.file_path else ""
            click.echo(
                f"{batch.account_name} : remise {batch.reference}, {batch.payment_count} virement(s), "
                f"{format_amount(batch.total_cents)}, exécution le {date_fr(batch.execution_date)} : fichier prêt, "
                f"à télécharger dans « Remises » et à transmettre à la banque{where}"
            )
        if batch.postponed:
            click.echo(f"{batch.account_name} : {batch.postponed} virement(s) prévu(s) plus tôt, exécuté(s) le "
                       f"{date_fr(batch.execution_date)} (date du fichier).")
        if batch.failed_payments:
            click.echo(f"{batch.account_name} : {batch.failed_payments} virement(s) refusé(s) par le format SEPA.")
    for name, count in report.waiting_for_iban:
        click.echo(f"{name} : {count} paiement(s) en attente — IBAN du compte bancaire à renseigner.")
    for name, count in report.unverified:
        click.echo(f"{name} : {count} paiement(s) en attente — compte non vérifié : aucun fichier SEPA tant que "
                   "la propriété du SIRET n'est pas confirmée (MEG ou `flask --app app libeo verify-account`).")
    for name, count in report.held_by_anomaly:
        click.echo(f"{name} : {count} paiement(s) en attente — anomalie bancaire sur un virement précédent de leur "
                   "facture, à décider dans « Remises » avant tout nouveau virement.")
    if not report.batches and not report.waiting_for_iban and not report.unverified and not report.held_by_anomaly:
        click.echo("Aucun paiement à exécuter.")


@libeo_cli.command("import-bank-status")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def import_bank_status_command(file: Path):
    """Imports a bank file: a status report (pain.002.001.03) or a statement / debit notification
    (camt.053.001.02, camt.054.001.02). Exit status 2 when something needs a person (an anomaly)."""
    try:
        content = file.read_bytes()
    except FileNotFoundError:
        _fail(f"Le fichier {file} n'existe pas.")
    except OSError:
        _fail(f"Impossible de lire le fichier {file}.")
    try:
        result = import_bank_status(content, imported_by=COMMAND_LINE)
    except LibeoError as error:
        db.session.rollback()
        _fail(error.message)
    db.session.commit()
    click.echo(f"{result.account_name} : {result.summary}")
    for payment in result.paid + result.failed + result.accepted + result.transmitted:
        click.echo(f"  Facture {payment.invoice.number} ({payment.amount_display}) : {payment.status_label}")
    for anomaly in result.anomalies:
        click.echo(f"  À vérifier : {anomaly.message}", err=True)
    if result.needs_a_person:
        click.echo(f"Attention : {len(result.anomalies)} anomalie(s) à résoudre par une personne dans « Remises ».",
                   err=True)
        raise SystemExit(2)


@libeo_cli.command("confirm-debit-iban")
@click.option("--siret", required=True, help="SIRET du compte (14 chiffres).")
def confirm_debit_iban_command(siret: str):
    """Support confirms a change of the debit IBAN waiting for a second administrator (after checking it with
    the company)."""
    try:
        account = account_for_siret(check_siret(siret))
        if account is None:
            raise NotFound("Aucun compte Libeo pour ce SIRET.", "siret")
        change = confirm_debtor_iban(account, None)
    except LibeoError as error:
        db.session.rollback()
        _fail(error.message)
    db.session.commit()
    click.echo(f"{account.name} ({account.siret}) : compte bancaire débité changé pour {change.new_iban_masked}.")


@libeo_cli.command("reset-second-factor")
@click.option("--email", required=True, help="Adresse e-mail de la personne (son compte Libeo).")
def reset_second_factor_command(email: str):
    """Support removes a person's second factors (no recovery code left), after checking who they are: they
    enrol new ones; their sessions end."""
    user = db.session.scalar(select(LibeoUser).where(LibeoUser.email == email.strip().lower()))
    if user is None:
        _fail("Aucun utilisateur Libeo n'a cette adresse e-mail.")
    reset_factors(user, SUPPORT)
    db.session.commit()
    click.echo(f"{user.email} : double authentification réinitialisée ; la personne en active une nouvelle "
               "dans « Sécurité ».")


def _fail(message: str) -> NoReturn:
    """A French message on standard error, exit status 1 (click would print « Error: »)."""
    click.echo(f"Erreur : {message}", err=True)
    raise SystemExit(1)


@libeo_cli.command("housekeeping")
def housekeeping():
    """Purges what Libeo no longer needs (answers to Idempotency-Keys older than 30 days), in short batches; on
    SQLite, refreshes the statistics the query planner chooses indexes by."""
    from models.libeo.payments.idempotency import purge_old_records

    click.echo(f"Réponses d'idempotence de plus de 30 jours supprimées : {purge_old_records()}.")
    forgotten = forget_old_challenges()
    db.session.commit()
    click.echo(f"Demandes de double authentification de plus d'un jour supprimées : {forgotten}.")
    if refresh_planner_statistics(db):
        click.echo("Statistiques des index mises à jour (ANALYZE).")


@libeo_cli.command("meg-keys")
def meg_keys():
    """Fetches MEG's signing keys (its JWKS at ``MEG_URL``) into the instance folder: run it at deployment.

    Libeo checks MEG's signed word on who pays (``MEG-Initiator``) with these keys. Fetched
    beforehand, a payment never waits for MEG to answer while MEG's workers all wait for Libeo.
    """
    try:
        kept = fetch_megs_keys()
    except (OSError, ValueError, KeyError) as error:  # requests' errors are OSErrors
        _fail(f"Les clés de MEG n'ont pas pu être lues à {current_app.config.get('MEG_URL')} : {error}")
    click.echo(f"Clés de MEG enregistrées ({len(kept.kids)}, émetteur {kept.issuer}) dans "
               f"{Path(current_app.instance_path) / KEYS_FILE}.")
