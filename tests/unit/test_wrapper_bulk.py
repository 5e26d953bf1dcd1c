"""Bulk sending without a server (httpx.MockTransport): any iterable through a bounded window, outcomes as they
complete, fail-fast, rate, cancellation, and the classification of every outcome."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import threading
from collections.abc import Iterator
from typing import Any

import dms_rocketmq as dms
import httpx
import pytest
from _shared.fake_dms import SETTINGS, async_client, error, stored, sync_client
from dms_rocketmq._bulk import run_tasks, run_threads
from dms_rocketmq._bulk_policy import FailFast, SendControl, outcome_state
from dms_rocketmq._flight import request_waiting, retrying
from dms_rocketmq._rate import MIN_RATE, RATE_RULE, SLOWEST_RATE, AdaptiveRate, check_rate
from hypothesis import given
from hypothesis import strategies as st


def counted(limit: int | None = None) -> tuple[list[int], Iterator[dict[str, str]]]:
    """A generator of messages that records how many were taken from it (endless when `limit` is None)."""
    taken = [0]

    def generate() -> Iterator[dict[str, str]]:
        for n in itertools.count() if limit is None else range(limit):
            taken[0] += 1
            yield {"topic": "orders", "body": str(n)}

    return taken, generate()


def echo(request: httpx.Request) -> httpx.Response:
    return stored(request, int(json.loads(request.content)["body"]))


def test_iter_send_reads_an_endless_generator_lazily() -> None:
    """iter_send takes inputs only as the window frees: an endless generator is never read ahead by more."""
    taken, messages = counted()
    with sync_client(echo) as client:
        stream = client.iter_send(messages, concurrency=4)
        seen = [next(stream) for _ in range(100)]
        stream.close()
    assert {index for index, _ in seen} <= set(range(taken[0]))
    assert all(outcome.ok for _, outcome in seen)
    assert taken[0] <= 100 + 3 * 4, taken[0]  # a window (concurrency plus the hand-over queue), not the input


def test_async_iter_send_reads_lazily_and_accounts_for_every_index() -> None:
    """AsyncClient.iter_send yields each index once, as sends complete, reading a generator of inputs lazily."""
    taken, messages = counted(2000)

    async def main() -> list[tuple[int, dms.SendOutcome]]:
        async with async_client(echo) as client:
            got = []
            async for pair in client.iter_send(messages, concurrency=8):
                got.append(pair)
                if len(got) == 50:
                    assert taken[0] <= 50 + 3 * 8
            return got

    got = asyncio.run(main())
    assert sorted(index for index, _ in got) == list(range(2000))
    assert all(outcome.ok and outcome.queue_offset == index for index, outcome in got)  # type: ignore[union-attr]


@pytest.mark.parametrize("status", [401, 403, 404])
@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_fail_fast_stops_on_a_status_no_send_can_pass(status: int, use_async: bool) -> None:
    """With fail_fast, a 401/403/404 stops sending: one outcome per input, the rest not sent (and say so)."""
    calls = 0
    lock = threading.Lock()

    def refuse(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        with lock:
            calls += 1
        return error(status, "APIGW.0301", "refused")

    inputs = [{"topic": "orders", "body": str(n)} for n in range(500)]
    if use_async:

        async def main() -> list[dms.SendOutcome]:
            async with async_client(refuse) as client:
                return await client.send_many(inputs, concurrency=4, fail_fast=True)

        outcomes = asyncio.run(main())
    else:
        with sync_client(refuse) as client:
            outcomes = client.send_many(inputs, concurrency=4, fail_fast=True)
    assert len(outcomes) == 500
    states = [outcome_state(o) for o in outcomes]
    assert states.count("failed") == calls <= 4
    assert states.count("not_sent") == 500 - calls
    cancelled = [
        o for o in outcomes if isinstance(o, dms.SendFailure) and isinstance(o.exception, dms.SendCancelledError)
    ]
    assert all(not o.exception.request_sent and str(status) in str(o.exception) for o in cancelled)  # type: ignore[union-attr]


def test_fail_fast_after_consecutive_connection_failures() -> None:
    """With fail_fast, max_connection_failures connection failures in a row stop sending; a success resets it."""

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with sync_client(down, max_retries=0) as client:
        outcomes = client.send_many(
            [{"topic": "orders", "body": str(n)} for n in range(300)],
            concurrency=1,
            fail_fast=True,
            max_connection_failures=3,
        )
    states = [outcome_state(o) for o in outcomes]
    assert states[:3] == ["failed"] * 3
    assert set(states[3:]) == {"not_sent"}
    with sync_client(down, max_retries=0) as client:
        plain = client.send_many([{"topic": "orders", "body": "x"}] * 20, concurrency=2)
    assert [outcome_state(o) for o in plain] == ["failed"] * 20  # off by default: every input is tried


def test_outcome_state_says_which_failures_may_be_stored() -> None:
    """A failure is in doubt exactly when the message may have been stored: no answer, any 5xx, bad 200."""
    request = httpx.Request("POST", "http://x")

    def status(code: int) -> Exception:
        return dms._exceptions.status_error_from_response(httpx.Response(code, request=request, content=b"{}"))

    cases: dict[str, Exception] = {
        "failed": dms.ValidationError("bad"),
        "in_doubt": dms.APIConnectionError(request_sent=True),
    }
    assert outcome_state(dms.SendFailure(None, dms.APIConnectionError(request_sent=False))) == "failed"
    assert outcome_state(dms.SendFailure(None, dms.APITimeoutError(request_sent=True))) == "in_doubt"
    for code, expected in [
        (400, "failed"),
        (401, "failed"),
        (429, "failed"),
        (503, "in_doubt"),
        (500, "in_doubt"),
        (502, "in_doubt"),
        (504, "in_doubt"),
    ]:
        assert outcome_state(dms.SendFailure(None, status(code))) == expected, code
    for expected, exc in cases.items():
        assert outcome_state(dms.SendFailure(None, exc)) == expected
    assert outcome_state(dms.SendFailure(None, dms.SendCancelledError("x", request_sent=False))) == "not_sent"
    assert outcome_state(dms.SendFailure(None, dms.SendCancelledError("x", request_sent=True))) == "in_doubt"


class _Clock:
    """A monotonic clock that moves only when the test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_adaptive_rate_halves_on_429_and_recovers_to_the_ceiling() -> None:
    """A 429 halves the pace (once per burst), never below the floor; without 429s it climbs back to the ceiling."""
    clock = _Clock()
    rate = AdaptiveRate(100.0, clock=clock)
    rate.on_throttled()
    assert rate.current == 50.0
    rate.on_throttled()  # the same burst
    assert rate.current == 50.0
    clock.now += 1.0
    rate.on_throttled()
    assert rate.current == 25.0
    for _ in range(40):
        clock.now += 1.0
        rate.delay()
    assert rate.current == 100.0
    unlimited = AdaptiveRate(None, clock=clock)
    unlimited.on_throttled()
    assert not unlimited.active  # nothing sent yet: no pace to halve, the retries' waits suffice
    for _ in range(10):
        unlimited.on_sent()
    clock.now += 1.0  # ten sent in the last second
    unlimited.on_throttled()
    assert unlimited.current == pytest.approx(5.0)
    slow = AdaptiveRate(1.5, clock=clock)
    slow.on_throttled()
    assert slow.current == MIN_RATE  # never below the floor


