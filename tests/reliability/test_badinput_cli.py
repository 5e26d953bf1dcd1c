"""`dms-rocketmq send --file` fed a hostile JSONL file: every line is sent or written to the failures file,
with a reason on stderr and never a traceback; a line that is not UTF-8 fails alone, in a file as on stdin."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
from emulators import INSTANCE_ID, PROJECT_ID, TOKEN, EmulatorProcess

BIN = pathlib.Path(sys.executable).parent

GOOD_LINES = [
    json.dumps({"body": "cli-ok-1"}),
    json.dumps({"body": {"nested": True, "n": 1}}),  # a non-string body is sent as compact JSON
    json.dumps({"body": "cli-ok-3", "keys": ["a", "b"], "tags": "t"}),
]
BAD_LINES = [
    "not json",
    "[1, 2, 3]",
    "null",
    json.dumps({"body": None}),
    json.dumps({"body": "x" * (5 * 1024 * 1024)}),
    "[" * 100_000 + "]" * 100_000,
    json.dumps({"body": "cli-bad-topic", "topic": "no-such-topic"}),
    json.dumps({"body": "cli-bad-keys", "keys": 5}),
    json.dumps({"body": "cli-bad-field", "extra": 1}),
    '{"body": "truncated',
]


def run_cli(emulator: EmulatorProcess, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("HUAWEICLOUD_", "DMS_"))}
    environ |= {
        "DMS_ROCKETMQ_ENDPOINT": emulator.url,
        "HUAWEICLOUD_SDK_PROJECT_ID": PROJECT_ID,
        "DMS_ROCKETMQ_INSTANCE_ID": INSTANCE_ID,
        "DMS_ROCKETMQ_TOKEN": TOKEN,
    }
    completed = subprocess.run(
        [str(BIN / "dms-rocketmq"), "send", "--topic", "orders", "--output", "json", *args],
        capture_output=True,
        input=stdin if stdin is not None else b"",
        env=environ,
        timeout=120,
        check=False,
    )
    return subprocess.CompletedProcess(
        completed.args,
        completed.returncode,
        completed.stdout.decode("utf-8", "replace"),
        completed.stderr.decode("utf-8", "replace"),
    )


def test_every_line_of_a_hostile_file_is_sent_or_reported(
    auth_emulator: EmulatorProcess, tmp_path: pathlib.Path
) -> None:
    """Every line of a hostile JSONL file is sent or written to the failures file with a reason, no traceback."""
    source = tmp_path / "in.jsonl"
    mixed = [line for pair in zip(BAD_LINES, [*GOOD_LINES, *[""] * 7], strict=True) for line in pair]
    source.write_text("\n".join(mixed) + "\n")
    failures = tmp_path / "failed.jsonl"
    completed = run_cli(auth_emulator, "--file", str(source), "--failures", str(failures))
    assert "Traceback" not in completed.stderr, completed.stderr[-2000:]
    assert completed.returncode == 1, completed.stdout + completed.stderr[-2000:]
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    assert summary["sent"] == len(GOOD_LINES)
    assert summary["failed"] == len(BAD_LINES)
    assert summary["total"] == len(GOOD_LINES) + len(BAD_LINES)
    assert completed.stderr.count("failed:") == len(BAD_LINES)
    failed_lines = failures.read_text().splitlines()
    assert len(failed_lines) == len(BAD_LINES)
    # A line that is not a JSON object is kept verbatim, with the reason beside it.
    assert any(json.loads(line).get("_line", "").startswith("[[[[") for line in failed_lines)
    stored = {message["body"] for message in auth_emulator.messages("orders")}
    assert {"cli-ok-1", '{"nested":true,"n":1}', "cli-ok-3"} <= stored
    assert not {"cli-bad-topic", "cli-bad-keys", "cli-bad-field"} & stored


@pytest.mark.parametrize("via", ["file", "stdin pipe"])
def test_a_line_that_is_not_utf8_fails_alone_whether_read_from_a_file_or_stdin(
    auth_emulator: EmulatorProcess, tmp_path: pathlib.Path, via: str
) -> None:
    """The same bytes give the same outcome from a file and from a pipe: the non-UTF-8 line fails (exit 1,
    reason "not UTF-8"), the lines around it are sent, and nothing prints a traceback."""
    data = (
        json.dumps({"body": f"utf8-before-{via}"}).encode()
        + b"\n"
        + b'{"body": "caf\xe9"}\n'
        + json.dumps({"body": f"utf8-after-{via}"}).encode()
        + b"\n"
    )
    source = tmp_path / "latin1.jsonl"
    source.write_bytes(data)
    failures = tmp_path / "failed.jsonl"
    if via == "file":
        completed = run_cli(auth_emulator, "--file", str(source), "--failures", str(failures))
    else:
        completed = run_cli(auth_emulator, "--file", "-", "--failures", str(failures), stdin=data)
    assert "Traceback" not in completed.stderr
    assert completed.returncode == 1, completed.stdout + completed.stderr
    summary = json.loads(completed.stdout)
    assert (summary["sent"], summary["failed"]) == (2, 1)
    assert "line 2 failed: not UTF-8" in completed.stderr
    listed = [json.loads(line) for line in failures.read_text(encoding="utf-8").splitlines()]
    assert [entry["_failure"]["line"] for entry in listed] == [2]
    stored = {message["body"] for message in auth_emulator.messages("orders")}
    assert {f"utf8-before-{via}", f"utf8-after-{via}"} <= stored
