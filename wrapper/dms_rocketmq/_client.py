"""`Client` and `AsyncClient`: sync and async shells around one shared, I/O-free core.

Both call the generated `dms_rocketmq_api.api.messages.send_message` functions on a generated client whose
httpx client carries the authentication; they turn its `Response[...]` into a `SendResult` or one exception.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Self, TypeAlias
from urllib.parse import quote, urlsplit

import httpx
from dms_rocketmq_api import AuthenticatedClient
from dms_rocketmq_api import Client as GeneratedClient
from dms_rocketmq_api.api.messages import send_message
from dms_rocketmq_api.models.engine import Engine
from dms_rocketmq_api.models.message_property_name import MessagePropertyName
from dms_rocketmq_api.models.send_message_properties_req_entity import SendMessagePropertiesReqEntity
from dms_rocketmq_api.models.send_message_request_body import SendMessageRequestBody
from dms_rocketmq_api.models.send_message_response import SendMessageResponse
from dms_rocketmq_api.types import Response

from ._auth import AKSKAuth, PrecomputedSigner, TokenAuth
from ._config import Settings, resolve_settings
from ._constants import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    USER_AGENT,
)
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    MalformedResponseError,
    status_error_from_response,
)
from ._models import Message, SendFailure, SendOutcome, SendResult
from ._retry import retry_delay, should_retry
from ._validation import body_text, json_body, keys_value, message_from, tag_value, topic_name

__all__ = ["AsyncClient", "Client"]

logger = logging.getLogger("dms_rocketmq")

TimeoutTypes: TypeAlias = float | httpx.Timeout | None
ApiClient: TypeAlias = GeneratedClient | AuthenticatedClient
OnOutcome: TypeAlias = Callable[[SendOutcome], object]
#: Builds the httpx.Response an exception carries, only when one is raised.
_LazyResponse: TypeAlias = Callable[[], httpx.Response]

# The generated functions hide the httpx response when they fail to parse it, and take no per-call options.
# Event hooks bridge both gaps; a context variable is per thread and per asyncio task, so concurrent sends
# on one client never see each other's values.
_last_response: contextvars.ContextVar[httpx.Response | None] = contextvars.ContextVar(
    "dms_rocketmq_last_response", default=None
)
_call_timeout: contextvars.ContextVar[dict[str, float | None] | None] = contextvars.ContextVar(
    "dms_rocketmq_call_timeout", default=None
)


def _on_request(request: httpx.Request) -> None:
    timeout = _call_timeout.get()
    if timeout is not None:
        request.extensions["timeout"] = timeout


def _on_response(response: httpx.Response) -> None:
    _last_response.set(response)


async def _on_request_async(request: httpx.Request) -> None:
    _on_request(request)


async def _on_response_async(response: httpx.Response) -> None:
    _last_response.set(response)


def _as_timeout(timeout: TimeoutTypes) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        result = timeout
    elif timeout is None or (isinstance(timeout, int | float) and not isinstance(timeout, bool)):
        result = httpx.Timeout(timeout)
    else:
        raise ConfigurationError(f"timeout must be a number of seconds, None or an httpx.Timeout, got {timeout!r}.")
    for part, value in result.as_dict().items():
        # Infinity is refused too: the transports cannot schedule it (OverflowError); None means no timeout.
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise ConfigurationError(
                f"timeout ({part}) must be a finite number of seconds more than 0, or None, got {value!r}."
            )
    return result


def _connection_error(exc: Exception) -> APIConnectionError:
    """Map a transport exception; `request_sent` is False only when the message cannot have left."""
    cause = exc.__cause__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        sent = False
        # httpx-aiohttp maps every aiohttp connection error, even "server disconnected" after the request
        # was written, to ConnectTimeout: trust only aiohttp's own "could not connect" errors.
        if cause is not None and type(cause).__module__.startswith("aiohttp"):
            import aiohttp  # only reached with the aiohttp transport

            sent = not isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
    else:
        sent = True
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    is_timeout = isinstance(exc, httpx.TimeoutException | TimeoutError)
    if is_timeout and cause is not None and type(cause).__module__.startswith("aiohttp"):
        # httpx-aiohttp reports aiohttp's disconnects ("Server disconnected", before or after the request
        # was written) as ConnectTimeout; only aiohttp's own timeouts (TimeoutError subclasses) are timeouts.
        is_timeout = isinstance(cause, TimeoutError)
    if is_timeout:
        return APITimeoutError(f"Request timed out ({detail}).", request_sent=sent)
    return APIConnectionError(f"Connection error ({detail}).", request_sent=sent)


def _proxy_for(url: str) -> str | None:
    """The proxy for `url` from HTTP(S)_PROXY / NO_PROXY (as httpx and aiohttp's trust_env read them)."""
    import urllib.request

    host = urlsplit(url).hostname or ""
    if urllib.request.proxy_bypass(host):
        return None
    return urllib.request.getproxies().get(urlsplit(url).scheme)


def _aiohttp_error(exc: Exception) -> APIConnectionError:
    """Map an aiohttp failure; `request_sent` is False only when no connection could be made."""
    import aiohttp

    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return APITimeoutError(f"Request timed out ({detail}).", request_sent=False)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return APIConnectionError(f"Connection error ({detail}).", request_sent=False)
    if isinstance(exc, TimeoutError):
        return APITimeoutError(f"Request timed out ({detail}).", request_sent=True)
    return APIConnectionError(f"Connection error ({detail}).", request_sent=True)


def _whole_number(name: str, value: object, response: httpx.Response) -> int:
    # The official SDK types these as float; accept 3.0 but not "3", True or 3.5.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise MalformedResponseError(f"200 response has {name}={value!r}, expected a whole number.", response=response)


def _text(name: str, value: object, response: httpx.Response) -> str:
    if isinstance(value, str):
        return value
    raise MalformedResponseError(f"200 response has {name}={value!r}, expected a string.", response=response)


def _fast_send_result(document: Any, request_id: str | None, retries_taken: int) -> SendResult | None:
    """A SendResult straight from a well-formed 200 body, or None to take the generated model's path.

    Reading the documented fields directly costs about a third of what SendMessageResponse.from_dict and
    the checks after it do (measured ~15 us per send on the async path); the result is the same.
    """
    if type(document) is not dict:
        return None
    msg_id = document.get("msg_id")
    topic = document.get("topic")
    broker = document.get("broker_name")
    queue_id = document.get("queue_id")
    queue_offset = document.get("queue_offset")
    entries = document.get("property_list")
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
        name = entry.get("name")
        value = entry.get("value")
        if type(name) is str and type(value) is str:
            properties[name] = value
    return SendResult(
        msg_id=msg_id,
        queue_id=queue_id,
        queue_offset=queue_offset,
        broker_name=broker,
        uniq_key=properties.get("UNIQ_KEY"),
        topic=topic,
        properties=properties,
        request_id=request_id,
        retries_taken=retries_taken,
    )


class _HTTPClient(httpx.Client):
    """An httpx.Client that remembers the URLs it merged with its base URL.

    Every send goes to the same path, and httpx parses and validates it two or three times per request
    (about a sixth of the client's CPU per send, measured); httpx.URL is immutable, so reusing the merged
    object is safe. `_merge_url` is private to httpx (pinned to 0.28 in pyproject.toml); without it this
    class behaves exactly like httpx.Client.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._merged_urls: dict[str, httpx.URL] = {}

    def _merge_url(self, url: httpx.URL | str) -> httpx.URL:
        if not isinstance(url, str):
            return super()._merge_url(url)
        merged = self._merged_urls.get(url)
        if merged is None:
            merged = super()._merge_url(url)
            if len(self._merged_urls) < 64:
                self._merged_urls[url] = merged
        return merged


class _BaseClient:
    """Settings, validation and response handling shared by `Client` and `AsyncClient` (no I/O here)."""

    _api: ApiClient

    def __init__(
        self,
        *,
        region: str | None,
        endpoint: str | None,
        project_id: str | None,
        instance_id: str | None,
        ak: str | None,
        sk: str | None,
        security_token: str | None,
        token: str | None,
        engine: str | None,
        timeout: TimeoutTypes,
        max_retries: int,
        environ: Mapping[str, str] | None,
    ) -> None:
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise ConfigurationError(f"max_retries must be a whole number >= 0, got {max_retries!r}.")
        self._settings = resolve_settings(
            region=region,
            endpoint=endpoint,
            project_id=project_id,
            instance_id=instance_id,
            ak=ak,
            sk=sk,
            security_token=security_token,
            token=token,
            engine=engine,
            environ=environ,
        )
        settings = self._settings
        self._engine = Engine(settings.engine)
        self.timeout = _as_timeout(timeout)
        self.max_retries = max_retries
        self._auth: httpx.Auth
        if settings.token:
            self._auth = TokenAuth(settings.token, project_id=settings.project_id)
            self._api = AuthenticatedClient(
                base_url=settings.endpoint,
                token=settings.token,
                prefix="",
                auth_header_name="X-Auth-Token",
                timeout=self.timeout,
            )
        else:
            assert settings.ak is not None
            assert settings.sk is not None
            self._auth = AKSKAuth(settings.ak, settings.sk, settings.security_token, project_id=settings.project_id)
            self._api = GeneratedClient(base_url=settings.endpoint, timeout=self.timeout)

    @property
    def settings(self) -> Settings:
        """The resolved settings (secrets masked in its repr)."""
        return self._settings

    @property
    def api_client(self) -> ApiClient:
        """The generated `dms_rocketmq_api` client, authenticated, for anything the wrapper does not cover."""
        return self._api

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._settings!r})"

    def _http_options(self) -> dict[str, Any]:
        return {
            "base_url": self._settings.endpoint,
            "auth": self._auth,
            "timeout": self.timeout,
            # X-Project-Id as a default header: the auth classes would add it to every request otherwise.
            "headers": {"User-Agent": USER_AGENT, "X-Project-Id": self._settings.project_id},
            "follow_redirects": False,
        }

    @staticmethod
    def _request_body(topic: str, body: str | bytes, keys: Any, tags: Any) -> SendMessageRequestBody:
        properties = []
        keys_text = keys_value(keys)
        if keys_text is not None:
            properties.append(SendMessagePropertiesReqEntity(name=MessagePropertyName.KEYS, value=keys_text))
        tag = tag_value(tags)
        if tag is not None:
            properties.append(SendMessagePropertiesReqEntity(name=MessagePropertyName.TAGS, value=tag))
        return SendMessageRequestBody(topic=topic_name(topic), body=body_text(body), property_list=properties)

    @staticmethod
    def _retries_for(max_retries: int | None, default: int) -> int:
        if max_retries is None:
            return default
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise ConfigurationError(f"max_retries must be a whole number >= 0, got {max_retries!r}.")
        return max_retries

    @staticmethod
    def _parse_failure(exc: Exception) -> APIError:
        """The generated parser raised on this response: name what was wrong with it."""
        raw = _last_response.get()
        if raw is None:  # pragma: no cover - the hook runs before any parsing
            raise exc
        if raw.status_code != 200:
            return status_error_from_response(raw)
        return MalformedResponseError(
            f"200 response is not a valid SendMessageResponse ({type(exc).__name__}: {exc}).", response=raw
        )

    @staticmethod
    def _send_result(
        parsed: SendMessageResponse,
        raw: httpx.Response | None,
        lazy: _LazyResponse,
        request_id: str | None,
        retries_taken: int,
    ) -> SendResult:
        """Check the parsed 200 body's types (the generated parser does not) and build the SendResult."""
        properties: dict[str, str] = {}
        for entry in parsed.property_list:
            if isinstance(entry.name, str) and isinstance(entry.value, str):
                properties[entry.name] = entry.value
        msg_id, topic, broker = parsed.msg_id, parsed.topic, parsed.broker_name
        queue_id, queue_offset = parsed.queue_id, parsed.queue_offset
        if not (
            type(msg_id) is str
            and type(topic) is str
            and type(broker) is str
            and type(queue_id) is int
            and type(queue_offset) is int
        ):
            response = raw if raw is not None else lazy()
            msg_id = _text("msg_id", msg_id, response)
            topic = _text("topic", topic, response)
            broker = _text("broker_name", broker, response)
            queue_id = _whole_number("queue_id", queue_id, response)
            queue_offset = _whole_number("queue_offset", queue_offset, response)
        return SendResult(
            msg_id=msg_id,
            queue_id=queue_id,
            queue_offset=queue_offset,
            broker_name=broker,
            uniq_key=properties.get("UNIQ_KEY"),
            topic=topic,
            properties=properties,
            request_id=request_id,
            retries_taken=retries_taken,
        )

    @classmethod
    def _result(cls, generated: Response[Any], retries_taken: int) -> SendResult:
        raw = _last_response.get()
        assert raw is not None, "the response hook did not run"
        if raw.status_code != 200:
            raise status_error_from_response(raw)
        parsed = generated.parsed
        if not isinstance(parsed, SendMessageResponse):  # pragma: no cover - the generator guarantees it
            raise MalformedResponseError("200 response could not be parsed.", response=raw)
        return cls._send_result(parsed, raw, lambda: raw, raw.headers.get("X-Request-Id"), retries_taken)

    @classmethod
    def _result_from_content(
        cls, status: int, request_id: str | None, content: bytes, lazy: _LazyResponse, retries_taken: int
    ) -> SendResult:
        """The same as `_result`, for a response that did not come through httpx (the aiohttp path)."""
        if status != 200:
            raise status_error_from_response(lazy())
        try:
            document = json.loads(content)
            fast = _fast_send_result(document, request_id, retries_taken)
            if fast is not None:
                return fast
            # Anything unusual goes through the generated model, which names what is wrong with it.
            parsed = SendMessageResponse.from_dict(document)
        # RecursionError: JSON nested deeper than the json module can follow (a hostile or broken server).
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise MalformedResponseError(
                f"200 response is not a valid SendMessageResponse ({type(exc).__name__}: {exc}).", response=lazy()
            ) from exc
        return cls._send_result(parsed, None, lazy, request_id, retries_taken)

    def _next_delay(self, error: APIError, retries_taken: int, max_retries: int) -> float | None:
        """Seconds to wait before retrying after `error`, or None when it must be raised."""
        if retries_taken >= max_retries or not should_retry(error):
            return None
        retry_after = error.response.headers.get("Retry-After") if isinstance(error, APIStatusError) else None
        delay = retry_delay(retries_taken, retry_after)
        logger.info("Send failed (%s); retry %d of %d in %.2f s", error, retries_taken + 1, max_retries, delay)
        return delay


def _call_on_outcome(on_outcome: OnOutcome, outcome: SendOutcome) -> None:
    """Run a send_many callback; its failure is logged, never allowed to cost the other messages."""
    try:
        on_outcome(outcome)
    except Exception:
        logger.exception("send_many: on_outcome raised; the error is ignored and sending goes on")


def _outcome_of(item: object, send: Callable[[Message], SendResult]) -> SendOutcome:
    try:
        return send(message_from(item))
    except Exception as exc:  # every input must end as a result or a failure, whatever went wrong
        return SendFailure(item, exc)


class Client(_BaseClient):
    """A thread-safe client that sends messages to one DMS for RocketMQ instance.

    Every argument not given is read from the environment (see docs/wrapper.md): `endpoint` or `region`,
    `project_id`, `instance_id`, and credentials: `ak` + `sk` (+ `security_token`) or `token`.
    `max_connections` sizes the connection pool; `transport` replaces httpx's (for example an
    `httpx.MockTransport` in tests); `environ` replaces `os.environ` as the source of settings.
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        endpoint: str | None = None,
        project_id: str | None = None,
        instance_id: str | None = None,
        ak: str | None = None,
        sk: str | None = None,
        security_token: str | None = None,
        token: str | None = None,
        engine: str | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        transport: httpx.BaseTransport | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            region=region,
            endpoint=endpoint,
            project_id=project_id,
            instance_id=instance_id,
            ak=ak,
            sk=sk,
            security_token=security_token,
            token=token,
            engine=engine,
            timeout=timeout,
            max_retries=max_retries,
            environ=environ,
        )
        self._http = _HTTPClient(
            **self._http_options(),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            transport=transport,
            event_hooks={"request": [_on_request], "response": [_on_response]},
        )
        self._api.set_httpx_client(self._http)

    def send(
        self,
        topic: str,
        body: str | bytes,
        *,
        keys: str | Iterable[str] | None = None,
        tags: str | None = None,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
    ) -> SendResult:
        """Send one message and return where it was stored; raise a `DMSError` subclass on failure.

        `keys` is one key or several (joined with single spaces into KEYS), `tags` one tag. `timeout` and
        `max_retries` override the client's for this call.
        """
        request_body = self._request_body(topic, body, keys, tags)
        retries = self._retries_for(max_retries, self.max_retries)
        token = _call_timeout.set(_as_timeout(timeout).as_dict()) if timeout is not None else None
        try:
            retries_taken = 0
            while True:
                try:
                    return self._send_once(request_body, retries_taken)
                except APIError as error:
                    delay = self._next_delay(error, retries_taken, retries)
                    if delay is None:
                        raise
                time.sleep(delay)
                retries_taken += 1
        finally:
            if token is not None:
                _call_timeout.reset(token)

    def send_json(
        self,
        topic: str,
        obj: Any,
        *,
        keys: str | Iterable[str] | None = None,
        tags: str | None = None,
        timeout: TimeoutTypes | None = None,
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
    ) -> list[SendOutcome]:
        """Send many messages with at most `concurrency` in flight (threads); one outcome per input, in order.

        Each outcome is a `SendResult` or a `SendFailure` carrying the input and the exception: nothing is
        dropped. `on_outcome` is called with each outcome as it completes (one call at a time); an exception
        it raises is logged and sending goes on, so every outcome is still returned.
        """
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError(f"concurrency must be a whole number >= 1, got {concurrency!r}.")
        items = list(messages)
        outcomes: list[SendOutcome | None] = [None] * len(items)
        indexes = iter(range(len(items)))
        lock = threading.Lock()
        callback_lock = threading.Lock()  # on_outcome runs one call at a time, without blocking the senders

        def send_message_(message: Message) -> SendResult:
            return self.send(message.topic, message.body, keys=message.keys, tags=message.tags)

        def work() -> None:
            while True:
                with lock:
                    index = next(indexes, None)
                if index is None:
                    return
                outcome = _outcome_of(items[index], send_message_)
                outcomes[index] = outcome
                if on_outcome is not None:
                    with callback_lock:
                        _call_on_outcome(on_outcome, outcome)

        workers = min(concurrency, len(items))
        if workers <= 1:
            work()
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dms-rocketmq-send") as pool:
                for future in [pool.submit(work) for _ in range(workers)]:
                    future.result()
        return [outcome for outcome in outcomes if outcome is not None]

    def _send_once(self, request_body: SendMessageRequestBody, retries_taken: int) -> SendResult:
        settings = self._settings
        _last_response.set(None)
        try:
            generated = send_message.sync_detailed(
                self._engine, settings.project_id, settings.instance_id, client=self._api, body=request_body
            )
        except httpx.RequestError as exc:
            raise _connection_error(exc) from exc
        # RecursionError: JSON nested deeper than the json module can follow (a hostile or broken server).
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise self._parse_failure(exc) from exc
        return self._result(generated, retries_taken)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(_BaseClient):
    """The asyncio twin of `Client`, sending on aiohttp's connection pool so that it scales with concurrency.

    `send` posts the generated request model with aiohttp directly, signed by the same signer, and reads
    the answer's documented fields (the generated response model names what is wrong with an unusual one):
    httpx's own async pool slows down as concurrency grows,
    and even on httpx-aiohttp's transport httpx's per-request work cost 3-4x a raw aiohttp loop (see
    docs/wrapper.md). `api_client` is the generated client on httpx-aiohttp, for anything else.

    Create it inside or outside an event loop and `aclose()` it (or use `async with`) before the loop ends;
    used from a new loop later, it opens a new connection pool there. Arguments as for `Client`; given a
    `transport`, sends go through the generated client and that httpx transport instead of aiohttp.
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        endpoint: str | None = None,
        project_id: str | None = None,
        instance_id: str | None = None,
        ak: str | None = None,
        sk: str | None = None,
        security_token: str | None = None,
        token: str | None = None,
        engine: str | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        transport: httpx.AsyncBaseTransport | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            region=region,
            endpoint=endpoint,
            project_id=project_id,
            instance_id=instance_id,
            ak=ak,
            sk=sk,
            security_token=security_token,
            token=token,
            engine=engine,
            timeout=timeout,
            max_retries=max_retries,
            environ=environ,
        )
        from httpx_aiohttp import HttpxAiohttpClient  # imported here: keeps `import dms_rocketmq` light

        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._http = HttpxAiohttpClient(
            **self._http_options(),
            limits=limits,
            transport=transport,
            event_hooks={"request": [_on_request_async], "response": [_on_response_async]},
        )
        self._api.set_async_httpx_client(self._http)
        # With a transport given (tests: httpx.MockTransport), sends go through the generated client and
        # that transport; otherwise through aiohttp directly.
        self._direct = transport is None
        self._max_connections = max_connections
        self._session: Any = None  # aiohttp.ClientSession, opened in the running loop on first send
        self._session_loop: asyncio.AbstractEventLoop | None = None
        # Sends beyond the pool size wait here, first come first served. aiohttp's own pool queue is not
        # fair: a send that finishes and starts the next one takes the freed connection ahead of the waiters,
        # so with more sends in flight than connections some waited seconds (200 senders on 128 connections:
        # p99 35 ms, max 7.9 s). asyncio.Semaphore does not let a newcomer pass a waiter.
        self._gate: asyncio.Semaphore | None = None
        self._closed = False
        settings = self._settings
        self._url = f"{settings.endpoint}/v2/{quote(settings.engine, safe='')}/{quote(settings.project_id, safe='')}"
        self._url += f"/instances/{quote(settings.instance_id, safe='')}/messages"
        fixed = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "X-Project-Id": settings.project_id}
        self._signer: PrecomputedSigner | None = None
        if settings.token:
            self._token_headers = {
                **fixed,
                "Host": httpx.URL(self._url).netloc.decode("ascii"),
                "X-Auth-Token": settings.token,
            }
        else:
            assert settings.ak is not None
            assert settings.sk is not None
            if settings.security_token:
                fixed["X-Security-Token"] = settings.security_token
            # Host as httpx and aiohttp send it: the port only when it is not the scheme's default.
            fixed["Host"] = httpx.URL(self._url).netloc.decode("ascii")
            self._signer = PrecomputedSigner(settings.ak, settings.sk, "POST", self._url, fixed)
        self._default_timeout = self._aiohttp_timeout(self.timeout)
        self._proxy = _proxy_for(self._url)

    @staticmethod
    def _aiohttp_timeout(timeout: httpx.Timeout) -> Any:
        import aiohttp

        # httpx's `pool` timeout (aiohttp's `connect`) is not applied: aiohttp arms a timer for it on every
        # request even when a pooled connection is free (measured ~5 us/send), and send_many never waits
        # for the pool longer than one send takes anyway.
        return aiohttp.ClientTimeout(total=None, sock_connect=timeout.connect, sock_read=timeout.read)

    def _open_session(self) -> Any:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0)
        # No trust_env: aiohttp would look the proxy up again for every request (~180 us each); the one
        # endpoint's proxy is looked up once, in __init__, from the same variables httpx reads.
        self._session_loop = asyncio.get_running_loop()
        self._gate = asyncio.Semaphore(self._max_connections)
        self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=True, skip_auto_headers=("User-Agent",)
        )
        return self._session

    async def send(
        self,
        topic: str,
        body: str | bytes,
        *,
        keys: str | Iterable[str] | None = None,
        tags: str | None = None,
        timeout: TimeoutTypes | None = None,  # noqa: ASYNC109 - per HTTP attempt, as in the sync API
        max_retries: int | None = None,
    ) -> SendResult:
        """Send one message and return where it was stored; raise a `DMSError` subclass on failure.

        `keys` is one key or several (joined with single spaces into KEYS), `tags` one tag. `timeout` and
        `max_retries` override the client's for this call.
        """
        request_body = self._request_body(topic, body, keys, tags)
        retries = self._retries_for(max_retries, self.max_retries)
        call_timeout = None if timeout is None else _as_timeout(timeout)
        retries_taken = 0
        while True:
            try:
                if self._direct:
                    return await self._send_direct(request_body, retries_taken, call_timeout)
                return await self._send_generated(request_body, retries_taken, call_timeout)
            except APIError as error:
                delay = self._next_delay(error, retries_taken, retries)
                if delay is None:
                    raise
            await asyncio.sleep(delay)
            retries_taken += 1

    async def send_json(
        self,
        topic: str,
        obj: Any,
        *,
        keys: str | Iterable[str] | None = None,
        tags: str | None = None,
        timeout: TimeoutTypes | None = None,  # noqa: ASYNC109 - per HTTP attempt, as in the sync API
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
    ) -> list[SendOutcome]:
        """Send many messages with at most `concurrency` in flight; one outcome per input, in input order.

        Each outcome is a `SendResult` or a `SendFailure` carrying the input and the exception: nothing is
        dropped. `on_outcome` is called with each outcome as it completes; an exception it raises is logged
        and sending goes on, so every outcome is still returned.
        """
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError(f"concurrency must be a whole number >= 1, got {concurrency!r}.")
        items = list(messages)
        outcomes: list[SendOutcome | None] = [None] * len(items)
        # One iterator shared by the workers: each index is taken by exactly one of them.
        indexes = iter(range(len(items)))

        async def work() -> None:
            for index in indexes:
                item = items[index]
                outcome: SendOutcome
                try:
                    message = message_from(item)
                    outcome = await self.send(message.topic, message.body, keys=message.keys, tags=message.tags)
                except Exception as exc:  # every input must end as a result or a failure
                    outcome = SendFailure(item, exc)
                outcomes[index] = outcome
                if on_outcome is not None:
                    _call_on_outcome(on_outcome, outcome)

        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, len(items))):
                group.create_task(work())
        return [outcome for outcome in outcomes if outcome is not None]

    async def _send_direct(
        self, request_body: SendMessageRequestBody, retries_taken: int, call_timeout: httpx.Timeout | None
    ) -> SendResult:
        import aiohttp

        payload = json.dumps(request_body.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(
            "utf-8"
        )
        headers = self._signer.sign(payload) if self._signer is not None else self._token_headers
        if self._closed:
            raise RuntimeError("this AsyncClient is closed; create a new one to send again.")
        session = self._session
        if session is None or self._session_loop is not asyncio.get_running_loop():
            # First send, or a new event loop (asyncio.run called again): an aiohttp session belongs to
            # the loop it was opened in.
            session = self._open_session()
        client_timeout = self._default_timeout if call_timeout is None else self._aiohttp_timeout(call_timeout)
        assert self._gate is not None
        try:
            # allow_redirects=False, as in the httpx path: aiohttp would otherwise re-send the request, token or
            # signature included, to whatever host a Location header names.
            async with (
                self._gate,
                session.post(
                    self._url,
                    data=payload,
                    headers=headers,
                    timeout=client_timeout,
                    proxy=self._proxy,
                    allow_redirects=False,
                ) as answer,
            ):
                content = await answer.read()
                status = answer.status
                answer_headers = answer.headers
                # The bytes as received: httpx.Response refuses str header values that are not ASCII.
                raw_headers = answer.raw_headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _aiohttp_error(exc) from exc

        def lazy() -> httpx.Response:
            return httpx.Response(
                status,
                headers=list(raw_headers),
                content=content,
                request=httpx.Request("POST", self._url, headers=headers, content=payload),
            )

        return self._result_from_content(status, answer_headers.get("X-Request-Id"), content, lazy, retries_taken)

    async def _send_generated(
        self, request_body: SendMessageRequestBody, retries_taken: int, call_timeout: httpx.Timeout | None
    ) -> SendResult:
        settings = self._settings
        _last_response.set(None)
        token = _call_timeout.set(call_timeout.as_dict()) if call_timeout is not None else None
        try:
            generated = await send_message.asyncio_detailed(
                self._engine, settings.project_id, settings.instance_id, client=self._api, body=request_body
            )
        except httpx.RequestError as exc:
            raise _connection_error(exc) from exc
        # RecursionError: JSON nested deeper than the json module can follow (a hostile or broken server).
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise self._parse_failure(exc) from exc
        finally:
            if token is not None:
                _call_timeout.reset(token)
        return self._result(generated, retries_taken)

    async def aclose(self) -> None:
        """Close the connection pools; sending afterwards raises RuntimeError, as with `Client`."""
        self._closed = True
        if self._session is not None and self._session_loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None
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