@given(
    rate=st.one_of(st.floats(), st.integers(), st.none()),
    events=st.lists(st.sampled_from(["send", "sent", "429", "tick", "second"]), max_size=60),
)
def test_no_accepted_rate_waits_longer_than_the_slowest_pace_or_sends_faster_than_its_ceiling(
    rate: float | int | None, events: list[str]
) -> None:
    """Any rate is refused with the rule's words, or paces sends at most 1/SLOWEST_RATE s apart and never
    faster than the ceiling, whatever 429s and seconds pass: no value a caller can give makes a send wait
    without end (a tiny positive rate did, and looked like a hang)."""
    if not (rate is None or (math.isfinite(rate) and rate >= SLOWEST_RATE)):
        with pytest.raises(dms.ConfigurationError) as refused:
            check_rate(rate)
        assert str(refused.value) == f"rate must be {RATE_RULE}, or None, got {rate!r}."
        return
    ceiling = check_rate(rate)
    clock = _Clock()
    pace = AdaptiveRate(ceiling, clock=clock)
    for event in events:
        if event == "send":
            assert 0.0 <= pace.delay() <= 1.0 / SLOWEST_RATE
        elif event == "sent":
            pace.on_sent()
        elif event == "429":
            pace.on_throttled()
        else:
            clock.now += 0.3 if event == "tick" else 1.0
        if ceiling is not None:
            assert pace.current is not None
            assert pace.current <= ceiling


