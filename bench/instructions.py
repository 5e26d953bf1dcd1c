"""Instructions per message of the bulk contenders, counted by valgrind: a measure the machine's noise does not move.

`make bench` times its contenders on a shared machine, where the same code's CPU per send moves by a tenth or
more from one run to the next; a change of a few microseconds per message cannot be seen that way, and this VM
has no performance counters (`perf stat`: not supported). Valgrind's cachegrind (no cache simulation) counts
the instructions a process executes, the same from run to run. Each contender runs in a child process under
it twice, with N1 and N2 messages; the difference of the two counts, divided by N2 - N1, is its count per
message: start-up, imports, connecting and warm-up cancel. Building the workload is counted the same way in a
child that only builds it, and taken off. The server, the bench's minimal app, runs outside valgrind. The
raw loop's count moves by a few parts in a thousand from one pair of runs to the next; the loops that keep
objects per message by about two in a hundred (when the garbage collector runs depends on how many sends are
in flight at that moment), so each count is the median of `--repeat` pairs, and their range is kept.

The contenders: the bulk section's raw aiohttp loop and `AsyncClient.send_many` (the functions of
bench/_contenders.py that `make bench` times), and between them the raw loop itself, written out here, doing
step by step the work per message that `send_many` must do and the raw loop does not:

1. `inline`: the raw loop as written here, with nothing added (the same count as `raw`: the method's check);
2. `headers`: the client's signed headers (its precomputed signer and fixed headers) instead of the raw loop's;
3. `messages`: each input a `Message` the caller builds (as `make bench`'s send_many contender does), its
   prebuilt payload still sent;
4. `checked`: each `Message` checked and encoded as the client does (`message_from`, the request model,
   `encode_request`) instead of the prebuilt payload;
5. `results`: each answer read into a `SendResult` (`stored_result`) instead of `json.loads`;
6. `kept`: every result kept and returned in input order, as `send_many` must.

What is left between `kept` and `send_many` is the bulk engine and the client's layers: the retry loop, the
per-call timeouts, the fair gate, cancellation and stop handling, the rate and fail-fast policies.

Then the two contenders of `make bench`'s `bulk_tls` section (bench/tls.py: the raw loop and `send_many` over
HTTPS, against the same minimal app served over TLS, trusting its CA through `SSL_CERT_FILE`); their ratio is
to the raw loop over HTTPS.

Instructions are not time (a cache miss costs more than an add), but the ratio of the counts tracks the ratio
of client CPU that `make bench` measures. Under valgrind the client runs tens of times slower while the server
does not, so it finds every answer waiting: the event loop's share per message is a little smaller than in a
real run, for every contender alike.

Needs valgrind on PATH (Debian: `apt-get install valgrind`). Prints a Markdown table and writes
bench/instructions.json, which docs/performance.md quotes.

Run: `.venv/bin/python bench/instructions.py [--sends N]`
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _contenders import RawSigner, bulk_raw_aiohttp, bulk_wrapper
from _measure import (
    AK,
    IN_FLIGHT,
    INSTANCE_ID,
    PROJECT_ID,
    SEND_PATH,
    SK,
    TOPIC,
    SendFailed,
    Workload,
    check_status,
    warm_up_of,
)
from _report import git_commit
from _servers import start_minimal
from tls import bulk_raw_aiohttp as bulk_raw_aiohttp_tls
from tls import tls_server, trusting

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "instructions.json"
#: cachegrind's summary line of the instructions executed.
I_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")
#: The smaller run's messages; the larger run sends `--sends` more.
BASE_SENDS = 500


@dataclass(frozen=True)
class Steps:
    """What the inline loop does per message beyond the raw loop's work (see the module's docstring)."""

    client_headers: bool = False
    messages: bool = False
    checked: bool = False
    results: bool = False
    kept: bool = False


def _steps_contender(steps: Steps) -> Callable[[str, Workload], None]:
    def run(url: str, work: Workload) -> None:
        asyncio.run(_steps_run(url, work, steps))

    return run


async def _steps_run(url: str, work: Workload, steps: Steps) -> None:
    """The raw loop (`_contenders._signed_worker_loop` over aiohttp), with `steps` of send_many's work added."""
    import aiohttp
    from dms_rocketmq import AsyncClient, Message, SendResult
    from dms_rocketmq._base import request_body
    from dms_rocketmq._fast_path import stored_result
    from dms_rocketmq._validation import message_from

    # The client is only a source of its signer and encoder here: it sends nothing.
    client = AsyncClient(endpoint=url, project_id=PROJECT_ID, instance_id=INSTANCE_ID, ak=AK, sk=SK)
    sender = client._sender
    signer = sender._signer
    assert signer is not None
    raw_signer = RawSigner(url, AK, SK)
    target = url + SEND_PATH

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=IN_FLIGHT)) as session:

        async def run(count: int) -> None:
            inputs: Sequence[Any] = (
                [Message(TOPIC, work.bodies[i], keys=work.keys[i]) for i in range(count)]
                if steps.messages
                else work.payloads[:count]
            )
            kept: dict[int, SendResult] = {}
            pending = iter(enumerate(inputs))

            async def worker() -> None:
                for index, item in pending:
                    if steps.checked:
                        message = message_from(item)
                        payload, headers = sender.prepare(
                            request_body(message.topic, message.body, message.keys, message.tags)
                        )
                    else:
                        payload = work.payloads[index] if steps.messages else item
                        headers = signer.sign(payload) if steps.client_headers else raw_signer.headers(payload)
                    async with session.post(target, data=payload, headers=headers) as response:
                        status = response.status
                        request_id = response.headers.get("X-Request-Id") if steps.results else None
                        content = await response.read()
                    if steps.results:
                        result = stored_result(status, request_id, content, 0, payload)
                        if result is None:
                            raise SendFailed(f"inline loop: HTTP {status}")
                        if steps.kept:
                            kept[index] = result
                    else:
                        check_status(status, "inline loop")
                        json.loads(content)["msg_id"]

            await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
            if steps.kept and len([kept[index] for index in sorted(kept)]) != count:
                raise SendFailed("inline loop: a result is missing")

        await run(warm_up_of(len(work)))
        await run(len(work))
    await client.aclose()


