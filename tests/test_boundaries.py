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


# --- the import graph: no cycles, no developer tools at run time ----------------------------------

RUNTIME = ("app.py", "config.py", "core", "models", "blueprints")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _runtime_files() -> list[Path]:
    files: list[Path] = []
    for place in RUNTIME:
        target = ROOT / place
        files += [target] if target.is_file() else sorted(target.rglob("*.py"))
    return files


def _all_imports(path: Path):
    """Every import the module may run, inside functions included; not those only type checkers read
    (``if TYPE_CHECKING:``). Yields (absolute module, imported names, at module level)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]

    def visit(node: ast.AST, top: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    yield from visit(other, top)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, (), top
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    module = ".".join(base + ([child.module] if child.module else []))
                else:
                    module = child.module or ""
                yield module, tuple(alias.name for alias in child.names), top
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            yield from visit(child, inner)

    yield from visit(tree, True)


def _import_graph() -> dict[str, set[str]]:
    files = _runtime_files()
    known = {_module_name(path) for path in files}
    graph: dict[str, set[str]] = {name: set() for name in known}
    for path in files:
        for module, names, _ in _all_imports(path):
            targets = {f"{module}.{name}" for name in names if f"{module}.{name}" in known}
            if len(targets) < len(names) and module in known:
                targets.add(module)  # names defined in the module itself
            graph[_module_name(path)] |= targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_import_graph_has_no_cycle():
    """Imports inside functions count: hiding one there to dodge a circle is still a circle."""
    assert _cycles(_import_graph()) == []


def test_the_cycle_check_sees_a_circle_hidden_in_a_function():
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


def test_devtools_are_never_loaded_by_the_products():
    """Products served alone never import developer tools; the combined run's development commands
    (``demo``, ``serve``, ``libeo localstripe`` in app.py) load them inside the command only."""
    offenders = []
    for path in _runtime_files():
        for module, _, top in _all_imports(path):
            if module != "devtools" and not module.startswith("devtools."):
                continue
            if path.name == "app.py" and not top:
                continue
            offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []
