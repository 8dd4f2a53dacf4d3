"""« Journal »: the account's sensitive events, newest first, for its administrators (read only)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from core.views import page_number
from models.libeo import db
from models.libeo.journal import journal_query

from ..context import current_account, require_admin

bp = Blueprint("journal", __name__)

PER_PAGE = 50


@bp.before_request
@login_required
def require_administrator():
    require_admin()


@bp.route("/")
def entries():
    pagination = db.paginate(journal_query(current_account().id), page=page_number(), per_page=PER_PAGE,
                             error_out=False)
    return render_template("libeo/journal/list.html", pagination=pagination)
