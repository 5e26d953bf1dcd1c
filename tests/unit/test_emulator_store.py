"""The emulator's stores in-process, on a real SQLite file in tmp_path: what a send keeps comes back exactly,
across a reopen; filters and pages; reset; the data-directory lock; a file that is not a database.
Both stores must place and list messages the same way."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from _shared.sqlite import connect as sqlite_connect
from dms_rocketmq_emulator._query import STORE_PORT, MessageQuery
from dms_rocketmq_emulator._store import (
    DataDirInUseError,
    DurableStore,
    MemoryStore,
    Store,
    StoreError,
    make_store,
)
from dms_rocketmq_emulator._store._writer import _ROWS_PER_STATEMENT, _STOP
from dms_rocketmq_emulator.models import PendingMessage, StoredMessage, Topic, decode_msg_id

T = TypeVar("T")
ORDERS = Topic("orders", 3)
EVENTS = Topic("events", 2)


def _run(store: Store, work: Callable[[Store], Awaitable[T]]) -> T:
    """Start `store`, run `work` with it, close it: one event loop, as the emulator does."""

    async def run() -> T:
        await store.start()
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


async def _send(store: Store, *messages: tuple[str, Topic, str, tuple[tuple[str, str], ...]]) -> list[StoredMessage]:
    return [await store.append(PendingMessage(i, t, b, p)) for i, t, b, p in messages]


def _stores(tmp_path: Path) -> list[Store]:
    return [MemoryStore(), DurableStore(tmp_path / "data")]


@pytest.fixture(params=["memory", "durable"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return make_store(None if request.param == "memory" else tmp_path / "data", ip="10.1.2.3")


def test_make_store_picks_by_data_dir(tmp_path: Path) -> None:
    """No data directory: the memory store; a directory: the durable store in that directory's SQLite file."""
    assert isinstance(make_store(None), MemoryStore)
    durable = make_store(tmp_path / "d")
    assert isinstance(durable, DurableStore)
    assert durable.path == tmp_path / "d" / "messages.sqlite3"
    assert str(durable.path) in durable.description
    assert "synchronous=FULL" in durable.description


def test_placement_filters_and_pages(store: Store) -> None:
    """Round-robin per topic and instance, offsets per queue, UNIQ_KEY last; listing filters and pages."""

    async def work(s: Store) -> tuple[list[StoredMessage], list[Any]]:
        sent = await _send(
            s,
            ("i1", ORDERS, "a", (("KEYS", "k"),)),
            ("i1", ORDERS, "b", ()),
            ("i1", EVENTS, "c", (("TAGS", "t"), ("KEYS", "k2"))),
            ("i2", ORDERS, "d", ()),
            ("i1", ORDERS, "e", ()),
            ("i1", ORDERS, "f", ()),
        )
        listings = [
            await s.messages(None, None, 100, 0),
            await s.messages("i1", None, 100, 0),
            await s.messages(None, "orders", 100, 0),
            await s.messages("i1", "orders", 2, 1),
            await s.messages("i2", "events", 100, 0),
            await s.messages(None, None, 100, 6),
        ]
        return sent, listings

    sent, listings = _run(store, work)
    assert [(m.instance_id, m.topic, m.queue_id, m.queue_offset) for m in sent] == [
        ("i1", "orders", 0, 0),
        ("i1", "orders", 1, 0),
        ("i1", "events", 0, 0),
        ("i2", "orders", 0, 0),
        ("i1", "orders", 2, 0),
        ("i1", "orders", 0, 1),
    ]
    assert [m.seq for m in sent] == [1, 2, 3, 4, 5, 6]
    assert sent[0].properties == (("KEYS", "k"), ("UNIQ_KEY", sent[0].msg_id))
    assert sent[2].properties == (("TAGS", "t"), ("KEYS", "k2"), ("UNIQ_KEY", sent[2].msg_id))
    assert len({m.msg_id for m in sent}) == 6
    assert decode_msg_id(sent[0].msg_id)["ip"] == "10.1.2.3"
    everything, only_i1, only_orders, page, nothing, past_end = listings
    assert everything == (6, sent)
    assert only_i1 == (5, [sent[i] for i in (0, 1, 2, 4, 5)])
    assert only_orders == (5, [sent[i] for i in (0, 1, 3, 4, 5)])
    assert page == (4, [sent[1], sent[4]])
    assert nothing == (0, [])
    assert past_end == (6, [])


def test_reset_forgets_messages_and_placement(store: Store) -> None:
    """After reset no message is listed and each topic starts again at queue 0, offset 0."""

    async def work(s: Store) -> tuple[Any, list[StoredMessage]]:
        await _send(s, ("i", ORDERS, "a", ()), ("i", ORDERS, "b", ()))
        await s.reset()
        listing = await s.messages(None, None, 10, 0)
        return listing, await _send(s, ("i", ORDERS, "c", ()))

    listing, (after,) = _run(store, work)
    assert listing == (0, [])
    assert (after.queue_id, after.queue_offset) == (0, 0)


