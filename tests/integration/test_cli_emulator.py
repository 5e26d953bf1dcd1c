"""The dms-rocketmq command, run as users run it, against the emulator."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from _shared.cli import command, environment

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def clean(dms_emulator: Any) -> None:
    """Each test starts from an empty store."""
    dms_emulator.reset()


def run(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command(), *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)


def test_send_from_stdin_prints_json(dms_emulator: Any) -> None:
    """`send` reads the body from stdin, prints the result as JSON when piped, and exits 0."""
    done = run(
        ["send", "--topic", "orders", "--key", "k1", "--key", "k2", "--tag", "t"],
        environment(dms_emulator),
        stdin="hello from stdin\n",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    [stored] = dms_emulator.messages("orders")
    assert stored["body"] == "hello from stdin"
    assert result["msg_id"] == stored["msg_id"]
    assert result["properties"]["KEYS"] == "k1 k2"
    assert result["properties"]["TAGS"] == "t"
    assert dms_emulator.sk not in done.stdout + done.stderr


def test_send_body_table_output_with_flags(dms_emulator: Any) -> None:
    """Connection flags override the environment; `--output table` prints a readable table."""
    env = environment(dms_emulator, DMS_ROCKETMQ_ENDPOINT="http://127.0.0.1:9", DMS_ROCKETMQ_INSTANCE_ID="x")
    done = run(
        [
            "send",
            "--endpoint",
            dms_emulator.url,
            "--instance-id",
            dms_emulator.instance_id,
            "--ak",
            dms_emulator.ak,
            "--topic",
            "orders",
            "--body",
            "tabled",
            "--output",
            "table",
        ],
        env,
    )
    assert done.returncode == 0, done.stderr
    [stored] = dms_emulator.messages("orders")
    assert stored["msg_id"] in done.stdout
    assert "queue_offset" in done.stdout


def test_send_with_token_from_environment(dms_emulator: Any) -> None:
    """DMS_ROCKETMQ_TOKEN authenticates the CLI with an IAM token instead of AK/SK."""
    env = environment(dms_emulator, DMS_ROCKETMQ_TOKEN=dms_emulator.token)
    del env["HUAWEICLOUD_SDK_AK"], env["HUAWEICLOUD_SDK_SK"]
    done = run(["send", "--topic", "orders", "--body", "with token"], env)
    assert done.returncode == 0, done.stderr
    assert [m["body"] for m in dms_emulator.messages()] == ["with token"]


def test_failed_send_exit_1_with_error_json(dms_emulator: Any) -> None:
    """A send the server refuses exits 1 and prints the error, with the server's request id, as JSON."""
    done = run(["send", "--topic", "no_such_topic", "--body", "x"], environment(dms_emulator))
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]
    assert error["error_code"] == "DMS.00400876"
    assert len(error["request_id"]) == 32
    assert "does not exist" in done.stderr


def test_file_with_failures_then_resend(dms_emulator: Any, tmp_path: Path) -> None:
    """A file with 500s exits 1 and lists those lines in doubt, with the reason; re-sending that list completes it."""
    messages = tmp_path / "messages.jsonl"
    lines = [{"body": f"line-{i}", "keys": [f"k-{i}"]} for i in range(300)]
    lines[10]["body"] = {"structured": 10}  # a non-string body is sent as JSON
    messages.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n", encoding="utf-8")
    failures = tmp_path / "failed.jsonl"
    dms_emulator.inject_faults(12, status=500)

    done = run(
        ["send", "--topic", "orders", "--file", str(messages), "--concurrency", "16", "--failures", str(failures)],
        environment(dms_emulator),
    )
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout)
    # A 500 may come after the message was stored: those lines are in doubt, not plain failures.
    assert (summary["sent"], summary["failed"], summary["in_doubt"], summary["total"]) == (288, 0, 12, 300)
    assert summary["messages_per_second"] > 0
    failed = [json.loads(line) for line in failures.read_text(encoding="utf-8").splitlines()]
    assert len(failed) == 12
    assert all(line["topic"] == "orders" for line in failed)
    assert {(f["_failure"]["status"], f["_failure"]["request_sent"]) for f in failed} == {("in_doubt", True)}
    assert {f["_failure"]["error"]["status_code"] for f in failed} == {500}

    again = run(
        ["send", "--file", str(failures), "--failures", str(tmp_path / "again.jsonl")], environment(dms_emulator)
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["sent"] == 12
    assert (tmp_path / "again.jsonl").read_text(encoding="utf-8") == ""

    stored = dms_emulator.messages("orders")
    counts = Counter(m["body"] for m in stored)
    expected = {f"line-{i}" for i in range(300) if i != 10} | {'{"structured":10}'}
    assert set(counts) == expected
    assert set(counts.values()) == {1}


def test_file_with_bad_lines(dms_emulator: Any, tmp_path: Path) -> None:
    """Lines that are not JSON objects, or break DMS rules, are failures kept verbatim (with the reason)."""
    messages = tmp_path / "messages.jsonl"
    messages.write_text('{"body": "good"}\nnot json\n[1]\n{"body": "x", "topic": "bad topic"}\n', encoding="utf-8")
    failures = tmp_path / "failed.jsonl"
    done = run(
        ["send", "--topic", "orders", "--file", str(messages), "--failures", str(failures)], environment(dms_emulator)
    )
    assert done.returncode == 1
    assert json.loads(done.stdout)["failed"] == 3
    listed = [json.loads(line) for line in failures.read_text(encoding="utf-8").splitlines()]
    assert [entry.get("_line") for entry in listed[:2]] == ["not json", "[1]"]
    assert [entry["_failure"]["line"] for entry in listed] == [2, 3, 4]
    assert "not JSON" in listed[0]["_failure"]["error"]["message"]
    assert [m["body"] for m in dms_emulator.messages()] == ["good"]


def test_file_from_stdin(dms_emulator: Any) -> None:
    """`--file -` reads the JSONL messages from stdin; all sent, exit 0."""
    lines = "\n".join(json.dumps({"body": f"stdin-{i}", "tags": "bulk"}) for i in range(20))
    done = run(["send", "--topic", "orders", "--file", "-"], environment(dms_emulator), stdin=lines)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sent"] == 20
    stored = dms_emulator.messages("orders")
    assert sorted(m["body"] for m in stored) == sorted(f"stdin-{i}" for i in range(20))
    assert {p["value"] for m in stored for p in m["property_list"] if p["name"] == "TAGS"} == {"bulk"}
