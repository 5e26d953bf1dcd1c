"""The line readers: a regular file read in the loop, a pipe or terminal read by a thread; both turn raw lines
into `Line`s to send and record on the spot the lines that are not to be sent."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import threading
from collections.abc import AsyncIterator, Iterator
from typing import IO, Any

from dms_rocketmq import ValidationError
from dms_rocketmq._journal import IN_DOUBT, SENDING, SENT, JournalState, line_hash
from dms_rocketmq._validation import message_from

from ._line import FAILURE_FIELD, RAW_LINE_FIELD, Line
from ._recorder import Recorder

__all__ = ["LineReader"]


def _document_or_raw(raw: bytes) -> Any:
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return raw.decode("utf-8", "replace")
    return document if isinstance(document, dict) else raw.decode("utf-8", "replace")


class LineReader:
    """Turns raw lines into `Line`s to send, recording on the spot the lines that are not to be sent."""

    def __init__(
        self, args: argparse.Namespace, recorder: Recorder, resumed: JournalState | None, resend_in_doubt: bool
    ) -> None:
        self.recorder = recorder
        self.resumed = resumed
        self.resend_in_doubt = resend_in_doubt
        self.defaults = {"topic": args.topic, "keys": args.keys, "tags": args.tag}
        self.lines_read = 0

    def prepare(self, number: int, raw: bytes) -> Line | None:
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

    def _parse(self, number: int, raw: bytes, digest: str) -> Line | None:
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
        return Line(number, digest, document, message)

    def from_file(self, stream: IO[bytes]) -> Iterator[Line]:
        """The lines of a regular file, read as they are needed."""
        for number, raw in enumerate(stream, start=1):
            line = self.prepare(number, raw)
            if line is not None:
                yield line

    async def from_pipe(self, stream: IO[bytes]) -> AsyncIterator[Line]:
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