def _workload_only(url: str, work: Workload) -> None:
    """Nothing sent: the count of building the workload, taken off every contender's."""


#: name: (label, what the child runs). `workload` first: the others' counts are net of it.
CONTENDERS: dict[str, tuple[str, Callable[[str, Workload], Any]]] = {
    "workload": ("building the workload (taken off the others)", _workload_only),
    "raw": ("raw aiohttp loop, prebuilt JSON (make bench's contender)", bulk_raw_aiohttp),
    "inline": ("the raw loop as written here", _steps_contender(Steps())),
    "headers": ("+ the client's signed headers", _steps_contender(Steps(client_headers=True))),
    "messages": (
        "+ each input a Message the caller builds",
        _steps_contender(Steps(client_headers=True, messages=True)),
    ),
    "checked": (
        "+ each Message checked and encoded by the client",
        _steps_contender(Steps(client_headers=True, messages=True, checked=True)),
    ),
    "results": (
        "+ each answer read into a SendResult",
        _steps_contender(Steps(client_headers=True, messages=True, checked=True, results=True)),
    ),
    "kept": (
        "+ every result kept, in input order",
        _steps_contender(Steps(client_headers=True, messages=True, checked=True, results=True, kept=True)),
    ),
    "send_many": ("AsyncClient.send_many (make bench's contender)", bulk_wrapper),
    "raw_tls": ("raw aiohttp loop over HTTPS (make bench's bulk_tls contender)", bulk_raw_aiohttp_tls),
    "send_many_tls": ("AsyncClient.send_many over HTTPS (make bench's bulk_tls contender)", bulk_wrapper),
}
#: The contenders sent over HTTPS, to the TLS server; each one's ratio is to the raw loop's over HTTPS.
HTTPS = ("raw_tls", "send_many_tls")


def baseline(name: str) -> str:
    """The contender whose count `name`'s ratio is taken against: the raw loop over the same protocol."""
    return "raw_tls" if name in HTTPS else "raw"