def test_rate_paces_the_slots() -> None:
    """rate=N hands out send slots 1/N s apart."""
    rate = AdaptiveRate(10.0, clock=_Clock())
    waits = [rate.delay() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_send_many_rejects_bad_rate_and_connection_failure_count() -> None:
    """rate and max_connection_failures are checked before anything is sent."""
    with sync_client(echo) as client:
        for bad in (0, -1, float("inf"), "fast", True):
            with pytest.raises(dms.ConfigurationError, match="rate"):
                client.send_many([{"topic": "orders", "body": "0"}], rate=bad)  # type: ignore[arg-type]
        with pytest.raises(dms.ConfigurationError, match="max_connection_failures"):
            client.send_many([], fail_fast=True, max_connection_failures=0)


@pytest.mark.parametrize("bad", [0, -1, 2.4891740739635397e-215, float("inf"), "fast", True])
def test_async_send_many_and_iter_send_reject_a_bad_rate_before_sending(bad: object) -> None:
    """AsyncClient.send_many and iter_send check rate as Client.send_many does, with the same words, and
    send nothing."""
    calls: list[httpx.Request] = []

    async def main(use_iter: bool) -> None:
        async with async_client(lambda request: calls.append(request) or stored(request)) as client:
            messages = [{"topic": "orders", "body": "0"}]
            if use_iter:
                async for _ in client.iter_send(messages, rate=bad):  # type: ignore[arg-type]
                    pass
            else:
                await client.send_many(messages, rate=bad)  # type: ignore[arg-type]

    expected = f"rate must be {RATE_RULE}, or None, got {bad!r}."
    for use_iter in (False, True):
        with pytest.raises(dms.ConfigurationError) as caught:
            asyncio.run(main(use_iter))
        assert str(caught.value) == expected
    assert calls == []


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_429_slows_send_many_down(kind: str) -> None:
    """A 429 during send_many (retried) engages the pacing of the remaining sends, in Client and AsyncClient."""
    answered = 0
    lock = threading.Lock()

    def throttle_once(request: httpx.Request) -> httpx.Response:
        nonlocal answered
        with lock:
            answered += 1
            first = answered == 1
        return error(429, "APIG.0308", "throttled", **{"Retry-After": "0"}) if first else echo(request)

    seen: list[Any] = []
    dms.set_testing(True)
    try:
        original = AdaptiveRate.on_throttled

        def spy(self: AdaptiveRate) -> None:
            original(self)
            seen.append(self.current)

        messages = [{"topic": "orders", "body": str(n)} for n in range(20)]

        async def send_async() -> list[dms.SendOutcome]:
            async with async_client(throttle_once) as client:
                return await client.send_many(messages, concurrency=2, rate=1000)

        AdaptiveRate.on_throttled = spy  # type: ignore[method-assign]
        try:
            if kind == "sync":
                with sync_client(throttle_once) as client:
                    outcomes = client.send_many(messages, concurrency=2, rate=1000)
            else:
                outcomes = asyncio.run(send_async())
        finally:
            AdaptiveRate.on_throttled = original  # type: ignore[method-assign]
    finally:
        dms.set_testing(False)
    assert all(o.ok for o in outcomes)
    assert seen == [500.0], "the 429 did not halve the pace"


def test_async_send_many_cancelled_drains_the_sends_in_flight_then_propagates() -> None:
    """Cancelling the task of send_many stops taking inputs, lets in-flight sends finish (each outcome
    delivered to on_outcome, none in doubt), then raises the cancellation instead of returning."""

    seen: list[dms.SendOutcome] = []

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)
        return echo(request)

    async def main() -> None:
        async with dms.AsyncClient(**SETTINGS, transport=httpx.MockTransport(slow)) as client:
            task = asyncio.ensure_future(
                client.send_many(
                    [{"topic": "orders", "body": str(n)} for n in range(2000)], concurrency=4, on_outcome=seen.append
                )
            )
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())
    states = [outcome_state(o) for o in seen]
    assert 0 < states.count("sent") < 2000
    assert set(states) == {"sent"}  # the in-flight ones finished; the rest was neither taken nor drained
    assert sorted(int(o.sent.body) for o in seen if isinstance(o, dms.SendResult)) == list(range(len(seen)))  # type: ignore[union-attr]


