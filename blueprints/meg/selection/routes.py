"""« Payer la sélection » in « Règlements »: the confirmation, the payments, the result page."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from core.db import reads_first
from core.listing import parse_list_args
from core.throttle import configured, signed_in_user
from models.meg import db
from models.meg.achats.lists import INVOICES, filter_selection_ids
from models.meg.libeo_link.attempts import libeo_state
from models.meg.libeo_link.connection import LibeoLinkError
from models.meg.libeo_link.selection import (
    pay_selection,
    result_summary,
    selected_ids,
    selection_confirmation,
    selection_result,
)

from ..context import current_company
from ..extensions import limiter

bp = Blueprint("selection", __name__, url_prefix="/achats/reglements/selection")


@bp.before_request
@login_required
def require_login():
    """The selection's pages are the company's, like « Règlements »."""


def _ids(values) -> list[int]:
    return selected_ids(values.getlist("facture"))


def _dates(values, ids: list[int]) -> dict[int, date]:
    """The « Date d'exécution » typed per row, or the one for all; a date that is not one refuses the whole."""
    for_all = values.get("date_all", "").strip()
    dates = {}
    for invoice_id in ids:
        typed = for_all or values.get(f"date-{invoice_id}", "").strip()
        if not typed:
            continue
        try:
            dates[invoice_id] = date.fromisoformat(typed)
        except ValueError:
            raise LibeoLinkError(f"La date d'exécution « {typed[:20]} » n'est pas une date (JJ/MM/AAAA) : "
                                 "rien n'a été payé.", field="execution_date") from None
    return dates


# The list a selection was made in (« Règlements » unless ``depuis=factures``): where « Annuler », a
# refusal and « Retour » lead.
BACK_TO = {"factures": ("achats.invoices", "Retour aux factures"),
           "reglements": ("achats.settlements", "Retour aux règlements")}


def _origin(values) -> str:
    return "factures" if values.get("depuis") == "factures" else "reglements"


def _back(values) -> str:
    return url_for(BACK_TO[_origin(values)][0])


def _refused(error: LibeoLinkError):
    db.session.rollback()
    flash(error.message, "error")
    if error.upgrade_url and error.upgrade_url.startswith(("https://", "http://")):
        flash(error.upgrade_url, "upgrade")
    return redirect(_back(request.values))


def _filter_ids(company) -> list[int]:
    """« Sélectionner les N factures du filtre » without script: the filter of « Factures » (its URL's
    arguments, ``filtre=1``) read again, its invoices « Payer » takes."""
    ids, _cents = filter_selection_ids(company, parse_list_args(request.args, INVOICES),
                                       libeo_state(current_user, company, []))
    if not ids:
        raise LibeoLinkError("Aucune facture de ce filtre n'est à payer avec Libeo : rien n'a été payé.")
    return ids


@bp.route("")
def confirm():
    """« Payer la sélection »: one confirmation for the invoices ticked (the plan as MEG last heard it), or
    for a filter's of « Factures »."""
    try:
        ids = _filter_ids(current_company()) if request.args.get("filtre") else _ids(request.args)
        confirmation = selection_confirmation(current_company(), current_user, ids, _dates(request.args, ids))
    except LibeoLinkError as error:
        return _refused(error)
    return render_template("meg/achats/selection_confirm.html", confirmation=confirmation,
                           origin=_origin(request.args), back=_back(request.args))


@bp.route("/confirmer", methods=["POST"])
@reads_first  # checks, then writes the attempts and the answers in transactions of their own
@limiter.limit(configured("PAYMENT_LIMIT"), key_func=signed_in_user)
def pay():
    """« Confirmer les N paiements »."""
    company = current_company()
    try:
        ids = _ids(request.form)
        outcome = pay_selection(company, current_user, ids, _dates(request.form, ids))
    except LibeoLinkError as error:
        if error.field != "execution_date":
            return _refused(error)
        db.session.rollback()
        flash(error.message, "error")
        try:
            confirmation = selection_confirmation(company, current_user, ids)
        except LibeoLinkError as again:
            return _refused(again)
        return render_template("meg/achats/selection_confirm.html", confirmation=confirmation,
                               origin=_origin(request.form), back=_back(request.form))
    origin = _origin(request.form)
    return redirect(url_for("selection.result", factures=",".join(map(str, outcome.invoice_ids)),
                            depuis=origin if origin == "factures" else None))


@bp.route("/resultat")
def result():
    """Each invoice of the selection and what became of it, as every list shows it."""
    try:
        lines = selection_result(current_company(), selected_ids(request.args.get("factures", "").split(",")))
    except LibeoLinkError as error:
        return _refused(error)
    origin = _origin(request.args)
    return render_template("meg/achats/selection_result.html", lines=lines, summary=result_summary(lines),
                           back=url_for("selection.result", factures=request.args.get("factures", ""),
                                        depuis=origin if origin == "factures" else None),
                           list_url=_back(request.args), list_words=BACK_TO[origin][1])
