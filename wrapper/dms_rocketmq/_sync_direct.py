"""The direct send path of `Client`: the async direct sender's request and parser, on a standard-library pool.

httpx's per-request layers cost `Client.send` most of its CPU (docs/performance.md, "One sync send, by
layer"); a keep-alive `http.client` connection does the same work in a fraction of it. The request (method,
URL, headers, signature, body bytes) is `DirectSender.prepare`'s and the answer goes through
`result_from_content`, exactly as on `AsyncClient`'s direct path, so tests/unit/test_wrapper_fast_path.py holds
this path equal to the generated one too; tests/integration/test_sync_direct.py holds the two equal on the
wire. The network settings (TLS context, proxy, timeouts, pool size) and the wording of every failure are the
one `Network`'s.

Connections: at most `max_connections` at once, shared by every thread; a send that finds them all busy waits
for one at most the timeout's `pool` part. An idle connection is reused while the server keeps it open (a
connection the server closed, or one idle longer than `KEEPALIVE_EXPIRY`, is dropped before use, as httpx
does), so a failure on a reused connection means the request may have been sent.
"""

from __future__ import annotations

import http.client
import select
import socket
import threading
import time
import zlib
from collections.abc import Mapping
from typing import Any

import httpx
from dms_rocketmq_api.api.messages import send_message
from dms_rocketmq_api.models.send_message_request_body import SendMessageRequestBody

from ._auth import mask_sent_secrets
from ._config import Settings
from ._exceptions import APIConnectionError
from ._fast_path import DirectSender, result_from_content
from ._flight import request_leaving
from ._models import SendResult
from ._network import Network

__all__ = ["KEEPALIVE_EXPIRY", "SyncDirectSender", "direct_path_supported", "direct_sender"]

#: Seconds an idle connection is kept, as httpx keeps them (its default keepalive_expiry).
KEEPALIVE_EXPIRY = 5.0


def direct_path_supported(network: Network) -> bool:
    """Whether the direct path can carry this client's requests: all but a proxy reached over TLS itself
    (an https:// proxy URL), which http.client cannot tunnel through; those clients send on the generated path."""
    return network.proxy is None or network.proxy.url.startswith("http://")


def direct_sender(settings: Settings, engine: Any, network: Network) -> SyncDirectSender | None:
    """The direct sender of a `Client` with these settings, or None when it must send on the generated path."""
    if not direct_path_supported(network):
        return None
    # The generated operation's own request description: its method, URL and headers (the body is per send).
    operation = send_message._get_kwargs(
        engine, settings.project_id, settings.instance_id, body=SendMessageRequestBody(topic="", body="")
    )
    return SyncDirectSender(settings, operation, network)


class _Timeouts:
    """A timeout's four parts as socket timeouts, in seconds (None: wait for ever)."""

    __slots__ = ("connect", "pool", "read", "write")

    def __init__(self, parts: Mapping[str, float | None]) -> None:
        self.connect, self.read, self.write, self.pool = parts["connect"], parts["read"], parts["write"], parts["pool"]


class _Connection:
    """One keep-alive connection and when it was last given back."""

    __slots__ = ("conn", "idle_since")

    def __init__(self, conn: http.client.HTTPConnection) -> None:
        self.conn = conn
        self.idle_since = 0.0


