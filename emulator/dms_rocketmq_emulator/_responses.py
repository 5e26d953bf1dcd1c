"""The HTTP side of the API: the router of every operation (methods and paths from `_routes.py`), and `SendMessage`.

A plain ASGI handler rather than a Starlette endpoint: this is the hot path a benchmark measures, and it
needs to read the body under a size limit anyway. Checks run in the order the real service's layers do:
the URL, the method, the gateway's size limit, authentication, the instance, then the body.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

from dms_rocketmq_api.spec_rules import PROPERTY_VALUE_MAX_LENGTH

from . import _exceptions as errors
from ._auth import Authenticator, check_single_headers, decode_query
from ._exceptions import MAX_MESSAGE_BYTES, MAX_REQUEST_BYTES, DMSError
from ._routes import Routes
from ._schema import RequestSchema
from ._store import Store, StoreError
from .models import FaultPlan, PendingMessage, Property, Registry, now_ms

__all__ = [
    "ASGIReceive",
    "ASGISend",
    "OperationHandler",
    "OperationRouter",
    "RequestIds",
    "error_response",
    "loads_json",
    "send_reply",
]

logger = logging.getLogger("dms_rocketmq_emulator")

Scope = MutableMapping[str, Any]
ASGIReceive = Callable[[], Awaitable[MutableMapping[str, Any]]]
ASGISend = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_JSON = (b"content-type", b"application/json")
_CLOSE = (b"connection", b"close")
# A str of more than this many characters may be over the limit in UTF-8 (at most 4 bytes a character).
_MAYBE_TOO_LARGE = MAX_MESSAGE_BYTES // 4
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class RequestIds:
    """X-Request-Id values: 32 lowercase hex characters, a random prefix and a counter (no syscall each)."""

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = int.from_bytes(os.urandom(8), "big")

    def next(self) -> str:
        """A new request id."""
        self._counter = (self._counter + 1) & 0xFFFFFFFFFFFFFFFF
        return f"{self._prefix}{self._counter:016x}"


class _Disconnected(Exception):
    """The client went away before its request was read."""


class _Reply:
    """A response to send: status, JSON bytes, extra headers."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, body: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        self.status = status
        self.body = body
        self.headers = headers


def error_response(error: DMSError, request_id: str) -> _Reply:
    """The Huawei error body and headers for `error`."""
    # The gateway's Date (uvicorn's is off to save work on every 200): a client compares its clock with it.
    headers: tuple[tuple[bytes, bytes], ...] = ((b"date", email.utils.formatdate(usegmt=True).encode("ascii")),)
    if error.retry_after is not None:
        headers += ((b"retry-after", str(error.retry_after).encode("ascii")),)
    if error.status == 413:
        # Part of the body may still be unread: the connection cannot be reused.
        headers += (_CLOSE,)
    elif isinstance(error, errors.MethodNotAllowedError) and error.allow:
        headers += ((b"allow", error.allow.encode("ascii")),)
    return _Reply(error.status, _dumps(error.body(request_id)).encode("utf-8"), headers)


