"""Client's direct path (`_sync_direct`, http.client) and its generated path (httpx) are the same on the wire.

A raw server on 127.0.0.1 records each request and answers with bytes a test chooses: any status, body and
framing (Content-Length, chunked, or closing the connection). For any answer, both paths return the same
SendResult or raise the same error class with the same status, error code and `request_sent`; both put the
same request on the wire (method, target, body bytes and every header the service reads). Threads sharing one
Client never open more connections than `max_connections`, and reuse them.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from dms_rocketmq import APIError, APITimeoutError, Client, SendResult
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration

PROJECT_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
INSTANCE_ID = "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90"


class RecordingServer:
    """Answers every request with `self.answer` (bytes; `self.close_after` closes the connection after it),
    records each request as (request line, headers, body) and counts the connections open at once."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.answer = b""
        self.close_after = False
        self.silent_from: int | None = None  # from this request on (0-based), read it and never answer
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.open_now = 0
        self.most_open = 0
        self.connections = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        with self._lock:
            self.open_now += 1
            self.connections += 1
            self.most_open = max(self.most_open, self.open_now)
        try:
            with connection:
                connection.settimeout(30)
                data = b""
                while True:
                    while b"\r\n\r\n" not in data:
                        chunk = connection.recv(65536)
                        if not chunk:
                            return
                        data += chunk
                    head, _, data = data.partition(b"\r\n\r\n")
                    line, *fields = head.decode("latin-1").split("\r\n")
                    headers = {name.lower(): value.strip() for name, _, value in (f.partition(":") for f in fields)}
                    length = int(headers.get("content-length", "0"))
                    while len(data) < length:
                        chunk = connection.recv(65536)
                        if not chunk:
                            return
                        data += chunk
                    body, data = data[:length], data[length:]
                    with self._lock:
                        self.requests.append((line, headers, body))
                        answer, close_after = self.answer, self.close_after
                        silent = self.silent_from is not None and len(self.requests) > self.silent_from
                    if silent:
                        while connection.recv(65536):  # until the client gives up and closes
                            pass
                        return
                    connection.sendall(answer)
                    if close_after:
                        connection.shutdown(socket.SHUT_WR)
                        while connection.recv(65536):  # until the client closes: a FIN, not a reset
                            pass
                        return
        except OSError:
            return
        finally:
            with self._lock:
                self.open_now -= 1

    def close(self) -> None:
        self._listener.close()


@pytest.fixture(scope="module")
def server() -> Iterator[RecordingServer]:
    recording = RecordingServer()
    yield recording
    recording.close()


def client(server: RecordingServer, *, generated: bool, **overrides: Any) -> Client:
    options: dict[str, Any] = {
        "endpoint": server.endpoint,
        "project_id": PROJECT_ID,
        "instance_id": INSTANCE_ID,
        "ak": "AKEXAMPLE",
        "sk": "sk-example",
        "max_retries": 0,
        "timeout": 10.0,
        "environ": {},
        **overrides,
    }
    # A transport given selects the generated path (the reference); none, the default direct path.
    return Client(**options, transport=httpx.HTTPTransport() if generated else None)


def outcome(send: Any) -> Any:
    """A SendResult's fields, or what the raised APIError says; any other exception fails the test."""
    try:
        result: SendResult = send()
    except APIError as exc:
        return (
            type(exc).__name__,
            getattr(exc, "status_code", None),
            getattr(exc, "error_code", None),
            getattr(exc, "request_id", None),
            getattr(exc, "request_sent", None),
        )
    return (result.msg_id, result.queue_id, result.queue_offset, result.topic, result.properties, result.request_id)


def stored(topic: str = "orders") -> dict[str, Any]:
    return {
        "topic": topic,
        "body": "x",
        "property_list": [{"name": "UNIQ_KEY", "value": "U1"}, {"name": "KEYS", "value": "k"}],
        "msg_id": "AC11000100002A9F0000000000000001",
        "queue_id": 1,
        "queue_offset": 7,
        "broker_name": "broker-a",
    }


_STORED = json.dumps(stored()).encode()
_BODIES = st.one_of(
    st.just(stored()).map(json.dumps),
    st.just(stored()).map(json.dumps),
    st.fixed_dictionaries(
        {"error_code": st.sampled_from(["DMS.00400", "APIG.0301", "APIG.0308", "DMS.10240"]), "error_msg": st.text()}
    ).map(json.dumps),
    st.sampled_from(["", "{", "null", "[]", '{"msg_id": 1}', "<html>502 Bad Gateway</html>"]),
    st.text(max_size=30),
).map(lambda text: text.encode())
_STATUSES = st.sampled_from([200, 200, 200, 201, 204, 400, 401, 403, 404, 413, 429, 500, 502, 503])
_FRAMINGS = st.sampled_from(["length", "chunked", "close"])
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 429: "Too Many Requests", 500: "Internal Server Error"}