def test_async_send_many_cancelled_twice_abandons_in_flight_as_in_doubt() -> None:
    """A second cancellation abandons the sends in flight: each whose request left comes back in doubt
    (request_sent=True), and the cancellation propagates."""

    seen: list[dms.SendOutcome] = []

    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return echo(request)

    async def main() -> None:
        async with dms.AsyncClient(**SETTINGS, transport=httpx.MockTransport(hang)) as client:
            task = asyncio.ensure_future(
                client.send_many(
                    [{"topic": "orders", "body": str(n)} for n in range(50)], concurrency=4, on_outcome=seen.append
                )
            )
            await asyncio.sleep(0.05)
            task.cancel()
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, 5)

    asyncio.run(main())
    assert [outcome_state(o) for o in seen] == ["in_doubt"] * 4


def _result(msg_id: str) -> dms.SendResult:
    """A SendResult as a send returns it."""
    return dms.SendResult(
        msg_id=msg_id,
        queue_id=0,
        queue_offset=0,
        broker_name="broker-0",
        uniq_key=msg_id,
        topic="orders",
        properties={},
        request_id=None,
    )


def _engine_events(engine: str) -> list[tuple[str, int, Any]]:
    """Run one engine over three inputs with a before_send and a deliver that record what they are given."""
    events: list[tuple[str, int, Any]] = []
    lock = threading.Lock()

    def before_send(index: int, item: Any) -> None:
        with lock:
            events.append(("before_send", index, item))

    def deliver(index: int, item: Any, outcome: dms.SendOutcome) -> None:
        with lock:
            events.append(("deliver", index, item))
            assert outcome_state(outcome) == "sent", outcome

    def result(item: Any) -> dms.SendResult:
        with lock:
            events.append(("send", -1, item))
        return _result(f"M{item}")

    options: dict[str, Any] = {
        "concurrency": 2,
        "rate": AdaptiveRate(None),
        "fail_fast": FailFast(enabled=False, max_connection_failures=1),
        "control": SendControl(),
        "before_send": before_send,
    }
    if engine == "threads":
        run_threads(result, ["a", "b", "c"], deliver, **options)
    else:

        async def send(item: Any) -> dms.SendResult:
            return result(item)

        asyncio.run(run_tasks(send, ["a", "b", "c"], deliver, **options))
    return events


