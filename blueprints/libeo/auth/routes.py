from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from core.security import safe_next_url
from core.throttle import client_address, configured, submitted_account
from models.libeo import db
from models.libeo.accounts import authenticate_user, create_account
from models.libeo.errors import LibeoError

from ..context import show_domain_error
from ..extensions import limiter
from . import bp
from .forms import LoginForm, LogoutForm, SignupForm


def _start_session(user) -> None:
    session.clear()
    login_user(user)


@bp.route("/inscription", methods=["GET", "POST"])
@limiter.limit(configured("SIGNUP_LIMIT"), key_func=client_address, methods=["POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("invoices.list_invoices"))
    form = SignupForm()
    if form.validate_on_submit():
        try:
            account = create_account(
                form.company_name.data, form.siret.data, form.email.data, form.password.data, full_name=form.full_name.data
            )
        except LibeoError as error:
            db.session.rollback()
            show_domain_error(form, error, {"name": "company_name"})
        else:
            db.session.commit()
            _start_session(account.users[0])
            flash(f"Bienvenue ! Le compte Libeo de {account.name} est créé (formule Gratuit).", "success")
            return redirect(url_for("invoices.list_invoices"))
    return render_template("libeo/auth/signup.html", form=form)


@bp.route("/connexion", methods=["GET", "POST"])
@limiter.limit(configured("LOGIN_LIMIT_PER_ADDRESS"), key_func=client_address, methods=["POST"])
@limiter.limit(configured("LOGIN_LIMIT_PER_ACCOUNT"), key_func=submitted_account, methods=["POST"])
def login():
    next_url = safe_next_url(request.args.get("next"), url_for("invoices.list_invoices"))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate_user(form.email.data, form.password.data)
        if user is None:
            flash("Adresse e-mail ou mot de passe incorrect.", "error")
        else:
            _start_session(user)
            return redirect(next_url)
    return render_template("libeo/auth/login.html", form=form)


@bp.route("/deconnexion", methods=["POST"])
@login_required
def logout():
    if LogoutForm().validate_on_submit():
        current_user.end_sessions()
        db.session.commit()
        logout_user()
        session.clear()
        flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("auth.login"))
