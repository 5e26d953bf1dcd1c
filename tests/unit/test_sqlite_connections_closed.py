"""Every SQLite connection the project opens has an owner that closes it.

`with sqlite3.connect(...)` reads as if the block closed the connection; it only commits or rolls back, and the
connection is left to the garbage collector, which Python 3.13 reports as an unclosed database (a
ResourceWarning, an error in this suite, raised in whichever later test the collector happens to run in).
Tests use `_shared.sqlite.connect`; code closes its connections itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

from _shared.sources import ROOT, python_files

SCANNED = ("wrapper", "emulator", "tests", "scripts", "bench")


def _connect_as_context_manager(path: Path) -> list[int]:
    """Lines of `path` where a `with` statement takes `sqlite3.connect(...)` itself as its context manager."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                call = item.context_expr
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "connect"
                    and isinstance(call.func.value, ast.Name)
                    and call.func.value.id == "sqlite3"
                ):
                    lines.append(node.lineno)
    return lines


def test_the_scan_sees_the_pattern(tmp_path: Path) -> None:
    """The scan finds `with sqlite3.connect(...)`, and not the closing helper."""
    probe = tmp_path / "probe.py"
    probe.write_text("import sqlite3\nwith sqlite3.connect('x') as db:\n    pass\nwith connect('x') as db:\n    pass\n")
    assert _connect_as_context_manager(probe) == [2]


def test_no_sqlite_connection_is_left_to_the_garbage_collector() -> None:
    """No file uses a bare `sqlite3.connect(...)` as a context manager (it does not close the connection)."""
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in python_files(*SCANNED)
        for line in _connect_as_context_manager(path)
    ]
    assert found == [], "use _shared.sqlite.connect (tests) or close the connection: " + ", ".join(found)
