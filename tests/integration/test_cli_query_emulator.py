"""`dms-rocketmq get`, `query` and `send --confirm`, run as users run them, against the emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_cli_emulator import environment, run

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def clean(dms_emulator: Any) -> None:
    """Each test starts from an empty store."""
    dms_emulator.reset()


def _send(emulator: Any, body: str, *keys: str) -> dict[str, Any]:
    args = ["send", "--topic", "orders", "--body", body]
    for key in keys:
        args += ["--key", key]
    done = run(args, environment(emulator))
    assert done.returncode == 0, done.stderr
    sent: dict[str, Any] = json.loads(done.stdout)
    return sent


def test_send_confirm_reads_the_message_back(dms_emulator: Any) -> None:
    """`send --confirm` prints the result with `confirmed: true` and the store time, and exits 0."""
    done = run(["send", "--topic", "orders", "--body", "hello", "--key", "k1", "--confirm"], environment(dms_emulator))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["confirmed"] is True
    assert result["stored_at"].endswith("Z")
    assert dms_emulator.sk not in done.stdout + done.stderr


def test_confirm_with_a_file_is_a_usage_error(dms_emulator: Any) -> None:
    """`--confirm` reads back one message: with --file it is refused with exit code 2, nothing sent."""
    done = run(
        ["send", "--topic", "orders", "--file", "-", "--confirm"], environment(dms_emulator), stdin='{"body": "x"}\n'
    )
    assert done.returncode == 2
    assert "--confirm" in done.stderr
    assert dms_emulator.messages("orders") == []


def test_get_prints_the_stored_message_or_exits_1(dms_emulator: Any) -> None:
    """`get` prints the stored message as one JSON object when piped; an unknown id exits 1 and says so."""
    sent = _send(dms_emulator, "hello", "k1", "k2")
    done = run(["get", "--topic", "orders", "--msg-id", sent["msg_id"]], environment(dms_emulator))
    assert done.returncode == 0, done.stderr
    stored = json.loads(done.stdout)
    assert (stored["msg_id"], stored["body"], stored["keys"]) == (sent["msg_id"], "hello", ["k1", "k2"])
    assert stored["queue_offset"] == sent["queue_offset"]
    missing = run(["get", "--topic", "orders", "--msg-id", "0" * 32], environment(dms_emulator))
    assert missing.returncode == 1
    assert missing.stdout == ""
    assert "no message" in missing.stderr


def test_query_prints_json_lines_and_filters(dms_emulator: Any) -> None:
    """`query` prints one JSON object per matching message when piped, filtered by key, time and --limit."""
    for n in range(4):
        _send(dms_emulator, f"m{n}", "batch", f"order-{n}")
    everything = run(["query", "--topic", "orders", "--key", "batch", "--page-size", "3"], environment(dms_emulator))
    assert everything.returncode == 0, everything.stderr
    assert [json.loads(line)["body"] for line in everything.stdout.splitlines()] == ["m0", "m1", "m2", "m3"]
    one = run(["query", "--topic", "orders", "--key", "order-2", "--since", "1h"], environment(dms_emulator))
    assert [json.loads(line)["body"] for line in one.stdout.splitlines()] == ["m2"]
    limited = run(["query", "--topic", "orders", "--limit", "2"], environment(dms_emulator))
    assert len(limited.stdout.splitlines()) == 2
    later = ["--start", "2999-01-01T00:00:00Z", "--end", "32472230400000"]
    future = run(["query", "--topic", "orders", *later], environment(dms_emulator))
    assert future.returncode == 0, future.stderr
    assert future.stdout == ""


def test_query_table_output(dms_emulator: Any) -> None:
    """`--output table` prints a table with a row per message and the count in its title."""
    sent = _send(dms_emulator, "hello", "k1")
    done = run(["query", "--topic", "orders", "--output", "table"], environment(dms_emulator, COLUMNS="200"))
    assert done.returncode == 0, done.stderr
    assert "1 message(s) in orders" in done.stdout
    assert sent["msg_id"] in done.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["query", "--topic", "orders", "--since", "yesterday"],
        ["query", "--topic", "orders", "--start", "not-a-date"],
        ["query", "--topic", "orders", "--since", "1h", "--end", "1"],
        ["query", "--topic", "orders", "--start", "2999-01-01T00:00:00Z"],
        ["query", "--topic", "orders", "--key", "two keys"],
        ["get", "--topic", "bad topic", "--msg-id", "x"],
    ],
)
def test_bad_query_arguments_exit_2(dms_emulator: Any, args: list[str]) -> None:
    """A query the API would refuse is reported with what to change, exit code 2."""
    done = run(args, environment(dms_emulator))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "error" in done.stderr
