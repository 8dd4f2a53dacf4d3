"""The architecture written down (docs/architecture.md §1, §2): who may import what."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SIDES = {
    "meg": (("blueprints/meg", "models/meg"), ("blueprints.libeo", "models.libeo")),
    "libeo": (("blueprints/libeo", "models/libeo"), ("blueprints.meg", "models.meg")),
}


def _imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize("side", SIDES)
def test_a_side_never_imports_the_other(side):
    folders, forbidden = SIDES[side]
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for folder in folders
        for path in (ROOT / folder).rglob("*.py")
        for name in _imports(path)
        if name.startswith(forbidden)
    ]
    assert offenders == []


def test_core_knows_neither_side():
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in (ROOT / "core").rglob("*.py")
        for name in _imports(path)
        if name.startswith(("blueprints", "models"))
    ]
    assert offenders == []


HTTP_CLIENTS = ("requests", "urllib3", "httpx", "stripe", "core.http", "authlib.integrations.requests_client",
                "authlib.integrations.flask_client", "authlib.integrations.httpx_client")


def _offenders(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in (ROOT / folder).rglob("*.py")
        for name in _imports(path)
        if any(name == module or name.startswith(module + ".") for module in forbidden)
    ]


def test_views_call_use_cases_not_other_services():
    """A view calls one use case; HTTP to MEG, Libeo or Stripe happens in models (one client module each)."""
    assert _offenders("blueprints", HTTP_CLIENTS) == []


def test_models_import_no_views():
    assert _offenders("models", ("blueprints",)) == []
