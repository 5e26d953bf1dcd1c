"""Prism, a mock server nobody here wrote, serves every example of openapi.yaml; our clients parse each one.

Prism (npm `@stoplight/prism-cli`, pinned in package.json) reads the spec on its own: it validates each request
it receives against the spec (a request the spec does not allow is answered with the spec's 400 example and an
`sl-violations` header listing what is wrong), and it answers a valid request with the example named in
`Prefer: code=<status>, example=<name>`. So these tests prove, against an
independent reading of the spec, that the requests our clients build are valid and that every documented
response, success or error, is parsed into the right values.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dms_rocketmq
import httpx
import pytest
import yaml
from _shared.prism import ROOT, prism
from _shared.statuses import WRAPPER_ERRORS
from dms_rocketmq_api import Client as GeneratedClient
from dms_rocketmq_api.api.messages import send_message
from dms_rocketmq_api.models import Engine, ErrorBody, SendMessageRequestBody, SendMessageResponse

pytestmark = pytest.mark.interop

SPEC: dict[str, Any] = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
PATH = "/v2/{engine}/{project_id}/instances/{instance_id}/messages"
PROJECT_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
INSTANCE_ID = "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90"
# Prism only checks that a credential is present; the value is never verified by a mock.
TOKEN_HEADERS = {"X-Auth-Token": "prism-does-not-verify-tokens"}


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow local `$ref`s until a node that is not a reference."""
    while "$ref" in node:
        target: Any = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _operation() -> dict[str, Any]:
    return SPEC["paths"][PATH]["post"]


def response_examples() -> list[tuple[int, str, dict[str, Any], dict[str, Any]]]:
    """Every (status, example name, example body, response headers spec) that openapi.yaml documents."""
    found = []
    for status, response in _operation()["responses"].items():
        resolved = _resolve(response)
        media = resolved["content"]["application/json"]
        for name, example in media["examples"].items():
            found.append((int(status), name, _resolve(example)["value"], resolved.get("headers", {})))
    return found


def request_examples() -> list[tuple[str, dict[str, Any]]]:
    """Every (name, request body) example that openapi.yaml documents."""
    media = _operation()["requestBody"]["content"]["application/json"]
    return [(name, _resolve(example)["value"]) for name, example in media["examples"].items()]


def _header_example(headers_spec: dict[str, Any], name: str) -> Any:
    return _resolve(headers_spec[name])["schema"]["examples"][0]


@pytest.fixture(scope="module")
def prism_url() -> Iterator[str]:
    """Start `prism mock openapi.yaml` on a free loopback port (Prism binds port 0) and stop it afterwards."""
    with prism("mock", str(ROOT / "openapi.yaml")) as url:
        yield url


@pytest.fixture
def generated_client(prism_url: str) -> Iterator[GeneratedClient]:
    with GeneratedClient(base_url=prism_url, headers=TOKEN_HEADERS, raise_on_unexpected_status=True) as client:
        yield client


REQUEST_EXAMPLES = request_examples()
RESPONSE_EXAMPLES = response_examples()


def test_spec_has_examples_for_every_documented_status() -> None:
    """The examples the tests below iterate over cover every status the operation documents."""
    documented = {int(status) for status in _operation()["responses"]}
    assert {status for status, *_ in RESPONSE_EXAMPLES} == documented
    assert len(REQUEST_EXAMPLES) >= 2


@pytest.mark.parametrize(("name", "value"), REQUEST_EXAMPLES, ids=[name for name, _ in REQUEST_EXAMPLES])
def test_generated_client_sends_request_examples_that_prism_accepts(
    generated_client: GeneratedClient, name: str, value: dict[str, Any]
) -> None:
    """Each request example, built into the generated model and sent by the generated client, passes Prism's
    validation of the request (Prism answers an invalid one with its 400 and `sl-violations`, not 200)."""
    body = SendMessageRequestBody.from_dict(value)
    assert body.to_dict() == value
    response = send_message.sync_detailed(Engine.ROCKETMQ, PROJECT_ID, INSTANCE_ID, client=generated_client, body=body)
    assert "sl-violations" not in response.headers, response.headers["sl-violations"]
    assert response.status_code == 200, response.content
    assert isinstance(response.parsed, SendMessageResponse)


@pytest.mark.parametrize(
    ("status", "name", "value", "headers_spec"),
    RESPONSE_EXAMPLES,
    ids=[f"{status}-{name}" for status, name, *_ in RESPONSE_EXAMPLES],
)
def test_generated_client_parses_every_response_example(
    generated_client: GeneratedClient,
    status: int,
    name: str,
    value: dict[str, Any],
    headers_spec: dict[str, Any],
) -> None:
    """Prism serves each documented response example; the generated client parses it into the model of that
    status with exactly the example's values, and the X-Request-Id header arrives as the spec shows."""
    body = SendMessageRequestBody.from_dict(REQUEST_EXAMPLES[0][1])
    # with_headers returns a new client with a pool of its own: closed here, not left to the garbage collector.
    with generated_client.with_headers({"Prefer": f"code={status}, example={name}"}) as client:
        response = send_message.sync_detailed(Engine.ROCKETMQ, PROJECT_ID, INSTANCE_ID, client=client, body=body)
    assert "sl-violations" not in response.headers, response.headers["sl-violations"]
    assert response.status_code == status, response.content
    expected_model = SendMessageResponse if status == 200 else ErrorBody
    assert isinstance(response.parsed, expected_model)
    assert response.parsed.to_dict() == value
    assert response.headers["X-Request-Id"] == _header_example(headers_spec, "X-Request-Id")
    if "Retry-After" in headers_spec:
        assert response.headers["Retry-After"] == str(_header_example(headers_spec, "Retry-After"))


