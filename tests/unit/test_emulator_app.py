"""The ASGI app called in-process (no sockets): error mapping, the 500 fallback, the schema loader."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dms_rocketmq_emulator import Settings, TopicSettings, create_app
from dms_rocketmq_emulator._exceptions import NotFoundError
from dms_rocketmq_emulator._schema import load_spec, request_schema
from dms_rocketmq_emulator._store import DurableStore, MemoryStore, StoreError
from dms_rocketmq_emulator._store._writer import _chunks
from dms_rocketmq_emulator.models import PendingMessage, Topic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PATH = "/v2/rocketmq/0a1b2c3d4e5f60718293a4b5c6d7e8f9/instances/11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90/messages"


def _call(app: Any, body: bytes, path: str = PATH, method: str = "POST") -> tuple[int, dict[str, str], Any]:
    async def run() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        chunks = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            return chunks.pop(0) if chunks else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app.store.start()
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [],
        }
        await app(scope, receive, send)
        await app.store.close()
        return sent

    sent = asyncio.run(run())
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], headers, json.loads(sent[1]["body"])


def test_unexpected_store_failure_is_500_with_huawei_body() -> None:
    """A bug or a broken store answers 500 DMS.00500000 with an X-Request-Id, never a bare traceback."""

    class BrokenStore(MemoryStore):
        async def append(self, message: PendingMessage) -> Any:
            raise RuntimeError("boom")

    app = create_app(Settings(data_dir=None, topics=(TopicSettings("orders"),)), store=BrokenStore())
    status, headers, body = _call(app, b'{"topic": "orders", "body": "x"}')
    assert status == 500
    assert body == {"error_code": "DMS.00500000", "error_msg": "Internal service error."}
    assert len(headers["x-request-id"]) == 32


def test_fuzzed_bodies_never_give_500() -> None:
    """A spread of malformed bodies all get 4xx answers."""
    app = create_app(Settings(data_dir=None, topics=(TopicSettings("orders"),)))
    bodies = [
        b"\x00",
        b"[]",
        b"{}",
        b"null",
        b'{"topic": null, "body": null}',
        b'{"topic": "orders", "body": "x", "property_list": [1]}',
        b'{"topic": "orders", "body": "x", "property_list": [{"name": 1}]}',
        b'{"topic": ["orders"], "body": "x"}',
        b'{"topic": "orders", "body": "\\udfff"}',
        b'{"topic": "orders", "body": "x", "property_list": [{"name": "KEYS", "value": "\\ud800"}]}',
        b"1e999999",
        b'"' + b"a" * 100 + b'"',
        b"{" * 10000,
        b'{"topic": "orders", "body": "x"}garbage',
    ]
    for raw in bodies:
        status, _, body = _call(app, raw)
        assert 400 <= status < 500, (raw[:40], status, body)
        assert body["error_code"].startswith("DMS.")


def test_schema_and_routes_come_from_packaged_spec() -> None:
    """The validator and the routes (engines included) are built from openapi.yaml."""
    spec = load_spec()
    schema = request_schema()
    routes = create_app().send_message.routes
    for engine in spec["components"]["schemas"]["Engine"]["enum"]:
        assert routes.match("POST", PATH.replace("/rocketmq/", f"/{engine}/")).operation_id == "SendMessage"
    with pytest.raises(NotFoundError):
        routes.match("POST", PATH.replace("/rocketmq/", "/kafka/"))
    assert schema.first_error({"topic": "orders", "body": "x"}) is None
    assert request_schema() is schema  # compiled once per process


def test_durable_store_failed_write_leaves_no_offset_gap(tmp_path: Path) -> None:
    """When a write fails its sender gets StoreError, and the next message takes the offset the failed one had."""

    async def run() -> list[int]:
        store = DurableStore(tmp_path)
        store.open()
        assert store._db is not None
        store._db.execute(
            "CREATE TRIGGER fail BEFORE INSERT ON messages WHEN NEW.body = 'boom'"
            " BEGIN SELECT RAISE(ABORT, 'simulated disk error'); END"
        )
        await store.start()
        topic = Topic("orders", 1)
        offsets = [(await store.append(PendingMessage("i", topic, "a", ()))).queue_offset]
        with pytest.raises(StoreError):
            await store.append(PendingMessage("i", topic, "boom", ()))
        offsets.append((await store.append(PendingMessage("i", topic, "b", ()))).queue_offset)
        total, messages = await store.messages(None, None, 10, 0)
        await store.close()
        assert total == 2
        assert [m.body for m in messages] == ["a", "b"]
        return offsets

    assert asyncio.run(run()) == [0, 1]


def test_durable_store_restores_placement(tmp_path: Path) -> None:
    """A reopened store continues each queue's offsets and the round-robin from what is on disk."""

    async def send(bodies: list[str]) -> list[tuple[int, int]]:
        store = DurableStore(tmp_path)
        await store.start()
        topic = Topic("orders", 3)
        out = [
            (m.queue_id, m.queue_offset)
            for m in [await store.append(PendingMessage("i", topic, b, ())) for b in bodies]
        ]
        await store.close()
        return out

    assert asyncio.run(send(["a", "b", "c", "d"])) == [(0, 0), (1, 0), (2, 0), (0, 1)]
    assert asyncio.run(send(["e", "f"])) == [(1, 1), (2, 1)]


