"""The emulator's query (ListMessages): parameter rules, matching, the stored fields, both stores' indexes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sqlite3
import sys
import tempfile
import urllib.parse
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from _shared.sqlite import connect as sqlite_connect
from dms_rocketmq_api.spec_rules import OPERATIONS
from dms_rocketmq_emulator import Settings, TopicSettings, create_app
from dms_rocketmq_emulator._auth import canonical_query
from dms_rocketmq_emulator._exceptions import BadRequestError
from dms_rocketmq_emulator._query import (
    CLUSTER_NAME,
    MessageQuery,
    body_crc,
    message_keys,
    message_view,
    query_rules,
    record_size,
    shown_properties,
)
from dms_rocketmq_emulator._store import DurableStore, MemoryStore, Store, StoreError
from dms_rocketmq_emulator._store._schema import SCHEMA_VERSION
from dms_rocketmq_emulator.models import PendingMessage, Property, StoredMessage, Topic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

INSTANCE = "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90"
ORDERS = Topic("orders", 3)
APP_PATH = f"/v2/rocketmq/0a1b2c3d4e5f60718293a4b5c6d7e8f9/instances/{INSTANCE}/messages"
PAYMENTS = Topic("payments", 2)


def parse(query_string: str) -> MessageQuery:
    return query_rules().parse(INSTANCE, query_string)


def refused(query_string: str) -> BadRequestError:
    with pytest.raises(BadRequestError) as caught:
        parse(query_string)
    return caught.value


# -- the parameter rules ------------------------------------------------------------------------------------


def test_query_by_msg_id_needs_no_time_range() -> None:
    """topic + msg_id is a whole query; limit and offset take the spec's defaults (10, 0)."""
    assert parse("topic=orders&msg_id=ABC") == MessageQuery(INSTANCE, "orders", msg_id="ABC", limit=10, offset=0)


def test_query_by_time_range_key_and_queue() -> None:
    """Every parameter of the reference is read: range in milliseconds, key, queue, page."""
    query = parse("topic=orders&start_time=100&end_time=200&key=k1&queue=2&limit=5&offset=7")
    assert query == MessageQuery(INSTANCE, "orders", None, "k1", 100, 200, 2, 5, 7)


@pytest.mark.parametrize(
    ("query_string", "parameter"),
    [
        ("msg_id=A", "topic"),  # missing topic
        ("topic=&msg_id=A", "topic"),  # empty topic
        ("topic=orders", "start_time"),  # neither msg_id nor a time range
        ("topic=orders&msg_id=", "start_time"),  # an empty msg_id is no msg_id
        ("topic=orders&start_time=1", "end_time"),  # half a range
        ("topic=orders&end_time=1", "start_time"),
        ("topic=orders&start_time=5&end_time=4", "end_time"),  # range backwards
        ("topic=orders&start_time=2026-12-01T00:00:00Z&end_time=9", "start_time"),  # not milliseconds
        ("topic=orders&start_time=-1&end_time=9", "start_time"),
        ("topic=orders&msg_id=A&limit=x", "limit"),  # non-numeric limit
        ("topic=orders&msg_id=A&limit=", "limit"),
        ("topic=orders&msg_id=A&limit=0", "limit"),  # below the spec's minimum
        ("topic=orders&msg_id=A&limit=1.5", "limit"),
        ("topic=orders&msg_id=A&offset=-1", "offset"),  # negative offset
        ("topic=orders&msg_id=A&offset=ten", "offset"),
        ("topic=orders&msg_id=A&queue=x", "queue"),
        ("topic=orders&msg_id=A&queue=", "queue"),
        ("topic=orders&msg_id=A&queue=-1", "queue"),
        ("topic=orders&topic=payments&msg_id=A", "topic"),  # repeated parameter
    ],
)
def test_every_bad_query_is_400_dms_00400062_naming_the_parameter(query_string: str, parameter: str) -> None:
    """Each bad query is refused with DMS.00400062 and a message naming the parameter at fault."""
    error = refused(query_string)
    assert (error.status, error.error_code) == (400, "DMS.00400062")
    assert error.error_msg == f"Invalid {parameter} parameter in the request."


def test_a_msg_id_query_may_be_narrowed_by_half_a_range() -> None:
    """With msg_id, the spec's conditions are met: a lone start_time narrows the query from that time on."""
    assert parse("topic=orders&msg_id=A&start_time=5") == MessageQuery(INSTANCE, "orders", msg_id="A", start_ms=5)


