"""`scripts/soak.py` (run by `make soak`) still works: a short run completes with zero errors."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

SOAK = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "soak.py"


def test_a_short_soak_has_no_errors_and_stores_every_acknowledged_send(tmp_path: pathlib.Path) -> None:
    """A 2-second soak with 8 senders has no error and stores exactly the acknowledged sends."""
    figures_file = tmp_path / "soak.json"
    completed = subprocess.run(
        [sys.executable, str(SOAK), "--seconds", "2", "--senders", "8", "--json", str(figures_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    figures = json.loads(figures_file.read_text())
    assert figures["errors"] == 0
    assert figures["sends"] > 0
    assert figures["stored"] == figures["sends"]
    assert figures["rss_before_kib"] > 0
