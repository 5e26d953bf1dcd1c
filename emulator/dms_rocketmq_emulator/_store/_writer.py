"""The durable store's writer thread: group commit.

The writer has the store's SQLite connection (WAL, `synchronous=FULL`) to itself. A send is placed (queue,
offset, id) on the event loop, queued for the writer, and awaited. The writer takes *everything* queued and
writes it with one multi-row INSERT, which SQLite runs as one transaction with one fsync; only then are the
senders woken, so a 200 always means "on disk". While one batch is being flushed the next sends pile up and
go into the next statement together (group commit): fsync is paid per batch, not per message.

The writer does nothing but SQLite calls, which release the GIL: every time a thread wants the GIL back
it may have to wait for the event loop to yield it, so the fewer Python steps the writer takes per batch,
the less a send waits (one statement per batch instead of one per row, no Python placement work).

If a write fails (a full or broken disk), its senders get an error and so does every send placed after
it, until the event loop has reloaded the placement state from the database: offsets never get a gap.
If the writer itself fails (any exception other than SQLite's), the store is *broken*: the sends waiting
for it and every later one get an error at once (nothing waits for a writer that is gone).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
from typing import Any

from ._interface import StoreError
from ._schema import _COLUMNS, _PARAMETERS, _WIDTH, _insert_keys, _placement_state, _rollback

__all__ = ["GroupCommitWriter"]

logger = logging.getLogger("dms_rocketmq_emulator.store")

_INSERT_MESSAGES = f"INSERT INTO messages ({_COLUMNS}) VALUES "  # noqa: S608 - constant column names
_ROW = "(" + ",".join("?" * _WIDTH) + ")"
_ROWS_PER_STATEMENT = _PARAMETERS // _WIDTH
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


class GroupCommitWriter:
    """The writer thread's side of the durable store: it drains the queue and writes each batch at once.

    A mixin of `DurableStore`, which owns the attributes below (the event loop side puts work on `_queue`).
    """

    #: Why the store can keep nothing any more (the writer failed), or None while it works.
    broken: str | None
    #: Transactions committed and messages in them (group commit at work).
    stats: dict[str, int]
    _queue: queue.SimpleQueue[_Item]
    _loop: asyncio.AbstractEventLoop | None
    _db: sqlite3.Connection | None

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
