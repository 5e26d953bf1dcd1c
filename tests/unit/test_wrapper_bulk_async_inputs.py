"""AsyncClient.iter_send fed by an async iterable (as the CLI feeds it from a file): every input sent once
under its own index, read lazily; an error of the caller's iterable ends the sending and is raised after the
sends in flight are accounted for (no sockets: httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import dms_rocketmq as dms
import httpx
import pytest
from test_wrapper_fakes import async_client, stored


def echo(request: httpx.Request) -> httpx.Response:
    return stored(request, int(json.loads(request.content)["body"]))


async def _messages(count: int, taken: list[int], fail_at: int | None = None) -> AsyncIterator[dict[str, str]]:
    for n in range(count):
        if n == fail_at:
            raise RuntimeError("the input file went away")
        taken[0] += 1
        await asyncio.sleep(0)  # a real async source yields to the loop between inputs
        yield {"topic": "orders", "body": str(n)}


@pytest.mark.parametrize("count", [1, 5, 300])
def test_async_iterable_inputs_each_sent_once_in_index_order(count: int) -> None:
    """Each input of an async generator is sent once, under the index of its place in the input."""
    taken = [0]

    async def main() -> list[tuple[int, dms.SendOutcome]]:
        async with async_client(echo) as client:
            return [pair async for pair in client.iter_send(_messages(count, taken), concurrency=4)]

    got = asyncio.run(main())
    assert sorted(index for index, _ in got) == list(range(count))
    assert all(outcome.ok and outcome.queue_offset == index for index, outcome in got)  # type: ignore[union-attr]
    assert taken[0] == count


def test_async_iterable_is_read_lazily() -> None:
    """Inputs of an async generator are taken only as the window frees, never read ahead by more."""
    taken = [0]

    async def main() -> None:
        async with async_client(echo) as client:
            stream = client.iter_send(_messages(10_000, taken), concurrency=4)
            seen = 0
            async for _ in stream:
                seen += 1
                if seen == 40:
                    break
            await stream.aclose()  # type: ignore[attr-defined]

    asyncio.run(main())
    assert taken[0] <= 40 + 3 * 4, taken[0]


def test_an_error_of_the_async_iterable_is_raised_after_the_inputs_before_it() -> None:
    """The caller's iterable failing ends the sending: the inputs before it come out, then its error."""
    taken = [0]

    got: list[int] = []

    async def main() -> None:
        async with async_client(echo) as client:
            async for index, outcome in client.iter_send(_messages(100, taken, fail_at=7), concurrency=3):
                assert outcome.ok
                got.append(index)

    with pytest.raises(RuntimeError, match="the input file went away"):
        asyncio.run(main())
    assert sorted(got) == list(range(7))
