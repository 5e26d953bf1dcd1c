"""The wrapper under the emulator's injected faults: timeouts, dropped connections, 429 storms, 5xx bursts.

The retry policy under test (wrapper/dms_rocketmq/_retry.py and _constants.py): sending is not idempotent, so
by default only failures after which the message was certainly not stored are retried — 429 APIG.0308 and a
connection that never carried the request (503 only when the client opts in with `retry_statuses`) — at most
`max_retries` times, waiting `Retry-After` when the server sends one (up to 60 s) and otherwise 0.5 s, 1 s,
2 s... times a jitter in [0.75, 1]. A timeout, a dropped connection and any other status are raised at once:
the message may have been stored, and sending it again could store it twice.

So the accounting `send_many` must satisfy, checked against what the emulator stored:
- one outcome per input, in input order, each a `SendResult` or a `SendFailure` holding that input;
- every `SendResult` is stored exactly once, with its msg_id, queue and offset;
- a failure with an HTTP status (or a connection never used) was not stored;
- a failure without an answer (timeout, dropped connection) was stored at most once — the client never
  duplicates; whether the server stored it is the at-least-once window a caller must handle with KEYS.
"""

from __future__ import annotations

import asyncio
import collections
import time
import types
import uuid
from collections.abc import Iterator
from typing import Any

import dms_rocketmq
import httpx
import pytest
from dms_rocketmq import (
    APIConnectionError,
    APITimeoutError,
    AsyncClient,
    Client,
    InternalServerError,
    Message,
    RateLimitError,
    SendFailure,
    SendResult,
)
from emulators import INSTANCE_ID, PROJECT_ID, TOKEN, EmulatorFactory, EmulatorProcess

TOPIC = "faults"


@pytest.fixture(scope="module")
def emulator(start_emulator: EmulatorFactory) -> EmulatorProcess:
    """One memory-store emulator with a token for this module, with its own topic."""
    return start_emulator("--topic", f"{TOPIC}:4", auth=True)


@pytest.fixture
def control(emulator: EmulatorProcess) -> Iterator[httpx.Client]:
    """The control API, with faults cleared before and after each test."""
    with httpx.Client(base_url=emulator.url, timeout=10) as client:
        client.post("/_emulator/faults", json={"count": 0}).raise_for_status()
        yield client
        client.post("/_emulator/faults", json={"count": 0}).raise_for_status()


def arm(control: httpx.Client, count: int, **fault: Any) -> None:
    control.post("/_emulator/faults", json={"count": count, **fault}).raise_for_status()


def faults_left(control: httpx.Client) -> int:
    return int(control.get("/_emulator/faults").json()["count"])


def options(emulator: EmulatorProcess, **overrides: Any) -> dict[str, Any]:
    return {
        "endpoint": emulator.url,
        "project_id": PROJECT_ID,
        "instance_id": INSTANCE_ID,
        "token": TOKEN,
        "environ": {},
        **overrides,
    }


def stored_by_body(emulator: EmulatorProcess, prefix: str) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for row in emulator.messages(TOPIC):
        if row["body"].startswith(prefix):
            rows[row["body"]].append(row)
    return rows


