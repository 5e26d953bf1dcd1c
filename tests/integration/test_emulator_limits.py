"""Request size limits over a raw socket: 413 before the body is read, for declared and chunked bodies."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from dms_rocketmq_api.spec_rules import REQUEST_MAX_BYTES
from dms_rocketmq_emulator.pytest_plugin import EmulatorProcess, start_emulator

pytestmark = pytest.mark.integration

LIMIT = REQUEST_MAX_BYTES


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    process = start_emulator(memory=True, auth=True)
    try:
        yield process
    finally:
        process.close()


def _connect(emulator: EmulatorProcess) -> socket.socket:
    parts = urlsplit(emulator.url)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def _head(emulator: EmulatorProcess, extra: str) -> bytes:
    path = urlsplit(emulator.messages_url).path
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{extra}\r\n").encode()


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return int(lines[0].split()[1]), headers, rest[:length]


def test_declared_length_over_12_mb_is_413_before_any_body_byte(emulator: EmulatorProcess) -> None:
    """Content-Length over 12 MB gets 413 APIGW.0201 while not one byte of the body has been sent."""
    with _connect(emulator) as sock:
        sock.sendall(_head(emulator, f"Content-Length: {LIMIT + 1}\r\n"))
        status, headers, body = _read_response(sock)
    assert status == 413
    document = json.loads(body)
    assert document["error_code"] == "APIGW.0201"
    assert document["request_id"] == headers["x-request-id"]
    assert headers["connection"] == "close"


def test_chunked_body_is_cut_off_at_12_mb(emulator: EmulatorProcess) -> None:
    """A chunked body is counted as it streams: 413 once it passes 12 MB, without waiting for its end."""
    chunk = b"x" * (1024 * 1024)
    with _connect(emulator) as sock:
        sock.sendall(_head(emulator, "Transfer-Encoding: chunked\r\n"))
        for _ in range(13):  # 13 MiB, and no terminating zero-length chunk
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        status, _, body = _read_response(sock)
    assert status == 413
    assert json.loads(body)["error_code"] == "APIGW.0201"


def test_declared_length_at_limit_is_read_and_checked_further(emulator: EmulatorProcess) -> None:
    """A body of exactly 12 MB is read; it then fails later checks (here: no credentials, 401), not 413."""
    with _connect(emulator) as sock:
        sock.sendall(_head(emulator, f"Content-Length: {LIMIT}\r\n"))
        sock.sendall(b" " * LIMIT)
        status, _, body = _read_response(sock)
    assert status == 401
    assert json.loads(body)["error_code"] == "APIGW.0301"


def test_413_comes_before_authentication(emulator: EmulatorProcess) -> None:
    """Like the gateway, the size limit is checked before credentials: an unsigned 13 MB request gets 413."""
    with _connect(emulator) as sock:
        sock.sendall(_head(emulator, f"Content-Length: {13 * 1024 * 1024}\r\n"))
        status, _, _ = _read_response(sock)
    assert status == 413
