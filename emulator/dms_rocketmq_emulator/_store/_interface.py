"""The store's interface: what the emulator asks of any place it keeps messages, and the placement both stores share.

Both stores place messages the same way (`models.TopicLog`: round-robin per topic, offsets from 0 without
gaps) and make ids with `models.MessageIdFactory`; this module holds that shared part, the subclasses only
keep what it places.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable

from dms_rocketmq_api.spec_rules import MESSAGE_ID_PROPERTY

from dms_rocketmq_emulator._query import STORE_PORT, MessageQuery, body_crc, record_size, shown_properties
from dms_rocketmq_emulator.models import MessageIdFactory, PendingMessage, StoredMessage, TopicLog, now_ms

__all__ = ["DataDirInUseError", "Store", "StoreError"]


class StoreError(RuntimeError):
    """The store could not keep a message (a disk error, or the store is closed)."""


class DataDirInUseError(StoreError):
    """Another emulator process uses this data directory."""


class Store(abc.ABC):
    """Places and keeps messages."""

    #: Shown in the start-up banner.
    description = ""

    def __init__(self, *, ip: str = "127.0.0.1") -> None:
        self._ip = ip
        self._logs: dict[tuple[str, str], TopicLog] = {}
        self._seq = 0
        self._ids: MessageIdFactory | None = None
        self._store_host = f"{ip}:{STORE_PORT}"
        # The latest store time handed out: store times never go backwards, even if the wall clock does.
        self._last_ms = 0
        #: Why the store can keep nothing any more (its writer failed), or None while it works.
        self.broken: str | None = None

    def open(self) -> None:  # noqa: B027 - most stores have nothing to open
        """Open the store and restore its state before serving (errors show here, not mid-start-up)."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Start serving (opening first if `open` was not called); call once, in the running event loop."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish what is queued, then close."""

    @abc.abstractmethod
    async def append(self, message: PendingMessage) -> StoredMessage:
        """Place and keep `message`; return once it is kept."""

    @abc.abstractmethod
    async def messages(
        self, instance_id: str | None, topic: str | None, limit: int, offset: int
    ) -> tuple[int, list[StoredMessage]]:
        """(total matching, one page of them) in store order."""

    @abc.abstractmethod
    async def query(self, query: MessageQuery) -> tuple[int, list[StoredMessage]]:
        """(number of matches, the page `query.limit`/`query.offset` asks for), in store order."""

    @abc.abstractmethod
    async def load(self, messages: Iterable[PendingMessage]) -> int:
        """Place and keep many messages at once, as sends would (to fill a store fast); returns how many."""

    @abc.abstractmethod
    async def reset(self) -> None:
        """Forget every message, offset and round-robin position."""

    def restored_topics(self) -> list[tuple[str, str, int]]:
        """Topics a previous run created on demand: (instance_id, name, queues)."""
        return []

    def _now(self) -> int:
        self._last_ms = max(now_ms(), self._last_ms)
        return self._last_ms

    def _place(self, message: PendingMessage, stored_at_ms: int) -> StoredMessage:
        topic = message.topic
        key = (message.instance_id, topic.name)
        log = self._logs.get(key)
        if log is None:
            log = self._logs[key] = TopicLog(topic.queues)
        queue_id, offset = log.place(topic.queues)
        assert self._ids is not None
        msg_id = self._ids.next_id()
        self._seq += 1
        properties = (*message.properties, (MESSAGE_ID_PROPERTY, msg_id))
        body = message.body.encode("utf-8")
        return StoredMessage(
            seq=self._seq,
            instance_id=message.instance_id,
            topic=topic.name,
            queue_id=queue_id,
            queue_offset=offset,
            msg_id=msg_id,
            body=message.body,
            properties=properties,
            stored_at_ms=stored_at_ms,
            born_at_ms=min(message.born_at_ms, stored_at_ms) if message.born_at_ms else stored_at_ms,
            born_host=message.born_host or self._store_host,
            store_host=self._store_host,
            body_crc=body_crc(body),
            store_size=record_size(body, topic.name, shown_properties(properties, msg_id)),
        )