def test_durable_round_trip_across_reopen(tmp_path: Path) -> None:
    """Every field of every message comes back after a reopen, unicode and property order included."""
    properties = (("KEYS", "ключ 鍵"), ("TAGS", 'a"b\\c'), ("KEYS", ""))

    async def first(s: Store) -> list[StoredMessage]:
        return await _send(s, ("i1", ORDERS, '{"x": "é\\n"}', properties), ("i2", EVENTS, "", ()))

    sent = _run(DurableStore(tmp_path), first)
    reopened = DurableStore(tmp_path)
    listing = _run(reopened, lambda s: s.messages(None, None, 10, 0))
    assert listing == (2, sent)
    assert sent[0].properties == (*properties, ("UNIQ_KEY", sent[0].msg_id))
    assert sent[0].stored_at_ms > 1_700_000_000_000


def test_reopen_continues_seq_offsets_and_round_robin_per_topic(tmp_path: Path) -> None:
    """A reopened store goes on where each topic of each instance left off, and seq keeps growing."""

    async def first(s: Store) -> list[StoredMessage]:
        return await _send(
            s,
            ("i1", ORDERS, "a", ()),
            ("i1", ORDERS, "b", ()),
            ("i1", EVENTS, "c", ()),
            ("i2", ORDERS, "d", ()),
            ("i1", ORDERS, "e", ()),
            ("i1", ORDERS, "f", ()),
            ("i1", ORDERS, "g", ()),
        )

    async def second(s: Store) -> list[StoredMessage]:
        return await _send(
            s, ("i1", ORDERS, "h", ()), ("i1", EVENTS, "i", ()), ("i2", ORDERS, "j", ()), ("i3", ORDERS, "k", ())
        )

    _run(DurableStore(tmp_path), first)
    after = _run(DurableStore(tmp_path), second)
    assert [(m.queue_id, m.queue_offset, m.seq) for m in after] == [(2, 1, 8), (1, 0, 9), (1, 0, 10), (0, 0, 11)]


def test_reopen_when_the_last_message_went_to_the_last_queue(tmp_path: Path) -> None:
    """Round-robin wraps: after a message on the last queue a reopened store sends to queue 0."""
    _run(DurableStore(tmp_path), lambda s: _send(s, *[("i", ORDERS, b, ()) for b in "abc"]))
    (after,) = _run(DurableStore(tmp_path), lambda s: _send(s, ("i", ORDERS, "d", ())))
    assert (after.queue_id, after.queue_offset) == (0, 1)


def test_reopen_with_more_queues_than_were_used(tmp_path: Path) -> None:
    """Queues a topic never used before a reopen start at offset 0 after it."""
    _run(DurableStore(tmp_path), lambda s: _send(s, ("i", ORDERS, "a", ())))
    after = _run(DurableStore(tmp_path), lambda s: _send(s, *[("i", ORDERS, b, ()) for b in "bcd"]))
    assert [(m.queue_id, m.queue_offset) for m in after] == [(1, 0), (2, 0), (0, 1)]


def test_reset_is_durable(tmp_path: Path) -> None:
    """A reset survives a reopen: nothing comes back and placement starts from zero."""

    async def first(s: Store) -> None:
        await _send(s, ("i", ORDERS, "a", ()), ("i", ORDERS, "b", ()))
        await s.reset()

    _run(DurableStore(tmp_path), first)
    listing = _run(DurableStore(tmp_path), lambda s: s.messages(None, None, 10, 0))
    assert listing == (0, [])
    (after,) = _run(DurableStore(tmp_path), lambda s: _send(s, ("i", ORDERS, "c", ())))
    assert (after.queue_id, after.queue_offset) == (0, 0)


def test_each_start_takes_a_new_generation_for_message_ids(tmp_path: Path) -> None:
    """The class-loader field of message ids is the store's generation: the next one on every start."""
    generations = []
    for _ in range(3):
        (sent,) = _run(DurableStore(tmp_path), lambda s: _send(s, ("i", ORDERS, "a", ())))
        generations.append(decode_msg_id(sent.msg_id)["class_loader_hash"])
    assert generations[1] == (generations[0] + 1) & 0xFFFFFFFF
    assert generations[2] == (generations[0] + 2) & 0xFFFFFFFF
    with sqlite_connect(tmp_path / "messages.sqlite3") as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone() == (generations[2],)


def test_generation_wraps_at_32_bits(tmp_path: Path) -> None:
    """A stored generation of 2**32 - 1 is followed by 0, not by a 33-bit number."""
    _run(DurableStore(tmp_path), lambda s: s.messages(None, None, 1, 0))
    with sqlite_connect(tmp_path / "messages.sqlite3") as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (0xFFFFFFFF,))
    (sent,) = _run(DurableStore(tmp_path), lambda s: _send(s, ("i", ORDERS, "a", ())))
    assert decode_msg_id(sent.msg_id)["class_loader_hash"] == 0


