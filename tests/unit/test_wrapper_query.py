"""Reading back: get_message, query_messages and confirm against a fake DMS (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import datetime
import json
import pathlib
from collections.abc import Callable
from typing import Any

import dms_rocketmq as dms
import httpx
import pytest
import yaml
from _shared.fake_dms import REQUEST_ID, SETTINGS, async_client, error, sync_client
from dms_rocketmq._confirm import PollSchedule
from dms_rocketmq._constants import QUERY_END_MARGIN_MS
from dms_rocketmq._query import query_arguments
from dms_rocketmq._retry import should_retry
from hypothesis import given
from hypothesis import strategies as st

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC: dict[str, Any] = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
PATH = "/v2/{engine}/{project_id}/instances/{instance_id}/messages"
QUERY_EXAMPLES = SPEC["paths"][PATH]["get"]["responses"]["200"]["content"]["application/json"]["examples"]
URL_PATH = f"/v2/rocketmq/{SETTINGS['project_id']}/instances/{SETTINGS['instance_id']}/messages"


class FakeDMS:
    """A fake service that stores what is sent and answers queries over what it stored.

    `hidden_polls` queries by msg_id find nothing before the message shows (indexing lag); `alter` changes a
    message as it is stored (a planted defect).
    """

    def __init__(self, *, hidden_polls: int = 0, alter: Callable[[dict[str, Any]], dict[str, Any]] | None = None):
        self.messages: list[dict[str, Any]] = []
        self.queries: list[httpx.QueryParams] = []
        self.hidden_polls = hidden_polls
        self.alter = alter

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return self._send(json.loads(request.content))
        self.queries.append(request.url.params)
        return self._query(request.url.params)

    def _send(self, sent: dict[str, Any]) -> httpx.Response:
        offset = len(self.messages)
        msg_id = f"7F00000100C8A1B2C3D4000A51E{offset:05X}"
        properties = [*sent.get("property_list", []), {"name": "UNIQ_KEY", "value": msg_id}]
        message = {
            "msg_id": msg_id,
            "instance_id": SETTINGS["instance_id"],
            "topic": sent["topic"],
            "store_timestamp": 1764586800000 + offset,
            "born_timestamp": 1764586799990 + offset,
            "reconsume_times": 0,
            "body": sent["body"],
            "body_crc": 12345,
            "store_size": 200,
            "property_list": [*properties, {"name": "CLUSTER", "value": "DmsCluster"}],
            "born_host": "127.0.0.1:50098",
            "store_host": "127.0.0.1:10911",
            "queue_id": 0,
            "queue_offset": offset,
        }
        self.messages.append(self.alter(message) if self.alter else message)
        answer = {**{k: message[k] for k in ("msg_id", "topic", "body", "queue_id", "queue_offset")}}
        answer.update(property_list=properties, broker_name="broker-0")
        return httpx.Response(200, json=answer, headers={"X-Request-Id": REQUEST_ID})

    def _query(self, params: httpx.QueryParams) -> httpx.Response:
        found = [m for m in self.messages if m["topic"] == params["topic"]]
        if "msg_id" in params:
            if self.hidden_polls > 0:
                self.hidden_polls -= 1
                found = []
            found = [m for m in found if m["msg_id"] == params["msg_id"]]
        if "key" in params:
            found = [m for m in found if params["key"] in _keys(m)]
        if "start_time" in params:
            start, end = int(params["start_time"]), int(params["end_time"])
            found = [m for m in found if start <= m["store_timestamp"] <= end]
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 10))
        body = {"messages": found[offset : offset + limit], "total": len(found)}
        return httpx.Response(200, json=body, headers={"X-Request-Id": REQUEST_ID})


def _keys(message: dict[str, Any]) -> list[str]:
    return next((p["value"].split(" ") for p in message["property_list"] if p["name"] == "KEYS"), [])


def answering(body: Any, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    """A handler that answers every request with `body` as JSON."""
    return lambda request: httpx.Response(status, json=body, headers={"X-Request-Id": REQUEST_ID})


def test_get_message_sends_the_generated_query_and_types_every_field() -> None:
    """get_message sends a signed GET with topic and msg_id, and parses the reference's example into a
    StoredMessage with every field typed and keys/tags as Python values."""
    seen: list[httpx.Request] = []
    example = QUERY_EXAMPLES["olderVersion"]["value"]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answering(example)(request)

    msg_id = example["messages"][0]["msg_id"]
    with sync_client(handler) as client:
        stored = client.get_message("orders", msg_id)
    request = seen[0]
    assert request.method == "GET"
    assert request.url.path == URL_PATH
    assert request.url.params["topic"] == "orders"
    assert request.url.params["msg_id"] == msg_id
    assert "start_time" not in request.url.params
    assert request.headers["Authorization"].startswith("SDK-HMAC-SHA256 Access=test-ak, SignedHeaders=")
    assert stored == dms.StoredMessage(
        msg_id=msg_id,
        topic="orders",
        body='{"order_id": 1042, "amount": "19.90"}',
        keys=("order-1042", "customer-77"),
        tags="created",
        queue_id=3,
        queue_offset=41,
        store_timestamp=1764586800123,
        born_timestamp=1764586800101,
        reconsume_times=0,
        body_crc=2123174279,
        store_size=251,
        born_host="127.0.0.1:50098",
        store_host="127.0.0.1:10911",
        instance_id="11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90",
        properties={"KEYS": "order-1042 customer-77", "TAGS": "created", "UNIQ_KEY": msg_id, "CLUSTER": "DmsCluster"},
    )
    assert stored.uniq_key == msg_id
    assert stored.stored_at == datetime.datetime(2025, 12, 1, 11, 0, 0, 123000, tzinfo=datetime.UTC)
    assert stored.to_dict()["keys"] == ["order-1042", "customer-77"]


def test_every_example_of_the_spec_parses() -> None:
    """Each ListMessages 200 example of the spec is read without error; empty KEYS/TAGS become () and None."""
    for name, example in QUERY_EXAMPLES.items():
        body = example["value"]
        with sync_client(answering(body)) as client:
            messages = list(client.query_messages("orders"))
        assert len(messages) == len(body["messages"]) == body["total"], name
    with sync_client(answering(QUERY_EXAMPLES["seed"]["value"])) as client:
        [message] = list(client.query_messages("orders"))
    assert (message.keys, message.tags, message.queue_id, message.reconsume_times) == ((), None, 2, 0)


@given(st.integers(min_value=0, max_value=2**53))
def test_whole_numbers_parse_in_every_shape_the_service_used(value: int) -> None:
    """queue_id, queue_offset, reconsume_times and the timestamps read the same as an integer, a string of
    digits (2023 reference) or a whole float (the SDK's type)."""
    parsed = []
    for shape in (value, str(value), float(value)):
        fields = dict.fromkeys(("queue_id", "queue_offset", "reconsume_times", "store_timestamp"), shape)
        body = {"messages": [{"msg_id": "M", "topic": "orders", "body": "b", **fields}], "total": 1}
        with sync_client(answering(body)) as client:
            parsed.append(client.get_message("orders", "M"))
    assert parsed[0] == parsed[1] == parsed[2]
    assert parsed[0] is not None
    assert parsed[0].queue_offset == value


@pytest.mark.parametrize("bad", [-1, "-1", "3.5", 3.5, True, "", "0x10", [1], {"n": 1}])
def test_a_field_that_is_not_a_whole_number_is_a_malformed_response(bad: object) -> None:
    """A queue_offset that is no whole number in any known shape raises MalformedResponseError naming it."""
    body = {"messages": [{"msg_id": "M", "topic": "orders", "body": "b", "queue_offset": bad}], "total": 1}
    with sync_client(answering(body)) as client, pytest.raises(dms.MalformedResponseError, match="queue_offset"):
        client.get_message("orders", "M")


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"messages": []},
        {"total": 0},
        {"messages": {}, "total": 0},
        {"messages": [{"topic": "orders", "body": "b"}], "total": 1},
        {"messages": [{"msg_id": 7, "topic": "orders", "body": "b"}], "total": 1},
        {"messages": [{"msg_id": "M", "topic": "orders", "body": None}], "total": 1},
        {"messages": [], "total": "many"},
    ],
)
def test_a_malformed_answer_is_a_typed_error(body: Any) -> None:
    """A 200 that is not a ListMessagesResponse raises MalformedResponseError, never another exception."""
    with sync_client(answering(body)) as client, pytest.raises(dms.MalformedResponseError):
        client.get_message("orders", "M")


