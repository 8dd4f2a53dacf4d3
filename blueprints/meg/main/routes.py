from flask import abort, flash, redirect, request, session, url_for
from flask_login import current_user, login_required

from core.security import safe_next_url

from . import bp


@bp.route("/")
@login_required
def home():
    return redirect(url_for("achats.invoices"))


@bp.route("/entreprise", methods=["POST"])
@login_required
def switch_company():
    """The company switcher: only a company the user may open is accepted."""
    raw = request.form.get("company_id", "")
    company = current_user.company(int(raw)) if raw.isdigit() and len(raw) < 12 else None
    if company is None:
        abort(404)
    session["company_id"] = company.id
    flash(f"Vous travaillez maintenant sur « {company.name} ».", "info")
    return redirect(safe_next_url(request.form.get("next"), url_for("achats.invoices")))
