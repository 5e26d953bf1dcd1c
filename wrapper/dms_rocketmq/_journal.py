"""The results journal of `dms-rocketmq send --file --results PATH`: what happened to every line, as it happens.

One JSON object per line, appended and handed to the operating system as the run goes, so that it survives
Ctrl-C, SIGTERM and a crash (SIGKILL) of the command:

    {"run": {"version": 1, "hash": "blake2b-64", "file": "...", "started": "...", "resume": false}}
    {"line": 7, "hash": "7a1c...", "status": "sending"}
    {"line": 7, "hash": "7a1c...", "status": "sent", "msg_id": "...", "queue_id": 2, "queue_offset": 40}
    {"line": 9, "hash": "03fe...", "status": "failed", "request_sent": false, "error": {...}}
    {"summary": {...}}

`sending` is written (and flushed) before a line's request may leave: a line whose last record is `sending`
was in flight when the command died, and is in doubt. The last record of a line wins. `hash` is the
BLAKE2b-64 of the line's bytes (without its line ending), so a resumed run can refuse a file that changed.

One run owns a journal at a time: `open_journal` takes an exclusive `flock` on the journal file itself (the
mechanism of the emulator's data directory: the lock dies with its process, even under SIGKILL) before it
reads, checks or truncates anything, and a second run is refused, naming the holder's pid (its run record).
"""

from __future__ import annotations

import array
import hashlib
import json
import os
from typing import IO, Any

from ._exceptions import ConfigurationError

__all__ = [
    "FAILED",
    "HASH_NAME",
    "IN_DOUBT",
    "NOT_SENT",
    "SENDING",
    "SENT",
    "Journal",
    "JournalInUseError",
    "JournalState",
    "line_hash",
    "open_journal",
    "read_journal",
]

VERSION = 1
HASH_NAME = "blake2b-64"

# A line's state as read back, one byte per line number (0: no record).
SENDING = 1
SENT = 2
FAILED = 3
IN_DOUBT = 4
NOT_SENT = 5
_CODES = {"sending": SENDING, "sent": SENT, "failed": FAILED, "in_doubt": IN_DOUBT, "not_sent": NOT_SENT}


class JournalInUseError(ConfigurationError):
    """Another running command holds the results journal."""


def line_hash(raw: bytes) -> str:
    """The journal's hash of one line: BLAKE2b with an 8-byte digest, in hex."""
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


class JournalState:
    """The last state and hash of every line a journal recorded; about 9 bytes per line number."""

    def __init__(self) -> None:
        self.states = bytearray()
        self.hashes = array.array("Q")
        self.runs = 0
        self.max_line = 0
        #: The pid the last run record names (the process that holds, or held, the journal).
        self.holder: int | None = None

    def record(self, number: int, digest: str, state: int) -> None:
        if number >= len(self.states):
            grow = number + 1 - len(self.states) + 4096
            self.states.extend(bytes(grow))
            self.hashes.extend([0] * grow)
        self.states[number] = state
        self.hashes[number] = int(digest, 16)
        self.max_line = max(self.max_line, number)

    def state(self, number: int) -> int:
        """The line's last state (`SENT`, `IN_DOUBT`...; `SENDING` means in doubt too), 0 when not recorded."""
        return self.states[number] if number < len(self.states) else 0

    def digest(self, number: int) -> str:
        return f"{self.hashes[number]:016x}"


def read_journal(path: str) -> JournalState:
    """Read a journal back; a damaged record is a ConfigurationError, except a torn last line (a crash)."""
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below; line by line, whatever the size
    except OSError as exc:
        raise ConfigurationError(f"cannot read the results journal {path}: {exc}") from exc
    with stream:
        return _read_records(stream, path)


def _read_records(stream: IO[bytes], path: str) -> JournalState:
    state = JournalState()
    pending_error: str | None = None
    for number, raw in enumerate(stream, start=1):
        if pending_error is not None:
            raise ConfigurationError(pending_error)
        try:
            record = json.loads(raw)
            if "line" in record:
                state.record(int(record["line"]), str(record["hash"]), _CODES[record["status"]])
            elif "run" in record:
                if record["run"].get("hash", HASH_NAME) != HASH_NAME:
                    raise ValueError(f"unknown hash {record['run'].get('hash')!r}")
                state.runs += 1
                pid = record["run"].get("pid")
                state.holder = pid if isinstance(pid, int) and not isinstance(pid, bool) else None
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            # Only the last line may be torn (the command was killed while writing it).
            pending_error = f"the results journal {path} is damaged at line {number} ({exc}); it is not a journal?"
            if raw.endswith(b"\n"):
                raise ConfigurationError(pending_error) from exc
    if state.runs == 0 and len(state.states) > 0:
        raise ConfigurationError(f"{path} is not a dms-rocketmq results journal (no run record).")
    return state