def test_topics_created_on_demand_come_back(tmp_path: Path) -> None:
    """An auto-created topic is remembered (once) with its queues; configured topics are not written."""

    async def first(s: Store) -> None:
        auto = Topic("made", 4, auto_created=True)
        await _send(s, ("i1", auto, "a", ()), ("i1", auto, "b", ()), ("i1", ORDERS, "c", ()))
        await _send(s, ("i2", Topic("other", 2, auto_created=True), "d", ()))

    store = DurableStore(tmp_path)
    _run(store, first)
    assert store.restored_topics() == []
    reopened = DurableStore(tmp_path)
    reopened.open()
    assert sorted(reopened.restored_topics()) == [("i1", "made", 4), ("i2", "other", 2)]
    restored = reopened.restored_topics()
    restored.clear()  # a copy: the caller cannot change the store's list
    assert len(reopened.restored_topics()) == 2
    asyncio.run(reopened.close())
    assert MemoryStore().restored_topics() == []


def test_data_dir_is_locked_while_open(tmp_path: Path) -> None:
    """A second store on the same directory is refused while the first is open, and allowed after it closes."""
    first = DurableStore(tmp_path / "d")
    first.open()
    second = DurableStore(tmp_path / "d")
    with pytest.raises(DataDirInUseError, match="is used by another running emulator") as caught:
        second.open()
    assert str(tmp_path / "d") in str(caught.value)
    asyncio.run(first.close())
    second.open()
    second.open()  # opening twice is harmless
    asyncio.run(second.close())


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    """A data directory whose SQLite file is garbage gives StoreError naming the file, and frees the lock."""
    (tmp_path / "messages.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot be used") as caught:
        DurableStore(tmp_path).open()
    assert str(tmp_path / "messages.sqlite3") in str(caught.value)
    (tmp_path / "messages.sqlite3").unlink()
    store = DurableStore(tmp_path)
    store.open()  # the lock was released
    asyncio.run(store.close())


def test_durable_settings_and_clean_close(tmp_path: Path) -> None:
    """WAL with synchronous=FULL while open; after close the WAL is checkpointed into the database file."""

    async def work(s: Store) -> tuple[Any, ...]:
        assert isinstance(s, DurableStore)
        assert s._db is not None
        await _send(s, ("i", ORDERS, "a", ()))
        return (
            s._db.execute("PRAGMA journal_mode").fetchone()[0],
            s._db.execute("PRAGMA synchronous").fetchone()[0],
            s._db.execute("PRAGMA busy_timeout").fetchone()[0],
        )

    store = DurableStore(tmp_path)
    assert _run(store, work) == ("wal", 2, 5000)
    wal = tmp_path / "messages.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    assert store.stats == {"commits": 1, "messages": 1}
    asyncio.run(store.close())  # closing twice is harmless


def test_closed_store_refuses_sends(tmp_path: Path) -> None:
    """A send after close is a StoreError, not a hang."""

    async def run() -> None:
        store = DurableStore(tmp_path)
        await store.start()
        await store.close()
        for _ in range(2):  # a refused send leaves nothing behind that the next one would wait for
            with pytest.raises(StoreError, match=r"^the store is closed$"):
                await asyncio.wait_for(store.append(PendingMessage("i", ORDERS, "a", ())), 5)

    asyncio.run(run())


def test_durable_reads_see_only_committed_messages(tmp_path: Path) -> None:
    """Listing reads the file (read-only): every acknowledged send is there, in order, from another loop too."""
    sent = _run(DurableStore(tmp_path), lambda s: _send(s, *[("i", ORDERS, str(n), ()) for n in range(7)]))
    with sqlite_connect(tmp_path / "messages.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM messages").fetchone() == (7,)
    store = DurableStore(tmp_path)
    assert _run(store, lambda s: s.messages(None, "orders", 3, 5)) == (7, sent[5:])


def test_a_new_month_takes_the_next_generation_and_a_restart_the_one_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the month turns the id's time field restarts: the next generation is used (and persisted first)."""
    clock = {"ms": 1_796_083_199_000}  # 2026-11-30T23:59:59Z
    monkeypatch.setattr("dms_rocketmq_emulator.models._now_ms", lambda: clock["ms"])

    async def across_month(s: Store) -> list[Any]:
        generations = []
        for ms in (1_796_083_199_000, 1_796_083_201_000, 1_796_083_202_000):  # 23:59:59, 00:00:01, 00:00:02
            clock["ms"] = ms
            (sent,) = await _send(s, ("i", ORDERS, "a", ()))
            generations.append(decode_msg_id(sent.msg_id)["class_loader_hash"])
        return generations

    for store in (MemoryStore(), DurableStore(tmp_path)):
        clock["ms"] = 1_796_083_199_000
        first, turned, same = _run(store, across_month)
        assert turned == (first + 1) & 0xFFFFFFFF
        assert same == turned
    (after,) = _run(DurableStore(tmp_path), lambda s: _send(s, ("i", ORDERS, "b", ())))
    assert decode_msg_id(after.msg_id)["class_loader_hash"] == (turned + 1) & 0xFFFFFFFF


