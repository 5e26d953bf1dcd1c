"""The send-message API over real HTTP: placement, ids, echo, and every error code, on both stores."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from dms_rocketmq_api import spec_rules
from dms_rocketmq_emulator import decode_msg_id
from dms_rocketmq_emulator.pytest_plugin import EmulatorProcess, start_emulator

pytestmark = pytest.mark.integration

REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture(scope="module", params=["memory", "durable"])
def emulator(request: pytest.FixtureRequest) -> Iterator[EmulatorProcess]:
    process = start_emulator(
        memory=request.param == "memory", auth=False, topics=("orders", "three:3", "single:1", "payments")
    )
    try:
        yield process
    finally:
        process.close()


@pytest.fixture
def client(emulator: EmulatorProcess) -> Iterator[httpx.Client]:
    emulator.reset()
    with httpx.Client(base_url=emulator.url, timeout=10) as http:
        yield http


def _path(
    emulator: EmulatorProcess, engine: str = "rocketmq", project: str | None = None, instance: str | None = None
) -> str:
    return f"/v2/{engine}/{project or emulator.project_id}/instances/{instance or emulator.instance_id}/messages"


def _send(client: httpx.Client, emulator: EmulatorProcess, document: Any, **kwargs: Any) -> httpx.Response:
    return client.post(_path(emulator, **kwargs), json=document)


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert REQUEST_ID.fullmatch(response.headers["x-request-id"])
    body: dict[str, Any] = response.json()
    assert body["error_code"] == code, body
    return body


@pytest.mark.parametrize("engine", ["rocketmq", "reliability"])
def test_send_returns_table4_fields_for_both_engines(
    client: httpx.Client, emulator: EmulatorProcess, engine: str
) -> None:
    """Both engine values store the message and answer with every field of Table 4."""
    response = _send(client, emulator, {"topic": "orders", "body": "test", "property_list": []}, engine=engine)
    assert response.status_code == 200, response.text
    assert REQUEST_ID.fullmatch(response.headers["x-request-id"])
    body = response.json()
    assert set(body) == {"topic", "body", "property_list", "msg_id", "queue_id", "queue_offset", "broker_name"}
    assert body["topic"] == "orders"
    assert body["body"] == "test"
    assert body["broker_name"] == "broker-0"
    assert (body["queue_id"], body["queue_offset"]) == (0, 0)
    assert body["property_list"] == [{"name": "UNIQ_KEY", "value": body["msg_id"]}]


def test_round_robin_over_queues_with_contiguous_offsets_from_zero(
    client: httpx.Client, emulator: EmulatorProcess
) -> None:
    """Sends to a 3-queue topic go to queues 0,1,2,0,1,2... with offsets 0,0,0,1,1,1... and no gaps."""
    placed = []
    for n in range(9):
        body = _send(client, emulator, {"topic": "three", "body": f"m{n}"}).json()
        placed.append((body["queue_id"], body["queue_offset"]))
    assert placed == [(n % 3, n // 3) for n in range(9)]


def test_round_robin_is_per_topic(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """Each topic has its own round-robin position and its own offsets."""
    assert _send(client, emulator, {"topic": "three", "body": "a"}).json()["queue_id"] == 0
    assert _send(client, emulator, {"topic": "orders", "body": "a"}).json()["queue_id"] == 0
    assert _send(client, emulator, {"topic": "three", "body": "b"}).json()["queue_id"] == 1
    single = [_send(client, emulator, {"topic": "single", "body": "x"}).json() for _ in range(3)]
    assert [(m["queue_id"], m["queue_offset"]) for m in single] == [(0, 0), (0, 1), (0, 2)]


def test_msg_id_has_rocketmq_uniq_key_layout(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """msg_id is 32 uppercase hex: 127.0.0.1, the emulator's pid, a generation, ms in month, a counter."""
    first = _send(client, emulator, {"topic": "orders", "body": "a"}).json()["msg_id"]
    second = _send(client, emulator, {"topic": "orders", "body": "b"}).json()["msg_id"]
    assert re.fullmatch(r"[0-9A-F]{32}", first)
    a, b = decode_msg_id(first), decode_msg_id(second)
    assert a["ip"] == b["ip"] == "127.0.0.1"
    assert a["pid"] == b["pid"]
    assert a["class_loader_hash"] == b["class_loader_hash"]
    assert 0 <= int(str(a["ms_since_month_start"])) <= 31 * 24 * 3600 * 1000
    assert b["counter"] == (int(str(a["counter"])) + 1) % 65536
    assert first != second


