"""ListMessages over real HTTP, on both stores: read back what was acknowledged, every query rule and error."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import jsonschema_rs
import pytest
import yaml
from dms_rocketmq_api import Client
from dms_rocketmq_api.api.messages import list_messages
from dms_rocketmq_api.models import Engine, ListMessagesResponse
from dms_rocketmq_api.spec_rules import ENGINES, operation_path
from dms_rocketmq_api.types import Unset
from dms_rocketmq_emulator import EmulatorProcess, start_emulator

pytestmark = pytest.mark.integration

REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")
ALL_TIME = {"start_time": "0", "end_time": "999999999999999"}
SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "openapi.yaml").read_text(encoding="utf-8"))
# Every 200 the tests below get is checked against the spec's schema, not only the fields they look at.
LIST_RESPONSE = jsonschema_rs.Draft202012Validator(
    {"$ref": "#/components/schemas/ListMessagesResponse", "components": SPEC["components"]}
)


@pytest.fixture(scope="module", params=["memory", "durable"])
def emulator(request: pytest.FixtureRequest) -> Iterator[EmulatorProcess]:
    process = start_emulator(memory=request.param == "memory", auth=True, topics=("orders:3", "payments"))
    try:
        yield process
    finally:
        process.close()


@pytest.fixture
def client(emulator: EmulatorProcess) -> Iterator[httpx.Client]:
    emulator.reset()
    assert emulator.token is not None
    with httpx.Client(base_url=emulator.url, timeout=10, headers={"X-Auth-Token": emulator.token}) as http:
        yield http


def _path(emulator: EmulatorProcess, instance: str | None = None) -> str:
    return operation_path(
        "ListMessages", engine=ENGINES[0], project_id=emulator.project_id, instance_id=instance or emulator.instance_id
    )


def _send(client: httpx.Client, emulator: EmulatorProcess, body: str, **properties: str) -> dict[str, Any]:
    document = {
        "topic": properties.pop("topic", "orders"),
        "body": body,
        "property_list": [{"name": name, "value": value} for name, value in properties.items()],
    }
    response = client.post(_path(emulator), json=document)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _query(client: httpx.Client, emulator: EmulatorProcess, **params: Any) -> dict[str, Any]:
    response = client.get(_path(emulator), params=params)
    assert response.status_code == 200, response.text
    assert REQUEST_ID.fullmatch(response.headers["x-request-id"])
    body: dict[str, Any] = response.json()
    LIST_RESPONSE.validate(body)
    return body


def test_acknowledged_message_reads_back_equal(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """Right after the 200, the query by msg_id finds the message with what the send acknowledged."""
    sent = _send(client, emulator, "héllo ✓", KEYS="order-9 customer-2", TAGS="created")
    found = _query(client, emulator, topic="orders", msg_id=sent["msg_id"])
    assert found["total"] == 1
    [message] = found["messages"]
    assert {k: message[k] for k in ("msg_id", "topic", "body", "queue_id", "queue_offset")} == {
        k: sent[k] for k in ("msg_id", "topic", "body", "queue_id", "queue_offset")
    }
    assert message["instance_id"] == emulator.instance_id
    assert message["property_list"] == [*sent["property_list"], {"name": "CLUSTER", "value": "DmsCluster"}]
    assert abs(message["store_timestamp"] - time.time() * 1000) < 60_000


def test_generated_client_parses_every_field(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """The client generated from the spec queries the emulator and gets a ListMessagesResponse whose Message
    has every field set, integers where the current reference has integers."""
    sent = _send(client, emulator, "generated", KEYS="gen-1")
    generated = Client(base_url=emulator.url, headers={"X-Auth-Token": emulator.token or ""})
    with generated:
        parsed = list_messages.sync(
            Engine.ROCKETMQ,
            emulator.project_id,
            emulator.instance_id,
            client=generated,
            topic="orders",
            msg_id=sent["msg_id"],
        )
    assert isinstance(parsed, ListMessagesResponse)
    [message] = parsed.messages
    fields = message.to_dict()
    unset = [f.name for f in attrs.fields(type(message)) if isinstance(getattr(message, f.name), Unset)]
    assert unset == []
    assert (message.queue_id, message.queue_offset, message.reconsume_times) == (
        sent["queue_id"],
        sent["queue_offset"],
        0,
    )
    assert fields["msg_id"] == sent["msg_id"]


def test_key_matches_any_one_key_and_pages(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """key finds every message having it among its KEYS; limit/offset page; total counts all matches."""
    sent = [_send(client, emulator, f"m{n}", KEYS=f"own-{n} shared") for n in range(5)]
    _send(client, emulator, "other", KEYS="unrelated")
    _send(client, emulator, "elsewhere", topic="payments", KEYS="shared")
    pages = [_query(client, emulator, topic="orders", key="shared", limit=2, offset=o, **ALL_TIME) for o in (0, 2, 4)]
    assert [p["total"] for p in pages] == [5, 5, 5]
    assert [m["msg_id"] for p in pages for m in p["messages"]] == [s["msg_id"] for s in sent]
    only = _query(client, emulator, topic="orders", key="own-3", **ALL_TIME)
    assert [m["body"] for m in only["messages"]] == ["m3"]


def test_time_range_and_queue(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """start_time/end_time (Unix ms, inclusive) bound store_timestamp; queue keeps one queue's messages."""
    sent = [_send(client, emulator, f"t{n}") for n in range(6)]
    everything = _query(client, emulator, topic="orders", limit=100, **ALL_TIME)["messages"]
    assert [m["msg_id"] for m in everything] == [s["msg_id"] for s in sent]
    middle = everything[2]["store_timestamp"]
    window = _query(client, emulator, topic="orders", start_time=middle, end_time=middle, limit=100)
    assert everything[2]["msg_id"] in [m["msg_id"] for m in window["messages"]]
    assert all(m["store_timestamp"] == middle for m in window["messages"])
    queue_1 = _query(client, emulator, topic="orders", queue="1", limit=100, **ALL_TIME)
    assert [m["queue_offset"] for m in queue_1["messages"]] == [0, 1]
    assert {m["queue_id"] for m in queue_1["messages"]} == {1}
    nothing = _query(client, emulator, topic="orders", start_time=0, end_time=everything[0]["store_timestamp"] - 1)
    assert nothing == {"messages": [], "total": 0}


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"msg_id": "X"}, 400, "DMS.00400062"),  # no topic
        ({"topic": "orders"}, 400, "DMS.00400062"),  # neither msg_id nor a time range
        ({"topic": "orders", "start_time": "1"}, 400, "DMS.00400062"),  # half a range
        ({"topic": "orders", "msg_id": "X", "offset": "-1"}, 400, "DMS.00400062"),
        ({"topic": "orders", "msg_id": "X", "limit": "ten"}, 400, "DMS.00400062"),
        ({"topic": "orders", "start_time": "yesterday", "end_time": "1"}, 400, "DMS.00400062"),
        ({"topic": "no-such-topic", "msg_id": "X"}, 400, "DMS.00400876"),
    ],
)
def test_bad_queries_get_400_huawei_bodies(
    client: httpx.Client, emulator: EmulatorProcess, params: dict[str, str], status: int, code: str
) -> None:
    """Each bad query gets its 400 in Huawei's error body, with an X-Request-Id."""
    response = client.get(_path(emulator), params=params)
    assert response.status_code == status, response.text
    assert REQUEST_ID.fullmatch(response.headers["x-request-id"])
    assert response.json()["error_code"] == code


