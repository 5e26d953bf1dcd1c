"""The contenders: each takes (server url, workload), sets up, warms up, and returns one timed Sample.

Sequential contenders send one message after another on one connection; bulk contenders keep 64 in flight.
Every one of them signs with AK/SK and reads the `msg_id` of each answer, as a caller would.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import json
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import httpx
from _measure import (
    AK,
    ENGINE,
    IN_FLIGHT,
    INSTANCE_ID,
    PROJECT_ID,
    SEND_PATH,
    SK,
    TOPIC,
    WARM_UP,
    Sample,
    SendFailed,
    Timer,
    Workload,
    check_status,
    timed_one_by_one,
    warm_up_of,
)

__all__ = [
    "RawSigner",
    "bulk_httpx_default",
    "bulk_huawei_sdk_async",
    "bulk_raw_aiohttp",
    "bulk_wrapper",
    "bulk_wrapper_generated_path",
    "sequential_huawei_sdk",
    "sequential_raw_httpx",
    "sequential_wrapper",
]


class RawSigner:
    """The least work an AK/SK client can do per request: SDK-HMAC-SHA256 over a precomputed canonical prefix.

    Signs content-type, host and x-sdk-date (the gateway requires only x-sdk-date to be signed); the date string
    is formatted once per second.
    """

    SIGNED_HEADERS = "content-type;host;x-sdk-date"

    def __init__(self, base_url: str, ak: str, sk: str) -> None:
        host = httpx.URL(base_url).netloc.decode()
        self._key = sk.encode()
        # Canonical request: method, URI with a trailing slash, empty query, then the canonical headers.
        self._prefix = f"POST\n{SEND_PATH}/\n\ncontent-type:application/json\nhost:{host}\n"
        self._authorization = f"SDK-HMAC-SHA256 Access={ak}, SignedHeaders={self.SIGNED_HEADERS}, Signature="
        self._second = -1
        self._date = ""

    def headers(self, payload: bytes) -> dict[str, str]:
        """Return the headers that sign a POST of `payload` to the send path now."""
        now = int(time.time())
        if now != self._second:
            self._second, self._date = now, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        date = self._date
        payload_hash = hashlib.sha256(payload).hexdigest()
        canonical = f"{self._prefix}x-sdk-date:{date}\n\n{self.SIGNED_HEADERS}\n{payload_hash}"
        to_sign = f"SDK-HMAC-SHA256\n{date}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(self._key, to_sign.encode(), hashlib.sha256).hexdigest()
        return {
            "Content-Type": "application/json",
            "X-Sdk-Date": date,
            "Authorization": self._authorization + signature,
        }


# Sequential contenders: each takes (server url, workload), sets up, warms up, and returns one Sample.


def sequential_raw_httpx(url: str, work: Workload) -> Sample:
    signer = RawSigner(url, AK, SK)
    target = url + SEND_PATH
    with httpx.Client() as client:

        def send(i: int) -> None:
            payload = work.payloads[i]
            response = client.post(target, content=payload, headers=signer.headers(payload))
            check_status(response.status_code, "raw httpx")
            json.loads(response.content)["msg_id"]

        return timed_one_by_one(send, len(work))


def sequential_huawei_sdk(url: str, work: Workload) -> Sample:
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from huaweicloudsdkrocketmq.v2 import (
        RocketMQClient,
        SendMessageProperties,
        SendMessageReq,
        SendMessageRequest,
    )

    config = HttpConfig.get_default_config()
    config.ignore_ssl_verification = True  # plain http on loopback; no TLS involved either way
    config.retry_times = 0  # the default; stated so that no retry can hide in the numbers
    client = (
        RocketMQClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(AK, SK, PROJECT_ID))
        .with_endpoint(url)
        .build()
    )

    def send(i: int) -> None:
        request = SendMessageRequest(
            engine=ENGINE,
            instance_id=INSTANCE_ID,
            body=SendMessageReq(
                topic=TOPIC,
                body=work.bodies[i],
                property_list=[SendMessageProperties(name="KEYS", value=work.keys[i])],
            ),
        )
        response = client.send_message(request)
        check_status(response.status_code, "huawei sdk")
        response.msg_id  # noqa: B018 - the value a caller reads

    try:
        return timed_one_by_one(send, len(work))
    finally:
        client.close()


def sequential_wrapper(url: str, work: Workload) -> Sample:
    from dms_rocketmq import Client

    client = Client(endpoint=url, project_id=PROJECT_ID, instance_id=INSTANCE_ID, ak=AK, sk=SK)
    try:
        bodies, keys = work.bodies, work.keys
        for i in range(min(WARM_UP, len(work))):
            client.send(TOPIC, bodies[i], keys=keys[i]).msg_id  # noqa: B018
        with Timer() as timer:
            for i in range(len(work)):
                client.send(TOPIC, bodies[i], keys=keys[i]).msg_id  # noqa: B018
    finally:
        client.close()
    return timer.sample(len(work))


# Bulk contenders: N messages, 64 in flight.


async def _signed_worker_loop(
    post: Callable[[bytes, dict[str, str]], Awaitable[tuple[int, bytes]]],
    signer: RawSigner,
    payloads: Sequence[bytes],
    contender: str,
) -> None:
    """64 coroutines take the next payload from one shared iterator until it is exhausted."""
    pending = iter(payloads)

    async def worker() -> None:
        for payload in pending:
            status, content = await post(payload, signer.headers(payload))
            check_status(status, contender)
            json.loads(content)["msg_id"]

    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))


async def _bulk_raw_aiohttp(url: str, work: Workload, context: ssl.SSLContext | bool = True) -> Sample:
    signer = RawSigner(url, AK, SK)
    target = url + SEND_PATH
    connector = (
        aiohttp.TCPConnector(limit=IN_FLIGHT) if context is None else aiohttp.TCPConnector(limit=IN_FLIGHT, ssl=context)
    )
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(payload: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
            async with session.post(target, data=payload, headers=headers) as response:
                return response.status, await response.read()

        await _signed_worker_loop(post, signer, work.payloads[: warm_up_of(len(work))], "raw aiohttp")
        with Timer() as timer:
            await _signed_worker_loop(post, signer, work.payloads, "raw aiohttp")
    return timer.sample(len(work))


def bulk_raw_aiohttp(url: str, work: Workload) -> Sample:
    return asyncio.run(_bulk_raw_aiohttp(url, work))


async def _bulk_httpx_default(url: str, work: Workload) -> Sample:
    signer = RawSigner(url, AK, SK)
    target = url + SEND_PATH
    async with httpx.AsyncClient() as client:

        async def post(payload: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
            response = await client.post(target, content=payload, headers=headers)
            return response.status_code, response.content

        await _signed_worker_loop(post, signer, work.payloads[: warm_up_of(len(work))], "httpx default pool")
        with Timer() as timer:
            await _signed_worker_loop(post, signer, work.payloads, "httpx default pool")
    return timer.sample(len(work))


def bulk_httpx_default(url: str, work: Workload) -> Sample:
    return asyncio.run(_bulk_httpx_default(url, work))


def bulk_huawei_sdk_async(url: str, work: Workload) -> Sample:
    """RocketMQAsyncClient.send_message_async returns a future; keep 64 of them outstanding.

    The SDK runs each call on a ThreadPoolExecutor of 8 workers inside its HttpClient (signing, the requests
    call and the response parsing all go through it), so at most 8 requests are really on the wire.
    """
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from huaweicloudsdkrocketmq.v2 import (
        RocketMQAsyncClient,
        SendMessageProperties,
        SendMessageReq,
        SendMessageRequest,
    )

    config = HttpConfig.get_default_config()
    config.ignore_ssl_verification = True
    config.retry_times = 0
    client = (
        RocketMQAsyncClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(AK, SK, PROJECT_ID))
        .with_endpoint(url)
        .build()
    )

    def run(count: int) -> None:
        window: collections.deque[Any] = collections.deque()
        for i in range(count):
            if len(window) >= IN_FLIGHT:
                check_status(window.popleft().result().status_code, "huawei sdk async")
            request = SendMessageRequest(
                engine=ENGINE,
                instance_id=INSTANCE_ID,
                body=SendMessageReq(
                    topic=TOPIC,
                    body=work.bodies[i],
                    property_list=[SendMessageProperties(name="KEYS", value=work.keys[i])],
                ),
            )
            window.append(client.send_message_async(request))
        while window:
            check_status(window.popleft().result().status_code, "huawei sdk async")

    try:
        run(warm_up_of(len(work)))
        with Timer() as timer:
            run(len(work))
    finally:
        client.close()
    return timer.sample(len(work))


async def _bulk_wrapper(url: str, work: Workload, *, generated_path: bool = False) -> Sample:
    from dms_rocketmq import AsyncClient, Message, SendResult

    async def run(client: AsyncClient, count: int) -> None:
        messages = [Message(TOPIC, work.bodies[i], keys=work.keys[i]) for i in range(count)]
        results = await client.send_many(messages, concurrency=IN_FLIGHT)
        failures = [r for r in results if not isinstance(r, SendResult)]
        if failures:
            raise SendFailed(f"wrapper send_many: {len(failures)} failures, first: {failures[0]!r}")

    transport = None
    if generated_path:
        from dms_rocketmq._constants import DEFAULT_MAX_CONNECTIONS
        from httpx_aiohttp import AiohttpTransport

        # Given a transport, AsyncClient sends through the generated `asyncio_detailed` on it instead of its
        # direct aiohttp sender: this one is httpx-aiohttp's, with the pool size the direct sender uses.
        pool = httpx.Limits(max_connections=DEFAULT_MAX_CONNECTIONS, max_keepalive_connections=DEFAULT_MAX_CONNECTIONS)
        transport = AiohttpTransport(limits=pool)
    client = AsyncClient(
        endpoint=url, project_id=PROJECT_ID, instance_id=INSTANCE_ID, ak=AK, sk=SK, transport=transport
    )
    try:
        await run(client, warm_up_of(len(work)))
        with Timer() as timer:
            await run(client, len(work))
    finally:
        await client.aclose()
    return timer.sample(len(work))


def bulk_wrapper(url: str, work: Workload) -> Sample:
    return asyncio.run(_bulk_wrapper(url, work))


def bulk_wrapper_generated_path(url: str, work: Workload) -> Sample:
    """The wrapper's AsyncClient without its fast path: what the hand-written sender and parser buy."""
    return asyncio.run(_bulk_wrapper(url, work, generated_path=True))