def _closed_by_peer(conn: http.client.HTTPConnection) -> bool:
    """Whether an idle connection can no longer carry a request: the server closed it, or sent something unasked."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)  # Windows: no poll
        return bool(readable)
    except (OSError, ValueError):
        return True


class SyncDirectSender:
    """Posts a send's JSON body with `http.client` on a thread-safe keep-alive pool (one attempt per `send`)."""

    def __init__(self, settings: Settings, operation: Mapping[str, Any], network: Network) -> None:
        # The request (method, URL, headers, signature, body encoding) is the async direct sender's: one owner.
        self._request = DirectSender(settings, operation, network)
        self._network = network
        url = httpx.URL(self._request.url)
        self._tls = url.scheme == "https"
        self._host = url.host
        self._port = url.port or (443 if self._tls else 80)
        proxy = network.proxy
        if proxy is not None and not self._tls:
            # A plain-HTTP endpoint through a proxy: the request goes to the proxy with the absolute URL.
            self._target = self._request.url
            self._proxy_headers = {"Proxy-Authorization": proxy.authorization} if proxy.authorization else {}
        else:
            self._target = url.raw_path.decode("ascii")
            self._proxy_headers = {}
        self._timeouts = _Timeouts(network.timeout.as_dict())
        self._slots = threading.BoundedSemaphore(network.max_connections)
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self.closed = False

    # -- connections -------------------------------------------------------------------------------------------
    def _new_connection(self, timeouts: _Timeouts) -> http.client.HTTPConnection:
        proxy = self._network.proxy
        conn: http.client.HTTPConnection
        if proxy is None:
            if self._tls:
                conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=timeouts.connect, context=self._network.ssl_context
                )
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=timeouts.connect)
        elif self._tls:
            conn = http.client.HTTPSConnection(
                proxy.host, proxy.port, timeout=timeouts.connect, context=self._network.ssl_context
            )
            authorization = proxy.authorization
            conn.set_tunnel(
                self._host, self._port, headers={"Proxy-Authorization": authorization} if authorization else None
            )
        else:
            conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=timeouts.connect)
        conn.connect()
        return conn

    def _take(self, timeouts: _Timeouts) -> _Connection | None:
        """A slot in the pool (waiting at most `pool` seconds), and an idle connection if one is still usable."""
        limit = timeouts.pool
        if not self._slots.acquire(timeout=-1 if limit is None else limit):
            error = self._network.failure(
                TimeoutError("no free connection"),
                request_sent=False,
                timeout_phase="waiting for a free connection",
            )
            raise error
        now = time.monotonic()
        while True:
            with self._lock:
                if not self._idle:
                    return None
                held = self._idle.pop()
            if now - held.idle_since < KEEPALIVE_EXPIRY and not _closed_by_peer(held.conn):
                return held
            held.conn.close()

    def _give_back(self, held: _Connection | None, reusable: bool) -> None:
        try:
            if held is not None:
                if reusable:
                    held.idle_since = time.monotonic()
                    with self._lock:  # `close` decides under the same lock: no connection kept after it
                        if not self.closed:
                            self._idle.append(held)
                            return
                held.conn.close()
        finally:
            self._slots.release()

    # -- one send ----------------------------------------------------------------------------------------------
    def send(
        self,
        request_body: SendMessageRequestBody,
        retries_taken: int,
        call_timeout: Mapping[str, float | None] | None = None,
    ) -> SendResult:
        """POST one send's body and turn the answer into a SendResult or one exception (one attempt).

        `call_timeout` is this call's timeout (`httpx.Timeout.as_dict()`), None for the client's.
        """
        payload, headers = self._request.prepare(request_body)
        if self.closed:
            raise RuntimeError("this Client is closed; create a new one to send again.")
        timeouts = self._timeouts if call_timeout is None else _Timeouts(call_timeout)
        held = self._take(timeouts)
        request_leaving()  # past the pool's wait: from here on, abandoning the send leaves it in doubt
        reusable = False
        try:
            fresh = held is None
            if held is None:
                try:
                    held = _Connection(self._new_connection(timeouts))
                except (OSError, http.client.HTTPException) as exc:
                    raise self._connect_failure(exc) from exc
            status, request_id, content, raw_headers, reusable = self._exchange(
                held.conn, fresh, timeouts, payload, headers
            )
        finally:
            self._give_back(held, reusable)
        method, url = self._request.method, self._request.url

        def lazy() -> httpx.Response:
            response = httpx.Response(
                status,
                headers=raw_headers,
                content=content,
                request=httpx.Request(method, url, headers=headers, content=payload),
            )
            mask_sent_secrets(response)
            return response

        return result_from_content(status, request_id, content, lazy, retries_taken, payload)

    def _exchange(
        self,
        conn: http.client.HTTPConnection,
        fresh: bool,
        timeouts: _Timeouts,
        payload: bytes,
        headers: Mapping[str, str],
    ) -> tuple[int, str | None, bytes, list[tuple[bytes, bytes]], bool]:
        """Write the request and read the answer on `conn`: (status, request id, body, headers, reusable)."""
        sock = conn.sock
        phase = "sending the request"
        try:
            # This call's parts, whatever the last request on this connection was given (a per-call timeout).
            if sock is not None:
                sock.settimeout(timeouts.write)
            conn.putrequest("POST", self._target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            for name, value in self._proxy_headers.items():
                conn.putheader(name, value)
            conn.putheader("Content-Length", str(len(payload)))
            conn.endheaders(payload)
            phase = "waiting for the response"
            if sock is not None and timeouts.read != timeouts.write:
                sock.settimeout(timeouts.read)
            answer = conn.getresponse()
            content = answer.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise self._exchange_failure(exc, phase, fresh) from exc
        raw_headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.getheaders()]
        encoding = answer.getheader("Content-Encoding")
        if encoding is not None and encoding.strip().lower() in ("gzip", "deflate"):
            content = self._decoded(content, encoding.strip().lower())
        return answer.status, answer.getheader("X-Request-Id"), content, raw_headers, not answer.will_close

    def _decoded(self, content: bytes, encoding: str) -> bytes:
        """An answer the server compressed although the request did not ask for it, decoded as httpx does."""
        try:
            return zlib.decompress(content, wbits=31 if encoding == "gzip" else 15)
        except zlib.error as exc:
            # httpx's DecodingError: the answer came, so the request was sent.
            raise self._network.failure(exc, request_sent=True) from exc

    # -- failures ----------------------------------------------------------------------------------------------
    def _connect_failure(self, exc: BaseException) -> APIConnectionError:
        """Connecting (TCP, a proxy's CONNECT, the TLS handshake) failed: nothing was sent."""
        proxy_status = _tunnel_status(exc)
        if proxy_status is not None:
            return self._network.proxy_refused(*proxy_status)
        phase = "connecting" if isinstance(exc, TimeoutError | socket.timeout) else None
        return self._network.failure(exc, request_sent=False, timeout_phase=phase)

    def _exchange_failure(self, exc: BaseException, phase: str, fresh: bool) -> APIConnectionError:
        """Writing or reading failed: the request may have been sent (some of it, or all of it)."""
        network = self._network
        if isinstance(exc, TimeoutError | socket.timeout):
            return network.failure(exc, request_sent=True, timeout_phase=phase)
        if fresh and network.may_be_tls_port(exc) and network.speaks_tls():
            # A TLS server closes (or resets) a connection that starts in plain text without a word.
            return network.tls_port_error()
        return network.failure(exc, request_sent=True)

    def close(self) -> None:
        """Close every idle connection; sending afterwards raises RuntimeError (connections in use close when done)."""
        with self._lock:
            self.closed = True
            idle, self._idle = self._idle, []
        for held in idle:
            held.conn.close()


def _tunnel_status(exc: BaseException) -> tuple[int, str] | None:
    """The status of a CONNECT the proxy refused: http.client words it `Tunnel connection failed: 407 Reason`."""
    text = str(exc)
    prefix = "Tunnel connection failed: "
    if isinstance(exc, OSError) and text.startswith(prefix):
        code, _, reason = text[len(prefix) :].partition(" ")
        if code.isdigit():
            return int(code), reason
    return None
