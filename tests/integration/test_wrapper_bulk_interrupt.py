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
from dms_rocketmq._bulk import outcome_state

messages = [dms.Message("orders", f"many-{n}") for n in range(1000)]
with dms.Client() as client:
    print("ready", flush=True)
    outcomes = client.send_many(messages, concurrency=4)
states = [outcome_state(o) for o in outcomes]
reasons = {str(o.exception) for o in outcomes if not o.ok and isinstance(o.exception, dms.SendCancelledError)}
print(json.dumps({"outcomes": len(outcomes), "states": collections.Counter(states), "reasons": sorted(reasons)}))
"""


def test_sync_send_many_stops_on_ctrl_c_and_returns_every_outcome(emulator: Any, tmp_path: Path) -> None:
    """SIGINT mid send_many: the in-flight sends finish, the rest come back not sent, and nothing is lost."""
    script = tmp_path / "many.py"
    script.write_text(SCRIPT, encoding="utf-8")
    emulator.inject_faults(1000, status=200, delay_ms=40)  # 1,000 sends at 4 in flight: about 10 s in all
    process = subprocess.Popen(
        [sys.executable, str(script)],
        env=environment(emulator),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    report = json.loads(stdout)
    states = report["states"]
    assert report["outcomes"] == 1000
    assert 0 < states["sent"] < 500, states  # it stopped long before the end
    assert states["sent"] + states["not_sent"] == 1000, states  # the sends in flight finished: none in doubt
    assert report["reasons"] == ["not sent: interrupted (Ctrl-C)"]
    assert len(emulator.messages("orders")) == states["sent"]


@pytest.fixture
def emulator(dms_emulator_factory: Any) -> Any:
    """A memory emulator of its own."""
    return dms_emulator_factory(memory=True)
