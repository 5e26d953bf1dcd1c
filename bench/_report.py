"""What a run reports: the targets, the machine, the console table, `results.json`, and its Markdown form."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _measure import IN_FLIGHT, Row

__all__ = [
    "MACHINE",
    "NOT_MEASURED",
    "TARGETS",
    "Target",
    "bulk_cli_markdown",
    "markdown",
    "query_markdown",
    "ratios",
    "report",
    "results_json",
    "summary",
]

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Target:
    section: str
    numerator: str
    denominator: str
    minimum: float

    @property
    def name(self) -> str:
        return f"{self.section}.{self.numerator}/{self.denominator}"


TARGETS = [
    Target("sequential", "wrapper", "huawei_sdk", 3.0),
    Target("sequential", "wrapper", "raw_httpx", 1.4),
    Target("bulk", "wrapper", "huawei_sdk_async", 4.0),
    Target("bulk", "wrapper", "raw_aiohttp", 0.9),
    Target("server", "emulator_memory", "minimal", 0.6),
    Target("server", "emulator_durable", "emulator_memory", 0.6),
]


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
    }


def package_versions() -> dict[str, str | None]:
    """Versions of the libraries the numbers depend on (uvicorn picks httptools and uvloop when present)."""
    from importlib.metadata import PackageNotFoundError, version

    names = ["httpx", "aiohttp", "httpx-aiohttp", "requests", "huaweicloudsdkcore", "starlette", "uvicorn"]
    names += ["httptools", "uvloop"]
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


MACHINE = machine()


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: how busy the machine was (other work skews the numbers)."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def fmt_rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def fmt_us(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def report(sections: dict[str, list[Row]], extra: dict[str, list[Row]], args: argparse.Namespace) -> str:
    lines: list[str] = []
    titles = {
        "sequential": f"Sequential, one connection, {args.sequential:,} sends, AK/SK signing",
        "bulk": f"Bulk, {args.bulk:,} messages, {IN_FLIGHT} in flight, AK/SK signing",
        "server": f"Server, raw aiohttp loop, {args.server:,} messages, {IN_FLIGHT} in flight",
    }
    for section, rows in sections.items():
        lines.append(f"{titles[section]} (median of {args.section_rounds[section]} rounds)")
        lines.append(
            f"  {'contender':<34} {'sends/s':>9} {'client CPU µs/send':>19} {'server CPU µs/req':>18}  each round"
        )
        for row in rows + extra.get(section, []):
            if row.unavailable:
                lines.append(f"  {row.label:<34} {'n/a':>9}   ({row.unavailable})")
                continue
            each = " / ".join(fmt_rate(s.rate) for s in row.samples)
            lines.append(
                f"  {row.label:<34} {fmt_rate(row.rate):>9} {fmt_us(row.client_cpu_us):>19}"
                f" {fmt_us(row.server_cpu_us):>18}  {each}"
            )
        for row in rows:
            if row.messages_per_commit is not None:
                lines.append(f"  {row.label}: {row.messages_per_commit:,.1f} messages per commit (one fsync each)")
        lines.append("")
    lines.append(f"Machine: {MACHINE['cpu_model']}, {MACHINE['cores']} cores; load average {load_average()}")
    lines.append("Targets (ratios of the medians above)")
    for target, ratio in ratios(sections).items():
        spec = next(t for t in TARGETS if t.name == target)
        if spec.section not in sections:
            continue
        verdict = "n/a" if ratio is None else ("met" if ratio >= spec.minimum else "MISSED")
        shown = "n/a" if ratio is None else f"{ratio:.2f}x"
        lines.append(f"  {target:<45} {shown:>7}  (target >= {spec.minimum:.2f}x)  {verdict}")
    return "\n".join(lines)


def ratios(sections: dict[str, list[Row]]) -> dict[str, float | None]:
    result: dict[str, float | None] = {}
    for target in TARGETS:
        rows = {row.key: row.rate for row in sections.get(target.section, [])}
        top, bottom = rows.get(target.numerator), rows.get(target.denominator)
        result[target.name] = None if top is None or not bottom else round(top / bottom, 3)
    return result


def results_json(
    sections: dict[str, list[Row]], extra: dict[str, list[Row]], args: argparse.Namespace, started: datetime
) -> dict[str, Any]:
    def rates(rows: list[Row]) -> dict[str, float | None]:
        return {row.key: None if row.rate is None else round(row.rate, 1) for row in rows}

    def detail(row: Row) -> dict[str, Any]:
        return {
            "label": row.label,
            "unavailable": row.unavailable,
            "messages": row.workload,
            "rounds_sends_per_s": [round(s.rate, 1) for s in row.samples],
            "client_cpu_us_per_send": None if row.client_cpu_us is None else round(row.client_cpu_us, 1),
            "server_cpu_us_per_request": None if row.server_cpu_us is None else round(row.server_cpu_us, 1),
            "messages_per_commit": None if row.messages_per_commit is None else round(row.messages_per_commit, 1),
        }

    result: dict[str, Any] = {section: rates(rows) for section, rows in sections.items()}
    result["extra"] = {section: rates(rows) for section, rows in extra.items()}
    result["ratios"] = ratios(sections)
    result["targets"] = {t.name: t.minimum for t in TARGETS}
    result["machine"] = MACHINE
    result["run"] = {
        "command": "make bench" if not args.quick else "python bench/run.py --quick",
        "started": started.isoformat(timespec="seconds"),
        "seconds": round((datetime.now(UTC) - started).total_seconds(), 1),
        "git_commit": git_commit(),
        "rounds": args.section_rounds,
        "in_flight": IN_FLIGHT,
        "load_average_at_start": args.load_at_start,
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
    }
    result["details"] = {
        section: {row.key: detail(row) for row in rows + extra.get(section, [])} for section, rows in sections.items()
    }
    return result


def markdown(document: dict[str, Any]) -> str:
    """The tables of a results file in Markdown, for docs/performance.md and the README."""
    titles = {"sequential": "Sequential, one connection", "bulk": "Bulk, 64 in flight", "server": "Server"}
    run, box = document["run"], document["machine"]
    lines = [
        f"`{run['command']}` at {run['started']} (commit {run['git_commit']}, {run['seconds']:.0f} s), "
        f"{box['cpu_model']}, {box['cores']} cores, Python {box['python']}; load average "
        f"{run['load_average_at_start'][0]:.1f} at the start, {run['load_average_at_end'][0]:.1f} at the end.",
        "",
    ]
    for section, title in titles.items():
        rows = document["details"][section]
        messages = max(row["messages"] for row in rows.values())
        lines += [
            f"**{title}** ({messages:,} messages, median of {run['rounds'][section]} rounds)",
            "",
            "| contender | sends/s | client CPU µs/send | server CPU µs/request | each round |",
            "|---|---:|---:|---:|---|",
        ]
        for key, row in rows.items():
            rounds = row["rounds_sends_per_s"]
            median = f"{statistics.median(rounds):,.0f}" if rounds else "n/a"
            each = " / ".join(f"{rate:,.0f}" for rate in rounds) or (row["unavailable"] or "")
            lines.append(
                f"| `{key}`: {row['label']} | {median} | {fmt_us(row['client_cpu_us_per_send'])} "
                f"| {fmt_us(row['server_cpu_us_per_request'])} | {each} |"
            )
        for row in rows.values():
            if row.get("messages_per_commit"):
                lines += [
                    "",
                    f"{row['label']}: {row['messages_per_commit']:,.1f} messages per commit (one fsync each).",
                ]
        lines.append("")
    lines += ["| ratio | measured | target | |", "|---|---:|---:|---|"]
    for name, ratio in document["ratios"].items():
        target = document["targets"][name]
        verdict = "n/a" if ratio is None else ("met" if ratio >= target else "**missed**")
        shown = "n/a" if ratio is None else f"{ratio:.2f}x"
        lines.append(f"| {name} | {shown} | ≥ {target:.2f}x | {verdict} |")
    lines += ["", query_markdown(document.get("query")), "", bulk_cli_markdown(document.get("bulk_cli"))]
    return "\n".join(lines)


#: What a table says in place of a section the results file lacks (a run with `--only`, or an older file).
NOT_MEASURED = "not measured in this run"
QUERY_TITLE = "**ListMessages query speed** (`bench/query.py`)"
BULK_CLI_TITLE = "**Bulk CLI** (`dms-rocketmq send --file`, `bench/bulk_cli.py`)"
QUERY_KINDS = {
    "by_msg_id": "by `msg_id`",
    "by_key": "by key",
    "range_first_page": "time range, first page",
    "range_page_at_random": "time range, page at a random depth",
    "queue_page_at_random": "one queue's time range, page at a random depth",
}


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def query_markdown(query: dict[str, Any] | None) -> str:
    """The query section of a results file: p50/p99 per query kind, store and level."""
    if not query:
        return f"{QUERY_TITLE}: {NOT_MEASURED}."
    lines = [
        f"{QUERY_TITLE}: {query['messages']:,} stored messages, {query['queries_per_kind']:,} queries of each kind,"
        f" one at a time ({query['run']['seconds']:.0f} s, started {query['run']['started']})",
        "",
        "| store | level | query | p50 µs | p99 µs |",
        "|---|---|---|---:|---:|",
    ]
    levels = {
        "store": "`Store.query`, in-process",
        "http": "`GET .../messages` over HTTP",
        "console": "the console's query, at the server",
    }
    for store in ("memory", "durable"):
        for level, title in levels.items():
            for kind, figures in query.get(store, {}).get(level, {}).items():
                lines.append(
                    f"| {store} | {title} | {QUERY_KINDS.get(kind, kind)} "
                    f"| {figures['p50_us']:,.1f} | {figures['p99_us']:,.1f} |"
                )
    lines += [
        "",
        f"Filling the store ({query['messages']:,} messages through `Store.load`): memory"
        f" {query['memory']['fill_seconds']:,.1f} s, durable {query['durable']['fill_seconds']:,.1f} s.",
    ]
    if "console_p99_ms" in query:
        lines.append(f"The console's slowest query kind, p99 at the server: {query['console_p99_ms']:,.2f} ms.")
    return "\n".join(lines)


def bulk_cli_markdown(bulk_cli: dict[str, Any] | None) -> str:
    """The bulk-CLI section of a results file: the CLI against `send_many`, and the CLI's peak RSS by file size."""
    if not bulk_cli:
        return f"{BULK_CLI_TITLE}: {NOT_MEASURED}."
    cli, small, send_many, met = bulk_cli["cli"], bulk_cli["cli_small"], bulk_cli["send_many"], bulk_cli["met"]
    lines = [
        f"{BULK_CLI_TITLE}: one run each of `{bulk_cli['command']}`, {bulk_cli['in_flight']} in flight, the whole"
        " process timed",
        "",
        "| contender | lines | messages/s | CPU µs/message | peak RSS MiB |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in [
        ("`dms-rocketmq send --file --results`", cli),
        ("`AsyncClient.send_many`, same file", send_many),
        ("`dms-rocketmq send --file --results`", small),
    ]:
        lines.append(
            f"| {name} | {row['lines']:,} | {row['messages_per_second']:,.0f} | {row['cpu_us_per_message']:,.0f} "
            f"| {row['peak_rss_mib']:,.1f} |"
        )
    ratio, target_ratio = bulk_cli["ratio_cli_to_send_many"], bulk_cli["target_ratio"]
    rss, target_rss = cli["peak_rss_mib"], bulk_cli["target_peak_rss_mib"]
    lines += [
        "",
        "| figure | measured | target | |",
        "|---|---:|---:|---|",
        f"| CLI / `send_many`, {cli['lines']:,} lines | {ratio:.2f}x | ≥ {target_ratio:.2f}x "
        f"| {verdict(met['ratio'])} |",
        f"| CLI peak RSS, {cli['lines']:,} lines | {rss:,.1f} MiB | < {target_rss} MiB | {verdict(met['rss'])} |",
        f"| CLI peak RSS, {small['lines']:,} → {cli['lines']:,} lines | {small['peak_rss_mib']:,.1f} → {rss:,.1f} MiB "
        f"| flat | {verdict(met['flat'])} |",
    ]
    return "\n".join(lines)


