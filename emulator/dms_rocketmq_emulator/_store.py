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

Queries (`ListMessages`, `_query.py`) use indexes in both stores: by message id, by key (one entry per key
of a message, in `message_keys` on disk) and by store time within a topic. Store times never go backwards
within a store, so a topic's messages are in time order and a time range is one slice of them.

The durable store's schema has a version (`PRAGMA user_version`): a data directory written by an older
emulator is migrated when it opens (new columns filled from what each row holds, the key index built).

If the writer itself fails (any exception other than SQLite's), the store is *broken*: the sends waiting
for it and every later one get an error at once (nothing waits for a writer that is gone), and
`Store.broken` says why, for `/_emulator/health`.
"""

from __future__ import annotations

import abc
import asyncio
import bisect
import contextlib
import json
import logging
import queue
import secrets
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ._query import STORE_PORT, MessageQuery, body_crc, message_keys, record_size, shown_properties
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
        properties = (*message.properties, (_UNIQ_KEY, msg_id))
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
        return stored

    async def load(self, messages: Iterable[PendingMessage]) -> int:
        count = 0
        for message in messages:
            self._keep(self._place(message, self._now()))
            count += 1
        return count

    def _keep(self, stored: StoredMessage) -> None:
        self._messages.append(stored)
        self._by_msg_id[stored.msg_id] = stored
        topic = (stored.instance_id, stored.topic)
        found = self._by_topic.get(topic)
        if found is None:
            self._by_topic[topic] = [stored]
        else:
            found.append(stored)
        for key in message_keys(stored.properties):
            self._by_key.setdefault((*topic, key), []).append(stored)

    async def query(self, query: MessageQuery) -> tuple[int, list[StoredMessage]]:
        if query.msg_id is not None:
            found = self._by_msg_id.get(query.msg_id)
            matches = [found] if found is not None and query.matches(found) else []
            return len(matches), matches[query.offset : query.offset + query.limit]
        if query.key is not None:
            candidates = self._by_key.get((query.instance_id, query.topic, query.key), [])
        else:
            candidates = self._by_topic.get((query.instance_id, query.topic), [])
        low, high = 0, len(candidates)
        if query.start_ms is not None:
            low = bisect.bisect_left(candidates, query.start_ms, key=_stored_at)
        if query.end_ms is not None:
            high = bisect.bisect_right(candidates, query.end_ms, key=_stored_at)
        if query.queue_id is not None:
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

#: The schema version `_migrate` brings a database to (PRAGMA user_version; 0: before queries existed).
SCHEMA_VERSION = 1
# Version 1: what a query shows of a stored message, and the query indexes.
_NEW_COLUMNS = (
    ("born_at_ms", "INTEGER NOT NULL DEFAULT 0"),
    ("born_host", "TEXT NOT NULL DEFAULT ''"),
    ("store_host", "TEXT NOT NULL DEFAULT ''"),
    ("body_crc", "INTEGER NOT NULL DEFAULT 0"),
    ("store_size", "INTEGER NOT NULL DEFAULT 0"),
)
_QUERY_SCHEMA = """
CREATE TABLE IF NOT EXISTS message_keys (
    instance_id TEXT NOT NULL, topic TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (instance_id, topic, key, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_by_msg_id ON messages (msg_id);
CREATE INDEX IF NOT EXISTS messages_by_time ON messages (topic, stored_at_ms);
"""

_COLUMNS = (
    "seq, instance_id, topic, queue_id, queue_offset, msg_id, body, properties, stored_at_ms,"
    " born_at_ms, born_host, store_host, body_crc, store_size"
)
_WIDTH = _COLUMNS.count(",") + 1
_INSERT_MESSAGES = f"INSERT INTO messages ({_COLUMNS}) VALUES "  # noqa: S608 - constant column names
_ROW = "(" + ",".join("?" * _WIDTH) + ")"
_INSERT_KEYS = "INSERT OR IGNORE INTO message_keys (instance_id, topic, key, seq) VALUES "
_KEY_ROW = "(?,?,?,?)"
# SQLite allows 32,766 parameters in a statement (since 3.32; 999 before): the rows one INSERT can carry.
_PARAMETERS = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
_ROWS_PER_STATEMENT = _PARAMETERS // _WIDTH
_KEYS_PER_STATEMENT = _PARAMETERS // 4
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
_APPEND, _SQL, _RESYNC, _STOP, _LOAD = 0, 1, 2, 3, 4
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
        m.born_at_ms,
        m.born_host,
        m.store_host,
        m.body_crc,
        m.store_size,
    )


def _key_rows(m: StoredMessage) -> list[tuple[str, str, str, int]]:
    return [(m.instance_id, m.topic, key, m.seq) for key in message_keys(m.properties)]


def _message(row: tuple[Any, ...]) -> StoredMessage:
    """A row of `SELECT {_COLUMNS}` as a StoredMessage."""
    return StoredMessage(
        seq=row[0],
        instance_id=row[1],
        topic=row[2],
        queue_id=row[3],
        queue_offset=row[4],
        msg_id=row[5],
        body=row[6],
        properties=tuple((name, value) for name, value in json.loads(row[7])),
        stored_at_ms=row[8],
        born_at_ms=row[9],
        born_host=row[10],
        store_host=row[11],
        body_crc=row[12],
        store_size=row[13],
    )


def _rollback(db: sqlite3.Connection) -> None:
    """Roll back the open transaction, if SQLite has not already (it does on some errors)."""
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")


def _insert_keys(db: sqlite3.Connection, keys: list[tuple[str, str, str, int]]) -> None:
    for start in range(0, len(keys), _KEYS_PER_STATEMENT):
        part = keys[start : start + _KEYS_PER_STATEMENT]
        db.execute(_INSERT_KEYS + ",".join([_KEY_ROW] * len(part)), [v for key in part for v in key])


def _migrate(db: sqlite3.Connection, store_host: str) -> None:
    """Bring a database of any earlier schema version to SCHEMA_VERSION, in one transaction."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version >= SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        present = {row[1] for row in db.execute("PRAGMA table_info(messages)")}
        for name, declaration in _NEW_COLUMNS:
            if name not in present:
                db.execute(f"ALTER TABLE messages ADD COLUMN {name} {declaration}")
        for statement in _QUERY_SCHEMA.strip().split(";"):
            if statement.strip():
                db.execute(statement)
        _backfill(db, store_host)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        _rollback(db)
        raise


def _backfill(db: sqlite3.Connection, store_host: str) -> None:
    """Fill the version-1 columns and the key index of rows an older emulator wrote (store_host still '')."""
    last = 0
    while True:
        rows = db.execute(
            "SELECT seq, instance_id, topic, msg_id, body, properties, stored_at_ms FROM messages"
            " WHERE seq > ? AND store_host = '' ORDER BY seq LIMIT 10000",
            (last,),
        ).fetchall()
        if not rows:
            return
        updates, keys = [], []
        for seq, instance_id, topic, msg_id, text, properties_json, stored_at_ms in rows:
            properties = [(name, value) for name, value in json.loads(properties_json)]
            body = text.encode("utf-8")
            size = record_size(body, topic, shown_properties(properties, msg_id))
            # Where the producer was is not known for these: the broker's address stands in for it.
            updates.append((stored_at_ms, store_host, store_host, body_crc(body), size, seq))
            keys += [(instance_id, topic, key, seq) for key in message_keys(properties)]
        db.executemany(
            "UPDATE messages SET born_at_ms = ?, born_host = ?, store_host = ?, body_crc = ?, store_size = ?"
            " WHERE seq = ?",
            updates,
        )
        _insert_keys(db, keys)
        last = rows[-1][0]


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


def _query_sql(query: MessageQuery) -> tuple[str, list[Any]]:
    """The FROM and WHERE of `query`, with the index each kind of query is to use."""
    where = ["m.instance_id = ?", "m.topic = ?"]
    args: list[Any] = [query.instance_id, query.topic]
    if query.msg_id is not None:
        source = "messages m INDEXED BY messages_by_msg_id"
        where.append("m.msg_id = ?")
        args.append(query.msg_id)
    elif query.key is not None:
        # The key's entries first, then each message by rowid (CROSS JOIN fixes that order in SQLite).
        source = "message_keys k CROSS JOIN messages m ON m.seq = k.seq"
        where += ["k.instance_id = ?", "k.topic = ?", "k.key = ?"]
        args += [query.instance_id, query.topic, query.key]
    else:
        source = "messages m INDEXED BY messages_by_time"
    if query.msg_id is not None and query.key is not None:
        where.append("m.seq IN (SELECT seq FROM message_keys WHERE instance_id = ? AND topic = ? AND key = ?)")
        args += [query.instance_id, query.topic, query.key]
    if query.start_ms is not None:
        where.append("m.stored_at_ms >= ?")
        args.append(query.start_ms)
    if query.end_ms is not None:
        where.append("m.stored_at_ms <= ?")
        args.append(query.end_ms)
    if query.queue_id is not None:
        where.append("m.queue_id = ?")
        args.append(query.queue_id)
    return f"FROM {source} WHERE " + " AND ".join(where), args


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
        # Queries read through one connection of their own, one query at a time.
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()
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
            _migrate(db, self._store_host)
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
        self._last_ms = db.execute("SELECT COALESCE(MAX(stored_at_ms), 0) FROM messages").fetchone()[0]
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
        if self.broken is not None:
            raise StoreError(f"the store is broken: {self.broken}")
        if self._closed or self._loop is None:
            raise StoreError("the store is closed")
        future = self._loop.create_future()
        self._queue.put((kind, payload, future))
        return future

    async def append(self, message: PendingMessage) -> StoredMessage:
        while self._barrier is not None:
            await self._barrier.wait()
        if self.broken is not None:
            raise StoreError(f"the store is broken: {self.broken}")
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
        stored = self._place(message, self._now())
        try:
            await self._submit(_APPEND, (_row(stored), _key_rows(stored)))
        except StoreError:
            self._resync()
            raise
        return stored

    def _resync(self) -> None:
        """After a failed write: hold new sends until placement is reloaded from what is on disk."""
        # Nothing to reload when nothing can be queued (not started, closed, broken): a barrier would never lift.
        if self._barrier is not None or self._closed or self._loop is None or self.broken is not None:
            return
        barrier = self._barrier = asyncio.Event()

        def reloaded(future: asyncio.Future[Any]) -> None:
            if not future.cancelled() and future.exception() is None:
                self._logs, self._seq = future.result()
            self._barrier = None
            barrier.set()

        self._submit(_RESYNC, None).add_done_callback(reloaded)

    async def load(self, messages: Iterable[PendingMessage]) -> int:
        while self._barrier is not None:
            await self._barrier.wait()
        rows: list[tuple[Any, ...]] = []
        keys: list[tuple[str, str, str, int]] = []
        for message in messages:
            stored = self._place(message, self._now())
            rows.append(_row(stored))
            keys += _key_rows(stored)
        try:
            await self._submit(_LOAD, (rows, keys))
        except StoreError:
            self._resync()
            raise
        return len(rows)

    async def reset(self) -> None:
        while self._barrier is not None:
            await self._barrier.wait()
        barrier = self._barrier = asyncio.Event()
        try:
            await self._submit(_SQL, (("DELETE FROM message_keys", "DELETE FROM messages"), ()))
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
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
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
                f"SELECT {_COLUMNS} FROM messages{clause} ORDER BY seq LIMIT ? OFFSET ?",  # noqa: S608
                [*args, limit, offset],
            ).fetchall()
        finally:
            db.close()
        return total, [_message(row) for row in rows]

    async def query(self, query: MessageQuery) -> tuple[int, list[StoredMessage]]:
        if self._closed:
            raise StoreError("the store is closed")
        return await asyncio.to_thread(self._run_query, query)

    def _run_query(self, query: MessageQuery) -> tuple[int, list[StoredMessage]]:
        source, args = _query_sql(query)
        columns = ", ".join(f"m.{name.strip()}" for name in _COLUMNS.split(","))
        with self._reader_lock:
            if self._closed:
                raise StoreError("the store is closed")
            if self._reader is None:
                self._reader = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            try:
                # One read transaction: the count and the page see the same commits.
                self._reader.execute("BEGIN")
                try:
                    total = self._reader.execute(f"SELECT COUNT(*) {source}", args).fetchone()[0]
                    rows = self._reader.execute(
                        f"SELECT {columns} {source} ORDER BY m.stored_at_ms, m.seq LIMIT ? OFFSET ?",
                        [*args, query.limit, query.offset],
                    ).fetchall()
                finally:
                    self._reader.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read the store: {exc}") from exc
        return total, [_message(row) for row in rows]

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
            try:
                if self.broken is None:
                    failing, stop = self._write_batch(db, batch, done, failing)
                else:
                    stop = self._refuse_batch(batch, done)
            except BaseException as exc:  # whatever it is, nobody may be left waiting for this thread
                # A bug or a failure outside SQLite: this thread cannot tell what is on disk any more.
                logger.critical("the store's writer failed; the store is broken, every send now fails", exc_info=exc)
                self.broken = f"its writer failed ({type(exc).__name__})"
                answered = {id(future) for future, _, _ in done}
                stop = self._refuse_batch([item for item in batch if id(item[2]) not in answered], done)
            if done:
                self._deliver_later(done)

    def _refuse_batch(self, batch: list[_Item], done: _Done) -> bool:
        """Broken store: answer every item of `batch` with an error; True if it holds the stop request."""
        error = StoreError(f"the store is broken: {self.broken}")
        done.extend((future, None, error) for kind, _, future in batch if future is not None)
        return any(kind == _STOP for kind, _, _ in batch)

    def _write_batch(self, db: sqlite3.Connection, batch: list[_Item], done: _Done, failing: bool) -> tuple[bool, bool]:
        """Carry out `batch` in order, results into `done`; (failing, stop) afterwards."""
        stop = False
        rows: list[tuple[Any, ...]] = []
        keys: list[list[tuple[str, str, str, int]]] = []
        waiting: list[asyncio.Future[Any]] = []
        for kind, payload, future in batch:
            if kind == _APPEND:
                assert future is not None
                if failing:
                    done.append((future, None, StoreError("an earlier write failed; retry")))
                else:
                    rows.append(payload[0])
                    keys.append(payload[1])
                    waiting.append(future)
                continue
            # Anything else is a barrier: the messages queued before it are written first.
            failing = self._flush(db, rows, keys, waiting, done) or failing
            rows, keys, waiting = [], [], []
            if kind == _LOAD:
                assert future is not None
                if failing:
                    done.append((future, None, StoreError("an earlier write failed; retry")))
                else:
                    error = self._load(db, *payload)
                    failing = error is not None
                    done.append((future, None, error))
            elif kind == _SQL:
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
        failing = self._flush(db, rows, keys, waiting, done) or failing
        return failing, stop

    @staticmethod
    def _execute(db: sqlite3.Connection, sql: str | tuple[str, ...], args: tuple[Any, ...]) -> BaseException | None:
        """Run one statement, or several (a tuple, without arguments) in one transaction."""
        try:
            if isinstance(sql, str):
                db.execute(sql, args)
            else:
                db.execute("BEGIN")
                try:
                    for statement in sql:
                        db.execute(statement)
                    db.execute("COMMIT")
                except BaseException:
                    _rollback(db)
                    raise
        except sqlite3.Error as exc:
            logger.exception("store statement failed")
            return StoreError(f"the store failed: {exc}")
        return None

    def _load(
        self, db: sqlite3.Connection, rows: list[tuple[Any, ...]], keys: list[tuple[str, str, str, int]]
    ) -> BaseException | None:
        """Write a bulk load in one transaction."""
        try:
            db.execute("BEGIN")
            try:
                for start, end in _chunks(rows):
                    chunk = rows[start:end]
                    db.execute(_INSERT_MESSAGES + ",".join([_ROW] * len(chunk)), [v for row in chunk for v in row])
                _insert_keys(db, keys)
                db.execute("COMMIT")
            except BaseException:
                _rollback(db)
                raise
        except sqlite3.Error as exc:
            logger.exception("could not load %d messages", len(rows))
            return StoreError(f"the store failed: {exc}")
        self.stats["commits"] += 1
        self.stats["messages"] += len(rows)
        return None

    def _flush(
        self,
        db: sqlite3.Connection,
        rows: list[tuple[Any, ...]],
        keys: list[list[tuple[str, str, str, int]]],
        waiting: list[asyncio.Future[Any]],
        done: _Done,
    ) -> bool:
        """Write `rows` and their keys, one transaction (one fsync) per chunk; True if one failed."""
        failed = False
        for start, end in _chunks(rows):
            chunk = rows[start:end]
            futures = waiting[start:end]
            if failed:
                done.extend((f, None, StoreError("an earlier write failed; retry")) for f in futures)
                continue
            chunk_keys = [key for of_message in keys[start:end] for key in of_message]
            try:
                insert = _INSERT_MESSAGES + ",".join([_ROW] * len(chunk))
                if not chunk_keys:  # one autocommit statement is one transaction
                    db.execute(insert, [v for row in chunk for v in row])
                else:
                    db.execute("BEGIN")
                    try:
                        db.execute(insert, [v for row in chunk for v in row])
                        _insert_keys(db, chunk_keys)
                        db.execute("COMMIT")
                    except BaseException:
                        _rollback(db)
                        raise
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
