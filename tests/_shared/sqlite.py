"""SQLite connections for tests that look at a data directory from outside the emulator.

`with sqlite3.connect(path) as db:` commits or rolls back at the end of the block but does not close the
connection: it is left to the garbage collector, which Python 3.13 reports as an unclosed database
(ResourceWarning, an error in this suite). `connect` commits and closes.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def connect(path: Path | str, **options: Any) -> Iterator[sqlite3.Connection]:
    """A connection to `path` for the block: committed if the block succeeds, rolled back if not, then closed."""
    db = sqlite3.connect(path, **options)
    try:
        with db:
            yield db
    finally:
        db.close()
