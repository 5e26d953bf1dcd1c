"""Where messages are kept: in memory, or durably in SQLite with group commit.

Both stores place messages the same way (`models.TopicLog`: round-robin per topic, offsets from 0 without
gaps) and make ids with `models.MessageIdFactory`.

The durable store runs one writer thread with its own SQLite connection (WAL, `synchronous=FULL`).
Sends queue their message and wait; the writer takes *everything* queued, places the messages, writes
them in one transaction, commits, and only then wakes the senders, so a 200 always means "on disk".
While one commit is being flushed the next sends pile up and go into the next transaction together
(group commit): fsync is paid per batch, not per message. If a commit fails, the batch's placements are
undone (no gaps in offsets) and its senders get an error.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import logging
import queue
import secrets
import sqlite3
import threading
from pathlib import Path
from typing import Any

from .models import MessageIdFactory, PendingMessage, StoredMessage, TopicLog, now_ms

__all__ = ["DataDirInUseError", "DurableStore", "MemoryStore", "Store", "StoreError", "make_store"]

logger = logging.getLogger("dms_rocketmq_emulator.store")

_DB_NAME = "messages.sqlite3"
_LOCK_NAME = "emulator.lock"
_UNIQ_KEY = "UNIQ_KEY"


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
    async def reset(self) -> None:
        """Forget every message, offset and round-robin position."""

    def restored_topics(self) -> list[tuple[str, str, int]]:
        """Topics a previous run created on demand: (instance_id, name, queues)."""
        return []

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
        return StoredMessage(
            seq=self._seq,
            instance_id=message.instance_id,
            topic=topic.name,
            queue_id=queue_id,
            queue_offset=offset,
            msg_id=msg_id,
            body=message.body,
            properties=(*message.properties, (_UNIQ_KEY, msg_id)),
            stored_at_ms=stored_at_ms,
        )


class MemoryStore(Store):
    """Keeps messages in a list; nothing survives the process."""

    description = "memory (nothing is kept after exit)"

    def __init__(self, *, ip: str = "127.0.0.1") -> None:
        super().__init__(ip=ip)
        self._messages: list[StoredMessage] = []

    async def start(self) -> None:
        self._ids = MessageIdFactory(secrets.randbits(32), ip=self._ip)

    async def close(self) -> None:
        return None

    async def append(self, message: PendingMessage) -> StoredMessage:
        stored = self._place(message, now_ms())
        self._messages.append(stored)
        return stored

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
        self._logs.clear()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS topics (
    instance_id TEXT NOT NULL, name TEXT NOT NULL, queues INTEGER NOT NULL,
    PRIMARY KEY (instance_id, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS topic_state (
    instance_id TEXT NOT NULL, topic TEXT NOT NULL, next_queue INTEGER NOT NULL,
    PRIMARY KEY (instance_id, topic)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS queue_state (
    instance_id TEXT NOT NULL, topic TEXT NOT NULL, queue_id INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (instance_id, topic, queue_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    instance_id TEXT NOT NULL, topic TEXT NOT NULL, queue_id INTEGER NOT NULL, queue_offset INTEGER NOT NULL,
    msg_id TEXT NOT NULL, body TEXT NOT NULL, properties TEXT NOT NULL, stored_at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS messages_by_topic ON messages (topic, seq);
"""

_INSERT_MESSAGE = (
    "INSERT INTO messages (seq, instance_id, topic, queue_id, queue_offset, msg_id, body, properties,"
    " stored_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPSERT_QUEUE = (
    "INSERT INTO queue_state (instance_id, topic, queue_id, next_offset) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (instance_id, topic, queue_id) DO UPDATE SET next_offset = excluded.next_offset"
)
_UPSERT_TOPIC = (
    "INSERT INTO topic_state (instance_id, topic, next_queue) VALUES (?, ?, ?)"
    " ON CONFLICT (instance_id, topic) DO UPDATE SET next_queue = excluded.next_queue"
)
_INSERT_TOPIC = "INSERT OR IGNORE INTO topics (instance_id, name, queues) VALUES (?, ?, ?)"

# Work items for the writer thread: (kind, payload, future).
_APPEND, _RESET, _STOP = 0, 1, 2
_Item = tuple[int, Any, "asyncio.Future[Any] | None"]


