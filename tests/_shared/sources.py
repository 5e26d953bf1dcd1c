"""The project's own Python files, for the tests that read its source as text (guards against a pattern)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def python_files(*tops: str) -> Iterator[Path]:
    """Every `.py` file below each of `tops` (folders of the checkout), in a stable order."""
    for top in tops:
        yield from sorted((ROOT / top).rglob("*.py"))
