"""Text at the door: what every form field and every JSON body goes through before any other check.

Three things, once, where a request's text comes in:

- strict: a lone UTF-16 surrogate (JSON can escape one: « \\ud800 ») is not
  text, and encoding it later (a hash, a database driver, a page) would
  crash; NUL and the other control characters have no place in a name, a
  number or an address (PostgreSQL refuses NUL outright). Both are refused
  with a French sentence that names the field. A multi-line field keeps its
  tabs and line breaks.
- NFC: « é » typed as « e » + a combining accent and « é » are one text, so
  they compare, count and store alike.
- lengths are then measured on the normalised text by the checks that follow.

Nothing below the door ever sees text that failed it.
"""

from __future__ import annotations

import unicodedata
from typing import Any

# What a multi-line field (a textarea) may hold besides text.
LINE_CONTROLS = frozenset("\t\n\r")


class UnsafeText(ValueError):
    """Text refused at the door; ``str()`` is the French sentence, ``field`` where it was."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _problem(value: str, multiline: bool) -> str | None:
    """What is wrong with the text, as the end of a French sentence; None when nothing is."""
    for ch in value:
        category = unicodedata.category(ch)
        if category == "Cs":
            return "un caractère invalide (une moitié de paire de substitution UTF-16)"
        if category == "Cc" and not (multiline and ch in LINE_CONTROLS):
            return "un caractère de contrôle (NUL, tabulation, saut de ligne…)" if ch != "\x00" else "le caractère NUL"
    return None


def door_text(value: str, label: str, *, multiline: bool = False) -> str:
    """``value`` normalised to NFC, or :class:`UnsafeText` naming ``label``."""
    if value.isascii() and value.isprintable():  # most text: nothing to refuse, already NFC
        return value
    problem = _problem(value, multiline)
    if problem:
        raise UnsafeText(f"« {label} » contient {problem} : retirez-le.")
    return unicodedata.normalize("NFC", value)


def door_json(value: Any, path: str = "") -> Any:
    """A parsed JSON document with every string (names of fields included) through the door.

    :class:`UnsafeText` carries the dotted path of the field (``invoice.number``),
    or None for the body itself.
    """
    if isinstance(value, str):
        try:
            return door_text(value, path or "corps de la requête")
        except UnsafeText as refused:
            where = f"Le champ « {path} »" if path else "Le corps de la requête"
            raise UnsafeText(f"{where} contient {_problem(value, False)} : retirez-le.", path or None) from refused
    if isinstance(value, dict):
        checked = {}
        for name, item in value.items():
            if _problem(name, False):
                where = f"dans « {path} »" if path else "du corps de la requête"
                raise UnsafeText(f"Un nom de champ {where} contient {_problem(name, False)}.", path or None)
            name = unicodedata.normalize("NFC", name)
            checked[name] = door_json(item, f"{path}.{name}" if path else name)
        return checked
    if isinstance(value, list):
        return [door_json(item, f"{path}[{index}]") for index, item in enumerate(value)]
    return value
