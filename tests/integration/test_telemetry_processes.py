"""The instrumentation as users switch it on, each in a process of its own: `opentelemetry-instrument` running
the CLI and a small application with the console exporter, and the cost when it is off.

No collector: the console exporter writes spans (and, at exit, metrics) to stdout as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests._shared.cli import command, environment

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
TIMEOUT = 90


def otel_environment(emulator: Any) -> dict[str, str]:
    """The emulator's settings plus an SDK configured by environment variables: console exporters only."""
    env = environment(emulator)
    env.update(
        {
            "OTEL_SERVICE_NAME": "dms-rocketmq-test",
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_METRICS_EXPORTER": "console",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "",
        }
    )
    return env


def span_documents(stdout: str) -> list[dict[str, Any]]:
    """The console exporter's span documents (JSON objects with a `context` and a `kind`) from mixed output."""
    decoder = json.JSONDecoder()
    documents = []
    index = 0
    while (start := stdout.find("{", index)) != -1:
        try:
            document, end = decoder.raw_decode(stdout, start)
        except json.JSONDecodeError:
            index = start + 1
            continue
        if isinstance(document, dict) and "context" in document and "kind" in document:
            documents.append(document)
        index = end
    return documents


def run(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, check=False)


@pytest.mark.timeout(TIMEOUT + 30)
def test_opentelemetry_instrument_traces_the_cli(dms_emulator: Any) -> None:
    """`opentelemetry-instrument dms-rocketmq send ...`: the send span and the metrics appear on stdout."""
    dms_emulator.reset()
    args = [str(BIN / "opentelemetry-instrument"), *command(), "send", "--topic", "orders", "--body", "zero-code"]
    done = run([*args, "--key", "k1", "--tag", "t", "--output", "json"], otel_environment(dms_emulator))
    assert done.returncode == 0, done.stderr
    (span,) = [document for document in span_documents(done.stdout) if document["name"] == "send orders"]
    assert span["kind"] == "SpanKind.CLIENT"
    attributes = span["attributes"]
    assert attributes["messaging.system"] == "rocketmq"
    assert attributes["messaging.rocketmq.message.keys"] == ["k1"]
    assert attributes["messaging.message.id"] == dms_emulator.messages("orders")[0]["msg_id"]
    assert "messaging.client.operation.duration" in done.stdout
    assert "messaging.client.sent.messages" in done.stdout
    assert "zero-code" not in done.stdout.replace('"--body", "zero-code"', "")
    assert dms_emulator.sk not in done.stdout + done.stderr


APPLICATION = """
import asyncio

import dms_rocketmq as dms


async def main() -> None:
    async with dms.AsyncClient() as client:
        outcomes = await client.send_many([{"topic": "orders", "body": f"app-{n}"} for n in range(10)])
    assert all(isinstance(outcome, dms.SendResult) for outcome in outcomes)


asyncio.run(main())
"""


@pytest.mark.timeout(TIMEOUT + 30)
def test_opentelemetry_instrument_traces_an_application(dms_emulator: Any, tmp_path: Path) -> None:
    """An application that never mentions OpenTelemetry, started by `opentelemetry-instrument python app.py`:
    one send_many span and its ten send children, in one trace."""
    dms_emulator.reset()
    (tmp_path / "app.py").write_text(APPLICATION)
    done = run(
        [str(BIN / "opentelemetry-instrument"), sys.executable, "app.py"], otel_environment(dms_emulator), tmp_path
    )
    assert done.returncode == 0, done.stderr
    spans = span_documents(done.stdout)
    (parent,) = [span for span in spans if span["name"] == "send_many"]
    children = [span for span in spans if span["name"] == "send orders"]
    assert len(children) == 10
    assert {child["parent_id"] for child in children} == {parent["context"]["span_id"]}
    assert {child["context"]["trace_id"] for child in children} == {parent["context"]["trace_id"]}
    assert parent["attributes"]["messaging.batch.message_count"] == 10


OFF = """
import sys

import dms_rocketmq as dms

with dms.Client() as client:
    client.send("orders", "not traced")
loaded = sorted(name for name in sys.modules if name.startswith("opentelemetry") or name == "dms_rocketmq._telemetry")
assert not loaded, loaded
print("nothing imported")
"""


def test_without_instrumenting_nothing_of_opentelemetry_is_imported(dms_emulator: Any, tmp_path: Path) -> None:
    """Importing dms_rocketmq and sending, without instrumenting: no OpenTelemetry module is imported."""
    done = run([sys.executable, "-c", OFF], environment(dms_emulator), tmp_path)
    assert done.returncode == 0, done.stderr
    assert "nothing imported" in done.stdout


NO_PROVIDER = """
import dms_rocketmq as dms
from dms_rocketmq import _telemetry
from dms_rocketmq.instrumentation import DmsRocketMQInstrumentor
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

DmsRocketMQInstrumentor().instrument()
started = []
real_names = _telemetry._Telemetry.names  # what every span's start asks for first


def counting_names(self, *args, **kwargs):
    started.append(1)
    return real_names(self, *args, **kwargs)


_telemetry._Telemetry.names = counting_names
with dms.Client() as client:
    client.send("orders", "no provider")
    client.send_many([{"topic": "orders", "body": "batch"}])
    assert started == [], "a span was started with no provider configured"
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # configured after instrument(): picked up from now on
    client.send("orders", "traced")
print(sorted(span.name for span in exporter.get_finished_spans()))
"""


def test_instrumented_without_a_provider_does_nothing_until_one_is_configured(
    dms_emulator: Any, tmp_path: Path
) -> None:
    """instrument() with no provider configured: sends start no span; a provider configured later is used."""
    done = run([sys.executable, "-c", NO_PROVIDER], environment(dms_emulator), tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['send orders']"


def test_the_entry_point_names_the_instrumentor() -> None:
    """`opentelemetry-instrument` finds the instrumentor under the `opentelemetry_instrumentor` entry point."""
    from importlib.metadata import entry_points

    from dms_rocketmq.instrumentation import DmsRocketMQInstrumentor

    (entry,) = [entry for entry in entry_points(group="opentelemetry_instrumentor") if entry.name == "dms_rocketmq"]
    assert entry.load() is DmsRocketMQInstrumentor
    assert entry.value == "dms_rocketmq.instrumentation:DmsRocketMQInstrumentor"
