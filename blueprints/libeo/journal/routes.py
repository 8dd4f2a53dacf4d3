"""« Journal »: the account's sensitive events, newest first, for its administrators (read only)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import login_required

from core.dates import paris_moment
from core.listing import EXPORT_FORMATS, export_response, parse_list_args, streamed_rows, tidy_redirect
from core.paging import paginate
from core.views import page_number
from models.libeo import db
from models.libeo.journal import JOURNAL, journal_list, journal_tab_counts, kind_words

from ..context import current_account, require_admin

bp = Blueprint("journal", __name__, url_prefix="/journal")

PER_PAGE = 50


@bp.before_request
@login_required
def require_administrator():
    require_admin()


@bp.route("/")
def entries():
    if (tidy := tidy_redirect()) is not None:
        return tidy
    account = current_account()
    lq = parse_list_args(request.args, JOURNAL, page_number())
    pagination = paginate(db, journal_list(account.id, lq), lq.page, PER_PAGE, count_apart=not lq.search)
    return render_template("libeo/journal/list.html", pagination=pagination, lq=lq,
                           counts=journal_tab_counts(account.id, lq))


JOURNAL_EXPORT = ["Id", "Date", "Par", "Type", "Paiement n°", "Événement"]


@bp.route("/export.<fmt>")
def export_entries(fmt: str):
    """« Exporter »: the entries the list shows with the same search and tab, every page. (The journal's
    sentences mask IBANs as they were written.)"""
    if fmt not in EXPORT_FORMATS:
        abort(404)
    lq = parse_list_args(request.args, JOURNAL)
    rows = streamed_rows(db.session, *journal_list(current_account().id, lq), lambda row: [
        row.JournalEntry.id, paris_moment(row.JournalEntry.created_at), row.JournalEntry.actor,
        kind_words(row.JournalEntry.kind), row.JournalEntry.payment_id, row.JournalEntry.message])
    return export_response(fmt, "journal", "Journal", JOURNAL_EXPORT, rows)
