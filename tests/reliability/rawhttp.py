"""A deliberately dumb HTTP/1.1 client over a raw socket, for sending what no real client would send.

Every read has a socket timeout: a server that hangs fails the test with `ServerHung` instead of hanging it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import select
import socket
import time
import urllib.parse
from collections.abc import Iterable
from typing import Any

from emulators import INSTANCE_ID, PROJECT_ID

SEND_PATH = f"/v2/rocketmq/{PROJECT_ID}/instances/{INSTANCE_ID}/messages"
REQUEST_ID = re.compile(r"[0-9a-f]{32}")


class ServerHung(AssertionError):
    """The server neither answered nor closed the connection within the timeout."""


@dataclasses.dataclass
class Reply:
    """One HTTP response as it came off the wire."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def address(endpoint: str) -> tuple[str, int]:
    """(host, port) of an `http://host:port` endpoint."""
    parts = urllib.parse.urlsplit(endpoint)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


def request_bytes(
    body: bytes = b"",
    *,
    method: str = "POST",
    path: str = SEND_PATH,
    headers: Iterable[tuple[str, str]] | None = None,
    content_type: str | None = "application/json",
    content_length: bool = True,
) -> bytes:
    """A request's bytes: request line, Host, the given headers, Content-Type/-Length unless told not to."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    if content_length:
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{name}: {value}" for name, value in headers or ()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def connect(endpoint: str, timeout: float = 20.0) -> socket.socket:
    """A TCP connection to the endpoint with `timeout` on every operation."""
    sock = socket.create_connection(address(endpoint), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def read_reply(sock: socket.socket) -> Reply | None:
    """Read one response; None when the server closed (or reset) the connection without one."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if 100 <= status < 200 or status in (204, 304):
            return Reply(status, headers, b"")  # no body (an interim 100 Continue: the final answer follows)
        if "content-length" in headers:
            length = int(headers["content-length"])
            while len(rest) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                rest += chunk
            return Reply(status, headers, rest[:length])
        while chunk := sock.recv(65536):
            rest += chunk
        return Reply(status, headers, rest)
    except TimeoutError:
        raise ServerHung(f"no answer and no close within {sock.gettimeout()} s (read so far: {data[:200]!r})") from None
    except ConnectionResetError:
        return None


def exchange(endpoint: str, data: bytes, *, timeout: float = 20.0) -> Reply | None:
    """Send `data` on a new connection and read the answer (None: the server closed the connection)."""
    with connect(endpoint, timeout) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)  # a failure means the server answered early and closed: read what it said
        return read_reply(sock)


def stream(
    endpoint: str, head: bytes, chunks: Iterable[bytes], *, pause: float = 0.0, timeout: float = 20.0
) -> Reply | None:
    """Send `head`, then `chunks` with `pause` seconds between them, stopping as soon as the server answers."""
    with connect(endpoint, timeout) as sock:
        try:
            sock.sendall(head)
            for chunk in chunks:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break  # an early answer (413) or a close: stop sending
                sock.sendall(chunk)
                if pause:
                    time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_reply(sock)


def assert_huawei_error(reply: Reply | None, *statuses: int) -> dict[str, Any]:
    """Assert a 4xx (one of `statuses` if given) with the Huawei error body and an X-Request-Id; return the body."""
    assert reply is not None, "the server closed the connection where an error response was expected"
    assert 400 <= reply.status < 500, f"expected a 4xx, got {reply.status}: {reply.body[:300]!r}"
    if statuses:
        assert reply.status in statuses, f"expected {statuses}, got {reply.status}: {reply.body[:300]!r}"
    assert reply.headers.get("content-type", "").startswith("application/json"), reply.headers
    assert REQUEST_ID.fullmatch(reply.headers.get("x-request-id", "")), reply.headers
    body = reply.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error_code"), str), body
    assert body["error_code"], body
    assert isinstance(body.get("error_msg"), str), body
    assert body["error_msg"], body
    return body


def assert_refused(reply: Reply | None, *statuses: int) -> None:
    """A closed connection, or a 4xx with the Huawei error body: never a 5xx, never a success."""
    if reply is not None:
        assert_huawei_error(reply, *statuses)