#: The README's rows: (section, key, how the README names it, the ratio shown beside it and what it is of; a row
#: with no named ratio but an "of" shows the section's wrapper row against it, untargeted).
SUMMARY_ROWS: list[tuple[str, str, str, str | None, str]] = [
    ("sequential", "wrapper", "**wrapper `Client.send`**", None, ""),
    ("sequential", "huawei_sdk", "Huawei SDK `send_message`", "sequential.wrapper/huawei_sdk", "wrapper"),
    ("sequential", "raw_httpx", "raw httpx, prebuilt JSON", "sequential.wrapper/raw_httpx", "wrapper"),
    ("bulk", "wrapper", "**wrapper `AsyncClient.send_many`**", None, ""),
    ("bulk", "huawei_sdk_async", "Huawei SDK async client", "bulk.wrapper/huawei_sdk_async", "wrapper"),
    ("bulk", "raw_aiohttp", "raw aiohttp, prebuilt JSON", "bulk.wrapper/raw_aiohttp", "wrapper"),
    # No target: the ratio shows what the hand-written fast path buys over the generated client.
    ("bulk", "wrapper_generated_path", "wrapper `AsyncClient` through the generated client", None, "fast path"),
    ("bulk", "httpx_default_pool", "httpx `AsyncClient`, default pool", None, ""),
    ("server", "minimal", "minimal Starlette app", None, ""),
    ("server", "emulator_memory", "**emulator `--memory`**", "server.emulator_memory/minimal", "minimal"),
    ("server", "emulator_durable", "**emulator `--data-dir`**", "server.emulator_durable/emulator_memory", "memory"),
]


