"""« Achats » → « Importer une facture électronique »; an invoice's file; its « Justificatif de paiement »."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms.fields.choices import SelectChoice

from core.banks import bank_name
from core.db import reads_first
from core.einvoices.reading import EInvoiceError
from core.files import MAX_DOCUMENT_BYTES, size_label
from core.money import cents_to_input
from core.throttle import configured, signed_in_user
from core.validators import format_iban
from core.views import accepts_upload, file_response, pdf_response, show_domain_error
from models.meg import PaymentMode, db
from models.meg.achats.invoices import (
    AchatsError,
    PossibleDuplicate,
    company_invoice,
    company_supplier,
    suppliers_query,
)
from models.meg.achats.supplier_iban import IBAN_ADMINS_ONLY, may_change_iban
from models.meg.einvoices.documents import document_of
from models.meg.einvoices.imports import (
    ImportChoices,
    NewSupplier,
    Proposal,
    attach_to_recorded,
    discard_import,
    pending_import,
    proposal,
    save_import,
    start_import,
)
from models.meg.libeo_link.connection import LibeoLinkError
from models.meg.libeo_link.receipts import fetch_receipt

from ..context import current_company
from ..extensions import limiter, login_manager
from .forms import KEEP_IBAN, NEW_SUPPLIER, ButtonForm, ImportForm, UploadForm

bp = Blueprint("einvoices", __name__, url_prefix="/achats")

TOO_LARGE = (f"Ce fichier est trop volumineux : une facture électronique ne doit pas dépasser "
             f"{size_label(MAX_DOCUMENT_BYTES)}.")
EXPIRED = ("Ce fichier n'est plus disponible (import terminé, abandonné ou de plus de 24 heures) : "
           "importez-le de nouveau.")


@bp.before_request
@login_required
def require_login():
    """Every page needs a logged-in user with a company."""


@bp.app_template_global()
def invoice_file(invoice):
    """The invoice's file (name, type, size; not its bytes), for the invoice page; None without one."""
    return document_of(invoice.id)


# --- step 1: the file -----------------------------------------------------------------------------


