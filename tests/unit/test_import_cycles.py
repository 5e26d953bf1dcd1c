"""No two modules of the wrapper or the emulator import each other, directly or round a longer circle.

A circle is found by reading every import of every module (those inside functions and under TYPE_CHECKING
too: they are how a circle is usually hidden), so a new one fails here rather than as an ImportError that
depends on which module happens to be imported first.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "dms_rocketmq": ROOT / "wrapper" / "dms_rocketmq",
    "dms_rocketmq_emulator": ROOT / "emulator" / "dms_rocketmq_emulator",
}

#: Circles that stay for now, each with why: the CLI modules are being made a package of their own.
KNOWN: dict[frozenset[str], str] = {
    frozenset({"dms_rocketmq._cli", "dms_rocketmq._cli_bulk"}): "the CLI modules are being split into a package",
}


def _module_name(package: str, root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of the same packages that `name` imports anywhere in its file."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            targets = [module, *(f"{module}.{alias.name}" for alias in node.names)]
        for target in targets:
            if target in known and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    files = {
        _module_name(package, root, path): path
        for package, root in PACKAGES.items()
        for path in sorted(root.rglob("*.py"))
    }
    # A package's own __init__ re-exporting its modules is not a circle with them.
    graph = {name: _imports(name, path, set(files)) for name, path in files.items()}
    for name, targets in graph.items():
        graph[name] = {t for t in targets if not t.startswith(name + ".") and not name.startswith(t + ".")}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_the_search_finds_a_circle() -> None:
    """A two-module circle and a three-module one are found; a chain is not a circle."""
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert sorted(_circles(graph)) == [["a", "b"], ["c", "d", "e"]]


def test_no_import_circle_in_the_wrapper_or_the_emulator() -> None:
    """No module of either package reaches itself through the imports of others."""
    circles = [c for c in _circles(_graph()) if frozenset(c) not in KNOWN]
    assert circles == []


def test_every_known_circle_is_still_there() -> None:
    """A circle listed in KNOWN that is gone is taken off the list, so that it cannot come back unseen."""
    found = {frozenset(c) for c in _circles(_graph())}
    assert set(KNOWN) <= found
