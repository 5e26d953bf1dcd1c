"""The httpx side of sending: timeouts, per-call options, proxy lookup and mapping transport failures.

The generated functions hide the httpx response when they fail to parse it, and take no per-call options.
Event hooks bridge both gaps; a context variable is per thread and per asyncio task, so concurrent sends on
one client never see each other's values.
"""

from __future__ import annotations

import contextvars
import math
import os
from typing import Any, TypeAlias
from urllib.parse import urlsplit

import httpx

from ._exceptions import APIConnectionError, APITimeoutError, ConfigurationError

__all__ = [
    "HTTPClient",
    "TimeoutTypes",
    "aiohttp_failure",
    "as_timeout",
    "call_timeout",
    "connection_error",
    "connection_failure",
    "failure_reason",
    "last_response",
    "on_request",
    "on_request_async",
    "on_response",
    "on_response_async",
    "proxy_for",
]

TimeoutTypes: TypeAlias = float | httpx.Timeout | None

last_response: contextvars.ContextVar[httpx.Response | None] = contextvars.ContextVar(
    "dms_rocketmq_last_response", default=None
)
call_timeout: contextvars.ContextVar[dict[str, float | None] | None] = contextvars.ContextVar(
    "dms_rocketmq_call_timeout", default=None
)


def on_request(request: httpx.Request) -> None:
    timeout = call_timeout.get()
    if timeout is not None:
        request.extensions["timeout"] = timeout


def on_response(response: httpx.Response) -> None:
    last_response.set(response)


async def on_request_async(request: httpx.Request) -> None:
    on_request(request)


async def on_response_async(response: httpx.Response) -> None:
    last_response.set(response)


def as_timeout(timeout: TimeoutTypes) -> httpx.Timeout:
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


def failure_reason(exc: BaseException) -> str:
    """What went wrong, the same for httpx and aiohttp: the operating system's words when there are some.

    Both stacks wrap the OSError (`Connection refused`, `Name or service not known`...) in their own
    exceptions with their own wording; the innermost errno's text reads the same on both paths.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            # asyncio words a refused connection "Connect call failed (...)"; the errno's own text does not
            # depend on the stack. DNS errors (negative codes) keep the resolver's text.
            if current.errno > 0:
                return os.strerror(current.errno)
            if current.strerror:
                return current.strerror
        current = current.__cause__ or current.__context__
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def connection_failure(
    endpoint: str, exc: BaseException, *, request_sent: bool, timeout_phase: str | None = None
) -> APIConnectionError:
    """The one wording of a failure without an HTTP response, on every path, naming the endpoint.

    `timeout_phase` (`connecting`, `waiting for the response`...) makes it an `APITimeoutError`.
    """
    if timeout_phase is not None:
        return APITimeoutError(f"Timed out {timeout_phase} to {endpoint}.", request_sent=request_sent)
    reason = failure_reason(exc)
    if request_sent:
        return APIConnectionError(
            f"Connection to {endpoint} failed; the request may have been sent: {reason}.", request_sent=True
        )
    return APIConnectionError(f"Cannot connect to {endpoint}: {reason}.", request_sent=False)


_HTTPX_TIMEOUT_PHASES: tuple[tuple[type[httpx.TimeoutException], str], ...] = (
    (httpx.ConnectTimeout, "connecting"),
    (httpx.PoolTimeout, "waiting for a free connection"),
    (httpx.WriteTimeout, "sending the request"),
    (httpx.ReadTimeout, "waiting for the response"),
)


def connection_error(exc: Exception, endpoint: str) -> APIConnectionError:
    """Map an httpx transport exception; `request_sent` is False only when the message cannot have left."""
    cause = exc.__cause__
    from_aiohttp = cause is not None and type(cause).__module__.startswith("aiohttp")
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        sent = False
        # httpx-aiohttp maps every aiohttp connection error, even "server disconnected" after the request
        # was written, to ConnectTimeout: trust only aiohttp's own "could not connect" errors.
        if from_aiohttp:
            import aiohttp  # only reached with the aiohttp transport

            sent = not isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
    else:
        sent = True
    if from_aiohttp:
        # httpx-aiohttp reports aiohttp's disconnects ("Server disconnected", before or after the request
        # was written) as ConnectTimeout; only aiohttp's own timeouts (TimeoutError subclasses) are timeouts.
        assert cause is not None
        return aiohttp_failure(cause, endpoint, request_sent=sent)
    phase = None
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        phase = next((name for kind, name in _HTTPX_TIMEOUT_PHASES if isinstance(exc, kind)), "waiting")
    return connection_failure(endpoint, exc, request_sent=sent, timeout_phase=phase)


def aiohttp_failure(exc: BaseException, endpoint: str, *, request_sent: bool) -> APIConnectionError:
    """Map an aiohttp failure with `connection_failure`'s wording (aiohttp imported only when called)."""
    import aiohttp

    phase = None
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        phase = "connecting"
    elif isinstance(exc, TimeoutError):
        phase = "waiting for the response"
    return connection_failure(endpoint, exc, request_sent=request_sent, timeout_phase=phase)


def proxy_for(url: str) -> str | None:
    """The proxy for `url` from HTTP(S)_PROXY / NO_PROXY (as httpx and aiohttp's trust_env read them)."""
    import urllib.request

    host = urlsplit(url).hostname or ""
    if urllib.request.proxy_bypass(host):
        return None
    return urllib.request.getproxies().get(urlsplit(url).scheme)


class HTTPClient(httpx.Client):
    """An httpx.Client that remembers the URLs it merged with its base URL.

    Every send goes to the same path, and httpx parses and validates it two or three times per request (a
    visible share of the client's CPU per send in the profiles); httpx.URL is immutable, so reusing the merged
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
