"""« Sécurité » in MEG: a person's authentication app and recovery codes. Once enrolled, saving or deleting
the company's Libeo key in « Options » asks for one of its codes."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from core.second_factor import SecondFactorError, TooManyTries
from core.second_factor_views import TotpPages
from models.meg import db
from models.meg.companies.second_factor import (
    confirm_totp,
    is_enrolled,
    pending_secret,
    record_refusal,
    recovery_codes_left,
    remove_totp,
    replace_recovery_codes,
    start_totp,
    verify,
)

bp = Blueprint("meg_security", __name__, url_prefix="/securite")
TOTP_PAGES = TotpPages(db, "meg", "MEG", bp.name, (SecondFactorError,), start_totp, pending_secret, confirm_totp)


def _secret_key() -> str:
    return current_app.config["SECRET_KEY"]


def second_factor_problem(code: str | None) -> str | None:
    """Why the code given with a sensitive form is refused (French), or None: always None for a person who
    did not enrol. A code accepted is spent (committed at once: it cannot serve twice); a code refused is
    counted (committed too), for the limit on guessing."""
    if not is_enrolled(current_user):
        return None
    if not (code or "").strip():
        return "Saisissez le code de votre application d'authentification (ou un code de secours)."
    try:
        verify(current_user, code or "", _secret_key())
    except SecondFactorError as error:
        db.session.rollback()
        if not isinstance(error, TooManyTries):
            record_refusal(current_user)
            db.session.commit()
        return error.message
    db.session.commit()
    return None


@bp.before_request
@login_required
def require_login():
    """« Sécurité » is the signed-in person's own."""


@bp.route("/")
def overview():
    return render_template("meg/security/overview.html", enrolled=is_enrolled(current_user),
                           codes_left=recovery_codes_left(current_user),
                           pending=pending_secret(current_user, _secret_key()) is not None, error=None)


@bp.route("/application", methods=["GET", "POST"])
def totp_setup():
    return TOTP_PAGES.setup()


@bp.route("/application/confirmer", methods=["POST"])
def totp_confirm():
    return TOTP_PAGES.confirmation()


@bp.route("/application/retirer", methods=["POST"])
def totp_remove():
    problem = second_factor_problem(request.form.get("second_factor"))
    if problem:
        return render_template("meg/security/overview.html", enrolled=True, pending=False, error=problem,
                               codes_left=recovery_codes_left(current_user)), 422
    remove_totp(current_user)
    db.session.commit()
    flash("L'application d'authentification est retirée : MEG ne vous demande plus de code.", "success")
    return redirect(url_for("meg_security.overview"))


@bp.route("/codes-de-secours", methods=["POST"])
def recovery_codes():
    problem = second_factor_problem(request.form.get("second_factor"))
    if problem:
        return render_template("meg/security/overview.html", enrolled=is_enrolled(current_user), pending=False,
                               error=problem, codes_left=recovery_codes_left(current_user)), 422
    codes = replace_recovery_codes(current_user)
    db.session.commit()
    return render_template("meg/security/recovery_codes.html", codes=codes)
