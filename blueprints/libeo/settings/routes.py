"""« Configuration »: tabs « Entreprise », « Utilisateurs », « Expert-comptable », « Approbations »,
« Intégrations »."""

from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from core.money import cents_to_input, format_amount
from core.validators import InvalidIdentifier, mask_iban, normalize_iban
from core.views import saved, show_domain_error
from models.libeo import db
from models.libeo.accounts.debtor_iban import (
    cancel_debtor_iban,
    confirm_debtor_iban,
    other_administrators,
    pending_change,
    request_debtor_iban,
)
from models.libeo.accounts.keys import (
    active_api_key,
    issue_meg_api_key,
    last_revoked_key,
    meg_payments_in_flight,
    revoke_api_key,
)
from models.libeo.accounts.services import (
    add_accountant,
    invite_user,
    remove_accountant,
    set_approval_rules,
)
from models.libeo.errors import LibeoError
from models.libeo.payments.quota import PaymentQuota
from models.libeo.strong_auth.services import Operation, Purpose, simple_operation

from ..context import current_account, require_admin
from ..security.step_up import second_factor_first
from .forms import (
    AccountantForm,
    ActionForm,
    ApprovalRulesForm,
    BankAccountForm,
    InviteUserForm,
)

bp = Blueprint("settings", __name__, url_prefix="/configuration")


@bp.before_request
@login_required
def require_login():
    """« Configuration » is for the account's signed-in user only."""


@bp.route("/", methods=["GET", "POST"])
def company():
    account = current_account()
    form = BankAccountForm()
    if form.validate_on_submit():
        require_admin()
        blocked = _debit_iban_confirmed(form.iban.data)
        if blocked is not None:
            return blocked
        try:
            change = request_debtor_iban(account, form.iban.data, form.bic.data, current_user)
        except LibeoError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            if change is None:
                flash("Le compte bancaire n'a pas changé.", "info")
            elif change.is_pending:
                flash("Le changement de compte bancaire attend la confirmation d'un autre administrateur : d'ici là, "
                      "les virements débitent toujours l'ancien compte.", "warning")
            else:
                flash("Le compte bancaire est enregistré : les prochains fichiers de virements le débiteront.",
                      "success")
            return redirect(url_for("settings.company"))
    elif not form.is_submitted():
        form.iban.data = account.debtor_iban_display
        form.bic.data = account.debtor_bic or ""
    waiting = pending_change(account)
    return render_template(
        "libeo/settings/company.html", form=form, quota=PaymentQuota.for_account(account), waiting=waiting,
        confirmers=other_administrators(account, waiting.requested_by) if waiting else 0, action_form=ActionForm(),
    )


def _debit_iban_confirmed(typed: str | None):
    """The new debit IBAN confirmed with a second factor, bound to it; one the bank account cannot take
    is left to ``request_debtor_iban`` to refuse (nothing changes)."""
    try:
        iban = normalize_iban(typed or "")
    except InvalidIdentifier:
        return None
    return second_factor_first(Operation(Purpose.DEBIT_IBAN, (f"Compte bancaire à débiter : {mask_iban(iban)}",),
                                         (iban,)))


@bp.route("/compte-bancaire/confirmer", methods=["POST"])
def confirm_bank_account():
    """A second administrator confirms the change of the debit IBAN."""
    if not ActionForm().validate_on_submit():
        abort(400)
    waiting = pending_change(current_account())
    shown = waiting.new_iban_masked if waiting else "—"
    blocked = second_factor_first(Operation(Purpose.DEBIT_IBAN, (f"Confirmer le compte bancaire à débiter : {shown}",),
                                            (waiting.new_iban if waiting else "",)))
    if blocked is not None:
        return blocked
    try:
        change = confirm_debtor_iban(current_account(), current_user)
    except LibeoError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(f"Le changement est confirmé : les prochains fichiers de virements débiteront {change.new_iban_masked}.",
              "success")
    return redirect(url_for("settings.company"))


@bp.route("/compte-bancaire/annuler", methods=["POST"])
def cancel_bank_account():
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        cancel_debtor_iban(current_account(), current_user)
    except LibeoError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash("Le changement de compte bancaire est annulé : rien n'a changé.", "success")
    return redirect(url_for("settings.company"))


@bp.route("/utilisateurs", methods=["GET", "POST"])
def users():
    """Who has access; inviting is for the account's administrators."""
    if request.method == "POST":
        require_admin()
    account = current_account()
    form = InviteUserForm()
    if form.validate_on_submit():
        blocked = second_factor_first(simple_operation(Purpose.USERS, f"Inviter {(form.email.data or '').strip()}"))
        if blocked is not None:
            return blocked
        try:
            user = invite_user(account, form.email.data, actor=current_user.email)
        except LibeoError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            return saved(db, f"{user.email} est ajouté à votre compte.", "settings.users")
    return render_template("libeo/settings/users.html", form=form, users=account.users)


