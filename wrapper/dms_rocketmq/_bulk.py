"""Bulk sending: many messages through a bounded window of sends, each outcome delivered as it completes.

Two engines share one policy: `run_threads` (`Client`, threads) and `run_tasks` (`AsyncClient`, asyncio
tasks). Inputs are taken from any iterable one at a time, so a generator of millions is never held in memory;
at most `concurrency` inputs are taken and not yet answered. Each outcome goes to a `deliver` callback as soon
as it is known; `send_many` collects them into a list, `iter_send` yields them, the CLI journals them.

Stopping (see `SendControl`): a stop (Ctrl-C, cancellation, a fail-fast reason) ends the taking of new inputs
and lets the sends in flight finish; abandoning (a second Ctrl-C or cancellation) gives up on them at once,
and each comes back as a `SendFailure` whose `SendCancelledError` has `request_sent=True` (in doubt). Inputs
left when sending stopped come back as `SendCancelledError(request_sent=False)` (not sent) where the caller
asked for every input to be accounted for (`drain`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import logging
import queue
import threading
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sized
from typing import Any, TypeAlias

from ._bulk_policy import FailFast, SendControl, bulk_policy, check_concurrency
from ._exceptions import ConfigurationError, SendCancelledError
from ._flight import Flight, current_flight
from ._models import Message, SendFailure, SendOutcome, SendResult
from ._rate import AdaptiveRate, throttle_listener

__all__ = [
    "OnOutcome",
    "iter_tasks",
    "iter_threads",
    "run_tasks",
    "run_threads",
    "send_many_tasks",
    "send_many_threads",
]

logger = logging.getLogger("dms_rocketmq")

OnOutcome: TypeAlias = Callable[[SendOutcome], object]
Inputs: TypeAlias = Iterable[Message | Mapping[str, Any]]
#: `deliver(index, input, outcome)`: called once per input taken, from one thread at a time.
Deliver: TypeAlias = Callable[[int, Any, SendOutcome], None]
#: `before_send(index, input)`: called just before an input's request may leave (a write-ahead journal).
BeforeSend: TypeAlias = Callable[[int, Any], None]


def _workers(concurrency: int, inputs: object) -> int:
    """No more workers than inputs, when their number is known (a short list needs no 16 threads)."""
    if isinstance(inputs, Sized):
        return max(1, min(concurrency, len(inputs)))
    return concurrency


class _Feed:
    """The inputs, taken one at a time with their index; an exception of the iterable is kept, not lost."""

    def __init__(self, inputs: Iterable[Any] | AsyncIterable[Any]) -> None:
        self._iterator: Iterator[Any] | None = None
        self._async_iterator: AsyncIterator[Any] | None = None
        if isinstance(inputs, AsyncIterable):
            self._async_iterator = aiter(inputs)
        elif isinstance(inputs, Iterable) and not isinstance(inputs, str | bytes | Mapping | Message):
            self._iterator = iter(inputs)
        else:
            raise ConfigurationError(
                f"messages must be an iterable of messages (a list, a generator...), got {type(inputs).__name__}."
            )
        self.is_async = self._async_iterator is not None
        self.next_index = 0
        self.exhausted = False
        self.error: Exception | None = None
        self._async_lock: asyncio.Lock | None = None

    def take(self) -> tuple[int, Any] | None:
        if self.exhausted:
            return None
        assert self._iterator is not None
        try:
            item = next(self._iterator)
        except StopIteration:
            self.exhausted = True
            return None
        except Exception as exc:  # the caller's iterable failed: stop, and raise it once the window is done
            self.exhausted = True
            self.error = exc
            return None
        index = self.next_index
        self.next_index += 1
        return index, item

    async def take_async(self) -> tuple[int, Any] | None:
        if self._async_lock is None:
            self._async_lock = asyncio.Lock()
        async with self._async_lock:  # an async generator cannot be advanced by two tasks at once
            if self.exhausted:
                return None
            assert self._async_iterator is not None
            try:
                item = await anext(self._async_iterator)
            except StopAsyncIteration:
                self.exhausted = True
                return None
            except Exception as exc:
                self.exhausted = True
                self.error = exc
                return None
            index = self.next_index
            self.next_index += 1
            return index, item

    def rest(self) -> Iterator[tuple[int, Any]]:
        """The inputs not taken yet (sync iterables only: an async one is left to its owner)."""
        while not self.is_async:
            taken = self.take()
            if taken is None:
                return
            yield taken


class _Window:
    """What both engines share: the inputs in flight, delivery, the fail-fast check and the rate."""

    def __init__(
        self,
        inputs: Iterable[Any] | AsyncIterable[Any],
        deliver: Deliver,
        rate: AdaptiveRate,
        fail_fast: FailFast,
        control: SendControl,
        before_send: BeforeSend | None,
    ) -> None:
        self.feed = _Feed(inputs)
        self.deliver = deliver
        self.rate = rate
        self.fail_fast = fail_fast
        self.control = control
        self.before_send = before_send
        self.in_flight: dict[int, Any] = {}
        #: Whether each input in flight has had its request leave (set by the send path, `_flight`).
        self.flights: dict[int, Flight] = {}
        self.errors: list[BaseException] = []

    @staticmethod
    def new_flight() -> Flight:
        """A worker's `Flight`, made current in the worker's context (call it there, once per worker).

        One per worker, not per send: a worker sends one input at a time, and `start` resets it for the next;
        a context variable set per send is a new context mapping per message."""
        flight = Flight()
        current_flight.set(flight)
        return flight

    def start(self, index: int, item: Any, flight: Flight) -> bool:
        """Mark an input in flight with its worker's `flight` (see `new_flight`) and run `before_send`; False
        (and delivered not sent) if that failed."""
        self.in_flight[index] = item
        flight.on_wire = True
        flight.doubtful = False
        self.flights[index] = flight
        if self.before_send is None:
            return True
        try:
            self.before_send(index, item)
        except Exception as exc:
            self.errors.append(exc)
            self.control.stop(f"recording a send failed ({type(exc).__name__}: {exc})")
            cancelled = SendCancelledError(self.reason(), request_sent=False)
            self.finish(index, item, SendFailure(item, cancelled))
            return False
        return True

    def finish(self, index: int, item: Any, outcome: SendOutcome) -> None:
        """Deliver one outcome (once: an abandoned input's late answer is dropped) and apply the policy."""
        if self.in_flight.pop(index, _MISSING) is _MISSING:
            return
        self.flights.pop(index, None)
        self._deliver(index, item, outcome)
        if type(outcome) is SendResult:
            self.rate.on_sent()
            self.fail_fast.on_sent()
        else:
            assert isinstance(outcome, SendFailure)
            reason = self.fail_fast.reason_to_stop(outcome.exception)
            if reason is not None:
                self.control.stop(reason)

    def _deliver(self, index: int, item: Any, outcome: SendOutcome) -> None:
        try:
            self.deliver(index, item, outcome)
        except Exception as exc:  # a journal that cannot be written: stop taking inputs, raise it at the end
            self.errors.append(exc)
            self.control.stop(f"recording an outcome failed ({type(exc).__name__}: {exc})")

    def not_sent(self, index: int, item: Any) -> None:
        self._deliver(index, item, SendFailure(item, SendCancelledError(self.reason(), request_sent=False)))

    def abandoned(self, index: int) -> SendCancelledError:
        """The failure of a send given up on: in doubt once its request may have left, else not sent (it was
        still waiting for a connection, or in a retry's backoff after a failure that stored nothing)."""
        flight = self.flights.get(index)
        return SendCancelledError(self.reason(), request_sent=flight is None or flight.may_be_stored)

    def abandon_in_flight(self) -> None:
        """Every send still in flight comes back in doubt or not sent (`abandoned`); a late answer is dropped."""
        for index, item in sorted(self.in_flight.items()):
            failure = SendFailure(item, self.abandoned(index))
            del self.in_flight[index]
            self.flights.pop(index, None)
            self._deliver(index, item, failure)

    def drain(self) -> None:
        """Account for the inputs never taken: each is delivered not sent."""
        for index, item in self.feed.rest():
            self.not_sent(index, item)

    def raise_errors(self) -> None:
        if self.errors:
            raise self.errors[0]
        if self.feed.error is not None:
            raise self.feed.error

    def reason(self) -> str:
        return self.control.stop_reason or "sending stopped"


_MISSING = object()


def run_threads(
    send: Callable[[Any], SendResult],
    inputs: Iterable[Any],
    deliver: Deliver,
    *,
    concurrency: int,
    rate: AdaptiveRate,
    fail_fast: FailFast,
    control: SendControl,
    before_send: BeforeSend | None = None,
    drain: bool = False,
    catch_interrupt: bool = True,
) -> None:
    """Send every input with `concurrency` threads; `deliver` each outcome as it completes.

    With `catch_interrupt`, the calling thread (the main thread: the one Ctrl-C reaches) waits for the
    senders in short slices, so a first Ctrl-C stops the taking of inputs at once and a second abandons the
    sends in flight; their threads are daemons and their late answers are dropped.
    """
    check_concurrency(concurrency)
    window = _Window(inputs, deliver, rate, fail_fast, control, before_send)
    lock = threading.Lock()
    changed = threading.Event()
    wake = threading.Event()  # ends the pacing waits when sending stops

    def on_control() -> None:
        wake.set()
        changed.set()

    remove = control.listen(on_control)
    workers = running = _workers(concurrency, inputs)  # `running` counts down as they end

    def work() -> None:
        nonlocal running
        throttle_listener.set(rate.on_throttled)
        flight = window.new_flight()
        try:
            while control.stop_reason is None:
                if rate.active:
                    pause = rate.delay()
                    if pause > 0 and wake.wait(pause):
                        break
                with lock:
                    if control.stop_reason is not None:
                        break
                    taken = window.feed.take()
                    if taken is None:
                        break
                    index, item = taken
                    if not window.start(index, item, flight):
                        break
                try:
                    outcome: SendOutcome = send(item)
                except Exception as exc:  # every input must end as a result or a failure
                    outcome = SendFailure(item, exc)
                with lock:
                    window.finish(index, item, outcome)
        finally:
            with lock:
                running -= 1
            changed.set()

    # Each sender runs in a copy of the caller's context, as an asyncio task does: what the caller made current
    # (a tracing span of send_many, for one) reaches the sends.
    threads = [
        threading.Thread(
            target=contextvars.copy_context().run, args=(work,), name=f"dms-rocketmq-send-{n}", daemon=True
        )
        for n in range(workers)
    ]
    try:
        for thread in threads:
            thread.start()
        interrupts = 0
        while True:
            try:
                while running and not control.abandoned:
                    changed.wait(0.2)
                    changed.clear()
                break
            except KeyboardInterrupt:
                if not catch_interrupt:
                    raise
                interrupts += 1
                if interrupts == 1:
                    control.stop("interrupted (Ctrl-C)")
                else:
                    control.abandon("interrupted twice (Ctrl-C)")
        with lock:
            window.abandon_in_flight()
            if drain and control.stop_reason is not None:
                window.drain()
    finally:
        remove()
    window.raise_errors()


async def run_tasks(
    send: Callable[[Any], Awaitable[SendResult]],
    inputs: Iterable[Any] | AsyncIterable[Any],
    deliver: Deliver,
    *,
    concurrency: int,
    rate: AdaptiveRate,
    fail_fast: FailFast,
    control: SendControl,
    before_send: BeforeSend | None = None,
    before_take: Callable[[], Awaitable[object]] | None = None,
    drain: bool = False,
) -> None:
    """Send every input with `concurrency` asyncio tasks; `deliver` each outcome as it completes.

    A first cancellation of the calling task stops the taking of inputs and waits for the sends in flight;
    a second abandons them. Either way every input taken is delivered, and then the cancellation is raised
    again (`asyncio.timeout`, `TaskGroup` and shutdown depend on it); inputs not taken are not drained then.
    """
    check_concurrency(concurrency)
    window = _Window(inputs, deliver, rate, fail_fast, control, before_send)
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    workers: list[asyncio.Task[None]] = []

    def react() -> None:
        wake.set()
        if control.abandoned:
            for worker in workers:
                worker.cancel()

    def on_control() -> None:  # from a signal handler, another thread, or a worker
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing is running any more
            loop.call_soon_threadsafe(react)

    remove = control.listen(on_control)
    feed = window.feed

    async def work() -> None:
        throttle_listener.set(rate.on_throttled)
        flight = window.new_flight()
        while control.stop_reason is None:
            if rate.active:
                pause = rate.delay()
                if pause > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), pause)
                        return
            if before_take is not None:
                await before_take()
                if control.stop_reason is not None:
                    return
            taken = (await feed.take_async()) if feed.is_async else feed.take()
            if taken is None:
                return
            index, item = taken
            if control.stop_reason is not None:  # stopped while an async input was awaited
                window.not_sent(index, item)
                return
            if not window.start(index, item, flight):
                return
            outcome: SendOutcome
            try:
                outcome = await send(item)
            except asyncio.CancelledError:
                # Abandoned (or the loop is shutting down): the answer will never be read.
                control.abandon("cancelled while sending")
                window.finish(index, item, SendFailure(item, window.abandoned(index)))
                return
            except Exception as exc:  # every input must end as a result or a failure
                outcome = SendFailure(item, exc)
            window.finish(index, item, outcome)

    cancelled: asyncio.CancelledError | None = None
    try:
        workers.extend(loop.create_task(work()) for _ in range(_workers(concurrency, inputs)))
        while True:
            try:
                # asyncio.wait, unlike gather, does not cancel the workers when this task is cancelled.
                await asyncio.wait(workers)
                break
            except asyncio.CancelledError as exc:
                if cancelled is None:
                    cancelled = exc
                    control.stop("cancelled")
                else:
                    control.abandon("cancelled twice")
                react()
        window.abandon_in_flight()
        if drain and control.stop_reason is not None and cancelled is None:
            window.drain()
    finally:
        remove()
    if cancelled is not None:
        raise cancelled
    window.raise_errors()


