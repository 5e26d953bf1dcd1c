"""Every declared status, undocumented statuses and malformed responses map to the right exception."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import dms_rocketmq as dms
import httpx
import pytest
from _shared.fake_dms import REQUEST_ID, async_client, error, sync_client
from aiohttp.client_reqrep import ConnectionKey
from dms_rocketmq._exceptions import parse_error_body, status_error_from_response
from dms_rocketmq._fast_path import aiohttp_error, result_from_content

STATUS_CLASSES = [
    (400, dms.BadRequestError),
    (401, dms.AuthenticationError),
    (403, dms.PermissionDeniedError),
    (404, dms.NotFoundError),
    (413, dms.PayloadTooLargeError),
    (429, dms.RateLimitError),
    (500, dms.InternalServerError),
    (502, dms.InternalServerError),
    (503, dms.InternalServerError),
    (504, dms.InternalServerError),
    (599, dms.InternalServerError),
    (405, dms.UnexpectedStatusError),
    (409, dms.UnexpectedStatusError),
    (302, dms.UnexpectedStatusError),
    (201, dms.UnexpectedStatusError),
]


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
def test_status_maps_to_class(status: int, cls: type[dms.APIStatusError]) -> None:
    """A response with each status raises its class, with code, message, request id and response attached."""
    client = sync_client(lambda _: error(status, "DMS.X", "went wrong"), max_retries=0)
    with client, pytest.raises(cls) as caught:
        client.send("orders", "hello")
    exc = caught.value
    assert type(exc) is cls
    assert isinstance(exc, dms.APIStatusError)
    assert isinstance(exc, dms.DMSError)
    assert (exc.status_code, exc.error_code, exc.error_msg, exc.request_id) == (
        status,
        "DMS.X",
        "went wrong",
        REQUEST_ID,
    )
    assert exc.response.status_code == status
    assert REQUEST_ID in str(exc)


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES[:7])
def test_async_status_maps_to_class(status: int, cls: type[dms.APIStatusError]) -> None:
    """AsyncClient maps statuses exactly as Client does."""

    async def main() -> None:
        async with async_client(lambda _: error(status), max_retries=0) as client:
            with pytest.raises(cls) as caught:
                await client.send("orders", "hello")
        assert caught.value.error_code == "DMS.00400062"
        assert caught.value.request_id == REQUEST_ID

    asyncio.run(main())


@pytest.mark.parametrize("status", [400, 401, 404, 413, 500, 502])
def test_non_json_error_body(status: int) -> None:
    """A non-JSON error body (an HTML gateway page) still raises the status class: raw text, status as code."""
    client = sync_client(lambda _: httpx.Response(status, text="<html>Bad Gateway</html>"), max_retries=0)
    with client, pytest.raises(dms.APIStatusError) as caught:
        client.send("orders", "hello")
    assert caught.value.status_code == status
    assert caught.value.error_code == str(status)
    assert caught.value.error_msg == "<html>Bad Gateway</html>"
    assert caught.value.request_id is None


def test_error_body_alternative_field_names() -> None:
    """Like the SDK, errorCode/errorMsg and code/message pairs are understood; unknown JSON falls back to text."""
    assert parse_error_body(400, b'{"errorCode": "A.1", "errorMsg": "m"}') == ("A.1", "m")
    assert parse_error_body(400, b'{"code": "B.2", "message": "n"}') == ("B.2", "n")
    assert parse_error_body(400, b"[1, 2]") == ("400", "[1, 2]")
    assert parse_error_body(400, b'{"error_code": "C.3"}') == ("C.3", "")


def test_gateway_body_request_id_ignored_for_header() -> None:
    """The request id comes from the X-Request-Id header, as in the SDK, not from the body."""
    response = httpx.Response(
        401,
        json={
            "error_code": "APIGW.0301",
            "error_msg": "Incorrect IAM authentication information: x",
            "request_id": "body-id",
        },
        headers={"X-Request-Id": REQUEST_ID},
    )
    exc = status_error_from_response(response)
    assert isinstance(exc, dms.AuthenticationError)
    assert exc.request_id == REQUEST_ID


MALFORMED_200 = [
    b"not json",
    b"[]",
    b"{}",
    b'{"topic": "orders"}',
    b'{"topic":"orders","body":"x","property_list":null,"msg_id":"A","queue_id":0,"queue_offset":0,"broker_name":"b"}',
    b'{"topic":"orders","body":"x","property_list":[],"msg_id":"A","queue_id":"0","queue_offset":0,"broker_name":"b"}',
    b'{"topic":"orders","body":"x","property_list":[],"msg_id":"A","queue_id":0,"queue_offset":1.5,"broker_name":"b"}',
    b'{"topic":"orders","body":"x","property_list":[],"msg_id":5,"queue_id":0,"queue_offset":0,"broker_name":"b"}',
    b'{"topic":"orders","body":"x","property_list":[],"msg_id":"A","queue_id":true,"queue_offset":0,"broker_name":"b"}',
    b'{"topic":"orders","body":"x","property_list":["x"],"msg_id":"A","queue_id":0,"queue_offset":0,"broker_name":"b"}',
]


@pytest.mark.parametrize("content", MALFORMED_200)
def test_malformed_200(content: bytes) -> None:
    """A 200 whose body is not a valid SendMessageResponse raises MalformedResponseError, never KeyError or None."""
    response = httpx.Response(200, content=content, headers={"X-Request-Id": REQUEST_ID})
    with sync_client(lambda _: response) as client, pytest.raises(dms.MalformedResponseError) as caught:
        client.send("orders", "hello")
    assert caught.value.request_id == REQUEST_ID
    assert caught.value.status_code == 200
    assert isinstance(caught.value.__cause__, Exception) or "expected" in str(caught.value)


def test_float_offsets_accepted() -> None:
    """Whole-number floats (the SDK's own typing of queue_id/offset) are accepted as ints."""
    content = (
        b'{"topic":"orders","body":"x","property_list":[],"msg_id":"A","queue_id":2.0,"queue_offset":7.0,'
        b'"broker_name":"b","extra":"ignored"}'
    )
    with sync_client(lambda _: httpx.Response(200, content=content)) as client:
        result = client.send("orders", "hello")
    assert (result.queue_id, result.queue_offset, result.uniq_key, result.request_id) == (2, 7, None, None)


@pytest.mark.parametrize(
    ("raised", "cls", "sent"),
    [
        (httpx.ConnectError("refused"), dms.APIConnectionError, False),
        (httpx.ConnectTimeout("slow"), dms.APITimeoutError, False),
        (httpx.PoolTimeout("pool"), dms.APITimeoutError, False),
        (httpx.ReadTimeout("slow read"), dms.APITimeoutError, True),
        (httpx.WriteError("broken pipe"), dms.APIConnectionError, True),
        (httpx.RemoteProtocolError("Server disconnected"), dms.APIConnectionError, True),
    ],
)
def test_transport_errors(raised: Exception, cls: type[dms.APIConnectionError], sent: bool) -> None:
    """Transport failures raise APIConnectionError/APITimeoutError, saying whether the request may have left."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise raised

    with sync_client(handler, max_retries=0) as client, pytest.raises(cls) as caught:
        client.send("orders", "hello")
    assert type(caught.value) is cls
    assert caught.value.request_sent is sent
    assert caught.value.__cause__ is raised


def _lazy(status: int, content: bytes) -> Any:
    return lambda: httpx.Response(status, content=content, headers={"X-Request-Id": REQUEST_ID})


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
def test_direct_path_status_mapping(status: int, cls: type[dms.APIStatusError]) -> None:
    """AsyncClient's aiohttp path maps each status to the same class as the httpx path."""
    body = b'{"error_code": "DMS.X", "error_msg": "went wrong"}'
    with pytest.raises(cls) as caught:
        result_from_content(status, REQUEST_ID, body, _lazy(status, body), 0)
    assert (caught.value.error_code, caught.value.request_id) == ("DMS.X", REQUEST_ID)


@pytest.mark.parametrize("content", [*MALFORMED_200, b"[" * 100_000 + b"]" * 100_000])
def test_direct_path_malformed_200(content: bytes) -> None:
    """AsyncClient's aiohttp path turns every malformed 200 into MalformedResponseError."""
    with pytest.raises(dms.MalformedResponseError) as caught:
        result_from_content(200, REQUEST_ID, content, _lazy(200, content), 0)
    assert caught.value.request_id == REQUEST_ID


def test_direct_path_success() -> None:
    """AsyncClient's aiohttp path builds the same SendResult as the httpx path."""
    content = (
        b'{"topic":"orders","body":"x","property_list":[{"name":"UNIQ_KEY","value":"U"}],"msg_id":"A",'
        b'"queue_id":2,"queue_offset":7.0,"broker_name":"b"}'
    )
    result = result_from_content(200, REQUEST_ID, content, _lazy(200, content), 3)
    assert (result.queue_id, result.queue_offset, result.uniq_key, result.retries_taken) == (2, 7, "U", 3)


@pytest.mark.parametrize(
    ("raised", "cls", "sent"),
    [
        (
            aiohttp.ClientConnectorError(
                ConnectionKey("h", 1, False, False, None, None, None), OSError(111, "refused")
            ),
            dms.APIConnectionError,
            False,
        ),
        (aiohttp.ConnectionTimeoutError("connect"), dms.APITimeoutError, False),
        (aiohttp.SocketTimeoutError("read"), dms.APITimeoutError, True),
        (TimeoutError(), dms.APITimeoutError, True),
        (aiohttp.ServerDisconnectedError(), dms.APIConnectionError, True),
        (aiohttp.ClientPayloadError("truncated"), dms.APIConnectionError, True),
    ],
)
def test_aiohttp_errors(raised: Exception, cls: type[dms.APIConnectionError], sent: bool) -> None:
    """aiohttp failures map to APIConnectionError/APITimeoutError; only failures to connect count as unsent."""
    exc = aiohttp_error(raised, "http://h:1")
    assert type(exc) is cls
    assert exc.request_sent is sent
    assert "http://h:1" in str(exc)