def summary(document: dict[str, Any]) -> str:
    """The README's performance table from a results file: each contender's rate and CPU, and the six ratios."""
    run, box, details = document["run"], document["machine"], document["details"]
    workloads = {
        "sequential": "Sequential, 1 connection, {messages:,} signed sends",
        "bulk": "Bulk, {messages:,} signed sends, 64 in flight",
        "server": "Server, driven by raw aiohttp at 64 in flight",
    }
    rounds = ", ".join(f"{count} {section}" for section, count in run["rounds"].items())
    lines = [
        f"Quoted run: `{run['command']}` at {run['started']} (commit {run['git_commit']}), {box['cpu_model']}, "
        f"{box['cores']} cores, Python {box['python']}, load average {run['load_average_at_start'][0]:.1f} at the "
        f"start; median of the rounds ({rounds}).",
        "",
        "| workload | contender | sends/s | client CPU µs/send | ratio (target) |",
        "|---|---|---:|---:|---|",
    ]
    shown: set[str] = set()
    for section, key, name, ratio, of in SUMMARY_ROWS:
        row = details[section].get(key)
        if row is None or not row["rounds_sends_per_s"]:
            continue
        workload = ""
        if section not in shown:
            shown.add(section)
            workload = workloads[section].format(messages=row["messages"])
        rate = f"{statistics.median(row['rounds_sends_per_s']):,.0f}"
        if name.startswith("**"):
            rate = f"**{rate}**"
        cpu = fmt_us(row["client_cpu_us_per_send"]) if section != "server" else ""
        note = ""
        if ratio is not None and document["ratios"].get(ratio) is not None:
            value, target = document["ratios"][ratio], document["targets"][ratio]
            note = f"wrapper {value:.2f}x" if of == "wrapper" else f"{value:.2f}x {of}"
            note += f" (≥ {target:g}x)"
        elif ratio is None and of and details[section].get("wrapper", {}).get("rounds_sends_per_s"):
            wrapper = statistics.median(details[section]["wrapper"]["rounds_sends_per_s"])
            note = f"{of} {wrapper / statistics.median(row['rounds_sends_per_s']):.2f}x"
        if row.get("messages_per_commit"):
            name += f" ({row['messages_per_commit']:,.1f} messages per fsync)"
        lines.append(f"| {workload} | {name} | {rate} | {cpu} | {note} |")
    lines += ["", summary_bulk_cli(document.get("bulk_cli")), "", summary_query(document.get("query"))]
    return "\n".join(lines)


