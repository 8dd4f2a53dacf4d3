"""Row ids read from outside (paths, query strings, forms, cookies).

Only a number a database column can hold ever reaches a query: on PostgreSQL
an id beyond its column's type is an error (NumericValueOutOfRange), on
SQLite one beyond 64 bits another (OverflowError), where the visitor should
simply get « not found ».
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import BaseConverter, ValidationError

# Ids are SQL INTEGER, PostgreSQL's int4: 2^31 - 1 is the largest they hold
# (tests/security/test_never_500.py checks every id column against it).
MAX_ID = 2**31 - 1


def parse_id(raw: object) -> int | None:
    """The id written in ``raw`` (ASCII digits, 1 … MAX_ID), else None."""
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > len(str(MAX_ID)):
        return None
    number = int(raw)
    return number if 1 <= number <= MAX_ID else None


class IdConverter(BaseConverter):
    """``<int:…>`` in both products' routes: an id a row can have, anything else is a 404.

    Werkzeug's own accepts any number of digits, so ``/factures/99999999999999999999``
    reached the database. No leading zeros either: one id, one address.
    """

    regex = r"[1-9][0-9]{0,9}"
    part_isolating = True

    def to_python(self, value: str) -> int:
        number = parse_id(value)
        if number is None:
            raise ValidationError()
        return number

    def to_url(self, value: int) -> str:
        return str(int(value))


def register_id_converter(app: Flask) -> None:
    """Makes every ``<int:…>`` of the app's routes an :class:`IdConverter`."""
    app.url_map.converters["int"] = IdConverter
