"""The emulator's state: instances, topics, queues, placement and message ids.

Plain Python objects whose methods raise the service's own errors (`_exceptions.py`), in the moto style.
Nothing here knows about HTTP or SQLite.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import os
import re
import string
import threading
import time
from collections.abc import Callable, Iterable

from dms_rocketmq_api.spec_rules import INSTANCE_ID_PATTERN, PROJECT_ID_PATTERN

from . import _exceptions as errors
from ._config import DEFAULT_QUEUES, InstanceSettings, Settings

__all__ = [
    "Fault",
    "FaultPlan",
    "Instance",
    "MessageIdFactory",
    "PendingMessage",
    "Property",
    "Registry",
    "StoredMessage",
    "Topic",
    "TopicLog",
    "decode_msg_id",
    "month_start_ms",
]

_PROJECT_ID = re.compile(PROJECT_ID_PATTERN)
_INSTANCE_ID = re.compile(INSTANCE_ID_PATTERN)

#: A message property: (name, value).
Property = tuple[str, str]


@dataclasses.dataclass(slots=True)
class Topic:
    """A topic of one instance and its number of queues."""

    name: str
    queues: int
    #: Created by a send with `--auto-create-topics` rather than configured.
    auto_created: bool = False


@dataclasses.dataclass(slots=True)
class Instance:
    """A DMS for RocketMQ instance: its broker and its topics."""

    instance_id: str
    broker_name: str
    topics: dict[str, Topic]


@dataclasses.dataclass(frozen=True, slots=True)
class PendingMessage:
    """A validated message on its way to the store, not yet placed in a queue."""

    instance_id: str
    topic: Topic
    body: str
    #: KEYS and TAGS as sent, in order (UNIQ_KEY is added when the message is placed).
    properties: tuple[Property, ...]
    #: When the request arrived (milliseconds since the epoch; 0: when it is stored), and from where (`ip:port`).
    born_at_ms: int = 0
    born_host: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message as the broker stored it."""

    seq: int
    instance_id: str
    topic: str
    queue_id: int
    queue_offset: int
    msg_id: str
    body: str
    properties: tuple[Property, ...]
    #: Milliseconds since the epoch, UTC.
    stored_at_ms: int
    #: When the producer made it (milliseconds since the epoch) and the producer's and broker's `ip:port`.
    born_at_ms: int = 0
    born_host: str = ""
    store_host: str = ""
    #: RocketMQ's CRC of the body (`UtilAll.crc32`) and the size of its commit-log record (see `_query.py`).
    body_crc: int = 0
    store_size: int = 0

    def as_json(self) -> dict[str, object]:
        """The control API's view of the message."""
        return {
            "msg_id": self.msg_id,
            "instance_id": self.instance_id,
            "topic": self.topic,
            "queue_id": self.queue_id,
            "queue_offset": self.queue_offset,
            "body": self.body,
            "properties": [{"name": name, "value": value} for name, value in self.properties],
            "stored_at": format_ms(self.stored_at_ms),
        }


