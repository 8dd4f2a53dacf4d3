"""« Sécurité »'s authentication-app pages, the same steps in both products: start (or restart) the app's
enrolment, show its secret, activate it with its first code.

Each product keeps its own views (its URLs, what it asks before a change, its templates
``<product>/security/totp.html`` and ``recovery_codes.html``) and calls these steps with its use cases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_sqlalchemy import SQLAlchemy

from core.second_factor import grouped_secret, totp_uri


@dataclass(frozen=True)
class TotpPages:
    """A product's authentication-app pages.

    ``start``, ``pending`` and ``confirm`` are its use cases, called with the signed-in user and the app's
    secret key (``confirm`` with the code too); they raise one of ``refused`` (a ``message`` in French).
    ``confirm`` returns the recovery codes to show once, or None (then ``activated`` is flashed).
    """

    db: SQLAlchemy
    product: str  # its templates' folder, « meg », « libeo »
    issuer: str  # the name the authentication app shows
    blueprint: str  # its « Sécurité » blueprint: ``overview`` and ``totp_setup`` endpoints
    refused: tuple[type[Exception], ...]
    start: Callable[[Any, str], str]
    pending: Callable[[Any, str], str | None]
    confirm: Callable[[Any, str, str], list[str] | None]
    activated: str = ""

    def setup(self):
        """POST starts (or restarts) the app's enrolment; GET shows its secret and asks its first code."""
        if request.method == "POST":
            try:
                self.start(current_user, _secret_key())
            except self.refused as error:
                self.db.session.rollback()
                flash(error.message, "error")  # type: ignore[attr-defined]  # each refusal has its message
                return redirect(url_for(f"{self.blueprint}.overview"))
            self.db.session.commit()
            return redirect(url_for(f"{self.blueprint}.totp_setup"))
        secret = self.pending(current_user, _secret_key())
        if secret is None:
            return redirect(url_for(f"{self.blueprint}.overview"))
        return self._setup_page(secret, None)

    def confirmation(self):
        """The app's first code (``code``): the recovery codes shown once, or the page again with why."""
        try:
            codes = self.confirm(current_user, request.form.get("code", ""), _secret_key())
        except self.refused as error:
            self.db.session.rollback()
            message: str = error.message  # type: ignore[attr-defined]
            secret = self.pending(current_user, _secret_key())
            if secret is None:
                flash(message, "error")
                return redirect(url_for(f"{self.blueprint}.overview"))
            return self._setup_page(secret, message, 422)
        self.db.session.commit()
        if codes:
            return render_template(f"{self.product}/security/recovery_codes.html", codes=codes,
                                   message=self.activated)
        flash(self.activated, "success")
        return redirect(url_for(f"{self.blueprint}.overview"))

    def _setup_page(self, secret: str, error: str | None, status: int = 200):
        return render_template(f"{self.product}/security/totp.html", secret=secret, grouped=grouped_secret(secret),
                               uri=totp_uri(secret, current_user.email, self.issuer), error=error), status


def _secret_key() -> str:
    return current_app.config["SECRET_KEY"]
