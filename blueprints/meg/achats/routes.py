"""« Achats »: supplier invoices, « Règlements », suppliers, « Options » and « Payer » through Libeo."""

from __future__ import annotations

from datetime import date
from functools import wraps
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException
from wtforms.fields.choices import SelectChoice

from core.calendar import late_payment_warning
from core.dates import DUE_SOON, OVERDUE, date_fr, due_flag, paris_today
from core.db import reads_first
from core.french import of
from core.ids import parse_id
from core.listing import (
    EXPORT_FORMATS,
    cents_value,
    export_response,
    parse_list_args,
    streamed_rows,
    tab_total,
    tidy_redirect,
)
from core.money import format_amount
from core.paging import paginate
from core.security import safe_next_url
from core.throttle import configured, signed_in_user
from core.urls import public_url
from core.validators import mask_iban
from core.views import page_number, show_domain_error
from models.meg import PaymentMode, SupplierInvoice, db
from models.meg.achats.invoices import (
    SETTLEMENTS,
    AchatsError,
    InvoiceData,
    LookalikeSupplier,
    PossibleDuplicate,
    SupplierData,
    company_invoice,
    company_supplier,
    create_invoice,
    create_supplier,
    invoices_to_settle_export,
    invoices_to_settle_rows,
    payment_lock,
    settlement_invoices,
    shared_iban_notice,
    suppliers_query,
    update_invoice,
    update_supplier,
)
from models.meg.achats.lists import (
    INVOICES,
    SUPPLIERS,
    client_companies,
    client_invoices,
    client_tab_counts,
    clients_spec,
    filter_selection,
    filter_selection_ids,
    invoice_export,
    invoice_rows,
    listed_invoices,
    payment_dates,
    state_word,
    supplier_list,
    supplier_tab_counts,
)
from models.meg.achats.supplier_iban import IBAN_ADMINS_ONLY, iban_as_shown, may_change_iban
from models.meg.achats.week import week_and_tab_counts
from models.meg.companies.second_factor import is_enrolled
from models.meg.libeo_link.attempts import (
    TO_SETTLE_STATES,
    PaidTo,
    PaymentAttempt,
    PaymentState,
    confirmation,
    following_of,
    libeo_state,
    payment_refusal,
    payments_in_flight,
    payments_keeping_old_iban,
    unknown_outcomes,
    unverifiable_requests,
)
from models.meg.libeo_link.cancelling import cancel_payment, cancellable_payment
from models.meg.libeo_link.connection import (
    ConnectionState,
    LibeoLinkError,
    check_connection,
    connection_of,
)
from models.meg.libeo_link.disconnecting import disconnect_company
from models.meg.libeo_link.outbox import (
    company_message,
    ignore_refused,
    refused_updates,
    retry_refused,
    waiting_count,
)
from models.meg.libeo_link.paying import pay_invoice, replay_for
from models.meg.libeo_link.reconnecting import confirm_not_paid, connect_libeo

from ..context import current_company
from ..extensions import limiter
from ..security.routes import second_factor_problem
from .forms import ConfirmForm, InvoiceForm, LibeoKeyForm, NotPaidForm, PayForm, SupplierForm, SupplierNameForm

bp = Blueprint("achats", __name__, url_prefix="/achats")

PER_PAGE = 25
# « Règlements » shows 50 invoices a page: the ones to settle soonest, at a glance.
SETTLEMENTS_PER_PAGE = 50
ADMIN_ONLY = "Seuls les administrateurs du module « Achats » peuvent ouvrir les options."
IBAN_CHANGED = ("Nouvel IBAN enregistré (le changement figure au journal). Si ce fournisseur a déjà été payé par "
                "Libeo, son prochain paiement attendra qu'un administrateur l'approuve dans Libeo. Une demande de "
                "changement de RIB reçue par courriel se vérifie par téléphone, à un numéro que vous connaissez déjà.")


@bp.before_request
@login_required
def require_login():
    """Every page of the module needs a logged-in user with a company."""


def achats_admin_required(view):
    """The view is for the company's Achats administrators; others get a clear refusal."""

    @wraps(view)
    def checked(*args, **kwargs):
        if not current_user.is_achats_admin(current_company()):
            abort(403, description=ADMIN_ONLY)
        return view(*args, **kwargs)

    return checked


def confirmation_anchor(url: str) -> str:
    """An invoice's page opened on its « Payer » panel (``?payer=``) is returned to at the panel (``#confirmer``),
    after a sign-in or a form that had expired, as every other way back to it (``register_return_anchor``)."""
    parts = urlsplit(url)
    if parts.fragment or "payer" not in parse_qs(parts.query):
        return url
    try:
        endpoint, _ = current_app.url_map.bind_to_environ(request.environ).match(
            parts.path.removeprefix(request.script_root), method="GET")
    except HTTPException:
        return url
    return f"{url}#confirmer" if endpoint == "achats.invoice" else url


@bp.app_template_global()
def libeo_connect_url(invoice) -> str:
    """Libeo's « Me connecter avec MEG » page, told to bring the person back to this invoice's « Payer »
    panel (``#confirmer``: on a phone it is far below the top of the page)."""
    back = public_url("achats.invoice", invoice_id=invoice.id, payer=invoice.id) + "#confirmer"
    return f"{current_app.config['LIBEO_URL'].rstrip('/')}/connexion-meg?{urlencode({'return_to': back})}"


@bp.app_template_global()
def libeo_subscription_url() -> str:
    """Libeo's « Abonnement » page, where the plan is upgraded."""
    return f"{current_app.config['LIBEO_URL'].rstrip('/')}/abonnement"


