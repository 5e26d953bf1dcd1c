"""OpenTelemetry instrumentation against the emulator: spans and metrics of every operation, in memory.

OpenTelemetry's SDK with an in-memory span exporter and metric reader, given to `instrument()` (the process's
global providers are never set, so tests cannot leak into each other); the emulator on a loopback port, with
faults armed for 429s, timeouts and dropped connections.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import dms_rocketmq as dms
import httpx
import pytest
from dms_rocketmq import _telemetry
from dms_rocketmq.instrumentation import DmsRocketMQInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tests._shared.cli import environment

pytestmark = pytest.mark.integration

UNKNOWN_INSTANCE = "00000000-0000-4000-8000-000000000000"


class Telemetry:
    """What one test exported: finished spans and collected metrics."""

    def __init__(self) -> None:
        self.spans_exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans_exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self._metrics: MetricsData | None = None

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        spans = list(self.spans_exporter.get_finished_spans())
        return [span for span in spans if name is None or span.name == name]

    def metrics(self) -> MetricsData:
        if self._metrics is None:
            data = self.reader.get_metrics_data()
            assert data is not None
            self._metrics = data
        return self._metrics

    def points(self, metric_name: str) -> list[Any]:
        return [
            point
            for resource in self.metrics().resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == metric_name
            for point in metric.data.data_points
        ]

    def total(self, metric_name: str, **attributes: Any) -> float:
        """The sum of a counter's points (a histogram's counts) whose attributes include `attributes`."""
        total = 0.0
        for point in self.points(metric_name):
            if all(point.attributes.get(name) == value for name, value in attributes.items()):
                total += point.count if isinstance(point, HistogramDataPoint) else point.value
        return total

    def exported_text(self) -> str:
        """Everything exported, as the JSON an exporter would write."""
        spans = [span.to_json() for span in self.spans()]
        return "\n".join([*spans, self.metrics().to_json()])


@pytest.fixture
def otel() -> Iterator[Telemetry]:
    """The instrumentation on, recording into an in-memory SDK; off again afterwards."""
    telemetry = Telemetry()
    instrumentor = DmsRocketMQInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        yield telemetry
    finally:
        instrumentor.uninstrument()
        telemetry.tracer_provider.shutdown()
        telemetry.meter_provider.shutdown()


@pytest.fixture(autouse=True)
def clean(dms_emulator: Any) -> Iterator[None]:
    dms_emulator.reset()
    dms.set_testing(True)
    yield
    dms.set_testing(False)


def options(emulator: Any, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "endpoint": emulator.url,
        "project_id": emulator.project_id,
        "instance_id": emulator.instance_id,
        "ak": emulator.ak,
        "sk": emulator.sk,
        "environ": {},
    }
    settings.update(overrides)
    return settings


def server_attributes(emulator: Any) -> dict[str, Any]:
    url = httpx.URL(emulator.url)
    return {"server.address": url.host, "server.port": url.port}


def assert_send_span(span: ReadableSpan, emulator: Any, topic: str, result: dms.SendResult | None) -> None:
    """A send span as the messaging conventions describe it, for RocketMQ."""
    assert span.name == f"send {topic}"
    assert span.kind is SpanKind.CLIENT
    attributes = dict(span.attributes or {})
    expected = {
        "messaging.system": "rocketmq",
        "messaging.operation.name": "send",
        "messaging.operation.type": "send",
        "messaging.destination.name": topic,
        **server_attributes(emulator),
    }
    assert {name: attributes.get(name) for name in expected} == expected
    if result is not None:
        assert attributes["messaging.message.id"] == result.msg_id
        assert attributes["messaging.destination.partition.id"] == str(result.queue_id)
        assert "error.type" not in attributes
        assert span.status.status_code is StatusCode.UNSET


def assert_failed(span: ReadableSpan, error: type[Exception], status: int | None) -> None:
    attributes = dict(span.attributes or {})
    assert attributes["error.type"] == error.__qualname__
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == error.__qualname__
    assert attributes.get("http.response.status_code") == status


def test_send_span_and_metrics_follow_the_conventions(otel: Telemetry, dms_emulator: Any) -> None:
    """A send is one CLIENT span `send {topic}` with the messaging attributes; its duration and count are
    recorded with the conventions' attributes and bucket boundaries."""
    with dms.Client(**options(dms_emulator)) as client:
        result = client.send("orders", "hello", keys=["order-1", "customer-9"], tags="paid")
    (span,) = otel.spans()
    assert_send_span(span, dms_emulator, "orders", result)
    assert span.attributes is not None
    assert span.attributes["messaging.rocketmq.message.keys"] == ("order-1", "customer-9")
    assert span.attributes["messaging.rocketmq.message.tag"] == "paid"
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.schema_url == f"https://opentelemetry.io/schemas/{_telemetry.SEMCONV_VERSION}"
    (duration,) = otel.points("messaging.client.operation.duration")
    assert duration.count == 1
    assert tuple(duration.explicit_bounds) == _telemetry.DURATION_BUCKETS
    metric_attributes = {
        "messaging.system": "rocketmq",
        "messaging.operation.name": "send",
        "messaging.operation.type": "send",
        "messaging.destination.name": "orders",
        **server_attributes(dms_emulator),
    }
    assert dict(duration.attributes) == metric_attributes
    (sent,) = otel.points("messaging.client.sent.messages")
    assert (sent.value, dict(sent.attributes)) == (1, metric_attributes)
    assert otel.points("dms_rocketmq.client.throttled_responses") == []


