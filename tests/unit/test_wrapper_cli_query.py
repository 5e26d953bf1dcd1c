"""The reading-back side of the command line without a server: help, durations and points in time."""

from __future__ import annotations

import datetime
import subprocess
import sys

import pytest
from dms_rocketmq._exceptions import ConfigurationError
from dms_rocketmq.cli._query import point_in_time, since_start
from test_wrapper_cli import NO_RICH


@pytest.mark.parametrize("command", ["get", "query"])
def test_help_works_without_rich(command: str) -> None:
    """`get --help` and `query --help` work without the `cli` extra and document env vars and exit codes."""
    done = subprocess.run([sys.executable, "-c", NO_RICH, command, "--help"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "HUAWEICLOUD_SDK_SK" in done.stdout
    assert "exit codes" in done.stdout


@pytest.mark.parametrize(
    ("value", "seconds"), [("30s", 30), ("15m", 900), ("1h", 3600), ("2d", 172800), ("1.5h", 5400), (" 2m ", 120)]
)
def test_since_reads_durations(value: str, seconds: int) -> None:
    """--since counts back from now by the duration, in milliseconds."""
    assert since_start(value, now=1_000_000.0) == (1_000_000 - seconds) * 1000


@pytest.mark.parametrize("value", ["", "1", "h", "1w", "-1h", "1 h", "yesterday"])
def test_since_refuses_what_it_cannot_read(value: str) -> None:
    """A duration without a unit, with an unknown one or negative is a configuration error naming the flag."""
    with pytest.raises(ConfigurationError, match="--since"):
        since_start(value)


def test_points_in_time() -> None:
    """--start/--end take epoch milliseconds or ISO 8601 (with Z or an offset); anything else is an error."""
    assert point_in_time("--start", "1764586800123") == 1764586800123
    assert point_in_time("--start", "2026-12-01T10:00:00Z") == datetime.datetime(2026, 12, 1, 10, tzinfo=datetime.UTC)
    with pytest.raises(ConfigurationError, match="--end"):
        point_in_time("--end", "tomorrow")