def test_pytest_plugin_imports_without_the_emulator_extra() -> None:
    """The auto-loaded pytest plugin needs neither Starlette, uvicorn, jsonschema-rs nor PyYAML."""
    code = (
        "import sys\n"
        "for name in ('starlette', 'uvicorn', 'jsonschema_rs', 'yaml'): sys.modules[name] = None\n"
        "import dms_rocketmq_emulator.pytest_plugin\n"
        "from dms_rocketmq_emulator import Settings, decode_msg_id\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
_near_valid = st.fixed_dictionaries(
    {
        "topic": st.one_of(st.just("orders"), st.text(max_size=70)),
        "body": st.one_of(st.text(max_size=50), _json_values),
    },
    optional={
        "property_list": st.one_of(
            _json_values,
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "name": st.one_of(st.sampled_from(["KEYS", "TAGS", "UNIQ_KEY"]), _json_values),
                        "value": st.one_of(st.text(max_size=140), _json_values),
                    },
                ),
                max_size=4,
            ),
        )
    },
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(document=st.one_of(_near_valid, _json_values), raw=st.binary(max_size=64), use_raw=st.booleans())
def test_no_input_gives_500(document: Any, raw: bytes, use_raw: bool) -> None:
    """Property: whatever JSON or bytes are sent, the answer is 200 or a 4xx Huawei error, never a 500."""
    app = create_app(Settings(data_dir=None, topics=(TopicSettings("orders"),)))
    status, headers, body = _call(app, raw if use_raw else json.dumps(document).encode())
    assert status == 200 or 400 <= status < 500, body
    assert len(headers["x-request-id"]) == 32
    if status != 200:
        assert set(body) == {"error_code", "error_msg"}


def test_write_chunks_respect_row_and_size_limits() -> None:
    """A batch is split into statements of at most 2184 rows (32,766 parameters, 15 a row) and about 32 MiB of
    bodies, in order."""
    small = [(0, "", "", 0, 0, "", "x", "", 0, 0, "", "", 0, 0, 1)] * 8000
    assert _chunks(small) == [(0, 2184), (2184, 4368), (4368, 6552), (6552, 8000)]
    big = [(0, "", "", 0, 0, "", "x" * (4 * 1024 * 1024), "", 0, 0, "", "", 0, 0, 1)] * 20
    assert _chunks(big) == [(0, 8), (8, 16), (16, 20)]
    assert _chunks([]) == []


def test_sends_queued_during_a_commit_share_the_next_one(tmp_path: Path) -> None:
    """Group commit: 50 sends queued while the writer waits on the disk go to disk in at most 2 transactions."""

    async def run() -> tuple[dict[str, int], list[int]]:
        store = DurableStore(tmp_path)
        await store.start()
        blocker = sqlite3.connect(store.path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # holds the write lock: the writer's first INSERT has to wait
        topic = Topic("orders", 1)
        tasks = [asyncio.create_task(store.append(PendingMessage("i", topic, f"m{n}", ()))) for n in range(50)]
        for _ in range(3):  # each task queues its message before its first await: one loop turn is enough
            await asyncio.sleep(0)
        blocker.execute("ROLLBACK")
        blocker.close()
        offsets = [(await task).queue_offset for task in tasks]
        stats = dict(store.stats)
        await store.close()
        return stats, offsets

    stats, offsets = asyncio.run(run())
    assert offsets == list(range(50))
    assert stats["messages"] == 50
    assert stats["commits"] <= 2


def test_an_operation_the_emulator_does_not_serve_is_a_clear_501() -> None:
    """An operation of the spec without a handler (ListMessages, its handler taken away) is a 501, not a 405
    that would contradict `Allow`."""
    app = create_app()
    app.send_message.list_messages = None
    status, _, body = _call(app, b"", method="GET")
    assert status == 501
    assert body["error_code"] == "DMS.00501000"
    assert "ListMessages" in body["error_msg"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize(
    "where",
    [
        '{{"topic":"orders","body":"x","n":{}}}',
        '{{"topic":"orders","body":{}}}',
        '{{"topic":"orders","body":"x","property_list":[{{"name":"KEYS","value":"k","x":[{}]}}]}}',
    ],
)
def test_nan_and_infinity_are_not_json(constant: str, where: str) -> None:
    """NaN, Infinity and -Infinity anywhere in a body are refused as not JSON (400 DMS.00400005)."""
    app = create_app(Settings(data_dir=None, topics=(TopicSettings("orders"),)))
    status, _, body = _call(app, where.format(constant).encode())
    assert (status, body["error_code"]) == (400, "DMS.00400005")


def _keys_value(total: int, char: str) -> str:
    """A KEYS value of keys of 128 `char`s, then ASCII fillers, exactly `total` UTF-8 bytes long."""
    keys: list[str] = []
    size = -1
    while size + 1 + 128 * len(char.encode()) <= total:
        keys.append(char * 128)
        size += 1 + 128 * len(char.encode())
    while size < total:
        keys.append("a" * min(128, total - size - 1))
        size += 1 + len(keys[-1])
    return " ".join(keys)


@pytest.mark.parametrize(("size", "status"), [(16384, 200), (16385, 400)])
@pytest.mark.parametrize("char", ["a", "é", "\U0001f600"])
def test_a_property_value_is_limited_to_16384_utf8_bytes(size: int, status: int, char: str) -> None:
    """A property of exactly 16,384 UTF-8 bytes is stored; one byte more is DMS.00400062, however few characters."""
    app = create_app(Settings(data_dir=None, topics=(TopicSettings("orders"),)))
    value = _keys_value(size, char)
    document = {"topic": "orders", "body": "x", "property_list": [{"name": "KEYS", "value": value}]}
    got, _, body = _call(app, json.dumps(document, ensure_ascii=False).encode())
    assert got == status, body
    if status == 400:
        assert body["error_code"] == "DMS.00400062"
        assert "property_list[0].value" in body["error_msg"]