def test_duration_exemplars_point_at_the_send_spans(otel: Telemetry, dms_emulator: Any) -> None:
    """The durations of a send_many's messages are recorded while each send span is current: their exemplars
    (sampled by the SDK's default, trace-based filter) name a send span, never the batch span."""
    with dms.Client(**options(dms_emulator)) as client:
        client.send_many([{"topic": "orders", "body": f"e{n}"} for n in range(5)], concurrency=1)
    send_ids = {span.context.span_id for span in otel.spans("send orders")}
    (point,) = otel.points("messaging.client.operation.duration")
    assert point.exemplars
    assert {exemplar.span_id for exemplar in point.exemplars} <= send_ids


def test_each_retry_after_429_is_an_event_and_every_429_is_counted(otel: Telemetry, dms_emulator: Any) -> None:
    """Two 429s then success: one span with two retry events (resend count, reason), resend_count 2 on the
    span, and two throttled answers counted."""
    dms_emulator.inject_faults(2, status=429, retry_after=0)
    with dms.Client(**options(dms_emulator)) as client:
        result = client.send("orders", "after throttling")
    (span,) = otel.spans()
    assert_send_span(span, dms_emulator, "orders", result)
    assert span.attributes is not None
    assert span.attributes["http.request.resend_count"] == 2
    events = [(event.name, dict(event.attributes or {})) for event in span.events]
    assert [name for name, _ in events] == ["dms_rocketmq.retry"] * 2
    assert [attributes["http.request.resend_count"] for _, attributes in events] == [1, 2]
    for _, attributes in events:
        assert attributes["error.type"] == "RateLimitError"
        assert attributes["http.response.status_code"] == 429
        assert attributes["dms_rocketmq.error_code"] == "APIG.0308"
    assert otel.total("dms_rocketmq.client.throttled_responses", **{"messaging.operation.name": "send"}) == 2
    assert otel.total("messaging.client.sent.messages") == 1


def test_429_after_the_last_retry_fails_the_span(otel: Telemetry, dms_emulator: Any) -> None:
    """Throttled beyond max_retries: the span and both metrics carry error.type; all three 429s counted."""
    dms_emulator.inject_faults(3, status=429, retry_after=0)
    with dms.Client(**options(dms_emulator)) as client, pytest.raises(dms.RateLimitError):
        client.send("orders", "throttled", max_retries=2)
    (span,) = otel.spans()
    assert_failed(span, dms.RateLimitError, 429)
    assert len(span.events) == 2
    assert otel.total("dms_rocketmq.client.throttled_responses") == 3
    assert otel.total("messaging.client.sent.messages", **{"error.type": "RateLimitError"}) == 1
    assert otel.total("messaging.client.operation.duration", **{"error.type": "RateLimitError"}) == 1


