"""Lists people can work with: search, filters, sort and paging read from the URL, the SQL they add,
and the exports (CSV and XLSX), written once for every list of both products.

A list says what it accepts in a :class:`ListSpec` (its state tabs, modes, sortable columns, the
date it filters on) and which columns carry each of them in a :class:`ListColumns`. Then:

- :func:`parse_list_args` reads ``request.args`` into a :class:`ListQuery`. Nothing a URL holds
  makes it fail: a value it cannot use is ignored (or, for reversed dates and amounts, put back in
  order) with a French sentence the page shows (``ListQuery.problems``).
- :meth:`ListColumns.apply` adds that query's conditions and order to the list's statement. The
  statement's shape (which filters are on, the sort) is all that varies between requests; the
  values are named parameters, so each list caches one statement per shape, as the pages' own
  statements are cached (architecture §8). An :class:`OwnedList` holds those statements for a
  list of one owner's rows (an account's, a company's), with its tabs' counts.
- :func:`csv_response` and :func:`xlsx_response` stream the rows of an export, read in batches
  (``yield_per``), without holding them in memory.

Search ignores case and accents the same way on SQLite and PostgreSQL: :func:`fold` maps each
letter through one table, a Python function on SQLite (registered on each connection by
``core.db``) and ``translate()`` with the same table on PostgreSQL, so the same search gives the
same rows on both.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any
from urllib.parse import urlencode

from flask import Response, g, redirect, request, stream_with_context, url_for
from sqlalchemy import ColumnElement, Select, and_, bindparam, func, literal_column, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Date, String
from werkzeug.utils import cached_property
from werkzeug.wrappers import Response as BaseResponse

from .dates import date_fr, paris_today
from .money import MAX_AMOUNT_CENTS, InvalidAmount, parse_amount
from .paging import Listing

# A search longer than this is cut (nobody types more; a longer one is a pasted page or a probe).
SEARCH_MAX = 100
# Rows read from the database at a time by an export.
EXPORT_BATCH = 1000

# --- Folding: case and accents ignored, the same on both databases -----------------------------------

_FOLD_PAIRS = {
    **{chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)},
    **dict.fromkeys("ÀÁÂÃÄÅàáâãäå", "a"), **dict.fromkeys("ÇçĆćČč", "c"), **dict.fromkeys("ĎďĐđ", "d"),
    **dict.fromkeys("ÈÉÊËèéêëĘęĚě", "e"), **dict.fromkeys("ÌÍÎÏìíîï", "i"), **dict.fromkeys("ŁłĹĺĽľ", "l"),
    **dict.fromkeys("ÑñŃńŇň", "n"), **dict.fromkeys("ÒÓÔÕÖØòóôõöøŒœ", "o"), **dict.fromkeys("ŘřŔŕ", "r"),
    **dict.fromkeys("ŚśŠšŞş", "s"), **dict.fromkeys("ŤťŢţ", "t"), **dict.fromkeys("ÙÚÛÜùúûüŮůŰű", "u"),
    **dict.fromkeys("ÝýÿŸ", "y"), **dict.fromkeys("ŹźŻżŽž", "z"), **dict.fromkeys("Ææ", "a"),
}
FOLD_FROM = "".join(_FOLD_PAIRS)
FOLD_TO = "".join(_FOLD_PAIRS.values())
_FOLD_TABLE = str.maketrans(FOLD_FROM, FOLD_TO)


def fold(text: str | None) -> str | None:
    """« Société Générale » → « societe generale »: what search compares (None stays None)."""
    return None if text is None else text.translate(_FOLD_TABLE)


class folded(FunctionElement):  # noqa: N801 - an SQL function, named as SQL names them
    """``fold(column)`` in SQL: SQLite's lower() or the registered function, ``lower()`` or ``translate()`` on
    PostgreSQL, by whether the value holds ASCII only."""

    type = String()
    name = "fold"
    inherit_cache = True


@compiles(folded)
def _fold_sqlite(element, compiler, **kw):
    # A value of ASCII characters only (as many bytes as characters) folds as SQLite's own lower(), which
    # lowers A–Z and nothing else, as the table does: the registered Python function (a call back into
    # Python for each row and column searched) is left to values with other characters.
    return _fold_sqlite_sql(compiler.process(element.clauses, **kw))


def _fold_sqlite_sql(column: str, function: str = "fold") -> str:
    return (f"CASE WHEN length(CAST({column} AS BLOB)) = length({column}) THEN lower({column}) "
            f"ELSE {function}({column}) END")


def fold_postgresql(column: str, spelt: str | None = None) -> str:
    """``fold`` in PostgreSQL's SQL, the expression its trigram indexes hold (migrations name it too).

    ``translate`` with the whole table reads the table once per character: some 20 µs a row on this
    machine, most of a searched list's time. A value with no character but ASCII (as many bytes as
    characters) folds as its ASCII lowercase (``COLLATE "C"``: A–Z only, whatever the database's
    locale), the same result as the table, which maps nothing else of ASCII. ``spelt``: what the table
    translates when the value is not ASCII, if not the value itself (:func:`reading_key`'s ligatures)."""
    return (f'CASE WHEN octet_length({column}) = char_length({column}) THEN lower(({column}) COLLATE "C") '
            f"ELSE translate({spelt or column}, '{FOLD_FROM}', '{FOLD_TO}') END")


@compiles(folded, "postgresql")
def _fold_postgresql(element, compiler, **kw):
    return fold_postgresql(compiler.process(element.clauses, **kw))


class paris_day(FunctionElement):  # noqa: N801 - an SQL function, named as SQL names them
    """The day in Paris of a moment stored in UTC, for a list whose dates are moments (« Journal »):
    a registered function on SQLite, ``AT TIME ZONE`` on PostgreSQL."""

    type = Date()
    name = "paris_day"
    inherit_cache = True


@compiles(paris_day)
def _paris_day_sqlite(element, compiler, **kw):
    return f"paris_day({compiler.process(element.clauses, **kw)})"


@compiles(paris_day, "postgresql")
def _paris_day_postgresql(element, compiler, **kw):
    return f"CAST(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'Europe/Paris' AS DATE)"


def _sqlite_paris_day(stored: str | None) -> str | None:
    # SQLite holds the moment as its UTC text (« 2026-12-04 23:30:00.000000 »).
    if stored is None:
        return None
    moment = datetime.fromisoformat(stored)
    return paris_today(moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


# What a reader skips at the start of a name when ordering names: quotes, brackets, dashes, spaces.
_LEADING = " \u00a0\u202f\"'«»‘’“”([{-–—.*#_/"
_LIGATURES = {"Œ": "oe", "œ": "oe", "Æ": "ae", "æ": "ae"}


def reading_key(text: str | None) -> str | None:
    """« « Le Fournil » » → « le fournil » », « Œuvres » → « oeuvres »: the key names are ordered by (see
    :func:`by_name`); the search's fold, ligatures read as two letters, what opens the name skipped."""
    if text is None:
        return None
    for ligature, letters in _LIGATURES.items():
        text = text.replace(ligature, letters)
    return text.translate(_FOLD_TABLE).lstrip(_LEADING)


class reading_order(FunctionElement):  # noqa: N801 - an SQL function, named as SQL names them
    """:func:`reading_key` in SQL: SQLite's lower() or the registered function, PostgreSQL's ``lower()`` or
    ``translate()`` after the ligatures, by whether the value holds ASCII only; then ``ltrim``."""

    type = String()
    name = "reading_key"
    inherit_cache = True


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@compiles(reading_order)
def _reading_order_sqlite(element, compiler, **kw):
    column = compiler.process(element.clauses, **kw)
    return f"ltrim({_fold_sqlite_sql(column, 'reading_key')}, {_sql_text(_LEADING)})"


@compiles(reading_order, "postgresql")
def _reading_order_postgresql(element, compiler, **kw):
    column = compiler.process(element.clauses, **kw)
    spelt = column
    for ligature, letters in _LIGATURES.items():
        spelt = f"replace({spelt}, '{ligature}', '{letters}')"
    return f"ltrim({fold_postgresql(column, spelt)}, {_sql_text(_LEADING)})"


def register_fold(dbapi_connection) -> None:
    """Gives an SQLite connection the lists' functions, ``fold``, ``reading_key`` and ``paris_day``
    (``core.db`` calls it on connect)."""
    dbapi_connection.create_function("fold", 1, fold, deterministic=True)
    dbapi_connection.create_function("reading_key", 1, reading_key, deterministic=True)
    dbapi_connection.create_function("paris_day", 1, _sqlite_paris_day, deterministic=True)


_APOSTROPHES = "'’"


def by_name(column) -> tuple:
    """A list's sort on a name, as a French reader orders names: case and accents aside (« atelier »,
    « Électricité », « Zinc »), « Œ » read « oe », quotes or dashes opening the name skipped (« « Le Fournil » »
    under L), then the exact spelling, so that the order is total. Neither database's own order does it:
    SQLite compares bytes, PostgreSQL its collation (« C » puts « Z » before « a » and « É » after « z »).
    Sorting by a name sorts the rows the filters leave, a name computed once per row."""
    return (reading_order(column), column)


def search_variants(folded_text: str) -> list[str]:
    """Other spellings of the search as stored names fold, each looked for too (at most three):

    - written with « œ » or « æ », which fold to one letter each (``translate`` maps a character to a
      character): « oeufs » is also looked for as « oufs », which « Œufs » folds to;
    - with the other apostrophe: « l'atelier » finds « L’Atelier », « l’atelier » finds « L'Atelier »."""
    spellings = {folded_text}
    collapsed = folded_text.replace("oe", "o").replace("ae", "a")
    spellings.add(collapsed)
    for text in list(spellings):
        for typed in _APOSTROPHES:
            for other in _APOSTROPHES:
                if typed != other and typed in text:
                    spellings.add(text.replace(typed, other))
    spellings.discard(folded_text)
    return sorted(spellings)[:3]


def like_pattern(text: str) -> str:
    """``%text%`` for a LIKE with ``\\`` as escape: « 100% » and « a_b » are searched as typed."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# --- What a list accepts --------------------------------------------------------------------------------

PERIODS = {"echues": "Échues", "semaine": "Cette semaine", "mois": "Ce mois-ci", "dates": "Dates choisies"}


@dataclass(frozen=True)
class ListSpec:
    """What one list accepts from its URL, with the labels its page shows.

    ``states``: the tabs (URL value → label); ``modes``: « Mode de règlement » (URL value → label);
    ``sorts``: sortable columns (URL value → the column's header); ``default_sort``: a sort key,
    ``-`` first for descending; ``date_label``: the date the period filters on (None: no period);
    ``overdue``: whether « Échues » is offered (a due date).
    """

    sorts: dict[str, str]
    default_sort: str
    states: dict[str, str] = field(default_factory=dict)
    modes: dict[str, str] = field(default_factory=dict)
    date_label: str | None = None
    overdue: bool = False
    amount: bool = True
    search_hint: str = "Numéro, fournisseur ou montant"
    # « Fournisseur »: the rows of suppliers whose name holds these words (accents and case ignored), alone —
    # the search also reads numbers, amounts and SIRETs; between double quotes, the supplier of exactly that
    # name (« "Roux" » is not « Emballages Roux »: what a link to one supplier's rows sends).
    supplier: bool = False

    @property
    def periods(self) -> dict[str, str]:
        return {key: label for key, label in PERIODS.items() if self.overdue or key != "echues"}


@dataclass(frozen=True)
class ListQuery:
    """One request's search, filters, sort and page, as read from its URL (see :func:`parse_list_args`)."""

    spec: ListSpec
    search: str = ""
    state: str | None = None
    mode: str | None = None
    period: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    amount_min: int | None = None
    amount_max: int | None = None
    sort: str = ""
    descending: bool = False
    page: int = 1
    problems: tuple[str, ...] = ()
    supplier: str = ""

    # -- URLs: the whole state, so that a link, a bookmark or the back button keeps it.

    def url_args(self, **changes: Any) -> dict[str, str]:
        """The query string of this list (``changes`` override: ``page``, ``tri``, ``etat``…; None drops)."""
        args = {**self._args, **changes} if changes else self._args
        return {key: str(value) for key, value in args.items() if value not in (None, "")}

    @cached_property
    def _args(self) -> dict[str, Any]:
        # Every argument in its place, None where absent: a page asks for some twenty links of its list.
        return {
            "q": self.search or None,
            "fournisseur": self.supplier or None,
            "etat": self.state,
            "mode": self.mode,
            "periode": self.period if self.period != "dates" else None,
            "du": self.date_from.isoformat() if self.period == "dates" and self.date_from else None,
            "au": self.date_to.isoformat() if self.period == "dates" and self.date_to else None,
            "min": _amount_text(self.amount_min),
            "max": _amount_text(self.amount_max),
            "tri": self.sort_arg if self.sort_arg != self.spec.default_sort else None,
            "page": self.page if self.page > 1 else None,
        }

    def filter_args(self) -> dict[str, str]:
        """The same without page and sort: what an export, a tab or the search form carries."""
        return self.url_args(page=None, tri=None)

    @property
    def sort_arg(self) -> str:
        return ("-" if self.descending else "") + self.sort

    def sort_link(self, key: str) -> dict[str, str]:
        """The URL args of a click on a column's header: ascending first, then the other way."""
        again = key == self.sort and not self.descending
        return self.url_args(tri=("-" if again else "") + key, page=None)

    def aria_sort(self, key: str) -> str | None:
        if key != self.sort:
            return None
        return "descending" if self.descending else "ascending"

    # -- What filters the list: named on the empty state, each with how to take it away.

    @property
    def is_filtered(self) -> bool:
        return bool(self.active_filters())

    def active_filters(self) -> list[tuple[str, dict[str, str]]]:
        """Each filter on, in words, with the URL args of the list without it."""
        spec, found = self.spec, []
        if self.search:
            found.append((f"la recherche « {self.search} »", self.url_args(q=None, page=None)))
        if self.supplier:
            found.append((f"le fournisseur « {self.supplier_name} »", self.url_args(fournisseur=None, page=None)))
        if self.state:
            found.append((f"l'état « {spec.states[self.state]} »", self.url_args(etat=None, page=None)))
        if self.mode:
            found.append((f"le mode « {spec.modes[self.mode]} »", self.url_args(mode=None, page=None)))
        if self.period:
            found.append((f"la période « {self.period_words} »",
                          self.url_args(periode=None, du=None, au=None, page=None)))
        if self.amount_min is not None or self.amount_max is not None:
            found.append((f"le montant {self.amount_words}", self.url_args(min=None, max=None, page=None)))
        return found

    @property
    def exact_supplier(self) -> bool:
        """« "Roux" »: the supplier of exactly that name (accents and case ignored), not every name holding it."""
        return len(self.supplier) > 2 and self.supplier.startswith('"') and self.supplier.endswith('"')

    @property
    def supplier_name(self) -> str:
        """The « Fournisseur » filter without the quotes that make it exact."""
        return self.supplier[1:-1] if self.exact_supplier else self.supplier

    @property
    def period_words(self) -> str:
        if self.period != "dates":
            return PERIODS.get(self.period or "", "")
        if self.date_from and self.date_to:
            return f"du {date_fr(self.date_from)} au {date_fr(self.date_to)}"
        return f"à partir du {date_fr(self.date_from)}" if self.date_from else f"jusqu'au {date_fr(self.date_to)}"

    @property
    def amount_words(self) -> str:
        low, high = _amount_text(self.amount_min), _amount_text(self.amount_max)
        if low and high:
            return f"de {low} € à {high} €"
        return f"d'au moins {low} €" if low else f"d'au plus {high} €"

    # -- SQL: the shape picks the cached statement, the values fill it.

    def date_range(self, today: date | None = None) -> tuple[date | None, date | None]:
        today = today or paris_today()
        if self.period == "echues":
            return None, today - timedelta(days=1)
        if self.period == "semaine":
            monday = today - timedelta(days=today.weekday())
            return monday, monday + timedelta(days=6)
        if self.period == "mois":
            first = today.replace(day=1)
            return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        return self.date_from, self.date_to

    def search_terms(self) -> tuple[str | None, int | None, str | None]:
        """The search as text (folded), as an amount in cents if it reads as one, as digits (a SIRET)."""
        if not self.search:
            return None, None, None
        try:
            cents = parse_amount(self.search)
        except InvalidAmount:
            cents = None
        digits = re.sub(r"[\s\u00a0\u202f]", "", self.search)
        return fold(self.search), cents, digits if digits.isdigit() and len(digits) in (9, 14) else None

    def shape(self, today: date | None = None) -> tuple:
        text, cents, digits = self.search_terms()
        low, high = self.date_range(today)
        # 1: the text; more: it and its other spellings (``search_variants``), each looked for.
        has_text = 0 if text is None else 1 + len(search_variants(text))
        return (has_text, cents is not None, digits is not None, self.state is not None,
                self.mode is not None, low is not None, high is not None,
                self.amount_min is not None, self.amount_max is not None, self.sort, self.descending,
                0 if not self.supplier else 2 if self.exact_supplier else 1)

    def values(self, state_values: dict[str, tuple] | None = None, mode_values: dict[str, Any] | None = None,
               today: date | None = None) -> dict[str, Any]:
        text, cents, digits = self.search_terms()
        low, high = self.date_range(today)
        variants = search_variants(text) if text else []
        found = {"f_text": like_pattern(text) if text else None,
                 **{f"f_text_{i}": like_pattern(variant) for i, variant in enumerate(variants, 1)},
                 "f_cents": cents, "f_digits": digits,
                 "f_state": list((state_values or {}).get(self.state or "", ())) if self.state else None,
                 "f_mode": (mode_values or {}).get(self.mode or "") if self.mode else None,
                 "f_from": low, "f_to": high, "f_min": self.amount_min, "f_max": self.amount_max,
                 "f_supplier": (None if not self.supplier else fold(self.supplier_name) if self.exact_supplier
                                else like_pattern(fold(self.supplier) or ""))}
        return {key: value for key, value in found.items() if value is not None}


def _amount_text(cents: int | None) -> str | None:
    if cents is None:
        return None
    euros, rest = divmod(cents, 100)
    return f"{euros},{rest:02d}" if rest else str(euros)


# --- Reading the URL ------------------------------------------------------------------------------------


def _clean_search(raw: str, problems: list[str], what: str = "La recherche") -> str:
    # Control characters (and lone surrogates) dropped, as the door refuses them in forms; NFC.
    text = "".join(ch for ch in raw if unicodedata.category(ch) not in ("Cc", "Cs", "Cf"))
    text = " ".join(unicodedata.normalize("NFC", text).split())
    if len(text) > SEARCH_MAX:
        cut = "limitée" if what.startswith("La ") else "limité"
        problems.append(f"{what} est {cut} à {SEARCH_MAX} caractères : seuls les {SEARCH_MAX} premiers sont "
                        "cherchés.")
        text = text[:SEARCH_MAX].rstrip()
    return text


def _date(raw: str | None, label: str, problems: list[str]) -> date | None:
    if not raw:
        return None
    try:
        value = date.fromisoformat(raw.strip()[:10])
    except ValueError:
        problems.append(f"La date « {raw[:40]} » ({label}) n'est pas une date : elle est ignorée.")
        return None
    if not 1900 <= value.year <= 2200:
        problems.append(f"La date du {date_fr(value)} ({label}) est hors des dates possibles : elle est ignorée.")
        return None
    return value


def _amount(raw: str | None, label: str, problems: list[str]) -> int | None:
    if not raw or not raw.strip():
        return None
    try:
        cents = parse_amount(raw[:40])
    except InvalidAmount:
        if raw.strip() in ("0", "0,00", "0.00"):
            return 0
        problems.append(f"Le montant « {raw[:40]} » ({label}) n'est pas un montant en euros (par exemple "
                        "1 234,50) : il est ignoré.")
        return None
    return min(cents, MAX_AMOUNT_CENTS)


def _choice(raw: str | None, choices: dict[str, str], what: str, problems: list[str]) -> str | None:
    if not raw:
        return None
    if raw in choices:
        return raw
    problems.append(f"« {raw[:40]} » n'est pas {what} de cette liste : ce filtre est ignoré.")
    return None


def tidy_redirect() -> BaseResponse | None:
    """The list's form sends its empty fields too (« ?q=&mode=&… »): the same URL without them, for
    an address worth bookmarking; None when it has none."""
    if all(value != "" for value in request.args.values()):
        return None
    kept = [(key, value) for key, value in request.args.items(multi=True) if value != ""]
    return redirect(request.script_root + request.path + ("?" + urlencode(kept) if kept else ""))


def parse_list_args(args, spec: ListSpec, page: int = 1) -> ListQuery:
    """A list's query from its URL args; never fails (see the module's notes)."""
    problems: list[str] = []
    search = _clean_search(args.get("q", ""), problems)
    supplier = _clean_search(args.get("fournisseur", ""), problems, "Le fournisseur") if spec.supplier else ""
    state = _choice(args.get("etat"), spec.states, "un état", problems)
    mode = _choice(args.get("mode"), spec.modes, "un mode de règlement", problems)
    period = date_from = date_to = None
    if spec.date_label:
        label = spec.date_label.lower()
        date_from = _date(args.get("du"), f"{label}, début", problems)
        date_to = _date(args.get("au"), f"{label}, fin", problems)
        if date_from or date_to:
            period = "dates"
        else:
            period = _choice(args.get("periode"), {k: v for k, v in spec.periods.items() if k != "dates"},
                             "une période", problems)
        if date_from and date_to and date_from > date_to:
            problems.append(f"La date de début ({date_fr(date_from)}) était après la date de fin "
                            f"({date_fr(date_to)}) : les deux sont inversées.")
            date_from, date_to = date_to, date_from
    low = high = None
    if spec.amount:
        low = _amount(args.get("min"), "montant minimum", problems)
        high = _amount(args.get("max"), "montant maximum", problems)
        if low is not None and high is not None and low > high:
            problems.append("Le montant minimum était plus grand que le maximum : les deux sont inversés.")
            low, high = high, low
    raw_sort = args.get("tri") or spec.default_sort
    descending, sort = raw_sort.startswith("-"), raw_sort.lstrip("-")
    if sort not in spec.sorts:
        problems.append(f"« {raw_sort[:40]} » n'est pas une colonne à trier de cette liste : l'ordre habituel "
                        "est gardé.")
        descending, sort = spec.default_sort.startswith("-"), spec.default_sort.lstrip("-")
    return ListQuery(spec, search, state, mode, period, date_from, date_to, low, high, sort, descending, page,
                     tuple(problems), supplier)


# --- The SQL --------------------------------------------------------------------------------------------


# A list's column: a mapped attribute (``Invoice.amount_cents``) or any column expression.
ListColumn = ColumnElement[Any] | QueryableAttribute[Any]


@dataclass(frozen=True)
class ListColumns:
    """Which columns carry a list's search, filters and sorts.

    ``text``: searched folded, anywhere in them; ``digits``: compared whole with a SIRET or
    SIREN searched (``digits_prefix``: a SIREN is the SIRET's start); ``amount``: an amount
    searched, and the range; ``state``, ``mode``, ``date``: their filters; ``sorts``: each
    sort key's columns; ``tiebreak``: the last column of every order (unique), so pages never
    share or skip a row.
    """

    sorts: dict[str, tuple[ListColumn, ...]]
    tiebreak: ListColumn
    text: tuple[ListColumn, ...] = ()
    digits: tuple[ListColumn, ...] = ()
    amount: ListColumn | None = None
    state: ListColumn | None = None
    mode: ListColumn | None = None
    date: ListColumn | None = None
    supplier: ListColumn | None = None

    def conditions(self, shape: tuple, *, with_state: bool = True) -> list[ColumnElement]:
        has_text, has_cents, has_digits, has_state, has_mode, has_from, has_to, has_min, has_max = shape[:9]
        found: list[ColumnElement] = []
        if has_text:
            matches: list[ColumnElement[bool]] = [
                folded(column).like(bindparam("f_text"), escape="\\") for column in self.text]
            matches += [folded(column).like(bindparam(f"f_text_{i}"), escape="\\")
                        for i in range(1, has_text) for column in self.text]
            if has_cents and self.amount is not None:
                matches.append(self.amount == bindparam("f_cents"))
            if has_digits:
                digits = bindparam("f_digits", type_=String())  # typed: PostgreSQL's length() needs to know
                matches += [func.substr(column, 1, func.length(digits)) == digits for column in self.digits]
            found.append(or_(*matches) if matches else literal_column("1") == 0)
        if has_state and with_state and self.state is not None:
            found.append(self.state.in_(bindparam("f_state", expanding=True)))
        if has_mode and self.mode is not None:
            found.append(self.mode == bindparam("f_mode"))
        if shape[11] and self.supplier is not None:
            found.append(folded(self.supplier) == bindparam("f_supplier") if shape[11] == 2 else
                         folded(self.supplier).like(bindparam("f_supplier"), escape="\\"))
        if has_from and self.date is not None:
            found.append(self.date >= bindparam("f_from"))
        if has_to and self.date is not None:
            found.append(self.date <= bindparam("f_to"))
        if has_min and self.amount is not None:
            found.append(self.amount >= bindparam("f_min"))
        if has_max and self.amount is not None:
            found.append(self.amount <= bindparam("f_max"))
        return found

    def apply(self, statement: Select, shape: tuple) -> Select:
        """``statement`` with the shape's conditions and order (its own order replaced)."""
        sort, descending = shape[9], shape[10]
        conditions = self.conditions(shape)
        if conditions:
            statement = statement.where(and_(*conditions))
        order = [column.desc() if descending else column.asc() for column in self.sorts[sort]]
        order.append(self.tiebreak.desc() if descending else self.tiebreak.asc())
        return statement.order_by(None).order_by(*order)

    def count_by_state(self, statement: Select, shape: tuple) -> Select:
        """How many rows of each state the other filters leave (the tabs' counts)."""
        if self.state is None:
            raise ValueError("count_by_state needs the list's state column")
        conditions = self.conditions(shape, with_state=False)
        statement = statement.with_only_columns(self.state, func.count()).group_by(self.state).order_by(None)
        return statement.where(and_(*conditions)) if conditions else statement


def tab_total(counts: dict[str, int], query: ListQuery) -> int:
    """How many rows the list holds under ``query``, from its tab counts (read under the same filters):
    its tab's count, or every tab's."""
    return counts[query.state or ""]


def tab_counts(rows: Iterable[Sequence[Any]], state_values: dict[str, tuple]) -> dict[str, int]:
    """Each tab's count from ``(state, count)`` rows (a tab may gather several states)."""
    by_state = dict(tuple(row) for row in rows)  # Row objects are not pairs to dict()
    counts = {key: sum(by_state.get(value, 0) for value in values) for key, values in state_values.items()}
    counts[""] = sum(by_state.values())
    return counts



def searches_text(shape: tuple) -> bool:
    """Whether a ``ListQuery.shape`` searches words or digits: the columns a list may read through a join
    (a supplier's name, its SIRET), which an unsearched count or aggregate can leave out."""
    text, _cents, digits = shape[:3]
    return bool(text or digits or shape[11])


class OwnedList:
    """A list of one owner's rows (an account's, a company's): its statements, each built once per shape
    (the owner and the filters' values are bound parameters), and the parameters that answer a query.

    ``rows`` is the page's statement before the filters (its columns, what it loads with them); ``owned``
    narrows a statement to the owner named by the parameter ``owner``; ``states`` and ``modes`` are the
    values each tab and each mode of the URL stand for.
    """

    def __init__(self, columns: ListColumns, rows: Select, *, owned: Callable[[Select], Select], owner: str,
                 states: dict[str, tuple] | None = None, modes: dict[str, Any] | None = None,
                 counted: Callable[[Select], Select] | None = None) -> None:
        self.columns = columns
        self.rows = rows
        self.owned = owned
        # ``owned`` without the tables only a search reads (a join), for the tabs' counts of a list that is
        # not searched; ``owned`` when None.
        self.counted = counted or owned
        self.owner = owner
        self.states = states or {}
        self.modes = modes
        self.statement = cache(self._statement)
        self.counts_statement = cache(self._counts_statement)

    def _statement(self, shape: tuple) -> Select:
        return self.columns.apply(self.owned(self.rows), shape)

    def _counts_statement(self, shape: tuple) -> Select:
        owned = self.owned if searches_text(shape) else self.counted
        return self.columns.count_by_state(owned(select(self.columns.tiebreak)), shape)

    def values(self, owner_id: int | None, query: ListQuery) -> dict[str, Any]:
        return {self.owner: owner_id, **query.values(state_values=self.states, mode_values=self.modes)}

    def listing(self, owner_id: int | None, query: ListQuery) -> Listing:
        """The owner's rows the query asks for, ready to be paged (``paginate``) or exported in batches."""
        return Listing(self.statement(query.shape()), self.values(owner_id, query))

    def tab_counts(self, session, owner_id: int | None, query: ListQuery) -> dict[str, int]:
        """How many rows each state tab holds under the query's other filters (one statement, plain rows: on
        the session's connection, without the ORM's execution layer)."""
        rows = session.connection().execute(self.counts_statement(query.shape()), self.values(owner_id, query))
        return tab_counts(rows, self.states)

def list_url(endpoint: str, args: dict[str, str], **path: Any) -> str:
    """``url_for(endpoint, **path, **args)`` for a list's links (tabs, sort headers, pager, exports): the
    endpoint's own URL is built once per request, then each link adds its query string the way werkzeug
    encodes it. A list page asks for some twenty such links."""
    built = g.setdefault("_list_urls", {})
    key = (endpoint, *sorted(path.items()))
    base = built.get(key)
    if base is None:
        base = built[key] = url_for(endpoint, **path)
    return f"{base}?{_query_string(tuple(args.items()))}" if args else base


# What werkzeug leaves unquoted in a query string (``werkzeug.urls._urlencode``).
_QUERY_SAFE = "!$'()*,/:;?@"


@lru_cache(maxsize=4096)
def _query_string(items: tuple[tuple[str, str], ...]) -> str:
    # The same few links on every page of a list (tabs, sort headers, exports): encoded once per worker.
    return urlencode(items, safe=_QUERY_SAFE)

# --- Exports --------------------------------------------------------------------------------------------


def cents_value(cents: int | None) -> Decimal | None:
    """An amount as a spreadsheet's number: 123456 → Decimal('1234.56')."""
    return None if cents is None else Decimal(cents).scaleb(-2)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(value: str) -> str:
    # A cell a spreadsheet would run as a formula (« =HYPERLINK(…) » as a supplier's name) is text.
    return "'" + value if value.startswith(_FORMULA_START) else value


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f").replace(".", ",")
    if isinstance(value, datetime):  # a moment, given in Paris time (``paris_moment``)
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return date_fr(value)
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, int):
        return str(value)
    return _text_cell(str(value))


def _attachment(response: Response, filename: str) -> Response:
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def csv_response(filename: str, header: list[str], rows: Iterable[list[Any]]) -> Response:
    """A CSV as French spreadsheets open it (UTF-8 with BOM, « ; », decimal comma), streamed."""

    def lines() -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
        writer.writerow(header)
        yield ("\ufeff" + buffer.getvalue()).encode()
        buffer.seek(0)
        buffer.truncate()
        for count, row in enumerate(rows, 1):
            writer.writerow([_csv_cell(value) for value in row])
            if count % 200 == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        if buffer.tell():
            yield buffer.getvalue().encode()

    response = Response(stream_with_context(lines()), mimetype="text/csv")  # text/csv; charset=utf-8
    return _attachment(response, filename)


def xlsx_response(filename: str, title: str, header: list[str], rows: Iterable[list[Any]]) -> Response:
    """An XLSX workbook of one sheet, written row by row to a temporary file, then streamed from it."""
    from openpyxl import Workbook  # noqa: PLC0415 - only exports load it (a few MB of modules)
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415
    from openpyxl.cell.cell import ERROR_CODES  # noqa: PLC0415
    from openpyxl.styles import Font  # noqa: PLC0415

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    bold = Font(bold=True)

    # One styled cell per column, its value changed for each row (openpyxl writes a row as it is
    # appended): amounts and dates keep their format without a new cell each; other values go as they are.
    styled: dict[tuple[int, type], Any] = {}

    def cell(column: int, value: Any):
        if isinstance(value, str):
            if not value.startswith(_FORMULA_START) and value not in ERROR_CODES:
                return value
            written = WriteOnlyCell(sheet, value=None)
            written.value, written.data_type = value, "s"  # never a formula, nor an error (« #N/A »)
            return written
        if not isinstance(value, Decimal | date):
            return value
        written = styled.get((column, type(value)))
        if written is None:
            written = styled[column, type(value)] = WriteOnlyCell(sheet, value=value)
            written.number_format = ("#,##0.00" if isinstance(value, Decimal) else
                                     "DD/MM/YYYY HH:MM" if isinstance(value, datetime) else "DD/MM/YYYY")
        written.value = value
        return written

    heading = []
    for name in header:
        written = WriteOnlyCell(sheet, value=name)
        written.font = bold
        heading.append(written)
    sheet.append(heading)
    for row in rows:
        sheet.append([cell(column, value) for column, value in enumerate(row)])
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the response once sent
    workbook.save(spool)
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        with spool:
            while chunk := spool.read(64 * 1024):
                yield chunk

    response = Response(chunks(), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return _attachment(response, filename)


EXPORT_FORMATS = ("csv", "xlsx")


def export_response(fmt: str, name: str, title: str, header: list[str], rows: Iterable[list[Any]]) -> Response:
    """The export in ``fmt`` (« csv » or « xlsx »), named ``<name>-<today>.<fmt>``."""
    filename = f"{name}-{paris_today().isoformat()}.{fmt}"
    if fmt == "xlsx":
        return xlsx_response(filename, title, header, rows)
    return csv_response(filename, header, rows)


def streamed_rows(session, statement, params: dict, to_row: Callable[[Any], list[Any]]) -> Iterator[list[Any]]:
    """The statement's rows, read ``EXPORT_BATCH`` at a time (a server-side cursor on PostgreSQL)."""
    result = session.execute(statement, params, execution_options={"yield_per": EXPORT_BATCH})
    for row in result:
        yield to_row(row)
