"""`dms-rocketmq send --file`: stream a JSONL file (or stdin) through the bulk engine, and account for every line.

The file is read, sent and recorded as it goes: memory holds the lines in flight, never the file. Every line
ends in exactly one of: sent, skipped (acknowledged by an earlier run, with `--resume`), failed (certainly not
stored), in doubt (may have been stored: sent, no answer) or not sent (sending stopped first); blank lines
are counted apart. `--results` journals each line as its outcome is known (`_journal`), `--failures` writes
every line not sent with the reason, and the summary counts each kind.

Ctrl-C or SIGTERM stops taking new lines and lets the sends in flight finish; a second one abandons them
(in doubt). A 401, 403 or 404, or `--max-connection-failures` connection failures in a row, stop the same way:
the service cannot succeed. Either way the rest of the file is recorded as not sent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import IO, Any

from ._bulk import FailFast, SendControl, outcome_state, run_tasks
from ._cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, _client_options, _error_fields, _print_json, _print_table
from ._constants import DEFAULT_MAX_CONNECTIONS
from ._exceptions import ConfigurationError, SendCancelledError, ValidationError
from ._journal import IN_DOUBT, SENDING, SENT, Journal, JournalState, line_hash, open_journal
from ._models import Message, SendFailure, SendOutcome, SendResult
from ._rate import AdaptiveRate
from ._validation import message_from

__all__ = ["send_file"]

#: Failures printed on stderr one by one; the rest are counted (all are in --failures and --results).
_SHOWN_FAILURES = 20
#: Metadata fields of a failures file line; dropped when the file is sent again.
FAILURE_FIELD = "_failure"
RAW_LINE_FIELD = "_line"


class _Line:
    """One line to send: its number, hash, JSON object (defaults applied) and message."""

    __slots__ = ("digest", "document", "message", "number")

    def __init__(self, number: int, digest: str, document: dict[str, Any], message: Message) -> None:
        self.number = number
        self.digest = digest
        self.document = document
        self.message = message


class _Progress:
    """A progress bar on stderr (rich, on a terminal) that counts every line of the file."""

    def __init__(self, total: int | None) -> None:
        self._bar: Any = None
        if not sys.stderr.isatty():
            return
        try:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
        except ImportError:
            return
        self._bar = Progress(
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
        if self._bar is not None:
            self._bar.advance(self._task)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()


class _Recorder:
    """Where every line's fate goes: counts, the journal, the failures file, stderr and the progress bar."""

    def __init__(self, journal: Journal | None, failures: IO[str] | None, progress: _Progress) -> None:
        self.journal = journal
        self.failures = failures
        self.progress = progress
        self.counts = dict.fromkeys(("sent", "skipped", "failed", "in_doubt", "not_sent", "blank"), 0)
        self.shown = 0

    # -- lines that are not sent by this run ----------------------------------------------------------------
    def blank(self) -> None:
        self.counts["blank"] += 1
        self.progress.advance()

    def skipped(self) -> None:
        self.counts["skipped"] += 1
        self.progress.advance()

    def kept_in_doubt(self, number: int, document: Any) -> None:
        """A line an earlier run left in doubt, not re-sent (no --resend-in-doubt): counted and listed."""
        error = {"type": "InDoubt", "message": "in doubt since an earlier run (sent, no answer); not re-sent"}
        self._failure(number, document, "in_doubt", True, error, show=False)

    def invalid(self, number: int, digest: str, document: Any, reason: str) -> None:
        """A line that cannot be a message (not JSON, breaks a rule): failed, nothing sent."""
        error = {"type": "InvalidLine", "message": reason}
        if self.journal is not None:
            self.journal.not_stored(number, digest, "failed", False, error)
        self._failure(number, document, "failed", False, error)

    def not_sent(self, line: _Line, reason: str) -> None:
        self.deliver(0, line, SendFailure(line.message, SendCancelledError(reason, request_sent=False)))

    # -- the bulk engine's callbacks ------------------------------------------------------------------------
    def before_send(self, index: int, line: _Line) -> None:
        if self.journal is not None:
            self.journal.sending(line.number, line.digest)

    def deliver(self, index: int, line: _Line, outcome: SendOutcome) -> None:
        if type(outcome) is SendResult:
            self.counts["sent"] += 1
            if self.journal is not None:
                self.journal.sent(line.number, line.digest, outcome.msg_id, outcome.queue_id, outcome.queue_offset)
            self.progress.advance()
            return
        assert isinstance(outcome, SendFailure)
        state = outcome_state(outcome)
        exc = outcome.exception
        request_sent = state == "in_doubt"
        error = _error_fields(exc)
        if self.journal is not None:
            self.journal.not_stored(line.number, line.digest, state, request_sent, error)
        self._failure(line.number, line.document, state, request_sent, error, show=state != "not_sent")

    def _failure(
        self,
        number: int,
        document: Any,
        state: str,
        request_sent: bool,
        error: dict[str, Any],
        *,
        show: bool = True,
    ) -> None:
        self.counts[state] += 1
        self.progress.advance()
        if show:
            self.shown += 1
            if self.shown <= _SHOWN_FAILURES:
                kind = "is in doubt (may have been stored)" if state == "in_doubt" else "failed"
                print(f"dms-rocketmq: line {number} {kind}: {error['message']}", file=sys.stderr)
        if self.failures is not None:
            entry = dict(document) if isinstance(document, dict) else {RAW_LINE_FIELD: document}
            entry[FAILURE_FIELD] = {"line": number, "status": state, "request_sent": request_sent, "error": error}
            self.failures.write(json.dumps(entry, ensure_ascii=False) + "\n")


