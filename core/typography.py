"""French typography on every HTML page both products send.

French puts a space before « ; : ! ? » and inside « … »; written as an
ordinary space, a browser may break the line there and leave « ; » or « »
alone at the start of a line. Rather than hunt each space in templates and
in the messages the code builds, the text of each HTML answer (never its
tags, attributes, or the content of ``textarea``, ``pre``, ``script`` and
``style``) gets no-break spaces there: U+202F (narrow) before ``; ! ?`` and
inside guillemets, U+00A0 before ``:``.
"""

from __future__ import annotations

import re

from flask import Flask, Response

NARROW, NO_BREAK = "\u202f", "\u00a0"
# Elements whose text is kept as it is: what a person typed, or code.
_KEEP = re.compile(r"(<(textarea|pre|script|style)\b.*?</\2\s*>)", re.S | re.I)
# A text node holding one of the characters concerned (most nodes hold none: they are skipped in C).
_TEXT = re.compile(r">([^<;:!?«»]*[;:!?«»][^<]*)<")
_BEFORE = re.compile(r"[ \u00a0]+([;!?])")
_BEFORE_COLON = re.compile(r"[ \u00a0\u202f]+:(?=\s|$|<)")
_OPENING = re.compile(r"«[ \u00a0]+")
_CLOSING = re.compile(r"[ \u00a0]+»")


def french_spaces(text: str) -> str:
    """The text with no-break spaces where French typography puts them."""
    text = _BEFORE.sub(lambda m: NARROW + m.group(1), text)
    text = _BEFORE_COLON.sub(NO_BREAK + ":", text)
    text = _OPENING.sub("«" + NARROW, text)
    return _CLOSING.sub(NARROW + "»", text)


def typeset(html: str) -> str:
    parts = _KEEP.split(html)
    # re.split with two groups yields: text, whole kept element, tag name, text, …
    out = []
    for index, part in enumerate(parts):
        kind = index % 3
        if kind == 0:
            out.append(_TEXT.sub(_typeset_node, part))
        elif kind == 1:
            out.append(part)
    return "".join(out)


# What french_spaces may change: most nodes _TEXT finds hold only the « ; » of an entity
# (« l&#39;entreprise », a name with an apostrophe) and are left as they are.
_CONCERNED = re.compile(r"[:!?«»]|[ \u00a0];")


def _typeset_node(match: re.Match) -> str:
    text = match.group(1)
    if _CONCERNED.search(text) is None:
        return match.group(0)
    return ">" + french_spaces(text) + "<"


def init_typography(app: Flask) -> None:
    @app.after_request
    def french_typography(response: Response) -> Response:
        if response.mimetype == "text/html" and not response.direct_passthrough and response.status_code != 204:
            response.set_data(typeset(response.get_data(as_text=True)))
        return response