def test_query_is_authenticated_and_checks_the_instance(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """Without credentials 401; an unknown instance 404; a malformed instance id 400, as for sending."""
    params = {"topic": "orders", "msg_id": "X"}
    anonymous = httpx.get(emulator.url + _path(emulator), params=params, timeout=10)
    assert anonymous.status_code == 401
    unknown = client.get(_path(emulator, "22222222-3333-4444-8555-666666666666"), params=params)
    assert (unknown.status_code, unknown.json()["error_code"]) == (404, "DMS.00404022")
    malformed = client.get(_path(emulator, "not-a-uuid"), params=params)
    assert (malformed.status_code, malformed.json()["error_code"]) == (400, "DMS.00400030")


@pytest.mark.parametrize(
    "query_string",
    [
        "topic=orders&msg_id=%ff%fe",  # not UTF-8 once decoded
        "topic=orders&msg_id=%00",
        "topic=%zz&msg_id=A",  # a broken escape
        "topic=orders&" + "&".join(f"p{n}=v" for n in range(3000)),  # thousands of parameters
        "topic=orders&msg_id=" + "A" * 20000,
        "topic=orders&start_time=" + "9" * 5000 + "&end_time=1",
        "topic=orders&limit=" + "9" * 5000 + "&msg_id=A",
        "&&&===&topic",
    ],
)
def test_hostile_query_strings_never_crash(client: httpx.Client, emulator: EmulatorProcess, query_string: str) -> None:
    """Odd or huge query strings get a 200 or a 400 Huawei body, never a 500."""
    response = client.get(f"{_path(emulator)}?{query_string}")
    assert response.status_code in (200, 400), response.text
    assert "error_code" in response.json() or "messages" in response.json()


def test_fixture_helpers_read_through_the_public_query(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """messages(topic), query_messages and get_message return what ListMessages shows."""
    sent = _send(client, emulator, "helper", KEYS="helper-key")
    assert (
        emulator.get_message("orders", sent["msg_id"])
        == _query(client, emulator, topic="orders", msg_id=sent["msg_id"])["messages"][0]
    )
    assert [m["msg_id"] for m in emulator.query_messages("orders", key="helper-key")] == [sent["msg_id"]]
    assert [m["msg_id"] for m in emulator.messages("orders")] == [sent["msg_id"]]
    assert emulator.get_message("orders", "NO-SUCH-ID") is None
    assert emulator.messages("not-configured") == []


def test_durable_store_answers_queries_after_a_restart(tmp_path: Path) -> None:
    """What a durable emulator stored is found by msg_id and by key after a restart, with the same fields."""
    emulator = start_emulator(memory=False, data_dir=tmp_path, auth=True, topics=("orders",))
    try:
        with httpx.Client(base_url=emulator.url, headers={"X-Auth-Token": emulator.token or ""}) as http:
            sent = _send(http, emulator, "kept", KEYS="restart-key")
        before = emulator.get_message("orders", sent["msg_id"])
        emulator.restart()
        assert emulator.get_message("orders", sent["msg_id"]) == before
        assert emulator.query_messages("orders", key="restart-key") == [before]
    finally:
        emulator.close()
