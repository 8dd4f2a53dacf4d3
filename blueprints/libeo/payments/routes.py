"""« Paiements »: every payment of the account, its status and who asked for it."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from core.security import safe_next_url
from core.views import page_number
from models.libeo import db
from models.libeo.errors import LibeoError
from models.libeo.payments import account_payment, cancel_payment, payments_query

from ..context import current_account
from . import bp
from .forms import CancelForm

PER_PAGE = 25


@bp.before_request
@login_required
def require_login():
    """Every page of « Paiements » needs a signed-in user."""


@bp.route("/")
def list_payments():
    pagination = db.paginate(payments_query(current_account()), page=page_number(), per_page=PER_PAGE, error_out=False)
    return render_template("libeo/payments/list.html", pagination=pagination)


@bp.route("/<int:payment_id>/annuler", methods=["POST"])
def cancel(payment_id: int):
    account = current_account()
    payment = account_payment(account, payment_id)
    if payment is None:
        abort(404)
    back = safe_next_url(request.form.get("next"), url_for("payments.list_payments"))
    if not CancelForm().validate_on_submit():
        abort(400)
    try:
        cancel_payment(account, payment)
    except LibeoError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(f"Le paiement de la facture {payment.invoice.number} est annulé.", "success")
    return redirect(back)
