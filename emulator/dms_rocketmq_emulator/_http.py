"""The emulator's HTTP/1.1 connections, handled as the API gateway in front of DMS handles them.

uvicorn parses HTTP and calls the ASGI app; what happens *before* a request reaches the app is this module's:

- A request that is not valid HTTP/1.1 (a garbage request line, two Content-Length headers, a broken chunked
  body) gets 400 `APIGW.0201` in Huawei's error body with an `X-Request-Id`, where uvicorn would answer a
  plain-text "Invalid HTTP request received." without either.
- The request line and headers together may not be larger than the spec's `x-max-header-bytes`
  (`HEADER_MAX_BYTES`): counted as the bytes arrive, so a huge header is refused before it is buffered.
- Read deadlines: the whole head must arrive within `header_timeout` seconds of its first byte (or of the
  connection, for a connection that sends nothing); once the head is in, each piece of the body must follow the
  previous one within `body_timeout` seconds. A late request gets 400 `APIGW.0201` (nothing, if it had not
  started) and its connection is closed.
- Shutdown: a connection whose request is not fully received when the server stops (SIGTERM, SIGINT) gets 503
  and is closed at once, so that a stalled upload never holds the shutdown up; requests already received are
  answered first, as uvicorn's graceful shutdown does.

The hooks are uvicorn's protocol-class interface: `Config(http=<class>)` is supported API, and the class
overrides methods of `HttpToolsProtocol` (`send_400_response`, `shutdown`, `on_response_complete`, the parser
callbacks) and reads its per-request state (`cycle`, `pipeline`, `url`, `headers`). Those names are not
documented API: test_gateway_http.py (the reliability tier) fails on the uvicorn upgrade that renames a method,
and its behaviour tests on one that changes the state.
"""

from __future__ import annotations

import asyncio
import http
import logging
from typing import Any, ClassVar

import httptools
from dms_rocketmq_api.spec_rules import ERRORS, HEADER_MAX_BYTES
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ._config import DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT
from ._exceptions import GATEWAY_REFUSED, DMSError
from ._responses import RequestIds, error_response

__all__ = [
    "GatewayProtocol",
    "gateway_protocol",
    "head_too_large",
    "malformed_http",
    "read_timeout",
    "shutting_down",
]

logger = logging.getLogger("dms_rocketmq_emulator")

_END_OF_HEAD = b"\r\n\r\n"
_GATEWAY_CODE = GATEWAY_REFUSED
_UNAVAILABLE = ERRORS["ServiceUnavailable.unavailable"][0]


def malformed_http(detail: str = "the request is not valid HTTP/1.1") -> DMSError:
    """400 APIGW.0201: the gateway could not read the request as HTTP/1.1."""
    return DMSError(400, _GATEWAY_CODE, f"Bad request: {detail}", gateway=True)


def head_too_large() -> DMSError:
    """400 APIGW.0201: the request line and headers are over the spec's `x-max-header-bytes`."""
    return DMSError(
        400,
        _GATEWAY_CODE,
        f"Request headers too large: the request line and headers are over {HEADER_MAX_BYTES} bytes",
        gateway=True,
    )


def read_timeout(part: str, seconds: float) -> DMSError:
    """400 APIGW.0201: the request's `part` (headers, body) did not arrive in time."""
    return DMSError(
        400, _GATEWAY_CODE, f"Request timeout: the request {part} did not arrive within {seconds:g} s", gateway=True
    )


def shutting_down() -> DMSError:
    """503 DMS.00503000: the emulator is stopping; the request was not (fully) received."""
    return DMSError(503, _UNAVAILABLE, "Service temporarily unavailable: the emulator is shutting down.")


