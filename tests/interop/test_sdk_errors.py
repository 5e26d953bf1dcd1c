"""Huawei's official SDK parses every error the emulator sends into exactly what the emulator put on the wire.

The basic SDK interop (a signed send, a wrong SK, an unknown topic) is in test_emulator_huawei_sdk.py. Here each
error the emulator can produce for a send is provoked through the SDK itself, the raw HTTP response is captured
with the SDK's own response hook, and the exception the SDK raises is compared field by field with it: class
(ClientRequestException below 500, ServerResponseException from 500), status_code, error_code, error_msg and
request_id (which the SDK takes from the X-Request-Id header, never from the body).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from dms_rocketmq_api.spec_rules import BODY_MAX_LENGTH, REQUEST_MAX_BYTES
from dms_rocketmq_emulator.pytest_plugin import EmulatorProcess, start_emulator
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException, ServerResponseException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkrocketmq.v2 import RocketMQClient, SendMessageProperties, SendMessageReq, SendMessageRequest

pytestmark = pytest.mark.interop

TOPIC = "orders"
UNKNOWN_INSTANCE_ID = "00000000-0000-4000-8000-000000000000"
BODY_LIMIT = BODY_MAX_LENGTH
GATEWAY_LIMIT = REQUEST_MAX_BYTES


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    """An emulator of this module's own (faults are injected into it), in memory, AK/SK auth on."""
    process = start_emulator(memory=True, auth=True, topics=(TOPIC,))
    try:
        yield process
    finally:
        process.close()


class Wire:
    """The raw responses the SDK received, captured by its own response hook before it parses them."""

    def __init__(self) -> None:
        self.responses: list[requests.Response] = []

    def __call__(self, **kwargs: Any) -> None:
        self.responses.append(kwargs["response"])

    @property
    def last(self) -> requests.Response:
        assert self.responses, "the SDK sent nothing"
        return self.responses[-1]


def sdk_client(emulator: EmulatorProcess, wire: Wire, *, ak: str | None = None, sk: str | None = None) -> Any:
    config = HttpConfig.get_default_config()
    config.timeout = (5, 30)
    credentials = BasicCredentials(ak or emulator.ak, sk or emulator.sk, emulator.project_id)
    return (
        RocketMQClient.new_builder()
        .with_http_config(config)
        .with_credentials(credentials)
        .with_endpoint(emulator.url)
        .with_http_handler(HttpHandler().add_response_handler(wire))
        .build()
    )


def send_request(
    emulator: EmulatorProcess,
    *,
    topic: str = TOPIC,
    body: str = "hello",
    properties: list[tuple[str, str]] = (),  # type: ignore[assignment]
    engine: str = "rocketmq",
    instance_id: str | None = None,
) -> SendMessageRequest:
    message = SendMessageReq(
        topic=topic,
        body=body,
        property_list=[SendMessageProperties(name=name, value=value) for name, value in properties],
    )
    return SendMessageRequest(engine=engine, instance_id=instance_id or emulator.instance_id, body=message)


def assert_sdk_error_matches_wire(error: Any, response: requests.Response) -> dict[str, Any]:
    """The SDK's exception carries exactly the status, code, message and request id the server sent."""
    sent = json.loads(response.text)
    expected_class = ServerResponseException if response.status_code >= 500 else ClientRequestException
    assert type(error) is expected_class
    assert error.status_code == response.status_code
    assert error.error_code == sent["error_code"]
    assert error.error_msg == sent["error_msg"]
    assert error.request_id == response.headers["X-Request-Id"]
    # The gateway-style errors also put the request id in the body: it must be the same request's id.
    if "request_id" in sent:
        assert sent["request_id"] == response.headers["X-Request-Id"]
    return sent


Scenario = Callable[[EmulatorProcess], SendMessageRequest]

