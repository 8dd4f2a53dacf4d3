"""The crawler: every page a demo role can reach, checked as a French visitor would see it.

For a visitor, each demo role of MEG, and a Libeo account on « Gratuit » and
one on « Partnerships », the crawler logs in (but the visitor), starts at the home page and follows,
breadth first, every same-origin link and every GET form (never a POST
form, never « Se déconnecter »). Each page must:

- answer neither 404, 405 nor 500 (nor any other error: a link that leads a
  role to a 403 should not have been shown to it), and not be one of
  Werkzeug's English error pages;
- say ``<html lang="fr">``, have a title and exactly one ``h1``;
- not overflow horizontally, at 1280 px nor at 390 px wide (a phone);
- give every form control a name (its ``<label>``, ``aria-label`` or
  ``aria-labelledby``): what a screen reader announces; every link, button
  and frame too, every image an ``alt``; and no ``id`` twice (a ``<label for>``
  names only the first).

Downloads (PDF, XML, CSV, …) are only asked for, their status checked.
Every finding of a role is listed at the end, with the page that linked to
the faulty one.

``SCREENSHOTS=1`` (``make screenshots``) also writes a full-page screenshot
of every page at 1280 px and at 390 px into ``screenshots/<role>/`` and
``screenshots/index.html`` to browse them; without it, nothing is written.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import unicodedata
from collections import deque
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from tests.libeo.test_billing import confirm_card

from .test_meg_achats import log_in

MAX_PAGES = 150
MAX_PAGE_NUMBER = 2  # « page=3 » and beyond look like page 2
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SHOTS = Path(__file__).resolve().parents[2] / "screenshots" if os.environ.get("SCREENSHOTS") else None

LIBEO_PASSWORD = "croissants-au-beurre-2026"
BOULANGERIE_SIRET = "83451234500002"
GARAGE_SIRET = "85123456700002"

# role id → (product it logs in to, e-mail, what the index says of it)
ROLES = {
    "visiteur": (None, None, "Visiteur non connecté (accueil, connexions, inscription à Libeo)"),
    "meg-admin-boulangerie": ("meg", "admin@boulangerie-martin.fr",
                              "MEG · Claire Martin, administratrice « Achats » de Boulangerie Martin"),
    "meg-compta-boulangerie": ("meg", "compta@boulangerie-martin.fr",
                               "MEG · Julien Petit, utilisateur « Achats » (non administrateur) de Boulangerie Martin"),
    "meg-gerant-garage": ("meg", "gerant@garage-leroy.fr", "MEG · Marc Leroy, gérant de Garage Leroy"),
    "meg-president-association": ("meg", "president@amis-du-quartier.fr",
                                  "MEG · Sophie Garnier, présidente des Amis du Quartier (sans SIRET)"),
    "meg-expert-comptable": ("meg", "expert@cabinet-durand.fr", "MEG · Hélène Durand, expert-comptable"),
    "libeo-gratuit": ("libeo", "claire@boulangerie-martin.fr",
                      "Libeo · Boulangerie Martin, formule Gratuit, connectée à MEG"),
    "libeo-partnerships": ("libeo", "marc@garage-leroy.fr",
                           "Libeo · Garage Leroy, formule Partnerships, connecté à MEG"),
}

DOWNLOAD = re.compile(r"\.(pdf|xml|csv|zip|txt|json)$|/(fichier|telecharger|export)$", re.I)
NEVER_FOLLOW = re.compile(r"deconnexion|logout", re.I)
ENGLISH_ERRORS = ("Not Found", "Method Not Allowed", "Internal Server Error", "The requested URL",
                  "Bad Request", "Forbidden", "Unauthorized", "Service Unavailable")

PAGE_FACTS = """() => {
  const text = n => ((n && (n.innerText || n.textContent)) || '').trim();
  const nameOf = el => {
    const parts = [...(el.labels || [])].map(text);
    parts.push((el.getAttribute('aria-label') || '').trim());
    for (const id of (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean))
      parts.push(text(document.getElementById(id)));
    parts.push((el.getAttribute('title') || '').trim());
    return parts.filter(Boolean).join(' ');
  };
  const skipped = ['hidden', 'submit', 'button', 'reset', 'image'];
  // Stripe's card field (« Abonnement ») is Stripe's own: an iframe it labels in production; the
  // tests' localstripe draws bare inputs in its place, once its script has run.
  const unnamed = [...document.querySelectorAll('input, select, textarea')]
    .filter(el => !el.closest('#card-element'))
    .filter(el => !(el.tagName === 'INPUT' && skipped.includes((el.type || '').toLowerCase())))
    .filter(el => !nameOf(el))
    .map(el => el.outerHTML.slice(0, 140));
  // Links, buttons and frames a screen reader could only announce as « lien » or « bouton »; images without alt.
  const named = el => text(el) || nameOf(el) || [...el.querySelectorAll('img[alt]')].some(i => i.alt.trim());
  const nameless = [...document.querySelectorAll('a[href], button, [role=button], iframe, img:not([alt])')]
    .filter(el => !el.closest('#card-element') && el.getClientRects().length)
    .filter(el => el.tagName === 'IMG' || (el.tagName === 'IFRAME' ? !(el.title || '').trim() : !named(el)))
    .map(el => el.outerHTML.slice(0, 140));
  const links = [...document.querySelectorAll('a[href]')].map(a => [a.href, text(a).slice(0, 60)]);
  const forms = [...document.forms]
    .filter(f => (f.getAttribute('method') || 'get').toLowerCase() === 'get')
    .flatMap(f => {
      const base = new URL(f.action || location.href);
      const data = [...new FormData(f)].filter(([, v]) => typeof v === 'string');
      const urls = [];
      const at = d => { const u = new URL(base); u.search = new URLSearchParams(d).toString(); return u.href; };
      urls.push(at(data));
      for (const select of f.querySelectorAll('select[name]'))
        for (const option of [...select.options].slice(0, 8))
          urls.push(at(data.filter(([k]) => k !== select.name).concat([[select.name, option.value]])));
      // A selection (« Payer la sélection »): its boxes may sit in the table, tied by form="…".
      const boxes = [...f.elements].filter(el => el.type === 'checkbox' && el.name && !el.disabled);
      if (boxes.length)
        urls.push(at(data.filter(([k]) => !boxes.some(b => b.name === k)).concat(boxes.map(b => [b.name, b.value]))));
      return urls.map(u => [u, 'formulaire ' + (f.getAttribute('aria-label') || f.id || '')]);
    });
  const ids = [...document.querySelectorAll('[id]:not(input[type=hidden])')].map(el => el.id);
  const duplicates = [...new Set(ids.filter((id, i) => ids.indexOf(id) !== i))];
  return {
    duplicates,
    lang: document.documentElement.getAttribute('lang') || '',
    title: document.title.trim(),
    h1: document.querySelectorAll('h1').length,
    text: document.body ? document.body.innerText : '',
    unnamed, nameless, links, forms,
  };
}"""

OVERFLOW = """() => {
  const root = document.documentElement, width = root.clientWidth;
  const describe = el => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string'
    ? '.' + el.className.trim().split(/\\s+/).join('.') : '') + ' « ' + (el.innerText || '').trim().slice(0, 40) + ' »';
  const outermost = els => els.filter(el => !els.includes(el.parentElement)).slice(0, 3).map(describe);
  if (root.scrollWidth > width + 1) {
    const wide = [...document.body.querySelectorAll('*')].filter(el => el.getBoundingClientRect().right > width + 1);
    return `${root.scrollWidth} px de large : ${outermost(wide).join(' ; ')}`;
  }
  // Within the viewport, but out of the page's column (a table wider than the page).
  const main = document.querySelector('main');
  if (!main) return null;
  const right = main.getBoundingClientRect().right - parseFloat(getComputedStyle(main).paddingRight);
  // What an ancestor clips or scrolls (a visually hidden table head) does not stick out.
  const clipped = el => {
    for (let a = el.parentElement; a && a !== main; a = a.parentElement) {
      const style = getComputedStyle(a);
      if ((style.overflowX !== 'visible' || style.clipPath !== 'none') && a.getBoundingClientRect().right <= right + 1)
        return true;
    }
    return false;
  };
  const out = [...main.querySelectorAll('*')]
    .filter(el => el.getBoundingClientRect().right > right + 1 && !clipped(el));
  return out.length ? `dépasse la colonne de la page : ${outermost(out).join(' ; ')}` : null;
}"""


@dataclass
class Visit:
    number: int
    url: str
    via: str  # the page that linked here, and the link's text
    status: int | None = None
    title: str = ""
    shot: str | None = None
    phone_shot: str | None = None
    findings: list[str] = field(default_factory=list)


def _key(url: str) -> tuple[str, tuple]:
    parts = urlsplit(url)
    return parts.path.rstrip("/") or "/", tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))


def _clean(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(sorted(parse_qsl(parts.query, True))), ""))


def _too_far(url: str) -> bool:
    for name, value in parse_qsl(urlsplit(url).query):
        if name in ("page", "p") and value.isdigit() and int(value) > MAX_PAGE_NUMBER:
            return True
    return False


def _slug(url: str) -> str:
    parts = urlsplit(url)
    text = (parts.path.strip("/") or "accueil") + ("-" + parts.query if parts.query else "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:80] or "page"


# --- the world the roles see -----------------------------------------------------------------------


def _libeo_side(live_server, name: str, siret: str, email: str, full_name: str, plan) -> str:
    """A verified Libeo account with its own bank account; returns its MEG API key. Partnerships is
    subscribed with a card, as « Abonnement » does it: its invoices are Stripe's (localstripe)."""
    from models.libeo import Plan, db
    from models.libeo.accounts.keys import issue_meg_api_key
    from models.libeo.accounts.services import (
        create_account,
        set_bank_account,
        verify_account,
    )
    from models.libeo.billing import subscriptions
    from models.libeo.billing.stripe_gateway import stripe_client

    libeo = live_server.apps.libeo
    with libeo.app_context():
        account = create_account(name, siret, email, LIBEO_PASSWORD, full_name=full_name, plan=Plan.GRATUIT)
        verify_account(account, "vérifié par le support de Libeo", "tests")
        set_bank_account(account, "FR7630006000011234567890189", None)
        key = issue_meg_api_key(account, actor=email)
        db.session.commit()
        if plan is Plan.PARTNERSHIPS:
            client = stripe_client(libeo.config)
            secret = subscriptions.start_card_setup(account, client, email=email)
            db.session.commit()
            assert confirm_card(_LOCALSTRIPE[0], secret, "4242424242424242").status_code == 200
            subscriptions.subscribe(account, secret.split("_secret_")[0], client)
            db.session.commit()
        return key


