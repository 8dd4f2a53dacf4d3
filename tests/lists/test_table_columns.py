"""Every list's table has as many cells in each row as headers: a value under another column's header (the
supplier under « Numéro », the status under no header at all) is a wrong reading of every row."""

from __future__ import annotations

import re

import pytest

from tests.conftest import MegAuth
from tests.libeo.conftest import LibeoAuth, make_account
from tests.lists.conftest import fill_libeo

MEG_LISTS = ["/meg/achats/", "/meg/achats/reglements", "/meg/achats/fournisseurs"]
LIBEO_LISTS = ["/libeo/factures/", "/libeo/paiements/", "/libeo/journal/"]


def _widths(html: str) -> tuple[int, list[int]]:
    """The header's cells, and each body row's (colspan counted)."""
    table = re.search(r"<table[^>]*>(.*?)</table>", html, re.S)
    assert table, "no table on the page"
    head = re.search(r"<thead>(.*?)</thead>", table.group(1), re.S).group(1)
    body = re.search(r"<tbody>(.*?)</tbody>", table.group(1), re.S).group(1)

    def cells(row: str) -> int:
        return sum(int(span or 1) for span in re.findall(r'<t[hd](?:\s[^>]*?)?(?:colspan="(\d+)")?[^>]*>', row))

    return cells(head), [cells(row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


@pytest.mark.parametrize("url", MEG_LISTS)
def test_meg_rows_fit_their_headers(demo, client, url):
    assert MegAuth(client).login().status_code == 302
    page = client.get(url)
    assert page.status_code == 200
    headers, rows = _widths(page.get_data(as_text=True))
    assert rows and set(rows) == {headers}, (headers, rows)


@pytest.mark.parametrize("url", LIBEO_LISTS)
def test_libeo_rows_fit_their_headers(libeo_app, client, url):
    own = make_account(libeo_app, name="Boulangerie Martin SARL")
    fill_libeo(libeo_app, own.id, count=30)
    assert LibeoAuth(client).login(own.email).status_code == 302
    page = client.get(url)
    assert page.status_code == 200
    headers, rows = _widths(page.get_data(as_text=True))
    assert rows and set(rows) == {headers}, (headers, rows)
