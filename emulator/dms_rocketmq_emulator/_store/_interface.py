"""The store's interface: what the emulator asks of any place it keeps messages, and the placement both stores share.

Both stores place messages the same way (`models.TopicLog`: round-robin per topic, offsets from 0 without
gaps) and make ids with `models.MessageIdFactory`; this module holds that shared part, the subclasses only
keep what it places.
"""

from __future__ import annotations

import abc
import dataclasses
import logging
from collections.abc import Callable, Iterable

from dms_rocketmq_api.spec_rules import MESSAGE_ID_PROPERTY

from dms_rocketmq_emulator._query import STORE_PORT, MessageQuery, body_crc, record_size, shown_properties
from dms_rocketmq_emulator.models import MessageIdFactory, PendingMessage, StoredMessage, TopicLog, now_ms

__all__ = ["DataDirInUseError", "MessageObserver", "QueueOffsets", "Store", "StoreError"]

logger = logging.getLogger("dms_rocketmq_emulator.store")

#: Called with each message the store has kept (see `Store.subscribe`).
MessageObserver = Callable[[StoredMessage], object]


class StoreError(RuntimeError):
    """The store could not keep a message (a disk error, or the store is closed)."""


class DataDirInUseError(StoreError):
    """Another emulator process uses this data directory."""


@dataclasses.dataclass(frozen=True)
class QueueOffsets:
    """One queue of a topic as RocketMQ shows it: `max_offset` is the offset its next message gets, `min_offset`
    the first one still kept (the emulator deletes nothing but on reset, which starts every queue again at 0)."""

    queue_id: int
    min_offset: int
    max_offset: int

    @property
    def messages(self) -> int:
        """Messages kept in the queue."""
        return self.max_offset - self.min_offset


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
        # A tuple, so that a send checks "anyone watching?" with one truth test and observers may unsubscribe
        # while being called.
        self._observers: tuple[MessageObserver, ...] = ()

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

    def queue_offsets(self, instance_id: str, topic: str) -> list[QueueOffsets]:
        """Each queue of `topic` that has been placed to (queue ids from 0), without reading a message.

        The offsets come from the placement state both stores keep for sends (`models.TopicLog`, restored
        from disk at start); a send is counted once placed, which in the durable store is a moment before its
        commit. Empty for a topic nothing was sent to.
        """
        log = self._logs.get((instance_id, topic))
        if log is None:
            return []
        return [QueueOffsets(queue_id, 0, offset) for queue_id, offset in enumerate(log.next_offsets)]

    def subscribe(self, observer: MessageObserver) -> None:
        """Call `observer` with every message kept from now on, in store order, until `unsubscribe`.

        It is called on the event loop's thread once the message is kept (in the durable store: committed,
        as the send's answer is), before the send is answered; it must not block. An observer that raises is
        logged and the send goes on. While nobody subscribes, a send pays nothing for this.
        """
        self._observers = (*self._observers, observer)

    def unsubscribe(self, observer: MessageObserver) -> None:
        """Stop calling `observer` (subscribed twice, it is called once less); unknown observers are ignored."""
        observers = list(self._observers)
        if observer in observers:
            observers.remove(observer)
            self._observers = tuple(observers)

    @property
    def subscribers(self) -> int:
        """How many observers are subscribed."""
        return len(self._observers)

    def _notify(self, messages: Iterable[StoredMessage]) -> None:
        """Hand kept `messages` to every observer (call only when `self._observers` is not empty)."""
        for message in messages:
            for observer in self._observers:
                try:
                    observer(message)
                except Exception:
                    logger.exception("a store observer failed; the message is kept all the same")

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