def test_rules_come_from_the_spec() -> None:
    """The parameters the emulator reads are exactly the spec's, in its order."""
    assert query_rules().names == ("topic", "queue", "limit", "offset", "key", "start_time", "end_time", "msg_id")


def test_huge_page_values_are_clamped_not_refused() -> None:
    """A page size or offset past anything storable is accepted (the spec sets no maximum)."""
    query = parse(f"topic=orders&msg_id=A&limit={10**25}&offset={10**25}")
    assert query.limit == query.offset == 2**62


_names = st.sampled_from(["topic", "queue", "limit", "offset", "key", "start_time", "end_time", "msg_id", "x"])


@settings(max_examples=300)
@given(st.lists(st.tuples(_names, st.text()), max_size=10) | st.text().map(lambda raw: [("raw", raw)]))
def test_any_query_string_parses_or_is_a_400(pairs: list[tuple[str, str]]) -> None:
    """Whatever the query string holds, parsing gives a MessageQuery or a 400 BadRequestError, nothing else."""
    query_string = pairs[0][1] if pairs and pairs[0][0] == "raw" else urllib.parse.urlencode(pairs)
    try:
        query = parse(query_string)
    except BadRequestError:  # always a 400 with the Huawei body
        return
    assert query.topic
    assert query.msg_id is not None or (query.start_ms is not None and query.end_ms is not None)
    assert query.limit >= 1
    assert query.offset >= 0


_values = st.text(st.sampled_from("ab +%&=é"), min_size=1, max_size=8)


@settings(max_examples=200)
@given(topic=_values, key=_values, safe=st.sampled_from(["", "+", "+%", "+&="]))
def test_the_query_run_is_the_query_signed(topic: str, key: str, safe: str) -> None:
    """Property: whatever a query string holds (a bare `+`, stray `%`, `&` or `=`), the parameters the query
    uses are the ones the signature check reads (openapi.yaml, akskSignature: a bare `+` is itself)."""
    raw = "&".join(f"{name}={urllib.parse.quote(value, safe=safe)}" for name, value in [("topic", topic), ("key", key)])
    raw += "&msg_id=A"
    signed: dict[str, list[str]] = {}
    try:
        canonical = canonical_query(raw)
    except BadRequestError:  # an escape that is not UTF-8 (`%ab`): no reading to verify, and none to run
        with pytest.raises(BadRequestError):
            parse(raw)
        return
    for part in canonical.split("&"):
        name, _, value = part.partition("=")
        signed.setdefault(urllib.parse.unquote(name), []).append(urllib.parse.unquote(value))
    try:
        query = parse(raw)
    except BadRequestError:
        return
    assert [query.topic] == signed["topic"]
    assert [query.key or ""] == signed["key"]


# Numbers of every length: short ones, ones around the int64 limit, and ones past Python's int() digit limit
# (sys.get_int_max_str_digits(), 4300 by default), with a sign and leading zeros now and then.
_numbers = st.builds(
    lambda sign, zeros, digits, padding: sign + "0" * zeros + digits + "9" * padding,
    st.sampled_from(["", "-"]),
    st.integers(0, 3),
    st.from_regex(r"[0-9]{1,40}", fullmatch=True),
    st.sampled_from([0, 0, 0, 1, 8, 18, 30, 4300, 5000, 20_000]),
)
_numeric_parameters = [name for name in query_rules().names if name != "topic"]


@contextlib.contextmanager
def _any_digits() -> Iterator[None]:
    """Lifts int()'s digit limit for the oracle (it must not share the emulator's shortcut)."""
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(limit)


def _spec_accepts(name: str, text: str) -> bool:
    """Whether the spec's schema of query parameter `name` accepts `text`: Python's jsonschema, which compares
    integers of any size exactly (jsonschema_rs compares huge ones as floats)."""
    schema = OPERATIONS["ListMessages"]["parameters"][name]["schema"]
    with _any_digits():
        value: Any = int(text) if schema.get("type") == "integer" else text
        return bool(jsonschema.Draft202012Validator(schema).is_valid(value))


def _list_messages(app: Any, query: dict[str, str]) -> httpx.Response:
    """One ListMessages request to `app` in-process (no sockets), after sending one message to `orders`."""

    async def run() -> httpx.Response:
        await app.store.start()
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
                sent = await client.post(APP_PATH, json={"topic": "orders", "body": "one"})
                assert sent.status_code == 200, sent.text
                params = {"topic": "orders", "msg_id": sent.json()["msg_id"]} | query
                return await client.get(APP_PATH, params=params)
        finally:
            await app.store.close()

    return asyncio.run(run())


