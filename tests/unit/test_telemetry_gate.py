"""The instrumentation's gate: what an operation does while no tracer or meter provider is configured.

In this process no global provider is ever set (a global provider cannot be unset): the checks that need one
set run in a process of their own, against a fake DMS behind `httpx.MockTransport`.
"""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dms_rocketmq import _telemetry
from dms_rocketmq._base import BaseClient
from dms_rocketmq.instrumentation import DmsRocketMQInstrumentor

TESTS = Path(__file__).resolve().parents[1]
TIMEOUT = 60
PATCHED = [(owner, name) for owner, name, _ in _telemetry._PATCHES]


def run_python(script: str) -> subprocess.CompletedProcess[str]:
    """`script` in a fresh interpreter (its own global providers), with the tests' helpers importable."""
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=TESTS,
        env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(TESTS)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture
def no_provider() -> Iterator[None]:
    """Instrumented with no provider given and none configured; uninstrumented afterwards."""
    assert not _telemetry.provider_configured(), "a test set a global provider in the test process"
    instrumentor = DmsRocketMQInstrumentor()
    instrumentor.instrument()
    try:
        yield
    finally:
        instrumentor.uninstrument()


def _must_not_run(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("telemetry was built with no provider configured")


@pytest.mark.parametrize(("owner", "name"), PATCHED, ids=[f"{o.__name__}.{n}" for o, n in PATCHED])
def test_with_no_provider_an_operation_is_the_original_call(
    owner: type, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No provider: each instrumented method hands the caller's arguments, untouched, to the client's own
    method and returns what it returned, starting no span and building no attribute."""
    calls: list[tuple[Any, ...]] = []
    returned = object()
    original = owner.__dict__[name]

    if inspect.iscoroutinefunction(original):

        async def stand_in(*args: Any, **kwargs: Any) -> Any:
            calls.append((args, kwargs))
            return returned

    else:

        def stand_in(*args: Any, **kwargs: Any) -> Any:
            calls.append((args, kwargs))
            return returned

    monkeypatch.setattr(owner, name, stand_in)
    for builder in ("names", "start", "start_send"):
        monkeypatch.setattr(_telemetry._Telemetry, builder, _must_not_run)
    instrumentor = DmsRocketMQInstrumentor()
    instrumentor.instrument()
    try:
        traced = owner.__dict__[name]
        assert traced is not stand_in
        assert traced.__wrapped__ is stand_in
        client, first, options = object(), {"topic": "orders"}, {"keys": "k1 k2", "tags": "t"}
        outcome = traced(client, first, **options) if name != "_query_page" else traced(client, first, 7)
        if inspect.iscoroutine(outcome):
            outcome = asyncio.run(outcome)
    finally:
        instrumentor.uninstrument()
    assert outcome is returned
    expected = ((client, first), options) if name != "_query_page" else ((client, first, 7), {})
    assert calls == [expected]


def test_uninstrument_with_no_provider_puts_the_very_functions_back(no_provider: None) -> None:
    """Instrumented with no provider, then uninstrumented: each class holds its own function objects again."""
    before = {(owner, name): original for (owner, name), original in _telemetry._originals.items()}
    assert {(owner, name) for owner, name in before} == {*PATCHED, (BaseClient, "_next_delay")}
    DmsRocketMQInstrumentor().uninstrument()
    for (owner, name), original in before.items():
        assert owner.__dict__[name] is original
        assert not hasattr(original, "__wrapped__")


PROVIDER_SET_LATER = """
import dms_rocketmq as dms
import httpx
from _shared.fake_dms import SETTINGS, stored
from dms_rocketmq.instrumentation import DmsRocketMQInstrumentor
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def sent_messages(reader):
    data = reader.get_metrics_data()
    return sum(
        point.value
        for resource in (data.resource_metrics if data else [])
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "messaging.client.sent.messages"
        for point in metric.data.data_points
    )


DmsRocketMQInstrumentor().instrument()
exporter = InMemorySpanExporter()
reader = InMemoryMetricReader()
with dms.Client(**SETTINGS, transport=httpx.MockTransport(stored)) as client:
    client.send("orders", "no provider")
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))  # after instrument()
    client.send("orders", "counted")
    client.send_many([{"topic": "orders", "body": "counted too"}])
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(tracer_provider)
    client.send("orders", "counted and traced")
print(sent_messages(reader), sorted(span.name for span in exporter.get_finished_spans()))
"""


def test_providers_configured_after_instrument_are_used_from_the_next_operation() -> None:
    """instrument() with no provider, then a global meter provider, then a tracer provider: each send after a
    provider is configured is recorded by it, none before."""
    done = run_python(PROVIDER_SET_LATER)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3", "['send", "orders']"]


GLOBALS_CHECK = """
from dms_rocketmq import _telemetry
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

assert _telemetry._FAST_CHECK, "opentelemetry-api no longer has the module globals the check reads"
before = (_telemetry.provider_configured(), _telemetry._configured_by_lookup())
if "{which}" == "tracer":
    trace.set_tracer_provider(TracerProvider())
else:
    metrics.set_meter_provider(MeterProvider())
after = (_telemetry.provider_configured(), _telemetry._configured_by_lookup())
print(before, after)
"""


@pytest.mark.parametrize("which", ["tracer", "meter"])
def test_the_one_check_agrees_with_the_public_api(which: str) -> None:
    """The per-operation check reads opentelemetry-api's global-provider variables (a private detail): they
    exist, and say what get_tracer_provider() and get_meter_provider() say, before and after one is set."""
    done = run_python(GLOBALS_CHECK.replace("{which}", which))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(False, False) (True, True)"
