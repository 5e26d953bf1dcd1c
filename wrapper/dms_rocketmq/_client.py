"""`Client` and `AsyncClient`: sync and async shells around one shared, I/O-free core.

Both call the generated `dms_rocketmq_api.api.messages.send_message` functions on a generated client whose
httpx client carries the authentication; they turn its `Response[...]` into a `SendResult` or one exception.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Self, TypeAlias

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

from ._auth import AKSKAuth, TokenAuth
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
        return timeout
    return httpx.Timeout(timeout)


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
            "headers": {"User-Agent": USER_AGENT},
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
    def _call_options(timeout: TimeoutTypes | None, max_retries: int | None, default: int) -> int:
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
    def _result(generated: Response[Any], retries_taken: int) -> SendResult:
        raw = _last_response.get()
        assert raw is not None, "the response hook did not run"
        if raw.status_code != 200:
            raise status_error_from_response(raw)
        parsed = generated.parsed
        if not isinstance(parsed, SendMessageResponse):  # pragma: no cover - the generator guarantees it
            raise MalformedResponseError("200 response could not be parsed.", response=raw)
        properties: dict[str, str] = {}
        for entry in parsed.property_list:
            if isinstance(entry.name, str) and isinstance(entry.value, str):
                properties[entry.name] = entry.value
        return SendResult(
            msg_id=_text("msg_id", parsed.msg_id, raw),
            queue_id=_whole_number("queue_id", parsed.queue_id, raw),
            queue_offset=_whole_number("queue_offset", parsed.queue_offset, raw),
            broker_name=_text("broker_name", parsed.broker_name, raw),
            uniq_key=properties.get("UNIQ_KEY"),
            topic=_text("topic", parsed.topic, raw),
            properties=properties,
            request_id=raw.headers.get("X-Request-Id"),
            retries_taken=retries_taken,
        )

    def _next_delay(self, error: APIError, retries_taken: int, max_retries: int) -> float | None:
        """Seconds to wait before retrying after `error`, or None when it must be raised."""
        if retries_taken >= max_retries or not should_retry(error):
            return None
        retry_after = error.response.headers.get("Retry-After") if isinstance(error, APIStatusError) else None
        delay = retry_delay(retries_taken, retry_after)
        logger.info("Send failed (%s); retry %d of %d in %.2f s", error, retries_taken + 1, max_retries, delay)
        return delay


def _outcome_of(item: object, send: Callable[[Message], SendResult]) -> SendOutcome:
    try:
        return send(message_from(item))
    except Exception as exc:  # every input must end as a result or a failure, whatever went wrong
        return SendFailure(item, exc)


class Client(_BaseClient):
    """A thread-safe client that sends messages to one DMS for RocketMQ instance.

    Every argument not given is read from the environment (see docs/wrapper.md): `endpoint` or `region`,
    `project_id`, `instance_id`, and credentials: `ak` + `sk` (+ `security_token`) or `token`.
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
        self._http = httpx.Client(
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
        retries = self._call_options(timeout, max_retries, self.max_retries)
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
        dropped. `on_outcome` is called with each outcome as it completes (one call at a time).
        """
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError(f"concurrency must be a whole number >= 1, got {concurrency!r}.")
        items = list(messages)
        outcomes: list[SendOutcome | None] = [None] * len(items)
        indexes = iter(range(len(items)))
        lock = threading.Lock()

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
                    with lock:
                        on_outcome(outcome)

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
    """The asyncio twin of `Client`, on aiohttp's connection pool (via httpx-aiohttp) so it scales.

    Use it from one event loop; create it inside or outside the loop, and `aclose()` it (or use
    `async with`) before the loop ends.
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
        # httpx's own async pool slows down as concurrency grows; aiohttp's does not (see docs/wrapper.md).
        from httpx_aiohttp import HttpxAiohttpClient  # imported here: keeps `import dms_rocketmq` light

        self._http = HttpxAiohttpClient(
            **self._http_options(),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            transport=transport,
            event_hooks={"request": [_on_request_async], "response": [_on_response_async]},
        )
        self._api.set_async_httpx_client(self._http)

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
        retries = self._call_options(timeout, max_retries, self.max_retries)
        token = _call_timeout.set(_as_timeout(timeout).as_dict()) if timeout is not None else None
        try:
            retries_taken = 0
            while True:
                try:
                    return await self._send_once(request_body, retries_taken)
                except APIError as error:
                    delay = self._next_delay(error, retries_taken, retries)
                    if delay is None:
                        raise
                await asyncio.sleep(delay)
                retries_taken += 1
        finally:
            if token is not None:
                _call_timeout.reset(token)

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
        dropped. `on_outcome` is called with each outcome as it completes.
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
                    on_outcome(outcome)

        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, len(items))):
                group.create_task(work())
        return [outcome for outcome in outcomes if outcome is not None]

    async def _send_once(self, request_body: SendMessageRequestBody, retries_taken: int) -> SendResult:
        settings = self._settings
        _last_response.set(None)
        try:
            generated = await send_message.asyncio_detailed(
                self._engine, settings.project_id, settings.instance_id, client=self._api, body=request_body
            )
        except httpx.RequestError as exc:
            raise _connection_error(exc) from exc
        # RecursionError: JSON nested deeper than the json module can follow (a hostile or broken server).
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise self._parse_failure(exc) from exc
        except Exception as exc:
            # httpx-aiohttp re-raises aiohttp errors it does not map (and asyncio timeouts) as they are.
            if type(exc).__module__.startswith("aiohttp") or isinstance(exc, TimeoutError):
                raise _connection_error(exc) from exc
            raise
        return self._result(generated, retries_taken)

    async def aclose(self) -> None:
        """Close the connection pool."""
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
