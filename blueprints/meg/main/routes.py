from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import HTTPException

from core.ids import parse_id
from core.security import safe_next_url
from core.views import saved
from models.meg import db
from models.meg.achats.invoices import AchatsError, update_company
from models.meg.companies.siret_trust import confirm_siret, is_companys_accountant, trust_status

from ..context import current_company
from .forms import CompanyForm, ConfirmSiretForm

bp = Blueprint("main", __name__)


@bp.route("/")
@login_required
def home():
    return redirect(url_for("achats.invoices"))


@bp.route("/entreprise", methods=["POST"])
@login_required
def switch_company():
    """The company switcher: only a company the user may open is accepted."""
    company_id = parse_id(request.form.get("company_id"))
    company = current_user.company(company_id) if company_id else None
    if company is None:
        abort(404)
    session["company_id"] = company.id
    flash(f"Vous travaillez maintenant sur « {company.name} ».", "info")
    return redirect(_same_page_of(safe_next_url(request.form.get("next"), "")))


# A page of one of the former company's records → the list it belongs to, in the company just opened.
_LIST_OF_RECORD = {
    "achats.invoice": "achats.invoices",
    "achats.edit_invoice": "achats.invoices",
    "achats.cancel_libeo_payment": "achats.invoices",
    "achats.client_invoice": "achats.clients",
    "achats.edit_supplier": "achats.suppliers",
    "einvoices.confirm": "achats.invoices",
}


def _same_page_of(target: str) -> str:
    """Where the switcher leads: the page it was used on, unless that page shows one record of the former
    company (an invoice, a supplier…), which the company just opened does not have: then its list."""
    if not target:
        return url_for("achats.invoices")
    path, root = target.split("?", 1)[0], request.script_root
    adapter = current_app.create_url_adapter(request)
    if adapter is None:
        return url_for("achats.invoices")
    try:
        endpoint, _ = adapter.match(path.removeprefix(root) if root else path, method="GET")
    except HTTPException:
        return url_for("achats.invoices")
    parent = _LIST_OF_RECORD.get(endpoint)
    return url_for(parent) if parent else target


@bp.route("/entreprise/fiche", methods=["GET", "POST"])
@login_required
def company_details():
    """Name and SIRET of the current company; its Achats administrators edit them."""
    company = current_company()
    accountant = is_companys_accountant(current_user, company)
    if not (current_user.is_achats_admin(company) or accountant):
        abort(403, description="Seuls les administrateurs du module « Achats » et l'expert-comptable de l'entreprise "
                               "peuvent modifier la fiche de l'entreprise.")
    form = CompanyForm(obj=company)
    if form.validate_on_submit():
        try:
            notice = update_company(company, form.name.data, form.siret.data, current_user)
        except AchatsError as error:
            db.session.rollback()
            form.siret.errors = [*form.siret.errors, error.message]
        else:
            return saved(db, "La fiche de l'entreprise est enregistrée.", "main.company_details", warning=notice)
    return render_template("meg/company.html", form=form, company=company, trust=trust_status(company),
                           accountant=accountant, confirm_form=ConfirmSiretForm())


@bp.route("/entreprise/fiche/confirmer-siret", methods=["POST"])
@login_required
def confirm_company_siret():
    """The company's expert-comptable confirms its SIRET: MEG may vouch for it in Libeo again."""
    company = current_company()
    if not ConfirmSiretForm().validate_on_submit():
        abort(400)
    try:
        confirm_siret(company, current_user)
    except PermissionError as refused:
        abort(403, description=str(refused))
    db.session.commit()
    flash(f"SIRET {company.siret_display} confirmé : MEG peut se porter garant de l'entreprise auprès de Libeo.",
          "success")
    return redirect(url_for("main.company_details"))
