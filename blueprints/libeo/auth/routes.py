"""Signing up to Libeo, logging in and out, and « Changer mon mot de passe »."""

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user

from core.french import of
from core.security import safe_next_url
from core.throttle import client_address, configured, signed_in_user, submitted_account
from core.views import log_out, password_change_page, show_domain_error
from models.libeo import db
from models.libeo.accounts.models import NO_DEBTOR_IBAN
from models.libeo.accounts.services import authenticate_user, create_account
from models.libeo.errors import LibeoError

from ..extensions import limiter
from .forms import LoginForm, SignupForm, every_signup_problem_shown

bp = Blueprint("auth", __name__)


def _start_session(user) -> None:
    session.clear()
    login_user(user)


@bp.route("/inscription", methods=["GET", "POST"])
@limiter.limit(configured("SIGNUP_LIMIT"), key_func=client_address, methods=["POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("invoices.list_invoices"))
    form = SignupForm()
    if form.is_submitted() and every_signup_problem_shown(form, form.siret.data):
        try:
            account = create_account(
                form.company_name.data, form.siret.data, form.email.data, form.password.data,
                full_name=form.full_name.data, debtor_iban=form.debtor_iban.data,
            )
        except LibeoError as error:
            db.session.rollback()
            show_domain_error(form, error, {"name": "company_name"})
        else:
            db.session.commit()
            _start_session(account.users[0])
            flash(f"Bienvenue ! Le compte Libeo {of(account.name)} est créé (formule Gratuit).", "success")
            if not account.has_debtor_iban:
                flash(NO_DEBTOR_IBAN, "warning")
            return redirect(url_for("invoices.list_invoices"))
    return render_template("libeo/auth/signup.html", form=form)


@bp.get("/conditions")
def terms():
    """« Conditions générales d'utilisation », linked from both sign-up forms; open to all."""
    return render_template("libeo/auth/terms.html")


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
    return log_out(db, "auth.login")


@bp.route("/mot-de-passe", methods=["GET", "POST"])
@login_required
@limiter.limit(configured("PASSWORD_CHANGE_LIMIT"), key_func=signed_in_user, methods=["POST"])
def change_password_page():
    return password_change_page(db, "libeo/auth/password.html", "invoices.list_invoices")
