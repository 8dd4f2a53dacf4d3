"""« À approuver »: the payments Libeo's safeguards held, for the account's administrators to decide."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from core.paging import paginate
from core.security import safe_next_url
from core.views import page_number
from models.libeo import db
from models.libeo.errors import LibeoError
from models.libeo.payments.approvals import (
    approve_payment,
    awaiting_query,
    refuse_payment,
)
from models.libeo.strong_auth.services import approval_operation

from ..context import account_payment_or_404, current_account, require_admin
from ..security.step_up import second_factor_first
from .forms import ApproveForm, RefuseForm

bp = Blueprint("approvals", __name__)

PER_PAGE = 25


@bp.before_request
@login_required
def require_administrator():
    """Only the account's administrators see and decide held payments."""
    require_admin()


@bp.route("/")
def list_awaiting():
    pagination = paginate(db, awaiting_query(current_account()), page_number(), PER_PAGE)
    return render_template("libeo/approvals/list.html", pagination=pagination, refuse_form=RefuseForm())


def _back(payment_id: int) -> str:
    return safe_next_url(request.form.get("next"), url_for("approvals.list_awaiting"))


@bp.route("/<int:payment_id>/approuver", methods=["POST"])
def approve(payment_id: int):
    payment = account_payment_or_404(payment_id)
    if not ApproveForm().validate_on_submit():
        abort(400)
    # Confirmed for this payment's amount and payee IBAN: a change since the verification voids it.
    blocked = second_factor_first(approval_operation([payment]))
    if blocked is not None:
        return blocked
    number, supplier = payment.invoice.number, payment.creditor_name
    try:
        approved = approve_payment(current_account(), payment, current_user)
    except LibeoError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(f"Paiement de la facture {number} à {supplier} approuvé : {approved.status_label}.", "success")
    return redirect(_back(payment_id))


@bp.route("/<int:payment_id>/refuser", methods=["POST"])
def refuse(payment_id: int):
    payment = account_payment_or_404(payment_id)
    form = RefuseForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            flash(errors[0], "error")
        return redirect(_back(payment_id))
    number, supplier = payment.invoice.number, payment.creditor_name
    try:
        refuse_payment(current_account(), payment, current_user, form.reason.data)
    except LibeoError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(
            f"Paiement de la facture {number} à {supplier} refusé : il est annulé, la facture est de nouveau à payer.",
            "success",
        )
    return redirect(_back(payment_id))
