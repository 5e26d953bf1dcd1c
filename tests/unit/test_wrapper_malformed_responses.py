"""The wrapper fed malformed responses through httpx.MockTransport (no sockets).

Extends tests/unit/test_wrapper_errors.py (which covers the simple cases: non-JSON, [], {}, a few wrong types,
HTML error pages) to both clients and to what it does not send.

Whatever comes back — truncated or non-dict JSON, wrong types, missing fields, undocumented statuses, HTML
pages, empty or invalid UTF-8 bodies, JSON nested deeper than a recursive parser can follow — the caller gets
one exception from the wrapper's tree (an `APIError`), never a KeyError, ValueError, RecursionError or None.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from dms_rocketmq import (
    APIError,
    APIStatusError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    DMSError,
    InternalServerError,
    MalformedResponseError,
    Message,
    NotFoundError,
    RateLimitError,
    SendFailure,
    SendResult,
    UnexpectedStatusError,
)
from hypothesis import given, settings
from hypothesis import strategies as st

PROJECT_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
INSTANCE_ID = "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90"
REQUEST_ID = "0123456789abcdef0123456789abcdef"
GOOD = {
    "topic": "orders",
    "body": "hello",
    "property_list": [{"name": "UNIQ_KEY", "value": "7F00000100C8A1B2C3D4000A51E00001"}],
    "msg_id": "7F00000100C8A1B2C3D4000A51E00001",
    "queue_id": 3,
    "queue_offset": 41,
    "broker_name": "broker-0",
}
DEEP = b"[" * 100_000 + b"]" * 100_000
HTML = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"


def with_(**changes: Any) -> bytes:
    """GOOD with fields replaced (a value of ... removes the field), as JSON."""
    document = {key: value for key, value in {**GOOD, **changes}.items() if value is not ...}
    return json.dumps(document).encode()


def answer(status: int, content: bytes, headers: dict[str, str] | None = None) -> httpx.MockTransport:
    """A transport that answers every request with this status, body and headers (plus an X-Request-Id)."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers={"X-Request-Id": REQUEST_ID, **(headers or {})})

    return httpx.MockTransport(handler)


def client_options(transport: httpx.MockTransport) -> dict[str, Any]:
    return {
        "endpoint": "http://dms.test",
        "project_id": PROJECT_ID,
        "instance_id": INSTANCE_ID,
        "ak": "AKEXAMPLE",
        "sk": "sk-example",
        "max_retries": 0,
        "transport": transport,
        "environ": {},
    }


def send_sync(transport: httpx.MockTransport) -> SendResult:
    with Client(**client_options(transport)) as client:
        return client.send("orders", "hello")


def send_async(transport: httpx.MockTransport) -> SendResult:
    async def run() -> SendResult:
        async with AsyncClient(**client_options(transport)) as client:
            return await client.send("orders", "hello")

    return asyncio.run(run())


SENDERS: list[Callable[[httpx.MockTransport], SendResult]] = [send_sync, send_async]
both_clients = pytest.mark.parametrize("send", SENDERS, ids=["Client", "AsyncClient"])


def failure_of(send: Callable[[httpx.MockTransport], SendResult], transport: httpx.MockTransport) -> APIError:
    """The exception `send` raises; fails the test unless it is an `APIError` (the wrapper's own tree)."""
    try:
        result = send(transport)
    except APIError as exc:
        error = exc
    except BaseException as exc:
        pytest.fail(f"a malformed response escaped as {type(exc).__name__}: {exc!r}"[:500])
    else:
        pytest.fail(f"a malformed response was taken as a success: {result!r}")
    assert str(error)  # a readable message, not an empty one
    return error


@both_clients
def test_the_well_formed_response_is_a_result(send: Callable[[httpx.MockTransport], SendResult]) -> None:
    """The baseline: the documented 200 parses, so each malformed variant below fails for its own defect."""
    result = send(answer(200, json.dumps(GOOD).encode()))
    assert result.queue_offset == 41
    assert result.request_id == REQUEST_ID


