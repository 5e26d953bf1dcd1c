"""AsyncClient's fairness gate: at most `size` holders, first come first served, no place ever lost.

Each example plays a schedule on a real event loop: senders arrive one at a time, hold their place for some
turns of the loop, and some are cancelled while they wait (as a pool timeout cancels them), at any turn,
including the one in which a place is handed to them.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
from typing import Any

from dms_rocketmq._fast_path import FairGate
from hypothesis import given, settings
from hypothesis import strategies as st

#: The sender the current task plays.
SENDER_INDEX: contextvars.ContextVar[int] = contextvars.ContextVar("sender")


class RecordingGate(FairGate):
    """A FairGate that records who is given each place, when it is given (a sender handed a place in line
    resumes later, possibly after a newcomer took a place that was free by then: that is no overtaking)."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.given: list[int] = []
        owners: dict[asyncio.Future[None], int] = {}
        self.owners = owners

        class Line(collections.deque[Any]):
            def append(self, waiter: asyncio.Future[None]) -> None:
                owners[waiter] = SENDER_INDEX.get()
                super().append(waiter)

        self.waiters = Line()

    def enter_now(self) -> bool:
        entered = super().enter_now()
        if entered:
            self.given.append(SENDER_INDEX.get())
        return entered

    def leave(self) -> None:
        handed = next((waiter for waiter in self.waiters if not waiter.done()), None)
        if handed is not None:
            self.given.append(self.owners[handed])
        super().leave()


SENDER = st.tuples(
    st.integers(0, 3),  # turns of the loop before the next sender arrives
    st.integers(0, 4),  # turns it holds its place
    st.one_of(st.none(), st.integers(0, 6)),  # turns after its arrival at which it is cancelled, if waiting
)


@settings(max_examples=300)
@given(size=st.integers(1, 3), senders=st.lists(SENDER, min_size=1, max_size=12))
def test_the_gate_is_bounded_first_come_first_served_and_loses_no_place(
    size: int, senders: list[tuple[int, int, int | None]]
) -> None:
    granted: list[int] = []
    holding = 0
    most = 0

    async def sender(index: int, hold: int) -> None:
        nonlocal holding, most
        SENDER_INDEX.set(index)
        await gate.enter()
        granted.append(index)
        holding += 1
        most = max(most, holding)
        for _ in range(hold):
            await asyncio.sleep(0)
        holding -= 1
        gate.leave()

    async def play() -> list[asyncio.Task[None]]:
        tasks: list[asyncio.Task[None]] = []
        cancel_at: dict[int, int] = {}
        turn = 0
        for index, (gap, hold, cancel_after) in enumerate(senders):
            tasks.append(asyncio.ensure_future(sender(index, hold)))
            await asyncio.sleep(0)  # it reaches the gate before the next one arrives
            if cancel_after is not None:
                cancel_at[index] = turn + cancel_after
            for _ in range(gap):
                turn += 1
                for waiting, at in cancel_at.items():
                    if at == turn and waiting not in granted:
                        tasks[waiting].cancel()
                await asyncio.sleep(0)
        for _ in range(8):
            turn += 1
            for waiting, at in cancel_at.items():
                if at == turn and waiting not in granted:
                    tasks[waiting].cancel()
            await asyncio.sleep(0)
        # A lost place would leave a sender waiting for ever: give up and let the assertions say so.
        await asyncio.wait(tasks, timeout=5)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return tasks

    gate = RecordingGate(size)
    tasks = asyncio.run(play())
    assert most <= size
    # First come, first served: the places are given in the order of arrival, once each.
    assert gate.given == sorted(set(gate.given))
    # Every sender got a place or was cancelled waiting; one cancelled as its place was given passed it on.
    cancelled = {index for index, task in enumerate(tasks) if task.cancelled()}
    assert set(granted) | cancelled == set(range(len(senders)))
    assert set(granted) <= set(gate.given)
    assert (gate.free, len(gate.waiters)) == (size, 0)


def test_a_place_handed_to_a_sender_cancelled_in_the_same_turn_goes_to_the_next() -> None:
    async def play() -> list[str]:
        gate = FairGate(1)
        order: list[str] = []
        gate.enter_now()  # the one place is held

        async def wait(name: str) -> None:
            await gate.enter()
            order.append(name)
            gate.leave()

        first = asyncio.ensure_future(wait("first"))
        second = asyncio.ensure_future(wait("second"))
        await asyncio.sleep(0)
        gate.leave()  # handed to `first`...
        first.cancel()  # ...which is cancelled before it runs again
        await asyncio.gather(first, second, return_exceptions=True)
        assert (gate.free, len(gate.waiters)) == (1, 0)
        return order

    assert asyncio.run(play()) == ["second"]
