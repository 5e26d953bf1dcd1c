"""The wrapper against the emulator on a loopback port: auth, every error, retries, send_many at scale."""

from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import dms_rocketmq as dms
import httpx
import pytest
from dms_rocketmq._exceptions import status_error_from_response
from dms_rocketmq_api.spec_rules import ENGINES, operation_path

pytestmark = pytest.mark.integration

REQUEST_ID = re.compile(r"[0-9a-f]{32}")
UNKNOWN_INSTANCE = "00000000-0000-4000-8000-000000000000"


def _send_path(emulator: Any, engine: str = ENGINES[0]) -> str:
    """The spec's SendMessage path for the emulator's project and instance."""
    return operation_path(
        "SendMessage", engine=engine, project_id=emulator.project_id, instance_id=emulator.instance_id
    )


@pytest.fixture(autouse=True)
def clean(dms_emulator: Any) -> Iterator[None]:
    """Each test starts from an empty store, with backoff off."""
    dms_emulator.reset()
    dms.set_testing(True)
    yield
    dms.set_testing(False)


def options(emulator: Any, **overrides: Any) -> dict[str, Any]:
    settings = {
        "endpoint": emulator.url,
        "project_id": emulator.project_id,
        "instance_id": emulator.instance_id,
        "ak": emulator.ak,
        "sk": emulator.sk,
        "environ": {},
    }
    settings.update(overrides)
    if overrides.get("token"):
        settings.pop("ak")
        settings.pop("sk")
    return settings


def assert_server_request_id(exc: dms.APIError) -> None:
    assert exc.request_id is not None
    assert REQUEST_ID.fullmatch(exc.request_id)
    if isinstance(exc, dms.APIStatusError):
        assert exc.response.headers["X-Request-Id"] == exc.request_id


def test_sync_send_with_aksk(dms_emulator: Any) -> None:
    """A signed send is stored with its keys and tag, and the result says where."""
    with dms.Client(**options(dms_emulator)) as client:
        result = client.send("orders", "héllo", keys=["order-1", "customer-7"], tags="created")
    assert REQUEST_ID.fullmatch(result.request_id or "")
    assert result.retries_taken == 0
    [message] = dms_emulator.messages("orders")
    assert message["body"] == "héllo"
    assert message["msg_id"] == result.msg_id == result.uniq_key
    assert (message["queue_id"], message["queue_offset"]) == (result.queue_id, result.queue_offset)
    assert {p["name"]: p["value"] for p in message["property_list"]}["KEYS"] == "order-1 customer-7"
    assert result.properties["TAGS"] == "created"


def test_sync_send_with_token_and_alias_engine(dms_emulator: Any) -> None:
    """Token authentication works, and so does the `reliability` engine alias."""
    with dms.Client(**options(dms_emulator, token=dms_emulator.token, engine="reliability")) as client:
        client.send_json("orders", {"order_id": 1})
    assert [m["body"] for m in dms_emulator.messages("orders")] == ['{"order_id":1}']


def test_async_send_with_aksk_and_token(dms_emulator: Any) -> None:
    """AsyncClient sends with AK/SK and with a token."""

    async def main() -> None:
        async with dms.AsyncClient(**options(dms_emulator)) as client:
            await client.send("orders", "signed")
        async with dms.AsyncClient(**options(dms_emulator, token=dms_emulator.token)) as client:
            await client.send("orders", "token")

    asyncio.run(main())
    assert sorted(m["body"] for m in dms_emulator.messages("orders")) == ["signed", "token"]


@pytest.mark.parametrize(
    ("overrides", "topic", "cls", "code"),
    [
        ({"sk": "wrong-secret"}, "orders", dms.AuthenticationError, "APIGW.0301"),
        ({"token": "not-a-valid-token"}, "orders", dms.AuthenticationError, "DMS.10240101"),
        ({}, "no_such_topic", dms.BadRequestError, "DMS.00400876"),
        ({"instance_id": UNKNOWN_INSTANCE}, "orders", dms.NotFoundError, "DMS.00404022"),
        ({"instance_id": "not-a-uuid"}, "orders", dms.BadRequestError, "DMS.00400030"),
    ],
)
def test_emulator_errors_via_send(
    dms_emulator: Any, overrides: dict[str, Any], topic: str, cls: type[dms.APIStatusError], code: str
) -> None:
    """Each emulator error reaches the caller as its exception class with the server's code and request id."""
    with dms.Client(**options(dms_emulator, **overrides)) as client, pytest.raises(cls) as caught:
        client.send(topic, "x")
    assert caught.value.error_code == code
    assert_server_request_id(caught.value)
    assert dms_emulator.messages() == []