def test_a_cancelled_send_does_not_hold_up_its_batch(tmp_path: Path) -> None:
    """A send whose caller went away (cancelled) while its batch was on the way to disk: the rest still finish."""

    async def run() -> list[int]:
        store = DurableStore(tmp_path)
        await store.start()
        blocker = sqlite3.connect(store.path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # the writer's INSERT waits: every send below joins one batch
        tasks = [asyncio.create_task(store.append(PendingMessage("i", ORDERS, str(n), ()))) for n in range(4)]
        for _ in range(3):
            await asyncio.sleep(0)
        tasks[0].cancel()
        blocker.execute("ROLLBACK")
        blocker.close()
        done = [(await asyncio.wait_for(task, 3)).queue_offset for task in tasks[1:]]
        await store.close()
        return done

    assert asyncio.run(run()) == [0, 0, 1]


def test_the_writer_thread_never_keeps_the_process_alive(tmp_path: Path) -> None:
    """The writer is a daemon thread, named for thread dumps: an emulator killed before close() still exits."""

    async def writer_threads(s: Store) -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "dms-emulator-writer"]

    (thread,) = _run(DurableStore(tmp_path), writer_threads)
    assert thread.daemon


def test_sends_queued_behind_a_failed_write_are_refused_until_placement_is_reloaded(tmp_path: Path) -> None:
    """A failed batch fails its senders and every send queued behind it; the next send takes offset 0 again:
    no gap, nothing stored twice."""
    one = Topic("orders", 1)

    async def run() -> tuple[list[str], list[Any], int]:
        store = DurableStore(tmp_path)
        store.open()
        assert store._db is not None
        store._db.execute(
            "CREATE TRIGGER fail BEFORE INSERT ON messages WHEN NEW.body = 'boom'"
            " BEGIN SELECT RAISE(ABORT, 'simulated disk error'); END"
        )
        taken = threading.Event()
        write_batch = store._write_batch

        def taking(*args: Any) -> tuple[bool, bool]:
            taken.set()
            return write_batch(*args)

        store._write_batch = taking  # type: ignore[method-assign]
        await store.start()
        blocker = sqlite3.connect(store.path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # the writer's INSERT of the first batch waits for the lock
        first = [asyncio.create_task(store.append(PendingMessage("i", one, b, ()))) for b in ("a", "boom", "b")]
        # The writer has taken the first batch (and waits on the lock inside it).
        assert await asyncio.to_thread(taken.wait, 10)
        behind = [asyncio.create_task(store.append(PendingMessage("i", one, b, ()))) for b in ("c", "d")]
        for _ in range(3):
            await asyncio.sleep(0)
        blocker.execute("ROLLBACK")
        blocker.close()
        results = await asyncio.wait_for(asyncio.gather(*first, *behind, return_exceptions=True), 5)
        after = await asyncio.wait_for(store.append(PendingMessage("i", one, "e", ())), 5)
        _, listed = await store.messages(None, None, 10, 0)
        await store.close()
        return [m.body for m in listed], results, after.queue_offset

    bodies, results, offset = asyncio.run(run())
    assert all(isinstance(r, StoreError) for r in results), results
    assert (bodies, offset) == (["e"], 0)


# -- failed writes, one batch at a time ------------------------------------------------------------------------

FAIL_ON_BOOM = (
    "CREATE TRIGGER fail BEFORE INSERT ON messages WHEN NEW.body LIKE 'boom%'"
    " BEGIN SELECT RAISE(ABORT, 'simulated disk error'); END"
)


async def _one_batch(store: DurableStore, *work: Awaitable[Any]) -> list[Any]:
    """Run `work` (sends, loads, resets) so that the writer takes them all as one batch, in this order:
    they are queued before its thread starts. Returns each result or exception."""
    store.open()
    store._loop = asyncio.get_running_loop()  # what start() sets: lets the sends queue before the writer runs
    tasks = [asyncio.ensure_future(w) for w in work]
    for _ in range(3):
        await asyncio.sleep(0)
    await store.start()
    return await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)


def _failing_store(path: Path, trigger: str = FAIL_ON_BOOM) -> DurableStore:
    """A durable store whose database refuses what `trigger` says, as a full or broken disk would."""
    store = DurableStore(path)
    store.open()
    assert store._db is not None
    store._db.execute(trigger)
    return store


def _errors(results: list[Any]) -> list[str]:
    return [f"{type(r).__name__}: {r}" for r in results]


