"""« Changer mon mot de passe »: every other session of the user ends."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required, login_user

from core.security import ChangePasswordForm, PasswordChangeRefused, change_password
from core.throttle import configured, signed_in_user
from models.libeo import db

from ..extensions import limiter
from . import bp


@bp.route("/mot-de-passe", methods=["GET", "POST"])
@login_required
@limiter.limit(configured("PASSWORD_CHANGE_LIMIT"), key_func=signed_in_user, methods=["POST"])
def change_password_page():
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
            return redirect(url_for("invoices.list_invoices"))
    return render_template("libeo/auth/password.html", form=form)