def answer(status: int, body: bytes, framing: str, request_id: str | None) -> tuple[bytes, bool]:
    """The bytes of one response with this status and body, framed as told; whether the server closes after."""
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", "Content-Type: application/json"]
    if request_id is not None:
        lines.append(f"X-Request-Id: {request_id}")
    if status == 204:
        body, framing = b"", "length"
    if framing == "length":
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    elif framing == "chunked":
        lines.append("Transfer-Encoding: chunked")
        payload = (f"{len(body):x}\r\n".encode() + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
    else:
        lines.append("Connection: close")
        payload = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload, framing == "close"


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    status=_STATUSES,
    body=_BODIES,
    framing=_FRAMINGS,
    request_id=st.sampled_from([None, "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"]),
)
@example(status=200, body=_STORED, framing="length", request_id="0123456789abcdef0123456789abcdef")
@example(status=200, body=_STORED, framing="chunked", request_id="0123456789abcdef0123456789abcdef")
@example(status=200, body=_STORED, framing="close", request_id=None)
@example(status=429, body=b'{"error_code":"APIG.0308","error_msg":"slow down"}', framing="length", request_id=None)
def test_any_answer_is_the_same_outcome_on_both_paths(
    server: RecordingServer, status: int, body: bytes, framing: str, request_id: str | None
) -> None:
    """For any status, body and framing, the direct path returns or raises what the generated path does."""
    server.answer, server.close_after = answer(status, body, framing, request_id)
    outcomes = []
    for generated in (True, False):
        with client(server, generated=generated) as sender:
            # Twice on one client: the second send reuses the connection, or makes a new one after a close.
            outcomes.append([outcome(lambda s=sender: s.send("orders", "x", keys="k")) for _ in range(2)])
    assert outcomes[1] == outcomes[0]


#: The request headers the service reads (the rest, such as httpx's Accept and Connection, it ignores).
READ_BY_THE_SERVICE = ("host", "content-type", "content-length", "user-agent", "x-project-id", "x-sdk-date")


@pytest.mark.parametrize("auth", ["aksk", "token"])
def test_both_paths_put_the_same_request_on_the_wire(server: RecordingServer, auth: str) -> None:
    """Method, target, body bytes and every header the service reads are the same; so is how it is signed."""
    server.answer, server.close_after = answer(200, json.dumps(stored()).encode(), "length", None)
    credentials = {"ak": None, "sk": None, "token": "iam-token"} if auth == "token" else {}
    seen = []
    for generated in (True, False):
        server.requests.clear()
        with client(server, generated=generated, **credentials) as sender:
            sender.send("orders", "héllo ✓", keys=["a", "b"], tags="t")
        (request,) = server.requests
        seen.append(request)
    (generated_line, generated_headers, generated_body), (line, headers, body) = seen
    assert (line, body) == (generated_line, generated_body)
    for name in READ_BY_THE_SERVICE:
        if name != "x-sdk-date":  # the signing second may differ between the two sends
            assert headers.get(name) == generated_headers.get(name), name
    if auth == "token":
        assert headers["x-auth-token"] == generated_headers["x-auth-token"] == "iam-token"
        assert "authorization" not in headers
    else:
        signed = headers["authorization"].split("Signature=")[0]
        assert signed == generated_headers["authorization"].split("Signature=")[0]


def test_a_reused_connection_takes_each_calls_own_timeout(server: RecordingServer) -> None:
    """A connection last used by a call without a timeout still bounds the next call by the client's timeout."""
    server.answer, server.close_after = answer(200, json.dumps(stored()).encode(), "length", None)
    server.requests.clear()
    server.silent_from = 1
    try:
        with client(server, generated=False, timeout=1.0) as sender:
            assert isinstance(sender.send("orders", "first", timeout=httpx.Timeout(None)), SendResult)
            with pytest.raises(APITimeoutError) as caught:
                sender.send("orders", "second")  # on the same connection, which the server leaves unanswered
    finally:
        server.silent_from = None
    assert caught.value.request_sent is True
    assert "waiting for the response" in str(caught.value)
    assert len(server.requests) == 2


def test_threads_share_a_bounded_pool_of_reused_connections(server: RecordingServer) -> None:
    """16 threads sending 400 messages through one Client open at most max_connections, reused from send to send."""
    server.answer, server.close_after = answer(200, json.dumps(stored()).encode(), "length", None)
    server.most_open = server.open_now
    before = server.connections
    with client(server, generated=False, max_connections=4) as sender:
        outcomes = sender.send_many([{"topic": "orders", "body": f"m{i}"} for i in range(400)], concurrency=16)
    assert all(isinstance(item, SendResult) for item in outcomes)
    assert server.most_open <= 4
    assert server.connections - before <= 4
