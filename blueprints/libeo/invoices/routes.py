"""« Factures »: every invoice of the account, from MEG or entered here, and « Payer »."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from core.calendar import earliest_words, late_payment_warning
from core.dates import date_fr, paris_today
from core.files import MAX_DOCUMENT_BYTES
from core.listing import EXPORT_FORMATS, cents_value, export_response, parse_list_args, streamed_rows, tidy_redirect
from core.paging import paginate
from core.throttle import configured, signed_in_user
from core.validators import mask_iban
from core.views import accepts_upload, page_number, pdf_response, show_domain_error
from models.libeo import Channel, InitiatorRole, PaymentStatus, db
from models.libeo.errors import InvalidData, LibeoError, QuotaExceeded
from models.libeo.invoices.documents import (
    document_file_name,
    invoice_document,
    too_large_message,
)
from models.libeo.invoices.einvoices import enter_invoice, read_invoice_file
from models.libeo.invoices.lists import INVOICES, invoice_list, invoice_tab_counts
from models.libeo.invoices.services import (
    account_invoice,
    change_supplier_iban,
)
from models.libeo.payments.order import (
    Initiator,
    invoice_payments,
    pay_invoice,
    proposed_execution_date,
)
from models.libeo.payments.quota import PaymentQuota
from models.libeo.payments.safeguards import rejected_ibans
from models.libeo.payments.selection import (
    outcome_summary,
    pay_selection,
    selected_ids,
    selection_confirmation,
)
from models.libeo.payments.week import week_summary

from ..context import current_account
from ..extensions import limiter
from .forms import IbanForm, InvoiceForm, PayForm

bp = Blueprint("invoices", __name__, url_prefix="/factures")

PER_PAGE = 25
FORM_FIELDS = {"amount_cents": "amount"}
TOO_LARGE_FILE = too_large_message()


@bp.before_request
@login_required
def require_login():
    """Every page of « Factures » needs a signed-in user."""


def _invoice_or_404(invoice_id: int):
    invoice = account_invoice(current_account(), invoice_id)
    if invoice is None:
        abort(404)
    return invoice


@bp.route("/")
def list_invoices():
    if (tidy := tidy_redirect()) is not None:
        return tidy
    account = current_account()
    lq = parse_list_args(request.args, INVOICES, page_number())
    pagination = paginate(db, invoice_list(account, lq), lq.page, PER_PAGE, count_apart=not lq.search)
    return render_template(
        "libeo/invoices/list.html", pagination=pagination, quota=PaymentQuota.for_account(account), lq=lq,
        counts=invoice_tab_counts(account, lq), summary=week_summary(account),
        # Payable, yet « Payer » would be refused: the bank rejected their IBAN for a reason of the account.
        rejected_ibans=rejected_ibans(account.id, {i.supplier_iban for i in pagination.items if i.is_payable}),
    )


INVOICES_EXPORT = ["Id", "Numéro", "Fournisseur", "IBAN du fournisseur", "BIC", "Date", "Échéance", "Montant TTC",
                   "Net à payer", "Devise", "Source", "Statut"]


@bp.route("/export.<fmt>")
def export_invoices(fmt: str):
    """« Exporter »: the invoices the list shows with the same search and filters, every page."""
    if fmt not in EXPORT_FORMATS:
        abort(404)
    lq = parse_list_args(request.args, INVOICES)
    # Administrators read whole IBANs (they approve payments to them); others see them masked.
    iban = (lambda value: value) if current_user.is_admin else mask_iban
    rows = streamed_rows(db.session, *invoice_list(current_account(), lq), lambda row: [
        row.Invoice.id, row.Invoice.number, row.Invoice.supplier_name, iban(row.Invoice.supplier_iban),
        row.Invoice.supplier_bic, row.Invoice.issue_date, row.Invoice.due_date,
        cents_value(row.Invoice.total_with_tax_cents), cents_value(row.Invoice.amount_cents), row.Invoice.currency,
        row.Invoice.source.label, row.Invoice.status_label])
    return export_response(fmt, "factures", "Factures", INVOICES_EXPORT, rows)


@bp.route("/nouvelle", methods=["GET", "POST"])
@limiter.limit(configured("EINVOICE_IMPORT_LIMIT"), key_func=signed_in_user, methods=["POST"])
@accepts_upload(MAX_DOCUMENT_BYTES)
def new_invoice():
    """« Nouvelle facture », with its file if the person gives it: a PDF kept and shown on the invoice's page,
    or the supplier's e-invoice, which fills the fields left empty and checks those typed."""
    form = InvoiceForm()
    if not form.is_submitted():
        return render_template("libeo/invoices/form.html", form=form)
    upload = form.document.data
    try:
        file = read_invoice_file(upload.filename, upload.read(MAX_DOCUMENT_BYTES + 1)) if upload else None
    except InvalidData as error:
        form.validate()
        form.document.errors = [*form.document.errors, error.message]
        return render_template("libeo/invoices/form.html", form=form)
    filled = form.fill_blanks(file.field_values()) if file else []
    valid = form.validate()
    # What the e-invoice does not say and the person did not type: said in the file's words.
    missing = {name: message for name, message in (file.missing() if file else {}).items() if not form[name].data}
    for name, message in missing.items():
        form[name].errors = [message]
    if valid and not missing:
        assert form.amount_cents is not None  # validate_amount set it
        try:
            invoice = enter_invoice(
                current_account(), file,
                number=form.number.data,
                supplier_name=form.supplier_name.data,
                supplier_iban=form.supplier_iban.data,
                supplier_bic=form.supplier_bic.data,
                issue_date=form.issue_date.data,
                due_date=form.due_date.data,
                amount_cents=form.amount_cents,
            )
        except LibeoError as error:
            db.session.rollback()
            show_domain_error(form, error, FORM_FIELDS)
        else:
            db.session.commit()
            read = f", lue dans le fichier {file.described}" if file and file.einvoice else ""
            flash(f"La facture {invoice.number} est enregistrée{read}.", "success")
            if file and (warning := file.buyer_warning(current_account())):
                flash(warning, "warning")
            return redirect(url_for("invoices.invoice", invoice_id=invoice.id))
    return render_template("libeo/invoices/form.html", form=form, file=file, filled=filled)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error):
    """A file above the limit: the form says so (nothing is kept), rather than a bare error."""
    form = InvoiceForm(formdata=None)
    form.document.errors = [TOO_LARGE_FILE]
    return render_template("libeo/invoices/form.html", form=form), 413