@pytest.mark.parametrize(
    ("overrides", "error", "status"),
    [
        ({"sk": "not-the-secret-key-of-this-access-key"}, dms.AuthenticationError, 401),
        ({"instance_id": UNKNOWN_INSTANCE}, dms.NotFoundError, 404),
    ],
    ids=["401", "404"],
)
def test_status_errors_of_sends_and_queries(
    otel: Telemetry, dms_emulator: Any, overrides: dict[str, Any], error: type[Exception], status: int
) -> None:
    """A 401 or 404 answer: the send span and the query span fail with the exception's type and the status."""
    with dms.Client(**options(dms_emulator, **overrides)) as client:
        with pytest.raises(error):
            client.send("orders", "refused")
        with pytest.raises(error):
            client.get_message("orders", "7F0000010000000000000000000000AA")
    send, query = otel.spans()
    assert_send_span(send, dms_emulator, "orders", None)
    assert_failed(send, error, status)
    assert send.attributes is not None
    assert "messaging.message.id" not in send.attributes
    assert query.name == "get_message orders"
    assert_failed(query, error, status)
    assert otel.total("messaging.client.operation.duration", **{"error.type": error.__qualname__}) == 2


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_connection_refused_is_retried_and_visible(otel: Telemetry, dms_emulator: Any) -> None:
    """Nothing listening: each retry is an event with reason APIConnectionError; the span fails with it."""
    port = _closed_port()
    endpoint = f"http://127.0.0.1:{port}"
    client = dms.Client(**options(dms_emulator, endpoint=endpoint, max_retries=2))
    with client, pytest.raises(dms.APIConnectionError) as caught:
        client.send("orders", "nobody listens")
    (span,) = otel.spans()
    assert_failed(span, type(caught.value), None)
    assert span.attributes is not None
    assert (span.attributes["server.address"], span.attributes["server.port"]) == ("127.0.0.1", port)
    reasons = [dict(event.attributes or {})["error.type"] for event in span.events]
    assert reasons == [type(caught.value).__qualname__] * 2


def test_timeout_fails_the_span_with_its_type(otel: Telemetry, dms_emulator: Any) -> None:
    """An answer slower than the timeout: APITimeoutError on the span (sent, so not retried: no event)."""
    dms_emulator.inject_faults(1, status=503, delay_ms=3000)  # stores nothing, even late
    with dms.Client(**options(dms_emulator)) as client, pytest.raises(dms.APITimeoutError):
        client.send("orders", "too slow", timeout=0.3)
    (span,) = otel.spans()
    assert_failed(span, dms.APITimeoutError, None)
    assert span.events == ()


def test_queries_and_confirm_have_spans(otel: Telemetry, dms_emulator: Any) -> None:
    """get_message, each page of query_messages and confirm (parent of its reads) have spans of their own."""
    with dms.Client(**options(dms_emulator)) as client:
        sent = [client.send("orders", f"m{n}", keys="k") for n in range(3)]
        client.confirm(sent[0])
        stored = list(client.query_messages("orders", key="k", page_size=2))
    assert len(stored) == 3
    (confirm,) = otel.spans("confirm orders")
    reads = otel.spans("get_message orders")
    assert reads
    assert all(read.parent is not None for read in reads)
    assert {read.parent.span_id for read in reads if read.parent} == {confirm.context.span_id}
    assert confirm.attributes is not None
    assert reads[0].attributes is not None
    assert confirm.attributes["messaging.message.id"] == sent[0].msg_id
    assert reads[0].attributes["messaging.message.id"] == sent[0].msg_id
    assert reads[0].attributes["messaging.operation.type"] == "receive"
    assert reads[0].kind is SpanKind.CLIENT
    pages = otel.spans("query_messages orders")
    counts = [page.attributes["messaging.batch.message_count"] for page in pages if page.attributes]
    assert counts[:2] == [2, 1]
    assert otel.total("messaging.client.operation.duration", **{"messaging.operation.name": "confirm"}) == 1


def _children_of(telemetry: Telemetry, parent: ReadableSpan) -> list[ReadableSpan]:
    return [span for span in telemetry.spans() if span.parent and span.parent.span_id == parent.context.span_id]


