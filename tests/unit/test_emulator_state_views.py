"""What the emulator's control API shows of its state (a stored message, the fault plan, the time format) and
how topics created on demand come back after a restart: the model objects, in process (no sockets)."""

from __future__ import annotations

import datetime

import pytest
from dms_rocketmq_emulator import InstanceSettings, Settings, TopicSettings
from dms_rocketmq_emulator.models import Fault, FaultPlan, Registry, StoredMessage, Topic, format_ms

INSTANCE = "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90"


def _ms(*args: int) -> int:
    return int(datetime.datetime(*args, tzinfo=datetime.UTC).timestamp() * 1000)


def test_format_ms_is_utc_with_three_decimals() -> None:
    """Milliseconds since the epoch read as `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC, zero-padded."""
    assert format_ms(_ms(2026, 11, 26, 11, 44) + 123) == "2026-11-26T11:44:00.123Z"
    assert format_ms(_ms(2026, 1, 2, 3, 4, 5) + 7) == "2026-01-02T03:04:05.007Z"
    assert format_ms(_ms(2026, 12, 31, 23, 59, 59) + 999) == "2026-12-31T23:59:59.999Z"
    assert format_ms(0) == "1970-01-01T00:00:00.000Z"


def test_stored_message_as_the_control_api_shows_it() -> None:
    """Every field, properties in order as name/value objects, the time formatted."""
    message = StoredMessage(
        seq=7,
        instance_id=INSTANCE,
        topic="orders",
        queue_id=2,
        queue_offset=41,
        msg_id="7F0000010001000000000000000A0001",
        body='{"x":1}',
        properties=(("KEYS", "k"), ("TAGS", "t"), ("UNIQ_KEY", "7F0000010001000000000000000A0001")),
        stored_at_ms=_ms(2026, 11, 26, 11, 44) + 5,
    )
    assert message.as_json() == {
        "msg_id": "7F0000010001000000000000000A0001",
        "instance_id": INSTANCE,
        "topic": "orders",
        "queue_id": 2,
        "queue_offset": 41,
        "body": '{"x":1}',
        "properties": [
            {"name": "KEYS", "value": "k"},
            {"name": "TAGS", "value": "t"},
            {"name": "UNIQ_KEY", "value": "7F0000010001000000000000000A0001"},
        ],
        "stored_at": "2026-11-26T11:44:00.005Z",
    }


def test_fault_plan_as_the_control_api_shows_it() -> None:
    """The remaining count and every field of the fault, before and after arming and taking."""
    plan = FaultPlan()
    assert plan.as_json() == {"count": 0, "status": 503, "retry_after": None, "delay_ms": 0, "drop_connection": False}
    plan.arm(2, Fault(status=429, retry_after=3, delay_ms=10, drop_connection=True))
    plan.take()
    assert plan.as_json() == {"count": 1, "status": 429, "retry_after": 3, "delay_ms": 10, "drop_connection": True}


def test_restored_topics_come_back_without_overriding_configured_ones() -> None:
    """A topic a previous run created on demand returns with its queues; a configured topic keeps its settings;
    a topic of an instance no longer configured is ignored."""
    registry = Registry(
        Settings(data_dir=None, instances=(InstanceSettings(INSTANCE, topics=(TopicSettings("orders", 4),)),))
    )
    registry.add_restored_topic(INSTANCE, "made", 3)
    registry.add_restored_topic(INSTANCE, "orders", 8)
    registry.add_restored_topic("22c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90", "elsewhere", 2)
    topics = registry.instances[INSTANCE].topics
    assert topics["made"] == Topic("made", 3, auto_created=True)
    assert topics["orders"] == Topic("orders", 4, auto_created=False)
    assert set(registry.instances) == {INSTANCE}


def test_now_ms_is_the_epoch_clock_in_milliseconds() -> None:
    """Stored-at times are milliseconds since the epoch, as the system clock says (within a second)."""
    import time

    from dms_rocketmq_emulator.models import now_ms

    assert abs(now_ms() - time.time() * 1000) < 1000


def test_decode_msg_id_fields_and_refusals() -> None:
    """Each field is read big-endian from its bytes (the counter's two included); anything but 32 hex
    characters is refused with one message."""
    from dms_rocketmq_emulator.models import decode_msg_id

    fields = decode_msg_id("0A0102030405" + "01020304" + "05060708" + "ABCD")
    assert fields == {
        "ip": "10.1.2.3",
        "pid": 0x0405,
        "class_loader_hash": 0x01020304,
        "ms_since_month_start": 0x05060708,
        "counter": 0xABCD,
    }
    for bad in ("0" * 34, "0" * 30, "G" * 32):
        with pytest.raises(ValueError, match=r"^not a 32-character hexadecimal message id$"):
            decode_msg_id(bad)


def test_registry_names_what_it_holds() -> None:
    """Configured instances keep their id and broker name; a topic created on demand has the name asked for."""
    registry = Registry(
        Settings(
            data_dir=None,
            auto_create_topics=True,
            instances=(InstanceSettings(INSTANCE, broker_name="broker-7", topics=(TopicSettings("orders", 4),)),),
        )
    )
    instance = registry.instances[INSTANCE]
    assert (instance.instance_id, instance.broker_name) == (INSTANCE, "broker-7")
    assert registry.topic(instance, "fresh").name == "fresh"
