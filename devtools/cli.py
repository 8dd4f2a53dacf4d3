"""Development commands of the combined run: ``demo``, ``serve`` (localstripe, a local SMTP server) and
``libeo localstripe``.

Only ``app.py`` loads this module, from inside those commands: a product
served alone (``create_meg_app()``, ``create_libeo_app()``) never imports
``devtools``.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, url_for

from devtools.einvoice_samples import write_demo_samples
from devtools.localstripe_server import LocalStripe
from devtools.smtp_server import LocalSmtp, port_is_free
from models.libeo.billing import subscriptions as billing
from models.libeo.billing.stripe_gateway import stripe_client, uses_localstripe, webhook_secret


def write_demo_einvoices(meg: Flask) -> Path:
    """A few supplier e-invoices to import, written once into instance/e-invoices/ (README: how to make more)."""
    folder = Path(meg.instance_path) / "e-invoices"
    if not folder.is_dir() or not any(folder.iterdir()):
        write_demo_samples(folder)
    return folder


def start_localstripe(libeo: Flask, webhook_url: str | None = None) -> LocalStripe | None:
    """For development without Stripe keys: localstripe running, webhook registered, plan created.

    Returns None when Stripe keys are configured. A localstripe already
    answering at LOCALSTRIPE_URL is reused (and left running on stop).
    """
    if not uses_localstripe(libeo.config):
        return None
    server = LocalStripe(libeo.config["LOCALSTRIPE_URL"], state_file=Path(libeo.instance_path) / "localstripe.pickle",
                         verbose=True)
    server.start()
    try:
        server.register_webhook(webhook_url or default_webhook_url(libeo), webhook_secret(libeo) or "")
        with libeo.app_context():
            try:
                billing.ensure_catalog(stripe_client(libeo.config))
            except billing.BillingError as error:
                raise click.ClickException("localstripe n'a pas pu créer la formule Partnerships.") from error
    except BaseException:
        server.stop()
        raise
    click.echo(f"localstripe (Stripe local) sur {server.url}")
    return server


def run_localstripe(libeo: Flask, webhook_url: str | None) -> None:
    """``flask --app app libeo localstripe``: localstripe on 127.0.0.1 until Ctrl+C."""
    if not uses_localstripe(libeo.config):
        raise click.UsageError("STRIPE_SECRET_KEY est défini : Libeo utilise Stripe, pas localstripe.")
    server = start_localstripe(libeo, webhook_url)
    if server is None:
        return
    try:
        server.wait()
    finally:
        server.stop()


def default_webhook_url(libeo: Flask) -> str:
    """Libeo is mounted at /libeo of PUBLIC_URL in the combined run."""
    with libeo.test_request_context(base_url=libeo.config["PUBLIC_URL"].rstrip("/") + "/libeo"):
        return url_for("billing.webhook", _external=True)


LOCAL_SMTP_PORT = 8025


def start_local_smtp(meg: Flask, libeo: Flask) -> LocalSmtp | None:
    """Without SMTP_URL, a real SMTP server on loopback that keeps every message (in instance/mailbox/),
    both products sending to it, and each product's « E-mails envoyés » page reading it.

    Returns None when SMTP_URL is set (for either product): mail then goes where it says.
    """
    if meg.config.get("SMTP_URL") or libeo.config.get("SMTP_URL"):
        return None
    folder = Path(meg.instance_path) / "mailbox"
    server = LocalSmtp(LOCAL_SMTP_PORT if port_is_free(LOCAL_SMTP_PORT) else 0, folder).start()
    for app in (meg, libeo):
        app.config.update(SMTP_URL=server.url, LOCAL_MAILBOX=str(folder))
    base = meg.config["PUBLIC_URL"].rstrip("/")
    click.echo(f"Serveur SMTP local sur {server.url} : e-mails envoyés visibles sur {base}/meg/notifications/"
               f"e-mails-envoyes et {base}/libeo/notifications/e-mails-envoyes")
    return server
