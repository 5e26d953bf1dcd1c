"""The memory store: messages in lists with the query indexes beside them; nothing survives the process."""

from __future__ import annotations

import bisect
import secrets
from collections.abc import Iterable

from dms_rocketmq_emulator._query import MessageQuery, message_keys
from dms_rocketmq_emulator.models import MessageIdFactory, PendingMessage, StoredMessage

from ._interface import Store

__all__ = ["MemoryStore"]


def _stored_at(message: StoredMessage) -> int:
    return message.stored_at_ms


class MemoryStore(Store):
    """Keeps messages in a list; nothing survives the process."""

    description = "memory (nothing is kept after exit)"

    def __init__(self, *, ip: str = "127.0.0.1") -> None:
        super().__init__(ip=ip)
        self._messages: list[StoredMessage] = []
        # The query indexes; each list is in store order, hence in store-time order.
        self._by_msg_id: dict[str, StoredMessage] = {}
        self._by_topic: dict[tuple[str, str], list[StoredMessage]] = {}
        self._by_key: dict[tuple[str, str, str], list[StoredMessage]] = {}
        self._by_queue: dict[tuple[str, str, int], list[StoredMessage]] = {}

    async def start(self) -> None:
        self._ids = MessageIdFactory(secrets.randbits(32), ip=self._ip, on_new_month=self._next_generation)

    def _next_generation(self) -> int:
        assert self._ids is not None
        return self._ids.generation + 1

    async def close(self) -> None:
        return None

    async def append(self, message: PendingMessage) -> StoredMessage:
        stored = self._place(message, self._now())
        self._keep(stored)
        if self._observers:
            self._notify((stored,))
        return stored

    async def load(self, messages: Iterable[PendingMessage]) -> int:
        kept: list[StoredMessage] = []
        for message in messages:
            stored = self._place(message, self._now())
            self._keep(stored)
            kept.append(stored)
        if self._observers:
            self._notify(kept)
        return len(kept)

    def _keep(self, stored: StoredMessage) -> None:
        self._messages.append(stored)
        self._by_msg_id[stored.msg_id] = stored
        topic = (stored.instance_id, stored.topic)
        found = self._by_topic.get(topic)
        if found is None:
            self._by_topic[topic] = [stored]
        else:
            found.append(stored)
        self._by_queue.setdefault((*topic, stored.queue_id), []).append(stored)
        for key in message_keys(stored.properties):
            self._by_key.setdefault((*topic, key), []).append(stored)

    async def query(self, query: MessageQuery) -> tuple[int, list[StoredMessage]]:
        if query.msg_id is not None:
            found = self._by_msg_id.get(query.msg_id)
            matches = [found] if found is not None and query.matches(found) else []
            return len(matches), matches[query.offset : query.offset + query.limit]
        if query.key is not None:
            candidates = self._by_key.get((query.instance_id, query.topic, query.key), [])
        elif query.queue_id is not None:
            candidates = self._by_queue.get((query.instance_id, query.topic, query.queue_id), [])
        else:
            candidates = self._by_topic.get((query.instance_id, query.topic), [])
        low, high = 0, len(candidates)
        if query.start_ms is not None:
            low = bisect.bisect_left(candidates, query.start_ms, key=_stored_at)
        if query.end_ms is not None:
            high = bisect.bisect_right(candidates, query.end_ms, key=_stored_at)
        if query.key is not None and query.queue_id is not None:
            matches = [m for m in candidates[low:high] if m.queue_id == query.queue_id]
            return len(matches), matches[query.offset : query.offset + query.limit]
        start = low + query.offset
        return max(0, high - low), candidates[start : min(high, start + query.limit)] if start < high else []

    async def messages(
        self, instance_id: str | None, topic: str | None, limit: int, offset: int
    ) -> tuple[int, list[StoredMessage]]:
        matching = [
            m
            for m in self._messages
            if (instance_id is None or m.instance_id == instance_id) and (topic is None or m.topic == topic)
        ]
        return len(matching), matching[offset : offset + limit]

    async def reset(self) -> None:
        self._messages.clear()
        self._by_msg_id.clear()
        self._by_topic.clear()
        self._by_key.clear()
        self._by_queue.clear()
        self._logs.clear()
