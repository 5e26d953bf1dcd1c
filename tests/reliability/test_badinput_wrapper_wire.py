"""The wrapper against malformed HTTP on the wire, through its real transports (httpx for Client, aiohttp for
AsyncClient's direct path): what httpx.MockTransport cannot produce — bad status lines, truncated bodies,
broken chunking, non-ASCII or invalid header bytes, oversized headers, a close instead of an answer.

Whatever arrives, `send` returns a SendResult or raises an `APIError`: never a UnicodeError, a parser
exception of the HTTP library, or None.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import pathlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dms_rocketmq import (
    APIConnectionError,
    APIError,
    APIStatusError,
    AsyncClient,
    BadRequestError,
    Client,
    InternalServerError,
    MalformedResponseError,
    SendResult,
    UnexpectedStatusError,
)
from emulators import INSTANCE_ID, PROJECT_ID

GOOD = json.dumps(
    {
        "topic": "orders",
        "body": "x",
        "property_list": [{"name": "UNIQ_KEY", "value": "7F00000100C8A1B2C3D4000A51E00001"}],
        "msg_id": "7F00000100C8A1B2C3D4000A51E00001",
        "queue_id": 1,
        "queue_offset": 2,
        "broker_name": "broker-0",
    }
).encode()
ERROR = b'{"error_code":"DMS.00400062","error_msg":"Invalid topic parameter in the request."}'
RID = b"X-Request-Id: 0123456789abcdef0123456789abcdef\r\n"


def response(status_line: bytes, headers: bytes, body: bytes, *, length: int | None = None) -> bytes:
    declared = len(body) if length is None else length
    return status_line + b"\r\n" + RID + headers + f"Content-Length: {declared}\r\n\r\n".encode() + body


class CannedServer:
    """A loopback server that reads each request and answers it with the bytes in `answer`, then closes."""

    def __init__(self) -> None:
        self.answer = b""
        #: The head (request line and headers) of every request received.
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(10)
            data = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                self.requests.append(head)
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(body) < length:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    body += chunk
                connection.sendall(self.answer)
                connection.shutdown(socket.SHUT_WR)
                # Drain until the client closes, so the close is a FIN and not a reset that eats the answer.
                while connection.recv(65536):
                    pass

    def close(self) -> None:
        self._listener.close()


@pytest.fixture(scope="module")
def server() -> Iterator[CannedServer]:
    canned = CannedServer()
    yield canned
    canned.close()


def options(server: CannedServer) -> dict[str, Any]:
    return {
        "endpoint": server.endpoint,
        "project_id": PROJECT_ID,
        "instance_id": INSTANCE_ID,
        "ak": "AKEXAMPLE",
        "sk": "sk-example",
        "max_retries": 0,
        "timeout": 10.0,
        "environ": {},
    }


def send_sync(server: CannedServer) -> SendResult:
    with Client(**options(server)) as client:
        return client.send("orders", "x")


def send_async(server: CannedServer) -> SendResult:
    async def run() -> SendResult:
        async with AsyncClient(**options(server)) as client:
            return await client.send("orders", "x")

    return asyncio.run(run())


both = pytest.mark.parametrize("send", [send_sync, send_async], ids=["Client", "AsyncClient"])


def outcome(send: Callable[[CannedServer], SendResult], server: CannedServer) -> SendResult | APIError:
    """The result, or the APIError raised; any other exception fails the test with its type."""
    try:
        return send(server)
    except APIError as exc:
        error = exc
    except BaseException as exc:
        pytest.fail(f"escaped as {type(exc).__name__}: {exc!r}"[:400])
    assert str(error)
    return error


@both
def test_a_well_formed_answer_over_the_wire_is_a_result(
    server: CannedServer, send: Callable[[CannedServer], SendResult]
) -> None:
    """The baseline: the canned server's well-formed 200 is a SendResult on both transports."""
    server.answer = response(b"HTTP/1.1 200 OK", b"Content-Type: application/json\r\n", GOOD)
    result = outcome(send, server)
    assert isinstance(result, SendResult), result
    assert result.queue_offset == 2


WIRE_CASES: dict[str, tuple[bytes, type[APIError]]] = {
    "error with a UTF-8 header value": (
        response(b"HTTP/1.1 400 Bad Request", "X-Note: caf\u00e9 cr\u00e8me\r\n".encode(), ERROR),
        BadRequestError,
    ),
    "error with an invalid-UTF-8 header value": (
        response(b"HTTP/1.1 400 Bad Request", b"X-Note: \xff\xfe\x80\r\n", ERROR),
        BadRequestError,
    ),
    "malformed 200 with a UTF-8 header value": (
        response(b"HTTP/1.1 200 OK", "X-Note: \u00fcber\r\n".encode(), b"<html>oops</html>"),
        MalformedResponseError,
    ),
    "599 with a non-ASCII reason": (response("HTTP/1.1 599 \u00dcnknown".encode(), b"", b""), InternalServerError),
    "error with a UTF-8 error_msg": (
        response(b"HTTP/1.1 400 Bad Request", b"", '{"error_code":"X","error_msg":"\u00e9\u6f22"}'.encode()),
        BadRequestError,
    ),
    "body shorter than Content-Length": (
        response(b"HTTP/1.1 200 OK", b"", GOOD[:40], length=len(GOOD)),
        APIConnectionError,
    ),
    "garbage status line": (b"HTTP/1.1 abc def\r\n\r\n", APIConnectionError),
    "not HTTP at all": (b"hello there\r\n\r\n", APIConnectionError),
    "broken chunked body": (
        b"HTTP/1.1 200 OK\r\n" + RID + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nnope\r\n",
        APIConnectionError,
    ),
    "gzip label on a plain body": (
        response(b"HTTP/1.1 200 OK", b"Content-Encoding: gzip\r\n", GOOD),
        APIConnectionError,
    ),
    "oversized header": (
        # Over aiohttp's 8 KB and h11's 100 KB header limits.
        response(b"HTTP/1.1 200 OK", b"X-Big: " + b"a" * 200_000 + b"\r\n", GOOD),
        APIConnectionError,
    ),
    "closed without an answer": (b"", APIConnectionError),
}


