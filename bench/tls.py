"""Throughput over HTTPS, as against the real service: sections `sequential_tls` and `bulk_tls`.

The same contenders as the plain-HTTP sections (bench/run.py: the wrapper, Huawei's SDK, raw httpx, raw
aiohttp), against the minimal app served over TLS by the same uvicorn stack with a certificate from a local CA
(the emulator's `_tls`). Each client trusts that CA through `SSL_CERT_FILE`, the variable every one of them
honours (Huawei's SDK skips verification, as in the plain sections; the handshake is the same).

The server counts the TLS connections that carried a request: each made exactly one handshake (TLS 1.3, no
renegotiation), so the count per contender is the handshakes it cost; `handshakes_per_10k` scales it to
10,000 sends (warm-up included). A client that reuses its connections stays far below its pool size.

Run alone: `.venv/bin/python bench/tls.py [--quick]`; `make bench` runs it after the other sections
(bench/run.py). Figures go under `"sequential_tls"` and `"bulk_tls"` in the results file (bench/results.json,
or bench/results.quick.json with --quick). Nothing is asserted about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import ssl
import statistics
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from _contenders import (
    _bulk_raw_aiohttp,
    bulk_huawei_sdk_async,
    bulk_wrapper,
    sequential_huawei_sdk,
    sequential_raw_httpx,
    sequential_wrapper,
)
from _measure import Contender, Sample, Workload, warm_up_of
from dms_rocketmq_emulator import EmulatorProcess
from dms_rocketmq_emulator._process import ENDPOINT_BANNER

BENCH_DIR = Path(__file__).resolve().parent
COUNT_PATH = "/_bench/tls-connections"
#: Targets (docs/performance.md): ratio of the first row to the second, at least this much.
TARGETS = {
    "sequential_tls": [("wrapper", "huawei_sdk", 1.4)],
    "bulk_tls": [("wrapper", "huawei_sdk_async", 6.0), ("wrapper", "raw_aiohttp", 0.8)],
}
#: Handshakes per 10,000 sends at most: the wrapper's pool size (connections are reused).
HANDSHAKE_TARGET = 128


def bulk_raw_aiohttp(url: str, work: Workload) -> Sample:
    """Raw aiohttp at 64 in flight over TLS, trusting the CA of SSL_CERT_FILE."""
    # aiohttp builds its default context once, at import: the CA is named here, as a raw aiohttp user would.
    context = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    return asyncio.run(_bulk_raw_aiohttp(url, work, context))


SECTIONS: dict[str, list[tuple[str, Contender]]] = {
    "sequential_tls": [
        ("wrapper", sequential_wrapper),
        ("huawei_sdk", sequential_huawei_sdk),
        ("raw_httpx", sequential_raw_httpx),
    ],
    "bulk_tls": [
        ("wrapper", bulk_wrapper),
        ("huawei_sdk_async", bulk_huawei_sdk_async),
        ("raw_aiohttp", bulk_raw_aiohttp),
    ],
}


def counting_app() -> Any:
    """The minimal app, counting the connections (client address and port) that carried a request."""
    from _servers import minimal_app

    app = minimal_app()
    seen: set[tuple[Any, ...]] = set()

    async def counted(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == COUNT_PATH:
            body = json.dumps({"connections": len(seen)}).encode()
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] == "http":
            seen.add(tuple(scope.get("client") or ()))
        await app(scope, receive, send)

    return counted


def serve(cert: str, key: str) -> None:
    """Child-process entry point: the counting minimal app over TLS on a free loopback port."""
    import uvicorn
    from dms_rocketmq_emulator._cli import bind_socket, uvicorn_options

    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    print(f"{ENDPOINT_BANNER}https://127.0.0.1:{port}", flush=True)
    config = uvicorn.Config(
        counting_app(), host="127.0.0.1", port=port, ssl_certfile=cert, ssl_keyfile=key, **uvicorn_options("warning")
    )
    uvicorn.Server(config).run(sockets=[sock])


@contextlib.contextmanager
def tls_server(folder: Path) -> Iterator[EmulatorProcess]:
    from dms_rocketmq_emulator._tls import server_files

    files = server_files(folder)
    command = [sys.executable, str(Path(__file__).resolve()), "--serve", str(files.cert), str(files.key)]
    process = EmulatorProcess(args=[], workdir=folder, command=command, ca_file=files.ca)
    try:
        yield process.start()
    finally:
        process.close()


@contextlib.contextmanager
def trusting(ca: Path) -> Iterator[None]:
    """SSL_CERT_FILE names the CA for the run (every client honours it), as a user would set it."""
    saved = {name: os.environ.get(name) for name in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    os.environ["SSL_CERT_FILE"] = str(ca)
    os.environ.pop("SSL_CERT_DIR", None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def measure(sequential: int, bulk: int, rounds: int) -> dict[str, Any]:
    """Every contender of both sections, `rounds` times interleaved; the medians and the handshakes."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="dms-bench-tls-") as folder, tls_server(Path(folder)) as server:
        assert server.ca_file is not None
        with trusting(server.ca_file):
            for section, contenders in SECTIONS.items():
                count = sequential if section == "sequential_tls" else bulk
                work = Workload.make(count)
                sent = count + (min(50, count) if section == "sequential_tls" else warm_up_of(count))
                rates: dict[str, list[float]] = {name: [] for name, _ in contenders}
                handshakes: dict[str, list[int]] = {name: [] for name, _ in contenders}
                print(f"{section}:", flush=True)
                for round_index in range(rounds):
                    shift = round_index % len(contenders)
                    for name, run in contenders[shift:] + contenders[:shift]:
                        before = server._request("GET", COUNT_PATH)["connections"]
                        sample = run(server.url, work)
                        after = server._request("GET", COUNT_PATH)["connections"]
                        rates[name].append(sample.rate)
                        handshakes[name].append(after - before)
                        print(f"  {name}: {sample.rate:,.0f} sends/s, {after - before} handshakes", flush=True)
                rows = {
                    name: {
                        "sends_per_s": round(statistics.median(rates[name])),
                        "handshakes": max(handshakes[name]),
                        "handshakes_per_10k": round(max(handshakes[name]) / sent * 10_000, 1),
                    }
                    for name, _ in contenders
                }
                ratios = {
                    f"{a}/{b}": {"ratio": round(rows[a]["sends_per_s"] / rows[b]["sends_per_s"], 2), "target": t}
                    for a, b, t in TARGETS[section]
                }
                results[section] = {
                    "sends": count,
                    "rounds": rounds,
                    "rows": rows,
                    "ratios": ratios,
                    "handshake_target_per_10k": HANDSHAKE_TARGET,
                }
    return results


