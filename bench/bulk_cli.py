"""The `dms-rocketmq send --file` bench: a generated JSONL file through the CLI to the memory emulator.

Measures, on the same generated file and the same emulator:
- the CLI (`send --file --results`, journal on, 64 in flight): messages per second of the whole process,
  against `AsyncClient.send_many` (64 in flight) fed the same file's lines in a script (target >= 0.8x);
- the CLI's peak RSS for a small and a large file (target under 150 MiB, and flat: the large file must not
  need more memory than the small one).

Runnable alone (`python bench/bulk_cli.py [--quick] [--lines N] [--output PATH]`); `bench/run.py` calls
`measure()` and stores the result in its results file under `bulk_cli`. It asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _measure import BODY_LENGTH, IN_FLIGHT, TOPIC
from _servers import start_emulator

__all__ = ["measure"]

LINES = 1_000_000
SMALL_LINES = 100_000
QUICK_LINES = 20_000
QUICK_SMALL_LINES = 5_000
TARGET_RATIO = 0.8
TARGET_RSS_MIB = 150

# The contender: AsyncClient.send_many fed the file's lines (parsed as the CLI parses them), in a process of its
# own so that its wall time and peak RSS are measured the same way as the CLI's.
SEND_MANY = """
import asyncio, json, sys
from dms_rocketmq import AsyncClient, Message, SendResult

def messages(path):
    with open(path, "rb") as stream:
        for raw in stream:
            document = json.loads(raw)
            yield Message(sys.argv[2], document["body"], keys=document.get("keys"))

async def main():
    async with AsyncClient() as client:
        outcomes = await client.send_many(messages(sys.argv[1]), concurrency=int(sys.argv[3]))
    failed = [o for o in outcomes if not isinstance(o, SendResult)]
    if failed:
        sys.exit(f"send_many: {len(failed)} failures, first: {failed[0]!r}")
    print(json.dumps({"sent": len(outcomes)}))

asyncio.run(main())
"""


def write_file(path: Path, count: int) -> None:
    """`count` lines of BODY_LENGTH-character bodies, each with one key (the bulk section's workload)."""
    with path.open("w", encoding="utf-8") as stream:
        for i in range(count):
            body = f"order {i:08d} placed; ".ljust(BODY_LENGTH, "x")
            stream.write(json.dumps({"body": body, "keys": f"order-{i:08d}"}) + "\n")


def run_measured(argv: list[str], env: dict[str, str], out: Path) -> tuple[float, float, float]:
    """Run a process to its end; its wall seconds, peak RSS in MiB and CPU seconds (from wait4)."""
    with out.open("wb") as stdout:
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.PIPE)
        assert process.stderr is not None
        errors = process.stderr.read()
        _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {process.returncode}: {errors.decode(errors='replace')[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime  # ru_maxrss is in KiB on Linux


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("dms-rocketmq")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dms_rocketmq"]


def measure(*, quick: bool = False, lines: int | None = None, small_lines: int | None = None) -> dict[str, Any]:
    """Run the bench; the figures as a JSON-compatible dictionary."""
    lines = lines or (QUICK_LINES if quick else LINES)
    small_lines = small_lines or (QUICK_SMALL_LINES if quick else SMALL_LINES)
    emulator = start_emulator(memory=True)
    env = emulator.client_env()
    try:
        with tempfile.TemporaryDirectory(prefix="dms-bench-cli-") as folder:
            work = Path(folder)
            big, small = work / "big.jsonl", work / "small.jsonl"
            write_file(big, lines)
            write_file(small, small_lines)

            def cli(source: Path, count: int) -> dict[str, Any]:
                emulator.reset()
                journal = work / f"results-{count}.jsonl"
                journal.unlink(missing_ok=True)
                argv = [*cli_command(), "send", "--topic", TOPIC, "--file", str(source), "--results", str(journal)]
                argv += ["--concurrency", str(IN_FLIGHT), "--output", "json"]
                seconds, rss, cpu = run_measured(argv, env, work / "cli.out")
                summary = json.loads((work / "cli.out").read_text())
                if summary["sent"] != count:
                    raise RuntimeError(f"the CLI sent {summary['sent']} of {count}: {summary}")
                return {
                    "lines": count,
                    "seconds": round(seconds, 2),
                    "messages_per_second": round(count / seconds, 1),
                    "summary_messages_per_second": summary["messages_per_second"],
                    "cpu_us_per_message": round(cpu / count * 1e6, 1),
                    "peak_rss_mib": round(rss, 1),
                }

            def send_many() -> dict[str, Any]:
                emulator.reset()
                script = work / "send_many.py"
                script.write_text(SEND_MANY, encoding="utf-8")
                argv = [sys.executable, str(script), str(big), TOPIC, str(IN_FLIGHT)]
                seconds, rss, cpu = run_measured(argv, env, work / "send_many.out")
                return {
                    "lines": lines,
                    "seconds": round(seconds, 2),
                    "messages_per_second": round(lines / seconds, 1),
                    "cpu_us_per_message": round(cpu / lines * 1e6, 1),
                    "peak_rss_mib": round(rss, 1),
                }

            # One run each, back to back (a million lines takes minutes: the bench must stay affordable).
            big_cli = cli(big, lines)
            contender = send_many()
            small_cli = cli(small, small_lines)
    finally:
        emulator.close()
    ratio = big_cli["messages_per_second"] / contender["messages_per_second"]
    peak = big_cli["peak_rss_mib"]
    return {
        "command": "python bench/run.py" + (" --quick" if quick else ""),
        "in_flight": IN_FLIGHT,
        "cli": big_cli,
        "cli_small": small_cli,
        "send_many": contender,
        "ratio_cli_to_send_many": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "cli_peak_rss_mib": {str(small_lines): small_cli["peak_rss_mib"], str(lines): peak},
        "target_peak_rss_mib": TARGET_RSS_MIB,
        "met": {
            "ratio": ratio >= TARGET_RATIO,
            "rss": peak < TARGET_RSS_MIB,
            # Flat: ten times the lines may not cost more than a few MiB more (allocator noise).
            "flat": peak <= small_cli["peak_rss_mib"] + 10,
        },
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_LINES:,} and {QUICK_SMALL_LINES:,}")
    parser.add_argument("--lines", type=int, help=f"lines of the large file (default {LINES:,})")
    parser.add_argument("--small-lines", type=int, help=f"lines of the small file (default {SMALL_LINES:,})")
    parser.add_argument("--output", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args(argv)
    result = measure(quick=args.quick, lines=args.lines, small_lines=args.small_lines)
    result["command"] = " ".join(["python bench/bulk_cli.py", *(sys.argv[1:] if argv is None else argv)])
    text = json.dumps(result, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
