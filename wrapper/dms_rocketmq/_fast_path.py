"""The hand-written fast path of `AsyncClient.send`: a direct aiohttp sender and a fast 200 parser.

The generated client on httpx-aiohttp works, but httpx's per-request work costs several times a raw aiohttp
loop; `make bench` (docs/performance.md) shows what this path buys. The sender takes its method, URL and
headers from the generated operation's own request description (`send_message._get_kwargs`) and its body from
the generated request model, encoded as httpx encodes `json=`. It must behave exactly as the generated path
does: tests/unit/test_wrapper_fast_path.py proves the two equal on generated requests and answers (the same
method, URL and body bytes; the same SendResult or the same exception class).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import io
import json
from collections.abc import Mapping
from typing import Any, NamedTuple

import httpx
from dms_rocketmq_api.models.message_property_name import MessagePropertyName
from dms_rocketmq_api.models.send_message_request_body import SendMessageRequestBody
from dms_rocketmq_api.models.send_message_response import SendMessageResponse
from dms_rocketmq_api.spec_rules import MESSAGE_ID_PROPERTY

from ._auth import PrecomputedSigner, mask_sent_secrets
from ._config import Settings
from ._constants import USER_AGENT
from ._exceptions import APIConnectionError, MalformedResponseError, status_error_from_response
from ._flight import request_leaving
from ._models import SendResult
from ._network import LoopPools, Network
from ._parsing import LazyResponse, send_result
from ._transport import aiohttp_failure, connection_failure

__all__ = [
    "UPLOAD_CANNOT_STALL",
    "DirectSender",
    "FairGate",
    "aiohttp_error",
    "encode_json",
    "encode_request",
    "fast_send_result",
    "result_from_content",
    "stored_result",
]


#: `json.dumps` with these options would build this encoder on every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
#: A str as that encoder writes it (ensure_ascii=False).
_string = json.encoder.encode_basestring
#: Each property name as JSON, written once: reading an enum member's `value` is two Python calls.
_PROPERTY_NAMES = {member: _string(member.value) for member in MessagePropertyName}


def encode_json(document: Any) -> bytes:
    """`document` as httpx encodes a request's `json=`: compact, UTF-8, no NaN (the generated path's bytes)."""
    return _ENCODER.encode(document).encode("utf-8")


def encode_request(request: SendMessageRequestBody) -> bytes:
    """`encode_json(request.to_dict())`, the generated operation's body, written out directly.

    Only for the shape every send has (no additional properties; strings and property names, each entry with
    both fields); anything else goes through `to_dict`. The property test in tests/unit/test_wrapper_fast_path.py
    proves the bytes equal.
    """
    topic, body, entries = request.topic, request.body, request.property_list
    if request.additional_properties or type(topic) is not str or type(body) is not str or type(entries) is not list:
        return encode_json(request.to_dict())
    written = []
    for entry in entries:
        name, value = entry.name, entry.value
        if entry.additional_properties or type(name) is not MessagePropertyName or type(value) is not str:
            return encode_json(request.to_dict())
        written.append(f'{{"name":{_PROPERTY_NAMES[name]},"value":{_string(value)}}}')
    document = f'{{"topic":{_string(topic)},"body":{_string(body)},"property_list":[{",".join(written)}]}}'
    return document.encode("utf-8")


# The largest body aiohttp sends as bytes without a warning (aiohttp.payload.TOO_LARGE_BYTES_BODY).
_ONE_WRITE = 2**20
#: A body this large or smaller is handed to the socket without waiting: with the headers (an IAM token
#: included) it stays under asyncio's default write-buffer high-water mark (64 KiB), the only point where
#: aiohttp waits for the peer to read. Its upload cannot stall, so its attempt needs no `write` allowance.
UPLOAD_CANNOT_STALL = 32 * 1024


def aiohttp_error(exc: Exception, endpoint: str) -> APIConnectionError:
    """Map an aiohttp failure; `request_sent` is False only when no connection could be made."""
    import aiohttp

    sent = not isinstance(exc, aiohttp.ConnectionTimeoutError | aiohttp.ClientConnectorError)
    return aiohttp_failure(exc, endpoint, request_sent=sent)


def fast_send_result(
    document: Any, request_id: str | None, retries_taken: int, request: bytes | None = None
) -> SendResult | None:
    """A SendResult straight from a well-formed 200 body, or None to take the generated model's path.

    Reading the documented fields directly is cheaper than SendMessageResponse.from_dict and the checks
    after it; the result is the same (tests/unit/test_wrapper_fast_path.py).
    """
    if type(document) is not dict:
        return None
    # Subscripts, not `.get`: a missing field takes the generated model's path, which names it; a subscript
    # is no call, and this runs once per message of a bulk send.
    try:
        msg_id = document["msg_id"]
        topic = document["topic"]
        broker = document["broker_name"]
        queue_id = document["queue_id"]
        queue_offset = document["queue_offset"]
        entries = document["property_list"]
    except KeyError:
        return None
    if not (
        type(msg_id) is str
        and type(topic) is str
        and type(broker) is str
        and type(queue_id) is int
        and type(queue_offset) is int
        and type(entries) is list
        and "body" in document
    ):
        return None
    properties: dict[str, str] = {}
    for entry in entries:
        if type(entry) is not dict:
            return None
        # An entry without both fields as strings names no property (skipped, as `send_result` does).
        if "name" in entry and "value" in entry:
            name = entry["name"]
            value = entry["value"]
            if type(name) is str and type(value) is str:
                properties[name] = value
    return SendResult(
        msg_id=msg_id,
        queue_id=queue_id,
        queue_offset=queue_offset,
        broker_name=broker,
        uniq_key=properties.get(MESSAGE_ID_PROPERTY),
        topic=topic,
        properties=properties,
        request_id=request_id,
        retries_taken=retries_taken,
        request=request,
    )


def stored_result(
    status: int, request_id: str | None, content: bytes, retries_taken: int, request: bytes | None = None
) -> SendResult | None:
    """The SendResult of a 200 whose body is well formed, or None for any other answer (`result_from_content`).

    Needs no `LazyResponse`: a bulk send's success path makes no closure (its cells are objects the garbage
    collector tracks; in bulk, every tracked object kept per send in flight makes it collect more often).
    """
    if status != 200:
        return None
    try:
        # Decoded first: `json.loads` of bytes would guess their encoding on every call. A body that is not
        # UTF-8 (`json.loads` also reads UTF-16 and UTF-32) fails here and takes `result_from_content`.
        document = json.loads(content.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    return fast_send_result(document, request_id, retries_taken, request)


def result_from_content(
    status: int,
    request_id: str | None,
    content: bytes,
    lazy: LazyResponse,
    retries_taken: int,
    request: bytes | None = None,
) -> SendResult:
    """The same as `_parsing.result_from_generated`, for an answer that came through the aiohttp path.

    `request` is the request body as sent, which the result keeps for `SendResult.sent`.
    """
    if status != 200:
        raise status_error_from_response(lazy())
    try:
        document = json.loads(content)
        fast = fast_send_result(document, request_id, retries_taken, request)
        if fast is not None:
            return fast
        # Anything unusual goes through the generated model, which names what is wrong with it.
        parsed = SendMessageResponse.from_dict(document)
    # RecursionError: JSON nested deeper than the json module can follow (a hostile or broken server).
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise MalformedResponseError(
            f"200 response is not a valid SendMessageResponse ({type(exc).__name__}: {exc}).", response=lazy()
        ) from exc
    return send_result(parsed, None, lazy, request_id, retries_taken, request)


class FairGate:
    """At most `size` holders at once, first come first served: a newcomer never passes a waiter.

    What asyncio.Semaphore guarantees, with a free place taken in a few attribute operations (no coroutine,
    no scan of the waiters): the gate is passed on every send. A place that is given up goes straight to the
    first waiter still waiting; a waiter that is cancelled (its wait timed out) leaves the line, and passes on
    a place handed to it as it was cancelled. Not thread-safe: one gate belongs to one event loop.
    """

    __slots__ = ("free", "waiters")

    def __init__(self, size: int) -> None:
        self.free = size
        self.waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def enter_now(self) -> bool:
        """Take a free place if there is one and nobody is waiting for it; False otherwise."""
        if self.free > 0 and not self.waiters:
            self.free -= 1
            return True
        return False

    async def enter(self) -> None:
        """Wait in line for a place (the caller bounds the wait, by cancelling it)."""
        if self.enter_now():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.leave()  # a place was handed over just as the wait was cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):  # already dropped by `leave`
                    self.waiters.remove(waiter)
            raise

    def leave(self) -> None:
        """Give a place up: to the first waiter still waiting, or back to the free places."""
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1


class _LoopPool(NamedTuple):
    """The aiohttp session and fairness gate of one event loop (both belong to the loop they were made in)."""

    session: Any  # aiohttp.ClientSession
    gate: FairGate


class DirectSender:
    """Posts a send's JSON body with aiohttp, signed by the precomputed signer, on one pool per event loop.

    `operation` is the generated operation's request description for the client's settings
    (`send_message._get_kwargs(engine, project_id, instance_id, body=...)`): its method, URL and headers
    depend on the settings only, so they are taken once; the body is each send's own.


    An aiohttp session belongs to the loop it was opened in: a pool is opened in each loop the client sends
    from, closed when that loop shuts down (`asyncio.run` returning) or by `aclose`, whichever comes first.
    Every wait is bounded (see `aiohttp_timeouts`): for a pooled connection by the timeout's `pool` part,
    connecting by `connect`, and the attempt as a whole by one deadline.
    """

    def __init__(self, settings: Settings, operation: Mapping[str, Any], network: Network) -> None:
        self.method = str(operation["method"]).upper()
        # As httpx merges a relative URL with the client's base URL (the endpoint, without a trailing slash).
        self.url = settings.endpoint + str(operation["url"])
        self.endpoint = settings.endpoint
        url = self.url
        self._network = network
        self._pools: LoopPools[_LoopPool] = LoopPools(self._open_pool, self._close_pool)
        fixed = {**operation["headers"], "User-Agent": USER_AGENT, "X-Project-Id": settings.project_id}
        # Host as httpx and aiohttp send it: the port only when it is not the scheme's default.
        fixed["Host"] = httpx.URL(url).netloc.decode("ascii")
        self._signer: PrecomputedSigner | None = None
        self._token_headers: Mapping[str, str] = {}
        if settings.token:
            self._token_headers = {**fixed, "X-Auth-Token": settings.token}
        else:
            assert settings.ak is not None
            assert settings.sk is not None
            if settings.security_token:
                fixed["X-Security-Token"] = settings.security_token
            self._signer = PrecomputedSigner(settings.ak, settings.sk, self.method, url, fixed)
        self._default_timeouts = self.aiohttp_timeouts(network.timeout)
        self._default_pool_timeout = network.timeout.pool
        # The proxy was decided once, for this endpoint, by the network settings (aiohttp's trust_env is off).
        self._proxy, self._proxy_headers = network.aiohttp_proxy()

    @property
    def closed(self) -> bool:
        """Whether `aclose` was called."""
        return self._pools.closed

    @staticmethod
    def aiohttp_timeouts(timeout: httpx.Timeout) -> tuple[Any, Any]:
        """aiohttp's timeouts for `timeout`: (for a body of at most `UPLOAD_CANNOT_STALL` bytes, for any body).

        One deadline per attempt, one timer: connecting by `connect`, then the answer within `read`, plus
        `write` when the body is large enough that its upload can stall (aiohttp has no write timeout). So a
        silent server is given up on after `connect + read` at most. aiohttp's per-read timer (`sock_read`)
        is not used: it arms and cancels two more timers on every send, a visible share of the client's CPU
        in bulk (docs/performance.md), and a send's answer is a few hundred bytes, read in one go. httpx's
        `pool` part is not aiohttp's `connect` (aiohttp would arm a timer for it on every request, even with a
        connection free): it bounds the wait at the gate instead, and only when the gate is full.
        """
        import aiohttp

        def deadline(*parts: float | None) -> Any:
            total = None if None in parts else sum(part for part in parts if part is not None)
            return aiohttp.ClientTimeout(total=total, sock_connect=timeout.connect)

        return deadline(timeout.connect, timeout.read), deadline(timeout.connect, timeout.write, timeout.read)

    def _open_pool(self) -> _LoopPool:
        import aiohttp

        # No trust_env: aiohttp would look the proxy up again for every request; the network settings decided
        # it once. The connector carries the client's one TLS context. Every send's headers name the
        # User-Agent, so aiohttp adds none of its own.
        session = aiohttp.ClientSession(connector=self._network.aiohttp_connector(), auto_decompress=True)
        # Sends beyond the pool size wait at the gate, first come first served. aiohttp's own pool queue is
        # not fair: a send that finishes and starts the next one takes the freed connection ahead of the
        # waiters, so with more sends in flight than connections a few waited far longer than the rest
        # (docs/reliability.md). The gate does not let a newcomer pass a waiter.
        return _LoopPool(session, FairGate(self._network.max_connections))

    @staticmethod
    async def _close_pool(pool: _LoopPool) -> None:
        await pool.session.close()

    async def _wait_at_gate(self, gate: FairGate, call_timeout: httpx.Timeout | None) -> None:
        """Wait in line for a free connection, at most the timeout's `pool` part (only a full gate gets here)."""
        limit = self._default_pool_timeout if call_timeout is None else call_timeout.pool
        try:
            async with asyncio.timeout(limit):
                await gate.enter()
        except TimeoutError as exc:
            # The wording and the class of Client's PoolTimeout: the request was certainly not sent.
            raise connection_failure(
                self.endpoint, exc, request_sent=False, timeout_phase="waiting for a free connection"
            ) from None

    def prepare(self, request_body: SendMessageRequestBody) -> tuple[bytes, dict[str, str]]:
        """The body bytes and the headers (signed, or with the token) of one send to `method` `url`."""
        # The generated operation's body is `request_body.to_dict()`, sent as httpx sends `json=`.
        payload = encode_request(request_body)
        headers = self._signer.sign(payload) if self._signer is not None else dict(self._token_headers)
        return payload, headers

    async def send(
        self,
        request_body: SendMessageRequestBody,
        retries_taken: int,
        call_timeout: httpx.Timeout | None,
    ) -> SendResult:
        """POST one send's body and turn the answer into a SendResult or one exception (one attempt)."""
        import aiohttp

        payload, headers = self.prepare(request_body)
        if self._pools.closed:
            raise RuntimeError("this AsyncClient is closed; create a new one to send again.")
        pool = self._pools.current(asyncio.get_running_loop())
        if pool is None:
            pool = await self._pools.get()
        small, large = self._default_timeouts if call_timeout is None else self.aiohttp_timeouts(call_timeout)
        client_timeout = small if len(payload) <= UPLOAD_CANNOT_STALL else large
        # aiohttp writes bytes in one go and warns (ResourceWarning) above 1 MiB; a file-like body it writes in
        # chunks, letting the loop serve other sends in between.
        data: bytes | io.BytesIO = payload if len(payload) <= _ONE_WRITE else io.BytesIO(payload)
        gate = pool.gate
        if not gate.enter_now():
            await self._wait_at_gate(gate, call_timeout)
        request_leaving()  # past the gate: from here on, abandoning the send leaves it in doubt
        try:
            # allow_redirects=False, as in the httpx path: aiohttp would otherwise re-send the request, token or
            # signature included, to whatever host a Location header names.
            async with pool.session.request(
                self.method,
                self.url,
                data=data,
                headers=headers,
                timeout=client_timeout,
                proxy=self._proxy,
                proxy_headers=self._proxy_headers,
                allow_redirects=False,
            ) as answer:
                content = await answer.read()
                status = answer.status
                request_id = answer.headers.get("X-Request-Id")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise await self._network.aiohttp_failure_async(exc) from exc
        finally:
            gate.leave()
        stored = stored_result(status, request_id, content, retries_taken, payload)
        if stored is not None:
            return stored
        lazy = self._lazy_response(status, answer.raw_headers, content, headers, payload)
        return result_from_content(status, request_id, content, lazy, retries_taken, payload)

    def _lazy_response(
        self, status: int, raw_headers: Any, content: bytes, headers: Mapping[str, str], payload: bytes
    ) -> LazyResponse:
        """The answer as an httpx.Response, made only when an error or a result needs it.

        A method of its own: a closure defined in `send` would give `send` a cell for each variable it reads,
        made on every call, and bulk sends are mostly 200s that never need it.
        """

        def lazy() -> httpx.Response:
            response = httpx.Response(
                status,
                # The bytes as received: httpx.Response refuses str header values that are not ASCII.
                headers=list(raw_headers),
                content=content,
                request=httpx.Request(self.method, self.url, headers=headers, content=payload),
            )
            mask_sent_secrets(response)
            return response

        return lazy

    async def aclose(self) -> None:
        """Close the pool of every loop still open; sending afterwards raises RuntimeError."""
        await self._pools.aclose()