def test_property_list_echoes_keys_and_tags_then_uniq_key(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """KEYS and TAGS come back in order with UNIQ_KEY (equal to msg_id) added last, and are stored."""
    sent = [{"name": "KEYS", "value": "order-1042 customer-77"}, {"name": "TAGS", "value": "created"}]
    body = _send(client, emulator, {"topic": "orders", "body": "x", "property_list": sent}).json()
    assert body["property_list"] == [*sent, {"name": "UNIQ_KEY", "value": body["msg_id"]}]
    stored = emulator.messages("orders")
    assert stored[-1]["property_list"] == [*body["property_list"], {"name": "CLUSTER", "value": "DmsCluster"}]
    assert stored[-1]["msg_id"] == body["msg_id"]


def test_entries_without_name_or_value_set_nothing(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """A property entry missing its name or its value is accepted and not echoed."""
    properties = [{"name": "KEYS"}, {"value": "v"}, {}]
    body = _send(client, emulator, {"topic": "orders", "body": "x", "property_list": properties}).json()
    assert [p["name"] for p in body["property_list"]] == ["UNIQ_KEY"]


def test_a_tags_entry_without_value_does_not_count_as_a_second_tag(
    client: httpx.Client, emulator: EmulatorProcess
) -> None:
    """A TAGS entry without a value sets nothing, so beside a real tag it is accepted and only that tag is kept."""
    properties = [{"name": "TAGS", "value": "created"}, {"name": "TAGS"}]
    body = _send(client, emulator, {"topic": "orders", "body": "x", "property_list": properties}).json()
    assert [(p["name"], p["value"]) for p in body["property_list"][:-1]] == [("TAGS", "created")]


def test_unicode_body_round_trips(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """A body with non-ASCII text comes back and is stored exactly as sent."""
    text = "commande n°42 — 订单 ✓ \U0001f680"
    assert _send(client, emulator, {"topic": "orders", "body": text}).json()["body"] == text
    assert emulator.messages("orders")[-1]["body"] == text


def test_unknown_fields_are_ignored(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """Fields the schema does not name do not make a send fail."""
    assert _send(client, emulator, {"topic": "orders", "body": "x", "extra": 1}).status_code == 200


def test_empty_body_is_dms_00400004(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """A request without a body gets 400 DMS.00400004."""
    _error(client.post(_path(emulator), content=b""), 400, "DMS.00400004")


@pytest.mark.parametrize("raw", [b"{not json", b"   ", b'{"topic": "orders", "body": "x"', b"\xff\xfe{}"])
def test_malformed_json_is_dms_00400005(client: httpx.Client, emulator: EmulatorProcess, raw: bytes) -> None:
    """Bytes that are not JSON (or not UTF-8) get 400 DMS.00400005."""
    _error(client.post(_path(emulator), content=raw), 400, "DMS.00400005")


def test_lone_surrogate_is_dms_00400005(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """A JSON escape of a lone surrogate (not valid Unicode) is refused, not stored."""
    raw = b'{"topic": "orders", "body": "a\\ud800b"}'
    _error(client.post(_path(emulator), content=raw), 400, "DMS.00400005")
    assert emulator.messages("orders") == []


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"body": "x"}, "topic"),
        ({"topic": "orders"}, "body"),
        ({"topic": "orders", "body": ""}, "body"),
        ({"topic": "orders", "body": 5}, "body"),
        ({"topic": 5, "body": "x"}, "topic"),
        ({"topic": "ab", "body": "x"}, "topic"),
        ({"topic": "a" * 65, "body": "x"}, "topic"),
        ({"topic": "bad name", "body": "x"}, "topic"),
        ({"topic": "TBW102", "body": "x"}, "topic"),
        ({"topic": "rmq_sys_foo", "body": "x"}, "topic"),
        ({"topic": "orders", "body": "x", "property_list": {}}, "property_list"),
        (
            {"topic": "orders", "body": "x", "property_list": [{"name": "COLOR", "value": "red"}]},
            "property_list[0].name",
        ),
        ({"topic": "orders", "body": "x", "property_list": [{"name": "KEYS", "value": 7}]}, "property_list[0].value"),
        (
            {"topic": "orders", "body": "x", "property_list": [{"name": "KEYS", "value": "a  b"}]},
            "property_list[0].value",
        ),
        (
            {"topic": "orders", "body": "x", "property_list": [{"name": "KEYS", "value": "k" * 129}]},
            "property_list[0].value",
        ),
        (
            {"topic": "orders", "body": "x", "property_list": [{"name": "TAGS", "value": "a||b"}]},
            "property_list[0].value",
        ),
        (
            {"topic": "orders", "body": "x", "property_list": [{"name": "TAGS", "value": "t" * 129}]},
            "property_list[0].value",
        ),
        (
            {
                "topic": "orders",
                "body": "x",
                "property_list": [{"name": "TAGS", "value": "a"}, {"name": "TAGS", "value": "b"}],
            },
            "property_list",
        ),
    ],
)
def test_schema_violation_is_dms_00400062_naming_the_field(
    client: httpx.Client, emulator: EmulatorProcess, document: dict[str, Any], field: str
) -> None:
    """A missing, mistyped or out-of-range field gets 400 DMS.00400062 naming that field; nothing is stored."""
    body = _error(_send(client, emulator, document), 400, "DMS.00400062")
    assert body["error_msg"] == f"Invalid {field} parameter in the request."
    assert emulator.messages() == []


@pytest.mark.parametrize("document", [[], "text", 42, None])
def test_non_object_json_is_dms_00400062(client: httpx.Client, emulator: EmulatorProcess, document: Any) -> None:
    """JSON that is not an object gets 400 DMS.00400062 "Invalid request parameter."."""
    body = _error(client.post(_path(emulator), content=json.dumps(document)), 400, "DMS.00400062")
    assert body["error_msg"] == "Invalid request parameter."


def test_unknown_topic_is_dms_00400876(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """A well-formed topic that the instance does not have gets DMS.00400876 and is not created."""
    body = _error(_send(client, emulator, {"topic": "never-created", "body": "x"}), 400, "DMS.00400876")
    assert body["error_msg"] == "The topic does not exist."
    _error(_send(client, emulator, {"topic": "never-created", "body": "x"}), 400, "DMS.00400876")


def test_body_over_4_mib_utf8_is_dms_10540011(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """A body of 4 MiB characters is refused once it is over 4 MiB in UTF-8 bytes, with its size."""
    text = "é" * (2 * 1024 * 1024 + 1)  # 2 Mi + 1 characters, 4 MiB + 2 bytes in UTF-8
    body = _error(_send(client, emulator, {"topic": "orders", "body": text}), 400, "DMS.10540011")
    assert body["error_msg"] == "The message size is 4194306, larger than the size limit 4194304."


def test_body_of_exactly_4_mib_is_accepted(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """A body of exactly 4,194,304 UTF-8 bytes is stored."""
    response = _send(client, emulator, {"topic": "orders", "body": "x" * 4194304})
    assert response.status_code == 200
    assert len(response.json()["body"]) == 4194304


def test_bad_instance_id_format_is_dms_00400030(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """An instance id that is not a UUID gets 400 DMS.00400030."""
    _error(_send(client, emulator, {"topic": "orders", "body": "x"}, instance="not-a-uuid"), 400, "DMS.00400030")


def test_unknown_instance_is_dms_00404022(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """A UUID that names no instance gets 404 DMS.00404022."""
    instance = "00000000-0000-4000-8000-000000000000"
    _error(_send(client, emulator, {"topic": "orders", "body": "x"}, instance=instance), 404, "DMS.00404022")


def test_unknown_project_is_404_and_bad_project_format_is_dms_00400002(
    client: httpx.Client, emulator: EmulatorProcess
) -> None:
    """Another well-formed project id finds no instance (404); a malformed one gets DMS.00400002."""
    _error(_send(client, emulator, {"topic": "orders", "body": "x"}, project="f" * 32), 404, "DMS.00404022")
    _error(_send(client, emulator, {"topic": "orders", "body": "x"}, project="nothex"), 400, "DMS.00400002")


@pytest.mark.parametrize(
    "path",
    [
        "/v2/kafka/{p}/instances/{i}/messages",
        "/v2/rocketmq/{p}/instances/{i}/message",
        "/v2/rocketmq/{p}/instance/{i}/messages",
        "/v2/rocketmq/{p}/instances/{i}/messages/extra",
        "/v2/rocketmq//instances/{i}/messages",
        "/v1/rocketmq/{p}/instances/{i}/messages",
        "/nothing-here",
        "/",
    ],
)
def test_unknown_url_or_engine_is_dms_00404001(client: httpx.Client, emulator: EmulatorProcess, path: str) -> None:
    """URLs that name no API, including an unknown engine, get 404 DMS.00404001."""
    url = path.format(p=emulator.project_id, i=emulator.instance_id)
    body = _error(client.post(url, json={"topic": "orders", "body": "x"}), 404, "DMS.00404001")
    assert body["error_msg"] == "The requested URL does not exist."


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_wrong_method_is_dms_00405001(client: httpx.Client, emulator: EmulatorProcess, method: str) -> None:
    """A method the spec documents for no operation of the send URL (or of a control URL) gets 405 DMS.00405001."""
    send_url = client.request(method, _path(emulator))
    _error(send_url, 405, "DMS.00405001")
    send_path = spec_rules.OPERATIONS["SendMessage"]["path"]
    documented = sorted(op["method"] for op in spec_rules.OPERATIONS.values() if op["path"] == send_path)
    assert send_url.headers["allow"] == ", ".join(documented)
    response = client.request(method, "/_emulator/reset")
    _error(response, 405, "DMS.00405001")
    assert response.headers["allow"] == "POST"


def test_rejected_sends_store_nothing_and_leave_no_offset_gap(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """Errors between two good sends do not consume offsets: the second good send is offset 1 of queue 0."""
    assert _send(client, emulator, {"topic": "single", "body": "a"}).json()["queue_offset"] == 0
    _send(client, emulator, {"topic": "single", "body": ""})
    _send(client, emulator, {"topic": "single"})
    assert _send(client, emulator, {"topic": "single", "body": "b"}).json()["queue_offset"] == 1
    assert [m["body"] for m in emulator.messages("single")] == ["a", "b"]
