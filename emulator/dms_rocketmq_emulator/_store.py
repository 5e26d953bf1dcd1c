"""Where messages are kept: in memory, or durably in SQLite with group commit.

Both stores place messages the same way (`models.TopicLog`: round-robin per topic, offsets from 0 without
gaps) and make ids with `models.MessageIdFactory`.

The durable store runs one writer thread with its own SQLite connection (WAL, `synchronous=FULL`).
A send is placed (queue, offset, id) on the event loop, queued for the writer, and awaited. The writer
takes *everything* queued and writes it with one multi-row INSERT, which SQLite runs as one transaction
with one fsync; only then are the senders woken, so a 200 always means "on disk". While one batch is
being flushed the next sends pile up and go into the next statement together (group commit): fsync is
paid per batch, not per message.

The writer does nothing but SQLite calls, which release the GIL: every time a thread wants the GIL back
it may have to wait for the event loop to yield it, so the fewer Python steps the writer takes per batch,
the less a send waits (one statement per batch instead of one per row, no Python placement work).

If a write fails (a full or broken disk), its senders get an error and so does every send placed after
it, until the event loop has reloaded the placement state from the database: offsets never get a gap.
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
        self._ids = MessageIdFactory(secrets.randbits(32), ip=self._ip, on_new_month=self._next_generation)

    def _next_generation(self) -> int:
        assert self._ids is not None
        return self._ids.generation + 1

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
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    instance_id TEXT NOT NULL, topic TEXT NOT NULL, queue_id INTEGER NOT NULL, queue_offset INTEGER NOT NULL,
    msg_id TEXT NOT NULL, body TEXT NOT NULL, properties TEXT NOT NULL, stored_at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS messages_by_topic ON messages (topic, seq);
"""

_INSERT_MESSAGES = (
    "INSERT INTO messages (seq, instance_id, topic, queue_id, queue_offset, msg_id, body, properties,"
    " stored_at_ms) VALUES "
)
_ROW = "(?,?,?,?,?,?,?,?,?)"
# SQLite allows 32,766 parameters in a statement (since 3.32; 999 before): the rows one INSERT can carry.
_ROWS_PER_STATEMENT = (32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999) // 9
# Large bodies: cap a statement's bodies at 32 MiB so one batch never holds gigabytes in one statement.
_BYTES_PER_STATEMENT = 32 * 1024 * 1024
_BODY = 6  # index of the body in a row


def _chunks(rows: list[tuple[Any, ...]]) -> list[tuple[int, int]]:
    """(start, end) slices of `rows`, each within the parameter and size limits of one statement."""
    out: list[tuple[int, int]] = []
    start, size = 0, 0
    for index, row in enumerate(rows):
        length = len(row[_BODY])
        if index > start and (index - start >= _ROWS_PER_STATEMENT or size + length > _BYTES_PER_STATEMENT):
            out.append((start, index))
            start, size = index, 0
        size += length
    if start < len(rows):
        out.append((start, len(rows)))
    return out


# Work items for the writer thread: (kind, payload, future or None).
_APPEND, _SQL, _RESYNC, _STOP = 0, 1, 2, 3
_Item = tuple[int, Any, "asyncio.Future[Any] | None"]
_Done = list[tuple["asyncio.Future[Any]", Any, "BaseException | None"]]


