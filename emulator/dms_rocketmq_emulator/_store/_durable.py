"""The durable store: messages in SQLite under a data directory, a send answered only after its commit.

The event loop places each message and queues it for the writer thread (`_writer.py`, group commit);
reads go through connections of their own, read-only. The data directory is locked while a store has it
open, so two emulators never write one database.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import secrets
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dms_rocketmq_emulator._query import MessageQuery
from dms_rocketmq_emulator.models import MessageIdFactory, PendingMessage, StoredMessage

from ._interface import DataDirInUseError, Store, StoreError
from ._queries import _run_query
from ._schema import _COLUMNS, _SCHEMA, Placement, _key_rows, _message, _migrate, _placement_state, _row
from ._writer import _APPEND, _LOAD, _RESYNC, _SQL, _STOP, GroupCommitWriter, _Item

__all__ = ["DurableStore"]

_DB_NAME = "messages.sqlite3"
_LOCK_NAME = "emulator.lock"


class DurableStore(GroupCommitWriter, Store):
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
        # The last position (`topic_pos`) given in each topic, placed with the message on the event loop.
        self._positions: dict[tuple[str, str], int] = {}
        # Topics and queues whose positions have holes (rows deleted by hand): read row by row.
        self._holes: frozenset[tuple[Any, ...]] = frozenset()
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
        self._adopt(_placement_state(db))
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

    def _adopt(self, placement: Placement) -> None:
        self._logs, self._seq, self._positions = placement.logs, placement.seq, placement.positions
        self._holes = placement.holes

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
            await self._submit(_APPEND, (_row(stored, self._position(stored)), _key_rows(stored)))
        except StoreError:
            self._resync()
            raise
        if self._observers:
            self._notify((stored,))
        return stored

    def _position(self, stored: StoredMessage) -> int:
        """The next position in `stored`'s topic (called once per message, in placement order)."""
        key = (stored.instance_id, stored.topic)
        position = self._positions[key] = self._positions.get(key, 0) + 1
        return position

    def _resync(self) -> None:
        """After a failed write: hold new sends until placement is reloaded from what is on disk."""
        # Nothing to reload when nothing can be queued (not started, closed, broken): a barrier would never lift.
        if self._barrier is not None or self._closed or self._loop is None or self.broken is not None:
            return
        barrier = self._barrier = asyncio.Event()

        def reloaded(future: asyncio.Future[Any]) -> None:
            if not future.cancelled() and future.exception() is None:
                self._adopt(future.result())
            self._barrier = None
            barrier.set()

        self._submit(_RESYNC, None).add_done_callback(reloaded)

    async def load(self, messages: Iterable[PendingMessage]) -> int:
        while self._barrier is not None:
            await self._barrier.wait()
        rows: list[tuple[Any, ...]] = []
        keys: list[tuple[str, str, str, int]] = []
        # Kept for the observers only when there are some (a load may hold a million messages).
        kept: list[StoredMessage] | None = [] if self._observers else None
        for message in messages:
            stored = self._place(message, self._now())
            rows.append(_row(stored, self._position(stored)))
            keys += _key_rows(stored)
            if kept is not None:
                kept.append(stored)
        try:
            await self._submit(_LOAD, (rows, keys))
        except StoreError:
            self._resync()
            raise
        if kept and self._observers:
            self._notify(kept)
        return len(rows)

    async def reset(self) -> None:
        while self._barrier is not None:
            await self._barrier.wait()
        barrier = self._barrier = asyncio.Event()
        try:
            await self._submit(_SQL, (("DELETE FROM message_keys", "DELETE FROM messages"), ()))
            self._logs.clear()
            self._positions.clear()
            self._holes = frozenset()
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
        with self._reader_lock:
            if self._closed:
                raise StoreError("the store is closed")
            if self._reader is None:
                self._reader = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            try:
                # One read transaction: the count and the page see the same commits.
                self._reader.execute("BEGIN")
                try:
                    total, rows = _run_query(self._reader, query, self._holes)
                finally:
                    self._reader.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read the store: {exc}") from exc
        return total, [_message(row) for row in rows]
