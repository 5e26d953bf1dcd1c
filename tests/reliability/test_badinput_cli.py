"""`dms-rocketmq send --file` fed a hostile JSONL file: every line is sent or written to the failures file,
with a reason on stderr and never a traceback; a file that is not UTF-8 is refused before anything is sent."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

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


def run_cli(emulator: EmulatorProcess, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("HUAWEICLOUD_", "DMS_"))}
    environ |= {
        "DMS_ROCKETMQ_ENDPOINT": emulator.url,
        "HUAWEICLOUD_SDK_PROJECT_ID": PROJECT_ID,
        "DMS_ROCKETMQ_INSTANCE_ID": INSTANCE_ID,
        "DMS_ROCKETMQ_TOKEN": TOKEN,
    }
    return subprocess.run(
        [str(BIN / "dms-rocketmq"), "send", "--topic", "orders", "--output", "json", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
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


def test_a_file_that_is_not_utf8_is_refused_before_anything_is_sent(
    auth_emulator: EmulatorProcess, tmp_path: pathlib.Path
) -> None:
    """A JSONL file with invalid UTF-8 stops the CLI with exit 2 and a one-line error; nothing is sent."""
    source = tmp_path / "latin1.jsonl"
    source.write_bytes(json.dumps({"body": "cli-before-bad-byte"}).encode() + b"\n" + b'{"body": "caf\xe9"}\n')
    completed = run_cli(auth_emulator, "--file", str(source))
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr
    assert "utf-8" in completed.stderr.lower()
    stored = {message["body"] for message in auth_emulator.messages("orders")}
    assert "cli-before-bad-byte" not in stored
