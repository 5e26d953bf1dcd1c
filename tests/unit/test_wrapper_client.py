"""Client and AsyncClient behaviour against a fake DMS (httpx.MockTransport): sending, send_many, options."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import dms_rocketmq as dms
import httpx
import pytest
from _shared.fake_dms import REQUEST_ID, SETTINGS, async_client, error, stored, sync_client
from dms_rocketmq_api import AuthenticatedClient
from dms_rocketmq_api import Client as GeneratedClient


def recorder() -> tuple[list[httpx.Request], Any]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        # A copy of what is sent: once answered, the request's credential headers are masked.
        copy = httpx.Request(request.method, request.url, headers=request.headers.raw, content=request.read())
        copy.extensions = request.extensions
        seen.append(copy)
        return stored(request, offset=len(seen) - 1)

    return seen, handler


def test_send_builds_the_documented_request() -> None:
    """send posts the spec's URL and JSON body, signed, with keys joined and the tag, and returns a SendResult."""
    seen, handler = recorder()
    with sync_client(handler) as client:
        result = client.send("orders", b"h\xc3\xa9llo", keys=["order-1", "customer-7"], tags="created")
    request = seen[0]
    assert request.method == "POST"
    assert request.url.path == f"/v2/rocketmq/{SETTINGS['project_id']}/instances/{SETTINGS['instance_id']}/messages"
    assert json.loads(request.content) == {
        "topic": "orders",
        "body": "héllo",
        "property_list": [{"name": "KEYS", "value": "order-1 customer-7"}, {"name": "TAGS", "value": "created"}],
    }
    assert request.headers["Authorization"].startswith("SDK-HMAC-SHA256 Access=test-ak, SignedHeaders=")
    assert request.headers["X-Project-Id"] == SETTINGS["project_id"]
    assert result == dms.SendResult(
        msg_id="7F00000100C8A1B2C3D4000A51E00001",
        queue_id=3,
        queue_offset=0,
        broker_name="broker-0",
        uniq_key="7F00000100C8A1B2",
        topic="orders",
        properties={"KEYS": "order-1 customer-7", "TAGS": "created", "UNIQ_KEY": "7F00000100C8A1B2"},
        request_id=REQUEST_ID,
        retries_taken=0,
    )


def test_send_result_is_frozen() -> None:
    """SendResult is immutable."""
    _seen, handler = recorder()
    with sync_client(handler) as client:
        result = client.send("orders", "x")
    with pytest.raises(AttributeError):
        result.msg_id = "other"  # type: ignore[misc]


def test_send_json_serialises_compactly() -> None:
    """send_json sends any JSON-compatible object as compact UTF-8 JSON and refuses others."""
    seen, handler = recorder()
    with sync_client(handler) as client:
        client.send_json("orders", {"order_id": 1042, "name": "é"})
        with pytest.raises(dms.ValidationError, match="JSON-compatible"):
            client.send_json("orders", {"bad": object()})
    assert json.loads(seen[0].content)["body"] == '{"order_id":1042,"name":"é"}'
    assert len(seen) == 1


def test_validation_happens_before_any_request() -> None:
    """An invalid message raises ValidationError and nothing is sent."""
    seen, handler = recorder()
    with sync_client(handler) as client, pytest.raises(dms.ValidationError):
        client.send("no spaces allowed", "x")
    assert seen == []


def test_token_client_uses_x_auth_token() -> None:
    """With token= the request carries X-Auth-Token and no signature; the generated client is authenticated."""
    seen, handler = recorder()
    with sync_client(handler, ak=None, sk=None, token="iam-token") as client:
        client.send("orders", "x")
        assert isinstance(client.api_client, AuthenticatedClient)
    assert seen[0].headers["X-Auth-Token"] == "iam-token"
    assert "authorization" not in seen[0].headers


def test_api_client_is_the_configured_generated_client() -> None:
    """api_client is the generated client, whose httpx client carries the wrapper's signing."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    with sync_client(handler) as client:
        api = client.api_client
        assert isinstance(api, GeneratedClient)
        api.get_httpx_client().get("/anything")
    assert "Authorization" in seen[0].headers


def test_per_call_timeout_reaches_the_request() -> None:
    """timeout= on send applies to that request only; the client's default applies otherwise."""
    seen, handler = recorder()
    with sync_client(handler, timeout=7.0) as client:
        client.send("orders", "x", timeout=0.5)
        client.send("orders", "x")
    assert seen[0].extensions["timeout"]["read"] == 0.5
    assert seen[1].extensions["timeout"]["read"] == 7.0


def test_send_many_order_and_failures() -> None:
    """send_many returns one outcome per input in input order: results, and failures carrying input and error."""
    lock = threading.Lock()
    count = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal count
        with lock:
            count += 1
            offset = count
        if json.loads(request.content)["body"] == "reject":
            return error(400, "DMS.00400876", "The topic does not exist.")
        return stored(request, offset)

    inputs: list[Any] = [{"topic": "orders", "body": f"m{i}"} for i in range(50)]
    inputs[3] = {"topic": "orders", "body": "reject"}
    inputs[7] = {"topic": "bad topic", "body": "x"}
    inputs[9] = {"body": "missing topic"}
    inputs[11] = 42
    inputs[13] = dms.Message("orders", "as a Message", keys=["k"], tags="t")
    with sync_client(handler, max_retries=0) as client:
        outcomes = client.send_many(inputs, concurrency=8)
    assert len(outcomes) == 50
    failures = {i: o for i, o in enumerate(outcomes) if isinstance(o, dms.SendFailure)}
    assert set(failures) == {3, 7, 9, 11}
    assert isinstance(failures[3].exception, dms.BadRequestError)
    assert isinstance(failures[7].exception, dms.ValidationError)
    assert "missing topic" in str(failures[9].exception)
    assert failures[11].message == 42
    assert all(failures[i].message is inputs[i] for i in failures)
    results = [o for o in outcomes if isinstance(o, dms.SendResult)]
    assert len(results) == 46
    assert count == 47  # validation failures never reached the server


