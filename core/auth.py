"""Signing in and out, and « Changer mon mot de passe », the same in both products.

Each product's ``auth`` blueprint gets the three views from
:func:`add_session_views` with its database, rate limiter, templates and home
page; sign-up and the rest of its account pages stay the product's own.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_limiter import Limiter
from flask_login import current_user, login_required, login_user, logout_user
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import select
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Length

from core.forms import Form
from core.security import (
    ChangePasswordForm,
    LogoutForm,
    PasswordChangeRefused,
    change_password,
    safe_next_url,
    verify_password,
)
from core.throttle import client_address, configured, signed_in_user, submitted_account


class LoginForm(Form):
    email = EmailField("Adresse e-mail", validators=[DataRequired("Saisissez votre adresse e-mail."), Length(max=254)])
    password = PasswordField("Mot de passe", validators=[DataRequired("Saisissez votre mot de passe."),
                                                         Length(max=128, message="Mot de passe trop long.")])
    submit = SubmitField("Se connecter")


def authenticate(db: SQLAlchemy, user_model, email: str, password: str):
    """The user of this address and password, or None."""
    user = db.session.scalar(select(user_model).where(user_model.email == (email or "").strip().lower()))
    # Without a user, a decoy hash is checked: an unknown address costs what a wrong password costs.
    if not verify_password(user.password_hash if user else None, password or ""):
        return None
    return user


def start_session(user) -> None:
    """A new session for ``user``: nothing of the one before the login is kept."""
    session.clear()
    login_user(user)


def login_page(template: str, home_endpoint: str, authenticate: Callable[[str, str], object | None]):
    next_url = safe_next_url(request.args.get("next"), url_for(home_endpoint))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is None:
            flash("Adresse e-mail ou mot de passe incorrect.", "error")
        else:
            start_session(user)
            return redirect(next_url)
    return render_template(template, form=form)


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


def add_session_views(bp: Blueprint, *, db: SQLAlchemy, limiter: Limiter, product: str, home_endpoint: str,
                      authenticate: Callable[[str, str], object | None]) -> None:
    """``login`` (« /connexion »), ``logout`` (« /deconnexion ») and ``change_password_page``
    (« /mot-de-passe ») on the product's ``auth`` blueprint, with their rate limits; the pages are
    ``<product>/auth/login.html`` and ``<product>/auth/password.html``."""
    login_endpoint = f"{bp.name}.login"

    @bp.route("/connexion", methods=["GET", "POST"])
    @limiter.limit(configured("LOGIN_LIMIT_PER_ADDRESS"), key_func=client_address, methods=["POST"])
    @limiter.limit(configured("LOGIN_LIMIT_PER_ACCOUNT"), key_func=submitted_account, methods=["POST"])
    def login():
        return login_page(f"{product}/auth/login.html", home_endpoint, authenticate)

    @bp.route("/deconnexion", methods=["POST"])
    @login_required
    def logout():
        return log_out(db, login_endpoint)

    @bp.route("/mot-de-passe", methods=["GET", "POST"])
    @login_required
    @limiter.limit(configured("PASSWORD_CHANGE_LIMIT"), key_func=signed_in_user, methods=["POST"])
    def change_password_page():
        return password_change_page(db, f"{product}/auth/password.html", done_endpoint=home_endpoint)