@bp.app_template_global()
def libeo_page(path: str = "") -> str:
    """A page of Libeo (``paiements/12``, ``remises/#anomalies``): where MEG's words send the person."""
    return f"{current_app.config['LIBEO_URL'].rstrip('/')}/{path.lstrip('/')}"


@bp.app_template_global()
def changes_ibans() -> bool:
    """Whether the person may change the IBAN of the current company's suppliers (its « Achats »
    administrators): the pages offer « Modifier l'IBAN » to them, and say whom to ask to the others."""
    return may_change_iban(current_user, current_company())


@bp.app_template_global()
def supplier_iban(supplier) -> str:
    """A supplier's IBAN as the pages show it to the person: whole only to who may change it, as the exports."""
    return iban_as_shown(supplier, may_change_iban(current_user, current_company()))


def _invoice_or_404(invoice_id: int):
    invoice = company_invoice(current_company(), invoice_id)
    if invoice is None:
        abort(404)
    return invoice


def _confirmation_for(libeo, invoices, full=None):
    """The « Payer » confirmation asked for with ``?payer=<id>``, if that invoice may be paid now
    (``full``: the ``SupplierInvoice`` of a list's plain row)."""
    wanted = request.args.get("payer", "")
    for invoice in invoices:
        if str(invoice.id) == wanted and libeo.may_confirm(invoice) and libeo.connection is not None:
            return confirmation(full(invoice) if full else invoice, proposed=_proposed_date())
    return None


class PayerNotice(NamedTuple):
    """Why « Payer » does not open (``text``), and what the row offers instead (``offer``: where to go)."""

    text: str
    offer: str | None
    invoice_id: int | None


def _payer_notice(libeo, invoices, company=None) -> PayerNotice | None:
    """Why « Payer » asked for with ``?payer=<id>`` does not open (the invoice was paid, a payment is under way,
    its mode changed… since the page that offered it), so that the click is never met with silence. ``company``:
    look for an invoice the list no longer shows (paid, it left the filter); without it (an invoice's page), a
    ``?payer`` of another invoice is not this page's."""
    wanted = parse_id(request.args.get("payer", ""))
    if wanted is None:
        return None
    invoice = next((invoice for invoice in invoices if invoice.id == wanted), None)
    if invoice is None and company is not None:
        invoice = company_invoice(company, wanted)
        if invoice is None:
            return PayerNotice("La facture demandée n'existe pas dans cette entreprise : « Payer » ne s'ouvre pas.",
                               None, None)
        libeo = libeo_state(current_user, company, [invoice])
    if invoice is None or (why := libeo.why_not_now(invoice)) is None:
        return None
    return PayerNotice(why, libeo.row(invoice)[1], invoice.id)


def _proposed_date() -> date | None:
    """``?date=`` : the date a refused « Date d'exécution » message proposed, for the field to show it."""
    try:
        return date.fromisoformat(request.args.get("date", ""))
    except ValueError:
        return None


# --- « Factures » ---------------------------------------------------------------------------------


def _supplier_choices(form: InvoiceForm) -> None:
    suppliers = db.session.scalars(*suppliers_query(current_company())).all()
    form.supplier_id.choices = [SelectChoice(s.id, s.name) for s in suppliers]


def _invoice_data(form: InvoiceForm) -> InvoiceData:
    assert form.amount_cents is not None  # validated: validate_amount set it
    return InvoiceData(
        number=form.number.data,
        supplier_id=form.supplier_id.data,
        issue_date=form.issue_date.data,
        due_date=form.due_date.data,
        amount_cents=form.amount_cents,
        payment_mode=PaymentMode[form.payment_mode.data],
    )


@bp.route("/")
def invoices():
    if (tidy := tidy_redirect()) is not None:
        return tidy
    company = current_company()
    lq = parse_list_args(request.args, INVOICES, page_number())
    # Plain rows, not ORM objects, as « Règlements » reads them: the page only shows them. The tabs'
    # counts say how many rows the filter holds: the page is read alone. « Cette semaine » is read with them.
    counts, summary = week_and_tab_counts(company, lq)
    pagination = paginate(db, invoice_rows(company, lq), lq.page, PER_PAGE, plain=True, total=tab_total(counts, lq))
    pagination.items = listed_invoices(pagination.items)
    libeo = libeo_state(current_user, company, pagination.items)
    selectable = bool(libeo.may_pay and libeo.connection)
    whole_filter = filter_selection(company, lq, libeo)
    rows, boxed = _invoice_rows(pagination.items, libeo, selectable)
    # The selection bar when it can take something: a row of the page « Payer » takes, or the filter's.
    offers = selectable and (boxed or bool(whole_filter))
    return render_template("meg/achats/invoices.html", pagination=pagination, libeo=libeo, lq=lq, counts=counts,
                           selectable=selectable, offers=offers, summary=summary, whole_filter=whole_filter,
                           rows=rows)


# A row of « Factures », written once in Python: the page's 25 rows as some thirteen Jinja outputs each
# (every one escaped, then joined) were a tenth of the page's time. What a person or a supplier typed
# (number, supplier's name) and why a box is missing are escaped here; the rest are the application's own
# words (escaped once, below), digits and badges.
_STALE = ' <div class="hint"><a href="{}" data-testid="old-iban">Part vers l\'ancien IBAN</a></div>'
_BANK_ANOMALY = ('<p class="to-check"><a href="{}#anomalie-bancaire" data-testid="bank-anomaly">Anomalie bancaire à '
                 'vérifier dans Libeo</a></p>')
_SAFE_WORDS: dict[str, str] = {}


def _safe(words: str) -> str:
    """The application's own words (a state, a badge's class, a mode), escaped once per worker."""
    found = _SAFE_WORDS.get(words)
    if found is None:
        found = _SAFE_WORDS[words] = str(escape(words))
    return found