def test_get_message_of_an_unknown_id_is_none() -> None:
    """No message with that id: None (also when the server lists messages with other ids)."""
    other = {"messages": [{"msg_id": "OTHER", "topic": "orders", "body": "b"}], "total": 1}
    for body in ({"messages": [], "total": 0}, other):
        with sync_client(answering(body)) as client:
            assert client.get_message("orders", "M") is None


def test_query_pages_through_every_match() -> None:
    """query_messages asks page after page (offset advancing by each page) until total is reached."""
    fake = FakeDMS()
    with sync_client(fake) as client:
        for n in range(7):
            client.send("orders", f"m{n}", keys=["k", f"k{n}"])
        bodies = [m.body for m in client.query_messages("orders", key="k", page_size=3)]
    assert bodies == [f"m{n}" for n in range(7)]
    assert [(q["offset"], q["limit"]) for q in fake.queries] == [("0", "3"), ("3", "3"), ("6", "3")]
    assert all(q["key"] == "k" for q in fake.queries)


def test_query_stops_at_an_empty_page_whatever_total_says() -> None:
    """A server whose total overstates the matches cannot make the iterator loop forever."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return answering({"messages": [], "total": 10**9})(request)

    with sync_client(handler) as client:
        assert list(client.query_messages("orders")) == []
    assert len(calls) == 1


def test_query_time_range_arguments() -> None:
    """start/end accept datetimes and epoch milliseconds; without them the range is the epoch to now plus the
    margin; a msg_id query sends no range."""
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    arguments = query_arguments("orders", start=start, end=1767225600500, limit=10)
    assert (arguments["start_time"], arguments["end_time"]) == ("1767225600000", "1767225600500")
    default = query_arguments("orders", limit=10, now_ms=1_000)
    assert (default["start_time"], default["end_time"]) == ("0", str(1_000 + QUERY_END_MARGIN_MS))
    assert "start_time" not in query_arguments("orders", msg_id="M", limit=10)
    assert query_arguments("orders", queue=2, limit=10)["queue"] == "2"


@pytest.mark.parametrize(
    "arguments",
    [
        {"topic": "no spaces allowed"},
        {"key": "two keys"},
        {"key": ["k"]},
        {"key": ""},
        {"start": "yesterday"},
        {"start": -1},
        {"start": 10, "end": 5},
        {"queue": -1},
        {"queue": "1"},
        {"page_size": 0},
        {"page_size": True},
    ],
)
def test_a_bad_query_is_refused_before_anything_is_sent(arguments: dict[str, Any]) -> None:
    """Bad arguments raise ValidationError at the call, not later while iterating, and send nothing."""
    calls: list[httpx.Request] = []
    arguments = {"topic": "orders", **arguments}
    with (
        sync_client(lambda request: calls.append(request) or error(500)) as client,
        pytest.raises(dms.ValidationError),
    ):
        client.query_messages(**arguments)
    assert calls == []


def test_query_errors_map_to_the_exception_tree_and_5xx_is_retried() -> None:
    """A 400 raises BadRequestError; a query is idempotent, so a 500 is retried (a send's is not)."""
    dms.set_testing(True)
    try:
        with sync_client(lambda request: error(400)) as client, pytest.raises(dms.BadRequestError):
            client.get_message("orders", "M")
        answers = [error(500, "DMS.00500000", "Internal service error."), error(503)]
        answers.append(httpx.Response(200, json={"messages": [], "total": 0}))
        with sync_client(lambda request: answers.pop(0)) as client:
            assert client.get_message("orders", "M") is None
        assert answers == []
    finally:
        dms.set_testing(False)
    internal = dms.InternalServerError(
        "500", response=httpx.Response(500), error_code="DMS.00500000", error_msg="", request_id=None
    )
    assert should_retry(internal, idempotent=True)
    assert not should_retry(internal)
    assert should_retry(dms.APIConnectionError(request_sent=True), idempotent=True)


def test_send_result_carries_what_was_sent() -> None:
    """A SendResult carries the message as the request carried it; `sent` takes no part in equality or
    to_dict."""
    with sync_client(FakeDMS()) as client:
        result = client.send("orders", b"h\xc3\xa9llo", keys=["a", "b"], tags="t")
    assert result.sent == dms.Message("orders", "héllo", keys="a b", tags="t")
    assert "sent" not in result.to_dict()
    assert result == dms.SendResult(**result.to_dict())
    assert dms.SendResult(**result.to_dict()).sent is None


def test_confirm_returns_the_stored_message_once_visible() -> None:
    """confirm polls until the message shows (here after two empty answers) and returns it."""
    fake = FakeDMS(hidden_polls=2)
    with sync_client(fake) as client:
        result = client.send("orders", "hello", keys="order-1", tags="created")
        stored = client.confirm(result, timeout=5)
    assert (stored.msg_id, stored.body, stored.keys, stored.tags) == (result.msg_id, "hello", ("order-1",), "created")
    assert len(fake.queries) == 3


def test_confirm_raises_not_visible_after_the_deadline() -> None:
    """A message the query never shows: MessageNotVisibleError after the timeout, counting the queries."""
    fake = FakeDMS(hidden_polls=10**6)
    with sync_client(fake) as client:
        result = client.send("orders", "hello")
        with pytest.raises(dms.MessageNotVisibleError) as excinfo:
            client.confirm(result, timeout=0.2)
    error_ = excinfo.value
    assert isinstance(error_, dms.ConfirmationError)
    assert (error_.msg_id, error_.topic, error_.timeout) == (result.msg_id, "orders", 0.2)
    assert error_.attempts == len(fake.queries) >= 2


@pytest.mark.parametrize(
    ("alter", "field", "sent", "kept"),
    [
        (lambda m: {**m, "body": "HELLO"}, "body", "hello", "HELLO"),
        (lambda m: {**m, "queue_offset": m["queue_offset"] + 1}, "queue_offset", 0, 1),
        (lambda m: {**m, "queue_id": 1}, "queue_id", 0, 1),
        (
            lambda m: {**m, "property_list": [p for p in m["property_list"] if p["name"] != "TAGS"]},
            "tags",
            "created",
            None,
        ),
        (
            lambda m: {**m, "property_list": [p for p in m["property_list"] if p["name"] != "KEYS"]},
            "keys",
            ("order-1", "customer-7"),
            (),
        ),
    ],
)
def test_confirm_names_each_difference(
    alter: Callable[[dict[str, Any]], dict[str, Any]], field: str, sent: Any, kept: Any
) -> None:
    """A message stored differently from how it was sent raises MessageMismatchError naming the field, with
    the sent and stored values."""
    with sync_client(FakeDMS(alter=alter)) as client:
        result = client.send("orders", "hello", keys=["order-1", "customer-7"], tags="created")
        with pytest.raises(dms.MessageMismatchError) as excinfo:
            client.confirm(result, timeout=1)
    assert excinfo.value.differences == {field: (sent, kept)}
    assert field in str(excinfo.value)
    assert excinfo.value.stored.msg_id == result.msg_id


@pytest.mark.parametrize("timeout", [-1, float("nan"), float("inf"), "5", None])
def test_confirm_refuses_a_bad_timeout(timeout: Any) -> None:
    """confirm's timeout is a finite number of seconds >= 0."""
    with sync_client(FakeDMS()) as client:
        result = client.send("orders", "hello")
        with pytest.raises(dms.ConfigurationError):
            client.confirm(result, timeout=timeout)


def test_poll_schedule_grows_and_ends_at_the_deadline() -> None:
    """Waits grow by 1.5 up to the cap, the last one is cut to the deadline, then the schedule ends."""
    now = [0.0]
    schedule = PollSchedule(1.0, clock=lambda: now[0])
    waits = []
    while (wait := schedule.next_wait()) is not None:
        waits.append(wait)
        now[0] += wait
    assert waits[:3] == pytest.approx([0.05, 0.075, 0.1125])
    assert sum(waits) == pytest.approx(1.0)
    assert schedule.attempts == len(waits) + 1


def test_async_client_reads_back() -> None:
    """AsyncClient: get_message, query_messages (async iterator, paging) and confirm behave as the sync ones."""
    fake = FakeDMS(hidden_polls=1)

    async def main() -> None:
        async with async_client(fake) as client:
            results = [await client.send("orders", f"m{n}", keys="k") for n in range(5)]
            assert (await client.confirm(results[0], timeout=5)).body == "m0"
            assert (await client.get_message("orders", results[4].msg_id)) is not None
            bodies = [m.body async for m in client.query_messages("orders", key="k", page_size=2)]
            assert bodies == [f"m{n}" for n in range(5)]
            with pytest.raises(dms.ValidationError):
                client.query_messages("orders", key="a b")

    asyncio.run(main())


def test_async_confirm_reports_a_mismatch() -> None:
    """AsyncClient.confirm raises MessageMismatchError too."""
    fake = FakeDMS(alter=lambda m: {**m, "body": "other"})

    async def main() -> None:
        async with async_client(fake) as client:
            result = await client.send("orders", "mine")
            with pytest.raises(dms.MessageMismatchError):
                await client.confirm(result, timeout=1)

    asyncio.run(main())