def test_async_error(dms_emulator: Any) -> None:
    """AsyncClient raises the same typed error with the server's request id."""

    async def main() -> dms.APIStatusError:
        async with dms.AsyncClient(**options(dms_emulator)) as client:
            try:
                await client.send("no_such_topic", "x")
            except dms.BadRequestError as exc:
                return exc
        raise AssertionError("no error")

    exc = asyncio.run(main())
    assert exc.error_code == "DMS.00400876"
    assert_server_request_id(exc)


def raw_post(client: dms.Client, path: str, content: bytes) -> dms.APIStatusError:
    """Post bytes the wrapper's validation would never send, through its authenticated httpx client."""
    http = client.api_client.get_httpx_client()
    response = http.post(path, content=content, headers={"Content-Type": "application/json"})
    return status_error_from_response(response)


@pytest.mark.parametrize(
    ("content", "cls", "code"),
    [
        (b'{"topic": "orders", "body": ', dms.BadRequestError, "DMS.00400005"),
        (b"", dms.BadRequestError, "DMS.00400004"),
        (b'{"topic": "bad topic", "body": "x"}', dms.BadRequestError, "DMS.00400062"),
        (b'{"topic": "orders", "body": "' + "é".encode() * 2_100_000 + b'"}', dms.BadRequestError, "DMS.10540011"),
        (
            b'{"topic": "orders", "body": "' + b"a" * (12 * 1024 * 1024 + 1) + b'"}',
            dms.PayloadTooLargeError,
            "APIGW.0201",
        ),
    ],
    ids=["malformed-json", "empty", "schema", "over-4MiB-utf8", "over-12MB"],
)
def test_emulator_errors_for_requests_validation_prevents(
    dms_emulator: Any, content: bytes, cls: type[dms.APIStatusError], code: str
) -> None:
    """Errors the wrapper's own validation prevents still map to the right class when a server sends them."""
    with dms.Client(**options(dms_emulator)) as client:
        exc = raw_post(client, _send_path(dms_emulator), content)
    assert type(exc) is cls
    assert exc.error_code == code
    assert_server_request_id(exc)


def test_unknown_engine_is_not_found(dms_emulator: Any) -> None:
    """An engine the service does not know is a NotFoundError (DMS.00404001)."""
    with dms.Client(**options(dms_emulator)) as client:
        path = _send_path(dms_emulator, engine="kafka")  # not one of the spec's engines
        exc = raw_post(client, path, b'{"topic": "orders", "body": "x"}')
    assert isinstance(exc, dms.NotFoundError)
    assert exc.error_code == "DMS.00404001"


def test_429_then_success_stores_once(dms_emulator: Any) -> None:
    """A 429 (with Retry-After) then success: one message stored and retries_taken == 1."""
    dms_emulator.inject_faults(1, status=429, retry_after=1)
    with dms.Client(**options(dms_emulator)) as client:
        result = client.send("orders", "once")
    assert result.retries_taken == 1
    assert [m["body"] for m in dms_emulator.messages("orders")] == ["once"]


def test_503_is_raised_at_once_unless_opted_in(dms_emulator: Any) -> None:
    """A 503 is raised without a retry by default; with retry_statuses={503} three exhaust the two retries."""
    dms_emulator.inject_faults(4, status=503)
    with dms.Client(**options(dms_emulator)) as client:
        with pytest.raises(dms.InternalServerError) as caught:
            client.send("orders", "x")
        assert caught.value.error_code == "DMS.00503000"
    with dms.Client(**options(dms_emulator), retry_statuses={503}) as client:
        with pytest.raises(dms.InternalServerError):
            client.send("orders", "x")
        assert dms_emulator.messages() == []
        assert client.send("orders", "y").retries_taken == 0