def test_a_failed_send_fails_the_batch_and_a_load_behind_it_with_clear_errors(tmp_path: Path) -> None:
    """A send whose write fails: its batch is told the message could not be written (with SQLite's error as the
    cause), a load queued behind it in the same batch is refused, and nothing of either is kept."""
    store = _failing_store(tmp_path)

    async def run() -> tuple[list[Any], list[StoredMessage], StoredMessage]:
        results = await _one_batch(
            store,
            store.append(PendingMessage("i", ORDERS, "a", (("KEYS", "k"),))),
            store.append(PendingMessage("i", ORDERS, "boom", (("KEYS", "k"),))),
            store.load([PendingMessage("i", ORDERS, "loaded", ())]),
        )
        after = await asyncio.wait_for(store.append(PendingMessage("i", ORDERS, "after", ())), 5)
        _, listed = await store.messages(None, None, 10, 0)
        await store.close()
        return results, listed, after

    results, listed, after = asyncio.run(run())
    assert _errors(results) == [
        "StoreError: the message could not be written to disk",
        "StoreError: the message could not be written to disk",
        "StoreError: an earlier write failed; retry",
    ]
    assert isinstance(results[0].__cause__, sqlite3.Error)
    assert "simulated disk error" in str(results[0].__cause__)
    assert store.broken is None
    assert [m.body for m in listed] == ["after"]
    assert (after.queue_id, after.queue_offset, after.seq) == (0, 0, 1)  # placement reloaded: no gap


def test_a_failed_load_refuses_the_sends_behind_it_until_placement_is_reloaded(tmp_path: Path) -> None:
    """A load that fails is rolled back whole and says why; sends queued behind it in its batch are refused;
    the next send takes the first offset again."""
    store = _failing_store(tmp_path)

    async def run() -> tuple[list[Any], list[StoredMessage], StoredMessage]:
        results = await _one_batch(
            store,
            store.load([PendingMessage("i", ORDERS, "x", (("KEYS", "k"),)), PendingMessage("i", ORDERS, "boom", ())]),
            store.append(PendingMessage("i", ORDERS, "behind", ())),
        )
        after = await asyncio.wait_for(store.append(PendingMessage("i", ORDERS, "after", ())), 5)
        _, listed = await store.messages(None, None, 10, 0)
        await store.close()
        return results, listed, after

    results, listed, after = asyncio.run(run())
    assert _errors(results) == [
        "StoreError: the store failed: simulated disk error",
        "StoreError: an earlier write failed; retry",
    ]
    assert store.broken is None
    assert [m.body for m in listed] == ["after"]
    assert (after.queue_id, after.queue_offset, after.seq) == (0, 0, 1)
    with sqlite_connect(store.path) as db:
        assert db.execute("SELECT COUNT(*) FROM message_keys").fetchone() == (0,)


def test_a_failed_chunk_fails_the_chunks_after_it_in_its_batch(tmp_path: Path) -> None:
    """A batch larger than one statement is written chunk by chunk: when one fails, every later chunk of the
    batch is refused (none is left waiting) and nothing of the batch is kept."""
    store = _failing_store(tmp_path)
    count = 2 * _ROWS_PER_STATEMENT + 1  # three chunks: the first fails, two come after it
    bodies = ["boom", *(f"m{n}" for n in range(count - 1))]

    async def run() -> tuple[list[Any], int]:
        results = await _one_batch(store, *(store.append(PendingMessage("i", ORDERS, b, ())) for b in bodies))
        total, _ = await store.messages(None, None, 1, 0)
        await store.close()
        return results, total

    results, total = asyncio.run(run())
    errors = _errors(results)
    assert (
        errors[:_ROWS_PER_STATEMENT] == ["StoreError: the message could not be written to disk"] * _ROWS_PER_STATEMENT
    )
    assert errors[_ROWS_PER_STATEMENT:] == ["StoreError: an earlier write failed; retry"] * (_ROWS_PER_STATEMENT + 1)
    assert total == 0


def test_the_writer_refuses_sends_until_a_reload_of_placement_succeeds(tmp_path: Path) -> None:
    """When the reload after a failed write fails too, sends are refused (never left waiting) until a reload
    works; then placement goes on from what is on disk."""
    store = DurableStore(tmp_path)

    async def run() -> tuple[list[str], StoredMessage, list[str]]:
        await store.start()
        await store.append(PendingMessage("i", ORDERS, "kept", ()))
        outside = sqlite3.connect(store.path, isolation_level=None)
        outside.execute("ALTER TABLE messages RENAME TO hidden")  # the write and the reload after it both fail
        refused = []
        with pytest.raises(StoreError) as first:
            await asyncio.wait_for(store.append(PendingMessage("i", ORDERS, "lost", ())), 5)
        refused.append(str(first.value))
        while store._barrier is not None:  # the reload, which fails
            await asyncio.wait_for(store._barrier.wait(), 5)
        outside.execute("ALTER TABLE hidden RENAME TO messages")
        outside.close()
        with pytest.raises(StoreError) as second:
            await asyncio.wait_for(store.append(PendingMessage("i", ORDERS, "refused", ())), 5)
        refused.append(str(second.value))
        after = await asyncio.wait_for(store.append(PendingMessage("i", ORDERS, "after", ())), 5)
        _, listed = await store.messages(None, None, 10, 0)
        await store.close()
        return refused, after, [m.body for m in listed]

    refused, after, bodies = asyncio.run(run())
    assert refused == ["the message could not be written to disk", "an earlier write failed; retry"]
    assert (after.queue_id, after.queue_offset, after.seq) == (1, 0, 2)
    assert bodies == ["kept", "after"]