@pytest.mark.parametrize("flavour", ["Client", "AsyncClient"])
def test_send_many_of_1000_is_one_parent_with_1000_children(otel: Telemetry, dms_emulator: Any, flavour: str) -> None:
    """send_many of 1,000 messages (threads, or tasks): one send_many span, 1,000 send spans under it, each
    with its message id, and 1,000 sends counted and timed."""
    messages = [{"topic": "orders", "body": f"bulk-{n}", "keys": f"k{n}"} for n in range(1000)]
    if flavour == "Client":
        with dms.Client(**options(dms_emulator)) as client:
            outcomes = client.send_many(messages, concurrency=16)
    else:

        async def main() -> list[dms.SendOutcome]:
            async with dms.AsyncClient(**options(dms_emulator)) as client:
                return await client.send_many(messages, concurrency=16)

        outcomes = asyncio.run(main())
    assert all(isinstance(outcome, dms.SendResult) for outcome in outcomes)
    (parent,) = otel.spans("send_many")
    assert parent.kind is SpanKind.INTERNAL
    assert parent.attributes is not None
    assert parent.attributes["messaging.batch.message_count"] == 1000
    assert parent.attributes["dms_rocketmq.batch.failure_count"] == 0
    children = _children_of(otel, parent)
    assert len(children) == 1000
    ids = {child.attributes["messaging.message.id"] for child in children if child.attributes}
    assert ids == {outcome.msg_id for outcome in outcomes if isinstance(outcome, dms.SendResult)}
    assert otel.total("messaging.client.sent.messages") == 1000
    assert otel.total("messaging.client.operation.duration") == 1000


@pytest.mark.parametrize("path", ["direct", "generated"])
def test_async_client_every_operation(otel: Telemetry, dms_emulator: Any, path: str) -> None:
    """AsyncClient on its aiohttp sender and on the generated path: send, send_many, iter_send, the queries
    and confirm have the same spans as Client's; bulk children sit under their parent."""
    transport = httpx.AsyncHTTPTransport() if path == "generated" else None

    async def main() -> None:
        async with dms.AsyncClient(**options(dms_emulator), transport=transport) as client:
            result = await client.send("orders", "one", tags="t")
            await client.send_many([{"topic": "orders", "body": f"b{n}"} for n in range(20)], concurrency=4)
            async for _ in client.iter_send([{"topic": "orders", "body": f"i{n}"} for n in range(7)]):
                pass
            await client.confirm(result)
            assert await client.get_message("orders", result.msg_id) is not None
            async for _ in client.query_messages("orders", page_size=50):
                pass

    asyncio.run(main())
    first = otel.spans("send orders")[0]
    assert_send_span(first, dms_emulator, "orders", None)
    (many,) = otel.spans("send_many")
    (iteration,) = otel.spans("iter_send")
    assert len(_children_of(otel, many)) == 20
    assert len(_children_of(otel, iteration)) == 7
    assert iteration.attributes is not None
    assert iteration.attributes["messaging.batch.message_count"] == 7
    (confirm,) = otel.spans("confirm orders")
    assert _children_of(otel, confirm)
    assert len(otel.spans("get_message orders")) >= 2
    assert len(otel.spans("query_messages orders")) == 1
    assert otel.total("messaging.client.sent.messages") == 28


def test_one_async_client_on_two_event_loops(otel: Telemetry, dms_emulator: Any) -> None:
    """One AsyncClient sending from two event loops in turn: each send is its own root span with its id."""
    client = dms.AsyncClient(**options(dms_emulator))

    async def send(body: str) -> dms.SendResult:
        return await client.send("orders", body)

    results = [asyncio.run(send("first loop")), asyncio.run(send("second loop"))]
    asyncio.run(client.aclose())
    spans = otel.spans("send orders")
    assert [span.parent for span in spans] == [None, None]
    assert [span.attributes["messaging.message.id"] for span in spans if span.attributes] == [
        result.msg_id for result in results
    ]


def test_async_429_retries_are_events(otel: Telemetry, dms_emulator: Any) -> None:
    """AsyncClient's direct sender: the retries after 429 are events of the send span too."""
    dms_emulator.inject_faults(1, status=429, retry_after=0)

    async def main() -> None:
        async with dms.AsyncClient(**options(dms_emulator)) as client:
            await client.send("orders", "retried")

    asyncio.run(main())
    (span,) = otel.spans()
    assert [event.name for event in span.events] == ["dms_rocketmq.retry"]
    assert otel.total("dms_rocketmq.client.throttled_responses") == 1


def test_iter_send_closed_early_ends_its_span(otel: Telemetry, dms_emulator: Any) -> None:
    """Client.iter_send closed after two outcomes: its span ends, counting what was handed over, unfailed."""
    with dms.Client(**options(dms_emulator)) as client:
        iterator = client.iter_send(({"topic": "orders", "body": f"x{n}"} for n in range(50)), concurrency=2)
        next(iterator)
        next(iterator)
        iterator.close()  # type: ignore[attr-defined]
    (span,) = otel.spans("iter_send")
    assert span.attributes is not None
    assert span.attributes["messaging.batch.message_count"] == 2
    assert span.status.status_code is StatusCode.UNSET


