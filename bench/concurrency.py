"""Bulk throughput against concurrency: `AsyncClient.send_many` and the raw aiohttp loop at 1 to 256 in flight.

The bulk section measures 64 in flight; this one shows the shape around it, against the same minimal app:
for each level, `AsyncClient.send_many(..., concurrency=level)` on a client of `max_connections=level`, and the
raw aiohttp loop (prebuilt JSON, the minimal signer) with `level` coroutines on a connector of `level`
connections. Rounds interleave the two; the median is kept. `make bench` runs it after the bulk section and
writes the figures under `"concurrency"` in the results file (docs/bench-bulk-concurrency.png draws them).

Run alone: `.venv/bin/python bench/concurrency.py [--quick]` (prints the figures, writes nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from datetime import UTC, datetime
from typing import Any

import aiohttp
from _contenders import RawSigner
from _measure import AK, INSTANCE_ID, PROJECT_ID, SEND_PATH, SK, TOPIC, Timer, Workload, check_status
from _servers import start_minimal

LEVELS = (1, 4, 16, 64, 256)
LABELS = {"wrapper": "wrapper AsyncClient.send_many", "raw_aiohttp": "raw aiohttp, prebuilt JSON"}


async def _wrapper(url: str, work: Workload, level: int) -> float:
    from dms_rocketmq import AsyncClient, Message, SendResult

    async with AsyncClient(
        endpoint=url, project_id=PROJECT_ID, instance_id=INSTANCE_ID, ak=AK, sk=SK, max_connections=level
    ) as client:
        warm = [Message(TOPIC, work.bodies[i], keys=work.keys[i]) for i in range(min(level * 2, len(work)))]
        await client.send_many(warm, concurrency=level)
        with Timer() as timer:
            messages = [Message(TOPIC, body, keys=key) for body, key in zip(work.bodies, work.keys, strict=True)]
            results = await client.send_many(messages, concurrency=level)
    if not all(isinstance(result, SendResult) for result in results):
        raise RuntimeError("wrapper send_many: a send failed against the minimal app")
    return len(work) / timer.seconds


async def _raw_aiohttp(url: str, work: Workload, level: int) -> float:
    signer = RawSigner(url, AK, SK)
    target = url + SEND_PATH
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=level)) as session:

        async def loop(payloads: list[bytes]) -> None:
            pending = iter(payloads)

            async def worker() -> None:
                for payload in pending:
                    async with session.post(target, data=payload, headers=signer.headers(payload)) as answer:
                        content = await answer.read()
                        check_status(answer.status, "raw aiohttp")
                        json.loads(content)["msg_id"]

            await asyncio.gather(*(worker() for _ in range(level)))

        await loop(work.payloads[: min(level * 2, len(work))])
        with Timer() as timer:
            await loop(work.payloads)
    return len(work) / timer.seconds


def measure(url: str, messages: int, rounds: int) -> dict[str, Any]:
    """Sends per second of each contender at each level (the median of `rounds`), against the server at `url`."""
    work = Workload.make(messages)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    samples: dict[str, dict[int, list[float]]] = {name: {level: [] for level in LEVELS} for name in LABELS}
    for round_index in range(rounds):
        for level in LEVELS:
            order = ["wrapper", "raw_aiohttp"] if round_index % 2 == 0 else ["raw_aiohttp", "wrapper"]
            for name in order:
                run = _wrapper if name == "wrapper" else _raw_aiohttp
                rate = asyncio.run(run(url, work, level))
                samples[name][level].append(rate)
                print(f"  concurrency round {round_index + 1}/{rounds}: {LABELS[name]:<32} {level:>4} in flight "
                      f"{rate:>8,.0f} sends/s", flush=True)  # fmt: skip
    return {
        "started": started,
        "messages": messages,
        "rounds": rounds,
        "labels": LABELS,
        "sends_per_s": {
            name: {str(level): round(statistics.median(rates), 1) for level, rates in by_level.items()}
            for name, by_level in samples.items()
        },
    }


def run(*, quick: bool = False) -> dict[str, Any]:
    """Start a minimal app of its own, measure every level, stop it: the figures `make bench` records."""
    server = start_minimal()
    try:
        return measure(server.url, 1_000 if quick else 5_000, 1 if quick else 3)
    finally:
        server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, 1,000 messages")
    options = parser.parse_args(argv)
    print(json.dumps(run(quick=options.quick), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