def test_send_many_calls_on_outcome_for_each() -> None:
    """on_outcome sees every outcome exactly once."""
    _seen, handler = recorder()
    got: list[dms.SendOutcome] = []
    with sync_client(handler) as client:
        outcomes = client.send_many([dms.Message("orders", str(i)) for i in range(20)], on_outcome=got.append)
    assert sorted(map(id, got)) == sorted(map(id, outcomes))


def test_send_many_rejects_bad_concurrency() -> None:
    """concurrency below 1 is a ConfigurationError."""
    with sync_client(lambda r: stored(r)) as client, pytest.raises(dms.ConfigurationError, match="concurrency"):
        client.send_many([], concurrency=0)


def test_async_send_many_bounded_and_ordered() -> None:
    """AsyncClient.send_many never has more than `concurrency` sends in flight and keeps input order."""
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        in_flight -= 1
        return stored(request, int(json.loads(request.content)["body"]))

    async def main() -> list[dms.SendOutcome]:
        async with dms.AsyncClient(**SETTINGS, transport=httpx.MockTransport(handler)) as client:
            return await client.send_many([{"topic": "orders", "body": str(i)} for i in range(300)], concurrency=5)

    outcomes = asyncio.run(main())
    assert [o.queue_offset for o in outcomes if isinstance(o, dms.SendResult)] == list(range(300))
    assert 1 < peak <= 5


def test_async_send_and_token() -> None:
    """AsyncClient sends a signed message and supports token auth, as Client does."""
    seen, handler = recorder()

    async def main() -> None:
        async with async_client(handler) as client:
            assert (await client.send("orders", "x", keys="a b")).properties["KEYS"] == "a b"
            await client.send_json("orders", [1, 2])
        async with async_client(handler, ak=None, sk=None, token="tok") as client:
            await client.send("orders", "x")

    asyncio.run(main())
    assert "Authorization" in seen[0].headers
    assert json.loads(seen[1].content)["body"] == "[1,2]"
    assert seen[2].headers["X-Auth-Token"] == "tok"


def test_client_is_thread_safe() -> None:
    """One Client used from many threads sends every message once, each with its own result."""
    seen, handler = recorder()
    results: list[dms.SendResult] = []
    with sync_client(handler) as client:

        def work(n: int) -> None:
            for i in range(25):
                results.append(client.send("orders", f"{n}-{i}"))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(results) == 200
    assert sorted(json.loads(r.content)["body"] for r in seen) == sorted(
        f"{n}-{i}" for n in range(8) for i in range(25)
    )


def test_async_proxy_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """AsyncClient's aiohttp path uses HTTP(S)_PROXY like httpx does, and NO_PROXY exempts a host."""
    from dms_rocketmq._transport import proxy_for

    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert proxy_for("https://dms.cn-north-4.myhuaweicloud.com/v2/x") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert proxy_for("https://dms.cn-north-4.myhuaweicloud.com/v2/x") == "http://proxy.internal:3128"
    assert proxy_for("http://127.0.0.1:8765/v2/x") is None
    monkeypatch.setenv("NO_PROXY", "myhuaweicloud.com")
    assert proxy_for("https://dms.cn-north-4.myhuaweicloud.com/v2/x") is None


def test_merged_urls_are_reused() -> None:
    """Client parses the send path once, not on every request, and still sends to the right URL."""
    seen, handler = recorder()
    with sync_client(handler) as client:
        client.send("orders", "a")
        client.send("orders", "b")
        assert len(client._http._merged_urls) == 1  # type: ignore[attr-defined]
    assert seen[0].url == seen[1].url
    assert str(seen[0].url).startswith("http://dms.test/v2/rocketmq/")


def test_failing_callback_does_not_stop_send_many(caplog: pytest.LogCaptureFixture) -> None:
    """An exception raised by on_outcome is logged, and every message is still sent and accounted for."""
    seen, handler = recorder()

    def explode(outcome: dms.SendOutcome) -> None:
        raise RuntimeError("progress bar broke")

    with sync_client(handler) as client:
        outcomes = client.send_many(
            [dms.Message("orders", str(i)) for i in range(100)], concurrency=4, on_outcome=explode
        )
    assert len(seen) == 100
    assert all(isinstance(o, dms.SendResult) for o in outcomes)
    assert len(outcomes) == 100
    assert "progress bar broke" in caplog.text


def test_failing_callback_does_not_stop_async_send_many(caplog: pytest.LogCaptureFixture) -> None:
    """AsyncClient.send_many also logs a failing on_outcome and returns every outcome."""
    seen, handler = recorder()

    def explode(outcome: dms.SendOutcome) -> None:
        raise RuntimeError("progress bar broke")

    async def main() -> list[dms.SendOutcome]:
        async with async_client(handler) as client:
            return await client.send_many([dms.Message("orders", str(i)) for i in range(50)], on_outcome=explode)

    outcomes = asyncio.run(main())
    assert len(seen) == 50
    assert len(outcomes) == 50
    assert all(isinstance(o, dms.SendResult) for o in outcomes)
    assert len([r for r in caplog.records if "on_outcome raised" in r.getMessage()]) == 50