class Sleeps:
    """Records the retry waits the client asks for, and skips them (no timed assertions, no slow tests)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.waits: list[float] = []
        from dms_rocketmq import _client

        real_asyncio = asyncio

        async def async_sleep(delay: float) -> None:
            self.waits.append(delay)
            await real_asyncio.sleep(0)

        class AsyncioWithFakeSleep:
            sleep = staticmethod(async_sleep)

            def __getattr__(self, name: str) -> Any:
                return getattr(real_asyncio, name)

        monkeypatch.setattr(_client, "time", types.SimpleNamespace(sleep=self.waits.append))
        monkeypatch.setattr(_client, "asyncio", AsyncioWithFakeSleep())


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    return Sleeps(monkeypatch)


def send_one(emulator: EmulatorProcess, use_async: bool, body: str, **client_options: Any) -> SendResult:
    if not use_async:
        with Client(**options(emulator, **client_options)) as client:
            return client.send(TOPIC, body)

    async def run() -> SendResult:
        async with AsyncClient(**options(emulator, **client_options)) as client:
            return await client.send(TOPIC, body)

    return asyncio.run(run())


both = pytest.mark.parametrize("use_async", [False, True], ids=["Client", "AsyncClient"])


@both
def test_a_429_storm_is_retried_max_retries_times_waiting_retry_after(
    emulator: EmulatorProcess, control: httpx.Client, sleeps: Sleeps, use_async: bool
) -> None:
    """A 429 storm: max_retries+1 attempts, each wait is the Retry-After, nothing stored until one succeeds."""
    prefix = f"storm-{uuid.uuid4().hex[:8]}-"
    arm(control, 5, status=429, retry_after=7)
    with pytest.raises(RateLimitError) as refused:
        send_one(emulator, use_async, prefix + "a", max_retries=2)
    assert refused.value.response.headers["Retry-After"] == "7"
    assert faults_left(control) == 2
    assert sleeps.waits == [7.0, 7.0]
    result = send_one(emulator, use_async, prefix + "b", max_retries=3)
    assert result.retries_taken == 2
    assert faults_left(control) == 0
    assert sleeps.waits == [7.0] * 4
    stored = stored_by_body(emulator, prefix)
    assert list(stored) == [prefix + "b"]
    assert stored[prefix + "b"][0]["msg_id"] == result.msg_id


@both
def test_a_503_burst_is_retried_with_exponential_backoff(
    emulator: EmulatorProcess, control: httpx.Client, sleeps: Sleeps, use_async: bool
) -> None:
    """Three 503s without Retry-After, 503 opted in: waits of 0.5, 1, 2 s (jittered down by up to 25%), stored once."""
    prefix = f"burst503-{uuid.uuid4().hex[:8]}-"
    arm(control, 3, status=503)
    result = send_one(emulator, use_async, prefix + "x", max_retries=3, retry_statuses={503})
    assert result.retries_taken == 3
    assert len(sleeps.waits) == 3
    for wait, base in zip(sleeps.waits, (0.5, 1.0, 2.0), strict=True):
        assert 0.75 * base <= wait <= base, sleeps.waits
    assert [len(rows) for rows in stored_by_body(emulator, prefix).values()] == [1]


@both
@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_5xx_that_may_have_stored_is_not_retried(
    emulator: EmulatorProcess, control: httpx.Client, sleeps: Sleeps, use_async: bool, status: int
) -> None:
    """500, 502 and 504 are raised after one attempt, without a wait; nothing is stored."""
    prefix = f"burst{status}-{uuid.uuid4().hex[:8]}-"
    arm(control, 3, status=status)
    with pytest.raises(InternalServerError) as failed:
        send_one(emulator, use_async, prefix + "x", max_retries=5)
    assert failed.value.status_code == status
    assert faults_left(control) == 2
    assert sleeps.waits == []
    assert stored_by_body(emulator, prefix) == {}


@both
def test_a_dropped_connection_is_raised_once_and_not_stored(
    emulator: EmulatorProcess, control: httpx.Client, sleeps: Sleeps, use_async: bool
) -> None:
    """A dropped connection raises APIConnectionError(request_sent=True) once, without a retry."""
    prefix = f"drop-{uuid.uuid4().hex[:8]}-"
    arm(control, 3, drop_connection=True)
    with pytest.raises(APIConnectionError) as failed:
        send_one(emulator, use_async, prefix + "x", max_retries=5)
    assert failed.value.request_sent is True
    assert not isinstance(failed.value, APITimeoutError)
    assert faults_left(control) == 2
    assert sleeps.waits == []
    assert stored_by_body(emulator, prefix) == {}


def wait_for_stored(emulator: EmulatorProcess, prefix: str, count: int) -> dict[str, list[dict[str, Any]]]:
    """The stored rows of `prefix` once there are `count` of them (or after 15 s, whatever there is)."""
    deadline = time.monotonic() + 15
    while True:
        stored = stored_by_body(emulator, prefix)
        if sum(len(rows) for rows in stored.values()) >= count or time.monotonic() > deadline:
            return stored
        time.sleep(0.1)


@both
def test_a_timeout_is_raised_once_and_the_late_message_is_stored_once(
    emulator: EmulatorProcess, control: httpx.Client, sleeps: Sleeps, use_async: bool
) -> None:
    """A timeout is raised without a retry; the emulator stores the late message exactly once (at-least-once)."""
    prefix = f"timeout-{uuid.uuid4().hex[:8]}-"
    arm(control, 3, status=200, delay_ms=1500)
    with pytest.raises(APITimeoutError) as failed:
        send_one(emulator, use_async, prefix + "x", max_retries=5, timeout=0.4)
    assert failed.value.request_sent is True
    assert faults_left(control) == 2
    assert sleeps.waits == []
    stored = wait_for_stored(emulator, prefix, 1)
    assert [len(rows) for rows in stored.values()] == [1]


def check_accounting(
    emulator: EmulatorProcess, prefix: str, messages: list[Message], outcomes: list[Any], *, late: bool = False
) -> collections.Counter[str]:
    """Check the send_many accounting against the store; return counts of each kind of outcome.

    `late`: the unanswered sends are still being stored (delayed answers), so wait for them before checking.
    """
    assert len(outcomes) == len(messages)
    kinds: collections.Counter[str] = collections.Counter()
    in_doubt: list[str] = []
    for message, outcome in zip(messages, outcomes, strict=True):
        if isinstance(outcome, SendResult):
            kinds["sent"] += 1
            continue
        assert isinstance(outcome, SendFailure), outcome
        assert outcome.message == message
        exc = outcome.exception
        assert isinstance(exc, dms_rocketmq.APIError), repr(exc)
        kinds[type(exc).__name__] += 1
        if isinstance(exc, APIConnectionError) and exc.request_sent:
            in_doubt.append(str(message.body))
    sent_bodies = {str(m.body) for m, o in zip(messages, outcomes, strict=True) if isinstance(o, SendResult)}
    stored = wait_for_stored(emulator, prefix, len(sent_bodies) + (len(in_doubt) if late else 0))
    for message, outcome in zip(messages, outcomes, strict=True):
        rows = stored.get(str(message.body), [])
        if isinstance(outcome, SendResult):
            assert len(rows) == 1, (message.body, rows)
            row = rows[0]
            assert (row["msg_id"], row["queue_id"], row["queue_offset"]) == (
                outcome.msg_id,
                outcome.queue_id,
                outcome.queue_offset,
            )
        elif str(message.body) in in_doubt:
            assert len(rows) <= 1, (message.body, rows)  # stored or not, never twice
        else:
            assert rows == [], f"{message.body} failed with {outcome.exception!r} but is stored"
    assert set(stored) <= {str(m.body) for m in messages}
    kinds["in_doubt_stored"] = sum(1 for body in in_doubt if body in stored)
    return kinds


# (fault, how many, what each failure must be): each storm is smaller than the batch, so some sends succeed.
STORMS = {
    "429-storm": ({"status": 429, "retry_after": 0}, 45, RateLimitError),
    "503-burst": ({"status": 503}, 45, InternalServerError),
    "500-burst": ({"status": 500}, 12, InternalServerError),
    "502-burst": ({"status": 502}, 12, InternalServerError),
    "dropped": ({"drop_connection": True}, 12, APIConnectionError),
    # Delayed 2.5 s, past a 1.5 s read timeout (Client) and a 0.5 + 1.5 s attempt deadline (AsyncClient:
    # connect + read): a wide margin, so that no undelayed send times out on a busy machine.
    "timeouts": ({"status": 200, "delay_ms": 2500}, 6, APITimeoutError),
}


@both
@pytest.mark.parametrize("storm", STORMS.values(), ids=STORMS.keys())
def test_send_many_accounts_for_every_message_under_faults(
    emulator: EmulatorProcess,
    control: httpx.Client,
    sleeps: Sleeps,
    use_async: bool,
    storm: tuple[dict[str, Any], int, type[Exception]],
) -> None:
    """send_many under a storm: one outcome per input, results stored once, failures stored at most once."""
    fault, count, failure_type = storm
    prefix = f"many-{uuid.uuid4().hex[:8]}-"
    messages = [Message(TOPIC, f"{prefix}{index}") for index in range(60)]
    arm(control, count, **fault)
    timeout = httpx.Timeout(1.5, connect=0.5) if "delay_ms" in fault else httpx.Timeout(10.0)
    client_options: dict[str, Any] = {"max_retries": 2, "timeout": timeout}
    if use_async:

        async def run() -> list[Any]:
            async with AsyncClient(**options(emulator, **client_options)) as client:
                return await client.send_many(messages, concurrency=8)

        outcomes = asyncio.run(run())
    else:
        with Client(**options(emulator, **client_options)) as client:
            outcomes = client.send_many(messages, concurrency=8)
    kinds = check_accounting(emulator, prefix, messages, outcomes, late="delay_ms" in fault)
    failures = sum(n for kind, n in kinds.items() if kind not in ("sent", "in_doubt_stored"))
    assert kinds["sent"] + failures == 60
    assert set(kinds) - {"sent", "in_doubt_stored"} <= {failure_type.__name__}, kinds
    assert faults_left(control) == 0
    retried = fault.get("status") == 429  # the emulator's 429 is APIG.0308; 503 is not retried by default
    if retried:
        # Each failure used up 3 faults (1 + max_retries); a retry never stores twice.
        assert failures * 3 <= count
    else:
        assert failures == count, kinds  # one fault, one failure: no retry, no silent success
    print(f"\n{'async' if use_async else 'sync'} {fault}: {dict(kinds)}")


def test_accounting_check_catches_a_silent_duplicate(emulator: EmulatorProcess, control: httpx.Client) -> None:
    """The accounting check is not a rubber stamp: a message stored twice for one result fails it."""
    prefix = f"dup-{uuid.uuid4().hex[:8]}-"
    with Client(**options(emulator)) as client:
        result = client.send(TOPIC, prefix + "0")
        client.send(TOPIC, prefix + "0")  # a second copy, as a client retrying a stored send would make
    with pytest.raises(AssertionError):
        check_accounting(emulator, prefix, [Message(TOPIC, prefix + "0")], [result])