MALFORMED_200 = {
    "truncated JSON": json.dumps(GOOD).encode()[:-12],
    "empty body": b"",
    "whitespace body": b"  \n",
    "HTML page": HTML,
    "invalid UTF-8": b'{"topic":"orders","body":"\xff\xfe","msg_id":"A"}',
    "JSON string": b'"ok"',
    "JSON null": b"null",
    "JSON number": b"200",
    "JSON true": b"true",
    "deeply nested JSON": DEEP,
    "nested inside a field": b'{"topic":"orders","msg_id":' + DEEP + b"}",
    "missing msg_id": with_(msg_id=...),
    "missing queue_id": with_(queue_id=...),
    "missing queue_offset": with_(queue_offset=...),
    "missing broker_name": with_(broker_name=...),
    "msg_id null": with_(msg_id=None),
    "msg_id an object": with_(msg_id={"id": "x"}),
    "queue_id a fraction": with_(queue_id=3.5),
    "queue_offset null": with_(queue_offset=None),
    "queue_offset a list": with_(queue_offset=[41]),
    "queue_offset infinite": with_(queue_offset=1).replace(b'"queue_offset": 1', b'"queue_offset": 1e400'),
    "queue_offset NaN": with_(queue_offset=1).replace(b'"queue_offset": 1', b'"queue_offset": NaN'),
    "broker_name a number": with_(broker_name=0),
    "property_list a string": with_(property_list="UNIQ_KEY"),
    "property_list a number": with_(property_list=5),
    "property_list of numbers": with_(property_list=[1, 2]),
    "property_list of nulls": with_(property_list=[None]),
}


@both_clients
@pytest.mark.parametrize("content", MALFORMED_200.values(), ids=MALFORMED_200.keys())
def test_a_malformed_200_raises_malformed_response_error(
    send: Callable[[httpx.MockTransport], SendResult], content: bytes
) -> None:
    """A 200 whose body is not a valid SendMessageResponse raises MalformedResponseError with the response."""
    exc = failure_of(send, answer(200, content))
    assert isinstance(exc, MalformedResponseError), repr(exc)
    assert exc.status_code == 200
    assert exc.request_id == REQUEST_ID
    assert exc.response.content == content


ERROR_CASES = [
    # (status, body, expected class, expected error_code or None for "any str")
    (599, b"", InternalServerError, "599"),
    (599, b'{"error_code":"X.1","error_msg":"odd"}', InternalServerError, "X.1"),
    (500, DEEP, InternalServerError, "500"),
    (400, DEEP, BadRequestError, "400"),
    (401, b'{"error_code":"APIGW.0301","error_msg":"Incorrect', AuthenticationError, "401"),
    (404, b"[]", NotFoundError, "404"),
    (404, b"null", NotFoundError, "404"),
    (429, b'{"error_code": 5, "error_msg": null}', RateLimitError, "5"),
    (429, b'{"error_code": {"nested": [1]}, "error_msg": [1, 2]}', RateLimitError, None),
    (400, b'{"error_code":"DMS.1","error_msg":"\xff\xfe bad utf-8"}', BadRequestError, "DMS.1"),
    (400, b'"just a string"', BadRequestError, "400"),
    (418, b"I'm a teapot", UnexpectedStatusError, "418"),
    (302, b"", UnexpectedStatusError, "302"),
    (201, json.dumps(GOOD).encode(), UnexpectedStatusError, "201"),
    (204, b"", UnexpectedStatusError, "204"),
    (405, b"", UnexpectedStatusError, "405"),
]


