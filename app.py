"""The combined run: MEG under /meg, Libeo under /libeo, a landing page at /.

Each product stays a Flask app of its own (own database, cookie, secret);
this module only mounts them side by side and, since they share a process,
lets each reach the other through an in-process WSGI transport instead of a
socket — only where the other's URL (``LIBEO_URL``, ``MEG_URL``) is this
app's own: a URL naming another host or port is a product deployed apart,
reached over the network. ``flask --app app …`` exposes both products' commands (``meg …``,
``libeo …``) and ``demo``, which prepares everything ``make run`` serves.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import click
from flask import Flask, render_template
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from blueprints.libeo.factory import create_libeo_app
from blueprints.meg.factory import create_meg_app

__all__ = ["create_app", "create_meg_app", "create_libeo_app"]
from config import BASE_DIR, INSTANCE_DIR
from core.app_factory import register_error_pages
from core.errors import describe, error_page, error_reference
from core.observability.tracing import name_process
from core.security import init_security_headers
from core.setup import instance_secret
from core.typography import init_typography
from core.views import register_favicon

log = logging.getLogger("meg_libeo")

# The OAuth client Libeo is to MEG in the default run (« Me connecter avec MEG »).
LIBEO_OAUTH_CLIENT_ID = "libeo"


def create_app(meg_config: dict | None = None, libeo_config: dict | None = None) -> Flask:
    name_process("meg-libeo")  # the traces' service, when tracing is on
    meg = create_meg_app({**mounted_at("/meg"), **(meg_config or {})})
    libeo = create_libeo_app({**mounted_at("/libeo"), **(libeo_config or {})})
    app = Flask(
        "landing",
        instance_path=str(INSTANCE_DIR),
        template_folder=str(BASE_DIR / "templates"),
        static_folder=None,
    )
    app.config.update(TESTING=bool((meg_config or {}).get("TESTING")))
    app.extensions["sides"] = {"meg": meg, "libeo": libeo}
    if meg.config["IN_PROCESS_TRANSPORT"]:
        connect_in_process(meg, libeo)
    configure_meg_sign_in(meg, libeo)
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/meg": meg, "/libeo": libeo})

    @app.route("/")
    def landing():
        return render_template("landing/index.html")

    register_favicon(app, BASE_DIR / "static")

    @app.route("/healthz")
    def healthz():  # the process answers (each product's own are /meg/healthz, /libeo/healthz)
        return {"status": "ok"}

    register_landing_error_pages(app)
    init_security_headers(app)
    init_typography(app)

    register_commands(app, meg, libeo)
    return app


def register_landing_error_pages(app: Flask) -> None:
    """Addresses outside /meg and /libeo (``/robots.txt``, ``POST /``…) get a French page as the products' do,
    with the landing page's look."""

    def render_error(error):
        code, message, _ = describe(error)
        reference = error_reference() if code == 500 else None
        return error_page("landing/error.html", code, message, reference), code

    register_error_pages(app, "landing/error.html", render_error)


def mounted_at(prefix: str) -> dict:
    """A product served under ``prefix`` keeps its cookies there (the other product never gets them)."""
    return {"SESSION_COOKIE_PATH": prefix, "REMEMBER_COOKIE_PATH": prefix, "MOUNTED_AT": prefix}


def connect_in_process(meg: Flask, libeo: Flask) -> None:
    """Calls from one product to the other stay in this process when they are addressed to this app.

    A ``LIBEO_URL`` (``MEG_URL``) naming another host, port or path than this
    app's own mount of that product is a product deployed apart: its calls
    go over the network, never to the empty product this process also holds.
    """
    for side, peer, setting, mount in ((meg, libeo, "LIBEO_URL", "/libeo"), (libeo, meg, "MEG_URL", "/meg")):
        url = side.config[setting]
        if served_here(url, side.config["PUBLIC_URL"], mount):
            side.extensions["http_peers"] = {url.rstrip("/") + "/": (peer, mount)}
        else:
            side.extensions["http_peers"] = {}
            log.info("%s désigne un autre serveur (%s) : les appels y passent par le réseau.", setting, url)


def served_here(url: str, public_url: str, mount: str) -> bool:
    """Whether ``url`` is ``public_url`` + ``mount``: this combined app's own mount of a product."""
    theirs, ours = urlsplit(url), urlsplit(public_url)
    return (theirs.scheme, theirs.hostname, _port(theirs), theirs.path.rstrip("/")) == (
        ours.scheme, ours.hostname, _port(ours), ours.path.rstrip("/") + mount)


def _port(url) -> int | None:
    try:
        return url.port or {"http": 80, "https": 443}.get(url.scheme)
    except ValueError:
        return None


def configure_meg_sign_in(meg: Flask, libeo: Flask) -> None:
    """Unless configured otherwise, Libeo signs in with MEG as the client ``demo`` registers.

    The secret is generated once and kept in MEG's instance folder; MEG only
    stores its digest (see ``register_meg_client``).
    """
    if libeo.config.get("MEG_OAUTH_CLIENT_ID"):
        return
    libeo.config["MEG_OAUTH_CLIENT_ID"] = LIBEO_OAUTH_CLIENT_ID
    libeo.config["MEG_OAUTH_CLIENT_SECRET"] = instance_secret(meg, "libeo_oauth_client_secret")