def test_500_not_retried(dms_emulator: Any) -> None:
    """A 500 is raised at once (the message may exist on a real service): one fault consumed, no retry."""
    dms_emulator.inject_faults(2, status=500)
    with dms.Client(**options(dms_emulator)) as client:
        with pytest.raises(dms.InternalServerError):
            client.send("orders", "x")
        with pytest.raises(dms.InternalServerError):  # the second fault is still there: no retry used it
            client.send("orders", "x")
        client.send("orders", "z")
    assert [m["body"] for m in dms_emulator.messages()] == ["z"]


def test_async_retry_after_503(dms_emulator: Any) -> None:
    """AsyncClient opted in to retry 503 retries it and reports retries_taken; one message stored."""
    dms_emulator.inject_faults(2, status=503)

    async def main() -> dms.SendResult:
        async with dms.AsyncClient(**options(dms_emulator), retry_statuses=[503]) as client:
            return await client.send("orders", "async-retry")

    assert asyncio.run(main()).retries_taken == 2
    assert len(dms_emulator.messages()) == 1


def test_dropped_connection_is_connection_error(dms_emulator: Any) -> None:
    """A connection dropped after the request was sent raises APIConnectionError and is not retried."""
    dms_emulator.inject_faults(1, drop_connection=True)
    with dms.Client(**options(dms_emulator)) as client:
        with pytest.raises(dms.APIConnectionError) as caught:
            client.send("orders", "x")
        assert caught.value.request_sent is True
        client.send("orders", "after")


def test_async_dropped_connection(dms_emulator: Any) -> None:
    """Through the aiohttp transport, a dropped connection is also an APIConnectionError, not retried."""
    dms_emulator.inject_faults(1, drop_connection=True)

    async def main() -> dms.APIConnectionError:
        async with dms.AsyncClient(**options(dms_emulator)) as client:
            try:
                await client.send("orders", "x")
            except dms.APIConnectionError as exc:
                return exc
        raise AssertionError("no error")

    assert asyncio.run(main()).request_sent is True


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_per_call_timeout(dms_emulator: Any, use_async: bool) -> None:
    """A per-call timeout shorter than the server's delay raises APITimeoutError (not retried: it may be stored)."""
    dms_emulator.inject_faults(1, status=503, delay_ms=3000)
    if use_async:

        async def main() -> None:
            async with dms.AsyncClient(**options(dms_emulator)) as client:
                await client.send("orders", "x", timeout=0.3)

        with pytest.raises(dms.APITimeoutError):
            asyncio.run(main())
    else:
        with dms.Client(**options(dms_emulator)) as client, pytest.raises(dms.APITimeoutError):
            client.send("orders", "x", timeout=0.3)


def test_connection_refused_is_retried_then_raised() -> None:
    """Nothing listening: the refused connection is retried (it never carried the message), then raised."""
    with (
        dms.Client(
            endpoint="http://127.0.0.1:9", project_id="p", instance_id="i", ak="a", sk="s", environ={}
        ) as client,
        pytest.raises(dms.APIConnectionError) as caught,
    ):
        client.send("orders", "x")
    assert caught.value.request_sent is False


def assert_stored_exactly_once(emulator: Any, bodies: list[str], results: list[dms.SendResult]) -> None:
    stored = emulator.messages("orders")
    counts = Counter(m["body"] for m in stored)
    assert set(counts) == set(bodies)
    assert set(counts.values()) == {1}
    offsets: dict[int, list[int]] = defaultdict(list)
    for message in stored:
        offsets[message["queue_id"]].append(message["queue_offset"])
    for queue_offsets in offsets.values():
        assert sorted(queue_offsets) == list(range(len(queue_offsets)))
    assert {(r.queue_id, r.queue_offset) for r in results} == {(m["queue_id"], m["queue_offset"]) for m in stored}
    assert len({r.msg_id for r in results}) == len(results)


