"""View steps both products take the same way: paging, domain errors on forms, logout, password change.

Each product keeps its own one-line views (its URLs, templates and
database); what happens inside them is written once, here.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_sqlalchemy import SQLAlchemy

from .ids import parse_id
from .security import ChangePasswordForm, LogoutForm, PasswordChangeRefused, change_password

MAX_PAGE_DIGITS = 6


def page_number() -> int:
    """``?page=`` as a positive integer of at most six ASCII digits; page 1 for anything else.

    (« ² » or « ١٢ » are digits to ``str.isdigit``: ``int`` refuses the first.)
    """
    number = parse_id(request.args.get("page"))
    return number if number is not None and number < 10**MAX_PAGE_DIGITS else 1


def show_domain_error(form, error, fields: dict[str, str] | None = None) -> None:
    """Puts a domain error's French message under the field it concerns, else flashes it.

    ``error`` has ``message`` and ``field`` (the domain's name for it);
    ``fields`` maps domain names to the form's where they differ.
    """
    name = (fields or {}).get(error.field, error.field)
    field = getattr(form, name, None) if name else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, error.message]
    else:
        flash(error.message, "error")


def log_out(db: SQLAlchemy, login_endpoint: str):
    """« Se déconnecter »: ends this session and every other one of the user (new session token)."""
    if LogoutForm().validate_on_submit():
        current_user.end_sessions()
        db.session.commit()
        logout_user()
        session.clear()
        flash("Vous êtes déconnecté.", "info")
    return redirect(url_for(login_endpoint))


def password_change_page(db: SQLAlchemy, template: str, done_endpoint: str):
    """« Changer mon mot de passe »: every other session of the user ends."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            change_password(user, form.current_password.data, form.new_password.data)
        except PasswordChangeRefused as refusal:
            db.session.rollback()
            getattr(form, refusal.field).errors.append(refusal.message)
        else:
            db.session.commit()
            # The new session token ended every session, this one included: it goes on with the new one.
            login_user(user)
            flash("Votre mot de passe est modifié. Vos autres sessions sont fermées.", "success")
            return redirect(url_for(done_endpoint))
    return render_template(template, form=form)
