"""SPEC §1: MEG and Libeo never import each other's code; they only talk HTTP."""

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