def _not_selectable(invoice, payment, action) -> str:
    if invoice.is_paid or (payment is not None and payment.status is PaymentState.PAID):
        return "facture payée"
    if invoice.payment_mode is not PaymentMode.LIBEO:
        return f"mode de règlement « {_MODE_LABELS[invoice.payment_mode]} »"
    if payment is not None and payment.status.holds_invoice:
        return "paiement déjà en cours"
    return {"new_iban": "nouvel IBAN du fournisseur nécessaire",
            "bank_anomaly": "anomalie bancaire à vérifier dans Libeo",
            "refused": "motif du refus à lire avant de payer"}.get(action or "", "vérification en cours")


def _invoice_rows(invoices, libeo, selectable: bool) -> tuple[Markup, bool]:
    """The rows of « Factures » (a ``<tr>`` each), in the page's order, and whether one has a selection box."""
    invoice_url = url_for("achats.invoice", invoice_id=1)[:-1]  # each row's link: this and its id
    today = paris_today()  # once, not once per row's flag
    html = []
    boxed = False
    for invoice in invoices:
        payment, action = libeo.row(invoice)
        state, badge = libeo.state_of(invoice)
        paid_to = libeo.paid_to(invoice)
        number, href = escape(invoice.number), f"{invoice_url}{invoice.id}"
        box = ""
        if selectable and action == "pay":
            boxed = True
            box = (f'<input type="checkbox" class="select-row" name="facture" value="{invoice.id}" form="selection" '
                   f'data-cents="{invoice.amount_cents}" aria-label="Sélectionner la facture {number}">')
        elif selectable:
            why = escape(_not_selectable(invoice, payment, action))
            box = (f'<span class="no-select" tabindex="0" title="Non sélectionnable : {why}"><span aria-hidden="true">'
                   f'–</span><span class="visually-hidden">Non sélectionnable : {why}</span></span>')
        html.append(
            f'<tr><td class="nowrap" data-label="Numéro">{box}<a href="{href}">{number}</a></td>'
            f'<td data-label="Fournisseur">{escape(invoice.supplier.name)}</td>'
            f'<td data-label="Date">{date_fr(invoice.issue_date)}</td>'
            f'<td data-label="Échéance">{_due_cell(invoice, payment, today)}</td>'
            f'<td class="num" data-label="Montant TTC">{escape(_amount_cell(invoice))}</td>'
            f'<td data-label="Mode de règlement">{_safe(_MODE_LABELS[invoice.payment_mode])}</td>'
            f'<td data-label="État"><span class="badge {_safe(badge)}">{_safe(state)}</span>'
            f'{_waiting(libeo, payment, href)}'
            f'{_STALE.format(href) if paid_to and paid_to.stale else ""}'
            f'{_BANK_ANOMALY.format(href) if payment is not None and payment.bank_anomaly else ""}</td></tr>\n')
    return Markup("".join(html)), boxed


_WAITING = Markup('<div class="hint" data-testid="libeo-waiting"><a href="{}" title="{}">— en attente : {}</a></div>')


def _waiting(libeo, payment, href: str) -> str:
    """« — en attente : Compte non vérifié » under a scheduled payment Libeo cannot execute yet, as
    « Règlements » and the invoice's page say it."""
    connection = libeo.connection
    if payment is None or payment.status is not PaymentState.SCHEDULED or connection is None:
        return ""
    short = connection.waiting_short
    return _WAITING.format(href, connection.account_waiting_for, short) if short else ""


@bp.route("/factures/filtre")
def invoices_filter_selection():
    """The invoices « Sélectionner les N factures du filtre » selects, for its script: the filter of
    « Factures » (its URL's arguments) read as the page reads it, as JSON (``ids`` in the list's order,
    their total in ``cents``)."""
    company = current_company()
    lq = parse_list_args(request.args, INVOICES)
    ids, cents = filter_selection_ids(company, lq, libeo_state(current_user, company, []))
    return {"ids": ids, "cents": cents}


INVOICES_EXPORT = ["Id", "Numéro", "Fournisseur", "SIRET du fournisseur", "IBAN du fournisseur", "Date de facture",
                   "Échéance", "Montant TTC", "Devise", "Mode de règlement", "État", "Date d'exécution", "Payée le"]


@bp.route("/factures/export.<fmt>")
def invoices_export(fmt: str):
    """« Exporter »: the invoices « Factures » shows with the same search and filters, all pages."""
    if fmt not in EXPORT_FORMATS:
        abort(404)
    company = current_company()
    lq = parse_list_args(request.args, INVOICES)
    iban = _iban_shown_to(current_user.is_achats_admin(company))
    rows = streamed_rows(db.session, *invoice_export(company, lq), lambda row: [
        row.id, row.number, row.name, row.siret, iban(row.iban), row.issue_date, row.due_date,
        cents_value(row.amount_cents), row.currency, row.payment_mode.label,
        state_word(row), *payment_dates(row)])
    return export_response(fmt, "factures", "Factures", INVOICES_EXPORT, rows)


def _iban_shown_to(admin: bool):
    """Whole for an Achats administrator, who may change it; masked for anyone else."""
    return (lambda value: value) if admin else (lambda value: mask_iban(value) if value else "")


@bp.route("/factures/nouvelle", methods=["GET", "POST"])
def new_invoice():
    form = InvoiceForm()
    _supplier_choices(form)
    if request.method == "GET":
        # « Virement par Libeo » needs the company's SIRET: without one, a mode that works.
        form.payment_mode.data = (PaymentMode.LIBEO if current_company().siret else PaymentMode.VIREMENT).name
    duplicate = None
    if form.validate_on_submit():
        try:
            invoice = create_invoice(current_company(), _invoice_data(form),
                                     confirm_duplicate=form.confirm_duplicate.data)
        except PossibleDuplicate as warning:
            db.session.rollback()
            duplicate = warning
        except AchatsError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(f"La facture {invoice.number} est enregistrée.", "success")
            return redirect(url_for("achats.invoice", invoice_id=invoice.id))
    return render_template("meg/achats/invoice_form.html", form=form, invoice=None, lock=None, duplicate=duplicate)


