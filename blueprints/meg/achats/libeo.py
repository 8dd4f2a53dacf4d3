"""« Options » (« Clé d'api LIBEO ») and « Payer »: MEG's screens of the Libeo integration."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from core.money import format_amount
from core.security import safe_next_url
from core.urls import public_url
from core.throttle import configured, signed_in_user
from models.meg import Company, PaymentMode, SupplierInvoice, db
from models.meg.libeo_link import (
    LibeoConnection,
    LibeoLinkError,
    LibeoPayment,
    PaymentStatus,
    accountant_registered,
    connect_company,
    connection_of,
    disconnect_company,
    pay_invoice,
    payer_for,
    refresh_status,
)

from ..context import current_company
from ..extensions import limiter
from . import bp
from .forms import ConfirmForm, LibeoKeyForm


@dataclass
class LibeoState:
    """What the « Règlements » and invoice pages need to show the « Payer » column."""

    company: Company
    connection: LibeoConnection | None
    may_pay: bool
    refusal: str | None
    payments: dict[int, LibeoPayment] = field(default_factory=dict)

    def payment(self, invoice: SupplierInvoice) -> LibeoPayment | None:
        return self.payments.get(invoice.id)

    def shows_pay_button(self, invoice: SupplierInvoice) -> bool:
        if invoice.payment_mode is not PaymentMode.LIBEO or invoice.is_paid or not self.may_pay:
            return False
        payment = self.payment(invoice)
        return payment is None or not payment.status.is_active

    def connect_url(self, invoice: SupplierInvoice) -> str:
        """Libeo's « Me connecter avec MEG » page, told where to bring the user back."""
        back = public_url("achats.invoice", invoice_id=invoice.id)
        return f"{current_app.config['LIBEO_URL'].rstrip('/')}/connexion-meg?{urlencode({'return_to': back})}"


def libeo_state(company: Company, invoices: list[SupplierInvoice], refresh: bool = False) -> LibeoState:
    connection = connection_of(company)
    refusal = None
    payer = payer_for(current_user, company)
    if not company.siret:
        refusal = "Paiement Libeo indisponible : l'entreprise n'a pas de SIRET dans MEG."
    elif payer is None:
        refusal = "Vous n'avez pas accès au règlement des factures de cette entreprise."
    elif payer.role == "accountant" and connection and not accountant_registered(connection, current_user):
        refusal = "Pour payer, l'entreprise doit vous ajouter comme expert-comptable dans son compte Libeo."
    payments: dict[int, LibeoPayment] = {}
    ids = [invoice.id for invoice in invoices if invoice.payment_mode is PaymentMode.LIBEO]
    if ids:
        for payment in db.session.scalars(
            select(LibeoPayment).where(LibeoPayment.invoice_id.in_(ids)).order_by(LibeoPayment.attempt)
        ):
            payments[payment.invoice_id] = payment  # the latest attempt wins
    if refresh:
        for payment in payments.values():
            refresh_status(payment)
    return LibeoState(company, connection, refusal is None, refusal, payments)


@bp.route("/factures/<int:invoice_id>/payer", methods=["POST"])
@limiter.limit(configured("PAYMENT_LIMIT"), key_func=signed_in_user)
def pay(invoice_id: int):
    company = current_company()
    invoice = db.session.scalar(
        select(SupplierInvoice).where(SupplierInvoice.id == invoice_id, SupplierInvoice.company_id == company.id)
    )
    if invoice is None:
        abort(404)
    form = ConfirmForm()
    back = safe_next_url(form.next.data, url_for("achats.invoice", invoice_id=invoice.id))
    if not form.validate_on_submit():
        abort(400)
    try:
        attempt = pay_invoice(invoice, current_user)
    except LibeoLinkError as error:
        db.session.rollback()
        if error.not_connected:
            return redirect(LibeoState(company, None, True, None).connect_url(invoice))
        flash(error.message, "error")
        if error.upgrade_url and error.upgrade_url.startswith(("https://", "http://")):
            flash(error.upgrade_url, "upgrade")
        return redirect(back)
    flash(_paid_message(invoice, attempt), "success")
    return redirect(back)


def _paid_message(invoice: SupplierInvoice, attempt: LibeoPayment) -> str:
    amount = format_amount(invoice.amount_cents, invoice.currency)
    if attempt.status is PaymentStatus.PAID:
        return f"La facture {invoice.number} est payée via Libeo ({amount})."
    when = ""
    if attempt.execution_date:
        year, month, day = attempt.execution_date.split("-")
        when = f" le {day}/{month}/{year}"
    return (
        f"Paiement programmé{when} : {amount} à {invoice.supplier.name} pour la facture {invoice.number}, via Libeo."
    )


@bp.route("/options", methods=["GET", "POST"])
def options():
    company = current_company()
    if not current_user.is_achats_admin(company):
        abort(403, description="Seuls les administrateurs du module « Achats » peuvent ouvrir les options.")
    form = LibeoKeyForm()
    if form.validate_on_submit():
        try:
            connection = connect_company(company, form.api_key.data, current_user)
        except LibeoLinkError as error:
            db.session.rollback()
            form.api_key.errors = [*form.api_key.errors, error.message]
        else:
            db.session.commit()
            flash(f"La connexion est établie avec le compte Libeo « {connection.account_name} ».", "success")
            return redirect(url_for("achats.options"))
    return render_template("meg/achats/options.html", form=form, connection=connection_of(company),
                           disconnect_form=ConfirmForm())


@bp.route("/options/libeo/supprimer", methods=["POST"])
def disconnect():
    company = current_company()
    if not current_user.is_achats_admin(company):
        abort(403, description="Seuls les administrateurs du module « Achats » peuvent ouvrir les options.")
    if ConfirmForm().validate_on_submit():
        disconnect_company(company)
        db.session.commit()
        flash("La connexion à Libeo est supprimée : la clé n'est plus conservée dans MEG.", "info")
    return redirect(url_for("achats.options"))