def _document_or_raw(raw: bytes) -> Any:
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return raw.decode("utf-8", "replace")
    return document if isinstance(document, dict) else raw.decode("utf-8", "replace")


class _Reader:
    """Turns raw lines into `_Line`s to send, recording on the spot the lines that are not to be sent."""

    def __init__(
        self, args: argparse.Namespace, recorder: _Recorder, resumed: JournalState | None, resend_in_doubt: bool
    ) -> None:
        self.recorder = recorder
        self.resumed = resumed
        self.resend_in_doubt = resend_in_doubt
        self.defaults = {"topic": args.topic, "keys": args.keys, "tags": args.tag}
        self.lines_read = 0

    def prepare(self, number: int, raw: bytes) -> _Line | None:
        """The line to send, or None when it was recorded already (blank, skipped, in doubt, invalid)."""
        self.lines_read = number
        raw = raw.rstrip(b"\n").removesuffix(b"\r")
        if not raw.strip():
            self.recorder.blank()
            return None
        digest = line_hash(raw)
        if self.resumed is not None:
            state = self.resumed.state(number)
            if state == SENT:
                self.recorder.skipped()
                return None
            if state in (IN_DOUBT, SENDING) and not self.resend_in_doubt:
                self.recorder.kept_in_doubt(number, self._listed(raw))
                return None
        return self._parse(number, raw, digest)

    def _listed(self, raw: bytes) -> Any:
        """A line as the failures file lists it: its object with the defaults applied, or its text."""
        document = _document_or_raw(raw)
        if isinstance(document, dict):
            document.pop(FAILURE_FIELD, None)
            for name, value in self.defaults.items():
                if name not in document and value:
                    document[name] = value
        return document

    def _parse(self, number: int, raw: bytes, digest: str) -> _Line | None:
        text = raw.decode("utf-8", "replace")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            # One rule for a file and a stream: a line that is not UTF-8 is an invalid line (failed, not sent),
            # as one that is not JSON; a pipe cannot be checked before its first line is sent.
            self.recorder.invalid(number, digest, text, f"not UTF-8 ({exc.reason} at byte {exc.start + 1})")
            return None
        try:
            document = json.loads(raw)
        except ValueError as exc:
            self.recorder.invalid(number, digest, text, f"not JSON ({exc})")
            return None
        except RecursionError:
            self.recorder.invalid(number, digest, text, "not JSON (nested too deeply)")
            return None
        if not isinstance(document, dict):
            self.recorder.invalid(number, digest, text, "not a JSON object")
            return None
        # A line of a failures file: its metadata is dropped; a line that was not JSON is itself again.
        if document.pop(FAILURE_FIELD, None) is not None and set(document) == {RAW_LINE_FIELD}:
            return self._parse(number, str(document[RAW_LINE_FIELD]).encode("utf-8"), digest)
        for name, value in self.defaults.items():
            if name not in document and value:
                document[name] = value
        fields = dict(document)
        body = fields.get("body")
        if body is not None and not isinstance(body, str):
            fields["body"] = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        try:
            if "topic" not in fields:
                raise ValidationError('no topic: give --topic or a "topic" field.')
            message = message_from(fields)
        except ValidationError as exc:
            self.recorder.invalid(number, digest, document, str(exc))
            return None
        return _Line(number, digest, document, message)

    def from_file(self, stream: IO[bytes]) -> Iterator[_Line]:
        for number, raw in enumerate(stream, start=1):
            line = self.prepare(number, raw)
            if line is not None:
                yield line

    async def from_pipe(self, stream: IO[bytes]) -> AsyncIterator[_Line]:
        """Lines of a pipe or terminal, read by a daemon thread so that a slow writer never blocks the loop."""
        loop = asyncio.get_running_loop()
        batches: asyncio.Queue[list[bytes] | None] = asyncio.Queue()
        room = threading.Semaphore(8)  # batches read ahead: bounded memory

        def read() -> None:
            # os.read returns what the pipe holds (blocking only when it is empty): each line is handed over
            # as soon as it is complete, however slowly a producer writes, and in batches when it is fast.
            fd = stream.fileno()
            pending = b""
            # RuntimeError: the loop is closed, sending is over (a producer wrote on after a stop).
            with contextlib.suppress(RuntimeError):
                try:
                    while chunk := os.read(fd, 1 << 16):
                        *complete, pending = (pending + chunk).split(b"\n")
                        if complete:
                            room.acquire()
                            loop.call_soon_threadsafe(batches.put_nowait, complete)
                    if pending:
                        room.acquire()
                        loop.call_soon_threadsafe(batches.put_nowait, [pending])
                finally:
                    loop.call_soon_threadsafe(batches.put_nowait, None)

        threading.Thread(target=read, name="dms-rocketmq-stdin", daemon=True).start()
        number = 0
        while (batch := await batches.get()) is not None:
            room.release()
            for raw in batch:
                number += 1
                line = self.prepare(number, raw)
                if line is not None:
                    yield line


