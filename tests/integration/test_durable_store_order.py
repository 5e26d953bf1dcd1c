"""The durable store answers 200 only after its batch is committed, and a failing writer never leaves a send waiting.

A SIGKILL cannot show the order of "synced" and "answered" (the page cache survives the process), so these
tests serve the real emulator app with a real uvicorn in this process and put a spy between the store's
writer and its SQLite connection: it records which messages each commit holds, slows commits down, blocks
them or makes them fail, while clients talk to the emulator over real HTTP on a loopback port.
A commit of the writer's connection is its fsync: the first test reads back that the connection the writer
uses runs WAL with `synchronous=FULL`, in which SQLite syncs the WAL before a commit returns.
"""

from __future__ import annotations

import concurrent.futures
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _shared.inprocess import serve
from dms_rocketmq_api.spec_rules import ENGINES, operation_path
from dms_rocketmq_emulator import Settings, TopicSettings, create_app
from dms_rocketmq_emulator._config import DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID
from dms_rocketmq_emulator._store import DurableStore
from dms_rocketmq_emulator._store._schema import _COLUMNS

SEND_PATH = operation_path(
    "SendMessage", engine=ENGINES[0], project_id=DEFAULT_PROJECT_ID, instance_id=DEFAULT_INSTANCE_ID
)

pytestmark = pytest.mark.integration
# Where a message's id sits in the rows the writer inserts.
COLUMNS = [name.strip() for name in _COLUMNS.split(",")]
MSG_ID = COLUMNS.index("msg_id")


class SpiedConnection:
    """Stands between the writer and its SQLite connection; `before_insert` runs before each message INSERT.

    A message counts as committed once the transaction holding its INSERT has ended: at once for an
    autocommit INSERT, at the COMMIT that follows otherwise.
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.lock = threading.Lock()
        self.committed: set[str] = set()  # msg_ids whose transaction has committed (and synced)
        self.pending: list[str] = []  # inserted in the open transaction
        self.inserts = 0
        self.before_insert: Callable[[], None] = lambda: None

    def execute(self, sql: str, args: Any = ()) -> Any:
        if sql.startswith("INSERT INTO messages"):
            self.before_insert()
            cursor = self.db.execute(sql, args)
            self.pending.extend(args[MSG_ID :: len(COLUMNS)])
            self.inserts += 1
        else:
            cursor = self.db.execute(sql, args)
        if not self.db.in_transaction and self.pending:
            with self.lock:
                self.committed.update(self.pending)
            self.pending = []
        if sql.startswith("ROLLBACK"):
            self.pending = []
        return cursor

    def close(self) -> None:
        self.db.close()


@pytest.fixture
def spied(tmp_path: Path) -> Iterator[tuple[str, DurableStore, SpiedConnection]]:
    """A durable emulator app served on a loopback port, its store's connection spied on."""
    app = create_app(Settings(host="127.0.0.1", port=0, data_dir=tmp_path, topics=(TopicSettings("orders"),)))
    store = app.store
    assert isinstance(store, DurableStore)
    store.open()  # start() keeps this connection: the writer gets the spy
    assert store._db is not None
    spy = SpiedConnection(store._db)
    store._db = spy  # type: ignore[assignment]
    with serve(app) as url:
        yield url, store, spy


def _send(client: httpx.Client, body: str, key: str | None = None) -> httpx.Response:
    message: dict[str, Any] = {"topic": "orders", "body": body}
    if key is not None:  # a message with keys is written in an explicit transaction (keys indexed with it)
        message["property_list"] = [{"name": "KEYS", "value": key}]
    return client.post(SEND_PATH, json=message)


