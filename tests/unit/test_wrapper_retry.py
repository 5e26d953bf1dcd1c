"""The retry policy as pure functions, and the clients applying it (backoff turned off)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import dms_rocketmq as dms
import httpx
import pytest
from _shared.fake_dms import async_client, error, stored, sync_client
from dms_rocketmq import _retry
from dms_rocketmq._constants import MAX_RETRY_AFTER, MAX_RETRY_DELAY


@pytest.fixture
def no_backoff() -> Iterator[None]:
    dms.set_testing(True)
    yield
    dms.set_testing(False)


def status_error(status: int, code: str = "DMS.00400062") -> dms.APIStatusError:
    return dms._exceptions.status_error_from_response(error(status, code))


@pytest.mark.parametrize(
    ("status", "code", "retried"),
    [
        (429, "APIG.0308", True),
        (429, "DMS.00429000", False),
        (429, "", False),
        (503, "DMS.00503000", False),
        (400, "DMS.00400062", False),
        (401, "APIGW.0301", False),
        (404, "DMS.00404022", False),
        (413, "APIGW.0201", False),
        (500, "DMS.00500000", False),
        (502, "APIG.0201", False),
        (504, "APIG.0201", False),
    ],
)
def test_should_retry_statuses(status: int, code: str, retried: bool) -> None:
    """By default only the gateway's throttling (429 APIG.0308) is retried: the one status documented as not stored."""
    assert _retry.should_retry(status_error(status, code)) is retried


@pytest.mark.parametrize(
    ("status", "code", "extra"),
    [(503, "DMS.00503000", {503}), (429, "DMS.00429000", {429}), (502, "APIG.0201", {502, 504})],
)
def test_retry_statuses_opt_in(status: int, code: str, extra: set[int]) -> None:
    """A status given in retry_statuses is retried whatever its code; the default set stays retried too."""
    assert _retry.should_retry(status_error(status, code), frozenset(extra)) is True
    assert _retry.should_retry(status_error(429, "APIG.0308"), frozenset(extra)) is True
    assert _retry.should_retry(status_error(500, "DMS.00500000"), frozenset(extra)) is False


@pytest.mark.parametrize(
    ("status", "code", "retried"),
    [
        (429, "DMS.00429000", True),
        (429, "", True),
        (500, "DMS.00500000", True),
        (503, "DMS.00503000", True),
        (400, "DMS.00400062", False),
        (404, "DMS.00404022", False),
        (413, "APIGW.0201", False),
        (430, "", False),
        (499, "", False),
    ],
)
def test_idempotent_calls_retry_any_429_and_5xx_only(status: int, code: str, retried: bool) -> None:
    """A query (idempotent) retries every 429 whatever its code and every 5xx; no other 4xx."""
    assert _retry.should_retry(status_error(status, code), idempotent=True) is retried


def test_retry_after_zero_means_at_once() -> None:
    """Retry-After: 0 is honoured as no wait at all, not replaced by the backoff (which would be 8 s here)."""
    assert _retry.retry_delay(5, "0") == 0.0
    assert _retry.retry_delay(0, "0.0") == 0.0


def test_503_is_retried_only_when_opted_in(no_backoff: None) -> None:
    """A 503 is raised at once by default (it may have been stored) and retried with retry_statuses={503}."""
    seen, handler = sequence(error(503, "DMS.00503000", "busy"))
    with sync_client(handler) as client, pytest.raises(dms.InternalServerError):
        client.send("orders", "hello")
    assert len(seen) == 1
    seen, handler = sequence(error(503, "DMS.00503000", "busy"))
    with sync_client(handler, retry_statuses={503}) as client:
        assert client.send("orders", "hello").retries_taken == 1

    async def run() -> int:
        _, handler = sequence(error(503, "DMS.00503000", "busy"))
        async with async_client(handler, retry_statuses=[503]) as client:
            return (await client.send("orders", "hello")).retries_taken

    assert asyncio.run(run()) == 1


@pytest.mark.parametrize("bad", [[99], [200], ["503"], 503, [True], [600]], ids=repr)
def test_bad_retry_statuses_are_a_configuration_error(bad: object) -> None:
    """retry_statuses must be error statuses (400-599) given as whole numbers."""
    with pytest.raises(dms.ConfigurationError, match="retry_statuses"):
        sync_client(stored, retry_statuses=bad)


def test_should_retry_connection_errors() -> None:
    """A connection never used is retried; one that may have carried the request is not; others never are."""
    assert _retry.should_retry(dms.APIConnectionError(request_sent=False)) is True
    assert _retry.should_retry(dms.APITimeoutError(request_sent=False)) is True
    assert _retry.should_retry(dms.APIConnectionError(request_sent=True)) is False
    assert _retry.should_retry(dms.APITimeoutError(request_sent=True)) is False
    assert _retry.should_retry(dms.ValidationError("x")) is False
    assert _retry.should_retry(ValueError("x")) is False