def test_cli_send_get_query_and_bulk(
    otel: Telemetry,
    dms_emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
) -> None:
    """The command line's send --confirm, get, query and send --file are traced like the library calls."""
    from dms_rocketmq.cli import main

    for name, value in environment(dms_emulator).items():
        monkeypatch.setenv(name, value)
    assert main(["send", "--topic", "orders", "--body", "cli", "--key", "k1", "--confirm", "--output", "json"]) == 0
    msg_id = json.loads(capsys.readouterr().out)["msg_id"]
    assert main(["get", "--topic", "orders", "--msg-id", msg_id, "--output", "json"]) == 0
    assert main(["query", "--topic", "orders", "--key", "k1", "--output", "json"]) == 0
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"body": f"line-{n}"}) + "\n" for n in range(5)))
    assert main(["send", "--topic", "orders", "--file", str(source), "--output", "json"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "not-the-secret-key-of-this-access-key")
    assert main(["send", "--topic", "orders", "--body", "refused", "--output", "json"]) == 1
    capsys.readouterr()
    refused = otel.spans("send orders")[-1]
    assert_failed(refused, dms.AuthenticationError, 401)
    sends = otel.spans("send orders")[:-1]
    assert len(sends) == 6
    assert sends[0].attributes is not None
    assert sends[0].attributes["messaging.message.id"] == msg_id
    assert otel.spans("confirm orders")
    assert len(otel.spans("get_message orders")) >= 2
    assert len(otel.spans("query_messages orders")) == 1


def test_no_secret_header_or_body_is_exported(otel: Telemetry, dms_emulator: Any) -> None:
    """Every operation, successes and failures, with AK/SK and with a token: the exported spans and metrics
    hold no SK, token, Authorization header or message body."""
    bodies = [f"body-secret-{n}-payload" for n in range(6)]
    wrong_sk = "wrong-secret-key-never-exported"
    with dms.Client(**options(dms_emulator)) as client:
        result = client.send("orders", bodies[0], keys="k")
        client.send_many([{"topic": "orders", "body": body} for body in bodies[1:3]])
        list(client.iter_send([{"topic": "orders", "body": bodies[3]}]))
        client.confirm(result)
        list(client.query_messages("orders", key="k"))
    token_options = options(dms_emulator, token=dms_emulator.token)
    del token_options["ak"], token_options["sk"]
    with dms.Client(**token_options) as client:
        client.send("orders", bodies[4])
    with dms.Client(**options(dms_emulator, sk=wrong_sk)) as client, pytest.raises(dms.AuthenticationError):
        client.send("orders", bodies[5])
    text = otel.exported_text()
    assert "send orders" in text
    for secret in [dms_emulator.sk, dms_emulator.token, wrong_sk, *bodies]:
        assert secret not in text
    for header in ("authorization", "x-auth-token", "x-sdk-date", "signature"):
        assert header not in text.lower()


def test_semconv_opt_in_dup_adds_the_v1_24_operation(otel: Telemetry, dms_emulator: Any, monkeypatch: Any) -> None:
    """OTEL_SEMCONV_STABILITY_OPT_IN=messaging/dup: spans also carry v1.24's messaging.operation."""
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "http, messaging/dup")
    DmsRocketMQInstrumentor().uninstrument()
    DmsRocketMQInstrumentor().instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
    with dms.Client(**options(dms_emulator)) as client:
        result = client.send("orders", "dup")
        client.get_message("orders", result.msg_id)
    send, read = otel.spans()
    assert send.attributes is not None
    assert read.attributes is not None
    assert send.attributes["messaging.operation"] == "publish"
    assert send.attributes["messaging.operation.type"] == "send"
    assert read.attributes["messaging.operation"] == "receive"
    assert otel.total("messaging.client.sent.messages") == 1  # counted after re-instrumenting the same provider


def test_each_meter_provider_counts_its_own_sends(otel: Telemetry, dms_emulator: Any) -> None:
    """Instrumented with one provider, then another: each provider's sent-messages counter has its own sends."""
    with dms.Client(**options(dms_emulator)) as client:
        client.send("orders", "first provider")
        DmsRocketMQInstrumentor().uninstrument()
        second = Telemetry()
        DmsRocketMQInstrumentor().instrument(
            tracer_provider=second.tracer_provider, meter_provider=second.meter_provider
        )
        client.send("orders", "second provider")
        client.send("orders", "second provider again")
    assert otel.total("messaging.client.sent.messages") == 1
    assert second.total("messaging.client.sent.messages") == 2
    assert len(second.spans()) == 2
    second.tracer_provider.shutdown()
    second.meter_provider.shutdown()