SCENARIOS: list[Any] = [
    pytest.param(lambda e: send_request(e, topic="no-such-topic"), 400, "DMS.00400876", id="unknown-topic"),
    pytest.param(lambda e: send_request(e, topic="ab"), 400, "DMS.00400062", id="topic-too-short"),
    pytest.param(lambda e: send_request(e, topic="rmq_sys_reserved"), 400, "DMS.00400062", id="topic-reserved"),
    pytest.param(lambda e: send_request(e, body=""), 400, "DMS.00400062", id="empty-message-body"),
    pytest.param(
        lambda e: send_request(e, properties=[("TAGS", "a"), ("TAGS", "b")]), 400, "DMS.00400062", id="two-tags"
    ),
    pytest.param(lambda e: send_request(e, properties=[("KEYS", "two  spaces")]), 400, "DMS.00400062", id="bad-keys"),
    pytest.param(lambda e: send_request(e, body="x" * (BODY_LIMIT + 1)), 400, "DMS.10540011", id="body-over-its-limit"),
    pytest.param(
        # Within maxLength (characters), over 4 MiB once encoded as UTF-8 (3 bytes each): refused by size. (The
        # SDK escapes non-ASCII as \uXXXX, 6 bytes each, so the request stays under the gateway's 12 MB.)
        lambda e: send_request(e, body="€" * (BODY_LIMIT // 3 + 1)),
        400,
        "DMS.10540011",
        id="body-over-its-limit-in-utf8",
    ),
    pytest.param(lambda e: send_request(e, body="x" * (GATEWAY_LIMIT + 1)), 413, "APIGW.0201", id="request-too-large"),
    pytest.param(lambda e: send_request(e, instance_id="not-a-uuid"), 400, "DMS.00400030", id="instance-id-format"),
    pytest.param(
        lambda e: send_request(e, instance_id=UNKNOWN_INSTANCE_ID), 404, "DMS.00404022", id="unknown-instance"
    ),
    pytest.param(lambda e: send_request(e, engine="kafka"), 404, "DMS.00404001", id="unknown-engine"),
]


@pytest.mark.parametrize(("make_request", "status", "error_code"), SCENARIOS)
def test_sdk_exception_matches_what_the_emulator_sent(
    emulator: EmulatorProcess, make_request: Scenario, status: int, error_code: str
) -> None:
    """For each request error, the SDK raises the exception of that status with the emulator's own code,
    message and request id."""
    wire = Wire()
    with pytest.raises((ClientRequestException, ServerResponseException)) as caught:
        sdk_client(emulator, wire).send_message(make_request(emulator))
    assert wire.last.status_code == status
    sent = assert_sdk_error_matches_wire(caught.value, wire.last)
    assert sent["error_code"] == error_code


@pytest.mark.parametrize(
    ("credentials", "detail"),
    [
        pytest.param({"sk": "not-the-secret-key"}, "verify aksk signature fail", id="wrong-sk"),
        pytest.param({"ak": "UNKNOWNAK0000000000"}, "not exist", id="unknown-ak"),
    ],
)
def test_sdk_authentication_errors_match_what_the_emulator_sent(
    emulator: EmulatorProcess, credentials: dict[str, str], detail: str
) -> None:
    """A refused signature reaches the SDK as 401 APIGW.0301 with the emulator's message and request id, and
    the SK appears nowhere in the exception."""
    wire = Wire()
    with pytest.raises(ClientRequestException) as caught:
        sdk_client(emulator, wire, **credentials).send_message(send_request(emulator))
    sent = assert_sdk_error_matches_wire(caught.value, wire.last)
    assert wire.last.status_code == 401
    assert sent["error_code"] == "APIGW.0301"
    assert detail in sent["error_msg"]
    assert emulator.sk not in str(caught.value)
    assert emulator.sk not in repr(caught.value)


@pytest.mark.parametrize(
    ("status", "error_code"),
    [
        pytest.param(503, "DMS.00503000", id="503"),
        pytest.param(500, None, id="500"),
        pytest.param(429, None, id="429"),
    ],
)
def test_sdk_parses_injected_server_errors(emulator: EmulatorProcess, status: int, error_code: str | None) -> None:
    """Faults injected into the emulator (503, 500, 429) reach the SDK as the right exception class with the
    emulator's code, message and request id; the SDK does not retry them (one request on the wire)."""
    emulator.inject_faults(1, status=status)
    wire = Wire()
    with pytest.raises((ClientRequestException, ServerResponseException)) as caught:
        sdk_client(emulator, wire).send_message(send_request(emulator))
    assert len(wire.responses) == 1
    assert wire.last.status_code == status
    sent = assert_sdk_error_matches_wire(caught.value, wire.last)
    if error_code is not None:
        assert sent["error_code"] == error_code
    # The fault was used up: the next send is stored.
    assert sdk_client(emulator, Wire()).send_message(send_request(emulator)).topic == TOPIC