def register_meg_client(meg: Flask, libeo: Flask) -> None:
    """Registers (or brings up to date) Libeo's OAuth client in MEG's database."""
    from models.libeo.meg_link.client import SCOPE, redirect_uri
    from models.meg import db
    from models.meg.oauth import ensure_client

    with libeo.test_request_context(base_url=libeo.config["PUBLIC_URL"].rstrip("/") + "/libeo"):
        callback = redirect_uri()
    with meg.app_context():
        ensure_client(
            client_id=libeo.config["MEG_OAUTH_CLIENT_ID"],
            name="Libeo",
            redirect_uris=[callback],
            scope=SCOPE,
            secret=libeo.config["MEG_OAUTH_CLIENT_SECRET"],
        )
        db.session.commit()


def register_commands(app: Flask, meg: Flask, libeo: Flask) -> None:
    app.cli.add_command(meg.cli.commands["meg"])
    app.cli.add_command(libeo.cli.commands["libeo"])

    @app.cli.command("demo")
    @click.pass_context
    def demo(ctx):
        """Upgrades both databases, creates MEG's demo data once, then prints the addresses and logins."""
        from core.migrations import upgrade_database

        for side in (meg, libeo):
            with side.app_context():
                upgrade_database()
        with meg.app_context():
            ctx.invoke(_group(meg, "meg").commands["seed-demo"])
        from devtools.cli import write_demo_einvoices

        register_meg_client(meg, libeo)
        einvoices = write_demo_einvoices(meg)
        base = meg.config["PUBLIC_URL"].rstrip("/")
        click.echo(f"\nMEG :   {base}/meg/")
        click.echo(f"Libeo : {base}/libeo/ (vide : créez un compte, ou passez par « Payer » dans MEG)")
        click.echo(f"Factures électroniques d'essai (Boulangerie Martin SARL) : {einvoices}\n"
                   "  à importer dans MEG : « Achats » → « Factures » → « Importer une facture électronique »")

    @app.cli.command("serve")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=5000, show_default=True)
    def serve(host, port):
        """Serves the combined app for development (threaded)."""
        from werkzeug.serving import run_simple

        from core.http import QuietRequestHandler
        from devtools.cli import start_local_smtp, start_localstripe

        # Without Stripe keys, « Abonnement » talks to a localstripe on loopback.
        stripe_server = start_localstripe(libeo)
        # Without SMTP_URL, e-mails go to a local SMTP server that keeps them (« E-mails envoyés »).
        smtp_server = start_local_smtp(meg, libeo)
        start_background_work(meg, libeo)
        click.echo(f"MEG ↔ Libeo sur http://{host}:{port}/ (Ctrl+C pour arrêter)")
        try:
            run_simple(host, port, app, threaded=True, use_reloader=False, request_handler=QuietRequestHandler)
        finally:
            if stripe_server:
                stripe_server.stop()
            if smtp_server:
                smtp_server.stop()

    @_group(libeo, "libeo").command("localstripe")
    @click.option("--webhook-url",
                  help="Adresse du webhook de Libeo (par défaut : PUBLIC_URL + /libeo/abonnement/webhook).")
    def localstripe(webhook_url):
        """Runs localstripe on 127.0.0.1 (LOCALSTRIPE_URL), wired to Libeo's webhook, until Ctrl+C (development)."""
        from devtools.cli import run_localstripe

        run_localstripe(libeo, webhook_url)


def start_background_work(meg: Flask, libeo: Flask, every: float = 5.0) -> None:
    """The default run's worker: MEG's sync pass with Libeo, then each product's e-mail notifications,
    every few seconds; each product's reminders of due dates once a day.

    In production the same work runs as processes of its own
    (``flask --app app meg sync --loop``, ``meg notify --loop``, ``libeo
    notify --loop``, and ``meg reminders`` / ``libeo reminders`` from cron);
    its work is claimed in the database, so any number of workers may run.
    """
    import logging
    import threading
    import time

    from core.dates import paris_today
    from models.libeo.notifications.kinds import notifier as libeo_notifier
    from models.libeo.notifications.reminders import write_reminders as libeo_reminders
    from models.meg.libeo_link.sync import sync_pass
    from models.meg.notifications.kinds import notifier as meg_notifier
    from models.meg.notifications.reminders import write_reminders as meg_reminders

    log = logging.getLogger("meg.sync")
    passes = (
        (meg, sync_pass, "Échec d'un passage de synchronisation avec Libeo"),
        (meg, meg_notifier.run_pass, "Échec d'un envoi des notifications de MEG"),
        (libeo, libeo_notifier.run_pass, "Échec d'un envoi des notifications de Libeo"),
    )

    daily = (
        (meg, meg_reminders, "Échec des rappels d'échéance de MEG"),
        (libeo, libeo_reminders, "Échec des rappels d'échéance de Libeo"),
    )

    def loop() -> None:
        reminded_on = None
        while True:
            time.sleep(every)
            today = paris_today()
            for side, work, failure in (*daily, *passes) if today != reminded_on else passes:
                try:
                    with side.app_context():
                        work()
                except Exception:  # the worker must outlive a bad pass; the database keeps the work
                    log.exception(failure)
            reminded_on = today

    threading.Thread(target=loop, name="meg-sync", daemon=True).start()


def _group(side: Flask, name: str) -> click.Group:
    """A product's command group (``meg``, ``libeo``), to invoke or extend one of its commands."""
    group = side.cli.commands[name]
    assert isinstance(group, click.Group)
    return group