def test_async_send_many_thousands_at_64(dms_emulator: Any) -> None:
    """2000 messages at concurrency 64: all stored exactly once, queue offsets contiguous, results in order."""
    bodies = [f"bulk-{i}" for i in range(2000)]

    async def main() -> list[dms.SendOutcome]:
        async with dms.AsyncClient(**options(dms_emulator)) as client:
            return await client.send_many([{"topic": "orders", "body": b} for b in bodies], concurrency=64)

    outcomes = asyncio.run(main())
    results = [o for o in outcomes if isinstance(o, dms.SendResult)]
    assert len(results) == len(bodies)
    assert_stored_exactly_once(dms_emulator, bodies, results)


def test_sync_send_many_with_faults(dms_emulator: Any) -> None:
    """Sync send_many with injected 429s retries them; every message ends stored exactly once."""
    dms_emulator.inject_faults(10, status=429, retry_after=0)
    bodies = [f"sync-{i}" for i in range(400)]
    # Ten retries allowed: with 16 in flight and no backoff, one send may meet several of the faults.
    with dms.Client(**options(dms_emulator, max_retries=10)) as client:
        outcomes = client.send_many([dms.Message("orders", b, keys=b) for b in bodies], concurrency=16)
    results = [o for o in outcomes if isinstance(o, dms.SendResult)]
    assert len(results) == len(bodies)
    assert sum(r.retries_taken for r in results) == 10
    assert [r.properties["KEYS"] for r in results] == bodies
    assert_stored_exactly_once(dms_emulator, bodies, results)


def test_send_many_failures_keep_the_message(dms_emulator: Any) -> None:
    """Messages failing on the server are returned as SendFailure with their input; the others are stored."""
    dms_emulator.inject_faults(5, status=500)
    inputs = [{"topic": "orders", "body": f"f-{i}"} for i in range(50)]

    async def main() -> list[dms.SendOutcome]:
        async with dms.AsyncClient(**options(dms_emulator)) as client:
            return await client.send_many(inputs, concurrency=1)

    outcomes = asyncio.run(main())
    failures = [o for o in outcomes if isinstance(o, dms.SendFailure)]
    assert [f.message for f in failures] == inputs[:5]
    assert all(isinstance(f.exception, dms.InternalServerError) for f in failures)
    assert len(dms_emulator.messages()) == 45


def test_generated_client_reused_for_raw_calls(dms_emulator: Any) -> None:
    """The authenticated httpx client behind api_client reaches the emulator with a valid signature."""
    with dms.Client(**options(dms_emulator)) as client:
        response = client.api_client.get_httpx_client().post(
            _send_path(dms_emulator),
            json={"topic": "orders", "body": "raw"},
        )
    assert response.status_code == 200
    assert isinstance(response, httpx.Response)


def test_async_client_survives_a_new_event_loop(dms_emulator: Any) -> None:
    """One AsyncClient used from two asyncio.run calls sends in both (a new pool for the new loop)."""
    client = dms.AsyncClient(**options(dms_emulator))

    async def send(body: str) -> dms.SendResult:
        return await client.send("orders", body)

    asyncio.run(send("first loop"))
    asyncio.run(send("second loop"))

    async def close() -> None:
        await client.aclose()

    asyncio.run(close())
    assert sorted(m["body"] for m in dms_emulator.messages()) == ["first loop", "second loop"]


def test_async_sends_beyond_the_pool_size_all_complete(dms_emulator: Any) -> None:
    """300 concurrent sends on a pool of 4 connections queue for it and are all stored exactly once."""
    bodies = [f"queued-{i}" for i in range(300)]

    async def main() -> list[dms.SendResult]:
        async with dms.AsyncClient(**options(dms_emulator), max_connections=4) as client:
            return await asyncio.gather(*(client.send("orders", body) for body in bodies))

    results = asyncio.run(main())
    assert_stored_exactly_once(dms_emulator, bodies, results)


def test_async_client_refuses_to_send_after_aclose(dms_emulator: Any) -> None:
    """Sending on a closed AsyncClient raises RuntimeError, as on a closed Client, instead of reopening a pool."""

    async def main() -> None:
        client = dms.AsyncClient(**options(dms_emulator))
        await client.send("orders", "before close")
        await client.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            await client.send("orders", "after close")

    asyncio.run(main())
    assert [m["body"] for m in dms_emulator.messages()] == ["before close"]