@bp.route("/factures/<int:invoice_id>")
def invoice(invoice_id: int):
    invoice = _invoice_or_404(invoice_id)
    libeo = libeo_state(current_user, current_company(), [invoice])
    if request.args.get("connexion") == "etablie":
        # Back from Libeo, where the account was just created or linked from « Payer » (Libeo's own pages
        # are left behind): said once, and only if the connection works.
        connected = libeo.connection
        if connected is not None and connected.state is ConnectionState.ACTIVE and not connected.is_removed:
            # « Payer »'s panel, where the person lands, says what Libeo waits for in full: not twice.
            waiting = None if _confirmation_for(libeo, [invoice]) else connected.waiting_short
            flash(f"La connexion est établie avec le compte Libeo {connected.account_description} : « Payer » "
                  "fonctionne" + (f", mais Libeo n'exécutera les virements qu'une fois ceci réglé : {waiting}."
                                  if waiting else "."), "success")
        arguments: dict[str, Any] = {name: value for name, value in request.args.items() if name != "connexion"}
        return redirect(url_for("achats.invoice", invoice_id=invoice.id, **arguments))
    confirm = _confirmation_for(libeo, [invoice])
    return render_template("meg/achats/invoice.html", invoice=invoice, libeo=libeo, confirm=confirm,
                           # Its own boxes say why a bank anomaly or a rejected IBAN holds « Payer ».
                           payer_notice=None if confirm or libeo.row(invoice)[1] in ("bank_anomaly", "new_iban")
                           else _payer_notice(libeo, [invoice]),
                           pay_form=PayForm(), not_paid_form=NotPaidForm())


@bp.route("/factures/<int:invoice_id>/modifier", methods=["GET", "POST"])
def edit_invoice(invoice_id: int):
    invoice = _invoice_or_404(invoice_id)
    if invoice.is_paid:
        flash("Cette facture est réglée : elle ne peut plus être modifiée.", "error")
        return redirect(url_for("achats.invoice", invoice_id=invoice.id))
    form = InvoiceForm()
    _supplier_choices(form)
    if request.method == "GET":
        form.fill_from(invoice)
    lock = payment_lock(invoice)
    if lock:
        form.keep_locked(invoice)
    duplicate = None
    if form.validate_on_submit():
        try:
            update_invoice(invoice, _invoice_data(form), confirm_duplicate=form.confirm_duplicate.data)
        except PossibleDuplicate as warning:
            db.session.rollback()
            duplicate = warning
        except AchatsError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(f"La facture {invoice.number} est modifiée.", "success")
            return redirect(url_for("achats.invoice", invoice_id=invoice.id))
    return render_template("meg/achats/invoice_form.html", form=form, invoice=invoice, lock=lock,
                           duplicate=duplicate)


# --- « Règlements » and « Payer » -------------------------------------------------------------------


class SettlementRow(NamedTuple):
    """A row of « Règlements », read in Python: the template unpacks it instead of asking Jinja
    for some ten attributes of each of the 50 rows (most of the page's rendering time)."""

    id: int
    number: str
    supplier: str
    due: str  # the due date (digits and slashes), with its « En retard » / « Échéance proche » badge (Markup)
    amount: str  # Markup when the amount due differs from the total
    mode: str
    through_libeo: bool
    payment: object  # the latest PaymentAttempt, or None
    action: str | None  # LibeoState.row: "pay", "check" or None
    invoice: object  # a SettlementInvoice
    paid_to: PaidTo | None  # where a live payment pays, as Libeo holds it
    amount_cents: int  # the selection box's data-cents
    href: str  # the invoice's page


_AMOUNT_DUE = Markup('{}<br><span class="hint">net à payer {}</span>')
# Each flag's badge written once: Markup.format per row was a third of the rows' cost.
_DUE_FLAGS = {flag: Markup(' <span class="badge {}" data-testid="due-flag">{}</span>').format(flag.badge, flag.label)
              for flag in (OVERDUE, DUE_SOON)}
# A dict read, not the enum's ``label`` property (three calls through the enum's ``value``), per row.
_MODE_LABELS = {mode: mode.label for mode in PaymentMode}


def _due_cell(invoice, payment, today: date) -> str:
    """The due date (digits and slashes: nothing to escape), with its « En retard » / « Échéance proche »
    badge while nothing settles the invoice (neither paid nor a payment under way)."""
    due = date_fr(invoice.due_date)
    if invoice.is_paid or (payment is not None and payment.status.holds_invoice):
        return due
    flag = due_flag(invoice.due_date, today)
    return due if flag is None else Markup(f"{due}{_DUE_FLAGS[flag]}")


def _amount_cell(invoice) -> str:
    """« Montant TTC », and what the payment settles when a deposit or a rounding makes it differ."""
    if invoice.due_differs:
        return _AMOUNT_DUE.format(invoice.total_display, invoice.amount_display)
    return format_amount(invoice.amount_cents, invoice.currency)


def _settlement_rows(invoices, libeo) -> list[SettlementRow]:
    invoice_url = url_for("achats.invoice", invoice_id=1)[:-1]  # each row's link: this and its id
    today = paris_today()  # once, not once per row's flag
    rows = []
    for invoice in invoices:
        payment, action = libeo.row(invoice)
        mode = invoice.payment_mode
        rows.append(SettlementRow(invoice.id, invoice.number, invoice.supplier.name,
                                  _due_cell(invoice, payment, today), _amount_cell(invoice), _MODE_LABELS[mode],
                                  mode is PaymentMode.LIBEO, payment, action, invoice,
                                  libeo.paid_to(invoice), invoice.amount_cents,
                                  f"{invoice_url}{invoice.id}"))
    return rows