def _call_on_outcome(on_outcome: OnOutcome, outcome: SendOutcome) -> None:
    """Run a send_many callback; its failure is logged, never allowed to cost the other messages."""
    try:
        on_outcome(outcome)
    except Exception:
        logger.exception("send_many: on_outcome raised; the error is ignored and sending goes on")


class _Collector:
    """send_many's delivery: keeps every outcome by index, calls `on_outcome`."""

    def __init__(self, on_outcome: OnOutcome | None) -> None:
        if on_outcome is not None and not callable(on_outcome):
            raise ConfigurationError(f"on_outcome must be callable, got {type(on_outcome).__name__}.")
        self.outcomes: dict[int, SendOutcome] = {}
        self.on_outcome = on_outcome

    def __call__(self, index: int, item: Any, outcome: SendOutcome) -> None:
        self.outcomes[index] = outcome
        if self.on_outcome is not None:
            _call_on_outcome(self.on_outcome, outcome)

    def in_order(self) -> list[SendOutcome]:
        return [self.outcomes[index] for index in sorted(self.outcomes)]

    @contextlib.contextmanager
    def kept_on_error(self) -> Iterator[None]:
        """An exception that ends send_many (the inputs' own, a recording failure) leaves with the outcomes
        of every input taken before it, in `exc.outcomes`: messages already stored are not forgotten."""
        try:
            yield
        except Exception as exc:
            with contextlib.suppress(AttributeError, TypeError):  # an exception that takes no attributes
                exc.outcomes = self.in_order()  # type: ignore[attr-defined]
                exc.add_note(
                    f"send_many: the outcomes of the {len(self.outcomes)} inputs taken before this error are "
                    "in its `outcomes` attribute."
                )
            raise


