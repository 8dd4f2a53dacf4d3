"""« Paiements »: every payment of the account, its status and who asked for it; cancel, « Marquer comme débité »."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from core.dates import as_utc, paris_today
from core.listing import (
    EXPORT_FORMATS,
    cents_value,
    export_response,
    parse_list_args,
    streamed_rows,
    tab_total,
    tidy_redirect,
)
from core.paging import paginate
from core.security import safe_next_url
from core.validators import mask_iban
from core.views import page_number, pdf_response, show_domain_error
from models.libeo import db
from models.libeo.errors import LibeoError
from models.libeo.payments.bank_leg import anomalies_to_resolve, decided_anomalies, mark_debited
from models.libeo.payments.lists import PAYMENTS, as_payment_lines, payment_lines, payment_list, payment_tab_counts
from models.libeo.payments.order import cancel_payment
from models.libeo.payments.receipt import payment_receipt, receipt_file_name

from ..context import account_payment_or_404, current_account
from .forms import CancelForm, MarkDebitedForm

bp = Blueprint("payments", __name__, url_prefix="/paiements")

PER_PAGE = 25


@bp.before_request
@login_required
def require_login():
    """Every page of « Paiements » needs a signed-in user."""


@bp.route("/")
def list_payments():
    if (tidy := tidy_redirect()) is not None:
        return tidy
    account = current_account()
    lq = parse_list_args(request.args, PAYMENTS, page_number())
    # Plain rows, not ORM objects: the page only shows them. The tabs' counts say how many rows the
    # filter holds: the page is read alone (a search stops at the page's rows).
    counts = payment_tab_counts(account, lq)
    pagination = paginate(db, payment_lines(account, lq), lq.page, PER_PAGE, plain=True, total=tab_total(counts, lq))
    pagination.items = as_payment_lines(pagination.items)
    return render_template("libeo/payments/list.html", pagination=pagination, lq=lq, counts=counts)


PAYMENTS_EXPORT = ["Id", "Facture", "Id de la facture", "Fournisseur", "IBAN du fournisseur", "BIC", "Montant",
                   "Devise", "Exécution", "Statut", "Remise", "Initié par", "Demandé le"]


@bp.route("/export.<fmt>")
def export_payments(fmt: str):
    """« Exporter »: the payments the list shows with the same search and filters, every page."""
    if fmt not in EXPORT_FORMATS:
        abort(404)
    lq = parse_list_args(request.args, PAYMENTS)
    # Administrators read whole IBANs (they approve payments to them); others see them masked.
    iban = (lambda value: value) if current_user.is_admin else mask_iban
    rows = streamed_rows(db.session, *payment_list(current_account(), lq), lambda row: [
        row.Payment.id, row.Payment.invoice.number, row.Payment.invoice_id, row.Payment.creditor_name,
        iban(row.Payment.creditor_iban), row.Payment.creditor_bic, cents_value(row.Payment.amount_cents),
        row.Payment.currency, row.Payment.execution_date, row.Payment.status_label,
        row.Payment.batch.reference if row.Payment.batch else None, row.Payment.initiated_by_email,
        paris_today(as_utc(row.Payment.created_at))])
    return export_response(fmt, "paiements", "Paiements", PAYMENTS_EXPORT, rows)


@bp.route("/<int:payment_id>")
def payment(payment_id: int):
    found = account_payment_or_404(payment_id)
    account = current_account()
    return render_template("libeo/payments/detail.html", payment=found,
                           anomalies=anomalies_to_resolve(account, found.id),
                           decisions=decided_anomalies(account, found.id))


@bp.route("/<int:payment_id>/justificatif.pdf")
def receipt(payment_id: int):
    """« Ordre de virement », then « Justificatif de paiement » once debited; otherwise its page says why not."""
    payment = account_payment_or_404(payment_id)
    try:
        content = payment_receipt(payment)
    except LibeoError as error:
        flash(error.message, "error")
        return redirect(url_for("payments.payment", payment_id=payment_id))
    return pdf_response(content, receipt_file_name(payment))


@bp.route("/<int:payment_id>/annuler", methods=["GET", "POST"])
def cancel(payment_id: int):
    """« Annuler »: a confirmation page, then the cancellation."""
    account = current_account()
    payment = account_payment_or_404(payment_id)
    back = safe_next_url(request.values.get("next"), url_for("payments.payment", payment_id=payment_id))
    form = CancelForm()
    if request.method == "GET":
        return render_template("libeo/payments/cancel.html", payment=payment, form=form, back=back)
    if not form.validate_on_submit():
        abort(400)
    number = payment.invoice.number
    try:
        cancel_payment(account, payment, actor=current_user.email)
    except LibeoError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(f"Le paiement de la facture {number} est annulé.", "success")
    return redirect(back)


@bp.route("/<int:payment_id>/debite", methods=["GET", "POST"])
def mark_as_debited(payment_id: int):
    """« Marquer comme débité »: the debit date the statement shows, then the change."""
    account = current_account()
    payment = account_payment_or_404(payment_id)
    form = MarkDebitedForm()
    if form.validate_on_submit():
        number = payment.invoice.number
        try:
            moved = mark_debited(account, payment, current_user.email, form.debit_date.data)
        except LibeoError as error:
            db.session.rollback()
            if error.field != "debit_date":
                flash(error.message, "error")
                return redirect(url_for("payments.payment", payment_id=payment_id))
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(f"Le paiement de la facture {number} est marqué comme débité : {moved.status_label}.", "success")
            return redirect(url_for("payments.payment", payment_id=payment_id))
    elif not form.is_submitted():
        form.debit_date.data = max(payment.execution_date, paris_today())
    status = 422 if form.errors else 200
    return render_template("libeo/payments/mark_debited.html", payment=payment, form=form), status