def _render_invoice(invoice, form: PayForm, status: int = 200, iban_form: IbanForm | None = None):
    proposed, reason = proposed_execution_date(invoice)
    if not form.is_submitted():
        form.execution_date.data = proposed
    chosen = form.execution_date.data if isinstance(form.execution_date.data, date) else proposed
    if iban_form is None:
        iban_form = IbanForm(formdata=None)
    return (
        render_template(
            "libeo/invoices/detail.html",
            invoice=invoice,
            document=invoice_document(invoice),
            payments=invoice_payments(invoice),
            form=form,
            iban_form=iban_form,
            # The bank rejected the last transfer to this IBAN for a reason of the account: « Payer » would be
            # refused; the page says why and where the new IBAN goes instead.
            iban_rejected=rejected_ibans(invoice.account_id, {invoice.supplier_iban}).get(invoice.supplier_iban)
            if invoice.is_payable else None,
            date_hint=f"{reason} Un jour ouvré, jamais avant {earliest_words(paris_today())}, à un an au plus.",
            late_warning=late_payment_warning(chosen, invoice.due_date),
            quota=PaymentQuota.for_account(current_account()),
        ),
        status,
    )


@bp.route("/<int:invoice_id>")
def invoice(invoice_id: int):
    return _render_invoice(_invoice_or_404(invoice_id), PayForm())


@bp.route("/<int:invoice_id>/iban", methods=["POST"])
def change_iban(invoice_id: int):
    """« Modifier l'IBAN du fournisseur » of an invoice entered in Libeo (nothing paid nor under way)."""
    invoice = _invoice_or_404(invoice_id)
    form = IbanForm()
    if not form.validate_on_submit():
        return _render_invoice(invoice, PayForm(formdata=None), 422, form)
    try:
        done = change_supplier_iban(current_account(), invoice, form.supplier_iban.data or "",
                                    form.supplier_bic.data, current_user.email)
    except LibeoError as error:
        db.session.rollback()
        if isinstance(error, InvalidData) and error.field in ("supplier_iban", "supplier_bic"):
            form[error.field].errors = [*form[error.field].errors, error.message]
            return _render_invoice(invoice, PayForm(formdata=None), 422, form)
        flash(error.message, "error")
        return redirect(url_for("invoices.invoice", invoice_id=invoice_id))
    db.session.commit()
    flash(f"{done} Le prochain paiement vers ce nouvel IBAN attendra l'approbation d'un administrateur, comme tout "
          "changement d'IBAN.", "success")
    return redirect(url_for("invoices.invoice", invoice_id=invoice_id))