@pytest.mark.parametrize("engine", ["threads", "tasks"])
def test_both_engines_hand_each_input_to_before_send_then_to_deliver(engine: str) -> None:
    """Each input goes to before_send (the CLI's write-ahead record) before its send, and to deliver with its
    own index once answered, in both engines."""
    events = _engine_events(engine)
    for index, item in enumerate(["a", "b", "c"]):
        assert events.count(("before_send", index, item)) == 1
        assert events.count(("deliver", index, item)) == 1
        assert events.index(("before_send", index, item)) < events.index(("send", -1, item))
        assert events.index(("send", -1, item)) < events.index(("deliver", index, item))


def test_run_threads_delivers_an_abandoned_send_in_doubt_with_its_input() -> None:
    """An abandon while a thread is stuck in its send ends run_threads at once: that input is delivered in
    doubt, with its index and input and the abandon's reason, and its late answer is dropped."""
    control = SendControl()
    release = threading.Event()
    delivered: list[tuple[int, Any, dms.SendOutcome]] = []

    def send(item: Any) -> dms.SendResult:
        control.abandon("the operator gave up")
        release.wait(5)
        return _result("late")

    try:
        run_threads(
            send,
            ["stuck"],
            lambda index, item, outcome: delivered.append((index, item, outcome)),
            concurrency=1,
            rate=AdaptiveRate(None),
            fail_fast=FailFast(enabled=False, max_connection_failures=1),
            control=control,
            catch_interrupt=False,
        )
        assert [(index, item, outcome_state(outcome)) for index, item, outcome in delivered] == [
            (0, "stuck", "in_doubt")
        ]
        outcome = delivered[0][2]
        assert isinstance(outcome, dms.SendFailure)
        assert str(outcome.exception) == "abandoned in flight, it may have been stored: the operator gave up"
    finally:
        release.set()
    for thread in threading.enumerate():
        if thread.name.startswith("dms-rocketmq-send-"):
            thread.join(5)
    assert len(delivered) == 1


@pytest.mark.parametrize("engine", ["threads", "tasks"])
def test_a_workers_next_send_does_not_inherit_the_doubt_of_its_last(engine: str) -> None:
    """A worker's flight is reset for each input: after a send whose retried attempt may have stored its
    message, the next send abandoned while it waits for a connection comes back not sent, not in doubt."""
    control = SendControl()
    release = threading.Event()
    delivered: list[tuple[int, dms.SendOutcome]] = []
    rate, policy = AdaptiveRate(None), FailFast(enabled=False, max_connection_failures=1)

    def deliver(index: int, item: Any, outcome: dms.SendOutcome) -> None:
        delivered.append((index, outcome))

    def first_or_stuck(item: str) -> bool:
        if item == "retried":
            retrying(True)  # an attempt that may have stored the message, retried: the send is in doubt
            return True
        request_waiting()  # waiting for a connection: nothing has left
        control.abandon("the operator gave up")
        return False

    try:
        if engine == "threads":

            def send(item: str) -> dms.SendResult:
                if not first_or_stuck(item):
                    release.wait(5)
                return _result(item)

            run_threads(
                send, ["retried", "waiting"], deliver, concurrency=1, rate=rate, fail_fast=policy,
                control=control, catch_interrupt=False,
            )  # fmt: skip
        else:

            async def send_async(item: str) -> dms.SendResult:
                if not first_or_stuck(item):
                    await asyncio.Event().wait()
                return _result(item)

            async def main() -> None:
                await run_tasks(
                    send_async, ["retried", "waiting"], deliver, concurrency=1, rate=rate, fail_fast=policy,
                    control=control,
                )  # fmt: skip

            asyncio.run(main())
    finally:
        release.set()
    assert [(index, outcome_state(outcome)) for index, outcome in delivered] == [(0, "sent"), (1, "not_sent")]