@bp.route("/reglements")
def settlements():
    if (tidy := tidy_redirect()) is not None:
        return tidy
    company = current_company()
    lq = parse_list_args(request.args, SETTLEMENTS, page_number())
    # Plain rows, not ORM objects: the page only shows them (« Payer »'s confirmation reads its invoice).
    pagination = paginate(db, invoices_to_settle_rows(company, lq), lq.page, SETTLEMENTS_PER_PAGE, plain=True,
                          count_apart=not lq.search)
    pagination.items = settlement_invoices(pagination.items)
    libeo = libeo_state(current_user, company, pagination.items)
    confirm = _confirmation_for(libeo, pagination.items, lambda invoice: company_invoice(company, invoice.id))
    return render_template("meg/achats/settlements.html", pagination=pagination, libeo=libeo, confirm=confirm,
                           rows=_settlement_rows(pagination.items, libeo), pay_form=PayForm() if confirm else None,
                           payer_notice=None if confirm else _payer_notice(libeo, pagination.items, company), lq=lq)


SETTLEMENTS_EXPORT = ["Id", "Numéro", "Fournisseur", "SIRET du fournisseur", "IBAN du fournisseur",
                      "Date de facture", "Échéance", "Montant TTC", "Net à payer", "Devise", "Mode de règlement",
                      "Règlement", "Date d'exécution", "Payée le"]


@bp.route("/reglements/export.<fmt>")
def settlements_export(fmt: str):
    """« Exporter »: the rows « Règlements » shows with the same search and filters, all pages."""
    if fmt not in EXPORT_FORMATS:
        abort(404)
    company = current_company()
    lq = parse_list_args(request.args, SETTLEMENTS)
    # Only an Achats administrator, who may change them, reads whole IBANs.
    iban = (lambda value: value) if current_user.is_achats_admin(company) else mask_iban
    rows = streamed_rows(db.session, *invoices_to_settle_export(company, lq), lambda row: [
        row.id, row.number, row.name, row.siret, iban(row.iban), row.issue_date, row.due_date,
        cents_value(row.amount_cents if row.total_cents is None else row.total_cents), cents_value(row.amount_cents),
        # A payment under way (« ne réglez pas autrement ») is not a row to settle like the others.
        row.currency, row.payment_mode.label, state_word(row),
        *payment_dates(row)])
    return export_response(fmt, "reglements", "Règlements", SETTLEMENTS_EXPORT, rows)


@bp.route("/factures/<int:invoice_id>/payer", methods=["POST"])
@reads_first  # pay_invoice reads, commits, then writes the attempt and the answer in transactions of their own
@limiter.limit(configured("PAYMENT_LIMIT"), key_func=signed_in_user)
def pay(invoice_id: int):
    """« Confirmer le paiement »."""
    invoice = _invoice_or_404(invoice_id)
    form = PayForm()
    back = safe_next_url(form.next.data, url_for("achats.invoice", invoice_id=invoice.id))
    if not form.validate_on_submit():
        for errors in form.errors.values():
            flash(errors[0], "error")
        return redirect(_with_confirmation(back, invoice.id))
    try:
        payment = pay_invoice(invoice, current_user, form.execution_date.data, refusal_seen=form.refusal_seen.data)
    except LibeoLinkError as error:
        db.session.rollback()
        if error.not_connected:
            return redirect(libeo_connect_url(invoice))
        flash(error.message, "error")
        if error.upgrade_url and error.upgrade_url.startswith(("https://", "http://")):
            flash(error.upgrade_url, "upgrade")
        return redirect(_with_confirmation(back, invoice.id, error.suggestion) if error.field else back)
    flash(*_outcome_message(invoice, payment))
    return redirect(back)


def _with_confirmation(back: str, invoice_id: int, proposed: date | None = None) -> str:
    """Back to the « Payer » panel (``#confirmer``), its date field showing what a refusal proposed."""
    query = {"payer": invoice_id, **({"date": proposed.isoformat()} if proposed else {})}
    return f"{back}{'&' if '?' in back else '?'}{urlencode(query)}#confirmer"


def _outcome_message(invoice, payment: PaymentAttempt) -> tuple[str, str]:
    amount = format_amount(invoice.amount_cents, invoice.currency)
    what = f"{amount} à {invoice.supplier.name} pour la facture {invoice.number}"
    if payment.status is PaymentState.REQUESTED:
        return (f"Vérification en cours : Libeo n'a pas répondu à la demande de paiement ({what}). MEG la "
                "vérifie d'elle-même dans quelques instants ; ne réglez pas cette facture autrement d'ici là.",
                "warning")
    if payment.status is PaymentState.AWAITING_APPROVAL:
        return f"Paiement demandé ({what}) : il attend l'approbation d'un administrateur dans Libeo.", "warning"
    if payment.status is PaymentState.SCHEDULED:
        late = late_payment_warning(payment.execution_date, invoice.due_date) if payment.execution_date else None
        message = f"Paiement programmé le {date_fr(payment.execution_date)} : {what}, via Libeo."
        return (f"{message} {late}", "warning") if late else (message, "success")
    return f"{payment.label} : {what}.", "success" if payment.status.holds_invoice else "error"


