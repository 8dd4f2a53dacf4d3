"""« Sécurité »: the person's second factors (authentication app, passkeys, recovery codes), the account's
« Exiger la double authentification pour tous », and what to do when a factor is lost."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from core.second_factor import (
    SecondFactorError,
    b64url,
    from_b64url,
    new_webauthn_challenge,
    registration_options,
    verify_registration,
)
from core.second_factor_views import TotpPages
from models.libeo import db
from models.libeo.strong_auth.services import (
    Purpose,
    StrongAuthRefused,
    add_passkey,
    confirm_totp,
    has_totp,
    is_enrolled,
    passkeys_of,
    pending_totp_secret,
    recovery_codes_left,
    remove_passkey,
    remove_totp,
    replace_recovery_codes,
    set_requirement,
    simple_operation,
    start_totp,
)

from ..context import current_account, require_admin
from .step_up import relying_party, second_factor_first

bp = Blueprint("security", __name__, url_prefix="/securite")

REGISTRATION_KEY = "passkey_registration"
TOTP_PAGES = TotpPages(db, "libeo", "Libeo", bp.name, (StrongAuthRefused,), start_totp, pending_totp_secret,
                       confirm_totp, activated="L'application d'authentification est activée : Libeo vous demandera "
                                             "ses codes pour les opérations sensibles.")


def _secret_key() -> str:
    return current_app.config["SECRET_KEY"]


def _factor_change(description: str):
    """Adding or removing a factor once enrolled is itself confirmed with a factor (a stolen session
    cannot add its own)."""
    if not is_enrolled(current_user):
        return None
    return second_factor_first(simple_operation(Purpose.SECURITY, description))


@bp.route("/")
@login_required
def overview():
    user = current_user
    passkeys = passkeys_of(user)
    challenge = new_webauthn_challenge()
    session[REGISTRATION_KEY] = b64url(challenge)
    options = registration_options(
        relying_party(), user_handle=f"libeo-user-{user.id}".encode(), user_name=user.email,
        display_name=user.display_name, challenge=challenge, existing=[p.credential_id for p in passkeys],
    )
    return render_template(
        "libeo/security/overview.html", has_totp=has_totp(user), passkeys=passkeys,
        codes_left=recovery_codes_left(user), enrolled=is_enrolled(user), registration_options=options,
        pending_totp=pending_totp_secret(user, _secret_key()) is not None,
    )


@bp.route("/application", methods=["GET", "POST"])
@login_required
def totp_setup():
    """POST starts (or restarts) the app's enrolment; GET shows its secret and asks its first code."""
    if request.method == "POST":
        blocked = _factor_change("Ajouter une application d'authentification")
        if blocked is not None:
            return blocked
    return TOTP_PAGES.setup()


@bp.route("/application/confirmer", methods=["POST"])
@login_required
def totp_confirm():
    return TOTP_PAGES.confirmation()


@bp.route("/application/retirer", methods=["POST"])
@login_required
def totp_remove():
    blocked = _factor_change("Retirer l'application d'authentification")
    if blocked is not None:
        return blocked
    remove_totp(current_user)
    db.session.commit()
    flash("L'application d'authentification est retirée.", "success")
    return redirect(url_for("security.overview"))


@bp.route("/cles-d-acces", methods=["POST"])
@login_required
def passkey_add():
    """The answer of ``navigator.credentials.create`` (posted by static/js/passkeys.js)."""
    blocked = _factor_change("Ajouter une clé d'accès")
    if blocked is not None:
        return blocked
    expected = session.pop(REGISTRATION_KEY, None)
    credential = request.form.get("credential", "")
    try:
        if not expected or not credential:
            raise SecondFactorError("La clé d'accès n'a pas pu être enregistrée : réessayez.")
        new = verify_registration(relying_party(), credential, from_b64url(expected))
        codes = add_passkey(current_user, new, request.form.get("name", ""))
    except (SecondFactorError, StrongAuthRefused) as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("security.overview"))
    db.session.commit()
    message = "La clé d'accès est enregistrée : Libeo vous la demandera pour les opérations sensibles."
    if codes:
        return render_template("libeo/security/recovery_codes.html", codes=codes, message=message)
    flash(message, "success")
    return redirect(url_for("security.overview"))


@bp.route("/cles-d-acces/<int:passkey_id>/retirer", methods=["POST"])
@login_required
def passkey_remove(passkey_id: int):
    if passkey_id not in {p.id for p in passkeys_of(current_user)}:
        abort(404)
    blocked = _factor_change("Retirer une clé d'accès")
    if blocked is not None:
        return blocked
    try:
        remove_passkey(current_user, passkey_id)
    except StrongAuthRefused as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash("La clé d'accès est retirée.", "success")
    return redirect(url_for("security.overview"))


@bp.route("/codes-de-secours", methods=["POST"])
@login_required
def recovery_codes():
    blocked = _factor_change("Remplacer les codes de secours")
    if blocked is not None:
        return blocked
    try:
        codes = replace_recovery_codes(current_user)
    except StrongAuthRefused as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("security.overview"))
    db.session.commit()
    return render_template("libeo/security/recovery_codes.html", codes=codes,
                           message="Voici vos nouveaux codes de secours : les précédents ne fonctionnent plus.")


@bp.route("/exiger", methods=["POST"])
@login_required
def requirement():
    """« Exiger la double authentification pour tous » (administrators)."""
    require_admin()
    required = request.form.get("required") == "1"
    blocked = second_factor_first(simple_operation(
        Purpose.SECURITY, "Exiger la double authentification pour tous" if required
        else "Ne plus exiger la double authentification pour tous"))
    if blocked is not None:
        return blocked
    try:
        changed = set_requirement(current_account(), required, current_user)
    except StrongAuthRefused as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        if changed:
            flash("La double authentification est exigée pour tous les utilisateurs du compte." if required
                  else "La double authentification est laissée au choix de chacun.", "success")
    return redirect(url_for("security.overview"))


@bp.get("/facteur-perdu")
def lost_factor():
    """What to do without one's phone or passkey: recovery codes, then support. Open to all."""
    return render_template("libeo/security/lost.html")
