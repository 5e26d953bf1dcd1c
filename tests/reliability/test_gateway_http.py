"""The emulator's connections behave as the API gateway's: malformed HTTP, oversized heads, stalled requests.

Raw sockets against real emulator processes: every answer, even to bytes that are not HTTP, is Huawei's error
body with an X-Request-Id; a head over the spec's `x-max-header-bytes` is refused; a request that stops
arriving is answered and closed after the read deadline; SIGTERM stops the emulator even while uploads stall.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import ssl
import time
from collections.abc import Iterator

import pytest
from dms_rocketmq_api.spec_rules import HEADER_MAX_BYTES
from dms_rocketmq_emulator import start_emulator as start_emulator_process
from dms_rocketmq_emulator._control import MAX_DELAY_MS
from emulators import EmulatorFactory, EmulatorProcess
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rawhttp import (
    REQUEST_ID,
    SEND_PATH,
    Reply,
    address,
    assert_huawei_error,
    connect,
    exchange,
    read_reply,
    request_bytes,
    stream,
)

FUZZ = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def valid_body(body: str = "hello") -> bytes:
    return json.dumps({"topic": "orders", "body": body}).encode()


def stored_bodies(emulator: EmulatorProcess) -> set[str]:
    return {message["body"] for message in emulator.messages("orders")}


def assert_shutting_down(reply: Reply | None) -> None:
    """503 DMS.00503000 in Huawei's error body, with an X-Request-Id."""
    assert reply is not None, "the connection was closed without the 503"
    assert reply.status == 503, reply
    assert REQUEST_ID.fullmatch(reply.headers.get("x-request-id", "")), reply.headers
    assert reply.json()["error_code"] == "DMS.00503000", reply.body


def assert_gateway_refusal(reply: Reply | None, status: int = 400) -> dict[str, object]:
    """A Huawei error body from the gateway (APIGW.0201 with its request_id), and the connection closed."""
    body = assert_huawei_error(reply, status)
    assert reply is not None
    assert body["error_code"] == "APIGW.0201", body
    assert body["request_id"] == reply.headers["x-request-id"], (body, reply.headers)
    assert reply.headers.get("connection") == "close", reply.headers
    return body