class _Source:
    """An iterator over `count` messages that records every call made after it ended or failed; after a
    failure it would go on yielding (nothing in the protocol forbids it)."""

    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.count = count
        self.fail_at = fail_at
        self.position = 0
        self.calls_after_the_end = 0
        self.ended = False

    def __iter__(self) -> _Source:
        return self

    def __next__(self) -> dict[str, str]:
        if self.ended:
            self.calls_after_the_end += 1
        position = self.position
        self.position += 1
        if position == self.fail_at:
            self.ended = True
            raise RuntimeError("the input file went away")
        if position >= self.count:
            self.ended = True
            raise StopIteration
        return {"topic": "orders", "body": str(position)}


def test_an_iterable_is_not_asked_again_after_its_end_or_its_error() -> None:
    """Once the caller's iterator is done, or has raised, no sender thread asks it again: what it would
    yield after an error is not sent, and the error is raised after the inputs before it."""
    ended = _Source(5)
    with sync_client(echo) as client:
        assert sorted(index for index, _ in client.iter_send(ended, concurrency=4)) == list(range(5))
    assert ended.calls_after_the_end == 0

    failing = _Source(50, fail_at=3)
    got: list[int] = []

    def consume(client: dms.Client) -> None:
        got.extend(index for index, _ in client.iter_send(failing, concurrency=4))

    with sync_client(echo) as client, pytest.raises(RuntimeError, match=r"^the input file went away$"):
        consume(client)
    assert sorted(got) == [0, 1, 2]
    assert failing.calls_after_the_end == 0


def _run_engine(
    engine: str,
    inputs: list[str],
    deliver: Any,
    before_send: Any = None,
    sent: list[Any] | None = None,
    drain: bool = False,
) -> None:
    """Run one engine (concurrency 1) over `inputs`, listing in `sent` the inputs it sent."""
    sent = [] if sent is None else sent

    def result(item: Any) -> dms.SendResult:
        sent.append(item)
        return _result(f"M{item}")

    options: dict[str, Any] = {
        "concurrency": 1,
        "rate": AdaptiveRate(None),
        "fail_fast": FailFast(enabled=False, max_connection_failures=1),
        "control": SendControl(),
        "before_send": before_send,
        "drain": drain,
    }
    if engine == "threads":
        run_threads(result, inputs, deliver, **options)
    else:

        async def send(item: Any) -> dms.SendResult:
            return result(item)

        asyncio.run(run_tasks(send, inputs, deliver, **options))


@pytest.mark.parametrize("engine", ["threads", "tasks"])
def test_a_failing_before_send_stops_the_sending_and_is_raised(engine: str) -> None:
    """A write-ahead record that cannot be written stops the sending: that input is delivered not sent, with
    its index, input and a reason naming the error, no later input is taken, and the error is raised."""
    delivered: list[tuple[int, Any, dms.SendOutcome]] = []
    disk_full = OSError("disk full")

    def before_send(index: int, item: Any) -> None:
        if index == 1:
            raise disk_full

    sent: list[Any] = []
    with pytest.raises(OSError, match=r"^disk full$") as caught:
        _run_engine(engine, ["a", "b", "c"], lambda *args: delivered.append(args), before_send, sent)
    assert caught.value is disk_full
    assert sent == ["a"]
    assert [(index, item, outcome_state(outcome)) for index, item, outcome in delivered] == [
        (0, "a", "sent"),
        (1, "b", "not_sent"),
    ]
    failure = delivered[1][2]
    assert isinstance(failure, dms.SendFailure)
    assert failure.message == "b"
    assert isinstance(failure.exception, dms.SendCancelledError)
    assert failure.exception.request_sent is False
    assert str(failure.exception) == "not sent: recording a send failed (OSError: disk full)"


