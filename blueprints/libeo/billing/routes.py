import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError

from core.throttle import signed_in_user
from models.libeo import db
from models.libeo.billing import subscriptions as billing
from models.libeo.billing.invoices import invoice_pdf, subscription_invoice, subscription_invoices
from models.libeo.billing.stripe_gateway import (
    publishable_key,
    stripe_client,
    stripe_js_url,
    webhook_secret,
)
from models.libeo.errors import LibeoError
from models.libeo.payments.quota import PaymentQuota

from ..context import require_admin
from ..extensions import csrf, limiter
from .forms import ChangeForm, SubscribeForm

bp = Blueprint("billing", __name__, url_prefix="/abonnement")

log = logging.getLogger(__name__)


@bp.get("")
@login_required
def subscription():
    account = current_user.account
    try:
        invoices = subscription_invoices(account, stripe_client(current_app.config))
    except LibeoError:
        invoices = None  # Stripe does not answer: the page says so, the rest of it works
    return render_template(
        "libeo/billing/subscription.html",
        account=account,
        quota=PaymentQuota.for_account(account),
        subscribed=billing.has_subscription(account),
        ends_on=billing.period_end_date(account),
        form=SubscribeForm(),
        change_form=ChangeForm(),
        stripe_js_url=stripe_js_url(current_app.config),
        stripe_key=publishable_key(current_app.config),
        invoices=invoices,
    )


@bp.get("/factures/<invoice_id>.pdf")
@login_required
def invoice_document(invoice_id: str):
    """A subscription invoice as a PDF drawn from Stripe's figures."""
    account = current_user.account
    try:
        invoice = subscription_invoice(account, stripe_client(current_app.config), invoice_id)
    except LibeoError as error:
        flash(error.message, "error")
        return redirect(url_for("billing.subscription"))
    if invoice is None:
        abort(404)
    response = make_response(invoice_pdf(account, invoice))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="facture-libeo-{invoice.number}.pdf"'
    return response


@bp.post("/carte")
@login_required
# Each call creates a SetupIntent in Stripe.
@limiter.limit("10 per minute", key_func=signed_in_user)
def card_setup():
    """Called by billing.js: the SetupIntent Stripe.js confirms with the card typed in; administrators only."""
    require_admin()
    try:
        client_secret = billing.start_card_setup(
            current_user.account, stripe_client(current_app.config), email=current_user.email
        )
    except LibeoError as error:
        db.session.rollback()
        status = 503 if isinstance(error, billing.BillingUnavailable) else 409
        return jsonify(error=error.message), status
    db.session.commit()
    return jsonify(client_secret=client_secret)


@bp.post("/souscrire")
@login_required
def subscribe():
    """« Passer à Partnerships »: the company pays 9 € HT a month; administrators only."""
    require_admin()
    form = SubscribeForm()
    if not form.validate_on_submit():
        flash(_first_error(form), "error")
        return redirect(url_for(".subscription"))
    try:
        billing.subscribe(current_user.account, form.setup_intent.data, stripe_client(current_app.config))
    except LibeoError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for(".subscription"))
    db.session.commit()
    flash("Bienvenue dans Partnerships : vos paiements sont désormais illimités.", "success")
    return redirect(url_for(".subscription"))


@bp.route("/resilier", methods=["GET", "POST"])
@login_required
def cancel():
    """« Résilier l'abonnement »: a confirmation page, then the cancellation at the period's end; administrators
    only."""
    require_admin()
    if request.method == "GET":
        account = current_user.account
        return render_template("libeo/billing/cancel.html", account=account, ends_on=billing.period_end_date(account),
                               change_form=ChangeForm())
    return _change(billing.cancel, "Votre abonnement est résilié : il prend fin à la fin de la période payée.")


@bp.post("/reprendre")
@login_required
def resume():
    require_admin()
    return _change(billing.resume, "Votre abonnement Partnerships continue.")


def _change(use_case, done: str):
    form = ChangeForm()
    if not form.validate_on_submit():
        flash(_first_error(form), "error")
        return redirect(url_for(".subscription"))
    try:
        use_case(current_user.account, stripe_client(current_app.config), current_user.email)
    except LibeoError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for(".subscription"))
    db.session.commit()
    flash(done, "success")
    return redirect(url_for(".subscription"))


@bp.post("/webhook")
@csrf.exempt
def webhook():
    """Stripe's events, signed with the endpoint's secret; each applied once."""
    secret = webhook_secret(current_app)
    if not secret:
        log.error("Webhook Stripe reçu mais STRIPE_WEBHOOK_SECRET n'est pas configuré")
        return jsonify(error="Webhook non configuré."), 400
    try:
        event = billing.verified_event(request.get_data(), request.headers.get("Stripe-Signature", ""), secret)
        billing.apply_event(event)
        db.session.commit()
    except LibeoError as error:
        db.session.rollback()
        return jsonify(error=error.message), 400
    except IntegrityError:
        db.session.rollback()
        if not billing.already_applied(billing.event_id(event)):
            raise  # Stripe retries after a 500
    return jsonify(received=True)


def _first_error(form) -> str:
    for errors in form.errors.values():
        if errors:
            return errors[0]
    return "La demande n'a pas pu être traitée : rechargez la page et réessayez."