def _stored(url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = httpx.get(f"{url}/_emulator/messages", timeout=10).json()["messages"]
    return messages


def test_the_writer_connection_syncs_every_commit(spied: tuple[str, DurableStore, SpiedConnection]) -> None:
    """The connection the writer commits on runs WAL with synchronous=FULL (2): each commit syncs the WAL."""
    _, _, spy = spied
    assert spy.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert spy.db.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_every_200_follows_the_commit_of_its_message(spied: tuple[str, DurableStore, SpiedConnection]) -> None:
    """Of 120 concurrent sends (half with keys), each 200 arrives after the commit holding its msg_id."""
    url, _, spy = spied
    # A slow disk: a send answered before its commit would be caught in this window.
    spy.before_insert = lambda: time.sleep(0.02)
    early: list[str] = []

    def send(n: int) -> str:
        response = _send(client, f"m{n}", key=f"k{n}" if n % 2 else None)
        assert response.status_code == 200, response.text
        msg_id: str = response.json()["msg_id"]
        with spy.lock:
            if msg_id not in spy.committed:
                early.append(msg_id)
        return msg_id

    with (
        httpx.Client(base_url=url, timeout=30, limits=httpx.Limits(max_connections=24)) as client,
        concurrent.futures.ThreadPoolExecutor(24) as pool,
    ):
        acknowledged = list(pool.map(send, range(120)))
    assert early == []
    assert {m["msg_id"] for m in _stored(url)} == set(acknowledged)
    assert spy.inserts < 120  # group commit was at work: the property held for batches, not only single rows


def test_no_answer_while_the_commit_is_blocked(spied: tuple[str, DurableStore, SpiedConnection]) -> None:
    """While a commit is held, its send gets no answer; released, the send gets its 200 and is stored."""
    url, _, spy = spied
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        entered.set()
        assert release.wait(30)

    spy.before_insert = hold
    with httpx.Client(base_url=url, timeout=30) as client, concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(_send, client, "held")
        assert entered.wait(30)
        try:
            with pytest.raises(concurrent.futures.TimeoutError):
                pending.result(timeout=0.5)
        finally:
            release.set()
        response = pending.result(timeout=30)
    assert response.status_code == 200
    assert [m["msg_id"] for m in _stored(url)] == [response.json()["msg_id"]]


def test_a_failed_commit_answers_500_and_stores_nothing(spied: tuple[str, DurableStore, SpiedConnection]) -> None:
    """A commit SQLite refuses (disk I/O error) gets a Huawei 500; nothing is stored; the next send continues."""
    url, store, spy = spied
    failures = iter([sqlite3.OperationalError("disk I/O error")])

    def fail_once() -> None:
        error = next(failures, None)
        if error is not None:
            raise error

    spy.before_insert = fail_once
    with httpx.Client(base_url=url, timeout=30) as client:
        failed = _send(client, "lost")
        assert failed.status_code == 500
        assert failed.json()["error_code"] == "DMS.00500000"
        assert failed.headers["X-Request-Id"]
        assert _stored(url) == []
        ok = _send(client, "kept")
    assert ok.status_code == 200
    assert (ok.json()["queue_id"], ok.json()["queue_offset"]) == (0, 0)  # no gap where the lost one was
    assert [m["body"] for m in _stored(url)] == ["kept"]
    assert store.broken is None
    assert httpx.get(f"{url}/_emulator/health", timeout=10).json() == {"status": "ok"}


@pytest.mark.parametrize("failure", [RuntimeError("a bug"), MemoryError(), KeyError("x")], ids=["bug", "memory", "key"])
def test_a_writer_failure_outside_sqlite_fails_every_send_and_shows_in_health(
    spied: tuple[str, DurableStore, SpiedConnection], failure: BaseException
) -> None:
    """Any exception in the writer: the waiting sends and every later one get a 500 at once, health says broken."""
    url, store, spy = spied
    entered, release = threading.Event(), threading.Event()

    def fail_after_the_others_queued() -> None:
        entered.set()
        assert release.wait(30)
        raise failure

    spy.before_insert = fail_after_the_others_queued
    with (
        httpx.Client(base_url=url, timeout=20, limits=httpx.Limits(max_connections=8)) as client,
        concurrent.futures.ThreadPoolExecutor(8) as pool,
    ):
        first = pool.submit(_send, client, "first")
        assert entered.wait(30)
        queued = [pool.submit(_send, client, f"queued{n}") for n in range(7)]
        time.sleep(0.2)  # let the others reach the store's queue behind the failing batch
        release.set()
        answers = [first.result(timeout=30)] + [f.result(timeout=30) for f in queued]
        later = _send(client, "later")
    for answer in [*answers, later]:
        assert answer.status_code == 500, answer.text
        assert answer.json()["error_code"] == "DMS.00500000"
        assert "store" in answer.json()["error_msg"]
    assert store.broken is not None
    health = httpx.get(f"{url}/_emulator/health", timeout=10)
    assert health.status_code == 503
    assert health.json()["status"] == "broken"
    assert _stored(url) == []
