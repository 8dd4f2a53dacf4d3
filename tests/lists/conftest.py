"""Lists of both products filled with invoices and payments that every filter and sort can tell apart,
and an oracle: the same filters and sorts written in plain Python over the same rows."""

from __future__ import annotations

import csv
import io
import random
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from io import BytesIO

from openpyxl import load_workbook

from core.dates import paris_today, utcnow

# Names starting with letters of their own, so that every collation (SQLite's bytes, PostgreSQL's
# « C » or a French locale) sorts them alike; with accents, a SQL wildcard and a quote to search.
MEG_SUPPLIERS = [("Société Générale d'Emballage", "41234567800011"), ("Café 100% Arabica", "52345678900012"),
                 ("Pâtisserie_Ève", None), ("Boucherie Müller", "63456789000013"), ("Dépôt Vallée", None),
                 ("Ré-Fournitures", None)]
LIBEO_SUPPLIERS = ["Société Générale d'Emballage", "Café 100% Arabica", "Pâtisserie_Ève", "Boucherie Müller",
                   "Dépôt Vallée", "Ré-Fournitures"]
SPECIAL_NUMBERS = ["A_B-7", "100%-X"]
IBAN = "FR7630006000010000000791963"


def folded(text: str) -> str:
    """Case and accents away, as a person means it (the oracle's own way, not core.listing's)."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)).lower()


def reading(text: str) -> str:
    """How a person orders names (the oracle's own way): case and accents aside, « œ » read « oe », the quotes
    and dashes opening a name skipped."""
    spelt = text.replace("Œ", "oe").replace("œ", "oe").replace("Æ", "ae").replace("æ", "ae")
    return folded(spelt).lstrip(" \u00a0\u202f\"'«»‘’“”([{-–—.*#_/")


def _days(rng: random.Random, low: int, high: int) -> date:
    return paris_today() + timedelta(days=rng.randint(low, high))


def _amount(rng: random.Random, k: int) -> int:
    return 123_450 if k % 11 == 0 else rng.randint(1, 500_000)


def fill_meg(meg_app, company_name: str, count: int = 70, seed: int = 1) -> None:
    """``count`` unpaid invoices of ``company_name`` from suppliers of its own, of every mode."""
    from sqlalchemy import select

    from models.meg import Company, PaymentMode, Supplier, db
    from tests.factories import meg_invoice

    rng = random.Random(seed)
    with meg_app.app_context():
        company = db.session.scalar(select(Company).where(Company.name == company_name))
        suppliers = [Supplier(company=company, name=name, iban=IBAN, siret=siret) for name, siret in MEG_SUPPLIERS]
        db.session.add_all(suppliers)
        modes = list(PaymentMode)
        for k in range(count):
            issued = _days(rng, -90, 20)
            number = SPECIAL_NUMBERS[k] if k < len(SPECIAL_NUMBERS) else f"F-{seed}-{k:04d}"
            meg_invoice(company, suppliers[k % len(suppliers)], number, issue_date=issued,
                        due_date=issued + timedelta(days=rng.randint(0, 60)), amount_cents=_amount(rng, k),
                        payment_mode=modes[rng.randrange(len(modes))])
        db.session.commit()


def meg_supplier_with_invoice(meg_app, company_name: str, name: str, number: str, *,
                              amount_cents: int = 4_200) -> None:
    """A supplier of the company, with no IBAN, and one invoice of it paid by cheque."""
    from models.meg import PaymentMode, Supplier, db
    from tests.factories import meg_company, meg_invoice

    with meg_app.app_context():
        company = meg_company(company_name)
        supplier = Supplier(company=company, name=name, iban="", siret=None)
        db.session.add(supplier)
        meg_invoice(company, supplier, number, amount_cents=amount_cents, payment_mode=PaymentMode.CHEQUE)
        db.session.commit()


def fill_libeo(libeo_app, account_id: int, count: int = 70, seed: int = 1) -> None:
    """``count`` invoices of the account, a payment for most of them, in every state."""
    from models.libeo import (
        Channel,
        InitiatorRole,
        Invoice,
        InvoiceSource,
        InvoiceStatus,
        Payment,
        PaymentStatus,
        db,
    )

    invoice_state = {PaymentStatus.AWAITING_APPROVAL: InvoiceStatus.AWAITING_APPROVAL,
                     PaymentStatus.PAID: InvoiceStatus.PAID, PaymentStatus.FAILED: InvoiceStatus.PAYMENT_FAILED,
                     PaymentStatus.CANCELLED: InvoiceStatus.TO_PAY}
    rng = random.Random(seed)
    statuses = list(PaymentStatus)
    with libeo_app.app_context():
        for k in range(count):
            issued = _days(rng, -90, 20)
            number = SPECIAL_NUMBERS[k] if k < len(SPECIAL_NUMBERS) else f"F-{seed}-{k:04d}"
            status = None if k % 7 == 0 else statuses[rng.randrange(len(statuses))]
            invoice = Invoice(
                account_id=account_id, source=InvoiceSource.LIBEO, number=number,
                supplier_name=LIBEO_SUPPLIERS[k % len(LIBEO_SUPPLIERS)], supplier_iban=IBAN, issue_date=issued,
                due_date=issued + timedelta(days=rng.randint(0, 60)), amount_cents=_amount(rng, k),
                status=InvoiceStatus.TO_PAY if status is None else invoice_state.get(
                    status, InvoiceStatus.PAYMENT_SCHEDULED),
                imported_at=utcnow())
            db.session.add(invoice)
            if status is not None:
                db.session.add(Payment(
                    account_id=account_id, invoice=invoice, status=status, amount_cents=invoice.amount_cents,
                    execution_date=_days(rng, -30, 30), creditor_name=invoice.supplier_name,
                    creditor_iban=IBAN, initiated_by_email="compta@entreprise.fr",
                    initiated_by_role=InitiatorRole.USER, channel=Channel.LIBEO,
                    created_at=utcnow() - timedelta(minutes=rng.randint(0, 100_000))))
        db.session.commit()


# --- The oracle -----------------------------------------------------------------------------------


@dataclass
class Row:
    id: int
    number: str
    supplier: str
    amount: int
    date: date  # the date the period filters on
    sorts: dict  # sort key → value
    state: str | None = None
    mode: str | None = None
    siret: str | None = None


def _period(params: dict) -> tuple[date | None, date | None]:
    today = paris_today()
    period = params.get("periode")
    if params.get("du") or params.get("au"):
        low = date.fromisoformat(params["du"]) if params.get("du") else None
        high = date.fromisoformat(params["au"]) if params.get("au") else None
        return (low, high) if not (low and high and low > high) else (high, low)
    if period == "echues":
        return None, today - timedelta(days=1)
    if period == "semaine":
        monday = today - timedelta(days=today.weekday())
        return monday, monday + timedelta(days=6)
    if period == "mois":
        first = today.replace(day=1)
        return first, (first + timedelta(days=31)).replace(day=1) - timedelta(days=1)
    return None, None


def _cents(text: str | None) -> int | None:
    if not text:
        return None
    compact = re.sub(r"\s", "", text).replace(",", ".")
    try:
        return round(float(compact) * 100)
    except ValueError:
        return None


NAME_SORTS = {"fournisseur", "nom", "entreprise", "par"}


def expected(rows: list[Row], params: dict, default_sort: str, states: dict | None = None) -> list[int]:
    """The ids a list must show for ``params``, in order: Python's own filtering and sorting."""
    q = params.get("q", "").strip()
    low, high = _period(params)
    amount_min, amount_max = _cents(params.get("min")), _cents(params.get("max"))
    if amount_min is not None and amount_max is not None and amount_min > amount_max:
        amount_min, amount_max = amount_max, amount_min
    digits = re.sub(r"\s", "", q)
    searched_cents = _cents(q) if re.fullmatch(r"[\d\s]+([,.]\d{1,2})?", q) else None

    def keep(row: Row) -> bool:
        if q and not (folded(q) in folded(row.number) or folded(q) in folded(row.supplier)
                      or row.amount == searched_cents
                      or (digits.isdigit() and len(digits) in (9, 14) and (row.siret or "").startswith(digits))):
            return False
        if params.get("etat") and row.state not in states[params["etat"]]:
            return False
        if params.get("mode") and row.mode != params["mode"]:
            return False
        if (low and row.date < low) or (high and row.date > high):
            return False
        return not ((amount_min is not None and row.amount < amount_min)
                    or (amount_max is not None and row.amount > amount_max))

    sort = params.get("tri") or default_sort
    descending, key = sort.startswith("-"), sort.lstrip("-")
    def order(row: Row) -> tuple:
        value = row.sorts[key]
        # A name in a reader's order: case and accents aside, then the exact spelling.
        return ((reading(value), value) if key in NAME_SORTS else value), row.id

    kept = sorted((row for row in rows if keep(row)), key=order, reverse=descending)
    return [row.id for row in kept]


# --- Exports, read as a person's spreadsheet reads them ------------------------------------------


def read_csv(response) -> list[dict]:
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf"), "a CSV for French spreadsheets starts with the UTF-8 BOM"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def read_xlsx(response) -> list[dict]:
    sheet = load_workbook(BytesIO(response.get_data()), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    # A row's empty cells at its end are not written (as a spreadsheet saves them).
    return [dict(zip(rows[0], (*row, *(None,) * (len(rows[0]) - len(row))), strict=True)) for row in rows[1:]]


def page_ids(html: str, prefix: str) -> list[int]:
    """The ids of the rows a list page links to (``prefix``: the rows' link, before the id)."""
    return [int(found) for found in re.findall(re.escape(prefix) + r"(\d+)\"", html)]


def walk_pages(client, url: str, params: dict, total: int, per_page: int, ids) -> list[int]:
    """Every page of a list, in turn: each (when there are several) says « Page n sur N · total lignes »;
    the rows' ids as the pages show them, each page's once (``ids``: a page's HTML → its rows' ids)."""
    pages = max(-(-total // per_page), 1)
    shown: list[int] = []
    for number in range(1, pages + 1):
        html = client.get(url, query_string={**params, "page": number}).get_data(as_text=True)
        if pages > 1:
            assert f"Page {number} sur {pages} · {total} ligne" in html
        shown += list(dict.fromkeys(ids(html)))
    return shown
