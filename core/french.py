"""French words around names: « de l'Association Les Amis du Quartier », « d'Amandine Roux »,
« de Garage Leroy SAS »."""

from __future__ import annotations

import unicodedata

# Kinds of organisation a name may begin with, read as common nouns: « l'Association … ».
_ELIDED_NOUNS = frozenset({
    "agence", "amicale", "association", "atelier", "auberge", "auto-école", "école", "entreprise",
    "épicerie", "étude", "hôtel", "imprimerie", "institut", "office", "union",
})
_VOWELS = "aeiouyh"


def _plain_initial(word: str) -> str:
    return unicodedata.normalize("NFD", word[:1].lower())[:1]


def of(name: str) -> str:
    """« de » and the name, elided as French writes it: « de l'Association Les Amis du Quartier »
    (a name that begins with the kind of organisation it is), « d'Amandine Roux », « de Garage Leroy SAS »."""
    name = (name or "").strip()
    first = name.split(" ", 1)[0].lower()
    if first in _ELIDED_NOUNS and _plain_initial(first) in _VOWELS:
        return f"de l'{name}"
    if _plain_initial(name) in _VOWELS[:-1]:  # an « h » may be aspirated: « de Hervé SA » is safer
        return f"d'{name}"
    return f"de {name}"


def after_colon(sentence: str) -> str:
    """A sentence put after « : », in French without its capital (« Refusé : votre formule… »);
    a word in capitals (« IBAN ») keeps them."""
    if len(sentence) > 1 and sentence[0].isupper() and not sentence[1].isupper():
        return sentence[0].lower() + sentence[1:]
    return sentence


def register_french_filters(app) -> None:
    """Templates: ``{{ company.name|de }}``."""
    app.add_template_filter(of, "de")