def instructions_of(command: Sequence[str]) -> int:
    """The instructions `command` executes, counted by valgrind's cachegrind (no cache simulation).

    Its child processes are not counted (valgrind follows none by default). A fixed hash seed: dict and set
    layouts, and so the instructions, do not change from run to run.
    """
    counted = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", *command]
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    completed = subprocess.run(counted, capture_output=True, text=True, env=environment, timeout=1800, check=False)
    found = I_REFS.search(completed.stderr)
    if completed.returncode != 0 or found is None:
        raise RuntimeError(f"{' '.join(command)} failed under valgrind:\n{completed.stderr[-3000:]}")
    return int(found.group(1).replace(",", ""))


def per_message(name: str, sends: int, url: str) -> float:
    """Instructions per message of contender `name`: the difference of a run with `sends` more messages than
    another, over `sends`."""

    def run(count: int) -> int:
        return instructions_of([sys.executable, str(Path(__file__).resolve()), "--child", name, str(count), url])

    return (run(BASE_SENDS + sends) - run(BASE_SENDS)) / sends


def valgrind_version() -> str:
    return subprocess.run(["valgrind", "--version"], capture_output=True, text=True, check=True).stdout.strip()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--sends", type=int, default=2000, help="messages the larger run sends beyond the smaller")
    parser.add_argument("--repeat", type=int, default=3, help="pairs of runs per contender, median kept (default 3)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="results file (default: bench/instructions.json)")
    parser.add_argument("--child", nargs=3, metavar=("CONTENDER", "SENDS", "URL"), help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child is not None:
        name, sends, url = options.child
        CONTENDERS[name][1](url, Workload.make(int(sends)))
        return 0
    if options.sends < 1 or options.repeat < 1:
        parser.error("--sends and --repeat must be at least 1")
    if shutil.which("valgrind") is None:
        print("bench/instructions.py: valgrind is not installed (Debian: apt-get install valgrind).", file=sys.stderr)
        return 2
    started = datetime.datetime.now(datetime.UTC)
    found: dict[str, list[float]] = {}

    def count(names: Sequence[str], url: str) -> None:
        for name in names:
            found[name] = [per_message(name, options.sends, url) for _ in range(options.repeat)]
            shown = ", ".join(f"{count:,.0f}" for count in found[name])
            print(f"  {name}: {shown} instructions per message (the workload's not yet taken off)", flush=True)

    server = start_minimal()
    try:
        count([name for name in CONTENDERS if name not in HTTPS], server.url)
    finally:
        server.close()
    with tempfile.TemporaryDirectory(prefix="dms-bench-instructions-") as folder, tls_server(Path(folder)) as secure:
        assert secure.ca_file is not None
        with trusting(secure.ca_file):  # the children inherit it
            count(HTTPS, secure.url)
    building = statistics.median(found.pop("workload"))
    net = {name: [count - building for count in counts] for name, counts in found.items()}
    median = {name: statistics.median(counts) for name, counts in net.items()}
    ratio = {name: median[baseline(name)] / median[name] for name in median}
    results = {
        "run": {
            "command": "python bench/instructions.py" + "".join(f" {arg}" for arg in argv or sys.argv[1:]),
            "started": started.isoformat(timespec="seconds"),
            "git_commit": git_commit(),
            "python": platform.python_version(),
            "valgrind": valgrind_version(),
            "messages": [BASE_SENDS, BASE_SENDS + options.sends],
            "repeat": options.repeat,
            "in_flight": IN_FLIGHT,
            "workload_instructions_per_message": round(building),
        },
        "contenders": {
            name: {
                "label": CONTENDERS[name][0],
                "instructions_per_message": round(median[name]),
                "range": [round(min(counts)), round(max(counts))],
                "baseline": baseline(name),
                "raw_over_this": round(ratio[name], 3),
            }
            for name, counts in net.items()
        },
    }
    options.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print()
    heading = f"contender ({options.sends:,} messages, {IN_FLIGHT} in flight; median of {options.repeat})"
    print(f"| {heading} | instructions per message | range | raw (same protocol) / this |")
    print("|---|---:|---:|---:|")
    for name, counts in net.items():
        span = f"{min(counts):,.0f} to {max(counts):,.0f}"
        print(f"| {CONTENDERS[name][0]} | {median[name]:,.0f} | {span} | {ratio[name]:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
