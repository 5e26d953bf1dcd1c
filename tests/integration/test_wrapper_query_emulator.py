"""Reading back over real HTTP: the wrapper's get_message, query_messages and confirm against the emulator."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import dms_rocketmq as dms
import pytest
from test_wrapper_emulator import options

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def clean(dms_emulator: Any) -> None:
    """Each test starts from an empty store."""
    dms_emulator.reset()


@pytest.mark.parametrize("credentials", ["aksk", "token"])
def test_send_confirm_and_query_back(dms_emulator: Any, credentials: str) -> None:
    """Sent messages are confirmed as stored, found by msg_id, by each key, by time range and by queue, with
    every field typed; a msg_id never sent is None."""
    overrides = {"ak": None, "sk": None, "token": dms_emulator.token} if credentials == "token" else {}
    before = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
    with dms.Client(**options(dms_emulator, **overrides)) as client:
        results = [client.send("orders", f"body-{n}", keys=["batch", f"order-{n}"], tags="created") for n in range(5)]
        stored = [client.confirm(result) for result in results]
        assert [message.body for message in stored] == [f"body-{n}" for n in range(5)]
        first = stored[0]
        assert (first.keys, first.tags, first.topic) == (("batch", "order-0"), "created", "orders")
        assert first.stored_at is not None
        assert first.stored_at >= before
        assert isinstance(first.store_size, int)
        assert isinstance(first.body_crc, int)
        assert client.get_message("orders", results[3].msg_id) == stored[3]
        assert client.get_message("orders", "0" * 32) is None
        by_key = list(client.query_messages("orders", key="batch", page_size=2))
        assert [message.msg_id for message in by_key] == [result.msg_id for result in results]
        assert [m.body for m in client.query_messages("orders", key="order-2", start=before)] == ["body-2"]
        queue = results[1].queue_id
        in_queue = list(client.query_messages("orders", queue=queue))
        assert in_queue
        assert all(message.queue_id == queue for message in in_queue)
        assert list(client.query_messages("orders", start=before, end=before)) == []


def test_async_client_reads_back(dms_emulator: Any) -> None:
    """AsyncClient sends on aiohttp and reads back through the generated async client: confirm, get and the
    async iterator agree with what was sent."""

    async def main() -> None:
        async with dms.AsyncClient(**options(dms_emulator)) as client:
            results = await client.send_many(
                [dms.Message("orders", f"m{n}", keys=["many", f"k{n}"]) for n in range(7)], concurrency=4
            )
            sent = [result for result in results if isinstance(result, dms.SendResult)]
            assert len(sent) == 7
            confirmed = await asyncio.gather(*(client.confirm(result) for result in sent))
            assert sorted(message.body for message in confirmed) == [f"m{n}" for n in range(7)]
            listed = [message.msg_id async for message in client.query_messages("orders", key="many", page_size=3)]
            assert sorted(listed) == sorted(result.msg_id for result in sent)

    asyncio.run(main())


def test_a_query_the_emulator_refuses_is_a_bad_request(dms_emulator: Any) -> None:
    """A query for a topic the instance does not have raises BadRequestError with the server's code."""
    with dms.Client(**options(dms_emulator)) as client, pytest.raises(dms.BadRequestError) as excinfo:
        client.get_message("no-such-topic", "0" * 32)
    assert excinfo.value.error_code.startswith("DMS.")
    assert excinfo.value.request_id