def send_many_threads(
    send: Callable[[Any], SendResult],
    messages: Inputs,
    *,
    concurrency: int,
    on_outcome: OnOutcome | None,
    rate: float | None,
    fail_fast: bool,
    max_connection_failures: int,
) -> list[SendOutcome]:
    """`Client.send_many`: outcomes of every input, in input order (those not sent after a stop included)."""
    limiter, policy = bulk_policy(rate, fail_fast, max_connection_failures)
    collector = _Collector(on_outcome)
    with collector.kept_on_error():
        run_threads(
            send,
            messages,
            collector,
            concurrency=check_concurrency(concurrency),
            rate=limiter,
            fail_fast=policy,
            control=SendControl(),
            drain=True,
        )
    return collector.in_order()


async def send_many_tasks(
    send: Callable[[Any], Awaitable[SendResult]],
    messages: Inputs,
    *,
    concurrency: int,
    on_outcome: OnOutcome | None,
    rate: float | None,
    fail_fast: bool,
    max_connection_failures: int,
) -> list[SendOutcome]:
    """`AsyncClient.send_many`: outcomes of every input, in input order (those not sent after a stop included)."""
    limiter, policy = bulk_policy(rate, fail_fast, max_connection_failures)
    collector = _Collector(on_outcome)
    with collector.kept_on_error():
        await run_tasks(
            send,
            messages,
            collector,
            concurrency=check_concurrency(concurrency),
            rate=limiter,
            fail_fast=policy,
            control=SendControl(),
            drain=True,
        )
    return collector.in_order()


