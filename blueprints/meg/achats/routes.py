"""« Achats »: supplier invoices, « Règlements », suppliers and « Options »."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import login_required
from wtforms.fields.choices import SelectChoice

from core.views import page_number, show_domain_error
from models.meg import PaymentMode, db
from models.meg.achats import (
    AchatsError,
    InvoiceData,
    SupplierData,
    company_invoice,
    create_invoice,
    create_supplier,
    invoices_query,
    invoices_to_settle_query,
    suppliers_query,
    update_invoice,
    update_supplier,
)
from models.meg.entities import Supplier

from ..context import current_company
from .libeo import libeo_state
from . import bp
from .forms import InvoiceForm, SupplierForm

PER_PAGE = 25


@bp.before_request
@login_required
def require_login():
    """Every page of the module needs a logged-in user with a company."""


def _invoice_or_404(invoice_id: int):
    invoice = company_invoice(current_company(), invoice_id)
    if invoice is None:
        abort(404)
    return invoice


def _supplier_choices(form: InvoiceForm) -> None:
    suppliers = db.session.scalars(suppliers_query(current_company())).all()
    form.supplier_id.choices = [SelectChoice(s.id, s.name) for s in suppliers]


def _invoice_data(form: InvoiceForm) -> InvoiceData:
    return InvoiceData(
        number=form.number.data,
        supplier_id=form.supplier_id.data,
        issue_date=form.issue_date.data,
        due_date=form.due_date.data,
        amount_cents=form.amount_cents,
        payment_mode=PaymentMode[form.payment_mode.data],
    )


@bp.route("/")
def invoices():
    pagination = db.paginate(invoices_query(current_company()), page=page_number(), per_page=PER_PAGE, error_out=False)
    return render_template("meg/achats/invoices.html", pagination=pagination)


@bp.route("/factures/nouvelle", methods=["GET", "POST"])
def new_invoice():
    form = InvoiceForm()
    _supplier_choices(form)
    if request.method == "GET":
        form.payment_mode.data = PaymentMode.LIBEO.name
    if form.validate_on_submit():
        try:
            invoice = create_invoice(current_company(), _invoice_data(form))
        except AchatsError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(f"La facture {invoice.number} est enregistrée.", "success")
            return redirect(url_for("achats.invoice", invoice_id=invoice.id))
    return render_template("meg/achats/invoice_form.html", form=form, invoice=None)


@bp.route("/factures/<int:invoice_id>")
def invoice(invoice_id: int):
    invoice = _invoice_or_404(invoice_id)
    libeo = libeo_state(current_company(), [invoice], refresh=True)
    return render_template("meg/achats/invoice.html", invoice=invoice, libeo=libeo)


@bp.route("/factures/<int:invoice_id>/modifier", methods=["GET", "POST"])
def edit_invoice(invoice_id: int):
    invoice = _invoice_or_404(invoice_id)
    if invoice.is_paid:
        flash("Cette facture est réglée : elle ne peut plus être modifiée.", "error")
        return redirect(url_for("achats.invoice", invoice_id=invoice.id))
    form = InvoiceForm()
    _supplier_choices(form)
    if request.method == "GET":
        form.fill_from(invoice)
    if form.validate_on_submit():
        try:
            update_invoice(invoice, _invoice_data(form))
        except AchatsError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(f"La facture {invoice.number} est modifiée.", "success")
            return redirect(url_for("achats.invoice", invoice_id=invoice.id))
    return render_template("meg/achats/invoice_form.html", form=form, invoice=invoice)


@bp.route("/reglements")
def settlements():
    company = current_company()
    pagination = db.paginate(invoices_to_settle_query(company), page=page_number(), per_page=PER_PAGE, error_out=False)
    libeo = libeo_state(company, pagination.items)
    return render_template("meg/achats/settlements.html", pagination=pagination, libeo=libeo)


@bp.route("/fournisseurs")
def suppliers():
    pagination = db.paginate(suppliers_query(current_company()), page=page_number(), per_page=PER_PAGE, error_out=False)
    return render_template("meg/achats/suppliers.html", pagination=pagination)


def _supplier_or_404(supplier_id: int) -> Supplier:
    supplier = db.session.get(Supplier, supplier_id)
    if supplier is None or supplier.company_id != current_company().id:
        abort(404)
    return supplier


@bp.route("/fournisseurs/nouveau", methods=["GET", "POST"])
def new_supplier():
    form = SupplierForm()
    if form.validate_on_submit():
        supplier = create_supplier(current_company(), SupplierData(form.name.data, form.iban.data, form.bic.data))
        db.session.commit()
        flash(f"Le fournisseur « {supplier.name} » est enregistré.", "success")
        return redirect(url_for("achats.suppliers"))
    return render_template("meg/achats/supplier_form.html", form=form, supplier=None)


@bp.route("/fournisseurs/<int:supplier_id>/modifier", methods=["GET", "POST"])
def edit_supplier(supplier_id: int):
    supplier = _supplier_or_404(supplier_id)
    form = SupplierForm(obj=supplier)
    if form.validate_on_submit():
        update_supplier(supplier, SupplierData(form.name.data, form.iban.data, form.bic.data))
        db.session.commit()
        flash(f"Le fournisseur « {supplier.name} » est modifié.", "success")
        return redirect(url_for("achats.suppliers"))
    return render_template("meg/achats/supplier_form.html", form=form, supplier=supplier)