@bp.route("/factures/importer", methods=["GET", "POST"])
@reads_first  # the file is read before the writers' turn is taken (start_import)
@limiter.limit(configured("EINVOICE_IMPORT_LIMIT"), key_func=signed_in_user, methods=["POST"])
@accepts_upload(MAX_DOCUMENT_BYTES)
def upload():
    form = UploadForm()
    if form.validate_on_submit():
        file = form.file.data
        content = file.read(MAX_DOCUMENT_BYTES + 1)
        try:
            pending = start_import(current_company(), current_user, file.filename, content)
        except EInvoiceError as error:
            db.session.rollback()
            form.file.errors = [*form.file.errors, str(error)]
        else:
            db.session.commit()
            return redirect(url_for("einvoices.confirm", import_id=pending.id))
    status = 422 if form.errors else 200
    return render_template("meg/einvoices/upload.html", form=form), status


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error):
    """A file above the limit: the page says so, rather than a bare error."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    form = UploadForm(formdata=None)
    form.file.errors = [TOO_LARGE]
    return render_template("meg/einvoices/upload.html", form=form), 413


# --- step 2: the invoice to confirm ---------------------------------------------------------------


def _pending_or_404(import_id: int):
    """The person's own file; another's, or one gone, is « not found », with what to do."""
    pending = pending_import(current_company(), current_user, import_id)
    if pending is None:
        abort(404, description=EXPIRED)
    return pending


def _supplier_choices(form: ImportForm, found: Proposal) -> None:
    suppliers = db.session.scalars(*suppliers_query(current_company())).all()
    new_label = f"Nouveau fournisseur : {found.einvoice.supplier_name}"
    form.supplier_id.choices = [SelectChoice(NEW_SUPPLIER, new_label)] + [
        SelectChoice(str(s.id), s.name) for s in suppliers
    ]


def _prefill(form: ImportForm, found: Proposal) -> None:
    einvoice = found.einvoice
    form.supplier_id.data = str(found.supplier.id) if found.supplier else NEW_SUPPLIER
    form.iban_choice.data = KEEP_IBAN if found.iban_differs else None
    form.supplier_name.data = einvoice.supplier_name
    form.supplier_siret.data = einvoice.supplier_siret or ""
    form.supplier_iban.data = einvoice.iban or ""
    form.supplier_bic.data = einvoice.bic or ""
    form.number.data = einvoice.number
    form.issue_date.data = einvoice.issue_date
    form.due_date.data = found.due_date
    form.amount.data = cents_to_input(einvoice.amount_cents)
    form.payment_mode.data = found.payment_mode.name


def _choices(form: ImportForm) -> ImportChoices:
    assert form.amount_cents is not None  # validated: validate_amount set it
    new = None
    if form.chosen_supplier_id is None:
        new = NewSupplier(form.supplier_name.data, form.supplier_siret.data, form.supplier_iban.data,
                          form.supplier_bic.data)
    return ImportChoices(
        supplier_id=form.chosen_supplier_id, new_supplier=new, replace_iban=form.replace_iban,
        number=form.number.data, issue_date=form.issue_date.data, due_date=form.due_date.data,
        amount_cents=form.amount_cents, payment_mode=PaymentMode[form.payment_mode.data],
        confirm_duplicate=form.confirm_duplicate.data, confirm_shared_iban=form.confirm_shared_iban.data,
    )


@bp.route("/factures/importer/<int:import_id>", methods=["GET", "POST"])
@reads_first  # the file is read again before the writers' turn is taken (save_import)
def confirm(import_id: int):
    pending = _pending_or_404(import_id)
    found = proposal(current_company(), pending)
    form = ImportForm()
    _supplier_choices(form, found)
    if request.method == "GET":
        _prefill(form, found)
    duplicate, refused = None, False
    if form.validate_on_submit():
        try:
            saved = save_import(current_company(), pending, _choices(form))
        except PossibleDuplicate as warning:
            db.session.rollback()
            duplicate = warning
        except AchatsError as error:
            db.session.rollback()
            refused = True
            if error.message != found.currency_refusal:  # the page says that one already
                show_domain_error(form, error)
        else:
            db.session.commit()
            invoice = saved.invoice
            flash(f"La facture {invoice.number} de {invoice.supplier.name} est enregistrée, avec son fichier.",
                  "success")
            if saved.notice:
                flash(saved.notice, "warning")
            return redirect(url_for("achats.invoice", invoice_id=invoice.id))
    chosen = _chosen_supplier(form, found)
    return render_template("meg/einvoices/confirm.html", form=form, found=found, pending=pending, chosen=chosen,
                           duplicate=duplicate, button_form=ButtonForm(), bank=bank_name, format_iban=format_iban,
                           changes_iban=may_change_iban(current_user, current_company()),
                           iban_admins_only=IBAN_ADMINS_ONLY), \
        (422 if form.errors or refused else 200)


def _chosen_supplier(form: ImportForm, found: Proposal):
    """The supplier the form now names (the person may have picked another one than MEG found)."""
    chosen_id = form.chosen_supplier_id
    if chosen_id is None:
        return None
    try:
        return company_supplier(current_company(), chosen_id)
    except AchatsError:
        return None


@bp.route("/factures/importer/<int:import_id>/joindre", methods=["POST"])
@reads_first  # the file is read before the writers' turn is taken (attach_to_recorded)
def attach(import_id: int):
    """« Joindre ce fichier à la facture enregistrée »: the invoice was recorded before its file came."""
    pending = _pending_or_404(import_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        invoice = attach_to_recorded(current_company(), pending)
    except AchatsError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("einvoices.confirm", import_id=import_id))
    db.session.commit()
    flash(f"Le fichier « {pending.filename} » est joint à la facture {invoice.number}.", "success")
    return redirect(url_for("achats.invoice", invoice_id=invoice.id))


@bp.route("/factures/importer/<int:import_id>/abandonner", methods=["POST"])
def discard(import_id: int):
    """« Abandonner l'import »: the file is forgotten."""
    pending = _pending_or_404(import_id)
    if ButtonForm().validate_on_submit():
        discard_import(pending)
        db.session.commit()
        flash("Import abandonné : le fichier n'est pas conservé.", "info")
    return redirect(url_for("achats.invoices"))


# --- the invoice's file and its receipt --------------------------------------------------------------


def _invoice_or_404(invoice_id: int):
    invoice = company_invoice(current_company(), invoice_id)
    if invoice is None:
        abort(404)
    return invoice


@bp.route("/factures/<int:invoice_id>/fichier")
def document(invoice_id: int):
    """The file the invoice was imported from, with its name and type."""
    found = document_of(_invoice_or_404(invoice_id).id)
    if found is None:
        abort(404, description="Cette facture n'a pas de fichier joint.")
    return file_response(found.content, found.content_type, found.filename)


@bp.route("/factures/<int:invoice_id>/justificatif")
def receipt(invoice_id: int):
    """« Ordre de virement », then « Justificatif de paiement »: asked of Libeo now (a click may call Libeo;
    a page never does)."""
    invoice = _invoice_or_404(invoice_id)
    try:
        content, title = fetch_receipt(invoice)
    except LibeoLinkError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("achats.invoice", invoice_id=invoice.id))
    return pdf_response(content, f"{title} {invoice.number}.pdf")
