"""« Remises »: the account's SEPA files (pain.001) to download and say transmitted, the bank's answers
(pain.002, camt.053, camt.054) to import, and what they said that a person must decide."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from core.files import size_label
from core.ids import parse_id
from core.listing import parse_list_args, tidy_redirect
from core.paging import paginate
from core.views import accepts_upload, file_response, page_number
from models.libeo import db
from models.libeo.accounts.debtor_iban import latest_debtor_iban_change
from models.libeo.errors import LibeoError
from models.libeo.payments.bank_leg import (
    account_anomaly,
    anomalies_to_resolve,
    confirm_transmission,
    resolve_anomaly,
)
from models.libeo.payments.bank_status import MAX_REPORT_BYTES
from models.libeo.payments.bank_status_import import import_bank_status, recent_imports
from models.libeo.payments.lists import BATCHES, batch_list
from models.libeo.payments.sepa import (
    account_batch,
    batch_file,
    batch_payments,
    batch_status_label,
    status_counts,
)

from ..context import current_account
from ..extensions import login_manager
from .forms import AnomalyForm, BankStatusForm, TransmitForm

PER_PAGE = 25
# The same limit, in the same words, as a statement imported by the command line (bank_status.py).
TOO_LARGE_REPORT = ("Le fichier est trop volumineux : un relevé de la banque fait au plus "
                    f"{size_label(MAX_REPORT_BYTES)}.")

bp = Blueprint("remittances", __name__, url_prefix="/remises")


@bp.before_request
@login_required
def require_login():
    """« Remises » are the signed-in account's only."""


def _batch_or_404(batch_id: int):
    batch = account_batch(current_account(), batch_id)
    if batch is None:
        abort(404)
    return batch


def _render_list(form: BankStatusForm, status: int = 200):
    account = current_account()
    lq = parse_list_args(request.args, BATCHES, page_number())
    pagination = paginate(db, batch_list(account, lq), lq.page, PER_PAGE, count_apart=not lq.search)
    counts = status_counts([batch.id for batch in pagination.items])
    labels = {batch.id: batch_status_label(batch, counts[batch.id]) for batch in pagination.items}
    # The other actions' forms, empty: they never read this request (a refused upload is never read at all).
    transmit_form, anomaly_form = TransmitForm(formdata=None), AnomalyForm(formdata=None)
    return render_template(
        "libeo/remittances/list.html", pagination=pagination, labels=labels, form=form,
        anomalies=anomalies_to_resolve(account), imports=recent_imports(account),
        iban_change=latest_debtor_iban_change(account), transmit_form=transmit_form, anomaly_form=anomaly_form,
        lq=lq,
    ), status


@bp.route("/")
def list_batches():
    if (tidy := tidy_redirect()) is not None:
        return tidy
    return _render_list(BankStatusForm())


@bp.route("/<int:batch_id>")
def batch(batch_id: int):
    found = _batch_or_404(batch_id)
    payments = batch_payments(found)
    return render_template("libeo/remittances/detail.html", batch=found, payments=payments,
                           label=batch_status_label(found, status_counts([found.id])[found.id]),
                           transmit_form=TransmitForm())


@bp.route("/<int:batch_id>/fichier")
def download(batch_id: int):
    """The pain.001 file, as the bank expects it."""
    found = _batch_or_404(batch_id)
    content = batch_file(found, current_app.config.get("SEPA_EXPORT_DIR"))
    if content is None:
        abort(404, description="Le fichier de cette remise n'est pas disponible.")
    return file_response(content, "application/xml", f"{found.reference}.xml")


@bp.route("/<int:batch_id>/transmise", methods=["POST"])
def transmitted(batch_id: int):
    """« Transmis à la banque »: the file's payments wait for the bank's answer."""
    found = _batch_or_404(batch_id)
    if not TransmitForm().validate_on_submit():
        abort(400)
    try:
        moved = confirm_transmission(current_account(), found, current_user.email)
    except LibeoError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        count = len(moved)
        waiting = (f"{count} virement{'s' if count > 1 else ''} en attente de sa réponse (relevé de statut ou "
                   "relevé de compte à importer ici)." if count else "la banque a déjà répondu pour ses virements.")
        flash(f"Remise {found.reference} transmise à la banque : {waiting}", "success")
    back = request.form.get("from")
    return redirect(url_for("remittances.batch", batch_id=batch_id) if back == "detail"
                    else url_for("remittances.list_batches"))


@bp.get("/releve")
def report_form():
    """The address a refused import stays on, opened again (a reload, a bookmark): the form, on its page."""
    return redirect(url_for("remittances.list_batches") + "#releve")


@bp.route("/releve", methods=["POST"])
@accepts_upload(MAX_REPORT_BYTES)
def import_report():
    """« Importer un relevé de la banque »: its payments are accepted, debited or rejected."""
    form = BankStatusForm()
    if not form.validate_on_submit():
        return _render_list(form, 422)
    content = form.report.data.read(MAX_REPORT_BYTES + 1)
    try:
        result = import_bank_status(content, imported_by=current_user.email, account=current_account())
    except LibeoError as error:
        db.session.rollback()
        form.report.errors = [*form.report.errors, error.message]
        return _render_list(form, 422)
    db.session.commit()
    flash(result.summary, "warning" if result.needs_a_person else "success" if result.changed else "info")
    return redirect(url_for("remittances.list_batches"))


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error):
    """A statement above the limit: the page says so under its form (nothing is imported), rather than a bare
    error."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    form = BankStatusForm(formdata=None)
    form.report.errors = [TOO_LARGE_REPORT]
    return _render_list(form, 413)


@bp.route("/anomalies/<int:anomaly_id>", methods=["POST"])
def resolve(anomaly_id: int):
    """A person resolves what a bank report said that Libeo did not apply by itself."""
    if account_anomaly(current_account(), anomaly_id) is None:
        abort(404)
    form = AnomalyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        done = resolve_anomaly(current_account(), anomaly_id, form.decision.data or "", current_user.email,
                               parse_id(form.payment_id.data or ""))
    except LibeoError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(done, "success")
    return redirect(url_for("remittances.list_batches") + "#anomalies")
