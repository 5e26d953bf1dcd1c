"""The control API over real HTTP: health, messages, reset, and fault injection."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from dms_rocketmq_api.spec_rules import ENGINES, operation_path
from dms_rocketmq_emulator.pytest_plugin import EmulatorProcess, start_emulator

pytestmark = pytest.mark.integration

REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")
OTHER_INSTANCE = "22222222-3333-4444-8555-666666666666"


@pytest.fixture(scope="module", params=["memory", "durable"])
def emulator(request: pytest.FixtureRequest) -> Iterator[EmulatorProcess]:
    process = start_emulator(
        memory=request.param == "memory",
        auth=False,
        topics=("orders", "payments:2"),
        instance_ids=("11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90", OTHER_INSTANCE),
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


def _send(
    client: httpx.Client, emulator: EmulatorProcess, topic: str = "orders", body: str = "x", instance: str | None = None
) -> httpx.Response:
    ids = {"project_id": emulator.project_id, "instance_id": instance or emulator.instance_id}
    path = operation_path("SendMessage", engine=ENGINES[0], **ids)
    return client.post(path, json={"topic": topic, "body": body})


def test_health_is_ok_with_request_id(client: httpx.Client) -> None:
    """GET /_emulator/health answers {"status": "ok"} with an X-Request-Id."""
    response = client.get("/_emulator/health")
    assert response.json() == {"status": "ok"}
    assert REQUEST_ID.fullmatch(response.headers["x-request-id"])


def test_messages_lists_in_store_order_with_all_fields(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """GET /_emulator/messages returns total and messages with the fixed fields, in store order."""
    sent = [_send(client, emulator, body=f"m{n}").json() for n in range(3)]
    listing = client.get("/_emulator/messages").json()
    assert listing["total"] == 3
    assert [m["msg_id"] for m in listing["messages"]] == [s["msg_id"] for s in sent]
    first = listing["messages"][0]
    assert {"msg_id", "topic", "queue_id", "queue_offset", "body", "properties", "stored_at"} <= set(first)
    assert first["properties"] == [{"name": "UNIQ_KEY", "value": first["msg_id"]}]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["stored_at"])


def test_messages_filters_and_pages(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """topic, instance_id, limit and offset filter and page; total counts every match."""
    for n in range(5):
        _send(client, emulator, body=f"o{n}")
    _send(client, emulator, topic="payments", body="p0")
    _send(client, emulator, body="other", instance=OTHER_INSTANCE)
    page = client.get("/_emulator/messages", params={"topic": "orders", "limit": 2, "offset": 1}).json()
    assert page["total"] == 6
    assert [m["body"] for m in page["messages"]] == ["o1", "o2"]
    only = client.get("/_emulator/messages", params={"instance_id": OTHER_INSTANCE}).json()
    assert [m["body"] for m in only["messages"]] == ["other"]
    assert [m["body"] for m in emulator.messages("payments")] == ["p0"]


def test_instances_have_separate_offsets(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """The same topic in two instances has its own queues and offsets."""
    a = _send(client, emulator).json()
    b = _send(client, emulator, instance=OTHER_INSTANCE).json()
    assert (a["queue_id"], a["queue_offset"]) == (b["queue_id"], b["queue_offset"]) == (0, 0)


@pytest.mark.parametrize("params", [{"limit": "x"}, {"limit": "-1"}, {"offset": "-5"}, {"limit": "100001"}])
def test_messages_bad_paging_is_400(client: httpx.Client, params: dict[str, str]) -> None:
    """A limit or offset that is not a non-negative number in range gets 400 DMS.00400062 naming it."""
    response = client.get("/_emulator/messages", params=params)
    assert response.status_code == 400
    assert response.json()["error_msg"] == f"Invalid {next(iter(params))} parameter in the request."


def test_reset_empties_messages_and_restarts_offsets(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """After POST /_emulator/reset there are no messages and placement starts again at queue 0, offset 0."""
    for _ in range(3):
        _send(client, emulator)
    assert client.post("/_emulator/reset").json() == {"status": "ok"}
    assert client.get("/_emulator/messages").json() == {"total": 0, "messages": []}
    again = _send(client, emulator).json()
    assert (again["queue_id"], again["queue_offset"]) == (0, 0)


def test_fault_503_with_retry_after_then_recovers(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """Two injected 503s carry DMS.00503000 and Retry-After, store nothing, and the third send succeeds."""
    armed = client.post("/_emulator/faults", json={"count": 2, "status": 503, "retry_after": 1}).json()
    assert armed["count"] == 2
    for _ in range(2):
        response = _send(client, emulator)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json() == {"error_code": "DMS.00503000", "error_msg": "Service temporarily unavailable."}
    assert client.get("/_emulator/faults").json()["count"] == 0
    ok = _send(client, emulator)
    assert ok.status_code == 200
    assert (ok.json()["queue_id"], ok.json()["queue_offset"]) == (0, 0)
    assert len(emulator.messages()) == 1


@pytest.mark.parametrize(
    ("status", "code", "gateway"),
    [
        (429, "APIG.0308", True),
        (500, "DMS.00500000", False),
        (502, "DMS.00502000", False),
        (504, "DMS.00504000", False),
        (401, "APIGW.0301", True),
        (403, "APIGW.0302", True),
        (400, "DMS.00400062", False),
    ],
)
def test_fault_status_has_matching_huawei_body(
    client: httpx.Client, emulator: EmulatorProcess, status: int, code: str, gateway: bool
) -> None:
    """Each injectable status answers with its Huawei error code; gateway errors carry request_id."""
    emulator.inject_faults(1, status=status)
    response = _send(client, emulator)
    assert response.status_code == status
    body = response.json()
    assert body["error_code"] == code
    assert ("request_id" in body) == gateway
    assert "retry-after" not in response.headers
    assert emulator.messages() == []


def test_fault_drop_connection_closes_without_response(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """drop_connection closes the connection before any response byte, and stores nothing."""
    emulator.inject_faults(1, drop_connection=True)
    with pytest.raises(httpx.RemoteProtocolError):
        _send(client, emulator)
    assert emulator.messages() == []
    assert _send(client, emulator).status_code == 200


def test_fault_delay_then_success(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """status 200 with delay_ms holds the answer back (a short client timeout expires), then stores it."""
    emulator.inject_faults(1, status=200, delay_ms=1500)
    with httpx.Client(base_url=emulator.url, timeout=0.2) as impatient, pytest.raises(httpx.ReadTimeout):
        _send(impatient, emulator, body="late")
    # The send itself goes on and is stored: the client cannot know (at-least-once).
    deadline = time.monotonic() + 30  # generous: the machine may be busy; the loop ends as soon as it is there
    while not emulator.messages() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [m["body"] for m in emulator.messages()] == ["late"]


def test_faults_only_consumed_by_valid_sends(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """An invalid request gets its own 400 and leaves the armed fault for the next valid send."""
    emulator.inject_faults(1)
    assert _send(client, emulator, topic="missing-topic").status_code == 400
    assert _send(client, emulator).status_code == 503


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"count": -1}, "count"),
        ({"count": "2"}, "count"),
        ({"count": 1, "status": 418}, "status"),
        ({"count": 1, "retry_after": -1}, "retry_after"),
        ({"count": 1, "delay_ms": 10**9}, "delay_ms"),
        ({"count": 1, "drop_connection": "yes"}, "drop_connection"),
    ],
)
def test_bad_fault_request_is_400_naming_the_field(client: httpx.Client, document: dict[str, Any], field: str) -> None:
    """An invalid fault description gets 400 DMS.00400062 naming the bad field, and arms nothing."""
    response = client.post("/_emulator/faults", json=document)
    assert response.status_code == 400
    assert response.json()["error_msg"] == f"Invalid {field} parameter in the request."
    assert client.get("/_emulator/faults").json()["count"] == 0


def test_bad_fault_json_is_400(client: httpx.Client) -> None:
    """A fault request that is not JSON gets 400 DMS.00400005."""
    response = client.post("/_emulator/faults", content=b"{nope")
    assert response.json()["error_code"] == "DMS.00400005"


def test_info_describes_instances_and_auth(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """GET /_emulator/info lists the project, both instances with their topics, and auth off."""
    info = client.get("/_emulator/info").json()
    assert info["project_id"] == emulator.project_id
    assert info["auth"] is False
    assert {i["instance_id"] for i in info["instances"]} == {emulator.instance_id, OTHER_INSTANCE}
    assert {"name": "payments", "queues": 2} in info["instances"][0]["topics"]


def test_oversized_fault_request_is_413(client: httpx.Client) -> None:
    """A control request body over 64 KiB is refused with 413 APIGW.0201 and arms nothing."""
    response = client.post("/_emulator/faults", content=b" " * (65 * 1024))
    assert response.status_code == 413
    assert response.json()["error_code"] == "APIGW.0201"
    assert client.get("/_emulator/faults").json()["count"] == 0


def test_reset_disarms_faults(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """POST /_emulator/reset also disarms faults, so one test's faults cannot fail the next test's sends."""
    emulator.inject_faults(3)
    emulator.reset()
    assert client.get("/_emulator/faults").json()["count"] == 0
    assert _send(client, emulator).status_code == 200