@bp.route("/factures/<int:invoice_id>/verifier", methods=["POST"])
def verify_payment(invoice_id: int):
    """« Vérifier maintenant »: asks Libeo again what became of a request MEG got no answer to."""
    invoice = _invoice_or_404(invoice_id)
    form = ConfirmForm()
    back = safe_next_url(form.next.data, url_for("achats.invoice", invoice_id=invoice.id))
    if not form.validate_on_submit():
        abort(400)
    try:
        payment = replay_for(invoice, current_user)
    except LibeoLinkError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(back)
    if payment is not None and payment.status is PaymentState.REQUESTED:
        flash(payment.unknown_outcome or "Libeo ne répond toujours pas : MEG réessaiera d'elle-même. Ne réglez pas "
              "cette facture autrement.", "warning")
    elif payment is not None and payment.unverifiable:
        flash(f"Vérification impossible : {payment.unverifiable}", "warning")
    elif payment is not None:
        flash(f"Libeo a répondu : {payment.label}.", "info")
    return redirect(back)


@bp.route("/factures/<int:invoice_id>/non-payee", methods=["POST"])
def confirm_unpaid(invoice_id: int):
    """« Débloquer « Payer » »: an « Achats » administrator checked in the former Libeo account that the request
    « Vérification impossible » was not paid there."""
    invoice = _invoice_or_404(invoice_id)
    form = NotPaidForm()
    back = safe_next_url(form.next.data, url_for("achats.invoice", invoice_id=invoice.id))
    if not form.validate_on_submit():
        abort(400)
    try:
        confirm_not_paid(invoice, current_user, form.checked.data)
    except LibeoLinkError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(back)
    db.session.commit()
    flash(f"Facture {invoice.number} confirmée non payée par l'ancien compte Libeo (noté au journal) : « Payer » est "
          "de nouveau proposé.", "success")
    return redirect(back)


@bp.route("/factures/<int:invoice_id>/annuler-paiement", methods=["GET", "POST"])
def cancel_libeo_payment(invoice_id: int):
    """« Annuler » a payment Libeo can still cancel: a page that asks first, then Libeo cancels it."""
    invoice = _invoice_or_404(invoice_id)
    form = ConfirmForm()
    back = safe_next_url(form.next.data or request.args.get("next"), url_for("achats.invoice", invoice_id=invoice.id))
    try:
        payment = cancellable_payment(invoice, current_user)
    except LibeoLinkError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(back)
    if not form.validate_on_submit():
        form.next.data = back
        return render_template("meg/achats/cancel_payment.html", invoice=invoice, payment=payment, form=form,
                               back=back, paid_to=PaidTo(payment, invoice.supplier.iban))
    try:
        payment = cancel_payment(invoice, current_user)
    except LibeoLinkError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        flash(f"Le paiement de la facture {invoice.number} est annulé dans Libeo : le virement ne partira pas, et il "
              "ne compte plus dans les paiements du mois.", "success")
    return redirect(back)


@bp.route("/libeo/acces", methods=["POST"])
def check_access():
    """« Vérifier mon accès »: an expert-comptable asks Libeo again whether the company added them."""
    company = current_company()
    form = ConfirmForm()
    back = safe_next_url(form.next.data, url_for("achats.settlements"))
    connection = connection_of(company)
    if not form.validate_on_submit() or connection is None:
        return redirect(back)
    check_connection(connection)
    db.session.commit()
    refusal = payment_refusal(current_user, company, connection)
    if refusal is None:
        flash(f"Libeo vous reconnaît comme l'expert-comptable {of(company.name)} : vous pouvez payer ses factures.",
              "success")
    else:
        flash(connection.last_error or refusal, "error")
    return redirect(back)


@bp.route("/factures/<int:invoice_id>/formule", methods=["POST"])
def check_plan(invoice_id: int):
    """« Vérifier ma formule »: the plan was changed in Libeo; MEG asks Libeo now rather than at its next pass."""
    invoice = _invoice_or_404(invoice_id)
    form = ConfirmForm()
    back = safe_next_url(form.next.data, url_for("achats.invoice", invoice_id=invoice.id))
    connection = connection_of(current_company())
    if form.validate_on_submit() and connection is not None:
        check_connection(connection)
        db.session.commit()
        quota = connection.quota
        if quota is not None:
            flash(f"Libeo indique : {quota.sentence}", "warning" if quota.used_up else "success")
    return redirect(_with_confirmation(back, invoice.id))


# --- « Options » ----------------------------------------------------------------------------------


@bp.route("/options", methods=["GET", "POST"])
@achats_admin_required
def options():
    company = current_company()
    form = LibeoKeyForm()
    submitted = form.validate_on_submit()
    # Asked of a person who enrolled an authentication app: their code, before the key is sent anywhere.
    problem = second_factor_problem(form.second_factor.data) if submitted else None
    if problem:
        form.second_factor.errors = [*form.second_factor.errors, problem]
    elif submitted:
        try:
            connected = connect_libeo(company, form.api_key.data, current_user)
        except LibeoLinkError as error:
            db.session.rollback()
            form.api_key.errors = [*form.api_key.errors, error.message]
        else:
            db.session.commit()
            flash(f"La connexion est établie avec le compte Libeo {connected.account_description}.", "success")
            return redirect(url_for("achats.options"))
    connection = connection_of(company)
    return render_template("meg/achats/options.html", form=form, connection=connection,
                           following=following_of(connection, company.id),
                           waiting=waiting_count(company.id), refused=refused_updates(company.id),
                           unknown=unknown_outcomes(company.id), unverifiable=unverifiable_requests(company.id),
                           action_form=ConfirmForm(), second_factor_asked=is_enrolled(current_user)), \
        (422 if problem else 200)


@bp.route("/options/libeo/verifier", methods=["POST"])
@achats_admin_required
def check_libeo():
    """« Vérifier la connexion »: asks Libeo now."""
    connection = connection_of(current_company())
    if ConfirmForm().validate_on_submit() and connection is not None:
        check_connection(connection)
        db.session.commit()
        flash(*_health_message(connection))
    return redirect(url_for("achats.options"))


