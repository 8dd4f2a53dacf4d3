"""What every list of both products does with bad parameters and with a search that finds nothing."""

from __future__ import annotations

from html import unescape

# The cases core/listing.py answers alike for every list: a search too long, a column that is not one,
# pages out of range, hostile text and bytes; each list adds its own filters' cases.
BAD_QUERIES = [
    ({"q": "x" * 10_000}, "La recherche est limitée à 100 caractères"),
    ({"tri": "1; DROP TABLE supplier_invoice"}, "n'est pas une colonne à trier"),
    ({"page": "-1"}, None), ({"page": "0"}, None), ({"page": "99999999999"}, None),
    ({"q": "%' UNION SELECT password FROM libeo_user --"}, None), ({"q": "' OR 1=1 --"}, None),
    ({"q": "\x00\x1b\u202e"}, None), ("q=%ED%A0%80%00&tri=%FF", None), ({"q": "\\"}, None), ({"q": "_%_"}, None),
]


def assert_clean_page(client, url: str, params, message: str | None, export: str | None = None, *,
                      follow_redirects: bool = True) -> None:
    """A list given bad parameters: a page, never an error, saying ``message`` when one is due; and so its
    exports (``export`` + ``.csv``, ``.xlsx``)."""
    page = client.get(url, query_string=params, follow_redirects=follow_redirects)
    assert page.status_code == 200, params
    if message:
        assert message in unescape(page.get_data(as_text=True)), params
    if export:
        for fmt in ("csv", "xlsx"):
            assert client.get(f"{export}.{fmt}", query_string=params).status_code == 200, (params, fmt)


def assert_empty_search_explained(client, url: str) -> None:
    """A search that finds nothing says so, and offers to clear the filters."""
    html = unescape(client.get(url, query_string={"q": "zzz"}).get_data(as_text=True))
    assert "Aucune ligne ne correspond à la recherche « zzz »." in html
    assert f'<a href="{url}">Effacer les filtres</a>' in html
