"""The emulator's state objects: placement, message ids, registry lookups, fault plans (no sockets)."""

from __future__ import annotations

import datetime
import time

import pytest
from dms_rocketmq_emulator import Settings, TopicSettings, decode_msg_id
from dms_rocketmq_emulator._config import InstanceSettings
from dms_rocketmq_emulator._exceptions import DMSError
from dms_rocketmq_emulator.models import (
    Fault,
    FaultPlan,
    MessageIdFactory,
    Registry,
    TopicLog,
    _next_month_ms,
    month_start_ms,
)


def _ms(*args: int) -> int:
    return int(datetime.datetime(*args, tzinfo=datetime.UTC).timestamp() * 1000)


def test_topic_log_round_robin_and_offsets() -> None:
    """place() cycles through the queues and gives each queue offsets 0, 1, 2... without gaps."""
    log = TopicLog(3)
    assert [log.place(3) for _ in range(7)] == [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1), (0, 2)]


def test_topic_log_grows_when_queues_are_added() -> None:
    """A topic restored with fewer queues than now configured gets the new queues from offset 0."""
    log = TopicLog(1, 0, [5])
    assert [log.place(2) for _ in range(3)] == [(0, 5), (1, 0), (0, 6)]


def test_msg_id_layout_fields() -> None:
    """An id is IPv4 + pid + generation + ms since month start + counter, 32 uppercase hex."""
    now = _ms(2026, 11, 26, 9, 30)
    factory = MessageIdFactory(0xDEADBEEF, ip="10.1.2.3", pid=0x12345, clock_ms=lambda: now)
    msg_id = factory.next_id()
    assert msg_id == msg_id.upper()
    assert len(msg_id) == 32
    assert decode_msg_id(msg_id) == {
        "ip": "10.1.2.3",
        "pid": 0x2345,
        "class_loader_hash": 0xDEADBEEF,
        "ms_since_month_start": now - _ms(2026, 11, 1),
        "counter": 1,
    }


def test_msg_ids_unique_for_many_in_one_millisecond() -> None:
    """Thousands of ids in the same millisecond differ (the counter)."""
    factory = MessageIdFactory(1, clock_ms=lambda: _ms(2026, 1, 1))
    ids = {factory.next_id() for _ in range(20000)}
    assert len(ids) == 20000


def test_new_month_takes_a_new_generation() -> None:
    """When the month changes the time field restarts, so the factory moves to a new generation."""
    clock = [_ms(2026, 1, 31, 23, 59, 59)]
    factory = MessageIdFactory(7, clock_ms=lambda: clock[0], on_new_month=lambda: 8)
    before = decode_msg_id(factory.next_id())
    clock[0] = _ms(2026, 2, 1)
    after = decode_msg_id(factory.next_id())
    assert (before["class_loader_hash"], after["class_loader_hash"]) == (7, 8)
    assert after["ms_since_month_start"] == 0


def test_unspecified_ip_becomes_loopback() -> None:
    """0.0.0.0 or a non-IPv4 host puts 127.0.0.1 in the id's IP field."""
    for ip in ("0.0.0.0", "::1", "localhost"):
        assert decode_msg_id(MessageIdFactory(1, ip=ip).next_id())["ip"] == "127.0.0.1"


def test_month_start() -> None:
    """month_start_ms is midnight UTC on the first of the month."""
    assert month_start_ms(_ms(2024, 2, 29, 12)) == _ms(2024, 2, 1)


def test_decode_rejects_other_strings() -> None:
    """decode_msg_id refuses anything but 32 hex characters."""
    with pytest.raises(ValueError, match="32-character"):
        decode_msg_id("XYZ")


def _registry(**kwargs: object) -> Registry:
    settings = Settings(
        data_dir=None,
        instances=(InstanceSettings("11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90", topics=(TopicSettings("orders", 4),)),),
        **kwargs,  # type: ignore[arg-type]
    )
    return Registry(settings)


