"""Logging in and out of MEG, and « Changer mon mot de passe »."""

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user
from sqlalchemy import select

from core.security import safe_next_url, verify_password
from core.throttle import client_address, configured, signed_in_user, submitted_account
from core.views import log_out, password_change_page
from models.meg import User, db

from ..extensions import limiter
from .forms import LoginForm

bp = Blueprint("auth", __name__)


@bp.route("/connexion", methods=["GET", "POST"])
@limiter.limit(configured("LOGIN_LIMIT_PER_ADDRESS"), key_func=client_address, methods=["POST"])
@limiter.limit(configured("LOGIN_LIMIT_PER_ACCOUNT"), key_func=submitted_account, methods=["POST"])
def login():
    next_url = safe_next_url(request.args.get("next"), url_for("main.home"))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(select(User).where(User.email == email))
        # Without a user, a decoy hash is checked: an unknown address costs what a wrong password costs.
        if not verify_password(user.password_hash if user else None, form.password.data):
            flash("Adresse e-mail ou mot de passe incorrect.", "error")
        else:
            session.clear()
            login_user(user)
            return redirect(next_url)
    return render_template("meg/auth/login.html", form=form)


@bp.route("/deconnexion", methods=["POST"])
@login_required
def logout():
    return log_out(db, "auth.login")


@bp.route("/mot-de-passe", methods=["GET", "POST"])
@login_required
@limiter.limit(configured("PASSWORD_CHANGE_LIMIT"), key_func=signed_in_user, methods=["POST"])
def change_password_page():
    return password_change_page(db, "meg/auth/password.html", "main.home")
