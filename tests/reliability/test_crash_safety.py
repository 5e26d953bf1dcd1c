"""Crash safety of the durable emulator: `scripts/crash_test.py` in its short form, and its checker's teeth."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import subprocess
import sys
import types
import urllib.request

import pytest
from emulators import EmulatorFactory, EmulatorProcess

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "crash_test.py"


def _load_script() -> types.ModuleType:
    """scripts/crash_test.py as a module: its checker is tested here (it is a script, not part of a package)."""
    spec = importlib.util.spec_from_file_location("crash_test", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["crash_test"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


crash_test = _load_script()


@pytest.mark.timeout(300)  # above the script's own timeout below, which then fires first and says what hung
def test_sigkill_mid_load_loses_no_acknowledged_message(tmp_path: pathlib.Path) -> None:
    """Three SIGKILLs mid-load: every acked message survives once where acked; in-doubt ones at most once."""
    figures_file = tmp_path / "crash.json"
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--cycles", "3", "--seconds", "2", "--json", str(figures_file)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    figures = json.loads(figures_file.read_text())
    print(f"\n{completed.stdout.strip()}")
    assert figures["failures"] == []
    assert figures["cycles"] == 3
    assert all(acked > 0 for acked in figures["acked_per_cycle"]), figures
    # The kills did land mid-load: sends were in flight (48 senders never pause between sends).
    assert sum(figures["in_doubt_per_cycle"]) > 0, figures
    # Everything stored is accounted for: the acknowledged ones plus the in-doubt ones that made it.
    assert figures["stored"] == figures["acked"] + figures["in_doubt_stored"], figures
    assert figures["in_doubt_stored"] <= figures["in_doubt"]


def send(emulator: EmulatorProcess, body: str) -> crash_test.Ack:
    request = urllib.request.Request(
        emulator.messages_url,
        data=json.dumps(
            {
                "topic": crash_test.TOPIC,
                "body": body,
                "property_list": [{"name": k, "value": v} for k, v in crash_test.properties_of(body).items()],
            }
        ).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        answer = json.load(reply)
    return crash_test.Ack(answer["msg_id"], answer["queue_id"], answer["queue_offset"])


def test_the_checker_reports_lost_moved_phantom_and_refused_messages(start_emulator: EmulatorFactory) -> None:
    """check_store flags lost, moved, phantom and refused-but-stored messages, and passes a consistent ledger."""
    emulator = start_emulator("--topic", f"{crash_test.TOPIC}:2", auth=False)
    acks = {body: send(emulator, body) for body in ("one", "two", "three", "four")}

    consistent = crash_test.Ledger(acked=dict(acks))
    figures = crash_test.Figures()
    counts = crash_test.check_store(emulator, consistent, figures)
    assert figures.failures == []
    assert sum(counts.values()) == 4

    broken = crash_test.Ledger(
        acked={
            "one": acks["one"],
            "two": crash_test.Ack(acks["two"].msg_id, acks["two"].queue_id, acks["two"].queue_offset + 7),
            "ghost": crash_test.Ack("00", 0, 0),
        },
        rejected={"three": "BadRequestError(...)"},
    )
    figures = crash_test.Figures()
    crash_test.check_store(emulator, broken, figures)
    failures = "\n".join(figures.failures)
    assert "'ghost' was acknowledged" in failures
    assert "'two' was acknowledged as" in failures
    assert "'three' is stored although its send failed" in failures
    assert "'four' is stored but was never sent" in failures


def test_the_checker_reports_lost_properties(start_emulator: EmulatorFactory) -> None:
    """A message stored without the KEYS/TAGS it was sent with fails the check."""
    emulator = start_emulator("--topic", f"{crash_test.TOPIC}:2", auth=False)
    request = urllib.request.Request(
        emulator.messages_url,
        data=json.dumps({"topic": crash_test.TOPIC, "body": "bare"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        answer = json.load(reply)
    ledger = crash_test.Ledger(
        acked={"bare": crash_test.Ack(answer["msg_id"], answer["queue_id"], answer["queue_offset"])}
    )
    figures = crash_test.Figures()
    crash_test.check_store(emulator, ledger, figures)
    assert any("'bare' is stored with properties" in failure for failure in figures.failures), figures.failures


def test_a_corrupt_store_is_refused_clearly_and_left_untouched(tmp_path: pathlib.Path) -> None:
    """A garbage SQLite file stops the emulator with a one-line error (exit 1) and is not overwritten."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    store = data_dir / "messages.sqlite3"
    garbage = bytes(range(256)) * 64
    store.write_bytes(garbage)
    emulator = pathlib.Path(sys.executable).parent / "dms-rocketmq-emulator"
    completed = subprocess.run(
        [str(emulator), "--port", "0", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "cannot open the store" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert store.read_bytes() == garbage
