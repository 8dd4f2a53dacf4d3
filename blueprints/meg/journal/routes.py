"""« Journal » of « Achats »: supplier IBAN changes and the Libeo connection, for Achats administrators."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from core.paging import paginate
from core.views import page_number
from models.meg import db
from models.meg.journal import journal_query

from ..context import current_company

bp = Blueprint("meg_journal", __name__, url_prefix="/achats/journal")

PER_PAGE = 50
ADMIN_ONLY = "Seuls les administrateurs du module « Achats » peuvent lire le journal."


@bp.before_request
@login_required
def require_achats_admin():
    if not current_user.is_achats_admin(current_company()):
        abort(403, description=ADMIN_ONLY)


@bp.route("/")
def entries():
    pagination = paginate(db, journal_query(current_company()), page_number(), PER_PAGE)
    return render_template("meg/journal/list.html", pagination=pagination)