def test_a_failed_reset_changes_nothing_and_says_why(tmp_path: Path) -> None:
    """A reset whose delete fails is rolled back whole (messages and their keys stay queryable) and its
    StoreError carries SQLite's reason."""
    trigger = "CREATE TRIGGER fail BEFORE DELETE ON messages BEGIN SELECT RAISE(ABORT, 'simulated disk error'); END"
    store = _failing_store(tmp_path, trigger)
    query = MessageQuery("i", "orders", key="k", start_ms=0, end_ms=2**62)

    async def run() -> tuple[str, Any]:
        await store.start()
        await _send(store, ("i", ORDERS, "a", (("KEYS", "k"),)))
        with pytest.raises(StoreError) as caught:
            await asyncio.wait_for(store.reset(), 5)
        found = await store.query(query)
        await store.close()
        return str(caught.value), found

    message, (total, page) = asyncio.run(run())
    assert message == "the store failed: simulated disk error"
    assert store.broken is None
    assert (total, [m.body for m in page]) == (1, ["a"])


def test_stats_count_every_commit_and_message(tmp_path: Path) -> None:
    """`stats` adds up the commits and messages of sends and loads; sends of an auto-created topic queued
    together still share one commit (the topic is written once)."""
    auto = Topic("made", 2, auto_created=True)
    store = DurableStore(tmp_path)

    async def run() -> dict[str, int]:
        await _one_batch(
            store,
            store.append(PendingMessage("i", auto, "a", ())),
            store.append(PendingMessage("i", auto, "b", ())),
            store.append(PendingMessage("i", auto, "c", ())),
        )
        await _send(store, ("i", ORDERS, "d", ()))
        await store.load([PendingMessage("i", ORDERS, str(n), ()) for n in range(3)])
        await store.close()
        return store.stats

    assert asyncio.run(run()) == {"commits": 3, "messages": 7}


def test_a_closed_store_refuses_queries(tmp_path: Path) -> None:
    """A query after close, or one that reaches the reader after close, is a StoreError saying so."""
    store = DurableStore(tmp_path)
    query = MessageQuery("i", "orders", start_ms=0, end_ms=2**62)

    async def run() -> None:
        await store.start()
        await store.close()
        with pytest.raises(StoreError, match=r"^the store is closed$"):
            await store.query(query)

    asyncio.run(run())
    with pytest.raises(StoreError, match=r"^the store is closed$"):
        store._run_query(query)


def test_a_query_the_database_cannot_answer_is_a_store_error(tmp_path: Path) -> None:
    """A read that SQLite refuses is a StoreError with SQLite's reason, and the SQLite error as its cause."""
    store = DurableStore(tmp_path)

    async def run() -> BaseException:
        await store.start()
        with sqlite_connect(store.path) as outside:
            outside.execute("ALTER TABLE messages RENAME TO hidden")
        try:
            with pytest.raises(StoreError) as caught:
                await store.query(MessageQuery("i", "orders", start_ms=0, end_ms=2**62))
            return caught.value
        finally:
            await store.close()

    error = asyncio.run(run())
    assert str(error) == "cannot read the store: no such table: messages"
    assert isinstance(error.__cause__, sqlite3.Error)