_DONE = object()


def iter_threads(
    send: Callable[[Any], SendResult],
    messages: Iterable[Any],
    *,
    concurrency: int,
    rate: float | None,
    fail_fast: bool,
    max_connection_failures: int,
) -> Iterator[tuple[int, SendOutcome]]:
    """`Client.iter_send`: `(index, outcome)` pairs as sends complete; at most a window of them is kept."""
    limiter, policy = bulk_policy(rate, fail_fast, max_connection_failures)
    concurrency = check_concurrency(concurrency)
    control = SendControl()
    ready: queue.Queue[Any] = queue.Queue(maxsize=2 * concurrency)
    failure: list[BaseException] = []
    closed = threading.Event()  # the consumer went away: nothing more is handed over

    def hand_over(value: Any) -> None:
        while not closed.is_set():
            with contextlib.suppress(queue.Full):
                ready.put(value, timeout=0.2)
                return

    def deliver(index: int, item: Any, outcome: SendOutcome) -> None:
        hand_over((index, outcome))

    def drive() -> None:
        try:
            run_threads(
                send,
                messages,
                deliver,
                concurrency=concurrency,
                rate=limiter,
                fail_fast=policy,
                control=control,
                catch_interrupt=False,
            )
        except BaseException as exc:
            failure.append(exc)
        finally:
            hand_over(_DONE)

    driver = threading.Thread(
        target=contextvars.copy_context().run, args=(drive,), name="dms-rocketmq-iter-send", daemon=True
    )
    driver.start()
    interrupts = 0
    try:
        while True:
            try:
                got = ready.get(timeout=0.2)
            except queue.Empty:
                continue
            except KeyboardInterrupt:
                interrupts += 1
                if interrupts == 1:
                    control.stop("interrupted (Ctrl-C)")
                else:
                    control.abandon("interrupted twice (Ctrl-C)")
                continue
            if got is _DONE:
                break
            yield got
    finally:
        if driver.is_alive():  # closed early: stop, give up on the sends in flight
            closed.set()
            control.abandon("iterator closed")
            driver.join(timeout=5)
    if failure:
        raise failure[0]


