"""Small helpers the tests share: a page as a test reads it, and MEG's sync pass."""

from __future__ import annotations

import re
from html import unescape

# « Nouvelle facture » in MEG and in Libeo: the fields both check alike, with the same French message (the
# forms' other fields start from an invoice issued on 2 Nov. 2026).
BAD_INVOICE_FIELDS = [
    ({"amount": "0"}, "supérieur à zéro"),
    ({"amount": "-12,00"}, "supérieur à zéro"),
    ({"amount": "douze"}, "Montant invalide"),
    ({"amount": "1e9"}, "Montant invalide"),
    ({"amount": "12,345"}, "Montant invalide"),
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


def sync(meg_app):
    """One pass of MEG's sync (``flask meg sync``), in the app's context; what it reports."""
    from models.meg.libeo_link.sync import sync_pass

    with meg_app.app_context():
        return sync_pass()


def sync_live(live_server) -> None:
    """One pass of MEG's sync in a browser test's running apps."""
    sync(live_server.apps.meg)
