"""Small helpers the tests share: a page as a test reads it, and MEG's sync pass."""

from __future__ import annotations

import re
import time
from html import unescape

import pyotp

# « Nouvelle facture » in MEG and in Libeo: the fields both check alike, with the same French message (the
# forms' other fields start from an invoice issued on 2 Nov. 2026).
BAD_INVOICE_FIELDS = [
    ({"amount": "0"}, "supérieur à zéro"),
    ({"amount": "-12,00"}, "supérieur à zéro"),
    ({"amount": "douze"}, "Montant invalide"),
    ({"amount": "1e9"}, "Montant invalide"),
    ({"amount": "12,345"}, "Montant invalide"),
    # A space that groups no thousands is a typo, not « 1 234 »: a hundred times the amount meant.
    ({"amount": "12 34"}, "a un espace ailleurs qu'entre des groupes de trois chiffres"),
    ({"amount": "99999999999999"}, "maximum"),
    ({"due_date": "2026-10-01"}, "L'échéance ne peut pas précéder"),
    ({"number": ""}, "Saisissez « Numéro »"),
    ({"number": "N" * 61}, "ne doit pas dépasser 60"),
    ({"number": "F\u0000-1"}, "« Numéro » contient le caractère NUL"),
]


def page(response) -> str:
    """The page's HTML, entities decoded."""
    return unescape(response.get_data(as_text=True))


def text(response) -> str:
    """The page's HTML, entities decoded, no-break spaces (French typography) as spaces."""
    return page(response).replace("\u202f", " ").replace("\u00a0", " ")


def words(response) -> str:
    """``text``, every run of spaces and line breaks as one space."""
    return " ".join(text(response).split())


def shown(response) -> str:
    """What a person reads: the page's words without its tags."""
    html = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(unescape(html).replace("\u202f", " ").replace("\u00a0", " ").split())


def confirmation_panel(html: str) -> str:
    """MEG's « Payer » panel of a page (``#confirmer``, where the page opens), as its HTML."""
    found = re.search(r'<section class="card confirm" id="confirmer".*?</section>', html, re.S)
    assert found is not None, "no « Payer » panel on the page"
    return found.group(0)


def sync(meg_app):
    """One pass of MEG's sync (``flask meg sync``), in the app's context; what it reports."""
    from models.meg.libeo_link.sync import sync_pass

    with meg_app.app_context():
        return sync_pass()


def sync_live(live_server) -> None:
    """One pass of MEG's sync in a browser test's running apps."""
    sync(live_server.apps.meg)


def totp_code(secret: str, steps: int = 0, *, margin: float = 5.0) -> str:
    """An authentication app's code ``steps`` windows of 30 s from now. The products accept the codes of
    the current window and of either neighbour: a code of an earlier window (``steps`` < 0) stays good only
    until the current window ends, so when it ends within ``margin`` seconds this waits for the next one."""
    if steps < 0:
        left = 30 - time.time() % 30
        if left < margin:
            time.sleep(left + 0.05)
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


def page_width(page) -> int:
    """How wide a browser page lays out once loaded, its stylesheets applied (a page measured before them, just
    after a click, is wider): more than the window means sideways scrolling."""
    page.wait_for_load_state()
    return page.evaluate("document.documentElement.scrollWidth")
