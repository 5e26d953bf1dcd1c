"""`make bench`: throughput of the wrapper and the emulator against Huawei's SDK and the raw limits.

Not a test: it starts its own servers on loopback ports (uvicorn in subprocesses, `_servers.py`), measures
every contender (`_contenders.py`) several rounds, interleaving them (the order rotates each round) so that
noise on a shared machine hits all of them alike, and reports the median of the rounds (`_report.py`). It
prints a table with the ratios against the project's performance targets and writes `bench/results.json`. It
asserts nothing about speed.

Sections (see docs/performance.md for what each contender is and why):
1. sequential: one connection, N sends one after the other, AK/SK signing on; sends/s and client CPU µs/send.
2. bulk: N messages with 64 in flight; sends/s.
3. server: the raw aiohttp loop at 64 in flight against the emulator (memory, durable) and a minimal
   Starlette app; sends/s and server CPU µs/request.
Sections 1 and 2 run against the minimal app, so that the client is what is measured.
Then bench/bulk_cli.py (the CLI on a large file) and bench/telemetry.py (the bulk wrapper with OpenTelemetry on).

Run: `make bench` (full, minutes) or `.venv/bin/python bench/run.py --quick`
(smoke run; writes bench/results.quick.json so the committed results are not overwritten).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import query as query_bench  # bench/query.py, run after the sections below
from _contenders import (
    bulk_httpx_default,
    bulk_huawei_sdk_async,
    bulk_raw_aiohttp,
    bulk_wrapper,
    bulk_wrapper_generated_path,
    sequential_huawei_sdk,
    sequential_raw_httpx,
    sequential_wrapper,
)
from _measure import Row, Workload
from _report import markdown, report, results_json, summary
from _servers import commits, start_emulator, start_minimal
from _sync_rows import sequential_stdlib, sequential_wrapper_generated_path
from dms_rocketmq_emulator import EmulatorProcess

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent

WORKLOADS: dict[int, Workload] = {}


def wrapper_missing() -> str | None:
    """Why the wrapper cannot be benchmarked (not installed, or an incomplete checkout), or None when it can."""
    try:
        import dms_rocketmq
    except ImportError as exc:
        return f"dms_rocketmq does not import: {exc}"
    missing = [n for n in ("Client", "AsyncClient", "Message", "SendResult") if not hasattr(dms_rocketmq, n)]
    return f"dms_rocketmq has no {', '.join(missing)} yet" if missing else None


def emulator_missing() -> str | None:
    """Why the emulator cannot be started yet, or None when it can."""
    try:
        from dms_rocketmq_emulator import _cli
    except ImportError as exc:
        return f"dms_rocketmq_emulator does not import: {exc}"
    if "not implemented" in Path(_cli.__file__).read_text():
        return "the emulator's command line is not implemented yet"
    return None


def run_section(title: str, rows: list[Row], servers: dict[str, EmulatorProcess], rounds: int) -> None:
    """Run every available row `rounds` times, rotating the order each round so no row always goes first."""
    live = [row for row in rows if row.unavailable is None]
    for round_index in range(rounds):
        shift = round_index % len(live) if live else 0
        for row in live[shift:] + live[:shift]:
            server = servers[row.server]
            if row.reset_before:
                server.reset()
            work = WORKLOADS[row.workload]
            commits_before = commits(server) if row.reset_before else None
            cpu_before = server.cpu_seconds()
            sample = row.run(server.url, work)
            cpu_after = server.cpu_seconds()
            if cpu_before is not None and cpu_after is not None:
                sample = dataclasses.replace(sample, server_cpu=cpu_after - cpu_before)
            commits_after = commits(server) if commits_before is not None else None
            if commits_before is not None and commits_after is not None:
                sample = dataclasses.replace(sample, commits=commits_after - commits_before)
            row.samples.append(sample)
            print(
                f"  {title} round {round_index + 1}/{rounds}: {row.label:<34} {sample.rate:>8,.0f} sends/s",
                flush=True,
            )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, small counts")
    parser.add_argument(
        "--rounds",
        type=int,
        help="rounds per contender, median reported (default: 5 sequential, 3 bulk, 5 server)",
    )
    parser.add_argument("--sequential", type=int, default=2_000, help="sends per sequential run")
    parser.add_argument("--bulk", type=int, default=20_000, help="messages per bulk run")
    parser.add_argument("--server", type=int, default=10_000, help="messages per server run")
    parser.add_argument(
        "--httpx-default", type=int, default=2_000, help="messages per run of the httpx default-pool row (slow)"
    )
    parser.add_argument("--output", type=Path, help="where to write the JSON (default bench/results.json)")
    parser.add_argument(
        "--only",
        choices=["sequential", "bulk", "server", "bulk_cli", "tls", "telemetry", "concurrency"],
        action="append",
        help="run only these sections (bulk_cli, tls, telemetry, concurrency: bench/NAME.py)",
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        metavar="RESULTS.json",
        help="print the tables of an earlier run's results file as Markdown, and run nothing",
    )
    parser.add_argument(
        "--summary",
        type=Path,
        metavar="RESULTS.json",
        help="print the README's performance table from an earlier run's results file, and run nothing",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.sequential, args.bulk, args.server, args.httpx_default = 1, 300, 2_000, 2_000, 1_000
    # The short sections get more rounds: a median of 5 resists a noisy neighbour better, and they are cheap.
    defaults = {"sequential": 5, "bulk": 3, "server": 5}
    args.section_rounds = {section: args.rounds or count for section, count in defaults.items()}
    if args.output is None:
        args.output = BENCH_DIR / ("results.quick.json" if args.quick else "results.json")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return 0
    if args.summary:
        print(summary(json.loads(args.summary.read_text())))
        return 0
    started = datetime.now(UTC)
    args.load_at_start = [round(value, 2) for value in os.getloadavg()]
    for count in {args.sequential, args.bulk, args.server, args.httpx_default}:
        WORKLOADS[count] = Workload.make(count)

    no_wrapper, no_emulator = wrapper_missing(), emulator_missing()
    sections: dict[str, list[Row]] = {
        "sequential": [
            Row("wrapper", "wrapper Client.send", sequential_wrapper, "minimal", args.sequential),
            Row("huawei_sdk", "Huawei SDK send_message", sequential_huawei_sdk, "minimal", args.sequential),
            Row("raw_httpx", "raw httpx, prebuilt JSON", sequential_raw_httpx, "minimal", args.sequential),
        ],
        "bulk": [
            Row("wrapper", "wrapper AsyncClient.send_many", bulk_wrapper, "minimal", args.bulk),
            Row(
                "huawei_sdk_async",
                "Huawei SDK async send_message_async",
                bulk_huawei_sdk_async,
                "minimal",
                args.bulk,
            ),
            Row("raw_aiohttp", "raw aiohttp, prebuilt JSON", bulk_raw_aiohttp, "minimal", args.bulk),
        ],
        "server": [
            Row("minimal", "minimal Starlette app", bulk_raw_aiohttp, "minimal", args.server),
            Row("emulator_memory", "emulator --memory", bulk_raw_aiohttp, "memory", args.server, True),
            Row("emulator_durable", "emulator --data-dir", bulk_raw_aiohttp, "durable", args.server, True),
        ],
    }
    extra = {
        "sequential": [
            Row("stdlib", "standard library (http.client), signed", sequential_stdlib, "minimal", args.sequential),
            Row(
                "wrapper_generated_path",
                "wrapper Client, generated path",
                sequential_wrapper_generated_path,
                "minimal",
                args.sequential,
            ),
        ],
        "bulk": [
            Row(
                "httpx_default_pool",
                "httpx AsyncClient default pool",
                bulk_httpx_default,
                "minimal",
                args.httpx_default,
            ),
            Row(
                "wrapper_generated_path",
                "wrapper AsyncClient, generated path",
                bulk_wrapper_generated_path,
                "minimal",
                args.bulk,
            ),
        ],
    }
    for section in ("sequential", "bulk"):
        sections[section][0].unavailable = no_wrapper
    extra["bulk"][1].unavailable = no_wrapper
    extra["sequential"][1].unavailable = no_wrapper
    for row in sections["server"][1:]:
        row.unavailable = no_emulator
    chosen = [section for section in args.only or list(sections) if section in sections]

    servers: dict[str, EmulatorProcess] = {}
    with tempfile.TemporaryDirectory(prefix="dms-bench-") as data_dir:
        try:
            servers["minimal"] = start_minimal()
            if "server" in chosen and no_emulator is None:
                servers["memory"] = start_emulator(memory=True)
                servers["durable"] = start_emulator(memory=False, data_dir=data_dir)
            for section in chosen:
                rows = sections[section] + extra.get(section, [])
                print(f"{section}:", flush=True)
                run_section(section, rows, servers, args.section_rounds[section])
        finally:
            for server in servers.values():
                server.close()

    concurrency_figures = None
    if not args.only or "concurrency" in args.only:
        import concurrency  # bench/concurrency.py, beside this file

        print("concurrency:", flush=True)
        concurrency_figures = concurrency.run(quick=args.quick)
    bulk_cli_figures = None
    if not args.only or "bulk_cli" in args.only:
        import bulk_cli  # bench/bulk_cli.py, beside this file

        print("bulk_cli:", flush=True)
        bulk_cli_figures = bulk_cli.measure(quick=args.quick)
        print(json.dumps(bulk_cli_figures, indent=2))
    telemetry_figures = None
    if not args.only or "telemetry" in args.only:
        import telemetry  # bench/telemetry.py, beside this file

        print("telemetry:", flush=True)
        telemetry_figures = telemetry.measure(quick=args.quick)
        print(json.dumps(telemetry_figures, indent=2))
    print()
    print(report({s: sections[s] for s in chosen}, extra, args) if args.only else report(sections, extra, args))
    if not args.only:
        document = results_json(sections, extra, args, started)
        document["bulk_cli"] = bulk_cli_figures
        document["telemetry"] = telemetry_figures
        document["concurrency"] = concurrency_figures
        args.output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        print(f"\nwrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
        query_bench.main([*(["--quick"] if args.quick else []), "--output", str(args.output)])
    if not args.only or "tls" in args.only:
        import tls  # bench/tls.py: sections sequential_tls and bulk_tls, over HTTPS

        tls.main([*(["--quick"] if args.quick else []), "--output", str(args.output)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