def _response_bytes(error: DMSError, request_id: str) -> bytes:
    """A whole HTTP/1.1 response for `error`: the body and headers the app's errors have, then a close."""
    reply = error_response(error, request_id)
    lines = [
        f"HTTP/1.1 {error.status} {http.HTTPStatus(error.status).phrase}".encode("ascii"),
        b"content-type: application/json",
        b"content-length: " + str(len(reply.body)).encode("ascii"),
        b"x-request-id: " + request_id.encode("ascii"),
        *(name + b": " + value for name, value in reply.headers if name != b"connection"),
        b"connection: close",
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + reply.body


class _HeadTooLarge(httptools.HttpParserError):
    """Raised from a parser callback: uvicorn then answers through `send_400_response`."""


class GatewayProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the gateway's errors, head limit, read deadlines and shutdown."""

    header_timeout: ClassVar[float] = DEFAULT_HEADER_TIMEOUT
    body_timeout: ClassVar[float] = DEFAULT_BODY_TIMEOUT
    #: The ids of the answers given here (the app has its own sequence of the same form).
    request_ids: ClassVar[RequestIds] = RequestIds()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Whether a request body is being received (its head is complete, its end not yet seen).
        self._in_body = False
        #: Bytes of the current request head received so far (counted as they arrive), and whether all of
        #: them were (not so for a request pipelined behind another in one read: checked once parsed).
        self._head_bytes = 0
        self._counted_on_arrival = True
        #: Whether the bytes being parsed are counted as they arrive (`_count_head`).
        self._counting = True
        #: The last bytes of the head so far: its end (CRLF CRLF) may straddle two reads.
        self._tail = b""
        self._deadline: asyncio.TimerHandle | None = None
        #: What `send_400_response` answers; None: the request is not valid HTTP.
        self._refusal: DMSError | None = None
        #: A refusal of a pipelined request, sent once the requests before it are answered.
        self._deferred: DMSError | None = None

    # -- connection ---------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A connection that never sends a byte is a head that never arrives.
        self._arm(self.header_timeout, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # A head that starts in this read, before any request ends in it, is counted as it arrives.
        self._counting = not self._in_body
        if self._counting and not self._count_head(data):
            return
        super().data_received(data)
        if self.transport.is_closing() or self._deferred is not None:
            return
        if self._in_body:
            self._arm(self.body_timeout, "body")  # between two pieces of the body
        elif self._head_bytes and self._deadline is None:
            self._arm(self.header_timeout, "headers")  # from the head's first byte to its last

    def _count_head(self, data: bytes) -> bool:
        """Add the head's bytes in `data` to its size; refuse the request (False) once it is over the limit."""
        tail = self._tail
        # Where the head ends in `data` (how many of its bytes are head), without copying all of `data`.
        ends_at = (tail + data[:3]).find(_END_OF_HEAD) if tail else -1
        if ends_at >= 0:
            head_part = ends_at + len(_END_OF_HEAD) - len(tail)
        else:
            ends_at = data.find(_END_OF_HEAD)
            head_part = ends_at + len(_END_OF_HEAD) if ends_at >= 0 else -1
        if head_part < 0:
            self._head_bytes += len(data)
            self._tail = (tail + data)[-3:] if len(data) < 3 else data[-3:]
        else:
            self._head_bytes += head_part
            self._tail = b""
        if self._head_bytes > HEADER_MAX_BYTES:
            self._refuse(head_too_large())
            return False
        return True

    def shutdown(self) -> None:
        """The server is stopping: a request still arriving is refused now; one being answered is finished."""
        if self._in_body or self._head_bytes:
            self._refuse(shutting_down())
            return
        super().shutdown()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request it cannot parse, as the gateway's error instead of plain text."""
        self._refuse(self._refusal or malformed_http())

    # -- parser callbacks (called by httptools while `data_received` feeds it) -------------------------------
    def on_message_begin(self) -> None:
        self._counted_on_arrival = self._counting
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._disarm()
        if not self._counted_on_arrival and self._parsed_head_size() > HEADER_MAX_BYTES:
            self._refusal = head_too_large()
            raise _HeadTooLarge("request head too large")
        self._in_body = True
        super().on_headers_complete()

    def _parsed_head_size(self) -> int:
        # The head as written with single spaces: "METHOD URL HTTP/1.1\r\n", "name: value\r\n" each, "\r\n"
        # (exact for the usual spelling; extra white space around values is not counted).
        request_line = len(self.parser.get_method()) + len(self.url) + len(" HTTP/1.1\r\n") + 1
        return request_line + sum(len(name) + len(value) + 4 for name, value in self.headers) + 2

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_body = False
        self._head_bytes = 0
        self._tail = b""
        # A request pipelined behind this one in the same read is parsed before it can be counted on arrival.
        self._counting = False
        super().on_message_complete()

    # -- deadlines and refusals ---------------------------------------------------------------------------
    def _arm(self, seconds: float, part: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._timed_out, seconds, part)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self, seconds: float, part: str) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return  # closed, or handed over to another protocol (a WebSocket upgrade)
        if part == "headers" and not self._head_bytes:
            self.transport.close()  # nothing was asked: nothing to answer
            return
        self._refuse(read_timeout(part, seconds))

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._deferred is not None and not self.pipeline:
            self._refuse(self._deferred)

    def _refuse(self, error: DMSError) -> None:
        """Answer `error` and close the connection (the app, if it was reading the body, sees a disconnect).

        When earlier requests on the connection (pipelined) are still being answered, the refusal waits for
        their answers: HTTP/1.1 answers in order, and a client reads the first answer as the first request's.
        """
        self._disarm()
        if self.transport.is_closing():
            return
        answering = self.cycle is not None and not self.cycle.response_complete
        if answering and not self._in_body:
            self._deferred = error
            self.transport.pause_reading()
            return
        request_id = self.request_ids.next()
        logger.info("request %s: %d %s %s", request_id, error.status, error.error_code, error.error_msg)
        self.transport.write(_response_bytes(error, request_id))
        self.transport.close()


def gateway_protocol(
    *,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
) -> type[GatewayProtocol]:
    """A `GatewayProtocol` class with these read deadlines, for `uvicorn.Config(http=...)`."""
    return type(
        "GatewayProtocol",
        (GatewayProtocol,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout, "__module__": __name__},
    )
