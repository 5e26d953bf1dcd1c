"""Where OpenTelemetry's SDK costs the bulk wrapper: the garbage collector's share, and what keeping every span adds.

Starts the bench's minimal server, then runs the telemetry section's bulk send (`AsyncClient.send_many`, 64 in
flight, N messages) in three states, in rounds with the order rotating:

- `wrapper`: not instrumented;
- `sdk, in-memory exporter`: the `make bench` row, a BatchSpanProcessor into OpenTelemetry's
  InMemorySpanExporter, which keeps every span it is given, and an in-memory metric reader;
- `sdk, exporter keeping one batch`: the same with an exporter that keeps only the last batch it was given,
  as an exporter that sends its batches away (OTLP) holds nothing once they are sent.

For each: the client's CPU per send in the timed part, and the collector's passes of each generation, with
the CPU they took, per send, over the whole run (its warm-up of 256 messages included). Of the rounds, the
one with the least client CPU is kept.

Then the floor: the SDK's own calls for one sent message, as the conventions ask for them and with nothing
of this library around them (a span started with the send's attributes and made current, its message id and
partition set, ended, one duration point recorded), N times in a loop with the same two SDK setups, no client,
no network. No instrumentation that records a span and a point per message costs less than that, so
`wrapper / (wrapper + floor)` is the highest CPU ratio any could reach. Prints a Markdown table;
docs/observability.md quotes a run of it.

Run: `.venv/bin/python bench/profile_telemetry.py [--sends N] [--rounds N]`
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, NamedTuple

from _contenders import _bulk_wrapper
from _measure import TOPIC, CollectorWatch, Workload
from _servers import start_minimal
from telemetry import instrumented_sdk, not_instrumented, sdk_providers


class KeepingOneBatch:
    """A span exporter that keeps only the last batch it was given (what one export holds, then lets go)."""

    def __init__(self) -> None:
        self.batch: tuple[Any, ...] = ()
        self.exported = 0

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        self.batch = tuple(spans)
        self.exported += len(spans)
        return SpanExportResult.SUCCESS

    def get_finished_spans(self) -> tuple[Any, ...]:
        return self.batch

    def shutdown(self) -> None:
        self.batch = ()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


@contextmanager
def sdk_keeping_one_batch() -> Iterator[None]:
    with instrumented_sdk(KeepingOneBatch()):
        yield


STATES: dict[str, Callable[[], AbstractContextManager[None]]] = {
    "wrapper": not_instrumented,
    "sdk, in-memory exporter": instrumented_sdk,
    "sdk, exporter keeping one batch": sdk_keeping_one_batch,
}


class Run(NamedTuple):
    cpu_per_send: float  # µs, the timed part
    passes: list[int]
    collector_cpu: list[float]  # seconds, per generation


def run_once(url: str, work: Workload, state: Callable[[], AbstractContextManager[None]]) -> Run:
    gc.collect()
    with state(), CollectorWatch() as watch:
        sample = asyncio.run(_bulk_wrapper(url, work))
    return Run(sample.client_cpu / sample.sends * 1e6, watch.passes, watch.cpu)


class Floor(NamedTuple):
    cpu_per_message: float  # µs
    exported: int  # spans the exporter was given (a full queue makes the batch processor drop some)


def sdk_floor(sends: int, exporter: Any = None) -> Floor:
    """CPU µs per message of the SDK's calls for one sent message alone (see the module's text), with the
    bench's SDK setup (`sdk_providers`: the in-memory exporter unless `exporter` is given), and how many of
    the spans reached the exporter. A dropped span costs less than an exported one: with drops, the floor is
    lower than the real one, and the ceiling drawn from it higher."""
    from dms_rocketmq._telemetry import (
        MESSAGING_DESTINATION_PARTITION_ID,
        MESSAGING_MESSAGE_ID,
        MESSAGING_ROCKETMQ_MESSAGE_KEYS,
        _Telemetry,
    )
    from opentelemetry import context, trace

    with sdk_providers(exporter) as (tracer_provider, meter_provider, exporter):
        # The instrumentation's own tracer, histogram, span name and attributes, made once as it makes them;
        # the loop below then makes only the SDK's calls.
        telemetry = _Telemetry(tracer_provider, meter_provider)
        tracer, duration = telemetry.tracer, telemetry.duration
        names = telemetry._build_names("http://127.0.0.1:8080", "send", "send", TOPIC)
        shared, span_name = names.metric_attributes, names.span_name
        work = Workload.make(sends)
        gc.collect()
        started = time.process_time()
        for key in work.keys:
            begun = time.perf_counter()
            span = tracer.start_span(
                span_name,
                kind=trace.SpanKind.CLIENT,
                attributes={**shared, MESSAGING_ROCKETMQ_MESSAGE_KEYS: [key]},
            )
            token = context.attach(trace.set_span_in_context(span))
            span.set_attributes({MESSAGING_MESSAGE_ID: key, MESSAGING_DESTINATION_PARTITION_ID: "0"})
            span.end()
            duration.record(time.perf_counter() - begun, shared)
            context.detach(token)
        tracer_provider.force_flush()  # the batch processor's export of these spans is part of their cost
        cpu = (time.process_time() - started) / sends * 1e6
        exported = exporter.exported if isinstance(exporter, KeepingOneBatch) else len(exporter.get_finished_spans())
        return Floor(cpu, exported)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--sends", type=int, default=20_000, help="messages per run (default 20,000, as make bench)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, order rotating; the least CPU kept")
    options = parser.parse_args(argv)
    work = Workload.make(options.sends)
    names = list(STATES)
    best: dict[str, Run] = {}
    server = start_minimal()
    try:
        for round_index in range(options.rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                found = run_once(server.url, work, STATES[name])
                line = f"  round {round_index + 1}: {name:<32} {found.cpu_per_send:7.1f} µs CPU per send"
                print(line, file=sys.stderr)
                if name not in best or found.cpu_per_send < best[name].cpu_per_send:
                    best[name] = found
    finally:
        server.close()
    sends = options.sends
    print(f"| {sends:,} messages, 64 in flight | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    print("| client CPU, µs per send | " + " | ".join(f"{best[n].cpu_per_send:,.1f}" for n in names) + " |")
    for generation in range(3):
        cells = [
            f"{best[n].passes[generation]:,} / {best[n].collector_cpu[generation] / sends * 1e6:,.1f}" for n in names
        ]
        print(f"| generation {generation}: passes / µs per send | " + " | ".join(cells) + " |")
    total = [f"{sum(best[n].collector_cpu) / sends * 1e6:,.1f}" for n in names]
    print("| the collector, µs per send | " + " | ".join(total) + " |")
    floors = [
        min((sdk_floor(sends) for _ in range(options.rounds)), key=lambda floor: floor.cpu_per_message),
        min(
            (sdk_floor(sends, KeepingOneBatch()) for _ in range(options.rounds)),
            key=lambda floor: floor.cpu_per_message,
        ),
    ]
    wrapper = best["wrapper"].cpu_per_send
    cells = [f"{f.cpu_per_message:,.1f} ({f.exported:,} of {sends:,} spans exported)" for f in floors]
    print("| the SDK's calls alone (the floor), µs per message | - | " + " | ".join(cells) + " |")
    ceilings = [f"{wrapper / (wrapper + f.cpu_per_message):.2f}x" for f in floors]
    print("| highest CPU ratio over the wrapper, wrapper / (wrapper + floor) | - | " + " | ".join(ceilings) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
