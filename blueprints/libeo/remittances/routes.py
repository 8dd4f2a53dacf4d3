"""« Remises »: the account's SEPA files (pain.001) to download, and the bank's answers (pain.002) to import."""

from __future__ import annotations

from io import BytesIO

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    send_file,
    url_for,
)
from flask_login import current_user, login_required

from core.paging import paginate
from core.views import page_number
from models.libeo import db
from models.libeo.errors import LibeoError
from models.libeo.payments.bank_status import MAX_REPORT_BYTES
from models.libeo.payments.bank_status_import import import_bank_status
from models.libeo.payments.sepa import (
    account_batch,
    batch_file,
    batch_payments,
    batch_status_label,
    batches_query,
    status_counts,
)

from ..context import current_account
from .forms import BankStatusForm

bp = Blueprint("remittances", __name__)

PER_PAGE = 25


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
    pagination = paginate(db, batches_query(current_account()), page_number(), PER_PAGE)
    counts = status_counts([batch.id for batch in pagination.items])
    labels = {batch.id: batch_status_label(batch, counts[batch.id]) for batch in pagination.items}
    return render_template("libeo/remittances/list.html", pagination=pagination, labels=labels, form=form), status


@bp.route("/")
def list_batches():
    return _render_list(BankStatusForm())


@bp.route("/<int:batch_id>")
def batch(batch_id: int):
    found = _batch_or_404(batch_id)
    return render_template("libeo/remittances/detail.html", batch=found, payments=batch_payments(found))


@bp.route("/<int:batch_id>/fichier")
def download(batch_id: int):
    """The pain.001 file, as the bank expects it."""
    found = _batch_or_404(batch_id)
    content = batch_file(found, current_app.config.get("SEPA_EXPORT_DIR"))
    if content is None:
        abort(404, description="Le fichier de cette remise n'est pas disponible.")
    response = send_file(
        BytesIO(content),
        mimetype="application/xml",
        as_attachment=True,
        download_name=f"{found.reference}.xml",
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/releve", methods=["POST"])
def import_report():
    """« Importer un relevé de la banque (pain.002) »: its payments are paid or rejected."""
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
    flash(result.summary, "success" if result.changed else "info")
    return redirect(url_for("remittances.list_batches"))