async def iter_tasks(
    send: Callable[[Any], Awaitable[SendResult]],
    messages: Iterable[Any] | AsyncIterable[Any],
    *,
    concurrency: int,
    rate: float | None,
    fail_fast: bool,
    max_connection_failures: int,
) -> AsyncIterator[tuple[int, SendOutcome]]:
    """`AsyncClient.iter_send`: `(index, outcome)` pairs as sends complete; at most a window of them is kept."""
    limiter, policy = bulk_policy(rate, fail_fast, max_connection_failures)
    concurrency = check_concurrency(concurrency)
    control = SendControl()
    # Inputs taken and not yet handed to the consumer: a slow consumer holds the workers back.
    outstanding = asyncio.Semaphore(2 * concurrency)
    ready: collections.deque[tuple[int, SendOutcome]] = collections.deque()
    arrived = asyncio.Event()

    def deliver(index: int, item: Any, outcome: SendOutcome) -> None:
        ready.append((index, outcome))
        arrived.set()

    runner = asyncio.get_running_loop().create_task(
        run_tasks(
            send,
            messages,
            deliver,
            concurrency=concurrency,
            rate=limiter,
            fail_fast=policy,
            control=control,
            before_take=outstanding.acquire,
        )
    )
    runner.add_done_callback(lambda _task: arrived.set())
    try:
        while True:
            while ready:
                pair = ready.popleft()
                outstanding.release()
                yield pair
            if runner.done():
                break
            arrived.clear()
            try:
                await arrived.wait()
            except asyncio.CancelledError as exc:
                # Let the sends in flight finish (a second cancellation abandons them), then propagate: the
                # outcomes drained meanwhile are not yielded, the caller has stopped listening.
                control.stop("cancelled")
                while not runner.done():
                    try:
                        await asyncio.wait([runner])
                    except asyncio.CancelledError:
                        control.abandon("cancelled twice")
                raise exc
    finally:
        if not runner.done():  # closed early: stop, and give up on the sends in flight
            control.abandon("iterator closed")
            with contextlib.suppress(BaseException):
                await runner
    runner.result()
