"""The httpx side of sending: timeouts and per-call options (network settings and failures: `_network`).

The generated functions hide the httpx response when they fail to parse it, and take no per-call options.
Event hooks bridge both gaps; a context variable is per thread and per asyncio task, so concurrent sends on
one client never see each other's values.
"""

from __future__ import annotations

import contextvars
import math
import os
from typing import Any, TypeAlias

import httpx

from ._exceptions import APIConnectionError, ConfigurationError
from ._network import aiohttp_failure, connection_failure, failure_reason, httpx_failure, proxy_from_environment

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


def connection_error(exc: Exception, endpoint: str) -> APIConnectionError:
    """Map an httpx transport exception for `endpoint` (`_network.httpx_failure`, the one mapping)."""
    return httpx_failure(exc, endpoint)


def proxy_for(url: str) -> str | None:
    """The proxy for `url` from the process's environment, as `_network` decides it for every client."""
    return proxy_from_environment(url, os.environ)


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
        self._merged_base = self.base_url

    def _merge_url(self, url: httpx.URL | str) -> httpx.URL:
        if not isinstance(url, str):
            return super()._merge_url(url)
        base = self.base_url
        if base is not self._merged_base:  # `client.base_url = ...` since: what was merged is stale
            self._merged_urls.clear()
            self._merged_base = base
        merged = self._merged_urls.get(url)
        if merged is None:
            merged = super()._merge_url(url)
            if len(self._merged_urls) < 64:
                self._merged_urls[url] = merged
        return merged