def _health_message(connection) -> tuple[str, str]:
    if connection.state is ConnectionState.ACTIVE:
        return f"Libeo répond : la connexion avec le compte « {connection.account_name} » fonctionne.", "success"
    if connection.state is ConnectionState.KEY_REVOKED:
        return ("Libeo refuse la clé enregistrée : elle a été révoquée ou remplacée dans Libeo. Collez ci-dessous la "
                "nouvelle clé qu'un administrateur du compte Libeo crée dans « Configuration » → « Intégrations ».",
                "error")
    return "Libeo ne répond pas pour le moment : MEG réessaiera d'elle-même.", "warning"


@bp.route("/options/libeo/supprimer", methods=["GET", "POST"])
@achats_admin_required
def disconnect():
    """« Supprimer la connexion », after a page listing the payments in flight: « Payer » stops, they are followed."""
    company = current_company()
    connection = connection_of(company)
    form = ConfirmForm()
    if connection is None or connection.is_removed:
        return redirect(url_for("achats.options"))
    submitted = form.validate_on_submit()
    problem = second_factor_problem(request.form.get("second_factor")) if submitted else None
    if not submitted or problem:
        return render_template("meg/achats/disconnect.html", connection=connection, form=form,
                               in_flight=payments_in_flight(company.id), problem=problem,
                               second_factor_asked=is_enrolled(current_user)), (422 if problem else 200)
    done = disconnect_company(company, current_user)
    db.session.commit()
    if done.reached and done.following:
        flash(f"La connexion à Libeo est supprimée : « Payer » ne fonctionne plus. Libeo ne laisse plus la clé que "
              f"suivre les {done.following} paiement(s) en cours, que MEG continue d'afficher jusqu'à leur issue ; "
              "Libeo révoquera la clé ensuite.", "info")
    elif done.reached:
        flash("La connexion à Libeo est supprimée : Libeo a révoqué la clé, et MEG ne la conserve plus.", "info")
    else:
        flash("MEG ne paie plus avec cette clé, mais Libeo n'a pas pu être joint : la clé reste valable dans Libeo "
              "jusqu'à ce que vous la révoquiez là-bas (« Configuration » → « Intégrations » → « Révoquer »)."
              + (f" MEG la garde pour suivre les {done.following} paiement(s) en cours." if done.following else ""),
              "warning")
    return redirect(url_for("achats.options"))


@bp.route("/options/libeo/mises-a-jour/<int:message_id>/<any(reessayer, ignorer):action>", methods=["POST"])
@achats_admin_required
def refused_update(message_id: int, action: str):
    """« Réessayer » or « Ignorer » an update Libeo refused for good."""
    message = company_message(current_company().id, message_id)
    if message is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        (retry_refused if action == "reessayer" else ignore_refused)(message)
    except LibeoLinkError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        number = message.invoice.number
        flash(f"La mise à jour de la facture {number} sera envoyée de nouveau à Libeo." if action == "reessayer"
              else f"La mise à jour de la facture {number} est ignorée : Libeo garde la facture telle qu'il l'a.",
              "info")
    return redirect(url_for("achats.options"))


def _old_iban_notice(payments: list[PaymentAttempt]) -> str:
    """Why the new IBAN does not apply to payments already asked for, and how to re-pay on it."""
    listed = "; ".join(f"facture {payment.invoice.number} ({payment.label})" for payment in payments)
    return (f"Le nouvel IBAN servira aux prochains paiements. Ces paiements demandés à Libeo gardent l'ancien "
            f"IBAN : {listed}. Pour payer sur le nouvel IBAN, annulez le paiement (« Annuler le paiement » sur la "
            "page de la facture, possible tant qu'il n'est pas remis à la banque), puis cliquez de nouveau sur "
            "« Payer ».")


# --- « Fournisseurs » -----------------------------------------------------------------------------


@bp.route("/fournisseurs")
def suppliers():
    if (tidy := tidy_redirect()) is not None:
        return tidy
    company = current_company()
    lq = parse_list_args(request.args, SUPPLIERS, page_number())
    pagination = paginate(db, supplier_list(company, lq), lq.page, PER_PAGE, count_apart=not lq.search)
    return render_template("meg/achats/suppliers.html", pagination=pagination, lq=lq,
                           counts=supplier_tab_counts(company, lq))


SUPPLIERS_EXPORT = ["Id", "Nom", "SIRET", "IBAN", "Banque", "BIC"]


@bp.route("/fournisseurs/export.<fmt>")
def suppliers_export(fmt: str):
    """« Exporter »: the suppliers the list shows with the same search and filter."""
    if fmt not in EXPORT_FORMATS:
        abort(404)
    company = current_company()
    lq = parse_list_args(request.args, SUPPLIERS)
    iban = _iban_shown_to(current_user.is_achats_admin(company))
    rows = streamed_rows(db.session, *supplier_list(company, lq), lambda row: [
        row.Supplier.id, row.Supplier.name, row.Supplier.siret, iban(row.Supplier.iban),
        row.Supplier.bank_name or "", row.Supplier.bic or ""])
    return export_response(fmt, "fournisseurs", "Fournisseurs", SUPPLIERS_EXPORT, rows)


# --- « Factures des clients » (expert-comptable) -----------------------------------------------------

CLIENTS_PER_PAGE = 50
NOT_AN_ACCOUNTANT = "« Factures des clients » est la vue de l'expert-comptable sur les entreprises de son cabinet."


def _clients_query(page: int = 1):
    companies = client_companies(current_user)
    if not companies:
        abort(403, description=NOT_AN_ACCOUNTANT)
    return companies, parse_list_args(request.args, clients_spec(companies), page)