def _row(m: StoredMessage) -> tuple[Any, ...]:
    return (
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


def _placement_state(db: sqlite3.Connection) -> tuple[dict[tuple[str, str], TopicLog], int]:
    """Rebuild every topic's placement (next offset per queue, next queue) and the last seq from the rows."""
    offsets: dict[tuple[str, str], dict[int, int]] = {}
    for instance_id, topic, queue_id, last in db.execute(
        "SELECT instance_id, topic, queue_id, MAX(queue_offset) FROM messages GROUP BY instance_id, topic, queue_id"
    ):
        offsets.setdefault((instance_id, topic), {})[queue_id] = last + 1
    logs: dict[tuple[str, str], TopicLog] = {}
    for key, per_queue in offsets.items():
        width = max(per_queue) + 1
        logs[key] = TopicLog(width, 0, [per_queue.get(q, 0) for q in range(width)])
    # Round-robin goes on after the queue of each topic's latest message.
    for instance_id, topic, queue_id in db.execute(
        "SELECT instance_id, topic, queue_id FROM messages WHERE seq IN"
        " (SELECT MAX(seq) FROM messages GROUP BY instance_id, topic)"
    ):
        logs[(instance_id, topic)].next_queue = queue_id + 1
    seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM messages").fetchone()[0]
    return logs, seq


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
        # Set while placement waits for the writer (after a failed write, during a reset): sends wait on it.
        self._barrier: asyncio.Event | None = None
        self._closed = False
        #: Written by the writer thread: transactions committed and messages in them (group commit at work).
        self.stats = {"commits": 0, "messages": 0}

    # -- start-up (event loop thread) -----------------------------------------------------------------
    def open(self) -> None:
        if self._db is not None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_data_dir()
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=5000")
            db.executescript(_SCHEMA)
            self._restore(db)
        except sqlite3.Error as exc:
            db.close()
            self._unlock()
            raise StoreError(f"{self.path} cannot be used: {exc}") from exc
        self._db = db

    def _lock_data_dir(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: the data directory is simply not locked
            return
        handle = (self.data_dir / _LOCK_NAME).open("a")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise DataDirInUseError(f"{self.data_dir} is used by another running emulator") from None
        self._lock_file = handle

    def _unlock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _restore(self, db: sqlite3.Connection) -> None:
        row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        # A new store starts at a random generation (like a class-loader hash); each start takes the next.
        generation = ((row[0] + 1) if row else secrets.randbits(31)) & 0xFFFFFFFF
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('generation', ?)", (generation,))
        self._ids = MessageIdFactory(generation, ip=self._ip, on_new_month=self._next_generation)
        self._logs, self._seq = _placement_state(db)
        self._restored_topics = [
            (instance_id, name, queues)
            for instance_id, name, queues in db.execute("SELECT instance_id, name, queues FROM topics")
        ]
        self._persisted_topics = {(i, n) for i, n, _ in self._restored_topics}

    def _next_generation(self) -> int:
        # A new month restarts the id's time field: persist the new generation before any id that uses it.
        assert self._ids is not None
        generation = self._ids.generation + 1
        self._queue.put(
            (_SQL, ("INSERT OR REPLACE INTO meta (key, value) VALUES ('generation', ?)", (generation,)), None)
        )
        return generation

    def restored_topics(self) -> list[tuple[str, str, int]]:
        return list(self._restored_topics)

    async def start(self) -> None:
        self.open()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run_writer, name="dms-emulator-writer", daemon=True)
        self._thread.start()

    # -- sends, resets, reads (event loop thread) -----------------------------------------------------
    def _submit(self, kind: int, payload: Any) -> asyncio.Future[Any]:
        if self._closed or self._loop is None:
            raise StoreError("the store is closed")
        future = self._loop.create_future()
        self._queue.put((kind, payload, future))
        return future

    async def append(self, message: PendingMessage) -> StoredMessage:
        while self._barrier is not None:
            await self._barrier.wait()
        key = (message.instance_id, message.topic.name)
        if message.topic.auto_created and key not in self._persisted_topics:
            self._persisted_topics.add(key)
            self._queue.put(
                (
                    _SQL,
                    (
                        "INSERT OR IGNORE INTO topics (instance_id, name, queues) VALUES (?, ?, ?)",
                        (*key, message.topic.queues),
                    ),
                    None,
                )
            )
        stored = self._place(message, now_ms())
        try:
            await self._submit(_APPEND, _row(stored))
        except StoreError:
            self._resync()
            raise
        return stored

    def _resync(self) -> None:
        """After a failed write: hold new sends until placement is reloaded from what is on disk."""
        if self._barrier is not None or self._closed:
            return
        barrier = self._barrier = asyncio.Event()

        def reloaded(future: asyncio.Future[Any]) -> None:
            if not future.cancelled() and future.exception() is None:
                self._logs, self._seq = future.result()
            self._barrier = None
            barrier.set()

        self._submit(_RESYNC, None).add_done_callback(reloaded)

    async def reset(self) -> None:
        while self._barrier is not None:
            await self._barrier.wait()
        barrier = self._barrier = asyncio.Event()
        try:
            await self._submit(_SQL, ("DELETE FROM messages", ()))
            self._logs.clear()
        finally:
            self._barrier = None
            barrier.set()

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
        self._unlock()

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
        db = self._db
        assert db is not None
        failing = False  # after a failed write, until a resync: refuse every append
        stop = False
        while not stop:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            done: _Done = []
            rows: list[tuple[Any, ...]] = []
            waiting: list[asyncio.Future[Any]] = []
            for kind, payload, future in batch:
                if kind == _APPEND:
                    assert future is not None
                    if failing:
                        done.append((future, None, StoreError("an earlier write failed; retry")))
                    else:
                        rows.append(payload)
                        waiting.append(future)
                    continue
                # Anything else is a barrier: the messages queued before it are written first.
                failing = self._flush(db, rows, waiting, done) or failing
                rows, waiting = [], []
                if kind == _SQL:
                    error = self._execute(db, *payload)
                    if future is not None:
                        done.append((future, None, error))
                elif kind == _RESYNC:
                    assert future is not None
                    try:
                        done.append((future, _placement_state(db), None))
                        failing = False
                    except sqlite3.Error as exc:
                        done.append((future, None, StoreError(f"cannot read the store: {exc}")))
                else:
                    stop = True
            failing = self._flush(db, rows, waiting, done) or failing
            if done:
                self._deliver_later(done)

    @staticmethod
    def _execute(db: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> BaseException | None:
        try:
            db.execute(sql, args)
        except sqlite3.Error as exc:
            logger.exception("store statement failed")
            return StoreError(f"the store failed: {exc}")
        return None

    def _flush(
        self, db: sqlite3.Connection, rows: list[tuple[Any, ...]], waiting: list[asyncio.Future[Any]], done: _Done
    ) -> bool:
        """Write `rows`, one autocommit INSERT (one transaction, one fsync) per chunk; True if one failed."""
        failed = False
        for start, end in _chunks(rows):
            chunk = rows[start:end]
            futures = waiting[start:end]
            if failed:
                done.extend((f, None, StoreError("an earlier write failed; retry")) for f in futures)
                continue
            try:
                db.execute(_INSERT_MESSAGES + ",".join([_ROW] * len(chunk)), [v for row in chunk for v in row])
            except sqlite3.Error as exc:
                logger.exception("could not write %d messages; their senders get an error", len(chunk))
                error = StoreError("the message could not be written to disk")
                error.__cause__ = exc
                done.extend((f, None, error) for f in futures)
                failed = True
            else:
                done.extend((f, None, None) for f in futures)
                self.stats["commits"] += 1
                self.stats["messages"] += len(chunk)
        return failed

    def _deliver_later(self, done: _Done) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(_deliver, done)
        except RuntimeError:  # the loop is gone: nobody is waiting any more
            logger.warning("event loop closed before %d results could be delivered", len(done))


def _deliver(done: _Done) -> None:
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
