"""The results journal of `dms-rocketmq send --file`: read back after a crash, appended to safely, refused when
damaged; the hash of a line is stable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dms_rocketmq import ConfigurationError
from dms_rocketmq._journal import IN_DOUBT, SENDING, SENT, JournalInUseError, line_hash, open_journal, read_journal


def written(path: Path) -> None:
    journal, _ = open_journal(str(path), resume=False)
    journal.run(file="in.jsonl", started="2026-12-01T00:00:00Z", resume=False, pid=os.getpid())
    journal.sending(1, line_hash(b'{"body": "a"}'))
    journal.sent(1, line_hash(b'{"body": "a"}'), "MSGID", 3, 41)
    journal.sending(2, line_hash(b'{"body": "b"}'))
    journal.not_stored(3, line_hash(b"x"), "in_doubt", True, {"type": "APITimeoutError", "message": "timed out"})
    journal.close()


def test_last_record_of_each_line_wins_and_sending_alone_is_in_doubt(tmp_path: Path) -> None:
    """A line's last record is its state; a `sending` with no outcome after it (a crash) stays SENDING."""
    path = tmp_path / "results.jsonl"
    written(path)
    state = read_journal(str(path))
    assert (state.state(1), state.state(2), state.state(3), state.state(4)) == (SENT, SENDING, IN_DOUBT, 0)
    assert state.digest(1) == line_hash(b'{"body": "a"}')
    assert state.max_line == 3


def test_a_torn_last_line_is_tolerated_and_ended_before_appending(tmp_path: Path) -> None:
    """A record cut short by a kill is ignored on reading, and cut before appending: the journal stays whole."""
    path = tmp_path / "results.jsonl"
    written(path)
    with path.open("ab") as stream:
        stream.write(b'{"line":4,"hash":"00')
    assert read_journal(str(path)).state(4) == 0
    journal, resumed = open_journal(str(path), resume=True)
    assert resumed is not None
    assert resumed.state(1) == SENT
    journal.sent(5, line_hash(b"e"), "M5", 0, 1)
    journal.close()
    assert read_journal(str(path)).state(5) == SENT  # the torn line did not swallow the new record
    assert b'"hash":"00' not in path.read_bytes()
    again, _ = open_journal(str(path), resume=True)  # a whole journal is left as it is
    again.close()
    assert read_journal(str(path)).state(5) == SENT


def test_a_damaged_record_inside_the_journal_is_refused(tmp_path: Path) -> None:
    """A record that is not JSON in the middle of the journal is a clear error, not a guess."""
    path = tmp_path / "results.jsonl"
    written(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2][:10]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="damaged at line 3"):
        read_journal(str(path))


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    """Resuming from some other JSONL file (no run record) is refused."""
    path = tmp_path / "messages.jsonl"
    path.write_text('{"line": 1, "hash": "00", "status": "sent"}\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match="not a dms-rocketmq results journal"):
        read_journal(str(path))


def test_line_hash_is_blake2b_64() -> None:
    """The hash a journal records is BLAKE2b with an 8-byte digest of the line's bytes, in hex."""
    assert line_hash(b"") == "e4a6a0577479b2b4"
    assert len(line_hash(b'{"body": "x"}')) == 16


def test_one_run_owns_a_journal_and_a_second_is_refused_naming_the_holder(tmp_path: Path) -> None:
    """While one run holds a journal, opening it again (resumed or new) is refused with the holder's pid."""
    path = tmp_path / "results.jsonl"
    journal, _ = open_journal(str(path), resume=False)
    journal.run(file="in.jsonl", started="2026-12-01T00:00:00Z", resume=False, pid=os.getpid())
    for resume in (True, False):
        with pytest.raises(
            JournalInUseError, match=rf"in use by another running dms-rocketmq send \(pid {os.getpid()}\)"
        ):
            open_journal(str(path), resume=resume)
    journal.close()
    again, resumed = open_journal(str(path), resume=True)  # the lock went with its owner
    assert resumed is not None
    assert resumed.runs == 1
    again.close()


def test_the_lock_dies_with_the_process_that_held_it(tmp_path: Path) -> None:
    """A journal held by another process is refused while it lives, and free once it is killed (no stale lock)."""
    path = tmp_path / "results.jsonl"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys; from dms_rocketmq._journal import open_journal\n"
            f"j, _ = open_journal({str(path)!r}, resume=False); j.run(pid=os.getpid())\n"
            "print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(JournalInUseError, match=f"pid {holder.pid}"):
            open_journal(str(path), resume=True)
    finally:
        holder.kill()
        holder.communicate()
    journal, resumed = open_journal(str(path), resume=True)
    assert resumed is not None
    assert resumed.holder == holder.pid
    journal.close()


def test_a_new_run_refuses_an_existing_journal_and_resume_a_missing_one(tmp_path: Path) -> None:
    """Without --resume the journal must be new; with it, it must exist: checked under the lock."""
    path = tmp_path / "results.jsonl"
    with pytest.raises(ConfigurationError, match="no results journal"):
        open_journal(str(path), resume=True)
    written(path)
    with pytest.raises(ConfigurationError, match="exists: give --resume"):
        open_journal(str(path), resume=False)