def _count_lines(path: str) -> int:
    count = 0
    last = b"\n"
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _check_resumable(stream: IO[bytes], path: str, journal_path: str, resumed: JournalState) -> None:
    """Refuse a file whose recorded lines changed since the journal recorded them: resuming would send the
    wrong ones. Lines after the last one the journal records are new lines, sent like any other; the stream
    is read to its end and put back at its start."""
    last = 0
    for number, raw in enumerate(stream, start=1):
        last = number
        if resumed.state(number):
            digest = line_hash(raw.rstrip(b"\n").removesuffix(b"\r"))
            if digest != resumed.digest(number):
                raise ConfigurationError(
                    f"{path} has changed since {journal_path} recorded it: line {number} is not the line that "
                    "was sent. Resuming would skip or send the wrong lines; send the edited file with a new "
                    "--results journal instead."
                )
    if resumed.max_line > last:
        raise ConfigurationError(
            f"{path} has changed since {journal_path} recorded it: it has {last} lines, the journal records line "
            f"{resumed.max_line}. Send the edited file with a new --results journal instead."
        )
    stream.seek(0)


def _is_regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _open_input(args: argparse.Namespace) -> tuple[IO[bytes], bool]:
    """The input as binary lines, and whether it is a regular file (readable to its end at once)."""
    if args.file == "-":
        return sys.stdin.buffer, _is_regular(f"/dev/fd/{sys.stdin.fileno()}")
    try:
        stream = open(args.file, "rb")  # noqa: SIM115 - closed by send_file
    except OSError as exc:
        raise ConfigurationError(f"cannot read {args.file}: {exc}") from exc
    return stream, _is_regular(args.file)


