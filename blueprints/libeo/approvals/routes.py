"""« À approuver »: the payments Libeo's safeguards held, for the account's administrators to decide."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from core.dates import as_utc, paris_today
from core.listing import EXPORT_FORMATS, cents_value, export_response, parse_list_args, streamed_rows, tidy_redirect
from core.paging import paginate
from core.security import safe_next_url
from core.views import page_number
from models.libeo import db
from models.libeo.errors import LibeoError
from models.libeo.payments.approvals import (
    approval_blocker,
    approvals_label,
    approve_payment,
    refuse_payment,
)
from models.libeo.payments.lists import AWAITING, awaiting_list
from models.libeo.strong_auth.services import approval_operation

from ..context import ADMIN_ONLY, account_payment_or_404, current_account
from ..security.step_up import second_factor_first
from .forms import ApproveForm, RefuseForm

bp = Blueprint("approvals", __name__, url_prefix="/a-approuver")

PER_PAGE = 25


@bp.before_request
@login_required
def require_approver():
    """Only the account's approvers (administrators, the expert-comptable if allowed) see and decide held payments."""
    if not current_user.can_approve:
        abort(403, description=ADMIN_ONLY)


@bp.app_context_processor
def approval_helpers() -> dict:
    """What « À approuver » and a payment's page say about the person looking (``_decide.html``)."""
    def blocker(payment) -> str | None:
        return approval_blocker(current_account(), payment, current_user)

    return {"approval_blocker": blocker, "approvals_label": approvals_label}


@bp.route("/")
def list_awaiting():
    if (tidy := tidy_redirect()) is not None:
        return tidy
    lq = parse_list_args(request.args, AWAITING, page_number())
    pagination = paginate(db, awaiting_list(current_account(), lq), lq.page, PER_PAGE, count_apart=not lq.search)
    return render_template("libeo/approvals/list.html", pagination=pagination, refuse_form=RefuseForm(), lq=lq)


AWAITING_EXPORT = ["Id", "Facture", "Id de la facture", "Fournisseur", "IBAN du fournisseur", "BIC", "Montant",
                   "Devise", "Exécution", "Motifs", "Initié par", "Demandé le"]


@bp.route("/export.<fmt>")
def export_awaiting(fmt: str):
    """« Exporter »: the held payments the list shows with the same search and filters, every page (for
    administrators only, who approve payments to these IBANs and read them whole)."""
    if fmt not in EXPORT_FORMATS:
        abort(404)
    lq = parse_list_args(request.args, AWAITING)
    rows = streamed_rows(db.session, *awaiting_list(current_account(), lq), lambda row: [
        row.Payment.id, row.Payment.invoice.number, row.Payment.invoice_id, row.Payment.creditor_name,
        row.Payment.creditor_iban, row.Payment.creditor_bic, cents_value(row.Payment.amount_cents),
        row.Payment.currency, row.Payment.execution_date, ", ".join(row.Payment.hold_labels or []),
        row.Payment.initiated_by_email, paris_today(as_utc(row.Payment.created_at))])
    return export_response(fmt, "a-approuver", "À approuver", AWAITING_EXPORT, rows)


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
        progress = approvals_label(approved) if approved.status.value == "awaiting_approval" else None
        if progress:
            flash(f"Votre approbation du paiement de la facture {number} à {supplier} est enregistrée ({progress}) : "
                  "il attend l'approbation d'un autre approbateur.", "success")
        else:
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
