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

#: Circles that stay for now, each with why (none: a new one is a bug to fix, not a line to add here).
KNOWN: dict[frozenset[str], str] = {}


def _module_name(package: str, root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def _imports(name: str, source: str, known: set[str], *, is_package: bool) -> set[str]:
    """The modules of the same packages that `name` imports anywhere in its source.

    `from pkg import sub` (a module) needs `sub`, not what `pkg/__init__` defines, so it is an edge to `sub`
    alone: a package's modules import each other that way while the package is being imported. `from pkg
    import Name` needs `pkg/__init__` to have run: an edge to `pkg`, even from a module inside `pkg`.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
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
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                targets.append(submodule if submodule in known else module)
        for target in targets:
            if target in known and target != name:
                found.add(target)
    return found


def _files() -> dict[str, Path]:
    return {
        _module_name(package, root, path): path
        for package, root in PACKAGES.items()
        for path in sorted(root.rglob("*.py"))
    }


def _graph() -> dict[str, set[str]]:
    files = _files()
    return {
        name: _imports(name, path.read_text(encoding="utf-8"), set(files), is_package=path.name == "__init__.py")
        for name, path in files.items()
    }


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


def test_a_module_importing_its_package_that_imports_it_is_a_circle() -> None:
    """A package whose __init__ imports a module that takes a name from that __init__ is a circle; a module
    that takes a sibling module through the package (`from . import sibling`) is not."""
    known = {"pkg", "pkg.a", "pkg.b"}
    graph = {
        "pkg": _imports("pkg", "from .a import run", known, is_package=True),
        "pkg.a": _imports("pkg.a", "from . import b\nfrom pkg import EXIT_OK", known, is_package=False),
        "pkg.b": _imports("pkg.b", "from . import a", known, is_package=False),
    }
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg", "pkg.b"}, "pkg.b": {"pkg.a"}}
    assert _circles(graph) == [["pkg", "pkg.a", "pkg.b"]]


def test_every_module_of_both_packages_is_read() -> None:
    """The graph has every module, those of subpackages (the CLI's, the emulator's store) included."""
    names = set(_graph())
    assert {"dms_rocketmq.cli", "dms_rocketmq.cli._send_file", "dms_rocketmq.cli._send_file._reader"} <= names
    assert {"dms_rocketmq._client", "dms_rocketmq_emulator._store._durable"} <= names
    assert len(names) == sum(len(list(root.rglob("*.py"))) for root in PACKAGES.values())


def test_the_library_never_imports_its_command_line() -> None:
    """Only `python -m dms_rocketmq` (`__main__`) imports the `cli` package: the library does not depend on it."""
    graph = _graph()
    command = {name for name in graph if name == "dms_rocketmq.cli" or name.startswith("dms_rocketmq.cli.")}
    importers = {name for name, targets in graph.items() if targets & command and name not in command}
    assert importers == {"dms_rocketmq.__main__"}


def test_no_import_circle_in_the_wrapper_or_the_emulator() -> None:
    """No module of either package reaches itself through the imports of others."""
    circles = [c for c in _circles(_graph()) if frozenset(c) not in KNOWN]
    assert circles == []


def test_every_known_circle_is_still_there() -> None:
    """A circle listed in KNOWN that is gone is taken off the list, so that it cannot come back unseen."""
    found = {frozenset(c) for c in _circles(_graph())}
    assert set(KNOWN) <= found