@both
@pytest.mark.parametrize("case", WIRE_CASES.values(), ids=WIRE_CASES.keys())
def test_malformed_http_on_the_wire_is_a_typed_error(
    server: CannedServer, send: Callable[[CannedServer], SendResult], case: tuple[bytes, type[APIError]]
) -> None:
    """Each wire-level malformation raises the expected APIError subclass (status errors keep their status)."""
    server.answer, expected = case
    result = outcome(send, server)
    assert isinstance(result, expected), repr(result)
    if isinstance(result, APIStatusError):
        assert isinstance(result.error_code, str)
        assert isinstance(result.error_msg, str)


def _unit_cases() -> Any:
    """The response cases of tests/unit/test_wrapper_malformed_responses.py (MockTransport, httpx path only)."""
    path = pathlib.Path(__file__).parents[1] / "unit" / "test_wrapper_malformed_responses.py"
    spec = importlib.util.spec_from_file_location("_wrapper_malformed_cases", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_UNIT = _unit_cases()
REASONS = {200: "OK", 201: "Created", 204: "No Content", 302: "Found", 400: "Bad Request", 401: "Unauthorized"}


@both
@pytest.mark.parametrize("content", _UNIT.MALFORMED_200.values(), ids=_UNIT.MALFORMED_200.keys())
def test_every_malformed_200_over_the_wire_is_malformed_response_error(
    server: CannedServer, send: Callable[[CannedServer], SendResult], content: bytes
) -> None:
    """The unit tier's malformed 200 bodies over a real socket (aiohttp path too) raise MalformedResponseError."""
    server.answer = response(b"HTTP/1.1 200 OK", b"Content-Type: application/json\r\n", content)
    result = outcome(send, server)
    assert isinstance(result, MalformedResponseError), repr(result)


@both
@pytest.mark.parametrize(
    ("status", "content", "expected", "error_code"),
    _UNIT.ERROR_CASES,
    ids=[f"{case[0]}-{index}" for index, case in enumerate(_UNIT.ERROR_CASES)],
)
def test_every_error_status_over_the_wire_is_its_status_class(
    server: CannedServer,
    send: Callable[[CannedServer], SendResult],
    status: int,
    content: bytes,
    expected: type[APIStatusError],
    error_code: str | None,
) -> None:
    """The unit tier's error statuses and bodies over a real socket: the status class, string code/message."""
    if status == 204 and content:
        pytest.skip("a 204 has no body on the wire")
    status_line = f"HTTP/1.1 {status} {REASONS.get(status, 'Whatever')}".encode()
    extra = b"Location: http://elsewhere.test/\r\n" if status == 302 else b""
    server.answer = response(status_line, extra, b"" if status == 204 else content)
    result = outcome(send, server)
    assert type(result) is expected, repr(result)
    assert isinstance(result, APIStatusError)
    assert result.status_code == status
    if error_code is not None and status != 204:
        assert result.error_code == error_code


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("auth", ["token", "aksk"])
@both
def test_a_redirect_is_not_followed_and_credentials_never_reach_its_target(
    server: CannedServer, send: Callable[[CannedServer], SendResult], status: int, auth: str
) -> None:
    """A 3xx to another origin raises UnexpectedStatusError; the target never sees the request or its token."""
    target = CannedServer()
    try:
        target.answer = response(b"HTTP/1.1 200 OK", b"", GOOD)
        server.answer = response(
            f"HTTP/1.1 {status} Moved".encode(), f"Location: {target.endpoint}/elsewhere\r\n".encode(), b""
        )
        if auth == "token":

            def send_with_token(canned: CannedServer) -> SendResult:
                token_options = {**options(canned), "token": "tok-SECRET-redirected", "ak": None, "sk": None}
                if send is send_sync:
                    with Client(**token_options) as client:
                        return client.send("orders", "x")

                async def run() -> SendResult:
                    async with AsyncClient(**token_options) as client:
                        return await client.send("orders", "x")

                return asyncio.run(run())

            result = outcome(send_with_token, server)
        else:
            result = outcome(send, server)
        assert target.requests == [], f"the redirect target received: {target.requests}"
        assert isinstance(result, UnexpectedStatusError), repr(result)
        assert result.status_code == status
    finally:
        target.close()
