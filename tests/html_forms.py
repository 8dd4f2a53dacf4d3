"""Reading pages as a browser would: the text a person sees, the values a form sends back."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser


class FormReader(HTMLParser):
    """What a browser would send back: the values a form of the page carries (found by its class)."""

    def __init__(self, form_class: str) -> None:
        super().__init__()
        self.form_class = form_class
        self.values: dict[str, str] = {}
        self._in_form = self._select = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.form_class in (attrs.get("class") or "").split():
            self._in_form = True
        if not self._in_form:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("radio", "checkbox"):
                if "checked" in attrs:
                    self.values[name] = attrs.get("value", "")
            elif kind != "submit":
                self.values[name] = attrs.get("value", "")
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and ("selected" in attrs or self._select not in self.values):
            self.values[self._select] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        if tag == "form":
            self._in_form = False


def form_values(page: str, form_class: str = "import-form") -> dict[str, str]:
    """The fields of the page's form of that class, as « submit » would send them (selected, checked)."""
    reader = FormReader(form_class)
    reader.feed(page)
    return reader.values


def plain(html: str) -> str:
    """The page's text as a person reads it: no tags, one space between words."""
    return " ".join(re.sub(r"<[^>]+>", " ", unescape(html)).split()).replace(" .", ".")