def test_open_ended_time_ranges_and_stored_times_in_both_stores(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """No start or no end means no bound on that side; a range counts only what it holds; a message born
    before it was stored keeps both times. Both stores answer alike."""
    clock = {"ms": 0}
    monkeypatch.setattr("dms_rocketmq_emulator.models._now_ms", lambda: clock["ms"])
    base = 1_796_000_000_000

    async def work(s: Store) -> tuple[list[StoredMessage], list[Any], Any]:
        sent = []
        for n, body in enumerate("abc"):
            clock["ms"] = base + 1000 * n
            sent.append(await s.append(PendingMessage("i", ORDERS, body, (), born_at_ms=clock["ms"] - 250)))
        answers = [
            await s.query(MessageQuery("i", "orders", start_ms=start, end_ms=end))
            for start, end in ((base + 1000, None), (None, base + 1000), (None, None), (base + 500, base + 1500))
        ]
        return sent, answers, await s.messages(None, None, 10, 0)

    sent, answers, listing = _run(store, work)
    a, b, c = sent
    assert [m.stored_at_ms - base for m in sent] == [0, 1000, 2000]
    assert [m.born_at_ms - base for m in sent] == [-250, 750, 1750]
    assert answers == [(2, [b, c]), (2, [a, b]), (3, [a, b, c]), (1, [b])]
    assert listing == (3, sent)


def test_default_address_is_loopback(tmp_path: Path) -> None:
    """Without an address, both stores (made directly or by make_store) stamp 127.0.0.1 into message ids and as
    the store host; a message that does not say when it was born was born when it was stored."""
    for store in [*_stores(tmp_path), make_store(None), make_store(tmp_path / "made")]:
        (sent,) = _run(store, lambda s: _send(s, ("i", ORDERS, "a", ())))
        assert decode_msg_id(sent.msg_id)["ip"] == "127.0.0.1"
        assert (sent.store_host, sent.born_host) == (f"127.0.0.1:{STORE_PORT}", f"127.0.0.1:{STORE_PORT}")
        assert sent.born_at_ms == sent.stored_at_ms


def test_a_broken_writer_fails_every_send_load_and_reset_saying_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that fails outside SQLite breaks the store: the batch it held, the sends queued behind it, and
    every later send, load and reset get a StoreError naming the failure, at once."""
    store = DurableStore(tmp_path)
    entered, release = threading.Event(), threading.Event()

    def bug(*args: object) -> tuple[bool, bool]:
        entered.set()
        assert release.wait(5)
        raise RuntimeError("a bug")

    monkeypatch.setattr(store, "_write_batch", bug)

    async def run() -> list[str]:
        await store.start()
        held = asyncio.ensure_future(store.append(PendingMessage("i", ORDERS, "held", ())))
        assert await asyncio.to_thread(entered.wait, 5)
        queued = asyncio.ensure_future(store.append(PendingMessage("i", ORDERS, "queued", ())))  # the next batch
        await asyncio.sleep(0)
        release.set()
        results = await asyncio.wait_for(asyncio.gather(held, queued, return_exceptions=True), 5)
        errors = [str(r) for r in results]
        for work in (
            lambda: store.append(PendingMessage("i", ORDERS, "later", ())),
            lambda: store.load([PendingMessage("i", ORDERS, "loaded", ())]),
            store.reset,
        ):
            with pytest.raises(StoreError) as caught:
                await asyncio.wait_for(work(), 5)
            errors.append(str(caught.value))
        await asyncio.wait_for(store.close(), 5)
        return errors

    assert asyncio.run(run()) == ["the store is broken: its writer failed (RuntimeError)"] * 5
    assert store.broken == "its writer failed (RuntimeError)"


def test_a_writer_failing_after_answering_part_of_its_batch_keeps_those_answers_and_still_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that fails after it wrote part of its batch keeps the answers it already gave (those messages
    are on disk), answers the rest with the failure, and still honours a close request in that batch."""
    store = DurableStore(tmp_path)
    real = store._write_batch
    entered, release = threading.Event(), threading.Event()
    calls = []

    def bug_after_writing(*args: Any) -> tuple[bool, bool]:
        calls.append(len(args[1]))
        if len(calls) == 1:
            entered.set()
            assert release.wait(5)
            return real(*args)
        real(*args)
        raise RuntimeError("a bug")

    monkeypatch.setattr(store, "_write_batch", bug_after_writing)

    async def run() -> list[Any]:
        await store.start()
        first = asyncio.ensure_future(store.append(PendingMessage("i", ORDERS, "first", ())))
        assert await asyncio.to_thread(entered.wait, 5)
        second = asyncio.ensure_future(store.append(PendingMessage("i", ORDERS, "second", ())))
        await asyncio.sleep(0)
        closing = asyncio.ensure_future(store.close())  # its stop request joins the second send's batch
        await asyncio.sleep(0)
        release.set()
        try:
            await asyncio.wait_for(asyncio.shield(closing), 5)
        except TimeoutError:
            store._queue.put((_STOP, None, None))  # free the writer: the test fails instead of hanging
            raise
        return await asyncio.wait_for(asyncio.gather(first, second, return_exceptions=True), 5)

    first, second = asyncio.run(run())
    assert calls == [1, 2]
    assert [type(first), type(second)] == [StoredMessage, StoredMessage]
    assert store.broken == "its writer failed (RuntimeError)"
    listed = _run(DurableStore(tmp_path), lambda s: s.messages(None, None, 10, 0))
    assert listed == (2, [first, second])


def test_a_data_dir_is_created_with_its_parents(tmp_path: Path) -> None:
    """A data directory whose parents do not exist yet is created, parents and all."""
    data = tmp_path / "a" / "b" / "data"
    (sent,) = _run(DurableStore(data), lambda s: _send(s, ("i", ORDERS, "a", ())))
    assert (data / "messages.sqlite3").is_file()
    assert sent.queue_offset == 0


def test_a_new_durable_store_takes_a_31_bit_generation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new data directory starts at a random non-negative 31-bit generation, as a JVM's identity hash is."""
    monkeypatch.setattr("dms_rocketmq_emulator._store._durable.secrets.randbits", lambda bits: (1 << bits) - 1)
    (sent,) = _run(DurableStore(tmp_path), lambda s: _send(s, ("i", ORDERS, "a", ())))
    assert decode_msg_id(sent.msg_id)["class_loader_hash"] == 0x7FFFFFFF


def test_a_store_not_started_refuses_work_and_closes_cleanly(tmp_path: Path) -> None:
    """Before start: no restored topics yet, and a send, load or reset of an opened store is a StoreError, not a
    crash; closing a store that was never opened, or whose open failed, is harmless."""
    assert DurableStore(tmp_path / "never").restored_topics() == []
    asyncio.run(DurableStore(tmp_path / "never").close())
    opened = DurableStore(tmp_path / "opened")
    opened.open()

    async def refused() -> list[str]:
        errors = []
        for work in (
            lambda: opened.append(PendingMessage("i", ORDERS, "a", ())),
            lambda: opened.load([PendingMessage("i", ORDERS, "b", ())]),
            opened.reset,
        ):
            with pytest.raises(StoreError) as caught:
                await asyncio.wait_for(work(), 5)
            errors.append(str(caught.value))
        await opened.close()
        return errors

    assert asyncio.run(refused()) == ["the store is closed"] * 3
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "messages.sqlite3").write_bytes(b"this is not a database" * 100)
    failed = DurableStore(tmp_path / "bad")
    with pytest.raises(StoreError, match="cannot be used"):
        failed.open()
    asyncio.run(failed.close())


