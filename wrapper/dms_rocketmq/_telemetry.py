"""OpenTelemetry spans and metrics around the clients' operations, installed by `DmsRocketMQInstrumentor`.

Nothing here runs, and this module is not imported, until the instrumentor is: `install()` replaces the
operations of `Client` and `AsyncClient` (`send`, `send_many`, `iter_send`, `confirm`, the query of one page
behind `get_message` and `query_messages`) and the retry decision (`_next_delay`) with traced versions, and
`uninstall()` puts the originals back, as OpenTelemetry's own instrumentations patch the libraries they
trace. So an application that does not instrument pays nothing at all, and one that instruments without a
configured tracer or meter provider pays one check per operation (`_active`) before the original runs.

The names follow OpenTelemetry's messaging semantic conventions, version `SEMCONV_VERSION` (docs/observability.md
lists every span, attribute and metric). Nothing recorded carries a message body, the SK, a token, a header
or an exception's message (it may quote what was sent): an error is recorded by its exception's class name.
"""

from __future__ import annotations

import contextvars
import functools
import os
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Counter, Histogram, MeterProvider, Observation
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider

from ._client import AsyncClient, Client
from ._exceptions import APIStatusError
from ._models import SendFailure, SendResult, StoredMessage
from ._query import Page

__all__ = [
    "DURATION_BUCKETS",
    "SEMCONV_SCHEMA_URL",
    "SEMCONV_VERSION",
    "StabilityMode",
    "install",
    "installed",
    "provider_configured",
    "stability_mode",
    "uninstall",
]

SEMCONV_VERSION: Final = "1.44.0"
SEMCONV_SCHEMA_URL: Final = f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}"
INSTRUMENTATION_NAME: Final = "dms_rocketmq"

# The conventions' advice for messaging.client.operation.duration (seconds).
DURATION_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)

# Attribute names (messaging, server, error and HTTP conventions; `dms_rocketmq.*`: this client's own).
MESSAGING_SYSTEM: Final = "messaging.system"
MESSAGING_OPERATION_NAME: Final = "messaging.operation.name"
MESSAGING_OPERATION_TYPE: Final = "messaging.operation.type"
MESSAGING_DESTINATION_NAME: Final = "messaging.destination.name"
MESSAGING_DESTINATION_PARTITION_ID: Final = "messaging.destination.partition.id"
MESSAGING_MESSAGE_ID: Final = "messaging.message.id"
MESSAGING_BATCH_MESSAGE_COUNT: Final = "messaging.batch.message_count"
MESSAGING_ROCKETMQ_MESSAGE_KEYS: Final = "messaging.rocketmq.message.keys"
MESSAGING_ROCKETMQ_MESSAGE_TAG: Final = "messaging.rocketmq.message.tag"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
HTTP_REQUEST_RESEND_COUNT: Final = "http.request.resend_count"
ERROR_CODE: Final = "dms_rocketmq.error_code"
RETRY_DELAY: Final = "dms_rocketmq.retry.delay"
BATCH_FAILURE_COUNT: Final = "dms_rocketmq.batch.failure_count"
# The name the messaging conventions up to v1.24.0 gave the operation (`publish`, `receive`): emitted as well
# with OTEL_SEMCONV_STABILITY_OPT_IN=messaging/dup.
MESSAGING_OPERATION_V1_24: Final = "messaging.operation"

ROCKETMQ: Final = "rocketmq"
RETRY_EVENT: Final = "dms_rocketmq.retry"

# Metric names: the two the conventions define, and the gateway's throttling (this client's own).
OPERATION_DURATION: Final = "messaging.client.operation.duration"
SENT_MESSAGES: Final = "messaging.client.sent.messages"
THROTTLED_RESPONSES: Final = "dms_rocketmq.client.throttled_responses"

OPT_IN_VARIABLE: Final = "OTEL_SEMCONV_STABILITY_OPT_IN"


class StabilityMode:
    """What OTEL_SEMCONV_STABILITY_OPT_IN asks of the messaging conventions (`messaging`, `messaging/dup`)."""

    DEFAULT: Final = "default"
    MESSAGING: Final = "messaging"
    MESSAGING_DUP: Final = "messaging/dup"