def format_ms(ms: int) -> str:
    """`2026-11-26T11:44:00.123Z` for milliseconds since the epoch."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


class TopicLog:
    """Where the next messages of one topic go: round-robin over its queues, offsets from 0 without gaps."""

    __slots__ = ("next_offsets", "next_queue")

    def __init__(self, queues: int, next_queue: int = 0, next_offsets: Iterable[int] = ()) -> None:
        offsets = list(next_offsets)
        self.next_offsets = offsets + [0] * max(0, queues - len(offsets))
        self.next_queue = next_queue % queues if queues else 0

    def place(self, queues: int) -> tuple[int, int]:
        """Take the next (queue_id, queue_offset) for a topic that now has `queues` queues."""
        if len(self.next_offsets) < queues:
            self.next_offsets.extend([0] * (queues - len(self.next_offsets)))
        queue_id = self.next_queue % queues
        self.next_queue = (queue_id + 1) % queues
        offset = self.next_offsets[queue_id]
        self.next_offsets[queue_id] = offset + 1
        return queue_id, offset


def month_start_ms(now_ms: int) -> int:
    """Milliseconds since the epoch at the start of the UTC month that holds `now_ms`."""
    moment = datetime.datetime.fromtimestamp(now_ms / 1000, tz=datetime.UTC)
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return int(start.timestamp() * 1000)


class MessageIdFactory:
    """Message ids in RocketMQ's unique-key (UNIQ_KEY) layout, as MessageClientIDSetter makes them.

    16 bytes, big-endian, as 32 uppercase hex characters: IPv4 address (4), process id (2), "class-loader
    hash" (4), milliseconds since the start of the month (4), counter (2). The emulator puts its store
    *generation* in the class-loader field: the durable store raises it on every start (and when a new
    month starts), so ids stay unique across restarts, where the pid and the clock alone might repeat.
    """

    def __init__(
        self,
        generation: int,
        *,
        ip: str = "127.0.0.1",
        pid: int | None = None,
        clock_ms: Callable[[], int] | None = None,
        on_new_month: Callable[[], int] | None = None,
    ) -> None:
        try:
            address = ipaddress.IPv4Address(ip)
        except ValueError:
            address = ipaddress.IPv4Address("127.0.0.1")
        if address.is_unspecified:
            address = ipaddress.IPv4Address("127.0.0.1")
        self._prefix = f"{int(address):08X}{(os.getpid() if pid is None else pid) & 0xFFFF:04X}"
        self._generation = generation & 0xFFFFFFFF
        self._clock = clock_ms or _now_ms
        self._on_new_month = on_new_month
        self._counter = 0
        self._month_start = month_start_ms(self._clock())
        self._next_month = _next_month_ms(self._month_start)
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        """The value in the class-loader field."""
        return self._generation

    def next_id(self) -> str:
        """A new id, never returned before by this factory."""
        with self._lock:
            now = self._clock()
            if now >= self._next_month or now < self._month_start:
                self._month_start = month_start_ms(now)
                self._next_month = _next_month_ms(self._month_start)
                if self._on_new_month is not None:
                    # A new month restarts the time field: a new generation keeps old ids unrepeated.
                    self._generation = self._on_new_month() & 0xFFFFFFFF
            self._counter = (self._counter + 1) & 0xFFFF
            elapsed = (now - self._month_start) & 0xFFFFFFFF
            return f"{self._prefix}{self._generation:08X}{elapsed:08X}{self._counter:04X}"


def _next_month_ms(month_start: int) -> int:
    moment = datetime.datetime.fromtimestamp(month_start / 1000, tz=datetime.UTC)
    following = (moment.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return int(following.timestamp() * 1000)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def now_ms() -> int:
    """Milliseconds since the epoch, UTC."""
    return _now_ms()


def decode_msg_id(msg_id: str) -> dict[str, object]:
    """Split a 32-character UNIQ_KEY into its fields (for tests and for curious users)."""
    if len(msg_id) != 32 or not all(c in string.hexdigits for c in msg_id):
        raise ValueError("not a 32-character hexadecimal message id")
    raw = bytes.fromhex(msg_id)
    return {
        "ip": str(ipaddress.IPv4Address(raw[0:4])),
        "pid": int.from_bytes(raw[4:6], "big"),
        "class_loader_hash": int.from_bytes(raw[6:10], "big"),
        "ms_since_month_start": int.from_bytes(raw[10:14], "big"),
        "counter": int.from_bytes(raw[14:16], "big"),
    }


class Registry:
    """The configured project, its instances and their topics; answers "where does this send go?"."""

    def __init__(self, settings: Settings) -> None:
        self.project_id = settings.project_id
        self.auto_create_topics = settings.auto_create_topics
        self.instances: dict[str, Instance] = {}
        for instance in settings.instances:
            self.instances[instance.instance_id] = _instance(settings, instance)

    def instance(self, project_id: str, instance_id: str) -> Instance:
        """The instance a send addresses, or the service's error for a wrong project or instance id."""
        if project_id != self.project_id:
            if not _PROJECT_ID.fullmatch(project_id):
                raise errors.project_id_format()
            raise errors.instance_not_found()
        found = self.instances.get(instance_id)
        if found is not None:
            return found
        if not _INSTANCE_ID.fullmatch(instance_id):
            raise errors.instance_id_format()
        raise errors.instance_not_found()

    def topic(self, instance: Instance, name: str) -> Topic:
        """The topic a send goes to; DMS.00400876 unless it exists (or topics are created on demand)."""
        found = instance.topics.get(name)
        if found is not None:
            return found
        if not self.auto_create_topics:
            raise errors.topic_not_found()
        created = Topic(name, DEFAULT_QUEUES, auto_created=True)
        instance.topics[name] = created
        return created

    def add_restored_topic(self, instance_id: str, name: str, queues: int) -> None:
        """Bring back a topic a previous run created on demand (configured topics keep their settings)."""
        instance = self.instances.get(instance_id)
        if instance is not None and name not in instance.topics:
            instance.topics[name] = Topic(name, queues, auto_created=True)


def _instance(settings: Settings, instance: InstanceSettings) -> Instance:
    topics = {topic.name: Topic(topic.name, topic.queues) for topic in settings.topics_of(instance)}
    return Instance(instance.instance_id, instance.broker_name, topics)


@dataclasses.dataclass(frozen=True, slots=True)
class Fault:
    """How one send fails: after `delay_ms`, drop the connection, answer `status`, or (200) go on."""

    status: int = 503
    retry_after: int | None = None
    delay_ms: int = 0
    drop_connection: bool = False


class FaultPlan:
    """The failures asked for through `POST /_emulator/faults`: the next `remaining` sends get `fault`."""

    def __init__(self) -> None:
        self.remaining = 0
        self.fault = Fault()

    def arm(self, count: int, fault: Fault) -> None:
        """Make the next `count` sends fail with `fault` (0 clears the plan)."""
        self.remaining = count
        self.fault = fault

    def take(self) -> Fault | None:
        """The fault for this send, or None; each call uses one up."""
        if self.remaining <= 0:
            return None
        self.remaining -= 1
        return self.fault

    def as_json(self) -> dict[str, object]:
        """The control API's view of the plan."""
        return {"count": self.remaining, **dataclasses.asdict(self.fault)}
