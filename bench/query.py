"""Query speed of the emulator: p50 and p99 of ListMessages by msg_id and by key, with a million stored messages.

The store is filled directly through its batch API (`Store.load`: placed, indexed and kept exactly as sends
are, without HTTP), then queried one query at a time with msg_ids and keys drawn at random from what was
stored. Two levels:

- `store`: `Store.query` called in-process, memory and durable store: what the indexes cost;
- `http`: `GET .../messages` over one keep-alive connection to an emulator subprocess serving the filled
  durable data directory (started by the package's launcher, authentication off): what a client sees;
- `console`: the web console's query (`GET /_emulator/console/api/...`) at the server: the emulator's ASGI
  app called in-process on the filled durable store, routing, handler, store and JSON included, no socket.
  The kinds the console's views ask for: a message by id (the detail view), a key over all time, a page of
  a topic's time range (20 a page) at its start and at a random depth, and a page of one queue's time range
  at a random depth, each with its `total` (found by position, not counted: `_store/_queries.py`).
  `console_p99_ms` is the slowest kind's p99 in milliseconds: the console's figure.

Run alone: `.venv/bin/python bench/query.py [--count N] [--queries N] [--quick]`; `make bench` runs it after
the throughput sections (bench/run.py). Figures go under `"query"` in the results file (bench/results.json,
or bench/results.quick.json with --quick). Nothing is asserted about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from dms_rocketmq_api.spec_rules import ENGINES, operation_path
from dms_rocketmq_emulator import Settings, TopicSettings, create_app, start_emulator
from dms_rocketmq_emulator._query import MessageQuery
from dms_rocketmq_emulator._store import DurableStore, MemoryStore, Store
from dms_rocketmq_emulator.models import PendingMessage, Topic

BENCH_DIR = Path(__file__).resolve().parent
INSTANCE_ID = "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90"
TOPIC = Topic("bench", 8)
LOAD_CHUNK = 50_000
ALL_TIME = (0, 10**15 - 1)


def pending(count: int) -> Iterator[PendingMessage]:
    """`count` messages of about 60 bytes, each with its own key and a tag."""
    for n in range(count):
        yield PendingMessage(
            INSTANCE_ID,
            TOPIC,
            f'{{"order_id": {n}, "amount": "19.90", "note": "bench"}}',
            (("KEYS", f"order-{n}"), ("TAGS", "created")),
        )


async def fill(store: Store, count: int) -> float:
    """Load `count` messages in chunks; the seconds it took."""
    started = time.perf_counter()
    source = pending(count)
    while True:
        chunk = [message for _, message in zip(range(LOAD_CHUNK), source, strict=False)]
        if not chunk:
            return time.perf_counter() - started
        await store.load(chunk)


def percentiles(seconds: list[float]) -> dict[str, float]:
    """p50 and p99 in microseconds."""
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {"p50_us": round(statistics.median(seconds) * 1e6, 1), "p99_us": round(cuts[98] * 1e6, 1)}


async def time_queries(
    kinds: dict[str, Callable[[int], Awaitable[int]]], samples: list[int]
) -> dict[str, dict[str, float]]:
    """For each sample, one query of each kind (interleaved, so noise on a shared machine hits all kinds alike;
    each must find exactly one message); p50/p99 of one query per kind."""
    timings: dict[str, list[float]] = {kind: [] for kind in kinds}
    for n in samples:
        for kind, run in kinds.items():
            started = time.perf_counter()
            found = await run(n)
            timings[kind].append(time.perf_counter() - started)
            if found != 1:
                raise RuntimeError(f"{kind} query {n} found {found} messages, not 1")
    return {kind: percentiles(seconds) for kind, seconds in timings.items()}


async def store_level(store: Store, msg_ids: list[str], samples: list[int]) -> dict[str, dict[str, float]]:
    async def by_msg_id(n: int) -> int:
        total, _ = await store.query(MessageQuery(INSTANCE_ID, TOPIC.name, msg_id=msg_ids[n]))
        return total

    async def by_key(n: int) -> int:
        query = MessageQuery(INSTANCE_ID, TOPIC.name, key=f"order-{n}", start_ms=ALL_TIME[0], end_ms=ALL_TIME[1])
        total, _ = await store.query(query)
        return total

    return await time_queries({"by_msg_id": by_msg_id, "by_key": by_key}, samples)


async def every_msg_id(store: Store, count: int) -> list[str]:
    """The msg_id of message n, in load order (through the control API's plain read)."""
    ids: list[str] = []
    while len(ids) < count:
        _, page = await store.messages(INSTANCE_ID, TOPIC.name, 100_000, len(ids))
        ids += [m.msg_id for m in page]
    return ids


def http_level(data_dir: Path, msg_ids: list[str], samples: list[int]) -> dict[str, dict[str, float]]:
    emulator = start_emulator(
        memory=False, data_dir=data_dir, auth=False, topics=(f"{TOPIC.name}:{TOPIC.queues}",), start_timeout=600
    )
    try:
        path = operation_path(
            "ListMessages", engine=ENGINES[0], project_id=emulator.project_id, instance_id=emulator.instance_id
        )
        with httpx.Client(base_url=emulator.url, timeout=30) as client:

            def get(params: dict[str, str]) -> int:
                response = client.get(path, params={"topic": TOPIC.name, **params})
                response.raise_for_status()
                total: int = response.json()["total"]
                return total

            async def by_msg_id(n: int) -> int:
                return get({"msg_id": msg_ids[n]})

            async def by_key(n: int) -> int:
                return get({"key": f"order-{n}", "start_time": str(ALL_TIME[0]), "end_time": str(ALL_TIME[1])})

            get({"msg_id": msg_ids[0]})  # warm the connection
            return asyncio.run(time_queries({"by_msg_id": by_msg_id, "by_key": by_key}, samples))
    finally:
        emulator.close()


CONSOLE_API = "/_emulator/console/api"
CONSOLE_PAGE = 20
Query = Callable[[int], Awaitable[int]]


async def console_level(data_dir: Path, msg_ids: list[str], samples: list[int]) -> dict[str, dict[str, float]]:
    """p50/p99 of the console's queries, the emulator app called in-process on the durable store in `data_dir`."""
    settings = Settings(data_dir=data_dir, topics=(TopicSettings(TOPIC.name, TOPIC.queues),))
    app = create_app(settings)
    await app.store.start()
    count = len(msg_ids)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:

            async def get(path: str, params: dict[str, str]) -> dict[str, Any]:
                response = await client.get(CONSOLE_API + path, params={"topic": TOPIC.name, **params})
                response.raise_for_status()
                document: dict[str, Any] = response.json()
                return document

            async def by_msg_id(n: int) -> int:
                return 1 if (await get("/message", {"msg_id": msg_ids[n]}))["message"] else 0

            async def by_key(n: int) -> int:
                found = await get("/messages", {"key": f"order-{n}", "start_time": "0", "end_time": str(ALL_TIME[1])})
                return int(found["total"])

            def time_range(offset: Callable[[int], int], queue_id: int | None = None) -> Query:
                # Messages go round-robin over the queues: queue q holds every queues-th message from the q-th.
                expected = count if queue_id is None else len(range(queue_id, count, TOPIC.queues))

                async def run(n: int) -> int:
                    params = {"start_time": "0", "end_time": str(ALL_TIME[1]), "limit": str(CONSOLE_PAGE)}
                    if queue_id is not None:
                        params["queue"] = str(queue_id)
                    found = await get("/messages", {**params, "offset": str(offset(n))})
                    return 1 if int(found["total"]) == expected and len(found["messages"]) == CONSOLE_PAGE else 0

                return run

            per_queue = count // TOPIC.queues
            await by_msg_id(samples[0])  # warm the reader connection
            return await time_queries(
                {
                    "by_msg_id": by_msg_id,
                    "by_key": by_key,
                    "range_first_page": time_range(lambda n: 0),
                    "range_page_at_random": time_range(lambda n: min(n, count - CONSOLE_PAGE)),
                    "queue_page_at_random": time_range(lambda n: min(n % per_queue, per_queue - CONSOLE_PAGE), 1),
                },
                samples,
            )
    finally:
        await app.store.close()


async def measure_store(store: Store, count: int, queries: int, rng: random.Random) -> tuple[dict[str, Any], list[str]]:
    await store.start()
    try:
        fill_seconds = await fill(store, count)
        msg_ids = await every_msg_id(store, count)
        samples = [rng.randrange(count) for _ in range(queries)]
        figures = await store_level(store, msg_ids, samples)
    finally:
        await store.close()
    return {"fill_seconds": round(fill_seconds, 1), "store": figures}, msg_ids


def measure(count: int, queries: int, seed: int = 1) -> dict[str, Any]:
    """Every figure of this benchmark, as the results file holds them."""
    rng = random.Random(seed)
    started = datetime.now(UTC)
    results: dict[str, Any] = {"messages": count, "queries_per_kind": queries}
    print(f"query: memory store, {count:,} messages", flush=True)
    results["memory"], _ = asyncio.run(measure_store(MemoryStore(), count, queries, rng))
    with tempfile.TemporaryDirectory(prefix="dms-bench-query-") as folder:
        data_dir = Path(folder) / "data"
        print(f"query: durable store, {count:,} messages", flush=True)
        results["durable"], msg_ids = asyncio.run(measure_store(DurableStore(data_dir), count, queries, rng))
        print("query: durable store over HTTP", flush=True)
        samples = [rng.randrange(count) for _ in range(queries)]
        results["durable"]["http"] = http_level(data_dir, msg_ids, samples)
        print("query: the console's queries at the server, durable store", flush=True)
        samples = [rng.randrange(count) for _ in range(queries)]
        console = results["durable"]["console"] = asyncio.run(console_level(data_dir, msg_ids, samples))
        results["console_p99_ms"] = round(max(figures["p99_us"] for figures in console.values()) / 1000, 2)
    results["run"] = {
        "started": started.isoformat(timespec="seconds"),
        "seconds": round((datetime.now(UTC) - started).total_seconds(), 1),
    }
    return results


def table(results: dict[str, Any]) -> str:
    lines = [
        f"ListMessages with {results['messages']:,} stored messages, {results['queries_per_kind']:,} queries each",
        f"{'store':<10}{'level':<8}{'query':<21}{'p50 µs':>11}{'p99 µs':>11}",
    ]
    for store in ("memory", "durable"):
        for level in ("store", "http", "console"):
            for kind, figures in results[store].get(level, {}).items():
                lines.append(f"{store:<10}{level:<8}{kind:<21}{figures['p50_us']:>11,.1f}{figures['p99_us']:>11,.1f}")
    lines += [f"fill: memory {results['memory']['fill_seconds']} s, durable {results['durable']['fill_seconds']} s"]
    lines += [f"the console's slowest query, p99 at the server: {results['console_p99_ms']} ms"]
    return "\n".join(lines)


def write(results: dict[str, Any], output: Path) -> None:
    """Put the figures under "query" in the results file, keeping what the other sections wrote there."""
    document = json.loads(output.read_text()) if output.exists() else {}
    document["query"] = results
    output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 20,000 messages, 200 queries")
    parser.add_argument("--count", type=int, default=1_000_000, help="stored messages (default 1,000,000)")
    parser.add_argument("--queries", type=int, default=2_000, help="queries of each kind (default 2,000)")
    parser.add_argument("--output", type=Path, help="results file (default bench/results.json)")
    args = parser.parse_args(argv)
    if args.quick:
        args.count, args.queries = 20_000, 200
    output = args.output or BENCH_DIR / ("results.quick.json" if args.quick else "results.json")
    results = measure(args.count, args.queries)
    # Latency against the store's size (docs/bench-query-latency.png): the same at a hundredth and a tenth.
    by_size = {str(size): measure(size, args.queries) for size in (args.count // 100, args.count // 10) if size}
    results["by_size"] = {**by_size, str(args.count): {k: results[k] for k in ("memory", "durable")}}
    print(table(results))
    write(results, output)
    print(f"wrote query figures to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