def table(results: dict[str, Any]) -> str:
    lines = []
    for section, figures in results.items():
        lines.append(f"{section} ({figures['sends']} sends, median of {figures['rounds']}):")
        for name, row in figures["rows"].items():
            lines.append(
                f"  {name:18} {row['sends_per_s']:>8,} sends/s  {row['handshakes']:>4} handshakes "
                f"({row['handshakes_per_10k']} per 10k sends; target <= {HANDSHAKE_TARGET})"
            )
        for pair, ratio in figures["ratios"].items():
            met = "met" if ratio["ratio"] >= ratio["target"] else "NOT met"
            lines.append(f"  {pair}: {ratio['ratio']}x (target >= {ratio['target']}x, {met})")
    return "\n".join(lines)


def write(results: dict[str, Any], output: Path) -> None:
    document = json.loads(output.read_text()) if output.exists() else {}
    document.update(results)
    output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, small counts")
    parser.add_argument("--sequential", type=int, default=2_000, help="sends per sequential run")
    parser.add_argument("--bulk", type=int, default=20_000, help="messages per bulk run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per contender, median reported")
    parser.add_argument("--output", type=Path, help="results file (default bench/results.json)")
    parser.add_argument("--serve", nargs=2, metavar=("CERT", "KEY"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(*args.serve)
        return 0
    if args.quick:
        args.sequential, args.bulk, args.rounds = 300, 2_000, 1
    # Huawei's SDK contenders skip verification (as in the plain sections); urllib3 would warn on every request.
    warnings.filterwarnings("ignore", message="Unverified HTTPS request")
    output = args.output or BENCH_DIR / ("results.quick.json" if args.quick else "results.json")
    results = measure(args.sequential, args.bulk, args.rounds)
    print(table(results))
    write(results, output)
    print(f"wrote sequential_tls and bulk_tls to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