async def send_reply(send: ASGISend, reply: _Reply, request_id: str) -> None:
    """Send `reply` with its X-Request-Id."""
    await send(
        {
            "type": "http.response.start",
            "status": reply.status,
            "headers": [
                _JSON,
                (b"content-length", str(len(reply.body)).encode("ascii")),
                (b"x-request-id", request_id.encode("ascii")),
                *reply.headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": reply.body})


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def loads_json(text: str | bytes) -> Any:
    """Parse JSON as RFC 8259 defines it: `NaN`, `Infinity` and `-Infinity` (which Python's json module
    accepts by default) raise ValueError like any other text that is not JSON."""
    return json.loads(text, parse_constant=_not_json)


def _header_value(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _header_map(scope: Scope) -> dict[str, str]:
    """Header names (lowercase, as ASGI gives them) to values decoded as UTF-8 (latin-1 if not UTF-8).

    A repeated header maps to its last value: the one Huawei's signer signs (openapi.yaml, `akskSignature`);
    a repeated credential header (the spec's `x-single-headers`) is refused with 400.
    """
    headers = {name.decode("latin-1"): _header_value(value) for name, value in scope["headers"]}
    if len(headers) != len(scope["headers"]):
        check_single_headers(scope["headers"])
    return headers


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _read_body(receive: ASGIReceive, declared: int | None) -> bytes:
    """The request body, refusing (413) as soon as more than the gateway's limit has arrived."""
    if declared is not None and declared > MAX_REQUEST_BYTES:
        raise errors.request_too_large()
    first = await receive()
    if first["type"] == "http.disconnect":
        raise _Disconnected
    body: bytes = first.get("body", b"")
    if not first.get("more_body", False):
        if len(body) > MAX_REQUEST_BYTES:
            raise errors.request_too_large()
        return body
    chunks = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise errors.request_too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _properties(document: dict[str, Any]) -> tuple[Property, ...]:
    entries = document.get("property_list")
    if not entries:
        return ()
    out = []
    for entry in entries:
        name, value = entry.get("name"), entry.get("value")
        # The reference makes both optional: an entry without a name or a value sets nothing.
        if name is not None and value is not None:
            out.append((name, value))
    return tuple(out)


def _check_encodable(document: dict[str, Any]) -> int:
    """The body's size in UTF-8 bytes; 400 if any text holds a lone surrogate (not valid Unicode) or if a
    property value is over its limit in UTF-8 bytes (the schema could only count its characters)."""
    try:
        size = len(document["body"].encode("utf-8"))
        for index, entry in enumerate(document.get("property_list") or ()):
            value = entry.get("value")
            # The spec's maxLength bounds characters; its description counts the limit in UTF-8 bytes.
            if value is not None and len(value.encode("utf-8")) > PROPERTY_VALUE_MAX_LENGTH:
                raise errors.invalid_parameter(f"property_list[{index}].value")
    except UnicodeEncodeError:
        raise errors.malformed_json() from None
    return size


class OperationHandler(Protocol):
    """The handler of one operation on the messages URL once the router has matched it (`ListMessages`)."""

    async def handle(self, scope: Scope, receive: ASGIReceive, project_id: str, instance_id: str) -> _Reply:
        """The reply to one request; raises the service's error (DMSError) for a bad one."""
        ...


class OperationRouter:
    """The ASGI handler of the API's URLs: matches every request to its operation, sends (POST) answered here,
    queries (GET) handed to `list_messages`, and turns every error into Huawei's error body."""

    def __init__(
        self,
        *,
        registry: Registry,
        store: Store,
        schema: RequestSchema,
        auth: Authenticator,
        faults: FaultPlan,
        request_ids: RequestIds,
        list_messages: OperationHandler | None = None,
    ) -> None:
        self.registry = registry
        #: Where GETs on the messages URL go (ListMessages); None: they get 405.
        self.list_messages = list_messages
        self.store = store
        self.schema = schema
        self.auth = auth
        self.faults = faults
        self.request_ids = request_ids
        self.routes = Routes()

    async def __call__(self, scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
        """Answer one request; every answer, even to a bug, is a Huawei error body with X-Request-Id."""
        request_id = self.request_ids.next()
        try:
            reply = await self._handle(scope, receive)
        except DMSError as exc:
            reply = error_response(exc, request_id)
            # uvicorn's access log says only "400 Bad Request": the DMS code says which check refused it.
            logger.info("request %s: %d %s %s", request_id, exc.status, exc.error_code, exc.error_msg)
        except _Disconnected:
            return
        except StoreError as exc:
            logger.exception("request %s: the store failed", request_id)
            reply = error_response(errors.internal_error(f"The emulator's store failed: {exc}."), request_id)
        except Exception:
            logger.exception("request %s: unexpected error", request_id)
            reply = error_response(errors.internal_error(), request_id)
        if reply is None:  # an injected dropped connection
            await _drop_connection(receive, send)
            return
        await send_reply(send, reply, request_id)

    async def _handle(self, scope: Scope, receive: ASGIReceive) -> _Reply | None:
        route = self.routes.match(scope["method"], scope["path"])
        if route.operation_id == "ListMessages" and self.list_messages is not None:
            parameters = route.parameters
            return await self.list_messages.handle(scope, receive, parameters["project_id"], parameters["instance_id"])
        if route.operation_id != "SendMessage":
            raise errors.not_implemented(route.operation_id)
        born_at_ms = now_ms()
        body = await _read_body(receive, _content_length(scope))
        if self.auth.enabled:
            raw_path = scope.get("raw_path")
            path = raw_path.decode("latin-1") if raw_path else scope["path"]
            query = decode_query(scope.get("query_string", b""))
            self.auth.check(scope["method"], path, query, _header_map(scope), body)
        instance = self.registry.instance(route.parameters["project_id"], route.parameters["instance_id"])
        if not body:
            raise errors.empty_body()
        try:
            # Decoded strictly: json.loads(bytes) would let UTF-8-encoded surrogates (ED A0 80...) through.
            document = loads_json(body.decode(json.detect_encoding(body)))
        except (ValueError, RecursionError):  # invalid UTF-8 is a ValueError; RecursionError: nested too deep
            raise errors.malformed_json() from None
        if isinstance(document, dict):
            text = document.get("body")
            if isinstance(text, str) and len(text) > _MAYBE_TOO_LARGE:
                size = len(text.encode("utf-8", "surrogatepass"))
                if size > MAX_MESSAGE_BYTES:
                    raise errors.message_too_large(size)
        self.schema.check(document)
        _check_encodable(document)
        topic = self.registry.topic(instance, document["topic"])
        fault = self.faults.take()
        if fault is not None:
            if fault.delay_ms:
                await asyncio.sleep(fault.delay_ms / 1000)
            if fault.drop_connection:
                return None
            if fault.status != 200:
                raise errors.fault_for_status(fault.status, fault.retry_after)
        properties = _properties(document)
        client = scope.get("client")
        born_host = f"{client[0]}:{client[1]}" if client else ""
        stored = await self.store.append(
            PendingMessage(instance.instance_id, topic, document["body"], properties, born_at_ms, born_host)
        )
        response = {
            "topic": stored.topic,
            "body": stored.body,
            "property_list": [{"name": name, "value": value} for name, value in stored.properties],
            "msg_id": stored.msg_id,
            "queue_id": stored.queue_id,
            "queue_offset": stored.queue_offset,
            "broker_name": instance.broker_name,
        }
        return _Reply(200, _dumps(response).encode("utf-8"))


async def _drop_connection(receive: ASGIReceive, send: ASGISend) -> None:
    """Close the connection without a response, as a crashed server or a broken network would."""
    # uvicorn's receive() is a method of the request cycle that owns the transport; closing it sends a FIN
    # before any byte of a response. Waiting for the disconnect keeps uvicorn from writing its own 500.
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is not None:
        transport.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(receive(), timeout=1.0)
        return
    # Another server: start a response and fail, which makes any ASGI server abort the connection.
    await send({"type": "http.response.start", "status": 503, "headers": []})
    raise ConnectionAbortedError("injected dropped connection")