def _connect_and_pay(live_server, company_name: str, admin_email: str, key: str, paid: int) -> None:
    """MEG's company connected to Libeo with ``key``; its first ``paid`` « Virement par Libeo » invoices paid."""
    from sqlalchemy import select

    from models.meg import Company, SupplierInvoice, User, db
    from models.meg.achats.models import PaymentMode
    from models.meg.libeo_link.connection import connect_company
    from models.meg.libeo_link.paying import pay_invoice

    with live_server.apps.meg.app_context():
        company = db.session.scalar(select(Company).where(Company.name == company_name))
        admin = db.session.scalar(select(User).where(User.email == admin_email))
        connect_company(company, key, admin)
        db.session.commit()
        invoices = db.session.scalars(
            select(SupplierInvoice)
            .where(SupplierInvoice.company_id == company.id, SupplierInvoice.payment_mode == PaymentMode.LIBEO)
            .order_by(SupplierInvoice.id)
        ).all()
        for invoice in invoices[:paid]:
            pay_invoice(invoice, admin)
            db.session.commit()


def _libeo_extras(live_server, siret: str) -> None:
    """In Libeo: an invoice entered there and paid to a new IBAN (held for « À approuver »), and a SEPA file."""
    from sqlalchemy import select

    from core.calendar import earliest_execution_date
    from core.dates import paris_today
    from models.libeo import Channel, InitiatorRole, Payment, PaymentStatus, db
    from models.libeo.accounts.services import account_for_siret
    from models.libeo.invoices.services import create_libeo_invoice, invoice_data
    from models.libeo.payments.order import Initiator, pay_invoice
    from models.libeo.payments.sepa import execute_due_payments

    with live_server.apps.libeo.app_context():
        account = account_for_siret(siret)
        day = earliest_execution_date(paris_today())
        who = Initiator(account.users[0].email, InitiatorRole.USER, Channel.LIBEO)
        # Minoterie Dupuis with another IBAN than the one MEG sends: held.
        invoice = create_libeo_invoice(account, invoice_data(
            number="MD-2026-118", supplier_name="Minoterie Dupuis", supplier_iban="FR7630004008220000001583859",
            supplier_bic=None, issue_date=date.today() - timedelta(days=3), due_date=date.today() + timedelta(days=27),
            amount_cents=51_200))
        pay_invoice(account, invoice, who, day)
        db.session.commit()
        # One scheduled payment moved to the first possible day, then put in a SEPA file.
        scheduled = db.session.scalars(
            select(Payment).where(Payment.account_id == account.id, Payment.status == PaymentStatus.SCHEDULED)
        ).first()
        if scheduled is not None:
            scheduled.execution_date = day
            db.session.commit()
            execute_due_payments(None, day)