@bp.route("/clients")
def clients():
    """The invoices to settle of every company of the expert-comptable's firm, in one list."""
    if (tidy := tidy_redirect()) is not None:
        return tidy
    companies, lq = _clients_query(page_number())
    pagination = paginate(db, client_invoices(current_user, lq), lq.page, CLIENTS_PER_PAGE, plain=True,
                          count_apart=not lq.search)
    today = paris_today()
    return render_template("meg/achats/clients.html", pagination=pagination, lq=lq,
                           counts=client_tab_counts(current_user, lq), state_word=state_word,
                           # « En retard » / « Échéance proche », as « Factures » says it of what nothing settles yet.
                           due_flag_of=lambda row: due_flag(row.due_date, today) if row.state in TO_SETTLE_STATES
                           else None)


@bp.route("/clients/factures/<int:invoice_id>")
def client_invoice(invoice_id: int):
    """A row of « Factures des clients »: its company becomes the current one, then its invoice opens."""
    companies, _lq = _clients_query()
    found = db.session.get(SupplierInvoice, invoice_id)
    if found is None or found.company_id not in {company.id for company in companies}:
        abort(404)
    session["company_id"] = found.company_id
    return redirect(url_for("achats.invoice", invoice_id=found.id))


CLIENTS_EXPORT = ["Id", "Entreprise", "Numéro", "Fournisseur", "SIRET du fournisseur", "IBAN du fournisseur",
                  "Date de facture", "Échéance", "Montant TTC", "Devise", "Mode de règlement", "État"]


@bp.route("/clients/export.<fmt>")
def clients_export(fmt: str):
    if fmt not in EXPORT_FORMATS:
        abort(404)
    companies, lq = _clients_query()
    # Whole IBANs only for the companies where the person administers « Achats ».
    admin_of = {company.id for company in companies if current_user.is_achats_admin(company)}
    rows = streamed_rows(db.session, *client_invoices(current_user, lq), lambda row: [
        row.id, row.company, row.number, row.name, row.siret,
        _iban_shown_to(row.company_id in admin_of)(row.iban), row.issue_date, row.due_date,
        cents_value(row.amount_cents), row.currency, row.payment_mode.label,
        state_word(row)])
    return export_response(fmt, "factures-clients", "Factures des clients", CLIENTS_EXPORT, rows)


def _supplier_or_404(supplier_id: int):
    try:
        return company_supplier(current_company(), supplier_id)
    except AchatsError:
        abort(404)


@bp.route("/fournisseurs/nouveau", methods=["GET", "POST"])
def new_supplier():
    form = SupplierForm()
    lookalike = None
    if form.validate_on_submit():
        try:
            supplier = create_supplier(current_company(), _supplier_data(form), current_user,
                                       confirm_lookalike=form.confirm_lookalike.data)
        except LookalikeSupplier as warning:
            db.session.rollback()
            lookalike = warning
        else:
            shared = shared_iban_notice(supplier)
            db.session.commit()
            flash(f"Le fournisseur « {supplier.name} » est enregistré.", "success")
            if shared:
                flash(shared, "warning")
            return redirect(url_for("achats.suppliers"))
    return render_template("meg/achats/supplier_form.html", form=form, supplier=None, lookalike=lookalike)


def _supplier_data(form: SupplierForm) -> SupplierData:
    return SupplierData(form.name.data, form.iban.data, form.bic.data)


@bp.route("/fournisseurs/<int:supplier_id>/modifier", methods=["GET", "POST"])
def edit_supplier(supplier_id: int):
    supplier = _supplier_or_404(supplier_id)
    changes_iban = may_change_iban(current_user, current_company())
    if not changes_iban and request.method == "POST" and _asks_another_iban(supplier):
        abort(403, description=IBAN_ADMINS_ONLY)
    form = SupplierForm(obj=supplier) if changes_iban else SupplierNameForm(obj=supplier)
    lookalike = None
    if form.validate_on_submit():
        data = (_supplier_data(form) if isinstance(form, SupplierForm)
                else SupplierData(form.name.data, supplier.iban, supplier.bic))
        old_iban = supplier.iban
        keeping_old_iban = payments_keeping_old_iban(supplier.id, data.iban)
        try:
            update_supplier(supplier, data, current_user, confirm_lookalike=form.confirm_lookalike.data)
        except LookalikeSupplier as warning:
            db.session.rollback()
            return render_template("meg/achats/supplier_form.html", form=form,
                                   supplier=_supplier_or_404(supplier_id), lookalike=warning,
                                   iban_admins_only=IBAN_ADMINS_ONLY)
        shared = shared_iban_notice(supplier) if supplier.iban != old_iban else None
        db.session.commit()
        flash(f"Le fournisseur « {supplier.name} » est modifié.", "success")
        if supplier.iban != old_iban:
            flash(IBAN_CHANGED, "warning")
        if shared:
            flash(shared, "warning")
        if keeping_old_iban:
            flash(_old_iban_notice(keeping_old_iban), "warning")
        return redirect(url_for("achats.suppliers"))
    return render_template("meg/achats/supplier_form.html", form=form, supplier=supplier, lookalike=lookalike,
                           iban_admins_only=IBAN_ADMINS_ONLY)


def _asks_another_iban(supplier) -> bool:
    """Whether the request sends an IBAN or a BIC other than the supplier's. The form of who may not change them
    has neither field: only a crafted request sends another (a page opened while the person administered
    « Achats » sends back the ones it had)."""
    sent_iban, sent_bic = request.form.get("iban"), request.form.get("bic")
    return ((sent_iban is not None and _compact(sent_iban) != supplier.iban)
            or (sent_bic is not None and (_compact(sent_bic) or None) != supplier.bic))


def _compact(value: str) -> str:
    return "".join(value.split()).upper()