@pytest.mark.parametrize(
    ("project", "instance", "code"),
    [
        ("0a1b2c3d4e5f60718293a4b5c6d7e8f9", "not-a-uuid", "DMS.00400030"),
        ("0a1b2c3d4e5f60718293a4b5c6d7e8f9", "00000000-0000-4000-8000-000000000000", "DMS.00404022"),
        ("ffffffffffffffffffffffffffffffff", "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90", "DMS.00404022"),
        ("short", "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90", "DMS.00400002"),
    ],
)
def test_registry_instance_errors(project: str, instance: str, code: str) -> None:
    """Wrong project or instance ids raise the service's own errors."""
    with pytest.raises(DMSError) as caught:
        _registry().instance(project, instance)
    assert caught.value.error_code == code


def test_registry_topic_lookup_and_auto_create() -> None:
    """Unknown topics raise DMS.00400876 unless auto-creation is on, which makes an 8-queue topic."""
    registry = _registry()
    instance = registry.instance("0a1b2c3d4e5f60718293a4b5c6d7e8f9", "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90")
    assert registry.topic(instance, "orders").queues == 4
    with pytest.raises(DMSError, match=r"DMS\.00400876"):
        registry.topic(instance, "missing")
    auto = _registry(auto_create_topics=True)
    instance = auto.instance("0a1b2c3d4e5f60718293a4b5c6d7e8f9", "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90")
    created = auto.topic(instance, "fresh")
    assert (created.queues, created.auto_created) == (8, True)
    assert auto.topic(instance, "fresh") is created


def test_fault_plan_counts_down() -> None:
    """A plan armed with count N hands out its fault N times, then nothing; count 0 disarms."""
    plan = FaultPlan()
    assert plan.take() is None
    plan.arm(2, Fault(status=429, retry_after=3))
    assert [plan.take() for _ in range(3)] == [Fault(429, 3), Fault(429, 3), None]
    plan.arm(5, Fault())
    plan.arm(0, Fault())
    assert plan.take() is None


def test_public_names_are_pinned() -> None:
    """The package's public surface is exactly these names, and each of them resolves."""
    import dms_rocketmq_emulator

    assert sorted(dms_rocketmq_emulator.__all__) == [
        "Credential",
        "EmulatorApp",
        "EmulatorProcess",
        "InstanceSettings",
        "Settings",
        "TopicSettings",
        "__version__",
        "create_app",
        "decode_msg_id",
        "start_emulator",
    ]
    for name in dms_rocketmq_emulator.__all__:
        assert getattr(dms_rocketmq_emulator, name) is not None
    with pytest.raises(AttributeError):
        _ = dms_rocketmq_emulator.no_such_name  # type: ignore[attr-defined]


def test_the_next_month_is_counted_in_utc_whatever_the_local_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the local time zone is behind UTC (here UTC-8), the month after a UTC month start is still the
    first of the next UTC month, as the ids' millisecond field needs."""
    monkeypatch.setenv("TZ", "XYZ+8")
    time.tzset()
    try:
        assert _next_month_ms(_ms(2024, 2, 1)) == _ms(2024, 3, 1)
        assert _next_month_ms(_ms(2024, 12, 1)) == _ms(2025, 1, 1)
        assert month_start_ms(_ms(2024, 3, 1, 3)) == _ms(2024, 3, 1)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_ids_made_in_the_first_millisecond_of_a_month_keep_one_generation() -> None:
    """A clock that reads the very first millisecond of the current month is inside it: the ids made then
    keep the generation, with elapsed time 0 and counters that go on, and no new month is started."""
    start = _ms(2024, 3, 1)
    months: list[int] = []

    def new_month() -> int:
        months.append(8)
        return 8

    factory = MessageIdFactory(7, clock_ms=lambda: start, on_new_month=new_month)
    ids = [decode_msg_id(factory.next_id()) for _ in range(3)]
    assert months == []
    assert [(d["class_loader_hash"], d["ms_since_month_start"], d["counter"]) for d in ids] == [
        (7, 0, 1),
        (7, 0, 2),
        (7, 0, 3),
    ]