def _reminders(live_server, siret: str) -> None:
    """An invoice entered in Libeo due in 3 days, then both products' reminders of due dates, sent."""
    from models.libeo import db
    from models.libeo.accounts.services import account_for_siret
    from models.libeo.invoices.services import create_libeo_invoice, invoice_data
    from models.libeo.notifications.kinds import notifier as libeo_notifier
    from models.libeo.notifications.reminders import write_reminders as libeo_reminders
    from models.meg.notifications.kinds import notifier as meg_notifier
    from models.meg.notifications.reminders import write_reminders as meg_reminders

    with live_server.apps.libeo.app_context():
        create_libeo_invoice(account_for_siret(siret), invoice_data(
            number="GM-2026-044", supplier_name="Grands Moulins de Paris", supplier_iban="FR7630004000031234567890143",
            supplier_bic=None, issue_date=date.today() - timedelta(days=27), due_date=date.today() + timedelta(days=3),
            amount_cents=38_640))
        db.session.commit()
        libeo_reminders()
        libeo_notifier.run_pass()
    with live_server.apps.meg.app_context():
        meg_reminders()
        meg_notifier.run_pass()


# localstripe, for the fixtures above (a session's one server).
_LOCALSTRIPE: list = []


@pytest.fixture
def live_libeo_config(localstripe) -> dict:
    """Libeo's Stripe pointed at localstripe before the app is built (« Abonnement » and its invoices)."""
    localstripe.reset()
    _LOCALSTRIPE[:] = [localstripe]
    return {"LOCALSTRIPE_URL": localstripe.url}