@settings(max_examples=150)
@given(name=st.sampled_from(_numeric_parameters), number=_numbers)
def test_any_number_in_any_query_parameter_is_200_or_a_400_as_the_spec_says(name: str, number: str) -> None:
    """Property: a number of any length in any query parameter is never a 500; it is a 200 exactly when the
    spec's schema accepts it (a huge offset is past the end, a huge limit takes every match), else a 400."""
    response = _list_messages(create_app(Settings(data_dir=None, topics=(TopicSettings("orders"),))), {name: number})
    if not _spec_accepts(name, number):
        assert response.status_code == 400, response.text
        assert response.json() == {
            "error_code": "DMS.00400062",
            "error_msg": f"Invalid {name} parameter in the request.",
        }
        return
    assert response.status_code == 200, response.text
    if name in ("limit", "offset"):  # the query by msg_id matches the one message sent
        with _any_digits():
            offset = int(number) if name == "offset" else 0
        assert response.json()["total"] == 1
        assert len(response.json()["messages"]) == (1 if offset == 0 else 0)


@pytest.mark.parametrize("store", ["memory", "durable"])
@pytest.mark.parametrize("digits", [19, 20, 31, 4301, 50_000])
def test_huge_limit_and_offset_reach_both_stores(tmp_path: Path, store: str, digits: int) -> None:
    """Both stores answer a page size or an offset of any length: every match, or past the end with the total."""
    data_dir = None if store == "memory" else tmp_path
    huge = "9" * digits
    app = create_app(Settings(data_dir=data_dir, topics=(TopicSettings("orders"),)))
    assert [m["body"] for m in _list_messages(app, {"limit": huge}).json()["messages"]] == ["one"]
    app = create_app(Settings(data_dir=data_dir, topics=(TopicSettings("orders"),)))
    assert _list_messages(app, {"offset": huge}).json() == {"messages": [], "total": 1}


# -- what a stored message shows ----------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"test", "zażółć gęślą jaźń 🎉".encode(), bytes(range(256)) * 17])
def test_body_crc_is_rocketmq_utilall_crc32(body: bytes) -> None:
    """body_crc is java.util.zip.CRC32 (the same polynomial as zlib) of the body, masked with 0x7FFFFFFF."""
    assert body_crc(body) == zlib.crc32(body) & 0x7FFFFFFF
    assert 0 <= body_crc(body) < 2**31


def test_body_crc_known_values() -> None:
    """Two values computed by hand with Java's CRC32 (0xD87F7E0C and 0xCBF43926) masked to 31 bits."""
    assert body_crc(b"test") == 0xD87F7E0C & 0x7FFFFFFF
    assert body_crc(b"123456789") == 0xCBF43926 & 0x7FFFFFFF


def test_shown_properties_follow_the_reference_for_a_message_without_properties() -> None:
    """KEYS (empty), UNIQ_KEY, CLUSTER, TAGS (empty): the reference's example, in its order."""
    assert shown_properties([("UNIQ_KEY", "ID")], "ID") == [
        ("KEYS", ""),
        ("UNIQ_KEY", "ID"),
        ("CLUSTER", CLUSTER_NAME),
        ("TAGS", ""),
    ]


def test_shown_properties_keep_sent_keys_and_tags() -> None:
    """Sent KEYS and TAGS stay as sent, in order, and are not repeated empty."""
    shown = shown_properties([("KEYS", "a b"), ("TAGS", "t"), ("UNIQ_KEY", "ID")], "ID")
    assert shown == [("KEYS", "a b"), ("TAGS", "t"), ("UNIQ_KEY", "ID"), ("CLUSTER", CLUSTER_NAME)]


def test_store_size_is_rocketmqs_record_length() -> None:
    """91 fixed bytes (IPv4 hosts) + body + topic + properties encoded name\\x01value\\x02."""
    properties = [("KEYS", ""), ("UNIQ_KEY", "A" * 32), ("CLUSTER", "DmsCluster"), ("TAGS", "")]
    # 6 + 42 + 19 + 6 = 73 bytes of properties: a 4-byte body in a 7-character topic is 175, the size of
    # the reference's example.
    assert record_size(b"test", "topic-1", properties) == 175
    assert record_size("é".encode(), "t", []) == 91 + 2 + 1


