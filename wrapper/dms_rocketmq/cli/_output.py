"""What the command line writes, and the exit codes it returns.

Output is a table on a terminal (rich when the `cli` extra is installed, plain aligned text otherwise) and
JSON, one object per line, when piped. Every subcommand prints and exits through these.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import IO, Any

from dms_rocketmq import APIError, APIStatusError

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "error_fields",
    "print_fields",
    "print_json",
    "print_rows",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
#: Stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report a Ctrl-C).
EXIT_INTERRUPTED = 130


def error_fields(exc: BaseException) -> dict[str, Any]:
    """An error as JSON fields: its type and message, and what the service answered when it answered."""
    fields: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, APIStatusError):
        fields.update(status_code=exc.status_code, error_code=exc.error_code, error_msg=exc.error_msg)
    if isinstance(exc, APIError):
        fields["request_id"] = exc.request_id
    return fields


def print_json(data: Any, stream: IO[str]) -> None:
    """One JSON line, flushed at once (a reader of the pipe sees each result as it is known)."""
    stream.write(json.dumps(data, ensure_ascii=False) + "\n")
    stream.flush()


def print_fields(rows: Sequence[tuple[str, str]], title: str) -> None:
    """A table of name and value on stdout: a result, a summary."""
    try:
        from rich.console import Console  # the `cli` extra; plain text without it
        from rich.table import Table
    except ImportError:
        width = max(len(name) for name, _ in rows)
        print(title)
        for name, value in rows:
            print(f"  {name:<{width}}  {value}")
        return
    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for name, value in rows:
        table.add_row(name, value)
    Console().print(table)


def print_rows(title: str, header: tuple[str, ...] | None, rows: Sequence[tuple[str, ...]]) -> None:
    """A table of stored messages on stdout, long cells folded (rich), or plain aligned text."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        lines = [header, *rows] if header else rows
        widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))] if lines else []
        print(title)
        for line in lines:
            print("  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        return
    table = Table(title=title, show_header=header is not None)
    for name in header or ("", ""):
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console().print(table)
