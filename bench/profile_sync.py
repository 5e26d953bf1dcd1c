"""One sync send, by layer: where `Client.send`'s client CPU goes, on each of its two paths.

Starts the bench's minimal server, sends N messages with `Client.send` under cProfile (the generated path,
which `transport=` selects, and the default direct path), and adds each function's own time (tottime) to the
layer its file belongs to. cProfile slows every call alike, so read the shares, not the absolute microseconds
(those are `make bench`'s). Prints a Markdown table; docs/performance.md quotes a run of it.

Run: `.venv/bin/python bench/profile_sync.py [--sends N]`
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from collections.abc import Callable

import httpx
from _layers import own_time_by_layer, print_layer_table
from _measure import AK, INSTANCE_ID, PROJECT_ID, SK, TOPIC, Workload
from _servers import start_minimal

#: (layer, what a file's path contains), the first match wins.
LAYERS: list[tuple[str, str]] = [
    ("generated client (dms_rocketmq_api)", "dms_rocketmq_api"),
    ("wrapper: signing (_auth)", "dms_rocketmq/_auth"),
    ("wrapper: direct path (_sync_direct, _fast_path)", "dms_rocketmq/_sync_direct"),
    ("wrapper: direct path (_sync_direct, _fast_path)", "dms_rocketmq/_fast_path"),
    ("wrapper: the rest (validation, models, parsing, retries)", "dms_rocketmq/"),
    ("httpx", "/httpx/"),
    ("httpcore, h11 (httpx's transport)", "/httpcore/"),
    ("httpcore, h11 (httpx's transport)", "/h11/"),
    ("http.client, email (standard library HTTP)", "http/client"),
    ("http.client, email (standard library HTTP)", "/email/"),
    ("json", "/json/"),
    ("ssl, socket, selectors", "ssl.py"),
    ("ssl, socket, selectors", "socket.py"),
    ("ssl, socket, selectors", "selectors.py"),
]


def profile(send: Callable[[int], None], sends: int) -> dict[str, float]:
    """Seconds of own time per layer over `sends` calls of `send`."""
    for i in range(min(200, sends)):
        send(i)  # warm up: connection made, caches filled
    # CPU time, not wall time: the wait for the server's answer is not the client's cost.
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for i in range(sends):
        send(i)
    profiler.disable()
    return own_time_by_layer(pstats.Stats(profiler), LAYERS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--sends", type=int, default=2000)
    options = parser.parse_args(argv)
    from dms_rocketmq import Client

    work = Workload.make(options.sends)
    server = start_minimal()
    results: dict[str, dict[str, float]] = {}
    try:
        for path, transport in (("generated path", httpx.HTTPTransport()), ("direct path", None)):
            client = Client(
                endpoint=server.url, project_id=PROJECT_ID, instance_id=INSTANCE_ID, ak=AK, sk=SK, transport=transport
            )
            try:

                def send(i: int, client: Client = client) -> None:
                    client.send(TOPIC, work.bodies[i], keys=work.keys[i])

                results[path] = profile(send, options.sends)
            finally:
                client.close()
    finally:
        server.close()
    heading = f"layer (own time, µs per send under cProfile, {options.sends:,} sends)"
    print_layer_table(heading, results, options.sends)
    return 0


if __name__ == "__main__":
    sys.exit(main())
