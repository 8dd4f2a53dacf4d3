"""Command groups that run in one product's app context.

``flask --app app meg …`` and ``flask --app app libeo …`` are served by the
combined app, whose own context is neither product's; deployed alone
(``flask --app "app:create_meg_app()" meg …``) the loaded app is the product.
Either way every command of the group, nested groups included (``meg db
upgrade``), runs inside the product's app context.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import click
from flask import Flask, current_app
from flask.cli import AppGroup, ScriptInfo
from sqlalchemy.exc import SQLAlchemyError

from core.migrations import db_group
from core.notifications import Notifier
from core.observability.status import Snapshot, render
from core.reminders import ReminderReport


class ProductGroup(AppGroup):
    def __init__(self, name: str, *, side: str, **kwargs) -> None:
        super().__init__(name, **kwargs)
        self.side = side

    def invoke(self, ctx: click.Context):
        with product_app(ctx, self.side).app_context():
            return super().invoke(ctx)


def product_app(ctx: click.Context, side: str) -> Flask:
    loaded = current_app._get_current_object() if current_app else ctx.ensure_object(ScriptInfo).load_app()  # type: ignore[attr-defined]  # a LocalProxy
    return loaded.extensions.get("sides", {}).get(side, loaded)


# --- the commands both products have ------------------------------------------------------------


def product_cli(side: str, product: str, *, snapshot: Callable[[], Snapshot], status_help: str,
                notifier: Notifier, write_reminders: Callable[[], ReminderReport]) -> ProductGroup:
    """``flask <side> …`` with what both products have: ``db`` (Alembic), ``status``, ``notify`` and
    ``reminders``; each product adds its own commands to the group."""
    group = ProductGroup(side, side=side, help=f"Commandes de {product}.")
    group.add_command(db_group())
    _add_status_command(group, product, snapshot, status_help)
    _add_notification_commands(group, notifier, write_reminders)
    return group


def _add_status_command(group: ProductGroup, product: str, snapshot: Callable[[], Snapshot], status_help: str
                        ) -> None:
    """``<product> status``: what an operator watches; exit status 1 when a person must act (for cron)."""

    @group.command("status", help=status_help)
    def status():
        try:
            shot = snapshot()
        except SQLAlchemyError:
            click.echo(f"Erreur : la base de données de {product} ne répond pas (voir /readyz et le journal).",
                       err=True)
            raise SystemExit(2) from None
        click.echo(render(product, shot))
        raise SystemExit(1 if shot.alerts else 0)


def _add_notification_commands(group: ProductGroup, notifier: Notifier,
                               write_reminders: Callable[[], ReminderReport]) -> None:
    """``<product> notify`` (the notification worker) and ``<product> reminders`` (daily, from cron)."""

    @group.command("notify")
    @click.option("--loop", is_flag=True, help="Continue indéfiniment (toutes les --every secondes).")
    @click.option("--every", default=5.0, show_default=True, help="Secondes entre deux passages, avec --loop.")
    def notify(loop: bool, every: float):
        """Sends the e-mail notifications that are due (SMTP_URL), retrying those a dead SMTP server delayed."""
        if not current_app.config.get("SMTP_URL"):
            click.echo("SMTP_URL n'est pas défini : les notifications attendent dans la base jusqu'à ce qu'il le "
                       "soit.", err=True)
        while True:
            report = notifier.run_pass()
            if not loop or report.worked:
                click.echo(str(report))
            if not loop:
                return
            if not report.worked:
                time.sleep(every)

    @group.command("reminders", help=(
        "Writes the reminders of due dates owed today (once per invoice and threshold; run it daily from cron). "
        f"The notification worker ({group.name} notify) sends them as each person chose."))
    def reminders():
        click.echo(str(write_reminders()))
