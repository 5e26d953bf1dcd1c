"""The client side of the contract: every response openapi.yaml allows is parsed right by our clients.

The server-side suite checks that servers only send what the spec allows; this checks the other half: the
generated client and the wrapper accept anything the spec allows. Response bodies are generated from the
spec's own schemas (SendMessageResponse for 200, ErrorBody for each documented error status) by schemathesis's
JSON Schema generator, including the unknown properties the schemas permit, and served to the clients through
`httpx.MockTransport` (no sockets); AsyncClient, whose production path reads responses itself with aiohttp, gets
them from a scripted server on a loopback port. Hypothesis runs derandomized: the same cases on every run.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
from collections.abc import Iterator
from typing import Any

import _broken_emulators as broken
import dms_rocketmq
import httpx
import jsonschema_rs
import pytest
import yaml
from _shared.statuses import WRAPPER_ERRORS
from dms_rocketmq_api.models import ErrorBody, SendMessageResponse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation.jsonschema.builder import build

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC: dict[str, Any] = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
OPERATION = SPEC["paths"]["/v2/{engine}/{project_id}/instances/{instance_id}/messages"]["post"]
ERROR_STATUSES = sorted(int(status) for status in OPERATION["responses"] if status != "200")
CASES = settings(
    max_examples=50,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _rewrite(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: value.replace("#/components/", "#/$defs/components/") if key == "$ref" else _rewrite(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite(item) for item in node]
    return node


def from_spec(ref: str) -> st.SearchStrategy[Any]:
    """Values valid against the spec's schema at `ref` (e.g. `#/components/schemas/ErrorBody`)."""
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"components": _rewrite(SPEC["components"])},
        "$ref": _rewrite({"$ref": ref})["$ref"],
    }
    return build(document, draft=jsonschema_rs.Draft202012, formats={})


REQUEST_IDS = from_spec("#/components/headers/XRequestId/schema")
SUCCESS_BODIES = from_spec("#/components/schemas/SendMessageResponse")
ERROR_BODIES = from_spec("#/components/schemas/ErrorBody")


def wrapper_answered_with(status: int, body: Any, request_id: str) -> dms_rocketmq.Client:
    """A wrapper client whose every request gets this response."""
    # Lone surrogates are valid in generated strings; ASCII-escaped JSON carries them as a server would.
    content = json.dumps(body).encode("ascii")
    headers = {"Content-Type": "application/json", "X-Request-Id": request_id}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers=headers)

    return dms_rocketmq.Client(
        endpoint="http://dms.test",
        project_id="0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        instance_id="11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90",
        token="client-side-contract",
        max_retries=0,
        transport=httpx.MockTransport(handler),
        environ={},
    )


@CASES
@given(body=SUCCESS_BODIES)
def test_generated_client_round_trips_every_valid_success_body(body: dict[str, Any]) -> None:
    """Any body valid against SendMessageResponse, unknown properties included, is parsed by the generated
    model and written back unchanged."""
    assert SendMessageResponse.from_dict(body).to_dict() == body


@CASES
@given(body=ERROR_BODIES)
def test_generated_client_round_trips_every_valid_error_body(body: dict[str, Any]) -> None:
    """Any body valid against ErrorBody, unknown properties included, is parsed by the generated model and
    written back unchanged."""
    assert ErrorBody.from_dict(body).to_dict() == body


@CASES
@given(body=SUCCESS_BODIES, request_id=REQUEST_IDS)
def test_wrapper_returns_every_valid_success(body: dict[str, Any], request_id: str) -> None:
    """Any valid 200 becomes a SendResult carrying the body's values and the X-Request-Id, never a
    MalformedResponseError."""
    with wrapper_answered_with(200, body, request_id) as client:
        result = client.send("orders", "hello")
    assert result.msg_id == body["msg_id"]
    assert result.queue_id == body["queue_id"]
    assert result.queue_offset == body["queue_offset"]
    assert result.broker_name == body["broker_name"]
    assert result.topic == body["topic"]
    assert result.request_id == request_id
    # Entries without a name or a value set nothing (the spec's Table 5 makes both optional).
    named = {e["name"]: e["value"] for e in body["property_list"] if isinstance(e.get("name"), str) and "value" in e}
    assert dict(result.properties) == named
    assert result.uniq_key == named.get("UNIQ_KEY")