def test_message_keys_are_every_key_of_every_keys_entry() -> None:
    """Keys are split on spaces, across KEYS entries, each once; TAGS and others are not keys."""
    properties: list[Property] = [("KEYS", "a b"), ("TAGS", "c"), ("KEYS", "b d"), ("UNIQ_KEY", "e")]
    assert message_keys(properties) == ["a", "b", "d"]


# -- both stores: indexes agree with the definition ---------------------------------------------------------


def _pending(topic: Topic, body: str, keys: str | None = None, tag: str | None = None) -> PendingMessage:
    properties: list[Property] = []
    if keys is not None:
        properties.append(("KEYS", keys))
    if tag is not None:
        properties.append(("TAGS", tag))
    return PendingMessage(INSTANCE, topic, body, tuple(properties), 0, "10.1.2.3:4567")


StoreFactory = Callable[[], Store]


@pytest.fixture(params=["memory", "durable"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    counter = iter(range(1000))

    def factory() -> Store:
        if request.param == "memory":
            return MemoryStore()
        return DurableStore(tmp_path / f"data{next(counter)}")

    return factory


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def _fill(store: Store, messages: list[PendingMessage]) -> list[StoredMessage]:
    return [await store.append(m) for m in messages]


def test_query_semantics_in_both_stores(make_store: StoreFactory) -> None:
    """By msg_id, by any one key, by queue, by inclusive time range, paging, and total = matches."""

    async def scenario() -> None:
        store = make_store()
        await store.start()
        try:
            stored = await _fill(
                store,
                [
                    _pending(ORDERS, "o0", "k1 k2", "t"),
                    _pending(ORDERS, "o1", "k2"),
                    _pending(ORDERS, "o2"),
                    _pending(ORDERS, "o3", "k2 k3"),
                    _pending(PAYMENTS, "p0", "k2"),
                ],
            )
            everything = MessageQuery(INSTANCE, "orders", start_ms=0, end_ms=2**62, limit=100)
            total, page = await store.query(everything)
            assert (total, [m.body for m in page]) == (4, ["o0", "o1", "o2", "o3"])
            by_id = MessageQuery(INSTANCE, "orders", msg_id=stored[1].msg_id)
            assert [m.body for m in (await store.query(by_id))[1]] == ["o1"]
            # A msg_id of another topic is not this topic's.
            assert await store.query(MessageQuery(INSTANCE, "orders", msg_id=stored[4].msg_id)) == (0, [])
            by_key = MessageQuery(INSTANCE, "orders", key="k2", start_ms=0, end_ms=2**62)
            total, page = await store.query(by_key)
            assert (total, [m.body for m in page]) == (3, ["o0", "o1", "o3"])
            paged = MessageQuery(INSTANCE, "orders", key="k2", start_ms=0, end_ms=2**62, limit=2, offset=1)
            total, page = await store.query(paged)
            assert (total, [m.body for m in page]) == (3, ["o1", "o3"])
            past_the_end = MessageQuery(INSTANCE, "orders", start_ms=0, end_ms=2**62, offset=9)
            assert await store.query(past_the_end) == (4, [])
            queue = MessageQuery(INSTANCE, "orders", start_ms=0, end_ms=2**62, queue_id=0)
            assert [m.body for m in (await store.query(queue))[1]] == ["o0", "o3"]
            exact = stored[2].stored_at_ms
            in_range = MessageQuery(INSTANCE, "orders", start_ms=exact, end_ms=exact, limit=100)
            assert stored[2] in (await store.query(in_range))[1]  # both ends included
            before = MessageQuery(INSTANCE, "orders", start_ms=0, end_ms=stored[0].stored_at_ms - 1)
            assert await store.query(before) == (0, [])
            other = MessageQuery("22222222-3333-4444-8555-666666666666", "orders", start_ms=0, end_ms=2**62)
            assert await store.query(other) == (0, [])
        finally:
            await store.close()

    run(scenario())


def test_stored_fields_are_filled_and_survive_a_restart(tmp_path: Path) -> None:
    """Timestamps, CRC, size, hosts and properties are kept on disk and read back equal after a restart."""

    async def scenario() -> None:
        store = DurableStore(tmp_path, ip="127.0.0.1")
        await store.start()
        [sent] = await _fill(store, [_pending(ORDERS, "hello", "k1", "tag")])
        await store.close()
        store = DurableStore(tmp_path, ip="127.0.0.1")
        await store.start()
        try:
            _, [read] = await store.query(MessageQuery(INSTANCE, "orders", msg_id=sent.msg_id))
        finally:
            await store.close()
        assert read == sent
        view = message_view(read)
        assert view["body_crc"] == zlib.crc32(b"hello") & 0x7FFFFFFF
        assert view["store_size"] == record_size(b"hello", "orders", shown_properties(sent.properties, sent.msg_id))
        assert view["born_host"] == "10.1.2.3:4567"
        assert view["store_host"] == "127.0.0.1:10911"
        assert 0 < view["born_timestamp"] <= view["store_timestamp"]
        assert {p["name"] for p in view["property_list"]} == {"KEYS", "TAGS", "UNIQ_KEY", "CLUSTER"}

    run(scenario())


def test_bulk_load_is_queryable_like_sends(make_store: StoreFactory) -> None:
    """`load` places and indexes messages as sends do: same offsets, same answers to queries."""

    async def scenario() -> None:
        store = make_store()
        await store.start()
        try:
            count = await store.load(_pending(ORDERS, f"b{n}", f"key-{n} all") for n in range(50))
            assert count == 50
            stored = await store.append(_pending(ORDERS, "after", "key-after"))
            assert (stored.queue_id, stored.queue_offset) == (50 % 3, 50 // 3)
            total, page = await store.query(MessageQuery(INSTANCE, "orders", key="all", start_ms=0, end_ms=2**62))
            assert total == 50
            assert [m.body for m in page] == [f"b{n}" for n in range(10)]
            _, [found] = await store.query(MessageQuery(INSTANCE, "orders", key="key-7", start_ms=0, end_ms=2**62))
            assert found.body == "b7"
        finally:
            await store.close()

    run(scenario())


def test_reset_empties_the_indexes(make_store: StoreFactory) -> None:
    """After a reset no query finds a message sent before it, by key or by msg_id."""

    async def scenario() -> None:
        store = make_store()
        await store.start()
        try:
            [old] = await _fill(store, [_pending(ORDERS, "old", "k")])
            await store.reset()
            assert await store.query(MessageQuery(INSTANCE, "orders", msg_id=old.msg_id)) == (0, [])
            assert await store.query(MessageQuery(INSTANCE, "orders", key="k", start_ms=0, end_ms=2**62)) == (0, [])
        finally:
            await store.close()

    run(scenario())


_keys = st.lists(st.sampled_from(["a", "b", "c"]), max_size=3).map(lambda ks: " ".join(ks) or None)
OTHER_INSTANCE = "22222222-3333-4444-8555-666666666666"
_messages = st.lists(
    st.tuples(st.sampled_from([INSTANCE, INSTANCE, OTHER_INSTANCE]), st.sampled_from([ORDERS, PAYMENTS]), _keys),
    min_size=1,
    max_size=25,
)
_queries = st.fixed_dictionaries(
    {
        "instance": st.sampled_from([INSTANCE, OTHER_INSTANCE]),
        "topic": st.sampled_from(["orders", "payments"]),
        "key": st.none() | st.sampled_from(["a", "b", "c", "z"]),
        "queue_id": st.none() | st.integers(0, 3),
        "by_id": st.none() | st.integers(0, 30),
        "window": st.none() | st.tuples(st.integers(0, 30), st.integers(0, 30)),
        "limit": st.integers(1, 30),
        "offset": st.integers(0, 30),
    }
)


def _pending_in(instance: str, topic: Topic, keys: str | None) -> PendingMessage:
    return dataclasses.replace(_pending(topic, "m", keys), instance_id=instance)


async def _reopened(store: Store) -> Store:
    """The durable store closed and opened again on its data directory (the memory store as it is)."""
    if not isinstance(store, DurableStore):
        return store
    await store.close()
    again = DurableStore(store.data_dir)
    await again.start()
    return again


async def _answers_equal_the_definition(store: Store, queries: list[dict[str, Any]]) -> None:
    """Each query's indexed answer equals filtering every message with MessageQuery.matches, in store order,
    then taking the page."""
    # The oracle reads every message without the query indexes (the control API's plain read).
    _, stored = await store.messages(None, None, 10**6, 0)
    times = sorted({m.stored_at_ms for m in stored})
    for spec in queries:
        msg_id = None
        if spec["by_id"] is not None:
            msg_id = stored[spec["by_id"]].msg_id if spec["by_id"] < len(stored) else "NO-SUCH-ID"
        start = end = None
        if spec["window"] is not None or msg_id is None:
            low, high = spec["window"] or (0, 30)
            # Bounds around real store times, so that ranges cut through the messages.
            start = times[min(low, len(times) - 1)] - (low % 2)
            end = times[min(high, len(times) - 1)] + (high % 2)
        query = MessageQuery(
            spec["instance"],
            spec["topic"],
            msg_id,
            spec["key"],
            start,
            end,
            spec["queue_id"],
            spec["limit"],
            spec["offset"],
        )
        expected = [m for m in stored if query.matches(m)]
        page = expected[query.offset : query.offset + query.limit]
        assert await store.query(query) == (len(expected), page), query


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    messages=_messages,
    split=st.integers(0, 25),
    reset_first=st.booleans(),
    queries=st.lists(_queries, min_size=1, max_size=8),
)
def test_indexed_query_equals_the_definition(
    make_store: StoreFactory,
    messages: list[tuple[str, Topic, str | None]],
    split: int,
    reset_first: bool,
    queries: list[dict[str, Any]],
) -> None:
    """Whatever was stored (loaded, then sent one by one after a restart, perhaps after a reset, in two
    instances) and asked, each store's indexed answer equals the definition: memory and durable alike."""

    async def scenario() -> None:
        store = make_store()
        await store.start()
        try:
            if reset_first:
                await store.load(_pending_in(*message) for message in messages[:3])
                await store.reset()
            await store.load(_pending_in(*message) for message in messages[:split])
            store = await _reopened(store)
            for message in messages[split:]:
                await store.append(_pending_in(*message))
            await _answers_equal_the_definition(store, queries)
        finally:
            await store.close()

    run(scenario())


# -- old data directories -----------------------------------------------------------------------------------

_OLD_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE topics (
    instance_id TEXT NOT NULL, name TEXT NOT NULL, queues INTEGER NOT NULL,
    PRIMARY KEY (instance_id, name)) WITHOUT ROWID;
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY,
    instance_id TEXT NOT NULL, topic TEXT NOT NULL, queue_id INTEGER NOT NULL, queue_offset INTEGER NOT NULL,
    msg_id TEXT NOT NULL, body TEXT NOT NULL, properties TEXT NOT NULL, stored_at_ms INTEGER NOT NULL);
CREATE INDEX messages_by_topic ON messages (topic, seq);
"""


def _old_data_dir(path: Path) -> None:
    """A data directory exactly as the emulator wrote it before queries existed (schema version 0)."""
    path.mkdir()
    db = sqlite3.connect(path / "messages.sqlite3")
    db.executescript(_OLD_SCHEMA)
    db.execute("INSERT INTO meta VALUES ('generation', 7)")
    rows = [
        (1, INSTANCE, "orders", 0, 0, "7F0000010001000000070000000A0001", "first", [["KEYS", "k1 k2"]], 1000),
        (2, INSTANCE, "orders", 1, 0, "7F0000010001000000070000000B0002", "zweite é", [["TAGS", "t"]], 2000),
    ]
    for *head, properties, stored_at in rows:
        msg_id = head[5]
        db.execute(
            "INSERT INTO messages VALUES (?,?,?,?,?,?,?,?,?)",
            (*head, json.dumps([*properties, ["UNIQ_KEY", msg_id]]), stored_at),
        )
    db.commit()
    db.close()


def test_old_data_dir_is_migrated_and_queryable(tmp_path: Path) -> None:
    """A version-0 data directory opens: new columns are filled from each row, keys are indexed, placement
    goes on, and the version is recorded so that the next start does not migrate again."""
    data = tmp_path / "old"
    _old_data_dir(data)

    async def scenario() -> None:
        store = DurableStore(data, ip="127.0.0.1")
        await store.start()
        try:
            total, [first] = await store.query(MessageQuery(INSTANCE, "orders", key="k2", start_ms=0, end_ms=5000))
            assert total == 1
            assert first.body == "first"
            view = message_view(first)
            assert view["body_crc"] == zlib.crc32(b"first") & 0x7FFFFFFF
            assert view["born_timestamp"] == view["store_timestamp"] == 1000
            assert view["store_host"] == view["born_host"] == "127.0.0.1:10911"
            _, [second] = await store.query(MessageQuery(INSTANCE, "orders", msg_id="7F0000010001000000070000000B0002"))
            assert second.store_size == record_size(
                "zweite é".encode(), "orders", shown_properties(second.properties, second.msg_id)
            )
            sent = await store.append(_pending(ORDERS, "new"))
            assert (sent.queue_id, sent.queue_offset, sent.seq) == (2, 0, 3)
            assert sent.stored_at_ms >= 2000
        finally:
            await store.close()

    run(scenario())
    db = sqlite3.connect(data / "messages.sqlite3")
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("SELECT COUNT(*) FROM message_keys").fetchone()[0] == 2
    finally:
        db.close()
    # A second start finds nothing left to migrate and keeps every answer.
    run(_reopen_and_count(data))


async def _reopen_and_count(data: Path) -> None:
    store = DurableStore(data)
    await store.start()
    try:
        total, _ = await store.query(MessageQuery(INSTANCE, "orders", start_ms=0, end_ms=2**62))
        assert total == 3
    finally:
        await store.close()


def test_an_old_data_dir_larger_than_a_backfill_page_is_migrated_whole(tmp_path: Path) -> None:
    """Migration fills the new columns and the key index page by page: every row of a data directory larger
    than one page is filled, the last page's single row too."""
    data = tmp_path / "old"
    data.mkdir()
    count = 10_001  # one more than _backfill reads per page
    db = sqlite3.connect(data / "messages.sqlite3")
    db.executescript(_OLD_SCHEMA)
    db.executemany(
        "INSERT INTO messages VALUES (?,?,?,?,?,?,?,?,?)",
        (
            (seq, INSTANCE, "orders", 0, seq - 1, f"{seq:032X}", "b", json.dumps([["KEYS", f"k{seq}"]]), seq)
            for seq in range(1, count + 1)
        ),
    )
    db.commit()
    db.close()
    store = DurableStore(data)
    store.open()
    asyncio.run(store.close())
    db = sqlite3.connect(data / "messages.sqlite3")
    try:
        assert db.execute("SELECT COUNT(*) FROM messages WHERE store_host = ''").fetchone() == (0,)
        assert db.execute("SELECT COUNT(*) FROM message_keys").fetchone() == (count,)
    finally:
        db.close()


def test_a_failed_migration_leaves_the_data_dir_as_it_was(tmp_path: Path) -> None:
    """A migration SQLite refuses half-way is a StoreError naming the file and SQLite's reason; it is rolled
    back whole, so a later start (once the disk is fixed) migrates from the start."""
    data = tmp_path / "old"
    _old_data_dir(data)
    db = sqlite3.connect(data / "messages.sqlite3")
    db.execute("CREATE TRIGGER fail BEFORE UPDATE ON messages BEGIN SELECT RAISE(ABORT, 'simulated disk error'); END")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match=r"cannot be used: simulated disk error$"):
        DurableStore(data).open()
    db = sqlite3.connect(data / "messages.sqlite3")
    try:
        assert db.execute("PRAGMA user_version").fetchone() == (0,)
        assert "store_host" not in {row[1] for row in db.execute("PRAGMA table_info(messages)")}
        db.execute("DROP TRIGGER fail")
        db.commit()
    finally:
        db.close()

    async def query_by_key() -> tuple[int, list[StoredMessage]]:
        store = DurableStore(data)
        await store.start()
        try:
            return await store.query(MessageQuery(INSTANCE, "orders", key="k2", start_ms=0, end_ms=5000))
        finally:
            await store.close()

    total, [first] = run(query_by_key())
    assert (total, first.body, first.store_host) == (1, "first", "127.0.0.1:10911")