class PreferTransport(httpx.HTTPTransport):
    """An httpx transport that asks Prism for one example (`Prefer`) on every request the wrapper sends."""

    def __init__(self, prefer: str) -> None:
        super().__init__()
        self.prefer = prefer
        self.sent: list[httpx.Request] = []
        self.violations: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.headers["Prefer"] = self.prefer
        self.sent.append(request)
        response = super().handle_request(request)
        # Prism lists what is wrong with a request it found invalid; the wrapper never sees this header.
        if "sl-violations" in response.headers:
            self.violations.append(response.headers["sl-violations"])
        return response


def wrapper_client(prism_url: str, transport: httpx.BaseTransport) -> dms_rocketmq.Client:
    # No retries: Prism answers every retry with the same example, and one request is what is being tested.
    return dms_rocketmq.Client(
        endpoint=prism_url,
        project_id=PROJECT_ID,
        instance_id=INSTANCE_ID,
        token=TOKEN_HEADERS["X-Auth-Token"],
        max_retries=0,
        transport=transport,
        environ={},
    )


@pytest.mark.parametrize(("name", "value"), REQUEST_EXAMPLES, ids=[name for name, _ in REQUEST_EXAMPLES])
def test_wrapper_sends_request_examples_that_prism_accepts(prism_url: str, name: str, value: dict[str, Any]) -> None:
    """Each request example, sent through the wrapper's `send` (keys and tags as arguments), is a request
    Prism validates as conforming, and the wrapper returns a SendResult."""
    properties = {entry["name"]: entry["value"] for entry in value.get("property_list", [])}
    transport = PreferTransport("code=200")
    with wrapper_client(prism_url, transport) as client:
        result = client.send(value["topic"], value["body"], keys=properties.get("KEYS"), tags=properties.get("TAGS"))
    assert isinstance(result, dms_rocketmq.SendResult)
    assert len(transport.sent) == 1
    assert transport.violations == []


@pytest.mark.parametrize(
    ("status", "name", "value", "headers_spec"),
    RESPONSE_EXAMPLES,
    ids=[f"{status}-{name}" for status, name, *_ in RESPONSE_EXAMPLES],
)
def test_wrapper_parses_every_response_example(
    prism_url: str, status: int, name: str, value: dict[str, Any], headers_spec: dict[str, Any]
) -> None:
    """Prism serves each documented response example to the wrapper's `send`: a 200 becomes a SendResult with
    the example's values, an error becomes the exception of its status carrying the example's error_code,
    error_msg and the X-Request-Id header as request_id."""
    request_id = _header_example(headers_spec, "X-Request-Id")
    transport = PreferTransport(f"code={status}, example={name}")
    with wrapper_client(prism_url, transport) as client:
        if status == 200:
            result = client.send("orders", "hello")
            assert result.msg_id == value["msg_id"]
            assert result.queue_id == value["queue_id"]
            assert result.queue_offset == value["queue_offset"]
            assert result.broker_name == value["broker_name"]
            assert result.topic == value["topic"]
            assert dict(result.properties) == {entry["name"]: entry["value"] for entry in value["property_list"]}
            assert result.uniq_key == dict(result.properties).get("UNIQ_KEY")
            assert result.request_id == request_id
        else:
            with pytest.raises(dms_rocketmq.APIStatusError) as caught:
                client.send("orders", "hello")
            error = caught.value
            assert type(error) is WRAPPER_ERRORS[status]
            assert error.status_code == status
            assert error.error_code == value["error_code"]
            assert error.error_msg == value["error_msg"]
            assert error.request_id == request_id
    assert len(transport.sent) == 1
    assert transport.violations == []


def test_prism_rejects_a_request_the_spec_forbids(prism_url: str) -> None:
    """Prism really validates requests (so the acceptance above means something): a body without `topic` gets
    a 400 with an `sl-violations` header naming the missing property, whatever example was asked for."""
    response = httpx.post(
        f"{prism_url}/v2/rocketmq/{PROJECT_ID}/instances/{INSTANCE_ID}/messages",
        json={"body": "no topic"},
        headers={**TOKEN_HEADERS, "Prefer": "code=200, example=seed"},
    )
    assert response.status_code == 400, response.text
    assert "required property 'topic'" in response.headers["sl-violations"]
