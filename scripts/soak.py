"""Load: hold N concurrent senders against the durable emulator for a fixed time and report the figures.

Starts the emulator with its durable store on a free port (AK/SK signing on, as against the real service),
runs `--senders` tasks (default 64) that each send one message after another through the wrapper's
`AsyncClient` for `--seconds` (default 30), then reports sends per second and the p50/p99/max latency of one
send. Afterwards it checks that the emulator stored exactly the acknowledged messages.

Zero errors are expected: the exit status is 1 if any send failed or the store disagrees. The figures are
reported, never asserted on (they depend on the machine).

    python scripts/soak.py --seconds 30 --senders 64 [--json FILE] [--memory]
    python scripts/soak.py --markdown FILE    # a results file as the table docs/reliability.md shows
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import json
import pathlib
import statistics
import sys
import time
from typing import Any

from crash_test import run_facts  # scripts/, this script's directory
from dms_rocketmq._constants import DEFAULT_MAX_CONNECTIONS
from dms_rocketmq_emulator import EmulatorProcess, start_emulator

TOPIC = "soak"


@dataclasses.dataclass
class SoakFigures:
    """What one soak run measured."""

    senders: int
    seconds: float
    store: str = "durable"
    #: The AsyncClient's pool size; None: the client's default.
    max_connections: int | None = None
    elapsed_seconds: float = 0.0
    sends: int = 0
    errors: int = 0
    sends_per_second: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    stored: int = 0
    #: The emulator's resident memory before and after the load (KiB): a leak would show as steady growth.
    rss_before_kib: int = 0
    rss_after_kib: int = 0
    first_errors: list[str] = dataclasses.field(default_factory=list)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The value below which `fraction` of the sorted values fall (nearest rank)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return sorted_values[rank]


async def load(
    emulator: EmulatorProcess, *, senders: int, seconds: float, max_connections: int | None = None
) -> tuple[list[float], list[str], float]:
    """Run the senders; return every successful send's latency (s), the errors, and the elapsed time."""
    from dms_rocketmq import AsyncClient, DMSError

    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds

    async def sender(client: AsyncClient, worker: int) -> None:
        sequence = 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                await client.send(TOPIC, f"soak-w{worker}-n{sequence}")
            except DMSError as exc:
                errors.append(repr(exc))
            else:
                latencies.append(time.perf_counter() - started)
            sequence += 1

    pool = {} if max_connections is None else {"max_connections": max_connections}
    client = AsyncClient(
        endpoint=emulator.url,
        project_id=emulator.project_id,
        instance_id=emulator.instance_id,
        ak=emulator.ak,
        sk=emulator.sk,
        **pool,
    )
    async with client:
        started = time.monotonic()
        await asyncio.gather(*(sender(client, worker) for worker in range(senders)))
        elapsed = time.monotonic() - started
    return latencies, errors, elapsed


def markdown(document: dict[str, Any]) -> str:
    """A results file of this script as the Markdown table docs/reliability.md shows."""
    run = document["run"]
    pool = document.get("max_connections") or DEFAULT_MAX_CONNECTIONS
    return "\n".join(
        [
            f"`{run['command']}` at {run['started']}: {document['store']} store, AK/SK signing, a pool of {pool} "
            f"connections; {run['cores']} cores, Python {run['python']}, load average "
            f"{run['load_average_at_end'][0]:.1f} at the end.",
            "",
            "| senders | seconds | sends | sends/s | p50 | p99 | max | errors | stored | emulator RSS |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
            f"| {document['senders']} | {document['elapsed_seconds']:.1f} | {document['sends']:,} "
            f"| {document['sends_per_second']:,.0f} | {document['p50_ms']:.1f} ms | {document['p99_ms']:.1f} ms "
            f"| {document['max_ms']:.1f} ms | {document['errors']} | {document['stored']:,} "
            f"| {document['rss_before_kib'] / 1024:.1f} -> {document['rss_after_kib'] / 1024:.1f} MiB |",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run the soak; exit status 0 when no send failed and the store holds exactly what was acknowledged."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to send (default 30)")
    parser.add_argument("--senders", type=int, default=64, help="concurrent senders (default 64)")
    parser.add_argument("--memory", action="store_true", help="use the in-memory store instead of the durable one")
    parser.add_argument(
        "--max-connections", type=int, help=f"AsyncClient connection pool size (default {DEFAULT_MAX_CONNECTIONS})"
    )
    parser.add_argument("--json", type=pathlib.Path, help="also write the figures to this file as JSON")
    parser.add_argument(
        "--markdown", type=pathlib.Path, metavar="RESULTS.json", help="print a results file as Markdown; run nothing"
    )
    options = parser.parse_args(argv)
    if options.markdown:
        print(markdown(json.loads(options.markdown.read_text())))
        return 0
    started = datetime.datetime.now(datetime.UTC)
    figures = SoakFigures(
        senders=options.senders,
        seconds=options.seconds,
        store="memory" if options.memory else "durable",
        max_connections=options.max_connections,
    )
    with start_emulator(memory=options.memory, auth=True, topics=(f"{TOPIC}:8",)) as emulator:
        figures.rss_before_kib = emulator.rss_kib()
        latencies, errors, elapsed = asyncio.run(
            load(emulator, senders=options.senders, seconds=options.seconds, max_connections=options.max_connections)
        )
        figures.rss_after_kib = emulator.rss_kib()
        figures.stored = len(emulator.messages(TOPIC))
    latencies.sort()
    figures.sends = len(latencies)
    figures.errors = len(errors)
    figures.first_errors = errors[:5]
    figures.elapsed_seconds = round(elapsed, 1)
    figures.sends_per_second = round(len(latencies) / elapsed, 1)
    figures.p50_ms = round(1000 * statistics.median(latencies), 2) if latencies else 0.0
    figures.p99_ms = round(1000 * percentile(latencies, 0.99), 2)
    figures.max_ms = round(1000 * latencies[-1], 2) if latencies else 0.0
    print(
        f"soak ({'memory' if options.memory else 'durable'} store): {figures.senders} senders for "
        f"{elapsed:.1f} s: {figures.sends} sends, {figures.sends_per_second} sends/s, p50 {figures.p50_ms} ms, "
        f"p99 {figures.p99_ms} ms, max {figures.max_ms} ms, {figures.errors} errors, {figures.stored} stored; "
        f"emulator RSS {figures.rss_before_kib / 1024:.1f} -> {figures.rss_after_kib / 1024:.1f} MiB"
    )
    if options.json:
        document = {"run": run_facts("scripts/soak.py", argv, started), **dataclasses.asdict(figures)}
        options.json.write_text(json.dumps(document, indent=2) + "\n")
    failed = False
    for error in figures.first_errors:
        print(f"FAIL: {error}", file=sys.stderr)
        failed = True
    if figures.stored != figures.sends:
        # Every send had one answer (no in-doubt case without a kill), so the store must match exactly.
        print(f"FAIL: {figures.sends} acknowledged but {figures.stored} stored", file=sys.stderr)
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
