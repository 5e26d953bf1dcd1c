"""OpenTelemetry instrumentation of `dms_rocketmq`: `DmsRocketMQInstrumentor().instrument()`.

Needs the `otel` extra (`pip install 'dms-rocketmq[otel]'`: opentelemetry-api and opentelemetry-instrumentation).
Registered under the `opentelemetry_instrumentor` entry point, so `opentelemetry-instrument` finds it and an
application started that way is traced with no code change. `dms_rocketmq` itself never imports this module:
an application that does not instrument imports no part of OpenTelemetry. See docs/observability.md.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from . import _telemetry
from ._telemetry import DURATION_BUCKETS, SEMCONV_SCHEMA_URL, SEMCONV_VERSION

__all__ = ["DURATION_BUCKETS", "SEMCONV_SCHEMA_URL", "SEMCONV_VERSION", "DmsRocketMQInstrumentor"]


class DmsRocketMQInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Spans and metrics for every send and query of `Client` and `AsyncClient` (and so of the CLI).

    `instrument(tracer_provider=..., meter_provider=...)` starts tracing, with the global providers when none
    is given (a provider configured later is picked up); `uninstrument()` stops it. Both are idempotent.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        """None: the instrumented library is this package itself."""
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        _telemetry.install(tracer_provider=kwargs.get("tracer_provider"), meter_provider=kwargs.get("meter_provider"))

    def _uninstrument(self, **kwargs: Any) -> None:
        _telemetry.uninstall()
