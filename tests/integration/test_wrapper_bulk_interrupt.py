"""Client.send_many under Ctrl-C, in a real process against the emulator: it stops taking inputs at once, lets
the sends in flight finish, and returns every outcome (those not sent say so)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from _shared.cli import environment

pytestmark = pytest.mark.integration

SCRIPT = """
import collections, json, sys, time
import dms_rocketmq as dms
from dms_rocketmq._bulk_policy import outcome_state

messages = [dms.Message("orders", f"many-{n}") for n in range(1000)]
with dms.Client() as client:
    print("ready", flush=True)
    if sys.argv[1] == "send_many":
        outcomes = client.send_many(messages, concurrency=4)
    else:  # iter_send: outcomes as they complete, in completion order
        outcomes = [outcome for _index, outcome in client.iter_send(iter(messages), concurrency=4)]
states = [outcome_state(o) for o in outcomes]
reasons = {str(o.exception) for o in outcomes if not o.ok and isinstance(o.exception, dms.SendCancelledError)}
print(json.dumps({"outcomes": len(outcomes), "states": collections.Counter(states), "reasons": sorted(reasons)}))
"""


@pytest.mark.parametrize("api", ["send_many", "iter_send"])
def test_sync_bulk_stops_on_ctrl_c_and_accounts_for_every_input(emulator: Any, tmp_path: Path, api: str) -> None:
    """SIGINT mid send: the in-flight sends finish and nothing is lost; send_many also returns the rest, not sent."""
    script = tmp_path / "many.py"
    script.write_text(SCRIPT, encoding="utf-8")
    emulator.inject_faults(1000, status=200, delay_ms=40)  # 1,000 sends at 4 in flight: about 10 s in all
    process = subprocess.Popen(
        [sys.executable, str(script), api],
        env=environment(emulator),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 60
    while emulator.armed_faults() > 1000 - 8:  # eight sends reached the emulator: sending is under way
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the sends never started"
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    report = json.loads(stdout)
    states = report["states"]
    assert 0 < states["sent"] < 500, states  # it stopped long before the end
    assert "in_doubt" not in states, states  # the sends in flight finished
    if api == "send_many":
        assert report["outcomes"] == 1000
        assert states["sent"] + states["not_sent"] == 1000, states
        assert report["reasons"] == ["not sent: interrupted (Ctrl-C)"]
    else:  # the inputs not taken stay in the caller's iterator: only what was taken is reported
        assert report["outcomes"] == states["sent"] + states.get("not_sent", 0)
    assert len(emulator.messages("orders")) == states["sent"]


@pytest.fixture
def emulator(dms_emulator_factory: Any) -> Any:
    """A memory emulator of its own."""
    return dms_emulator_factory(memory=True)
