"""Times on the wire are UTC whatever the machine's time zone: X-Sdk-Date (wrapper) and the control API's
stored-at (emulator), checked with the process in UTC+8, where Huawei Cloud's users often are (no sockets)."""

from __future__ import annotations

import datetime
import math
import re
import time
from collections.abc import Iterator

import pytest
from _shared.sources import ROOT, python_files
from dms_rocketmq._auth import DATE_FORMAT, _DateClock, format_date
from dms_rocketmq_emulator.models import format_ms
from hypothesis import given
from hypothesis import strategies as st


@pytest.fixture
def shanghai(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if not hasattr(time, "tzset"):
        pytest.skip("the process time zone can be changed on POSIX only")
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        yield
    finally:
        monkeypatch.undo()
        time.tzset()


def test_sdk_date_is_utc_in_another_time_zone(shanghai: None) -> None:
    """format_date() of now, and of an aware moment, are UTC even when local time is 8 hours ahead."""
    assert time.localtime().tm_gmtoff == 8 * 3600
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    now = datetime.datetime.strptime(format_date(), "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    assert before <= now <= before + datetime.timedelta(seconds=2)
    local = datetime.datetime(2026, 11, 26, 17, 30, 5).astimezone()  # 17:30:05 in Shanghai
    assert format_date(local) == "20261126T093005Z"


def test_stored_at_is_utc_in_another_time_zone(shanghai: None) -> None:
    """The emulator shows stored-at times in UTC (with a Z), not in the machine's local time."""
    ms = int(datetime.datetime(2026, 11, 26, 9, 30, tzinfo=datetime.UTC).timestamp() * 1000) + 1
    assert format_ms(ms) == "2026-11-26T09:30:00.001Z"


def test_month_boundaries_are_utc_in_another_time_zone(shanghai: None) -> None:
    """Message ids count milliseconds from the start of the UTC month, not the local one."""
    from dms_rocketmq_emulator.models import _next_month_ms, month_start_ms

    start = int(datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC).timestamp() * 1000)
    assert month_start_ms(start + 3 * 3600 * 1000 + 123) == start  # 03:00:00.123 UTC, 11:00 in Shanghai
    assert month_start_ms(start - 1) == int(datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC).timestamp() * 1000)
    assert _next_month_ms(start) == int(datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC).timestamp() * 1000)


def test_a_naive_datetime_means_utc_in_queries_as_in_signing(shanghai: None) -> None:
    """One rule for a naive datetime: UTC, in a query's range as in X-Sdk-Date, whatever the local zone."""
    from dms_rocketmq._query import query_arguments

    naive = datetime.datetime(2026, 12, 1, 10, 0, 0)
    aware = naive.replace(tzinfo=datetime.UTC)
    arguments = query_arguments("orders", start=naive, end=naive, limit=1)
    expected = str(int(aware.timestamp() * 1000))
    assert (arguments["start_time"], arguments["end_time"]) == (expected, expected)
    assert format_date(naive) == format_date(aware) == "20261201T100000Z"


@given(instant=st.floats(min_value=0, max_value=2**32, allow_nan=False, allow_infinity=False))
def test_every_x_sdk_date_reads_the_one_clock(instant: float) -> None:
    """`format_date()` and the signers' per-second clock say the same second as `datetime` for any instant: both
    read `time.time()`, never the C library's coarser `time()` (`time.gmtime()` without an argument), which can
    still say the previous second a few milliseconds after `datetime.now` has moved on."""
    expected = datetime.datetime.fromtimestamp(math.floor(instant), datetime.UTC).strftime(DATE_FORMAT)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "time", lambda: instant)
        assert format_date() == expected
        assert _DateClock().now() == expected


def test_no_code_reads_the_coarse_clock() -> None:
    """`time.gmtime()`, `time.localtime()` and `time.ctime()` without an argument read the C library's `time()`:
    a second that can lag the one every other clock of the project reads. Give them `time.time()`."""
    coarse = re.compile(r"\btime\.(gmtime|localtime|ctime)\(\)")
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in python_files("wrapper", "emulator", "bench", "scripts")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if coarse.search(line)
    ]
    assert found == []