@pytest.fixture
def mailbox(live_server, tmp_path):
    """Both products send to a local SMTP server whose Maildir « E-mails envoyés » reads."""
    from devtools.smtp_server import LocalSmtp

    folder = tmp_path / "mailbox"
    server = LocalSmtp(maildir=folder).start()
    for app in (live_server.apps.meg, live_server.apps.libeo):
        app.config.update(SMTP_URL=server.url, LOCAL_MAILBOX=str(folder))
    yield server
    server.stop()


@pytest.fixture
def demo_world(live_server, libeo_oauth_client, mailbox):
    """MEG's demo data, both SIRET companies connected to Libeo (one per plan, Partnerships subscribed by
    card) with payments under way, and the reminders of due dates sent (« E-mails envoyés »)."""
    from models.libeo import Plan
    from models.libeo.billing.stripe_gateway import stripe_client
    from models.libeo.billing.subscriptions import ensure_catalog

    with live_server.apps.libeo.app_context():
        ensure_catalog(stripe_client(live_server.apps.libeo.config))

    key = _libeo_side(live_server, "Boulangerie Martin SARL", BOULANGERIE_SIRET, "claire@boulangerie-martin.fr",
                      "Claire Martin", Plan.GRATUIT)
    _connect_and_pay(live_server, "Boulangerie Martin SARL", "admin@boulangerie-martin.fr", key, paid=2)
    key = _libeo_side(live_server, "Garage Leroy SAS", GARAGE_SIRET, "marc@garage-leroy.fr", "Marc Leroy",
                      Plan.PARTNERSHIPS)
    _connect_and_pay(live_server, "Garage Leroy SAS", "gerant@garage-leroy.fr", key, paid=3)
    _libeo_extras(live_server, BOULANGERIE_SIRET)
    _libeo_extras(live_server, GARAGE_SIRET)
    _reminders(live_server, BOULANGERIE_SIRET)
    _reminders(live_server, GARAGE_SIRET)
    return live_server