def _lock(handle: IO[bytes], path: str) -> None:
    """Own the journal: an exclusive flock, released when the file is closed or its process ends."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: the journal is simply not locked
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        try:
            holder = _read_records(handle, path).holder
        except ConfigurationError:
            holder = None
        handle.close()
        named = f" (pid {holder})" if holder is not None else ""
        raise JournalInUseError(
            f"the results journal {path} is in use by another running dms-rocketmq send{named}: one run at a "
            "time may write a journal. Wait for that run to end (or stop it), then give --resume."
        ) from None


def open_journal(path: str, *, resume: bool) -> tuple[Journal, JournalState | None]:
    """Lock the journal at `path` for this run; with `resume`, read it back (the state to resume from).

    Without `resume` the journal must be new (or empty); with it, it must exist. Both are checked under the
    lock, so two runs started at once cannot both pass. Errors are `ConfigurationError`s.
    """
    try:
        handle = open(path, "rb+" if resume else "ab+")  # noqa: SIM115 - owned by the Journal
    except FileNotFoundError:
        raise ConfigurationError(f"--resume: there is no results journal at {path} to resume from.") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot write the results journal {path}: {exc}") from exc
    try:
        _lock(handle, path)
        size = handle.seek(0, os.SEEK_END)
        resumed: JournalState | None = None
        if resume:
            if size == 0:
                raise ConfigurationError(f"--resume: the results journal {path} is empty; there is nothing to resume.")
            handle.seek(0)
            resumed = _read_records(handle, path)
            _drop_torn_line(handle)
        elif size > 0:
            raise ConfigurationError(
                f"the results journal {path} exists: give --resume to continue that send (lines already "
                "sent are skipped), or remove it to start over."
            )
        handle.seek(0, os.SEEK_END)
    except BaseException:
        handle.close()
        raise
    return Journal(path, handle), resumed


def _drop_torn_line(journal: IO[bytes]) -> None:
    """Cut a record a killed run left half-written: it was never a record, and the next one must start whole."""
    size = journal.seek(0, os.SEEK_END)
    end = size
    while end > 0:
        start = max(0, end - 65536)
        journal.seek(start)
        chunk = journal.read(end - start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            end = start + newline + 1
            break
        end = start
    if end != size:
        journal.truncate(end)


class Journal:
    """Appends records; `flush()` hands them to the OS (the write-ahead `sending` records are flushed at once).

    Made by `open_journal`, which locks the file first.
    """

    def __init__(self, path: str, handle: IO[bytes]) -> None:
        self._file = handle
        self.path = path
        self._dirty = False

    def _write(self, data: dict[str, Any]) -> None:
        self._file.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")
        self._dirty = True

    def run(self, **info: Any) -> None:
        """The header of one run of the command."""
        self._write({"run": {"version": VERSION, "hash": HASH_NAME, **info}})
        self.flush()

    def sending(self, number: int, digest: str) -> None:
        """The line's request may leave now: recorded and flushed first (write-ahead)."""
        self._file.write(b'{"line":%d,"hash":"%s","status":"sending"}\n' % (number, digest.encode("ascii")))
        self._file.flush()
        self._dirty = False

    def sent(self, number: int, digest: str, msg_id: str, queue_id: int, queue_offset: int) -> None:
        """The line was stored."""
        self._file.write(
            b'{"line":%d,"hash":"%s","status":"sent","msg_id":%s,"queue_id":%d,"queue_offset":%d}\n'
            % (number, digest.encode("ascii"), json.dumps(msg_id).encode("utf-8"), queue_id, queue_offset)
        )
        self._dirty = True

    def not_stored(self, number: int, digest: str, status: str, request_sent: bool, error: dict[str, Any]) -> None:
        """The line failed, is in doubt, or was not sent."""
        self._write({"line": number, "hash": digest, "status": status, "request_sent": request_sent, "error": error})

    def summary(self, summary: dict[str, Any]) -> None:
        self._write({"summary": summary})
        self.flush()

    def flush(self) -> None:
        if self._dirty:
            self._file.flush()
            self._dirty = False

    def close(self) -> None:
        """Flush and close (again: nothing)."""
        if not self._file.closed:
            self.flush()
            self._file.close()
