"""core/listing.py: a list's URL read and written back unchanged, and search folding the same in Python,
on SQLite and on PostgreSQL, as the migrations' indexes fold it."""

from __future__ import annotations

import importlib.util
import unicodedata
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import literal, select
from werkzeug.datastructures import MultiDict

from core.listing import FOLD_FROM, FOLD_TO, ListQuery, ListSpec, fold, fold_postgresql, folded, parse_list_args

SPEC = ListSpec(sorts={"echeance": "Échéance", "montant": "Montant"}, default_sort="echeance",
                states={"a_payer": "À payer", "payees": "Payées"}, modes={"libeo": "Virement par Libeo"},
                date_label="Échéance", overdue=True)

SEARCHES = st.text(alphabet=st.characters(categories=["L", "N", "P", "Zs"]), max_size=30).map(
    lambda text: " ".join(unicodedata.normalize("NFC", text).split())).filter(
    lambda text: unicodedata.normalize("NFC", text) == text)


@st.composite
def queries(draw) -> ListQuery:
    dates = sorted(draw(st.lists(st.dates(date(1990, 1, 1), date(2100, 1, 1)), max_size=2)))
    if len(dates) == 1:
        dates = draw(st.sampled_from([[dates[0], None], [None, dates[0]]]))
    amounts = sorted(draw(st.lists(st.integers(1, 10**9), max_size=2)))
    if len(amounts) == 1:
        amounts = draw(st.sampled_from([[amounts[0], None], [None, amounts[0]]]))
    return ListQuery(
        SPEC, search=draw(SEARCHES), state=draw(st.sampled_from([None, *SPEC.states])),
        mode=draw(st.sampled_from([None, "libeo"])),
        period="dates" if dates else draw(st.sampled_from([None, "echues", "semaine", "mois"])),
        date_from=dates[0] if dates else None, date_to=dates[1] if dates else None,
        amount_min=amounts[0] if amounts else None, amount_max=amounts[1] if amounts else None,
        sort=draw(st.sampled_from(list(SPEC.sorts))), descending=draw(st.booleans()), page=draw(st.integers(1, 999)))


@given(queries())
def test_a_list_url_reads_back_as_the_same_query(query):
    again = parse_list_args(MultiDict(query.url_args()), SPEC, query.page)
    assert again.problems == ()
    assert again == query


def test_folding_ignores_case_and_accents():
    assert fold("Société GÉNÉRALE Ève Ça Müller") == "societe generale eve ca muller"
    assert len(FOLD_FROM) == len(FOLD_TO)


@pytest.mark.parametrize("text", ["À l'Œuvre: Ça Dépôt ÉTÉ Ÿ ž Ł 100%_x", "DUPUIS & Fils SARL 100%_x", "FA-2026/0042",
                                  "İstanbul Straße Ǆ", "", "Ærø"])
def test_the_database_folds_as_python_does(meg_app, text):
    """SQLite (the registered function) and PostgreSQL (lower for ASCII only, translate otherwise) give
    Python's folding."""
    from models.meg import db

    with meg_app.app_context():
        assert db.session.scalar(select(folded(literal(text)))) == fold(text)


@pytest.mark.parametrize("side", ["meg", "libeo"])
def test_the_migrations_index_the_expression_the_search_compares(side):
    """Every migration that indexes the folded search writes the fold the queries compare."""
    paths = sorted((Path(__file__).parents[2] / "migrations" / side / "versions").glob("*list_indexes.py"))
    folds = []
    for path in paths:
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if hasattr(module, "FOLD_FROM"):
            folds.append((module.FOLD_FROM, module.FOLD_TO))
    assert folds and all(fold == (FOLD_FROM, FOLD_TO) for fold in folds)


@pytest.mark.parametrize("side", ["meg", "libeo"])
def test_the_trigram_indexes_hold_the_expression_postgresql_compares(side):
    """The latest migration of the search's trigram indexes writes the fold ``folded`` compiles to."""
    path, = (Path(__file__).parents[2] / "migrations" / side / "versions").glob("*_ascii_fold.py")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (module.FOLD_FROM, module.FOLD_TO) == (FOLD_FROM, FOLD_TO)
    assert module._folded("supplier.name") == fold_postgresql("supplier.name")