def test_backoff_grows_and_is_capped() -> None:
    """Backoff doubles from 0.5 s up to the cap; jitter only shortens it, by at most a quarter."""
    assert [_retry.backoff_delay(n, jitter=0.0) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert _retry.backoff_delay(1, jitter=1.0) == 0.75
    assert all(0.375 <= _retry.backoff_delay(0) <= 0.5 for _ in range(100))
    assert _retry.backoff_delay(50, jitter=0.0) == MAX_RETRY_DELAY


def test_retry_after_parsing() -> None:
    """Retry-After is read as seconds or as an HTTP date; garbage, negative or missing values give None."""
    assert _retry.retry_after_seconds("2") == 2.0
    assert _retry.retry_after_seconds(" 1.5 ") == 1.5
    assert _retry.retry_after_seconds("Thu, 01 Jan 2026 00:00:10 GMT", now=1767225600.0) == 10.0
    for value in (None, "", "soon", "-1", "nan"):
        assert _retry.retry_after_seconds(value) is None


def test_retry_delay_honours_retry_after_up_to_cap() -> None:
    """The server's Retry-After wins when within the cap; above it, our own backoff is used."""
    assert _retry.retry_delay(0, "3") == 3.0
    assert _retry.retry_delay(0, str(MAX_RETRY_AFTER)) == MAX_RETRY_AFTER
    assert _retry.retry_delay(0, str(MAX_RETRY_AFTER + 1)) <= 0.5
    assert _retry.retry_delay(3, None) <= 4.0


def test_set_testing_turns_backoff_off(no_backoff: None) -> None:
    """With the testing switch on, every delay is zero, Retry-After included."""
    assert _retry.retry_delay(5, "30") == 0.0


def sequence(*responses: httpx.Response | Exception) -> tuple[list[httpx.Request], object]:
    seen: list[httpx.Request] = []
    pending = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = pending.pop(0) if pending else stored(request)
        if isinstance(item, Exception):
            raise item
        return item

    return seen, handler


def test_429_then_success(no_backoff: None) -> None:
    """A 429 then a 200 gives one result with retries_taken == 1, and each attempt is signed afresh."""
    seen, handler = sequence(error(429, "APIG.0308", "throttled", **{"Retry-After": "1"}))
    with sync_client(handler) as client:
        result = client.send("orders", "hello")
    assert result.retries_taken == 1
    assert len(seen) == 2
    assert all("Authorization" in r.headers for r in seen)


def test_retries_exhausted_raise_last_error(no_backoff: None) -> None:
    """After max_retries retries the last error is raised: 1 + max_retries attempts in all."""
    seen, handler = sequence(*[error(429, "APIG.0308", "throttled")] * 5)
    with sync_client(handler, max_retries=3) as client, pytest.raises(dms.RateLimitError):
        client.send("orders", "hello")
    assert len(seen) == 4


@pytest.mark.parametrize("status", [400, 500, 502, 504])
def test_unsafe_statuses_not_retried(status: int, no_backoff: None) -> None:
    """Statuses after which the message may exist, or retrying cannot help, are raised at once."""
    seen, handler = sequence(error(status))
    with sync_client(handler) as client, pytest.raises(dms.APIStatusError):
        client.send("orders", "hello")
    assert len(seen) == 1


def test_connect_error_retried_read_error_not(no_backoff: None) -> None:
    """A refused connection is retried; a connection dropped after sending is not (it could duplicate)."""
    seen, handler = sequence(httpx.ConnectError("refused"))
    with sync_client(handler) as client:
        assert client.send("orders", "hello").retries_taken == 1
    seen, handler = sequence(httpx.RemoteProtocolError("Server disconnected"))
    with sync_client(handler) as client, pytest.raises(dms.APIConnectionError):
        client.send("orders", "hello")
    assert len(seen) == 1


def test_per_call_max_retries_override(no_backoff: None) -> None:
    """max_retries given to send overrides the client's, including 0 for no retry."""
    seen, handler = sequence(error(429, "APIG.0308"), error(429, "APIG.0308"))
    with sync_client(handler, max_retries=5) as client, pytest.raises(dms.RateLimitError):
        client.send("orders", "hello", max_retries=1)
    assert len(seen) == 2
    with pytest.raises(dms.ConfigurationError, match="max_retries"):
        dms.Client(endpoint="http://h", project_id="p", instance_id="i", ak="a", sk="s", max_retries=-1, environ={})


def test_async_retry(no_backoff: None) -> None:
    """AsyncClient retries a throttled send and reports retries_taken."""
    seen, handler = sequence(error(429, "APIG.0308"), error(429, "APIG.0308"))

    async def main() -> dms.SendResult:
        async with async_client(handler) as client:
            return await client.send("orders", "hello")

    assert asyncio.run(main()).retries_taken == 2
    assert len(seen) == 3


def test_backoff_sleeps_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the testing switch the client sleeps for the server's Retry-After before retrying."""
    slept: list[float] = []
    monkeypatch.setattr("dms_rocketmq._client.time.sleep", slept.append)
    _seen, handler = sequence(error(429, "APIG.0308", **{"Retry-After": "2"}))
    with sync_client(handler) as client:
        client.send("orders", "hello")
    assert slept == [2.0]


def test_retry_after_zero_retries_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry-After: 0 on a throttled send makes the client retry without waiting (not after its backoff)."""
    slept: list[float] = []
    monkeypatch.setattr("dms_rocketmq._client.time.sleep", slept.append)
    _seen, handler = sequence(*[error(429, "APIG.0308", **{"Retry-After": "0"})] * 2)
    with sync_client(handler) as client:
        assert client.send("orders", "hello").retries_taken == 2
    assert slept == [0.0, 0.0]
