"""Signing up to Libeo; logging in and out, and « Changer mon mot de passe » (``core.auth``)."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from core.auth import add_session_views, start_session
from core.french import of
from core.throttle import client_address, configured
from core.views import show_domain_error
from models.libeo import db
from models.libeo.accounts.models import NO_DEBTOR_IBAN
from models.libeo.accounts.services import authenticate_user, create_account
from models.libeo.errors import LibeoError

from ..extensions import limiter
from .forms import SignupForm, every_signup_problem_shown

bp = Blueprint("auth", __name__)
add_session_views(bp, db=db, limiter=limiter, product="libeo", home_endpoint="invoices.list_invoices",
                  authenticate=authenticate_user)


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
            start_session(account.users[0])
            flash(f"Bienvenue ! Le compte Libeo {of(account.name)} est créé (formule Gratuit).", "success")
            if not account.has_debtor_iban:
                flash(NO_DEBTOR_IBAN, "warning")
            return redirect(url_for("invoices.list_invoices"))
    return render_template("libeo/auth/signup.html", form=form)


@bp.get("/conditions")
def terms():
    """« Conditions générales d'utilisation », linked from both sign-up forms; open to all."""
    return render_template("libeo/auth/terms.html")
