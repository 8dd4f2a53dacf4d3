"""« Notifications », the same pages in both products: each person's choices, the e-mails' one-click
unsubscribe, and (development only) « E-mails envoyés », what the local SMTP server received.

Each product makes its blueprint with :func:`notifications_blueprint`, giving its own database,
notifier and templates folder; the views are written once here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFProtect

from core.mailbox import received_message, received_messages
from core.notifications import ActionForm, Notifier, preferences_form
from core.views import mailbox_message_response


def notifications_blueprint(*, product: str, db: Any, notifier: Notifier, settings_for: Callable,
                            csrf: CSRFProtect) -> Blueprint:
    """The « notifications » blueprint of ``product`` (``meg`` or ``libeo``, its templates' folder)."""
    bp = Blueprint("notifications", __name__, url_prefix="/notifications")

    @bp.route("/", methods=["GET", "POST"])
    @login_required
    def preferences():
        settings = settings_for(current_user)
        form = preferences_form(settings, current_app.config["NOTIFICATION_DIGEST_HOUR"])()
        if form.validate_on_submit():
            notifier.choose(current_user.email, form.choices())
            db.session.commit()
            flash("Vos choix de notifications sont enregistrés.", "success")
            return redirect(url_for("notifications.preferences"))
        if not form.is_submitted():
            form.fill(notifier.modes(current_user.email))
        return render_template(f"{product}/notifications/preferences.html", form=form, settings=settings,
                               retry_form=ActionForm())

    @bp.route("/reessayer", methods=["POST"])
    @login_required
    def retry_address():
        """« Réessayer l'envoi »: the person checked their address; e-mails go to it again."""
        if not ActionForm().validate_on_submit():
            abort(400)
        notifier.clear_bounce(current_user)
        db.session.commit()
        flash(f"Les notifications seront de nouveau envoyées à {current_user.email}.", "success")
        return redirect(url_for("notifications.preferences"))

    @bp.route("/desabonnement/<token>", methods=["GET", "POST"])
    @csrf.exempt  # the signed link is the authority: mail clients post it without any form (RFC 8058)
    def unsubscribe(token: str):
        target = notifier.read_unsubscribe_token(token)
        if target is None:
            abort(404, description="Ce lien de désabonnement n'est pas valable : ouvrez celui du dernier e-mail reçu, "
                                   "ou choisissez vos notifications dans « Notifications » après connexion.")
        email, setting = target
        if request.method == "GET":
            return render_template(f"{product}/notifications/unsubscribe.html", email=email,
                                   settings=notifier.unsubscribe_preview(email, setting), done=None)
        done = notifier.unsubscribe(email, setting)
        db.session.commit()
        return render_template(f"{product}/notifications/unsubscribe.html", email=email, settings=done, done=True)

    # --- development only: what the local SMTP server received -------------------------------------

    @bp.route("/e-mails-envoyes")
    def mailbox():
        folder = _local_mailbox()
        return render_template(f"{product}/notifications/mailbox.html",
                               messages=received_messages(folder, current_app.config["MAIL_FROM"]))

    @bp.route("/e-mails-envoyes/<key>")
    def mailbox_message(key: str):
        message = received_message(_local_mailbox(), key, current_app.config["MAIL_FROM"])
        if message is None:
            abort(404)
        return render_template(f"{product}/notifications/mailbox_message.html", message=message)

    @bp.route("/e-mails-envoyes/<key>/html")
    def mailbox_html(key: str):
        message = received_message(_local_mailbox(), key, current_app.config["MAIL_FROM"])
        if message is None:
            abort(404)
        return mailbox_message_response(make_response(message.html))

    def _local_mailbox() -> str:
        """The development server's mailbox; no such page anywhere else."""
        folder = current_app.config.get("LOCAL_MAILBOX")
        if not folder:
            abort(404)
        return folder

    return bp
