"""Checks a JSON body against the very schemas the OpenAPI document publishes.

The subset of JSON Schema the API uses (type, properties, required,
additionalProperties, enum, minLength, maxLength, anchored pattern, format
date/email, minimum, maximum) is checked here, so the document and the
behaviour cannot drift apart. Errors are French and name the field.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from models.libeo.errors import InvalidData

TYPE_NAMES = {
    "object": "un objet JSON",
    "string": "une chaîne de caractères",
    "integer": "un nombre entier",
    "boolean": "un booléen (true ou false)",
    "null": "null",
}
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# JSON numbers above this are not exact integers in most clients.
_MAX_SAFE_FLOAT = 2**53


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern:
    # Patterns are written ^…$; fullmatch keeps Python's $ from accepting a trailing newline.
    assert pattern.startswith("^") and pattern.endswith("$"), pattern
    return re.compile(pattern[1:-1])


def matches(pattern: str, value: str) -> bool:
    return _compiled(pattern).fullmatch(value) is not None


def _is_type(name: str, value) -> bool:
    if name == "object":
        return isinstance(value, dict)
    if name == "string":
        return isinstance(value, str)
    if name == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer()
                                          and abs(value) < _MAX_SAFE_FLOAT)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    raise ValueError(name)


def _label(path: str) -> str:
    return f"Le champ « {path} »" if path else "Le corps de la requête"


def validate(schema: dict, value, path: str = ""):
    """The value, with integral numbers as int; InvalidData at the first problem."""
    field = path or None
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not any(_is_type(t, value) for t in types):
            expected = " ou ".join(TYPE_NAMES[t] for t in types)
            raise InvalidData(f"{_label(path)} doit être {expected}.", field)
    if value is None:
        return None
    if "enum" in schema and value not in schema["enum"]:
        choices = " ou ".join(f"« {choice} »" for choice in schema["enum"])
        raise InvalidData(f"{_label(path)} doit valoir {choices}.", field)
    if isinstance(value, str):
        return _validate_string(schema, value, path)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _validate_integer(schema, int(value), path)
    if isinstance(value, dict):
        return _validate_object(schema, value, path)
    return value


def _validate_string(schema: dict, value: str, path: str) -> str:
    field = path or None
    if "minLength" in schema and len(value) < schema["minLength"]:
        raise InvalidData(f"{_label(path)} ne doit pas être vide.", field)
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        raise InvalidData(f"{_label(path)} ne doit pas dépasser {schema['maxLength']} caractères.", field)
    if "pattern" in schema and not _compiled(schema["pattern"]).fullmatch(value):
        raise InvalidData(schema.get("x-error") or f"{_label(path)} contient des caractères non autorisés.", field)
    fmt = schema.get("format")
    if fmt == "date":
        try:
            if not _ISO_DATE.fullmatch(value):
                raise ValueError(value)
            date.fromisoformat(value)
        except ValueError:
            raise InvalidData(f"{_label(path)} doit être une date au format AAAA-MM-JJ.", field) from None
    if fmt == "email" and ("@" not in value or not value.isascii()):
        raise InvalidData(f"{_label(path)} doit être une adresse e-mail valide.", field)
    return value


def _validate_integer(schema: dict, value: int, path: str) -> int:
    field = path or None
    if "minimum" in schema and value < schema["minimum"]:
        raise InvalidData(f"{_label(path)} doit être au moins {schema['minimum']}.", field)
    if "maximum" in schema and value > schema["maximum"]:
        raise InvalidData(f"{_label(path)} doit être au plus {schema['maximum']}.", field)
    return value


def _validate_object(schema: dict, value: dict, path: str) -> dict:
    properties = schema.get("properties", {})
    if schema.get("additionalProperties") is False:
        for name in value:
            if name not in properties:
                where = f"{path}.{name}" if path else name
                raise InvalidData(f"Le champ « {where} » n'est pas attendu.", where)
    for name in schema.get("required", ()):
        if name not in value:
            where = f"{path}.{name}" if path else name
            raise InvalidData(f"Le champ « {where} » est obligatoire.", where)
    checked = {}
    for name, item in value.items():
        where = f"{path}.{name}" if path else name
        checked[name] = validate(properties[name], item, where) if name in properties else item
    return checked