def stability_mode(environ: Mapping[str, str] | None = None) -> str:
    """The messaging mode OTEL_SEMCONV_STABILITY_OPT_IN selects, read as OpenTelemetry's instrumentations read it.

    A comma-separated list; `messaging/dup` wins over `messaging`; anything else is ignored.
    """
    opt_in = (os.environ if environ is None else environ).get(OPT_IN_VARIABLE, "")
    values = {value.strip() for value in opt_in.split(",")}
    if StabilityMode.MESSAGING_DUP in values:
        return StabilityMode.MESSAGING_DUP
    if StabilityMode.MESSAGING in values:
        return StabilityMode.MESSAGING
    return StabilityMode.DEFAULT


@functools.lru_cache(maxsize=64)
def _server(endpoint: str) -> tuple[tuple[str, str | int], ...]:
    """`server.address` and `server.port` of an endpoint URL (never its user information)."""
    parts = urlsplit(endpoint)
    pairs: list[tuple[str, str | int]] = []
    if parts.hostname:
        pairs.append((SERVER_ADDRESS, parts.hostname))
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None and parts.scheme in ("http", "https"):
        port = 443 if parts.scheme == "https" else 80
    if port is not None:
        pairs.append((SERVER_PORT, port))
    return tuple(pairs)


def error_type(error: BaseException) -> str:
    """The `error.type` of an exception: its class name (`RateLimitError`, `APITimeoutError`, ...)."""
    return type(error).__qualname__