@pytest.mark.parametrize("engine", ["threads", "tasks"])
def test_a_failing_deliver_stops_the_sending_and_is_raised(engine: str) -> None:
    """An outcome that cannot be recorded stops the taking of inputs (the rest, drained, is delivered not sent
    with a reason naming the error), and that error is raised at the end."""
    broken = OSError("journal closed")
    delivered: list[tuple[int, Any, dms.SendOutcome]] = []

    def deliver(index: int, item: Any, outcome: dms.SendOutcome) -> None:
        delivered.append((index, item, outcome))
        if index == 0:
            raise broken

    sent: list[Any] = []
    with pytest.raises(OSError, match=r"^journal closed$") as caught:
        _run_engine(engine, ["a", "b", "c"], deliver, sent=sent, drain=True)
    assert caught.value is broken
    assert sent == ["a"]
    assert [(index, item, outcome_state(outcome)) for index, item, outcome in delivered] == [
        (0, "a", "sent"),
        (1, "b", "not_sent"),
        (2, "c", "not_sent"),
    ]
    reasons = {str(outcome.exception) for _, _, outcome in delivered[1:] if isinstance(outcome, dms.SendFailure)}
    assert reasons == {"not sent: recording an outcome failed (OSError: journal closed)"}


@pytest.mark.parametrize("use_async", [False, True], ids=["Client", "AsyncClient"])
def test_send_many_over_a_generator_that_raises_keeps_the_outcomes_already_known(use_async: bool) -> None:
    """The inputs' own error is raised, carrying the outcome of every input taken before it (`outcomes`):
    the messages already stored are not forgotten."""

    class Broken(Exception):
        pass

    def generate() -> Iterator[dict[str, str]]:
        for n in range(5):
            yield {"topic": "orders", "body": str(n)}
        raise Broken("the source failed")

    if use_async:

        async def main() -> None:
            async with async_client(echo) as client:
                await client.send_many(generate(), concurrency=2)

        with pytest.raises(Broken) as caught:
            asyncio.run(main())
    else:
        with sync_client(echo) as client, pytest.raises(Broken) as caught:
            client.send_many(generate(), concurrency=2)
    outcomes = caught.value.outcomes  # type: ignore[attr-defined]
    assert [outcome.queue_offset for outcome in outcomes] == list(range(5))
    assert any("outcomes" in note for note in caught.value.__notes__)


def test_a_send_abandoned_in_a_retry_backoff_is_not_sent() -> None:
    """A send waiting out a 429's Retry-After (nothing on the wire, nothing stored) is not sent when
    abandoned, not in doubt: resuming may send it again without risk of a duplicate."""
    throttled = threading.Event()

    def throttle(request: httpx.Request) -> httpx.Response:
        throttled.set()
        return error(429, "APIG.0308", "throttled", **{"Retry-After": "30"})

    seen: list[dms.SendOutcome] = []

    async def main() -> None:
        async with async_client(throttle, max_retries=3) as client:
            task = asyncio.ensure_future(
                client.send_many([{"topic": "orders", "body": "0"}], concurrency=1, on_outcome=seen.append)
            )
            assert await asyncio.to_thread(throttled.wait, 10)
            task.cancel()
            for _ in range(5):  # the first cancellation is taken (a stop) before the second
                await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())
    assert [outcome_state(o) for o in seen] == ["not_sent"]


@pytest.mark.parametrize("concurrency", [0, -1, 10_001, 10**20, True, 2.0, "4"])
@pytest.mark.parametrize("use_async", [False, True], ids=["Client", "AsyncClient"])
def test_a_concurrency_out_of_range_is_refused_before_any_worker_starts(concurrency: Any, use_async: bool) -> None:
    """A window of sends below 1 or above MAX_CONCURRENCY (each one a thread or task made up front: 10**20
    would exhaust memory) is a ConfigurationError, whatever the inputs."""
    endless = itertools.repeat({"topic": "orders", "body": "0"})
    refused = "concurrency must be a whole number from 1 to 10000"
    if use_async:

        async def main() -> None:
            async with async_client(echo) as client:
                with pytest.raises(dms.ConfigurationError, match=refused):
                    await client.send_many(endless, concurrency=concurrency)

        asyncio.run(main())
    else:
        with sync_client(echo) as client, pytest.raises(dms.ConfigurationError, match=refused):
            client.send_many(endless, concurrency=concurrency)