# -- the public accessors: queue offsets and observers --------------------------------------------------------


def test_queue_offsets_follow_placement_across_a_reopen_and_a_reset(tmp_path: Path) -> None:
    """Per queue: min offset 0, max offset the next message's, count their difference; the same in both
    stores, after a reopen (durable) and empty after a reset."""
    expected = [(0, 0, 3, 3), (1, 0, 2, 2), (2, 0, 2, 2)]

    async def fill(store: Store) -> list[tuple[int, int, int, int]]:
        for n in range(7):
            await _send(store, ("i1", ORDERS, f"o{n}", ()))
        await _send(store, ("i2", ORDERS, "other instance", ()))
        assert store.queue_offsets("i1", "events") == []
        return [(q.queue_id, q.min_offset, q.max_offset, q.messages) for q in store.queue_offsets("i1", "orders")]

    for store in _stores(tmp_path):
        assert _run(store, fill) == expected

    async def reopened(store: Store) -> list[tuple[int, int, int, int]]:
        offsets = [(q.queue_id, q.min_offset, q.max_offset, q.messages) for q in store.queue_offsets("i1", "orders")]
        await store.reset()
        assert store.queue_offsets("i1", "orders") == []
        return offsets

    assert _run(DurableStore(tmp_path / "data"), reopened) == expected


def test_observers_get_every_kept_message_in_order_on_the_loop_thread(store: Store) -> None:
    """Sends and loads reach every observer once kept, on the event loop's thread; an observer that fails
    does not fail the send; after unsubscribe nothing more arrives."""
    seen: list[tuple[StoredMessage, bool]] = []
    other: list[StoredMessage] = []

    def failing(message: StoredMessage) -> None:
        raise RuntimeError("observer bug")

    async def work(store: Store) -> list[StoredMessage]:
        loop_thread = threading.get_ident()
        before = await _send(store, ("i1", ORDERS, "before", ()))
        store.subscribe(lambda m: seen.append((m, threading.get_ident() == loop_thread)))
        store.subscribe(failing)
        store.subscribe(other.append)
        assert store.subscribers == 3
        sent = await _send(store, ("i1", ORDERS, "a", ()), ("i2", EVENTS, "b", ()))
        await store.load([PendingMessage("i1", ORDERS, f"l{n}", ()) for n in range(3)])
        store.unsubscribe(other.append)
        store.unsubscribe(failing)
        store.unsubscribe(failing)  # unknown now: ignored
        assert store.subscribers == 1
        after = await _send(store, ("i1", ORDERS, "c", ()))
        _, everything = await store.messages(None, None, 100, 0)
        assert before[0] not in [m for m, _ in seen]
        assert after[0] in [m for m, _ in seen]
        assert sent == everything[1:3]
        return everything

    everything = _run(store, work)
    assert [m for m, _ in seen] == everything[1:]
    assert all(on_loop for _, on_loop in seen)
    assert other == everything[1:6]


def test_a_durable_observer_sees_only_committed_messages(tmp_path: Path) -> None:
    """When the durable store calls an observer, the message is on disk: another connection reads it."""
    store = DurableStore(tmp_path / "data")
    found: list[int] = []

    def observer(message: StoredMessage) -> None:
        with sqlite_connect(store.path) as db:
            found.append(db.execute("SELECT COUNT(*) FROM messages WHERE msg_id = ?", (message.msg_id,)).fetchone()[0])

    async def work(store: Store) -> None:
        store.subscribe(observer)
        await _send(store, *[("i1", ORDERS, str(n), ()) for n in range(5)])
        await store.load([PendingMessage("i1", ORDERS, "l", ())])

    _run(store, work)
    assert found == [1] * 6