class _SentCounts:
    """Messages sent per attribute set, read by the metrics SDK when it collects (an observable counter).

    The exported data is the conventions' counter (a monotonic sum); counted here, a send costs a dictionary
    update under a lock instead of a synchronous counter's attribute validation and hashing on every call.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[tuple[str, Any], ...], list[Any]] = {}

    def add(self, count: int, attributes: dict[str, Any], key: tuple[tuple[str, Any], ...] | None = None) -> None:
        """Count `count` messages under `attributes`; `key`, when given, is `tuple(attributes.items())`."""
        if key is None:
            key = tuple(attributes.items())
        with self._lock:
            entry = self._counts.get(key)
            if entry is None:
                self._counts[key] = [count, dict(attributes)]
            else:
                entry[0] += count

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            return [Observation(count, attributes) for count, attributes in self._counts.values()]


# One count per meter provider, kept across uninstall/install: the metrics SDK keeps the callback of an
# observable counter first registered under a name, so a reinstall on the same provider must feed that one.
_sent_by_provider: weakref.WeakKeyDictionary[MeterProvider, _SentCounts] = weakref.WeakKeyDictionary()
_sent_global = _SentCounts()


def _sent_counts(meter_provider: MeterProvider | None) -> _SentCounts:
    if meter_provider is None:
        return _sent_global
    counts = _sent_by_provider.get(meter_provider)
    if counts is None:
        counts = _sent_by_provider[meter_provider] = _SentCounts()
    return counts


_NAMES_KEPT = 1024


class _Names:
    """What the operations of one endpoint, operation and topic share, built once: the span name and the
    attributes of the metrics (also the span's first ones), with their sent-messages key."""

    __slots__ = ("metric_attributes", "sent_key", "span_name")

    def __init__(self, span_name: str, metric_attributes: dict[str, Any]) -> None:
        self.span_name = span_name
        self.metric_attributes = metric_attributes
        self.sent_key = tuple(metric_attributes.items())


class _Operation:
    """One traced operation: its span, its shared names and attributes, and the resends it has made."""

    __slots__ = ("names", "resends", "span")

    def __init__(self, span: Span, names: _Names) -> None:
        self.span = span
        self.names = names
        self.resends = 0


# The operation the retry decision belongs to: set around each traced operation (per thread, per task).
_current: contextvars.ContextVar[_Operation | None] = contextvars.ContextVar("dms_rocketmq_operation", default=None)

_PROXY_TRACER_PROVIDERS = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
# The API has no public name for the provider it answers while none is configured (a proxy).
_PROXY_METER_PROVIDERS = (
    getattr(metrics._internal, "_ProxyMeterProvider", metrics.NoOpMeterProvider),
    metrics.NoOpMeterProvider,
)


def _configured_by_lookup() -> bool:
    """Whether a global tracer or meter provider is configured, asked through the API's public functions."""
    return not isinstance(trace.get_tracer_provider(), _PROXY_TRACER_PROVIDERS) or not isinstance(
        metrics.get_meter_provider(), _PROXY_METER_PROVIDERS
    )


# The API keeps each global provider in a module variable that is None until one is set. Reading the two is
# two attribute loads, where get_tracer_provider() and get_meter_provider() look an environment variable up
# on every call while none is set: this is the one check an operation pays with no provider configured. A
# private detail of opentelemetry-api, so used only when both are there, and
# tests/unit/test_telemetry_gate.py fails when a release drops or changes them (this then falls back to
# `_configured_by_lookup`, correct but slower).
_TRACE_GLOBALS: Any = trace
_METRICS_GLOBALS: Any = metrics._internal
_FAST_CHECK: Final = hasattr(_TRACE_GLOBALS, "_TRACER_PROVIDER") and hasattr(_METRICS_GLOBALS, "_METER_PROVIDER")


def provider_configured() -> bool:
    """Whether a global tracer or meter provider is configured (the proxies the API answers with otherwise)."""
    if _FAST_CHECK:
        return _TRACE_GLOBALS._TRACER_PROVIDER is not None or _METRICS_GLOBALS._METER_PROVIDER is not None
    return _configured_by_lookup()


class _Telemetry:
    """The tracer and instruments of one `install()`, and the operations that record into them."""

    def __init__(self, tracer_provider: TracerProvider | None, meter_provider: MeterProvider | None) -> None:
        from . import __version__

        self.tracer: Tracer = trace.get_tracer(
            INSTRUMENTATION_NAME, __version__, tracer_provider, schema_url=SEMCONV_SCHEMA_URL
        )
        meter = metrics.get_meter(INSTRUMENTATION_NAME, __version__, meter_provider, schema_url=SEMCONV_SCHEMA_URL)
        self.duration: Histogram = meter.create_histogram(
            OPERATION_DURATION,
            unit="s",
            description="Duration of messaging operation initiated by a producer or consumer client.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.sent = _sent_counts(meter_provider)
        meter.create_observable_counter(
            SENT_MESSAGES,
            callbacks=[self.sent.observe],
            unit="{message}",
            description="Number of messages producer attempted to send to the broker.",
        )
        self.throttled: Counter = meter.create_counter(
            THROTTLED_RESPONSES,
            unit="{response}",
            description="Answers 429 (the gateway's throttling) to a send or a query, retried or not.",
        )
        # Whether anything records: for good once true. A provider given to instrument() is real; otherwise
        # `_active` looks at the global ones per operation until one is configured (after instrument() too).
        self.live = tracer_provider is not None or meter_provider is not None
        self.dup = stability_mode() == StabilityMode.MESSAGING_DUP
        self._names: dict[tuple[str, str, str | None, str | None], _Names] = {}

    def names(self, client: Any, operation: str, operation_type: str | None, topic: object) -> _Names:
        """The shared names of an operation (built on its first call for the client's endpoint and topic)."""
        destination = topic if isinstance(topic, str) and topic else None
        key = (client._settings.endpoint, operation, operation_type, destination)
        names = self._names.get(key)
        if names is None:
            if len(self._names) >= _NAMES_KEPT:  # topics without end: start over rather than grow
                self._names.clear()
            names = self._names[key] = self._build_names(*key)
        return names

    def start(
        self,
        client: Any,
        operation: str,
        operation_type: str | None,
        topic: object,
        kind: SpanKind,
        extra: dict[str, Any] | None = None,
    ) -> _Operation:
        """Start an operation's span (named `{operation} {topic}`, or `{operation}` without a topic)."""
        names = self.names(client, operation, operation_type, topic)
        # The SDK copies what it is given; the cached dictionaries are never changed (see `finish`).
        attributes = {**names.metric_attributes, **extra} if extra else names.metric_attributes
        return _Operation(self.tracer.start_span(names.span_name, kind=kind, attributes=attributes), names)

    def start_send(self, client: Any, topic: object, keys: object, tags: object) -> _Operation:
        """Start a send's span: `start` for the operation every message of a batch makes, in one dictionary."""
        names = self.names(client, "send", "send", topic)
        attributes = names.metric_attributes
        if keys is not None or tags is not None:
            attributes = dict(attributes)
            _add_send_attributes(attributes, keys, tags)
        return _Operation(self.tracer.start_span(names.span_name, kind=SpanKind.CLIENT, attributes=attributes), names)

    def _build_names(
        self, endpoint: str, operation: str, operation_type: str | None, destination: str | None
    ) -> _Names:
        attributes: dict[str, Any] = {MESSAGING_SYSTEM: ROCKETMQ, MESSAGING_OPERATION_NAME: operation}
        if operation_type is not None:
            attributes[MESSAGING_OPERATION_TYPE] = operation_type
            if self.dup:
                attributes[MESSAGING_OPERATION_V1_24] = "publish" if operation_type == "send" else operation_type
        if destination is not None:
            attributes[MESSAGING_DESTINATION_NAME] = destination
        attributes.update(_server(endpoint))
        return _Names(f"{operation} {destination}" if destination is not None else operation, attributes)

    def finish(
        self,
        op: _Operation,
        started: float,
        error: BaseException | None,
        token: _Token | None = None,
        *,
        record_duration: bool = True,
        sent_messages: int = 0,
    ) -> None:
        """End an operation's span with its error (its type only) and resends; record its metrics; then
        restore the context `token` saved (the metrics are recorded while the span is current, so that an
        exemplar of the duration points at this span, not at a parent)."""
        try:
            span = op.span
            attributes = op.names.metric_attributes
            sent_key: tuple[tuple[str, Any], ...] | None = op.names.sent_key
            if error is not None and not isinstance(error, GeneratorExit):  # GeneratorExit: iteration closed early
                kind = error_type(error)
                attributes = {**attributes, ERROR_TYPE: kind}
                sent_key = None
                span.set_attribute(ERROR_TYPE, kind)
                if isinstance(error, APIStatusError):
                    span.set_attribute(HTTP_RESPONSE_STATUS_CODE, error.status_code)
                    if error.error_code:
                        span.set_attribute(ERROR_CODE, error.error_code)
                # The description is the type, never str(error): a message may quote what was sent.
                span.set_status(Status(StatusCode.ERROR, kind))
            if op.resends:
                span.set_attribute(HTTP_REQUEST_RESEND_COUNT, op.resends)
            span.end()
            if record_duration:
                self.duration.record(time.perf_counter() - started, attributes)
            if sent_messages:
                self.sent.add(sent_messages, attributes, sent_key)
        finally:
            if token is not None:
                _leave(token)

    def on_retry_decision(self, error: BaseException, retries_taken: int, delay: float | None) -> None:
        """Count a 429; record a retry that will happen as an event of the operation's span."""
        op = _current.get()
        if op is None:
            return
        if isinstance(error, APIStatusError) and error.status_code == 429:
            self.throttled.add(1, op.names.metric_attributes)
        if delay is None:
            return
        op.resends = retries_taken + 1
        event: dict[str, Any] = {HTTP_REQUEST_RESEND_COUNT: op.resends, ERROR_TYPE: error_type(error)}
        if isinstance(error, APIStatusError):
            event[HTTP_RESPONSE_STATUS_CODE] = error.status_code
            if error.error_code:
                event[ERROR_CODE] = error.error_code
        event[RETRY_DELAY] = delay
        op.span.add_event(RETRY_EVENT, event)


def _add_send_attributes(attributes: dict[str, Any], keys: object, tags: object) -> None:
    """Add the keys and tag attributes of a send, from arguments the send itself checks (never consumed here)."""
    if isinstance(keys, str):
        attributes[MESSAGING_ROCKETMQ_MESSAGE_KEYS] = keys.split(
            " "
        )  # a string is the KEYS value: keys joined by spaces
    elif isinstance(keys, list | tuple) and all(isinstance(key, str) for key in keys):
        attributes[MESSAGING_ROCKETMQ_MESSAGE_KEYS] = list(keys)
    if isinstance(tags, str):
        attributes[MESSAGING_ROCKETMQ_MESSAGE_TAG] = tags


def _on_sent(span: Span, result: SendResult) -> None:
    span.set_attributes({MESSAGING_MESSAGE_ID: result.msg_id, MESSAGING_DESTINATION_PARTITION_ID: str(result.queue_id)})


def _query_names(arguments: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None]:
    msg_id = arguments.get("msg_id")
    if isinstance(msg_id, str):
        return "get_message", {MESSAGING_MESSAGE_ID: msg_id}
    return "query_messages", None


def _on_page(span: Span, operation: str, page: Page) -> None:
    if operation == "query_messages":
        span.set_attribute(MESSAGING_BATCH_MESSAGE_COUNT, len(page.messages))


def _bulk_end(span: Span, outcomes: int, failures: int) -> None:
    span.set_attribute(MESSAGING_BATCH_MESSAGE_COUNT, outcomes)
    span.set_attribute(BATCH_FAILURE_COUNT, failures)


# -- the traced operations ---------------------------------------------------------------------------------

_telemetry: _Telemetry | None = None
_originals: dict[tuple[type, str], Any] = {}

_Token = tuple[object, contextvars.Token[_Operation | None]]


def _active() -> _Telemetry | None:
    """The installed telemetry when anything would record; None (run the original) when nothing would.

    With no provider configured, this is the one check an operation pays. A global provider, once configured,
    cannot be replaced or removed, so the answer is kept from the first operation that finds one.
    """
    telemetry = _telemetry
    if telemetry is None or telemetry.live:
        return telemetry
    # A global provider set since: a real one, or the API's no-op ones, which record nothing either.
    if provider_configured() and _configured_by_lookup():
        telemetry.live = True
        return telemetry
    return None


def _enter(op: _Operation) -> _Token:
    """Make the operation's span current (its HTTP requests, retries and children belong to it)."""
    return otel_context.attach(trace.set_span_in_context(op.span)), _current.set(op)


def _leave(token: _Token) -> None:
    _current.reset(token[1])
    otel_context.detach(token[0])  # type: ignore[arg-type]


def _sync_send(original: Callable[..., SendResult]) -> Callable[..., SendResult]:
    @functools.wraps(original)
    def send(self: Client, *args: Any, **kwargs: Any) -> Any:
        telemetry = _active()
        if telemetry is None:
            return original(self, *args, **kwargs)
        started = time.perf_counter()
        topic = args[0] if args else kwargs.get("topic")
        op = telemetry.start_send(self, topic, kwargs.get("keys"), kwargs.get("tags"))
        token = _enter(op)
        error: BaseException | None = None
        try:
            result = original(self, *args, **kwargs)
            _on_sent(op.span, result)
            return result
        except BaseException as exc:
            error = exc
            raise
        finally:
            telemetry.finish(op, started, error, token, sent_messages=1)

    return send


def _async_send(original: Callable[..., Awaitable[SendResult]]) -> Callable[..., Awaitable[SendResult]]:
    @functools.wraps(original)
    async def send(self: AsyncClient, *args: Any, **kwargs: Any) -> Any:
        telemetry = _active()
        if telemetry is None:
            return await original(self, *args, **kwargs)
        started = time.perf_counter()
        topic = args[0] if args else kwargs.get("topic")
        op = telemetry.start_send(self, topic, kwargs.get("keys"), kwargs.get("tags"))
        token = _enter(op)
        error: BaseException | None = None
        try:
            result = await original(self, *args, **kwargs)
            _on_sent(op.span, result)
            return result
        except BaseException as exc:
            error = exc
            raise
        finally:
            telemetry.finish(op, started, error, token, sent_messages=1)

    return send


def _sync_query_page(original: Callable[..., Page]) -> Callable[..., Page]:
    @functools.wraps(original)
    def query_page(self: Client, arguments: dict[str, Any], *args: Any) -> Any:
        telemetry = _active()
        if telemetry is None:
            return original(self, arguments, *args)
        operation, extra = _query_names(arguments)
        started = time.perf_counter()
        op = telemetry.start(self, operation, "receive", arguments.get("topic"), SpanKind.CLIENT, extra)
        token = _enter(op)
        error: BaseException | None = None
        try:
            page = original(self, arguments, *args)
            _on_page(op.span, operation, page)
            return page
        except BaseException as exc:
            error = exc
            raise
        finally:
            telemetry.finish(op, started, error, token)

    return query_page


def _async_query_page(original: Callable[..., Awaitable[Page]]) -> Callable[..., Awaitable[Page]]:
    @functools.wraps(original)
    async def query_page(self: AsyncClient, arguments: dict[str, Any], *args: Any) -> Any:
        telemetry = _active()
        if telemetry is None:
            return await original(self, arguments, *args)
        operation, extra = _query_names(arguments)
        started = time.perf_counter()
        op = telemetry.start(self, operation, "receive", arguments.get("topic"), SpanKind.CLIENT, extra)
        token = _enter(op)
        error: BaseException | None = None
        try:
            page = await original(self, arguments, *args)
            _on_page(op.span, operation, page)
            return page
        except BaseException as exc:
            error = exc
            raise
        finally:
            telemetry.finish(op, started, error, token)

    return query_page


def _confirm_extra(result: object) -> dict[str, Any] | None:
    msg_id = getattr(result, "msg_id", None)
    return {MESSAGING_MESSAGE_ID: msg_id} if isinstance(msg_id, str) else None


def _sync_confirm(original: Callable[..., StoredMessage]) -> Callable[..., StoredMessage]:
    @functools.wraps(original)
    def confirm(self: Client, *args: Any, **kwargs: Any) -> Any:
        telemetry = _active()
        if telemetry is None:
            return original(self, *args, **kwargs)
        started = time.perf_counter()
        result = args[0] if args else kwargs.get("result")
        topic = getattr(result, "topic", None)
        op = telemetry.start(self, "confirm", None, topic, SpanKind.INTERNAL, _confirm_extra(result))
        token = _enter(op)
        error: BaseException | None = None
        try:
            return original(self, *args, **kwargs)
        except BaseException as exc:
            error = exc
            raise
        finally:
            telemetry.finish(op, started, error, token)

    return confirm


def _async_confirm(original: Callable[..., Awaitable[StoredMessage]]) -> Callable[..., Awaitable[StoredMessage]]:
    @functools.wraps(original)
    async def confirm(self: AsyncClient, *args: Any, **kwargs: Any) -> Any:
        telemetry = _active()
        if telemetry is None:
            return await original(self, *args, **kwargs)
        started = time.perf_counter()
        result = args[0] if args else kwargs.get("result")
        topic = getattr(result, "topic", None)
        op = telemetry.start(self, "confirm", None, topic, SpanKind.INTERNAL, _confirm_extra(result))
        token = _enter(op)
        error: BaseException | None = None
        try:
            return await original(self, *args, **kwargs)
        except BaseException as exc:
            error = exc
            raise
        finally:
            telemetry.finish(op, started, error, token)

    return confirm


def _failures(outcomes: list[Any]) -> int:
    return sum(1 for outcome in outcomes if isinstance(outcome, SendFailure))


def _sync_send_many(original: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
    @functools.wraps(original)
    def send_many(self: Client, *args: Any, **kwargs: Any) -> Any:
        telemetry = _active()
        if telemetry is None:
            return original(self, *args, **kwargs)
        started = time.perf_counter()
        op = telemetry.start(self, "send_many", "send", None, SpanKind.INTERNAL)
        token = _enter(op)  # the worker threads start in a copy of this context (_bulk.run_threads)
        error: BaseException | None = None
        try:
            outcomes = original(self, *args, **kwargs)
            _bulk_end(op.span, len(outcomes), _failures(outcomes))
            return outcomes
        except BaseException as exc:
            error = exc
            raise
        finally:
            # Each message's send records its own duration and count; the batch is a span only.
            telemetry.finish(op, started, error, token, record_duration=False)

    return send_many


def _async_send_many(original: Callable[..., Awaitable[list[Any]]]) -> Callable[..., Awaitable[list[Any]]]:
    @functools.wraps(original)
    async def send_many(self: AsyncClient, *args: Any, **kwargs: Any) -> Any:
        telemetry = _active()
        if telemetry is None:
            return await original(self, *args, **kwargs)
        started = time.perf_counter()
        op = telemetry.start(self, "send_many", "send", None, SpanKind.INTERNAL)
        token = _enter(op)  # the worker tasks start in a copy of this context
        error: BaseException | None = None
        try:
            outcomes = await original(self, *args, **kwargs)
            _bulk_end(op.span, len(outcomes), _failures(outcomes))
            return outcomes
        except BaseException as exc:
            error = exc
            raise
        finally:
            telemetry.finish(op, started, error, token, record_duration=False)

    return send_many


def _sync_iter_send(original: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    @functools.wraps(original)
    def iter_send(self: Client, *args: Any, **kwargs: Any) -> Any:
        telemetry = _active()
        inner = original(self, *args, **kwargs)
        if telemetry is None:
            return inner
        return _traced_iteration(telemetry, self, inner)

    return iter_send


def _traced_iteration(telemetry: _Telemetry, client: Client, inner: Iterator[Any]) -> Iterator[Any]:
    """`inner`'s pairs under one `iter_send` span, current only while `inner` runs (its sends are children)."""
    started = time.perf_counter()
    op = telemetry.start(client, "iter_send", "send", None, SpanKind.INTERNAL)
    outcomes = failures = 0
    error: BaseException | None = None
    try:
        while True:
            token = _enter(op)
            try:
                pair = next(inner)
            except StopIteration:
                break
            finally:
                _leave(token)
            outcomes += 1
            failures += isinstance(pair[1], SendFailure)
            yield pair
    except BaseException as exc:
        error = exc
        raise
    finally:
        close = getattr(inner, "close", None)
        if close is not None:
            close()
        _bulk_end(op.span, outcomes, failures)
        telemetry.finish(op, started, error, record_duration=False)


def _async_iter_send(original: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
    @functools.wraps(original)
    def iter_send(self: AsyncClient, *args: Any, **kwargs: Any) -> Any:
        telemetry = _active()
        inner = original(self, *args, **kwargs)
        if telemetry is None:
            return inner
        return _traced_async_iteration(telemetry, self, inner)

    return iter_send


async def _traced_async_iteration(
    telemetry: _Telemetry, client: AsyncClient, inner: AsyncIterator[Any]
) -> AsyncIterator[Any]:
    """As `_traced_iteration`, for `AsyncClient.iter_send`."""
    started = time.perf_counter()
    op = telemetry.start(client, "iter_send", "send", None, SpanKind.INTERNAL)
    outcomes = failures = 0
    error: BaseException | None = None
    try:
        while True:
            token = _enter(op)
            try:
                pair = await anext(inner)
            except StopAsyncIteration:
                break
            finally:
                _leave(token)
            outcomes += 1
            failures += isinstance(pair[1], SendFailure)
            yield pair
    except BaseException as exc:
        error = exc
        raise
    finally:
        aclose = getattr(inner, "aclose", None)
        if aclose is not None:
            await aclose()
        _bulk_end(op.span, outcomes, failures)
        telemetry.finish(op, started, error, record_duration=False)


def _next_delay(original: Callable[..., float | None]) -> Callable[..., float | None]:
    @functools.wraps(original)
    def next_delay(self: Any, error: BaseException, retries_taken: int, *args: Any, **kwargs: Any) -> float | None:
        delay = original(self, error, retries_taken, *args, **kwargs)
        telemetry = _telemetry
        if telemetry is not None:
            telemetry.on_retry_decision(error, retries_taken, delay)
        return delay

    return next_delay


_PATCHES: tuple[tuple[type, str, Callable[[Any], Any]], ...] = (
    (Client, "send", _sync_send),
    (Client, "send_many", _sync_send_many),
    (Client, "iter_send", _sync_iter_send),
    (Client, "confirm", _sync_confirm),
    (Client, "_query_page", _sync_query_page),
    (AsyncClient, "send", _async_send),
    (AsyncClient, "send_many", _async_send_many),
    (AsyncClient, "iter_send", _async_iter_send),
    (AsyncClient, "confirm", _async_confirm),
    (AsyncClient, "_query_page", _async_query_page),
)


def install(*, tracer_provider: TracerProvider | None = None, meter_provider: MeterProvider | None = None) -> None:
    """Trace the clients' operations (again, with these providers, if already installed)."""
    global _telemetry  # one instrumentation per process, as OpenTelemetry's instrumentors are
    from ._base import BaseClient

    _telemetry = _Telemetry(tracer_provider, meter_provider)
    if _originals:
        return
    for owner, name, traced in (*_PATCHES, (BaseClient, "_next_delay", _next_delay)):
        original = owner.__dict__[name]
        _originals[(owner, name)] = original
        setattr(owner, name, traced(original))


def uninstall() -> None:
    """Put the clients' own operations back."""
    global _telemetry
    for (owner, name), original in _originals.items():
        setattr(owner, name, original)
    _originals.clear()
    _telemetry = None


def installed() -> bool:
    """Whether the clients' operations are traced now."""
    return bool(_originals)
