"""`dms-rocketmq send --file`: stream a JSONL file (or stdin) through the bulk engine, and account for every line.

The file is read, sent and recorded as it goes: memory holds the lines in flight, never the file. Every line
ends in exactly one of: sent, skipped (acknowledged by an earlier run, with `--resume`), failed (certainly not
stored), in doubt (may have been stored: sent, no answer) or not sent (sending stopped first); blank lines
are counted apart. `--results` journals each line as its outcome is known (`_journal`), `--failures` writes
every line not sent with the reason, and the summary counts each kind.

Ctrl-C or SIGTERM stops taking new lines and lets the sends in flight finish; a second one abandons them
(in doubt). A 401, 403 or 404, or `--max-connection-failures` connection failures in a row, stop the same way:
the service cannot succeed. Either way the rest of the file is recorded as not sent.

This module runs a send from start to end; its parts are `_files` (the input and the paths), `_resume` (the
journal, and the pass that checks a file before resuming), `_reader` (the line readers), `_recorder` (each
line's outcome), `_progress`, `_signals` and `_summary`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import IO, Any

from dms_rocketmq import AsyncClient, ConfigurationError, SendResult
from dms_rocketmq._bulk import run_tasks
from dms_rocketmq._bulk_policy import FailFast, SendControl
from dms_rocketmq._constants import DEFAULT_MAX_CONNECTIONS
from dms_rocketmq._journal import Journal
from dms_rocketmq._rate import AdaptiveRate
from dms_rocketmq.cli._connection import client_options

from ._files import check_paths, count_lines, open_input, shown_path
from ._line import Line
from ._progress import Progress
from ._reader import LineReader
from ._recorder import Recorder
from ._resume import prepare_journal, report_resume
from ._signals import stopping_on_signals
from ._summary import finish

__all__ = ["send_file"]


def send_file(args: argparse.Namespace, output: str) -> int:
    """Send every line of `--file` (or stdin), journal and report; the exit code."""
    check_paths(args)
    # Settings first: a configuration error must leave no journal behind.
    client = AsyncClient(**client_options(args), max_connections=max(args.concurrency, DEFAULT_MAX_CONNECTIONS))
    stream, regular = open_input(args)
    journal: Journal | None = None
    failures: IO[str] | None = None
    progress: Progress | None = None
    try:
        journal, resumed = prepare_journal(args, stream, regular)
        if args.failures:
            try:
                failures = open(args.failures, "w", encoding="utf-8")  # noqa: SIM115 - closed below
            except OSError as exc:
                raise ConfigurationError(f"cannot write {args.failures}: {exc}") from exc
        progress = Progress(count_lines(args.file) if regular and args.file != "-" and sys.stderr.isatty() else None)
        recorder = Recorder(journal, failures, progress)
        reader = LineReader(args, recorder, resumed, args.resend_in_doubt)
        if journal is not None:
            journal.run(
                file=shown_path(os.path.abspath(args.file)) if args.file != "-" else "-",
                started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time())),
                resume=bool(args.resume),
                pid=os.getpid(),
            )
        if resumed is not None:
            report_resume(resumed, args)
        started = time.perf_counter()
        control = SendControl()
        try:
            exhausted = asyncio.run(_run(client, args, reader, recorder, journal, control, stream, regular))
        except OSError as exc:  # reading the input, or writing the journal or failures file (disk full...)
            raise ConfigurationError(f"stopped by an I/O error (the journal holds what was recorded): {exc}") from exc
        elapsed = time.perf_counter() - started
    except BaseException:
        if journal is not None:
            journal.close()  # what was recorded stays recorded, whatever stopped the command
        raise
    finally:
        if progress is not None:
            progress.stop()
        if failures is not None:
            failures.close()
        if stream is not sys.stdin.buffer:
            stream.close()
    return finish(args, output, recorder, journal, control, elapsed, exhausted, reader.lines_read)


async def _run(
    client: Any,
    args: argparse.Namespace,
    reader: LineReader,
    recorder: Recorder,
    journal: Journal | None,
    control: SendControl,
    stream: IO[bytes],
    regular: bool,
) -> bool:
    """Send, then record the lines left when sending stopped; True when the whole input was read."""
    try:
        with stopping_on_signals(asyncio.get_running_loop(), control):
            flusher = asyncio.create_task(_flush_periodically(journal)) if journal is not None else None
            try:
                return await _send(client, args, reader, recorder, control, stream, regular)
            finally:
                if flusher is not None:
                    flusher.cancel()
    finally:
        if journal is not None:
            journal.flush()


async def _send(
    client: Any,
    args: argparse.Namespace,
    reader: LineReader,
    recorder: Recorder,
    control: SendControl,
    stream: IO[bytes],
    regular: bool,
) -> bool:
    lines: Iterator[Line] | AsyncIterator[Line] = reader.from_file(stream) if regular else reader.from_pipe(stream)

    async def send(line: Line) -> SendResult:
        message = line.message
        result: SendResult = await client.send(message.topic, message.body, keys=message.keys, tags=message.tags)
        return result

    async with client:
        await run_tasks(
            send,
            lines,
            recorder.deliver,
            concurrency=args.concurrency,
            rate=AdaptiveRate(args.rate),
            fail_fast=FailFast(enabled=True, max_connection_failures=args.max_connection_failures),
            control=control,
            before_send=recorder.before_send,
        )
    if control.stop_reason is None:
        return True
    if not isinstance(lines, Iterator):
        return False  # a pipe may never end: what was not read stays unread
    reason = control.stop_reason
    for line in lines:  # the rest of the file: recorded as not sent
        recorder.not_sent(line, reason)
    return True


async def _flush_periodically(journal: Journal | None) -> None:
    # Outcomes are flushed with the next write-ahead record; this covers a quiet spell (all sends waiting).
    assert journal is not None
    while True:
        await asyncio.sleep(0.5)
        journal.flush()