def _prepare_journal(
    args: argparse.Namespace, stream: IO[bytes], regular: bool
) -> tuple[Journal | None, JournalState | None]:
    if args.results is None:
        return None, None
    if args.resume and not regular:
        # The input is read twice (checked against the journal, then sent): a pipe would be empty the second time.
        raise ConfigurationError(
            f"--resume needs --file to be a regular file, and {args.file} is a pipe or a terminal: it is read "
            "twice (checked against the journal, then sent). Save the input to a file and resume from that."
        )
    journal, resumed = open_journal(args.results, resume=args.resume)
    if resumed is not None:
        try:
            _check_resumable(stream, args.file, args.results, resumed)
        except BaseException:
            journal.close()
            raise
    return journal, resumed


def _shown_path(path: str) -> str:
    """A path as text that can be written anywhere: bytes that are not UTF-8 (kept by Python as surrogates,
    which no UTF-8 output can carry) shown as U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")


def _check_paths(args: argparse.Namespace) -> None:
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


def send_file(args: argparse.Namespace, output: str) -> int:
    """Send every line of `--file` (or stdin), journal and report; the exit code."""
    from ._client import AsyncClient  # imported here so that `--help` stays fast

    _check_paths(args)
    # Settings first: a configuration error must leave no journal behind.
    client = AsyncClient(**_client_options(args), max_connections=max(args.concurrency, DEFAULT_MAX_CONNECTIONS))
    stream, regular = _open_input(args)
    journal: Journal | None = None
    failures: IO[str] | None = None
    progress: _Progress | None = None
    try:
        journal, resumed = _prepare_journal(args, stream, regular)
        if args.failures:
            try:
                failures = open(args.failures, "w", encoding="utf-8")  # noqa: SIM115 - closed below
            except OSError as exc:
                raise ConfigurationError(f"cannot write {args.failures}: {exc}") from exc
        progress = _Progress(_count_lines(args.file) if regular and args.file != "-" and sys.stderr.isatty() else None)
        recorder = _Recorder(journal, failures, progress)
        reader = _Reader(args, recorder, resumed, args.resend_in_doubt)
        if journal is not None:
            journal.run(
                file=_shown_path(os.path.abspath(args.file)) if args.file != "-" else "-",
                started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                resume=bool(args.resume),
                pid=os.getpid(),
            )
        if resumed is not None:
            _report_resume(resumed, args)
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
    return _finish(args, output, recorder, journal, control, elapsed, exhausted, reader.lines_read)


def _report_resume(resumed: JournalState, args: argparse.Namespace) -> None:
    acked = resumed.states.count(SENT)
    doubt = resumed.states.count(IN_DOUBT) + resumed.states.count(SENDING)
    print(f"dms-rocketmq: resuming: {acked} lines already sent are skipped", file=sys.stderr)
    if doubt:
        if args.resend_in_doubt:
            print(f"dms-rocketmq: {doubt} lines in doubt are sent again (--resend-in-doubt)", file=sys.stderr)
        else:
            print(
                f"dms-rocketmq: {doubt} lines are in doubt (sent, no answer: they may have been stored) and are not "
                "sent again; check them (their keys), or give --resend-in-doubt to send them again",
                file=sys.stderr,
            )


async def _run(
    client: Any,
    args: argparse.Namespace,
    reader: _Reader,
    recorder: _Recorder,
    journal: Journal | None,
    control: SendControl,
    stream: IO[bytes],
    regular: bool,
) -> bool:
    """Send, then record the lines left when sending stopped; True when the whole input was read."""
    loop = asyncio.get_running_loop()
    signals = 0

    def on_signal(name: str) -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            control.stop(f"interrupted by {name}")
            print(
                f"\ndms-rocketmq: {name}: no new lines are sent; waiting for the sends in flight "
                f"({name} again to abandon them)",
                file=sys.stderr,
            )
        else:
            control.abandon(f"interrupted by {name} twice")

    installed = []
    for signum, name in ((signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")):
        try:
            loop.add_signal_handler(signum, on_signal, name)
        except (NotImplementedError, RuntimeError):  # no signal handlers in this loop (Windows): Ctrl-C aborts
            continue
        installed.append(signum)
    flusher = loop.create_task(_flush_periodically(journal)) if journal is not None else None
    lines: Iterator[_Line] | AsyncIterator[_Line] = reader.from_file(stream) if regular else reader.from_pipe(stream)

    async def send(line: _Line) -> SendResult:
        message = line.message
        result: SendResult = await client.send(message.topic, message.body, keys=message.keys, tags=message.tags)
        return result

    try:
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
    finally:
        if flusher is not None:
            flusher.cancel()
        for signum in installed:
            loop.remove_signal_handler(signum)
        if journal is not None:
            journal.flush()


async def _flush_periodically(journal: Journal | None) -> None:
    # Outcomes are flushed with the next write-ahead record; this covers a quiet spell (all sends waiting).
    assert journal is not None
    while True:
        await asyncio.sleep(0.5)
        journal.flush()


def _finish(
    args: argparse.Namespace,
    output: str,
    recorder: _Recorder,
    journal: Journal | None,
    control: SendControl,
    elapsed: float,
    exhausted: bool,
    lines_read: int,
) -> int:
    counts = recorder.counts
    if recorder.shown > _SHOWN_FAILURES:
        print(f"dms-rocketmq: ... and {recorder.shown - _SHOWN_FAILURES} more failures", file=sys.stderr)
    summary: dict[str, Any] = {
        "sent": counts["sent"],
        "failed": counts["failed"],
        "in_doubt": counts["in_doubt"],
        "skipped": counts["skipped"],
        "not_sent": counts["not_sent"],
        "blank": counts["blank"],
        "total": sum(counts.values()) - counts["blank"],
        "seconds": round(elapsed, 3),
        "messages_per_second": round(counts["sent"] / elapsed if elapsed > 0 else 0.0, 1),
    }
    if control.stop_reason is not None:
        summary["stopped"] = control.stop_reason
    if not exhausted:
        summary["unread_after_line"] = lines_read
    if args.failures:
        summary["failures_file"] = _shown_path(args.failures)
    if args.results:
        summary["results_file"] = _shown_path(args.results)
    if journal is not None:
        journal.summary(summary)
        journal.close()
    interrupted = control.stop_reason is not None and control.stop_reason.startswith("interrupted")
    if control.stop_reason is not None and not interrupted:
        print(f"dms-rocketmq: stopped: {control.stop_reason}", file=sys.stderr)
    if counts["not_sent"] or not exhausted:
        where = f" (listed in {args.failures})" if args.failures else ""
        unread = f"; the input after line {lines_read} was not read" if not exhausted else ""
        print(f"dms-rocketmq: {counts['not_sent']} lines were not sent{where}{unread}", file=sys.stderr)
    if output == "json":
        _print_json(summary, sys.stdout)
    else:
        problems = counts["failed"] + counts["in_doubt"] + counts["not_sent"]
        _print_table(
            [(name, str(value)) for name, value in summary.items()], "Sent" if not problems else "Not all sent"
        )
    if interrupted:
        return EXIT_INTERRUPTED
    ok = not (counts["failed"] or counts["in_doubt"] or counts["not_sent"]) and exhausted
    return EXIT_OK if ok else EXIT_FAILED
