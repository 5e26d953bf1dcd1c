"""What OpenTelemetry costs the bulk wrapper: `AsyncClient.send_many` (64 in flight) against the minimal app,

- `wrapper`: not instrumented (the baseline);
- `instrumented_no_provider`: `DmsRocketMQInstrumentor().instrument()` with no tracer or meter provider
  configured (target >= 0.97x the baseline: one check per operation);
- `instrumented_sdk`: instrumented with OpenTelemetry's SDK, spans through a `BatchSpanProcessor` into an
  in-memory exporter and metrics into an in-memory reader (target >= 0.85x).

The three run in turn, several rounds with the order rotating each round (the instrumentation is switched on
and off between them in this one process); the median rate of each is reported with its ratio to the
baseline. Runnable alone (`python bench/telemetry.py [--quick] [--count N] [--rounds N]`); `bench/run.py` calls
`measure()` and stores the result in its results file under `telemetry`. It asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from _contenders import _bulk_wrapper
from _measure import Sample, Workload
from _servers import start_minimal

__all__ = ["measure"]

COUNT = 20_000
QUICK_COUNT = 2_000
ROUNDS = 3
TARGETS = {"instrumented_no_provider": 0.97, "instrumented_sdk": 0.85}


@contextmanager
def not_instrumented() -> Iterator[None]:
    yield


@contextmanager
def instrumented_no_provider() -> Iterator[None]:
    from dms_rocketmq.instrumentation import DmsRocketMQInstrumentor

    instrumentor = DmsRocketMQInstrumentor()
    instrumentor.instrument()
    try:
        yield
    finally:
        instrumentor.uninstrument()


@contextmanager
def sdk_providers(exporter: Any = None) -> Iterator[tuple[Any, Any, Any]]:
    """The bench's OpenTelemetry SDK: a tracer provider whose spans go through a BatchSpanProcessor into
    `exporter` (an InMemorySpanExporter, which keeps every span, unless another is given), and a meter
    provider with an in-memory reader. Yields (tracer provider, meter provider, exporter); shut down after."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter() if exporter is None else exporter
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    try:
        yield tracer_provider, meter_provider, exporter
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()


@contextmanager
def instrumented_sdk(exporter: Any = None) -> Iterator[None]:
    """Instrumented with the bench's SDK (`sdk_providers`)."""
    from dms_rocketmq.instrumentation import DmsRocketMQInstrumentor

    with sdk_providers(exporter) as (tracer_provider, meter_provider, exporter):
        instrumentor = DmsRocketMQInstrumentor()
        instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
        try:
            yield
        finally:
            instrumentor.uninstrument()
            tracer_provider.force_flush()
            if not exporter.get_finished_spans():
                raise RuntimeError("the instrumented run exported no span: the row would measure nothing")


CONTENDERS: dict[str, Callable[[], Any]] = {
    "wrapper": not_instrumented,
    "instrumented_no_provider": instrumented_no_provider,
    "instrumented_sdk": instrumented_sdk,
}


def measure(*, quick: bool = False, count: int | None = None, rounds: int | None = None) -> dict[str, Any]:
    """Run the bench; the figures as a JSON-compatible dictionary."""
    count = count or (QUICK_COUNT if quick else COUNT)
    rounds = rounds or (1 if quick else ROUNDS)
    work = Workload.make(count)
    samples: dict[str, list[Sample]] = {name: [] for name in CONTENDERS}
    names = list(CONTENDERS)
    server = start_minimal()
    try:
        for round_index in range(rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                with CONTENDERS[name]():
                    sample = asyncio.run(_bulk_wrapper(server.url, work))
                samples[name].append(sample)
                where = f"telemetry round {round_index + 1}/{rounds}"
                print(f"  {where}: {name:<26} {sample.rate:>8,.0f} sends/s", flush=True)
    finally:
        server.close()
    rates = {name: statistics.median(s.rate for s in runs) for name, runs in samples.items()}
    cpu = {name: statistics.median(s.client_cpu / s.sends * 1e6 for s in runs) for name, runs in samples.items()}
    baseline = rates["wrapper"]
    return {
        "messages": count,
        "rounds": rounds,
        "rows": {
            name: {
                "sends_per_second": round(rates[name], 1),
                "client_cpu_us_per_send": round(cpu[name], 1),
                "ratio": round(rates[name] / baseline, 3),
                # The baseline's CPU per send over this row's: steadier than the rates on a busy machine.
                "cpu_ratio": round(cpu["wrapper"] / cpu[name], 3),
                "target": TARGETS.get(name),
            }
            for name in CONTENDERS
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, 2,000 messages")
    parser.add_argument("--count", type=int, help=f"messages per run (default {COUNT:,})")
    parser.add_argument("--rounds", type=int, help=f"rounds, median reported (default {ROUNDS})")
    args = parser.parse_args(argv)
    print(json.dumps(measure(quick=args.quick, count=args.count, rounds=args.rounds), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
