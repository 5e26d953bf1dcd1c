"""One bulk send, by layer: where `AsyncClient.send_many`'s client CPU goes, beside the raw aiohttp contender's.

Starts the bench's minimal server, then sends N messages 64 in flight under cProfile, twice: with
`AsyncClient.send_many` (the default direct path) and with the bulk section's raw aiohttp loop (prebuilt JSON,
the same signing as `RawSigner`). Each function's own time (tottime) is added to the layer its file belongs to,
the calls of the functions that run once per message are counted, and so are the garbage collector's passes
in an unprofiled run beside its CPU time (`gc.callbacks`: a result kept per message makes the collector run
more often, and each pass costs about a millisecond among aiohttp's objects). cProfile slows every call alike, so
read the shares and the call counts, not the absolute microseconds (those are `make bench`'s). Prints Markdown
tables; docs/performance.md quotes a run of it.

Run: `.venv/bin/python bench/profile_bulk.py [--sends N]`
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from _contenders import RawSigner, _signed_worker_loop
from _layers import layer_of, print_layer_table
from _measure import AK, IN_FLIGHT, INSTANCE_ID, PROJECT_ID, SEND_PATH, SK, TOPIC, CollectorWatch, Workload
from _servers import start_minimal

#: (layer, what a file's path contains), the first match wins.
LAYERS: list[tuple[str, str]] = [
    ("wrapper: bulk engine and policy (_bulk*, _flight, _rate)", "dms_rocketmq/_bulk"),
    ("wrapper: bulk engine and policy (_bulk*, _flight, _rate)", "dms_rocketmq/_flight"),
    ("wrapper: bulk engine and policy (_bulk*, _flight, _rate)", "dms_rocketmq/_rate"),
    ("wrapper: signing (_auth)", "dms_rocketmq/_auth"),
    ("wrapper: direct sender, body, 200 parser (_fast_path)", "dms_rocketmq/_fast_path"),
    ("wrapper: validation and models (_validation, _models)", "dms_rocketmq/_validation"),
    ("wrapper: validation and models (_validation, _models)", "dms_rocketmq/_models"),
    ("wrapper: retry loop (_client, _base, _retry)", "dms_rocketmq/_client"),
    ("wrapper: retry loop (_client, _base, _retry)", "dms_rocketmq/_base"),
    ("wrapper: retry loop (_client, _base, _retry)", "dms_rocketmq/_retry"),
    ("wrapper: the rest", "dms_rocketmq/"),
    ("generated models (dms_rocketmq_api)", "dms_rocketmq_api"),
    ("bench harness", "/bench/"),
    ("aiohttp", "/aiohttp/"),
    ("multidict, yarl", "/multidict/"),
    ("multidict, yarl", "/yarl/"),
    ("asyncio", "/asyncio/"),
    ("json", "/json/"),
]

#: Functions whose call counts show what runs per message: (label, file contains, function name).
COUNTED: list[tuple[str, str, str]] = [
    ("AsyncClient.send", "dms_rocketmq/_client", "send"),
    ("DirectSender.send", "dms_rocketmq/_fast_path", "send"),
    ("request_body (checks, request model)", "dms_rocketmq/_base", "request_body"),
    ("encode_request", "dms_rocketmq/_fast_path", "encode_request"),
    ("PrecomputedSigner.sign", "dms_rocketmq/_auth", "sign"),
    ("fast_send_result", "dms_rocketmq/_fast_path", "fast_send_result"),
    ("ClientSession._request", "/aiohttp/client.py", "_request"),
    ("ContextVar.get / set", "~", "<method 'get' of '_contextvars.ContextVar' objects>"),
    ("ContextVar.get / set", "~", "<method 'set' of '_contextvars.ContextVar' objects>"),
    ("time.monotonic", "~", "<built-in method time.monotonic>"),
    ("loop.create_task", "/asyncio/base_events.py", "create_task"),
    ("TimerHandle (call_at)", "/asyncio/base_events.py", "call_at"),
]


class Profiled:
    """Own time per layer and per-message call counts of a profiled run; CPU time and garbage collections of
    an unprofiled one."""

    def __init__(self, stats: pstats.Stats, collections: list[int], cpu: float) -> None:
        self.collections = collections
        self.cpu = cpu
        self.layers: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)
        self.calls = 0
        for (filename, _line, name), (_cc, calls, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            self.layers[layer_of(filename, LAYERS)] += tottime
            self.calls += calls
            for label, marker, counted in COUNTED:
                if name == counted and (marker == filename if marker == "~" else marker in filename):
                    self.counts[label] += calls


def profile(
    run: Callable[[], Awaitable[None]], warm_up: Callable[[], Awaitable[None]], close: Callable[[], Awaitable[None]]
) -> Profiled:
    """In one loop: `warm_up()` (connections made, caches filled), `run()` unprofiled (its CPU time and garbage
    collections counted), `run()` under cProfile, then `close()`."""
    profiler = cProfile.Profile(time.process_time)  # CPU time: the wait for the server is not the client's cost
    watch = CollectorWatch()
    cpu = 0.0

    async def main() -> None:
        nonlocal cpu
        try:
            await warm_up()
            gc.collect()
            with watch:
                started = time.process_time()
                await run()
                cpu = time.process_time() - started
            profiler.enable()
            try:
                await run()
            finally:
                profiler.disable()
        finally:
            await close()

    asyncio.run(main())
    return Profiled(pstats.Stats(profiler), watch.passes, cpu)


def profile_wrapper(url: str, work: Workload) -> Profiled:
    from dms_rocketmq import AsyncClient, Message, SendResult

    client = AsyncClient(endpoint=url, project_id=PROJECT_ID, instance_id=INSTANCE_ID, ak=AK, sk=SK)

    async def send(count: int) -> None:
        messages = [Message(TOPIC, work.bodies[i], keys=work.keys[i]) for i in range(count)]
        results = await client.send_many(messages, concurrency=IN_FLIGHT)
        failed = [r for r in results if not isinstance(r, SendResult)]
        if failed:
            raise RuntimeError(f"{len(failed)} sends failed, first: {failed[0]!r}")

    return profile(lambda: send(len(work)), lambda: send(4 * IN_FLIGHT), client.aclose)


def profile_raw_aiohttp(url: str, work: Workload) -> Profiled:
    import aiohttp

    signer = RawSigner(url, AK, SK)
    target = url + SEND_PATH
    session: list[Any] = []

    async def post(payload: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        async with session[0].post(target, data=payload, headers=headers) as response:
            return response.status, await response.read()

    async def warm_up() -> None:
        session.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=IN_FLIGHT)))
        await _signed_worker_loop(post, signer, work.payloads[: 4 * IN_FLIGHT], "raw aiohttp")

    async def close() -> None:
        if session:
            await session[0].close()

    return profile(lambda: _signed_worker_loop(post, signer, work.payloads, "raw aiohttp"), warm_up, close)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--sends", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=1, help="runs of each, interleaved; the least CPU kept")
    options = parser.parse_args(argv)
    work = Workload.make(options.sends)
    server = start_minimal()
    results: dict[str, Profiled] = {}
    try:
        for _ in range(options.rounds):
            for name, contender in (("send_many", profile_wrapper), ("raw aiohttp", profile_raw_aiohttp)):
                found = contender(server.url, work)
                best = results.get(name)
                if best is None or found.cpu < best.cpu:
                    results[name] = found
    finally:
        server.close()
    sends = options.sends
    names = list(results)
    heading = f"layer (own time, µs per message under cProfile, {sends:,} messages, 64 in flight)"
    print_layer_table(heading, {name: found.layers for name, found in results.items()}, sends, decimals=1)
    print()
    print("| unprofiled run | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    print("| client CPU µs per message | " + " | ".join(f"{results[n].cpu / sends * 1e6:,.0f}" for n in names) + " |")
    for generation in range(3):
        cells = [f"{results[n].collections[generation] / sends * 1000:,.1f}" for n in names]
        print(f"| garbage collections of generation {generation}, per 1,000 messages | " + " | ".join(cells) + " |")
    print()
    print("| calls per message (profiled run) | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    print("| all Python and C functions | " + " | ".join(f"{results[n].calls / sends:,.1f}" for n in names) + " |")
    for label in dict.fromkeys(label for label, _, _ in COUNTED):
        print(f"| {label} | " + " | ".join(f"{results[n].counts.get(label, 0) / sends:,.2f}" for n in names) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