MALFORMED = {
    "garbage request line": b"\x16\x03\x01 hello there\r\n\r\n",
    "bad version": b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    "space in header name": b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n",
    "two lengths": request_bytes(valid_body("two-lengths"), headers=[("Content-Length", "30")]),
    "length and chunked": request_bytes(valid_body("length-chunked"), headers=[("Transfer-Encoding", "chunked")]),
    "non-numeric length": request_bytes(b"", content_length=False, headers=[("Content-Length", "abc")]),
    "broken chunk": request_bytes(
        b"zz\r\nhello\r\n0\r\n\r\n", content_length=False, headers=[("Transfer-Encoding", "chunked")]
    ),
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_http_gets_the_gateways_huawei_error(open_emulator: EmulatorProcess, data: bytes) -> None:
    """Requests that are not valid HTTP/1.1 get 400 APIGW.0201 with X-Request-Id and a close; nothing is stored."""
    before = stored_bodies(open_emulator)
    assert_gateway_refusal(exchange(open_emulator.url, data))
    assert stored_bodies(open_emulator) == before


@FUZZ
@given(
    prefix=st.sampled_from(
        [b"", b"POST ", f"POST {SEND_PATH} HTTP/1.1\r\n".encode(), b"GET / HTTP/1.1\r\nHost: x\r\n"]
    ),
    data=st.binary(min_size=1, max_size=512),
)
def test_any_bytes_get_a_huawei_answer_or_a_close(open_emulator: EmulatorProcess, prefix: bytes, data: bytes) -> None:
    """Whatever bytes arrive (then the client's end of stream), the answer carries X-Request-Id and, when it is an
    error, Huawei's error body; or the connection is closed with no answer. Never uvicorn's plain text."""
    with connect(open_emulator.url, timeout=20.0) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(prefix + data + b"\r\n\r\n")
            sock.shutdown(socket.SHUT_WR)
        reply = read_reply(sock)
    if reply is None:
        return
    if reply.status >= 400:
        assert_huawei_error(reply)
    else:
        assert reply.headers.get("x-request-id"), reply


def test_the_largest_head_is_accepted_and_one_byte_more_refused(open_emulator: EmulatorProcess) -> None:
    """A head of exactly `x-max-header-bytes` (request line to blank line) is served; one byte more is refused."""
    base = request_bytes(valid_body("head-at-limit"), headers=[("X-Pad", "")])
    head_size = base.index(b"\r\n\r\n") + 4
    padding = "p" * (HEADER_MAX_BYTES - head_size)
    at_limit = request_bytes(valid_body("head-at-limit"), headers=[("X-Pad", padding)])
    assert at_limit.index(b"\r\n\r\n") + 4 == HEADER_MAX_BYTES
    reply = exchange(open_emulator.url, at_limit)
    assert reply is not None
    assert reply.status == 200, reply.body
    over = request_bytes(valid_body("head-over-limit"), headers=[("X-Pad", padding + "p")])
    body = assert_gateway_refusal(exchange(open_emulator.url, over))
    assert str(HEADER_MAX_BYTES) in str(body["error_msg"])
    assert "head-over-limit" not in stored_bodies(open_emulator)


@pytest.mark.parametrize("where", ["url", "one header", "many headers"])
def test_a_huge_head_is_refused_while_it_arrives(open_emulator: EmulatorProcess, where: str) -> None:
    """A 32 MiB header (or URL, or many headers) is refused as soon as the limit is passed, not buffered and
    stored: the client is answered long before it has sent everything."""
    marker = f"huge-{where}"
    if where == "url":
        head = f"POST {SEND_PATH}?pad=".encode()
        piece = b"u" * 65536
    elif where == "one header":
        head = request_bytes(valid_body(marker)).partition(b"\r\n\r\n")[0] + b"\r\nX-Pad: "
        piece = b"h" * 65536
    else:
        head = request_bytes(valid_body(marker)).partition(b"\r\n\r\n")[0] + b"\r\n"
        piece = b"X-Pad: " + b"m" * 100 + b"\r\n"
    reply = stream(open_emulator.url, head, (piece for _ in range(32 * 1024 * 1024 // len(piece))))
    assert_gateway_refusal(reply)
    assert marker not in stored_bodies(open_emulator)


def read_all(sock: socket.socket) -> bytes:
    """Every byte until the server closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


class _ByteByByte:
    """Received bytes handed to `read_reply` one at a time, so that it reads one response and no further."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def recv(self, size: int) -> bytes:
        byte, self._data = self._data[:1], self._data[1:]
        return byte


def test_pipelined_requests_are_each_held_to_the_head_limit(open_emulator: EmulatorProcess) -> None:
    """Two requests in one write: the second, whose head is over the limit, is refused after the first is served."""
    first = request_bytes(valid_body("pipelined-first")).replace(b"Connection: close\r\n", b"")
    second = request_bytes(valid_body("pipelined-second"), headers=[("X-Pad", "q" * HEADER_MAX_BYTES)])
    with connect(open_emulator.url) as sock:
        sock.sendall(first + second)
        received = _ByteByByte(read_all(sock))
    reply = read_reply(received)  # type: ignore[arg-type]
    assert reply is not None
    assert reply.status == 200, reply.body
    assert_gateway_refusal(read_reply(received))  # type: ignore[arg-type]
    assert "pipelined-second" not in stored_bodies(open_emulator)


@pytest.fixture(scope="module")
def quick_emulator(start_emulator: EmulatorFactory) -> EmulatorProcess:
    """An emulator with one-second read deadlines."""
    return start_emulator("--header-timeout", "1", "--body-timeout", "1", auth=False)


def test_stalled_requests_are_answered_and_closed_after_the_read_deadlines(quick_emulator: EmulatorProcess) -> None:
    """300 connections that stop mid-head, mid-body or before a byte are all closed after the deadline: the half-sent
    ones with 400 APIGW.0201 naming the deadline, the silent ones with no answer. Nothing half-sent is stored."""
    partials = [
        b"",
        b"POST /v2/rocketmq/",
        request_bytes(b"")[:-10],
        request_bytes(valid_body("stalled-body"))[:-5],
    ]
    sockets: list[tuple[bytes, socket.socket]] = []
    try:
        for index in range(300):
            sock = connect(quick_emulator.url, timeout=30.0)
            sockets.append((partials[index % 4], sock))
            if partials[index % 4]:
                sock.sendall(partials[index % 4])
        for sent, sock in sockets:
            reply = read_reply(sock)  # returns when the emulator answers or closes; ServerHung after 30 s
            if not sent:
                assert reply is None, reply
                continue
            body = assert_gateway_refusal(reply)
            part = "body" if b'"topic"' in sent else "headers"  # only the last partial has its head complete
            assert f"request {part} did not arrive within 1 s" in str(body["error_msg"]), body
    finally:
        for _, sock in sockets:
            sock.close()
    assert "stalled-body" not in stored_bodies(quick_emulator)


def test_a_slow_but_steady_body_is_not_cut(quick_emulator: EmulatorProcess) -> None:
    """The body deadline is between pieces: a body that keeps arriving for twice the deadline (a piece every
    twentieth of it) is stored."""
    body = valid_body("slow-steady-" + "s" * 400)
    data = request_bytes(body)
    head, _, rest = data.partition(b"\r\n\r\n")
    pieces = [rest[i : i + 10] for i in range(0, len(rest), 10)]
    assert len(pieces) * 0.05 > 2.0
    reply = stream(quick_emulator.url, head + b"\r\n\r\n", pieces, pause=0.05)
    assert reply is not None
    assert reply.status == 200, reply.body


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_stops_the_emulator_while_uploads_are_stalled(
    start_emulator: EmulatorFactory, stop_signal: signal.Signals
) -> None:
    """With long read deadlines, SIGTERM (or Ctrl-C's SIGINT) still stops the emulator (exit 0) although clients
    hold half-sent heads and bodies and idle connections; each half-sent request gets 503 and a close."""
    emulator = start_emulator("--header-timeout", "3600", "--body-timeout", "3600", auth=False)
    reply = exchange(emulator.url, request_bytes(valid_body("before-sigterm")))
    assert reply is not None
    assert reply.status == 200
    head, _, body = request_bytes(valid_body("stalled-at-sigterm")).partition(b"\r\n\r\n")
    stalled = [head + b"\r\n\r\n" + body[:5], head[:30], b""]
    sockets = []
    try:
        for partial in stalled * 10:
            sock = connect(emulator.url, timeout=30.0)
            if partial:
                sock.sendall(partial)
            sockets.append((partial, sock))
        # A complete request on the last connection: the emulator has read every stalled one before it.
        assert exchange(emulator.url, request_bytes(valid_body("after-stalls"))) is not None
        code = emulator.stop(timeout=60.0, sig=stop_signal)
        assert code == 0, emulator.output[-2000:]
        for partial, sock in sockets:
            reply = read_reply(sock)
            if partial:
                assert_shutting_down(reply)
            else:
                assert reply is None
    finally:
        for _, sock in sockets:
            sock.close()
    assert "Traceback" not in emulator.output


def test_sigterm_cuts_a_stuck_send_after_the_shutdown_timeout(start_emulator: EmulatorFactory) -> None:
    """A send held up (an injected 10-minute delay) when SIGTERM comes does not hold the stop up past
    --shutdown-timeout: the process exits 0 and the held send gets the gateway's 503, not a plain-text 500."""
    emulator = start_emulator("--shutdown-timeout", "1", auth=False)
    emulator.inject_faults(1, status=200, delay_ms=MAX_DELAY_MS)
    with connect(emulator.url, timeout=60.0) as sock:
        sock.sendall(request_bytes(valid_body("stuck-at-sigterm")))
        wait_until_the_fault_is_taken(emulator)
        code = emulator.stop(timeout=60.0, sig=signal.SIGTERM)
        assert code == 0, emulator.output[-2000:]
        assert_shutting_down(read_reply(sock))
    assert "Traceback" not in emulator.output


def wait_until_the_fault_is_taken(emulator: EmulatorProcess) -> None:
    """Return once the emulator's send handler has taken the armed fault (the send is inside its delay)."""
    deadline = time.monotonic() + 30.0
    while emulator.armed_faults() != 0:
        assert time.monotonic() < deadline, "the send never reached the emulator's fault"
        time.sleep(0.01)  # polling a state the server reports, not ordering events by time


def test_the_protocol_class_still_overrides_uvicorns_hooks() -> None:
    """The uvicorn methods GatewayProtocol overrides still exist under these names (an upgrade that renames one
    would silently bring back uvicorn's own behaviour)."""
    from dms_rocketmq_emulator._http import GatewayProtocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    for name in (
        "send_400_response",
        "shutdown",
        "data_received",
        "connection_made",
        "connection_lost",
        "on_message_begin",
        "on_headers_complete",
        "on_message_complete",
        "on_response_complete",
    ):
        assert name in vars(HttpToolsProtocol), f"uvicorn's HttpToolsProtocol no longer has {name}"
        assert name in vars(GatewayProtocol), name


@pytest.fixture(scope="module")
def tls_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """An HTTPS emulator (its own local CA) with one-second read deadlines, authentication off."""
    emulator = start_emulator_process(
        tls=True, auth=False, topics=("orders:4",), extra_args=["--header-timeout", "1", "--body-timeout", "1"]
    )
    yield emulator
    emulator.close()


def tls_connect(emulator: EmulatorProcess) -> ssl.SSLSocket:
    """A TLS connection to the emulator, trusting its CA, with a 30 s timeout on every operation."""
    assert emulator.ca_file is not None
    context = ssl.create_default_context(cafile=str(emulator.ca_file))
    host, port = address(emulator.url)
    sock = context.wrap_socket(socket.create_connection((host, port), timeout=30.0), server_hostname=host)
    sock.settimeout(30.0)
    return sock


def tls_exchange(emulator: EmulatorProcess, data: bytes) -> Reply | None:
    """Send `data` over TLS and read the answer."""
    with tls_connect(emulator) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, ssl.SSLError):
            sock.sendall(data)
        return read_reply(sock)  # type: ignore[arg-type]


def test_over_https_the_gateway_answers_the_same(tls_emulator: EmulatorProcess) -> None:
    """Over HTTPS too: malformed HTTP and a head over the limit get 400 APIGW.0201, a stalled head the read
    deadline's 400."""
    assert tls_emulator.url.startswith("https://")
    assert_gateway_refusal(tls_exchange(tls_emulator, MALFORMED["garbage request line"]))
    over = request_bytes(valid_body("tls-over"), headers=[("X-Pad", "p" * HEADER_MAX_BYTES)])
    assert_gateway_refusal(tls_exchange(tls_emulator, over))
    body = assert_gateway_refusal(tls_exchange(tls_emulator, request_bytes(b"")[:-10]))
    assert "did not arrive within 1 s" in str(body["error_msg"])


def test_over_https_sigterm_answers_a_stalled_upload_and_exits() -> None:
    """Over HTTPS, with the default read deadlines, SIGTERM while a client holds its body back gets that client
    503 and the emulator exits 0."""
    emulator = start_emulator_process(tls=True, auth=False, topics=("orders:4",))
    try:
        stop_with_a_body_held_back(emulator)
    finally:
        emulator.close()


def stop_with_a_body_held_back(tls_emulator: EmulatorProcess) -> None:
    # The 100 Continue says the emulator has the head and waits for the body, which the client holds back.
    with tls_connect(tls_emulator) as sock:
        sock.sendall(
            request_bytes(valid_body("tls-stalled"), headers=[("Expect", "100-continue")]).partition(b"\r\n\r\n")[0]
            + b"\r\n\r\n"
        )
        interim = read_reply(sock)  # type: ignore[arg-type]
        assert interim is not None
        assert interim.status == 100
        assert tls_emulator.stop(timeout=60.0, sig=signal.SIGTERM) == 0, tls_emulator.output[-2000:]
        assert_shutting_down(read_reply(sock))  # type: ignore[arg-type]