@bp.route("/expert-comptable", methods=["GET", "POST"])
def accountant():
    """The expert-comptable's access (they may pay from MEG): given or taken by an administrator."""
    if request.method == "POST":
        require_admin()
    account = current_account()
    form = AccountantForm()
    if form.validate_on_submit():
        blocked = second_factor_first(simple_operation(
            Purpose.USERS, f"Donner accès à l'expert-comptable {(form.email.data or '').strip()}"))
        if blocked is not None:
            return blocked
        try:
            add_accountant(account, form.email.data, actor=current_user.email)
        except LibeoError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            return saved(db, f"{account.accountant_email} a maintenant accès à votre compte : le bouton « Payer » "
                             "lui est proposé dans MEG.", "settings.accountant")
    return render_template("libeo/settings/accountant.html", form=form)


@bp.route("/expert-comptable/retirer", methods=["POST"])
def remove_accountant_access():
    require_admin()
    if not ActionForm().validate_on_submit():
        abort(400)
    blocked = second_factor_first(simple_operation(Purpose.USERS, "Retirer l'accès de l'expert-comptable"))
    if blocked is not None:
        return blocked
    try:
        email = remove_accountant(current_account(), actor=current_user.email)
    except LibeoError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(f"{email} n'a plus accès à votre compte.", "success")
    return redirect(url_for("settings.accountant"))


@bp.route("/approbations", methods=["GET", "POST"])
def approval_rules():
    """The rules that hold payments for an administrator's approval; administrators only."""
    require_admin()
    account = current_account()
    form = ApprovalRulesForm()
    if form.validate_on_submit():
        blocked = second_factor_first(simple_operation(
            Purpose.APPROVAL_RULES,
            "Montant au-delà duquel un paiement doit être approuvé : "
            + (format_amount(form.threshold_cents) if form.threshold_cents is not None else "aucun"),
            "Paiements de l'expert-comptable à approuver : " + ("oui" if form.accountant_payments.data else "non")))
        if blocked is not None:
            return blocked
        try:
            warning = set_approval_rules(
                account, form.threshold_cents, form.accountant_payments.data, current_user.email,
                approver_not_requester=form.approver_not_requester.data,
                dual_approval_above_cents=form.dual_threshold_cents,
                accountant_may_approve=form.accountant_may_approve.data,
            )
        except LibeoError as error:
            db.session.rollback()
            show_domain_error(form, error, {"dual_threshold": "dual_threshold"})
        else:
            return saved(db, "Les règles d'approbation sont enregistrées : elles s'appliquent aux prochains paiements.",
                         "settings.approval_rules", warning=warning)
    elif not form.is_submitted():
        form.threshold.data = cents_to_input(account.approval_threshold_cents)
        form.accountant_payments.data = account.approve_accountant_payments
        form.approver_not_requester.data = account.approver_not_requester
        form.dual_threshold.data = cents_to_input(account.dual_approval_above_cents)
        form.accountant_may_approve.data = account.accountant_may_approve
    return render_template("libeo/settings/approvals.html", form=form)


def _integrations(new_key: str | None = None):
    response = make_response(
        render_template(
            "libeo/settings/integrations.html",
            meg_key=active_api_key(current_account()),
            revoked_key=last_revoked_key(current_account()),
            new_key=new_key,
        )
    )
    # The key is shown once: no cache may keep the page that shows it.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/integrations")
def integrations():
    return _integrations()


@bp.route("/integrations/meg", methods=["POST"])
def connect_meg():
    """« Se connecter » or « Régénérer »: a new key, shown in this answer only; administrators only."""
    require_admin()
    if not ActionForm().validate_on_submit():
        abort(400)
    blocked = second_factor_first(simple_operation(Purpose.API_KEYS, "Créer une clé d'API pour MEG"))
    if blocked is not None:
        return blocked
    try:
        plaintext = issue_meg_api_key(current_account(), actor=current_user.email)
    except LibeoError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("settings.integrations"))
    db.session.commit()
    return _integrations(new_key=plaintext)


@bp.route("/integrations/meg/revoquer", methods=["GET", "POST"])
def revoke_meg():
    """« Révoquer »: a page that says what it does (MEG's payments in flight, how MEG is connected again),
    then the revocation itself, posted from it."""
    require_admin()
    if request.method == "GET":
        key = active_api_key(current_account())
        if key is None:
            flash("Aucune clé active à révoquer.", "error")
            return redirect(url_for("settings.integrations"))
        return render_template("libeo/settings/revoke_meg.html", meg_key=key,
                               in_flight=meg_payments_in_flight(current_account().id))
    if not ActionForm().validate_on_submit():
        abort(400)
    blocked = second_factor_first(simple_operation(Purpose.API_KEYS, "Révoquer la clé d'API MEG"))
    if blocked is not None:
        return blocked
    try:
        revoke_api_key(current_account(), actor=current_user.email)
    except LibeoError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash("La clé d'API MEG est révoquée : MEG ne peut plus payer par Libeo avec elle, ni se reconnecter tant "
              "qu'un administrateur de ce compte n'a pas cliqué sur « Se connecter » ci-dessous.", "success")
    return redirect(url_for("settings.integrations"))