@both_clients
@pytest.mark.parametrize(
    ("status", "content", "expected", "error_code"),
    ERROR_CASES,
    ids=[f"{status}-{index}" for index, (status, *_) in enumerate(ERROR_CASES)],
)
def test_an_error_status_with_any_body_raises_the_status_class(
    send: Callable[[httpx.MockTransport], SendResult],
    status: int,
    content: bytes,
    expected: type[APIStatusError],
    error_code: str | None,
) -> None:
    """Any non-200 status, with any body, raises the class its status maps to, with string code and message."""
    headers = {"Location": "http://elsewhere.test/"} if status == 302 else None
    exc = failure_of(send, answer(status, content, headers))
    assert type(exc) is expected, repr(exc)
    assert isinstance(exc, APIStatusError)
    assert exc.status_code == status
    assert isinstance(exc.error_code, str)
    assert isinstance(exc.error_msg, str)
    if error_code is not None:
        assert exc.error_code == error_code
    assert exc.request_id == REQUEST_ID


@both_clients
def test_a_body_that_does_not_match_its_content_encoding_is_a_typed_error(
    send: Callable[[httpx.MockTransport], SendResult],
) -> None:
    """A body labelled gzip that is not gzip (httpx fails to decode it) raises an APIError."""
    failure_of(send, answer(200, b"not gzip at all", {"Content-Encoding": "gzip"}))


@both_clients
@pytest.mark.parametrize("retry_after", ["soon", "-5", "nan", "inf", "1e309", "9" * 400, "Wed, 99 Foo 2015", ""])
def test_a_garbage_retry_after_still_ends_in_a_typed_error(
    send: Callable[[httpx.MockTransport], SendResult], retry_after: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 429 storm with a garbage Retry-After is retried with backoff, then raises RateLimitError."""
    import dms_rocketmq._retry as retry

    monkeypatch.setattr(retry, "_testing", True)
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(
            429, json={"error_code": "APIG.0308", "error_msg": "throttled"}, headers={"Retry-After": retry_after}
        )

    def send_retrying(transport: httpx.MockTransport) -> SendResult:
        with Client(**{**client_options(transport), "max_retries": 2}) as client:
            return client.send("orders", "hello")

    exc = failure_of(send_retrying if send is send_sync else send, httpx.MockTransport(handler))
    assert isinstance(exc, RateLimitError)
    assert calls == (3 if send is send_sync else 1)


def test_send_many_turns_every_malformed_answer_into_a_send_failure() -> None:
    """send_many over malformed answers returns one SendFailure per input, each holding an APIError."""
    bodies = list(MALFORMED_200.values())
    by_body = {f"m{index}": content for index, content in enumerate(bodies)}

    def handler(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)["body"]
        return httpx.Response(200, content=by_body[sent])

    messages = [Message("orders", name) for name in by_body]
    with Client(**client_options(httpx.MockTransport(handler))) as client:
        outcomes = client.send_many(messages, concurrency=4)
    assert len(outcomes) == len(messages)
    for message, outcome in zip(messages, outcomes, strict=True):
        assert isinstance(outcome, SendFailure), outcome
        assert outcome.message == message
        assert isinstance(outcome.exception, MalformedResponseError), repr(outcome.exception)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
response_like = st.fixed_dictionaries(
    {},
    optional={
        "topic": json_values,
        "body": json_values,
        "property_list": json_values,
        "msg_id": json_values,
        "queue_id": json_values,
        "queue_offset": json_values,
        "broker_name": json_values,
        "error_code": json_values,
        "error_msg": json_values,
    },
)


@settings(max_examples=150)
@given(
    status=st.sampled_from([200, 200, 200, 400, 401, 403, 404, 413, 429, 500, 503, 599, 418, 302, 204]),
    content=st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v).encode())
    | response_like.map(lambda v: json.dumps(v).encode()),
)
def test_any_response_is_a_result_or_a_typed_error(status: int, content: bytes) -> None:
    """Any status with any body gives a SendResult with documented field types, or an APIError."""
    try:
        result = send_sync(answer(status, content))
    except APIError:
        return
    except DMSError as exc:  # pragma: no cover - reported by the assertion
        pytest.fail(f"a response raised a non-API DMSError: {exc!r}")
    assert status == 200
    assert isinstance(result.msg_id, str)
    assert isinstance(result.queue_id, int)
    assert isinstance(result.queue_offset, int)
    assert isinstance(result.broker_name, str)
    assert isinstance(result.topic, str)