_VERSION_1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE topics (
    instance_id TEXT NOT NULL, name TEXT NOT NULL, queues INTEGER NOT NULL,
    PRIMARY KEY (instance_id, name)) WITHOUT ROWID;
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY,
    instance_id TEXT NOT NULL, topic TEXT NOT NULL, queue_id INTEGER NOT NULL, queue_offset INTEGER NOT NULL,
    msg_id TEXT NOT NULL, body TEXT NOT NULL, properties TEXT NOT NULL, stored_at_ms INTEGER NOT NULL,
    born_at_ms INTEGER NOT NULL DEFAULT 0, born_host TEXT NOT NULL DEFAULT '', store_host TEXT NOT NULL DEFAULT '',
    body_crc INTEGER NOT NULL DEFAULT 0, store_size INTEGER NOT NULL DEFAULT 0);
CREATE INDEX messages_by_topic ON messages (topic, seq);
CREATE TABLE message_keys (
    instance_id TEXT NOT NULL, topic TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (instance_id, topic, key, seq)) WITHOUT ROWID;
CREATE INDEX messages_by_msg_id ON messages (msg_id);
CREATE INDEX messages_by_time ON messages (topic, stored_at_ms);
PRAGMA user_version = 1;
"""


@settings(max_examples=15)
@given(
    placements=st.lists(
        st.tuples(st.sampled_from([INSTANCE, OTHER_INSTANCE]), st.sampled_from([ORDERS, PAYMENTS]), st.integers(0, 2)),
        min_size=1,
        max_size=30,
    ),
    queries=st.lists(_queries, min_size=1, max_size=8),
)
def test_a_version_1_data_dir_is_migrated_to_positions_and_answers_alike(
    placements: list[tuple[str, Topic, int]], queries: list[dict[str, Any]]
) -> None:
    """A data directory written with schema version 1 (no positions) opens: each topic's messages get their
    positions 1, 2, 3, ... in store order, every query answers as the definition says, and sends go on
    after the last position."""
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        db = sqlite3.connect(data / "messages.sqlite3")
        try:
            db.executescript(_VERSION_1_SCHEMA)
            offsets: dict[tuple[str, str, int], int] = {}
            stored_at = 1000
            for seq, (instance, topic, step) in enumerate(placements, start=1):
                queue_id = seq % topic.queues
                queue = (instance, topic.name, queue_id)
                offset = offsets[queue] = offsets.get(queue, -1) + 1
                stored_at += step  # several messages in one millisecond, as happens
                msg_id = f"{seq:032X}"
                keys = "a b" if seq % 3 == 0 else "c"
                properties = json.dumps([["KEYS", keys], ["UNIQ_KEY", msg_id]])
                db.execute(
                    "INSERT INTO messages VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        seq,
                        instance,
                        topic.name,
                        queue_id,
                        offset,
                        msg_id,
                        "m",
                        properties,
                        stored_at,
                        stored_at,
                        "h:1",
                        "h:1",
                        0,
                        0,
                    ),
                )
                db.executemany(
                    "INSERT INTO message_keys VALUES (?,?,?,?)", [(instance, topic.name, k, seq) for k in keys.split()]
                )
            db.commit()
        finally:
            db.close()

        async def scenario() -> None:
            store = DurableStore(data)
            await store.start()
            try:
                await _answers_equal_the_definition(store, queries)
                sent = await store.append(_pending(ORDERS, "new"))
                await _answers_equal_the_definition(store, queries)
                assert (await store.query(MessageQuery(INSTANCE, "orders", msg_id=sent.msg_id)))[1] == [sent]
            finally:
                await store.close()

        run(scenario())
        with sqlite_connect(data / "messages.sqlite3") as db:
            assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
            for instance, topic in {(i, t.name) for i, t, _ in placements} | {(INSTANCE, "orders")}:
                positions = [
                    row[0]
                    for row in db.execute(
                        "SELECT topic_pos FROM messages WHERE instance_id = ? AND topic = ? ORDER BY seq",
                        (instance, topic),
                    )
                ]
                assert positions == list(range(1, len(positions) + 1))


def test_a_data_dir_with_a_position_missing_still_answers_right(tmp_path: Path) -> None:
    """Rows deleted by hand leave holes in the positions: a range query then reads row by row, and every
    answer still equals the definition."""
    data = tmp_path / "data"
    queries = [
        {"instance": INSTANCE, "topic": "orders", "key": None, "queue_id": queue_id, "by_id": None}
        | {"window": window, "limit": limit, "offset": offset}
        for queue_id in (None, 0, 1)
        for window in (None, (0, 3), (2, 30))
        for limit, offset in ((2, 0), (30, 1), (3, 4))
    ]

    async def fill() -> None:
        store = DurableStore(data)
        await store.start()
        try:
            await _fill(store, [_pending(ORDERS, str(n)) for n in range(12)])
        finally:
            await store.close()

    async def check() -> None:
        store = DurableStore(data)
        await store.start()
        try:
            await _answers_equal_the_definition(store, queries)
        finally:
            await store.close()

    run(fill())
    with sqlite_connect(data / "messages.sqlite3") as db:
        db.execute("DELETE FROM messages WHERE body IN ('4', '7')")
    run(check())