@bp.route("/<int:invoice_id>/document.pdf")
def document(invoice_id: int):
    """The invoice's PDF, as MEG sent it."""
    invoice = _invoice_or_404(invoice_id)
    found = invoice_document(invoice)
    if found is None:
        abort(404, description="Cette facture n'a pas de document.")
    return pdf_response(found.content, document_file_name(invoice))


@bp.route("/<int:invoice_id>/payer", methods=["POST"])
@limiter.limit(configured("PAYMENT_LIMIT"), key_func=signed_in_user)
def pay(invoice_id: int):
    invoice = _invoice_or_404(invoice_id)
    form = PayForm()
    if not form.validate_on_submit():
        return _render_invoice(invoice, form, 422)
    account = current_account()
    try:
        payment = pay_invoice(
            account,
            invoice,
            Initiator(current_user.email, InitiatorRole.USER, Channel.LIBEO),
            form.execution_date.data,
        )
    except QuotaExceeded as error:
        db.session.rollback()
        flash(error.message, "quota")
        return redirect(url_for("invoices.invoice", invoice_id=invoice_id))
    except LibeoError as error:
        db.session.rollback()
        if error.field == "execution_date":
            form.execution_date.errors = [*form.execution_date.errors, error.message]
            return _render_invoice(invoice, form, 422)
        flash(error.message, "error")
        return redirect(url_for("invoices.invoice", invoice_id=invoice_id))
    db.session.commit()
    if payment.status is PaymentStatus.AWAITING_APPROVAL:
        flash(
            f"Le paiement de la facture {invoice.number} ({payment.amount_display}) est retenu pour approbation "
            f"({', '.join(payment.hold_labels)}) : un administrateur doit l'approuver dans « À approuver ».",
            "warning",
        )
    else:
        late = late_payment_warning(payment.execution_date, invoice.due_date)
        flash(
            f"Le paiement de la facture {invoice.number} ({payment.amount_display}) est programmé "
            f"pour le {date_fr(payment.execution_date)}." + (f" {late}" if late else ""),
            "warning" if late else "success",
        )
    return redirect(url_for("invoices.invoice", invoice_id=invoice_id))


# --- « Payer la sélection » -----------------------------------------------------------------------


def _initiator() -> Initiator:
    return Initiator(current_user.email, InitiatorRole.USER, Channel.LIBEO)


def _selection_dates(form, ids: list[int]) -> dict[int, date]:
    """The dates typed per row, or the one for all; a text that is no date refuses the whole."""
    for_all = form.get("date_all", "").strip()
    dates = {}
    for invoice_id in ids:
        typed = for_all or form.get(f"date-{invoice_id}", "").strip()
        if typed:
            try:
                dates[invoice_id] = date.fromisoformat(typed)
            except ValueError:
                raise InvalidData(f"La date d'exécution « {typed[:20]} » n'est pas une date : rien n'a été payé.",
                                  "execution_date") from None
    return dates


@bp.route("/selection")
def selection():
    """The confirmation of the invoices ticked in « Factures »."""
    try:
        confirmation = selection_confirmation(current_account(), selected_ids(request.args.getlist("facture")),
                                              _initiator())
    except LibeoError as error:
        flash(error.message, "error")
        return redirect(url_for("invoices.list_invoices"))
    return render_template("libeo/invoices/selection_confirm.html", confirmation=confirmation)


@bp.route("/selection", methods=["POST"])
@limiter.limit(configured("PAYMENT_LIMIT"), key_func=signed_in_user)
def pay_selected():
    """« Confirmer les N paiements »: the result of each, shown at once (a second sending pays nothing twice)."""
    account = current_account()
    try:
        ids = selected_ids(request.form.getlist("facture"))
        outcomes = pay_selection(account, ids, _initiator(), _selection_dates(request.form, ids))
    except LibeoError as error:
        db.session.rollback()
        flash(error.message, "error")
        if error.field == "execution_date":
            return redirect(url_for("invoices.selection", facture=request.form.getlist("facture")))
        return redirect(url_for("invoices.list_invoices"))
    return render_template("libeo/invoices/selection_result.html", outcomes=outcomes,
                           summary=outcome_summary(outcomes), quota=PaymentQuota.for_account(account))