def _log_in(page: Page, product: str | None, email: str | None) -> None:
    if product is None:
        return
    if product == "meg":
        log_in(page, email)
        return
    page.goto("/libeo/connexion")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(LIBEO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()


# The roles that may pay a selection, and the list they pay it from.
PAYERS = {"meg-admin-boulangerie", "meg-compta-boulangerie", "meg-gerant-garage", "libeo-gratuit",
          "libeo-partnerships"}
SELECTION_LIST = {"meg": "/meg/achats/reglements", "libeo": "/libeo/factures/"}


def _pay_the_selection(page: Page, product: str) -> None:
    """« Tout sélectionner », « Payer la sélection », « Confirmer les N paiements »: the result page."""
    page.goto(SELECTION_LIST[product])
    page.get_by_label("Tout sélectionner").check()
    page.get_by_role("button", name="Payer la sélection").click()
    page.get_by_role("button", name=re.compile(r"^Confirmer (le paiement|les \d+ paiements)")).click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


# --- the crawl --------------------------------------------------------------------------------------


def _check_download(page: Page, visit: Visit) -> None:
    response = page.request.get(visit.url, max_redirects=0)
    visit.status = response.status
    visit.title = f"téléchargement ({response.headers.get('content-type', '?')})"
    if response.status >= 400:
        visit.findings.append(f"téléchargement en erreur {response.status}")


def _check_page(page: Page, visit: Visit, folder: Path | None, *, here: bool = False) -> list[tuple[str, str]]:
    """Opens the page (``here``: the one the browser shows, a form's answer), checks it and returns its
    links (url, text)."""
    if here:
        content_type, visit.status = "text/html", 200
    else:
        try:
            response = page.goto(visit.url)
        except PlaywrightError as exc:
            if "Download is starting" in str(exc):
                _check_download(page, visit)
                return []
            visit.findings.append(f"ne s'ouvre pas : {str(exc).splitlines()[0]}")
            return []
        visit.status = response.status if response else None
        content_type = (response.headers.get("content-type", "") if response else "")
    if "text/html" not in content_type:
        visit.title = f"fichier ({content_type or '?'})"
        if visit.status and visit.status >= 400:
            visit.findings.append(f"erreur {visit.status}")
        return []
    facts = page.evaluate(PAGE_FACTS)
    visit.title = facts["title"]
    if visit.status == 403:
        visit.findings.append("403 : ce lien n'aurait pas dû être montré à ce rôle")
    elif visit.status and visit.status >= 400:
        visit.findings.append(f"erreur {visit.status}")
    english = [s for s in ENGLISH_ERRORS if s in facts["text"]]
    if english:
        visit.findings.append(f"page d'erreur en anglais ({', '.join(english)})")
    if facts["lang"] != "fr":
        visit.findings.append(f'<html lang="{facts["lang"]}"> au lieu de lang="fr"')
    if not facts["title"]:
        visit.findings.append("pas de <title>")
    parts = [part.strip() for part in facts["title"].split("·")]
    if len(set(parts)) < len(parts):
        visit.findings.append(f"titre qui se répète : « {facts['title']} »")
    if facts["h1"] != 1:
        visit.findings.append(f"{facts['h1']} titres h1 au lieu d'un")
    for duplicate in facts["duplicates"]:
        visit.findings.append(f"id en double : {duplicate} (un libellé ne désigne que le premier)")
    for control in facts["unnamed"]:
        visit.findings.append(f"champ sans libellé : {control}")
    for element in facts["nameless"]:
        visit.findings.append(f"lien, bouton, cadre ou image sans nom accessible : {element}")

    overflow = page.evaluate(OVERFLOW)
    if overflow:
        visit.findings.append(f"déborde à 1280 px, {overflow}")
    if folder:
        visit.shot = f"{visit.number:03d}-{_slug(visit.url)}.png"
        page.screenshot(path=str(folder / visit.shot), full_page=True)
    page.set_viewport_size(PHONE)
    overflow = page.evaluate(OVERFLOW)
    if overflow:
        visit.findings.append(f"déborde à 390 px, {overflow}")
    if folder:
        visit.phone_shot = f"{visit.number:03d}-{_slug(visit.url)}-390.png"
        page.screenshot(path=str(folder / visit.phone_shot), full_page=True)
    page.set_viewport_size(DESKTOP)
    return [tuple(link) for link in facts["links"] + facts["forms"]]


def crawl(page: Page, starts: list[str], folder: Path | None, *, visits: list[Visit] | None = None,
          seen: set | None = None, here: str | None = None, budget: int = MAX_PAGES) -> list[Visit]:
    """Breadth first from ``starts``; ``here`` names the page the browser already shows (a form's answer),
    checked first. ``visits`` and ``seen`` continue an earlier crawl, with ``budget`` pages more."""
    origin = urlsplit(starts[0] if starts else page.url)[:2]
    queue: deque[tuple[str, str]] = deque((start, "(départ)") for start in starts)
    visits = [] if visits is None else visits
    seen = set() if seen is None else seen
    seen.update(_key(start) for start in starts)
    first, limit = len(visits) + 1, len(visits) + budget
    if here is not None:
        queue.appendleft((page.url, here))
        seen.add(_key(page.url))
    while queue and len(visits) < limit:
        url, via = queue.popleft()
        visit = Visit(len(visits) + 1, url, via)
        visits.append(visit)
        if DOWNLOAD.search(urlsplit(url).path):
            _check_download(page, visit)
            continue
        current = here is not None and visit.number == first
        for href, text in _check_page(page, visit, folder, here=current):
            parts = urlsplit(href)
            if parts[:2] != origin or NEVER_FOLLOW.search(parts.path) or _too_far(href):
                continue
            key = _key(href)
            if key in seen:
                continue
            seen.add(key)
            queue.append((_clean(href), f"{urlsplit(url).path} → « {text} »"))
    return visits


def _new_screens(role: str, product: str | None, visits: list[Visit]) -> dict[str, bool]:
    """The screens of this release each role must have reached (and so checked)."""
    def reached(path: str, query: str = "", title: str = "") -> bool:
        return any(path in urlsplit(v.url).path and query in urlsplit(v.url).query and title in v.title
                   and v.status == 200 for v in visits)

    if product is None:
        return {}
    list_path = SELECTION_LIST[product].rstrip("/")
    screens = {
        "« Notifications » (préférences)": reached(f"/{product}/notifications", title="Notifications"),
        "un rappel d'échéance dans « E-mails envoyés »": any(
            "/notifications/e-mails-envoyes/" in v.url and ("En retard" in v.title or "Échéance proche" in v.title)
            for v in visits),
        "une liste filtrée": reached(list_path, query="="),
        "un export CSV": reached("/export.csv"),
        "un export XLSX": reached("/export.xlsx"),
    }
    if role in PAYERS:
        selection = "/achats/reglements/selection" if product == "meg" else "/libeo/factures/selection"
        screens["« Payer la sélection » (confirmation)"] = reached(selection, query="facture=",
                                                                  title="Payer la sélection")
        screens["le résultat de la sélection"] = any(v.title.startswith("Résultat de la sélection") for v in visits)
    if role == "libeo-partnerships":
        screens["une facture d'abonnement (PDF)"] = reached("/libeo/abonnement/factures/")
    return screens


# --- what a person browses -----------------------------------------------------------------------


def _write_index(root: Path) -> None:
    roles = []
    for role in ROLES:
        manifest = root / role / "pages.json"
        if manifest.exists():
            roles.append((role, json.loads(manifest.read_text())))
    parts = [
        "<!doctype html>\n<html lang=\"fr\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<title>Captures d'écran du parcours · MEG et Libeo</title>\n<style>"
        "body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2433}"
        "table{border-collapse:collapse;margin-bottom:2rem}td,th{border:1px solid #dde2ec;padding:.3rem .6rem;"
        "text-align:left;vertical-align:top}.ko{color:#b3261e}</style>\n</head>\n<body>\n"
        "<h1>Captures d'écran du parcours</h1>\n"
        "<p>Chaque page atteinte par le robot de parcours, pour chaque rôle, en 1280 px (ordinateur) et 390 px "
        "(téléphone).</p>\n<ul>"
    ]
    for role, data in roles:
        problems = sum(1 for v in data["pages"] if v["findings"])
        parts.append(f'<li><a href="#{role}">{html.escape(data["label"])}</a> : {len(data["pages"])} pages'
                     f'{f", {problems} avec des problèmes" if problems else ""}</li>')
    parts.append("</ul>")
    for role, data in roles:
        parts.append(f'<h2 id="{role}">{html.escape(data["label"])}</h2>\n<table>\n'
                     "<tr><th>N°</th><th>Page</th><th>Titre</th><th>Statut</th><th>Captures</th><th>Problèmes</th></tr>")
        for v in data["pages"]:
            shots = " · ".join(
                f'<a href="{role}/{name}">{label}</a>'
                for name, label in ((v["shot"], "1280 px"), (v["phone_shot"], "390 px")) if name
            )
            findings = "<br>".join(html.escape(f) for f in v["findings"])
            parts.append(
                f"<tr><td>{v['number']}</td><td>{html.escape(urlsplit(v['url']).path)}"
                f"{html.escape('?' + urlsplit(v['url']).query) if urlsplit(v['url']).query else ''}</td>"
                f"<td>{html.escape(v['title'])}</td><td>{v['status'] or ''}</td><td>{shots}</td>"
                f'<td class="ko">{findings}</td></tr>'
            )
        parts.append("</table>")
    parts.append("</body>\n</html>\n")
    # Two workers may finish at once: each writes the whole index, and replaces it in one step.
    partial = root / f".index-{os.getpid()}.html"
    partial.write_text("\n".join(parts), encoding="utf-8")
    partial.replace(root / "index.html")


@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_a_role_reaches_is_french_reachable_and_fits_a_phone(role, page: Page, demo_world):
    product, email, label = ROLES[role]
    folder = None
    if SHOTS:
        folder = SHOTS / role
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    _log_in(page, product, email)

    starts = [demo_world.url + "/"]
    if product:  # « E-mails envoyés » of the local SMTP server (development only: no link leads there)
        starts.append(f"{demo_world.url}/{product}/notifications/e-mails-envoyes")
    seen: set = set()
    visits = crawl(page, starts, folder, seen=seen)
    # « Confirmer les N paiements » is a POST the crawl never sends: done once, at the end, and its
    # result page crawled like the others.
    if role in PAYERS:
        _pay_the_selection(page, product)
        crawl(page, [], folder, visits=visits, seen=seen, here="« Confirmer les paiements » de la sélection",
              budget=15)

    if SHOTS:
        pages = [v.__dict__ for v in visits]
        (folder / "pages.json").write_text(json.dumps({"label": label, "pages": pages}, ensure_ascii=False, indent=1))
        _write_index(SHOTS)
    assert len(visits) > 5, f"{role} : le robot n'a atteint que {[v.url for v in visits]}"
    missing = [what for what, found in _new_screens(role, product, visits).items() if not found]
    assert not missing, f"{role} : écrans de cette version non atteints : {missing}\n" + "\n".join(
        f"{v.url} — {v.title}" for v in visits)
    findings = [
        f"{urlsplit(v.url).path}{'?' + urlsplit(v.url).query if urlsplit(v.url).query else ''} "
        f"(depuis {v.via}) : {finding}"
        for v in visits for finding in v.findings
    ]
    assert not findings, f"{role} : {len(findings)} problème(s) sur {len(visits)} pages\n" + "\n".join(findings)
