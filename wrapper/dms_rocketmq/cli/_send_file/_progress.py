"""The progress bar of a file being sent."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["Progress"]


class Progress:
    """A progress bar on stderr (rich, on a terminal) that counts every line of the file."""

    def __init__(self, total: int | None) -> None:
        self._bar: Any = None
        if not sys.stderr.isatty():
            return
        try:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as Bar
        except ImportError:
            return
        self._bar = Bar(
            TextColumn("lines"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = self._bar.add_task("send", total=total)
        self._bar.start()

    def advance(self) -> None:
        """One more line accounted for."""
        if self._bar is not None:
            self._bar.advance(self._task)

    def stop(self) -> None:
        """Take the bar off the terminal."""
        if self._bar is not None:
            self._bar.stop()
