"""French typography on the pages (core/typography.py): no-break spaces before « ; : ! ? » and
inside « … », so that a browser never leaves « ; » or « » » alone at the start of a line; never in
tags, attributes, or what a person typed."""

from __future__ import annotations

from flask.testing import FlaskClient

from core.typography import NARROW, NO_BREAK, typeset


def test_spaces_before_double_punctuation_and_inside_guillemets_do_not_break():
    html = "<p>1 utilisateur ; voir « Abonnement » : 9 € HT ! Vraiment ?</p>"
    expected = (f"<p>1 utilisateur{NARROW}; voir «{NARROW}Abonnement{NARROW}»{NO_BREAK}: 9 € HT{NARROW}! "
                f"Vraiment{NARROW}?</p>")
    assert typeset(html) == expected
    assert typeset(expected) == expected  # typesetting twice changes nothing


def test_tags_attributes_and_what_a_person_typed_are_left_alone():
    html = ('<a href="/x?a=1;b=2" title="Voir : ici">Lien ! </a>'
            '<textarea name="n">texte ; saisi : tel quel</textarea>'
            '<pre>code ; ici</pre><script>var a = b ? c : d;</script><style>a { color: red; }</style>')
    out = typeset(html)
    assert 'href="/x?a=1;b=2" title="Voir : ici"' in out
    assert "<textarea name=\"n\">texte ; saisi : tel quel</textarea>" in out
    assert "<pre>code ; ici</pre>" in out and "var a = b ? c : d;" in out and "color: red;" in out
    assert f"Lien{NARROW}! " in out


def test_times_addresses_and_text_without_those_characters_are_unchanged():
    html = "<p>le 30/11/2026 à 13:50, https://exemple.fr/a:b et rien d'autre</p><td>12,50 €</td>"
    assert typeset(html) == html


def test_every_html_page_is_typeset_but_not_json(client: FlaskClient):
    # The tests' client reads no-break spaces as spaces (tests look for words); the bytes sent have them.
    raw = client.get("/libeo/conditions").get_data().decode()
    assert f"dans MEG («{NARROW}Options{NARROW}»)" in raw
    assert "La connexion avec MEG</h2>" in raw
    assert f"Libeo ne détient pas les fonds{NO_BREAK}: les virements" in raw
    api = client.get("/libeo/api/v1/openapi.json").get_data()
    assert NARROW.encode() not in api and NO_BREAK.encode() not in api