class DurableStore(Store):
    """Keeps messages in SQLite under `data_dir`; a send is answered only after its commit."""

    def __init__(self, data_dir: Path, *, ip: str = "127.0.0.1") -> None:
        super().__init__(ip=ip)
        self.data_dir = data_dir
        self.path = data_dir / _DB_NAME
        self.description = f"SQLite (WAL, synchronous=FULL, group commit) in {self.path}"
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._db: sqlite3.Connection | None = None
        self._lock_file: Any = None
        self._restored_topics: list[tuple[str, str, int]] = []
        self._persisted_topics: set[tuple[str, str]] = set()
        self._closed = False

    # -- start-up ---------------------------------------------------------------------------------------
    def open(self) -> None:
        if self._db is not None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_data_dir()
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA busy_timeout=5000")
        db.executescript(_SCHEMA)
        self._db = db
        self._restore(db)

    async def start(self) -> None:
        self.open()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run_writer, name="dms-emulator-writer", daemon=True)
        self._thread.start()

    def _lock_data_dir(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover
            return
        handle = (self.data_dir / _LOCK_NAME).open("a")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise DataDirInUseError(f"{self.data_dir} is used by another running emulator") from None
        self._lock_file = handle

    def _restore(self, db: sqlite3.Connection) -> None:
        row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        generation = (row[0] if row else 0) + 1
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('generation', ?)", (generation,))
        self._ids = MessageIdFactory(generation, ip=self._ip, on_new_month=self._next_generation)
        self._seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM messages").fetchone()[0]
        offsets: dict[tuple[str, str], dict[int, int]] = {}
        for instance_id, topic, queue_id, next_offset in db.execute(
            "SELECT instance_id, topic, queue_id, next_offset FROM queue_state"
        ):
            offsets.setdefault((instance_id, topic), {})[queue_id] = next_offset
        cursors = dict(
            ((instance_id, topic), next_queue)
            for instance_id, topic, next_queue in db.execute("SELECT instance_id, topic, next_queue FROM topic_state")
        )
        for key in offsets.keys() | cursors.keys():
            per_queue = offsets.get(key, {})
            width = max(per_queue, default=-1) + 1
            log = TopicLog(width, 0, [per_queue.get(q, 0) for q in range(width)])
            log.next_queue = cursors.get(key, 0)
            self._logs[key] = log
        self._restored_topics = [
            (instance_id, name, queues)
            for instance_id, name, queues in db.execute("SELECT instance_id, name, queues FROM topics")
        ]
        self._persisted_topics = {(i, n) for i, n, _ in self._restored_topics}

    def _next_generation(self) -> int:
        # Called by the id factory in the writer thread, inside a batch's transaction.
        assert self._db is not None
        assert self._ids is not None
        generation = self._ids.generation + 1
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('generation', ?)", (generation,))
        return generation

    def restored_topics(self) -> list[tuple[str, str, int]]:
        return list(self._restored_topics)

    # -- the event loop's side --------------------------------------------------------------------------
    def _submit(self, kind: int, payload: Any) -> asyncio.Future[Any]:
        if self._closed or self._loop is None:
            raise StoreError("the store is closed")
        future = self._loop.create_future()
        self._queue.put((kind, payload, future))
        return future

    async def append(self, message: PendingMessage) -> StoredMessage:
        result: StoredMessage = await self._submit(_APPEND, message)
        return result

    async def reset(self) -> None:
        await self._submit(_RESET, None)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._queue.put((_STOP, None, None))
            await asyncio.to_thread(self._thread.join)
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()
            self._db = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    async def messages(
        self, instance_id: str | None, topic: str | None, limit: int, offset: int
    ) -> tuple[int, list[StoredMessage]]:
        return await asyncio.to_thread(self._read_messages, instance_id, topic, limit, offset)

    def _read_messages(
        self, instance_id: str | None, topic: str | None, limit: int, offset: int
    ) -> tuple[int, list[StoredMessage]]:
        where, args = [], []
        if instance_id is not None:
            where.append("instance_id = ?")
            args.append(instance_id)
        if topic is not None:
            where.append("topic = ?")
            args.append(topic)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            total = db.execute(f"SELECT COUNT(*) FROM messages{clause}", args).fetchone()[0]  # noqa: S608
            rows = db.execute(
                "SELECT seq, instance_id, topic, queue_id, queue_offset, msg_id, body, properties,"  # noqa: S608
                f" stored_at_ms FROM messages{clause} ORDER BY seq LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        finally:
            db.close()
        return total, [
            StoredMessage(
                seq=row[0],
                instance_id=row[1],
                topic=row[2],
                queue_id=row[3],
                queue_offset=row[4],
                msg_id=row[5],
                body=row[6],
                properties=tuple((name, value) for name, value in json.loads(row[7])),
                stored_at_ms=row[8],
            )
            for row in rows
        ]

    # -- the writer thread ------------------------------------------------------------------------------
    def _run_writer(self) -> None:
        stop = False
        while not stop:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            done: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
            appends: list[tuple[asyncio.Future[Any], PendingMessage]] = []
            for kind, payload, future in batch:
                if kind == _APPEND:
                    assert future is not None
                    appends.append((future, payload))
                    continue
                # A reset or a stop is a barrier: what was queued before it is written first.
                done += self._write_batch(appends)
                appends = []
                if kind == _RESET:
                    assert future is not None
                    done.append((future, None, self._reset_now()))
                else:
                    stop = True
            done += self._write_batch(appends)
            if done:
                self._deliver_later(done)

    def _deliver_later(self, done: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(_deliver, done)
        except RuntimeError:  # the loop is gone: nobody is waiting any more
            logger.warning("event loop closed before %d results could be delivered", len(done))

    def _write_batch(
        self, appends: list[tuple[asyncio.Future[Any], PendingMessage]]
    ) -> list[tuple[asyncio.Future[Any], Any, BaseException | None]]:
        if not appends:
            return []
        db = self._db
        assert db is not None
        snapshots: dict[tuple[str, str], tuple[int, list[int]]] = {}
        seq_before = self._seq
        stored_at = now_ms()
        placed: list[StoredMessage] = []
        new_topics: list[tuple[str, str, int]] = []
        try:
            db.execute("BEGIN IMMEDIATE")
            for _, message in appends:
                key = (message.instance_id, message.topic.name)
                if key not in snapshots:
                    log = self._logs.get(key)
                    snapshots[key] = log.snapshot() if log is not None else (0, [])
                    if message.topic.auto_created and key not in self._persisted_topics:
                        new_topics.append((*key, message.topic.queues))
                placed.append(self._place(message, stored_at))
            db.executemany(
                _INSERT_MESSAGE,
                [
                    (
                        m.seq,
                        m.instance_id,
                        m.topic,
                        m.queue_id,
                        m.queue_offset,
                        m.msg_id,
                        m.body,
                        json.dumps(m.properties, ensure_ascii=False),
                        m.stored_at_ms,
                    )
                    for m in placed
                ],
            )
            touched_queues = {(m.instance_id, m.topic, m.queue_id) for m in placed}
            db.executemany(
                _UPSERT_QUEUE,
                [(i, t, q, self._logs[(i, t)].next_offsets[q]) for i, t, q in touched_queues],
            )
            db.executemany(_UPSERT_TOPIC, [(i, t, self._logs[(i, t)].next_queue) for i, t in snapshots])
            if new_topics:
                db.executemany(_INSERT_TOPIC, new_topics)
            db.execute("COMMIT")
        except Exception as exc:
            logger.exception("could not commit %d messages; their senders get an error", len(appends))
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            for key, state in snapshots.items():
                if state == (0, []):
                    self._logs.pop(key, None)
                else:
                    self._logs[key].restore(state)
            self._seq = seq_before
            error = StoreError("the message could not be written to disk")
            error.__cause__ = exc
            return [(future, None, error) for future, _ in appends]
        self._persisted_topics.update((i, n) for i, n, _ in new_topics)
        return [(future, stored, None) for (future, _), stored in zip(appends, placed, strict=True)]

    def _reset_now(self) -> BaseException | None:
        db = self._db
        assert db is not None
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM messages")
            db.execute("DELETE FROM queue_state")
            db.execute("DELETE FROM topic_state")
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            return StoreError(f"reset failed: {exc}")
        self._logs.clear()
        return None


def _deliver(done: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, error in done:
        if future.done():
            continue
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)


def make_store(data_dir: Path | None, *, ip: str = "127.0.0.1") -> Store:
    """The durable store in `data_dir`, or the memory store when it is None."""
    return MemoryStore(ip=ip) if data_dir is None else DurableStore(data_dir, ip=ip)