def summary_bulk_cli(bulk_cli: dict[str, Any] | None) -> str:
    """The README's sentence on the CLI's bulk send: its rate against `send_many` and its peak memory."""
    if not bulk_cli:
        return f"Bulk CLI (`dms-rocketmq send --file`): {NOT_MEASURED}."
    cli, small, met = bulk_cli["cli"], bulk_cli["cli_small"], bulk_cli["met"]
    return (
        f"Bulk CLI: `dms-rocketmq send --file` sent {cli['lines']:,} lines at {cli['messages_per_second']:,.0f}"
        f" messages/s, {bulk_cli['ratio_cli_to_send_many']:.2f}x `AsyncClient.send_many` on the same file"
        f" (≥ {bulk_cli['target_ratio']:g}x: {verdict(met['ratio'])}), with a peak RSS of"
        f" {cli['peak_rss_mib']:,.1f} MiB ({small['peak_rss_mib']:,.1f} MiB for {small['lines']:,} lines;"
        f" < {bulk_cli['target_peak_rss_mib']} MiB: {verdict(met['rss'])}, flat: {verdict(met['flat'])})."
    )


def summary_query(query: dict[str, Any] | None) -> str:
    """The README's line on ListMessages speed: what a client sees over HTTP from the durable emulator."""
    if not query:
        return f"ListMessages query speed: {NOT_MEASURED}."
    http = query["durable"].get("http", {})
    kinds = "; ".join(
        f"{QUERY_KINDS.get(kind, kind)} p50 {figures['p50_us']:,.0f} µs, p99 {figures['p99_us']:,.0f} µs"
        for kind, figures in http.items()
    )
    return (
        f"ListMessages with {query['messages']:,} stored messages, durable emulator over HTTP: {kinds or NOT_MEASURED}"
        " (in-process and memory-store figures in docs/performance.md)."
    )
