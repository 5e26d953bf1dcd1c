"""The files of a send: the input (a regular file or a pipe), and the three paths kept apart."""

from __future__ import annotations

import argparse
import os
import stat
import sys
from typing import IO

from dms_rocketmq import ConfigurationError

__all__ = ["check_paths", "count_lines", "open_input", "shown_path"]


def count_lines(path: str) -> int:
    """The lines of a regular file (a last line without a line break counts), for the progress bar's total."""
    count = 0
    last = b"\n"
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _is_regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def open_input(args: argparse.Namespace) -> tuple[IO[bytes], bool]:
    """The input as binary lines, and whether it is a regular file (readable to its end at once)."""
    if args.file == "-":
        return sys.stdin.buffer, _is_regular(f"/dev/fd/{sys.stdin.fileno()}")
    try:
        stream = open(args.file, "rb")  # noqa: SIM115 - closed by send_file
    except OSError as exc:
        raise ConfigurationError(f"cannot read {args.file}: {exc}") from exc
    return stream, _is_regular(args.file)


def shown_path(path: str) -> str:
    """A path as text that can be written anywhere: bytes that are not UTF-8 (kept by Python as surrogates,
    which no UTF-8 output can carry) shown as U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")


def check_paths(args: argparse.Namespace) -> None:
    """The input, the journal and the failures file are three different files (writing one must not truncate
    another: `--file failed.jsonl --failures failed.jsonl` would empty the file before it is read)."""
    named = [("--file", args.file), ("--results", args.results), ("--failures", args.failures)]
    seen: dict[str, str] = {}
    for flag, path in named:
        if path is None or path == "-":
            continue
        real = os.path.realpath(path)  # a name the system can carry: checked by the parser (`cli_path`)
        if real in seen:
            raise ConfigurationError(f"{seen[real]} and {flag} name the same file ({path}); give each its own.")
        seen[real] = flag
