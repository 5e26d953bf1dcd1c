"""The internals of our dependencies that the wrapper leans on, each held here so that the upgrade which breaks
one fails a test named for it instead of changing behaviour silently. (The emulator's two uvicorn internals are
held in tests/integration/test_uvicorn_internals.py.)

- httpx: `Client._merge_url` (the sync client caches merged URLs through it) and `Response._request` (masking
  secrets needs to know whether a response has a request, which `.request` answers only by raising).
- The generated client: `send_message._get_kwargs` (the direct senders and `dms-rocketmq sign` take method, URL
  and headers from it) and `AuthenticatedClient._base_url` (the masked repr shows it).
- httpx-aiohttp: its httpx exceptions carry aiohttp's own as `__cause__`, which decides `request_sent` on the
  async read-back path.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
from typing import Any

import aiohttp
import httpx
import pytest
from dms_rocketmq._auth import mask_sent_secrets
from dms_rocketmq._base import _TokenApiClient
from dms_rocketmq._network import httpx_failure
from dms_rocketmq._transport import HTTPClient
from dms_rocketmq_api.api.messages import send_message
from dms_rocketmq_api.models import SendMessageRequestBody
from httpx_aiohttp import AiohttpTransport


def _echo_url(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, text=str(request.url))


def test_httpx_merge_url_is_what_builds_every_request_url_and_the_cache_follows_base_url() -> None:
    """httpx still routes every relative URL through `_merge_url` (else the cache is dead code), and a later
    `base_url` change is honoured as httpx.Client honours it."""
    assert callable(getattr(httpx.Client, "_merge_url", None))
    assert list(inspect.signature(httpx.Client._merge_url).parameters) == ["self", "url"]
    seen: list[str] = []
    original = HTTPClient._merge_url

    class Counting(HTTPClient):
        def _merge_url(self, url: httpx.URL | str) -> httpx.URL:
            seen.append(str(url))
            return original(self, url)

    with Counting(base_url="http://one.example/v2", transport=httpx.MockTransport(_echo_url)) as client:
        assert client.get("/topics/orders").text == "http://one.example/v2/topics/orders"
        assert client.get("/topics/orders").text == "http://one.example/v2/topics/orders"
        client.base_url = httpx.URL("http://two.example/v3")
        assert client.get("/topics/orders").text == "http://two.example/v3/topics/orders"
    assert seen == ["/topics/orders"] * 3


def test_httpx_response_request_is_none_until_set_and_the_public_property_raises() -> None:
    """`mask_sent_secrets` reads `Response._request` because `.request` raises on a response built bare."""
    bare = httpx.Response(200)
    assert bare._request is None
    with pytest.raises(RuntimeError):
        _ = bare.request
    mask_sent_secrets(bare)  # no request: nothing to mask, and no error
    request = httpx.Request("POST", "http://dms.example/", headers={"X-Auth-Token": "secret-token"})
    answered = httpx.Response(200, request=request)
    assert answered._request is request
    mask_sent_secrets(answered)
    assert "secret-token" not in str(answered.request.headers)


def test_the_generated_get_kwargs_describes_the_send_as_the_direct_senders_read_it() -> None:
    """Method, URL and headers, under the keys the direct senders and `sign` read."""
    body = SendMessageRequestBody(topic="orders", body="x")
    kwargs: dict[str, Any] = send_message._get_kwargs("reliability", "p", "i", body=body)
    assert kwargs["method"] == "post"
    assert kwargs["url"] == "/v2/reliability/p/instances/i/messages"
    assert kwargs["headers"]["Content-Type"] == "application/json"
    assert kwargs["json"] == body.to_dict()


def test_the_generated_client_keeps_its_base_url_where_the_masked_repr_reads_it() -> None:
    client = _TokenApiClient(base_url="https://dms.example", token="secret-token")
    assert client._base_url == "https://dms.example"
    assert "https://dms.example" in repr(client)
    assert "secret-token" not in repr(client)


def test_httpx_aiohttp_chains_aiohttp_errors_so_request_sent_is_decided_from_them() -> None:
    """A refused connection comes out of httpx-aiohttp as an httpx error caused by aiohttp's: mapped, it says
    the request was not sent. Without the chain it would still map, but from httpx's class alone."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed when the block ends: nothing listens there

    async def attempt() -> httpx.HTTPError:
        transport = AiohttpTransport(client=aiohttp.ClientSession)
        async with httpx.AsyncClient(transport=transport) as client:
            try:
                await client.get(f"http://127.0.0.1:{port}/")
            except httpx.HTTPError as exc:
                return exc
        raise AssertionError("a closed port answered")

    failure = asyncio.run(attempt())
    assert type(failure.__cause__).__module__.startswith("aiohttp")
    mapped = httpx_failure(failure, f"http://127.0.0.1:{port}")  # type: ignore[arg-type]
    assert mapped.request_sent is False