def test_uninstrument_restores_the_clients(otel: Telemetry, dms_emulator: Any) -> None:
    """After uninstrument() the clients' operations are their own functions again and nothing is recorded."""
    DmsRocketMQInstrumentor().uninstrument()
    assert not _telemetry.installed()
    assert not hasattr(dms.Client.send, "__wrapped__")
    assert not hasattr(dms.AsyncClient.send, "__wrapped__")
    with dms.Client(**options(dms_emulator)) as client:
        client.send("orders", "untraced")
    assert otel.spans() == []


def test_a_cancelled_send_ends_its_span(otel: Telemetry, dms_emulator: Any) -> None:
    """An AsyncClient send cancelled while waiting for a slow answer: its span ends, error.type CancelledError."""
    dms_emulator.inject_faults(1, status=503, delay_ms=5000)  # a slow failure: nothing stored behind the test's back

    async def main() -> None:
        async with dms.AsyncClient(**options(dms_emulator)) as client:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(client.send("orders", "cancelled"), 0.5)

    asyncio.run(main())
    (span,) = otel.spans()
    assert_failed(span, asyncio.CancelledError, None)
    assert otel.total("messaging.client.sent.messages", **{"error.type": "CancelledError"}) == 1


def _outcome(call: Any) -> Any:
    """What a call gave: its result's fields, or its exception's type and message."""
    try:
        value = call()
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc))
    if isinstance(value, dms.SendResult):
        return ("result", value.topic, value.retries_taken)
    if isinstance(value, list):
        return ("list", [_outcome(lambda item=item: item) for item in value])
    return ("value", type(value).__name__)


HOSTILE_CALLS: dict[str, Any] = {
    "topic not a string": lambda c: c.send(123, "body"),
    "empty topic": lambda c: c.send("", "body"),
    "topic too long": lambda c: c.send("t" * 300, "body"),
    "body None": lambda c: c.send("orders", None),
    "body not UTF-8": lambda c: c.send("orders", b"\xff\xfe"),
    "keys from a generator": lambda c: c.send("orders", "b", keys=(key for key in ["g1", "g2"])),
    "keys not strings": lambda c: c.send("orders", "b", keys=["a", 1]),
    "keys a number": lambda c: c.send("orders", "b", keys=123),
    "tags a list": lambda c: c.send("orders", "b", tags=["x"]),
    "max_retries negative": lambda c: c.send("orders", "b", max_retries=-1),
    "timeout a string": lambda c: c.send("orders", "b", timeout="soon"),
    "msg_id empty": lambda c: c.get_message("orders", ""),
    "page_size zero": lambda c: list(c.query_messages("orders", page_size=0)),
    "confirm not a result": lambda c: c.confirm(object(), timeout=0.1),
    "send_many not iterable": lambda c: c.send_many(None),
    "send_many bad item": lambda c: c.send_many([object(), {"topic": "orders", "body": "ok"}]),
    "iter_send bad item": lambda c: list(c.iter_send([{"topic": "orders"}])),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_CALLS))
def test_instrumentation_changes_nothing_a_call_does(dms_emulator: Any, name: str) -> None:
    """Hostile input at each public operation: the same result or the same exception, word for word, with
    the instrumentation on as without it, and the same messages stored (a generator of keys is not consumed)."""
    call = HOSTILE_CALLS[name]

    def run() -> tuple[Any, list[Any]]:
        dms_emulator.reset()
        with dms.Client(**options(dms_emulator)) as client:
            outcome = _outcome(lambda: call(client))
        stored = [(m["body"], m.get("properties", {}).get("KEYS")) for m in dms_emulator.messages("orders")]
        return outcome, stored

    plain = run()
    telemetry = Telemetry()
    instrumentor = DmsRocketMQInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        traced = run()
    finally:
        instrumentor.uninstrument()
        telemetry.tracer_provider.shutdown()
        telemetry.meter_provider.shutdown()
    assert traced == plain
    for span in telemetry.spans():
        assert span.end_time is not None