@CASES
@given(status=st.sampled_from(ERROR_STATUSES), body=ERROR_BODIES, request_id=REQUEST_IDS)
def test_wrapper_raises_every_valid_error(status: int, body: dict[str, Any], request_id: str) -> None:
    """Any documented error status with any valid ErrorBody raises that status's exception, carrying the
    body's error_code and error_msg and the X-Request-Id header (not the body's request_id), as the official
    SDK does."""
    with (
        wrapper_answered_with(status, body, request_id) as client,
        pytest.raises(dms_rocketmq.APIStatusError) as caught,
    ):
        client.send("orders", "hello")
    error = caught.value
    assert type(error) is WRAPPER_ERRORS[status]
    assert error.status_code == status
    assert error.error_code == body["error_code"]
    assert error.error_msg == body["error_msg"]
    assert error.request_id == request_id


class ScriptedServer:
    """An ASGI app that answers every send with the response the test sets (served on a loopback port)."""

    def __init__(self) -> None:
        self.status = 200
        self.content = b"{}"
        self.request_id = "0" * 32

    def answer(self, status: int, body: Any, request_id: str) -> None:
        self.status, self.content, self.request_id = status, json.dumps(body).encode("ascii"), request_id

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        while (await receive()).get("more_body", False):
            pass
        headers = [
            (b"content-type", b"application/json"),
            (b"x-request-id", self.request_id.encode("ascii")),
            (b"content-length", str(len(self.content)).encode("ascii")),
        ]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.content})


@pytest.fixture(scope="module")
def scripted() -> Iterator[tuple[ScriptedServer, str]]:
    server = ScriptedServer()
    with broken.serve(server) as url:
        yield server, url


def async_send(url: str) -> Any:
    """One AsyncClient send on its production path (aiohttp, no httpx transport), in a fresh event loop."""

    async def run() -> Any:
        async with dms_rocketmq.AsyncClient(
            endpoint=url,
            project_id="0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            instance_id="11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90",
            token="client-side-contract",
            max_retries=0,
            environ={},
        ) as client:
            return await client.send("orders", "hello")

    return asyncio.run(run())


@CASES
@given(body=SUCCESS_BODIES, request_id=REQUEST_IDS)
def test_async_wrapper_returns_every_valid_success(
    scripted: tuple[ScriptedServer, str], body: dict[str, Any], request_id: str
) -> None:
    """AsyncClient reads 200s on its own fast path (not the generated model): any valid 200, served over a
    loopback socket, still becomes a SendResult with the body's values and the X-Request-Id."""
    server, url = scripted
    server.answer(200, body, request_id)
    result = async_send(url)
    assert result.msg_id == body["msg_id"]
    assert result.queue_id == body["queue_id"]
    assert result.queue_offset == body["queue_offset"]
    assert result.broker_name == body["broker_name"]
    assert result.topic == body["topic"]
    assert result.request_id == request_id
    named = {e["name"]: e["value"] for e in body["property_list"] if isinstance(e.get("name"), str) and "value" in e}
    assert dict(result.properties) == named
    assert result.uniq_key == named.get("UNIQ_KEY")


@CASES
@given(status=st.sampled_from(ERROR_STATUSES), body=ERROR_BODIES, request_id=REQUEST_IDS)
def test_async_wrapper_raises_every_valid_error(
    scripted: tuple[ScriptedServer, str], status: int, body: dict[str, Any], request_id: str
) -> None:
    """Over a loopback socket, AsyncClient raises for any documented error status with any valid ErrorBody
    the status's exception, with the body's error_code and error_msg and the X-Request-Id header."""
    server, url = scripted
    server.answer(status, body, request_id)
    with pytest.raises(dms_rocketmq.APIStatusError) as caught:
        async_send(url)
    error = caught.value
    assert type(error) is WRAPPER_ERRORS[status]
    assert error.status_code == status
    assert error.error_code == body["error_code"]
    assert error.error_msg == body["error_msg"]
    assert error.request_id == request_id


def test_the_statuses_above_are_all_the_documented_ones() -> None:
    """The error statuses generated above are exactly those the operation documents, each mapped."""
    assert set(WRAPPER_ERRORS) == set(ERROR_STATUSES)
