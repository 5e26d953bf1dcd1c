"""`Client` and `AsyncClient`: sync and async shells around one shared, I/O-free core (`_base`).

`Client.send` calls the generated `dms_rocketmq_api.api.messages.send_message.sync_detailed` on a generated
client whose httpx client carries the authentication. `AsyncClient.send` posts the same generated request
through the direct aiohttp sender (`_fast_path`), or through the generated `asyncio_detailed` when given an
httpx transport. Both turn the answer into a `SendResult` or one exception (`_parsing`); `send_many` is in
`_bulk`. Reading back (`get_message`, `query_messages`, `confirm`) calls the generated `list_messages`
functions on the same httpx clients; the query's arguments, paging and parsing are in `_query`, the polling
deadline and the comparison of `confirm` in `_confirm`. Every send and every query page retries through one
loop (`_call_with_retries`, and its async twin), on the one decision of `BaseClient._next_delay`.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Self, TypeAlias, TypeVar

import attrs
import httpx
from dms_rocketmq_api.api.messages import list_messages, send_message
from dms_rocketmq_api.models.send_message_request_body import SendMessageRequestBody

from ._base import ApiClient, BaseClient
from ._base import request_body as build_request_body
from ._bulk import OnOutcome, iter_tasks, iter_threads, send_many_tasks, send_many_threads
from ._config import check_timeout
from ._confirm import PollSchedule, checked, checked_result, not_visible
from ._constants import (
    DEFAULT_CONCURRENCY,
    DEFAULT_CONFIRM_TIMEOUT,
    DEFAULT_MAX_CONNECTION_FAILURES,
    DEFAULT_PAGE_SIZE,
)
from ._exceptions import APIError, APITimeoutError, ValidationError
from ._fast_path import DirectSender
from ._flight import request_leaving, request_waiting
from ._models import Message, SendOutcome, SendResult, StoredMessage
from ._network import LoopPools
from ._parsing import parse_failure, result_from_generated
from ._query import Page, Paging, TimeTypes, find_message, page_from_generated, query_arguments, query_parse_failure
from ._sync_direct import direct_sender
from ._transport import (
    HTTPClient,
    TimeoutTypes,
    as_timeout,
    call_timeout,
    last_response,
    on_request,
    on_request_async,
    on_response,
    on_response_async,
)
from ._validation import json_body, message_from

__all__ = ["AsyncClient", "Client"]

T = TypeVar("T")

#: After a failed attempt, given its error and the retries taken so far: seconds to wait, or None to raise.
DelayAfter: TypeAlias = Callable[[APIError, int], float | None]


def _call_with_retries(attempt: Callable[[int], T], delay_after: DelayAfter) -> T:
    """`attempt(retries_taken)` until it returns; after an `APIError`, wait `delay_after(error, retries_taken)`
    seconds and call again, or raise the error when that is None.

    The one retry loop of every operation of `Client` (a send, a page of a query); `_call_with_retries_async`
    is the same loop for `AsyncClient`. What to retry and how long to wait is `BaseClient._next_delay`'s.
    """
    retries_taken = 0
    while True:
        try:
            return attempt(retries_taken)
        except APIError as error:
            delay = delay_after(error, retries_taken)
            if delay is None:
                raise
        time.sleep(delay)
        retries_taken += 1


async def _call_with_retries_async(attempt: Callable[[int], Awaitable[T]], delay_after: DelayAfter) -> T:
    """`_call_with_retries` for `AsyncClient`: the attempt and the wait are awaited."""
    retries_taken = 0
    while True:
        try:
            return await attempt(retries_taken)
        except APIError as error:
            delay = delay_after(error, retries_taken)
            if delay is None:
                raise
        await asyncio.sleep(delay)
        retries_taken += 1


class Client(BaseClient[httpx.BaseTransport]):
    """A thread-safe client that sends messages to one DMS for RocketMQ instance.

    Every argument not given is read from the environment (see docs/wrapper.md, shipped in the package as
    dms_rocketmq/docs/wrapper.md): `endpoint` or `region`,
    `project_id`, `instance_id`, and credentials: `ak` + `sk` (+ `security_token`) or `token`.
    `max_connections` sizes the connection pool; `transport` replaces httpx's (for example an
    `httpx.MockTransport` in tests); `environ` replaces `os.environ` as the source of settings.

    A failed send is retried up to `max_retries` times only when it cannot have been stored: 429 APIG.0308
    (the gateway's throttling) and connection failures before the request left. `retry_statuses` (for
    example `{503}`) opts in to retrying other statuses too, at the price of a possible duplicate message
    (at-least-once; docs/wrapper.md, "Retries").
    """

    def _connect(self, transport: httpx.BaseTransport | None) -> None:
        self._http = HTTPClient(
            **self._http_options(transport),
            transport=transport,
            event_hooks={"request": [on_request], "response": [on_response]},
        )
        self._api.set_httpx_client(self._http)
        # Sends go straight to http.client (`_sync_direct`) unless a transport is given: then through the
        # generated client and that transport, the reference path.
        self._direct = direct_sender(self._settings, self._engine, self._network) if transport is None else None

    def send(
        self,
        topic: str,
        body: str | bytes,
        *,
        keys: str | Iterable[str] | None = None,
        tags: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
    ) -> SendResult:
        """Send one message and return where it was stored; raise a `DMSError` subclass on failure.

        `keys` is one key or several (joined with single spaces into KEYS), `tags` one tag. `timeout` and
        `max_retries` override the client's for this call (None: the client's; `httpx.Timeout(None)`: no timeout).
        """
        request_body = build_request_body(topic, body, keys, tags)
        retries = self._retries_for(max_retries, self.max_retries)
        check_timeout(timeout)
        request_waiting()
        token = call_timeout.set(as_timeout(timeout).as_dict()) if timeout is not None else None
        try:
            return _call_with_retries(
                functools.partial(self._send_once, request_body),
                functools.partial(self._next_delay, max_retries=retries),
            )
        finally:
            if token is not None:
                call_timeout.reset(token)

    def send_json(
        self,
        topic: str,
        obj: Any,
        *,
        keys: str | Iterable[str] | None = None,
        tags: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
    ) -> SendResult:
        """Send any JSON-compatible object, serialised compactly, as the message body."""
        return self.send(topic, json_body(obj), keys=keys, tags=tags, timeout=timeout, max_retries=max_retries)

    def send_many(
        self,
        messages: Iterable[Message | Mapping[str, Any]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_outcome: OnOutcome | None = None,
        rate: float | None = None,
        fail_fast: bool = False,
        max_connection_failures: int = DEFAULT_MAX_CONNECTION_FAILURES,
    ) -> list[SendOutcome]:
        """Send many messages with at most `concurrency` in flight (threads); one outcome per input, in order.

        Each outcome is a `SendResult` or a `SendFailure` carrying the input and the exception: nothing is
        dropped. `on_outcome` is called with each outcome as it completes (one call at a time); an exception
        it raises is logged and sending goes on, so every outcome is still returned. For inputs too many to
        keep every outcome, use `iter_send`.

        `rate` caps the messages per second; a 429 lowers the pace either way. With `fail_fast`, sending stops
        at a 401, 403 or 404, or after `max_connection_failures` connection failures in a row. Ctrl-C stops
        taking inputs and waits for the sends in flight (a second Ctrl-C abandons them); `send_many` then
        returns: every input that was not sent, or whose send was abandoned, is a `SendFailure` whose
        `SendCancelledError` says which (`request_sent`).
        """
        return send_many_threads(
            self._send_input,
            messages,
            concurrency=concurrency,
            on_outcome=on_outcome,
            rate=rate,
            fail_fast=fail_fast,
            max_connection_failures=max_connection_failures,
        )

    def iter_send(
        self,
        messages: Iterable[Message | Mapping[str, Any]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: float | None = None,
        fail_fast: bool = False,
        max_connection_failures: int = DEFAULT_MAX_CONNECTION_FAILURES,
    ) -> Iterator[tuple[int, SendOutcome]]:
        """Send any number of messages, yielding `(index, outcome)` as each send completes.

        `index` is the input's position in `messages`, which is read lazily: memory stays bounded however
        many there are. Options as for `send_many`. After a stop, the inputs not yet taken stay in
        `messages`; Ctrl-C while waiting for an outcome stops as in `send_many`, and closing the iterator
        early abandons the sends in flight.
        """
        return iter_threads(
            self._send_input,
            messages,
            concurrency=concurrency,
            rate=rate,
            fail_fast=fail_fast,
            max_connection_failures=max_connection_failures,
        )

    def _send_input(self, item: object) -> SendResult:
        message = message_from(item)
        return self.send(message.topic, message.body, keys=message.keys, tags=message.tags)

    def _send_once(self, request_body: SendMessageRequestBody, retries_taken: int) -> SendResult:
        if self._direct is not None:
            return self._direct.send(request_body, retries_taken, call_timeout.get())
        settings = self._settings
        last_response.set(None)
        request_leaving()  # httpx's pool wait is counted as on the wire: a bound, not a certainty
        try:
            generated = send_message.sync_detailed(
                self._engine, settings.project_id, settings.instance_id, client=self._api, body=request_body
            )
        except httpx.RequestError as exc:
            raise self._network.httpx_failure(exc) from exc
        # RecursionError: JSON nested deeper than the json module can follow (a hostile or broken server).
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise parse_failure(exc) from exc
        return result_from_generated(generated, retries_taken)

    def get_message(
        self,
        topic: str,
        msg_id: str,
        *,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
    ) -> StoredMessage | None:
        """The message `msg_id` of `topic` as the service stored it, or None when the query does not find it.

        The service indexes messages with a lag: a message just sent may not be found yet (see `confirm`).
        """
        arguments = query_arguments(topic, msg_id=msg_id, limit=DEFAULT_PAGE_SIZE)
        check_timeout(timeout)
        return find_message(self._query_page(arguments, timeout, max_retries), msg_id)

    def query_messages(
        self,
        topic: str,
        *,
        key: str | None = None,
        start: TimeTypes | None = None,
        end: TimeTypes | None = None,
        queue: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[StoredMessage]:
        """Every stored message of `topic` that matches, read page by page as the iterator advances.

        `key` is one message key; `start`/`end` bound the store time (a datetime, or milliseconds since the
        epoch; by default from the epoch to now); `queue` is one queue id. The arguments are checked at
        once; queries are sent while iterating.
        """
        arguments = query_arguments(topic, key=key, start=start, end=end, queue=queue, limit=page_size)
        return self._iterate(arguments)

    def confirm(self, result: SendResult, *, timeout: float = DEFAULT_CONFIRM_TIMEOUT) -> StoredMessage:
        """Read back the message `send` returned `result` for; return it once it equals what was sent.

        Queries until the message is visible or `timeout` seconds have passed (raises
        `MessageNotVisibleError`), then compares body, keys, tags, topic, queue and offset with what was sent
        (raises `MessageMismatchError` naming each difference).
        """
        result = checked_result(result)
        schedule = PollSchedule(timeout)
        while True:
            try:
                stored = self.get_message(result.topic, result.msg_id, timeout=schedule.poll_timeout(), max_retries=0)
            except APIError as error:
                schedule.failed(error)
            else:
                if stored is not None:
                    return checked(result, stored)
            wait = schedule.next_wait()
            if wait is None:
                raise not_visible(result, schedule) from schedule.last_error
            time.sleep(wait)

    def _iterate(self, arguments: dict[str, Any]) -> Iterator[StoredMessage]:
        paging = Paging(arguments)
        while (page_arguments := paging.next_arguments()) is not None:
            page = self._query_page(page_arguments, None, None)
            yield from paging.advance(page)

    def _query_page(self, arguments: dict[str, Any], timeout: TimeoutTypes | None, max_retries: int | None) -> Page:
        retries = self._retries_for(max_retries, self.max_retries)
        token = call_timeout.set(as_timeout(timeout).as_dict()) if timeout is not None else None
        try:
            return _call_with_retries(
                lambda _: self._query_once(arguments),
                functools.partial(self._next_delay, max_retries=retries, idempotent=True),
            )
        finally:
            if token is not None:
                call_timeout.reset(token)

    def _query_once(self, arguments: dict[str, Any]) -> Page:
        settings = self._settings
        last_response.set(None)
        try:
            generated = list_messages.sync_detailed(
                self._engine, settings.project_id, settings.instance_id, client=self._api, **arguments
            )
        except httpx.InvalidURL as exc:
            raise ValidationError(f"this query cannot be put in a URL ({exc}): shorten msg_id or key.") from None
        except httpx.RequestError as exc:
            raise self._network.httpx_failure(exc) from exc
        # RecursionError: JSON nested deeper than the json module can follow (a hostile or broken server).
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise query_parse_failure(exc) from exc
        return page_from_generated(generated)

    def close(self) -> None:
        """Close the connection pools."""
        self._http.close()
        if self._direct is not None:
            self._direct.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(BaseClient[httpx.AsyncBaseTransport]):
    """The asyncio twin of `Client`, sending on aiohttp's connection pool so that it scales with concurrency.

    `send` posts the generated operation's request (its URL, method and body) with aiohttp directly, signed
    by the same signer, and reads the answer's documented fields (the generated response model names what is
    wrong with an unusual one): httpx's own async pool slows down as concurrency grows, and even on
    httpx-aiohttp's transport httpx's per-request work costs several times a raw aiohttp loop (`_fast_path`,
    docs/performance.md). `api_client` is the generated client on httpx-aiohttp, for anything else.

    Create it inside or outside an event loop and `aclose()` it (or use `async with`). It keeps one connection
    pool per event loop it sends from; a loop's pool closes when the loop shuts down (`asyncio.run`
    returning) or on `aclose()`, whichever comes first. Every wait is bounded (docs/wrapper.md): a send that
    finds no free connection within the timeout's `pool` part raises `APITimeoutError(request_sent=False)`.
    Arguments as for `Client`; given a `transport`, sends go through the generated client and that httpx
    transport instead of aiohttp.
    """

    def _connect(self, transport: httpx.AsyncBaseTransport | None) -> None:
        from httpx_aiohttp import HttpxAiohttpClient  # imported here: keeps `import dms_rocketmq` light

        self._http = HttpxAiohttpClient(
            **self._http_options(transport),
            transport=transport,
            event_hooks={"request": [on_request_async], "response": [on_response_async]},
        )
        self._api.set_async_httpx_client(self._http)
        # With a transport given (tests: httpx.MockTransport), sends go through the generated client and
        # that transport; otherwise through aiohttp directly.
        self._direct = transport is None
        # The generated operation's own request description: its method, URL and headers (the body is per send).
        operation = send_message._get_kwargs(
            self._engine,
            self._settings.project_id,
            self._settings.instance_id,
            body=SendMessageRequestBody(topic="", body=""),
        )
        self._sender = DirectSender(self._settings, operation, self._network)
        # Reading back (get_message, query_messages, confirm) on a generated client of each event loop's own:
        # an httpx-aiohttp client belongs to the loop it first ran in. With a transport given, on that one.
        self._readback: LoopPools[ApiClient] = LoopPools(self._open_readback, self._close_readback)

    async def send(
        self,
        topic: str,
        body: str | bytes,
        *,
        keys: str | Iterable[str] | None = None,
        tags: str | None = None,
        timeout: float | httpx.Timeout | None = None,  # noqa: ASYNC109 - per HTTP attempt, as in the sync API
        max_retries: int | None = None,
    ) -> SendResult:
        """Send one message and return where it was stored; raise a `DMSError` subclass on failure.

        `keys` is one key or several (joined with single spaces into KEYS), `tags` one tag. `timeout` and
        `max_retries` override the client's for this call (None: the client's; `httpx.Timeout(None)`: no timeout).
        """
        request_body = build_request_body(topic, body, keys, tags)
        retries = self._retries_for(max_retries, self.max_retries)
        check_timeout(timeout)
        request_waiting()
        per_call = None if timeout is None else as_timeout(timeout)
        attempt = self._sender.send if self._direct else self._send_generated
        return await _call_with_retries_async(
            lambda retries_taken: attempt(request_body, retries_taken, per_call),
            functools.partial(self._next_delay, max_retries=retries),
        )

    async def send_json(
        self,
        topic: str,
        obj: Any,
        *,
        keys: str | Iterable[str] | None = None,
        tags: str | None = None,
        timeout: float | httpx.Timeout | None = None,  # noqa: ASYNC109 - per HTTP attempt, as in the sync API
        max_retries: int | None = None,
    ) -> SendResult:
        """Send any JSON-compatible object, serialised compactly, as the message body."""
        return await self.send(topic, json_body(obj), keys=keys, tags=tags, timeout=timeout, max_retries=max_retries)

    async def send_many(
        self,
        messages: Iterable[Message | Mapping[str, Any]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_outcome: OnOutcome | None = None,
        rate: float | None = None,
        fail_fast: bool = False,
        max_connection_failures: int = DEFAULT_MAX_CONNECTION_FAILURES,
    ) -> list[SendOutcome]:
        """Send many messages with at most `concurrency` in flight; one outcome per input, in input order.

        Each outcome is a `SendResult` or a `SendFailure` carrying the input and the exception: nothing is
        dropped. `on_outcome` is called with each outcome as it completes; an exception it raises is logged
        and sending goes on, so every outcome is still returned. Options as for `Client.send_many`; a first
        cancellation of the calling task stops as Ctrl-C does there, a second abandons the sends in flight,
        and `send_many` returns the outcomes.
        """
        return await send_many_tasks(
            self._send_input,
            messages,
            concurrency=concurrency,
            on_outcome=on_outcome,
            rate=rate,
            fail_fast=fail_fast,
            max_connection_failures=max_connection_failures,
        )

    def iter_send(
        self,
        messages: Iterable[Message | Mapping[str, Any]] | AsyncIterable[Message | Mapping[str, Any]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: float | None = None,
        fail_fast: bool = False,
        max_connection_failures: int = DEFAULT_MAX_CONNECTION_FAILURES,
    ) -> AsyncIterator[tuple[int, SendOutcome]]:
        """Send any number of messages (an iterable or async iterable), yielding `(index, outcome)` as each completes.

        As `Client.iter_send`: `messages` is read lazily, memory stays bounded, a slow consumer holds the
        senders back, and closing the iterator early abandons the sends in flight.
        """
        return iter_tasks(
            self._send_input,
            messages,
            concurrency=concurrency,
            rate=rate,
            fail_fast=fail_fast,
            max_connection_failures=max_connection_failures,
        )

    def _send_input(self, item: object) -> Awaitable[SendResult]:
        # Not a coroutine of its own: the bulk engine awaits `send`'s directly, one frame fewer per send.
        message = message_from(item)
        return self.send(message.topic, message.body, keys=message.keys, tags=message.tags)

    async def _send_generated(
        self,
        request_body: SendMessageRequestBody,
        retries_taken: int,
        per_call: httpx.Timeout | None,
    ) -> SendResult:
        settings = self._settings
        last_response.set(None)
        token = call_timeout.set(per_call.as_dict()) if per_call is not None else None
        request_leaving()
        try:
            generated = await send_message.asyncio_detailed(
                self._engine, settings.project_id, settings.instance_id, client=self._api, body=request_body
            )
        except httpx.RequestError as exc:
            raise await self._network.httpx_failure_async(exc) from exc
        # RecursionError: JSON nested deeper than the json module can follow (a hostile or broken server).
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise parse_failure(exc) from exc
        finally:
            if token is not None:
                call_timeout.reset(token)
        return result_from_generated(generated, retries_taken)

    async def get_message(
        self,
        topic: str,
        msg_id: str,
        *,
        timeout: TimeoutTypes | None = None,  # noqa: ASYNC109 - per HTTP attempt, as in the sync API
        max_retries: int | None = None,
    ) -> StoredMessage | None:
        """The message `msg_id` of `topic` as the service stored it, or None when the query does not find it.

        The service indexes messages with a lag: a message just sent may not be found yet (see `confirm`).
        """
        arguments = query_arguments(topic, msg_id=msg_id, limit=DEFAULT_PAGE_SIZE)
        check_timeout(timeout)
        return find_message(await self._query_page(arguments, timeout, max_retries), msg_id)

    def query_messages(
        self,
        topic: str,
        *,
        key: str | None = None,
        start: TimeTypes | None = None,
        end: TimeTypes | None = None,
        queue: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[StoredMessage]:
        """Every stored message of `topic` that matches, as an async iterator (`async for`), page by page.

        Arguments as for `Client.query_messages`; they are checked at once, queries are sent while iterating.
        """
        arguments = query_arguments(topic, key=key, start=start, end=end, queue=queue, limit=page_size)
        return self._iterate(arguments)

    async def confirm(
        self,
        result: SendResult,
        *,
        timeout: float = DEFAULT_CONFIRM_TIMEOUT,  # noqa: ASYNC109 - a deadline for the polling, as in the sync API
    ) -> StoredMessage:
        """Read back the message `send` returned `result` for; return it once it equals what was sent.

        As `Client.confirm`: raises `MessageNotVisibleError` or `MessageMismatchError`.
        """
        result = checked_result(result)
        schedule = PollSchedule(timeout)
        while True:
            poll = schedule.poll_timeout()
            try:
                # A hard bound too: httpx bounds each phase of a request (connect, write, read) apart.
                async with asyncio.timeout(poll.read):
                    stored = await self.get_message(result.topic, result.msg_id, timeout=poll, max_retries=0)
            except APIError as error:
                schedule.failed(error)
            except TimeoutError:
                schedule.failed(APITimeoutError(f"the query did not answer within {poll.read:g} s"))
            else:
                if stored is not None:
                    return checked(result, stored)
            wait = schedule.next_wait()
            if wait is None:
                raise not_visible(result, schedule) from schedule.last_error
            await asyncio.sleep(wait)

    async def _iterate(self, arguments: dict[str, Any]) -> AsyncIterator[StoredMessage]:
        paging = Paging(arguments)
        while (page_arguments := paging.next_arguments()) is not None:
            page = await self._query_page(page_arguments, None, None)
            for message in paging.advance(page):
                yield message

    async def _query_page(
        self, arguments: dict[str, Any], request_timeout: TimeoutTypes | None, max_retries: int | None
    ) -> Page:
        retries = self._retries_for(max_retries, self.max_retries)
        per_call = None if request_timeout is None else as_timeout(request_timeout)
        return await _call_with_retries_async(
            lambda _: self._query_once(arguments, per_call),
            functools.partial(self._next_delay, max_retries=retries, idempotent=True),
        )

    async def _query_once(self, arguments: dict[str, Any], per_call: httpx.Timeout | None) -> Page:
        settings = self._settings
        last_response.set(None)
        token = call_timeout.set(per_call.as_dict()) if per_call is not None else None
        try:
            api = self._api if not self._direct else await self._readback_api()
            generated = await list_messages.asyncio_detailed(
                self._engine, settings.project_id, settings.instance_id, client=api, **arguments
            )
        except httpx.InvalidURL as exc:
            raise ValidationError(f"this query cannot be put in a URL ({exc}): shorten msg_id or key.") from None
        except httpx.RequestError as exc:
            raise await self._network.httpx_failure_async(exc) from exc
        # RecursionError: JSON nested deeper than the json module can follow (a hostile or broken server).
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise query_parse_failure(exc) from exc
        finally:
            if token is not None:
                call_timeout.reset(token)
        return page_from_generated(generated)

    async def _readback_api(self) -> ApiClient:
        loop = asyncio.get_running_loop()
        return self._readback.current(loop) or await self._readback.get()

    def _open_readback(self) -> ApiClient:
        import aiohttp
        from httpx_aiohttp import AiohttpTransport, HttpxAiohttpClient

        # On the network settings' own aiohttp connector (TLS context, pool size) and proxy, as the sender.
        network = self._network

        def session() -> aiohttp.ClientSession:
            return aiohttp.ClientSession(connector=network.aiohttp_connector())

        transport = AiohttpTransport(client=session, proxy=network.httpx_proxy())
        api = attrs.evolve(self._api)
        api.set_async_httpx_client(
            HttpxAiohttpClient(
                **self._http_options(transport),
                transport=transport,
                event_hooks={"request": [on_request_async], "response": [on_response_async]},
            )
        )
        return api

    @staticmethod
    async def _close_readback(api: ApiClient) -> None:
        await api.get_async_httpx_client().aclose()

    async def aclose(self) -> None:
        """Close the connection pools; sending afterwards raises RuntimeError, as with `Client`."""
        await self._sender.aclose()
        await self._readback.aclose()
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
