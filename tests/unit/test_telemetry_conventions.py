"""The instrumentation's names are the semantic conventions' own, as OpenTelemetry's package spells them."""

from __future__ import annotations

import pytest
from dms_rocketmq import _telemetry
from opentelemetry.semconv._incubating.attributes import messaging_attributes as messaging
from opentelemetry.semconv._incubating.metrics import messaging_metrics
from opentelemetry.semconv.attributes import error_attributes, http_attributes, server_attributes
from opentelemetry.semconv.schemas import Schemas

# Each attribute and metric name the instrumentation uses, and where the conventions define it.
CONVENTIONS = {
    "MESSAGING_SYSTEM": messaging.MESSAGING_SYSTEM,
    "MESSAGING_OPERATION_NAME": messaging.MESSAGING_OPERATION_NAME,
    "MESSAGING_OPERATION_TYPE": messaging.MESSAGING_OPERATION_TYPE,
    "MESSAGING_DESTINATION_NAME": messaging.MESSAGING_DESTINATION_NAME,
    "MESSAGING_DESTINATION_PARTITION_ID": messaging.MESSAGING_DESTINATION_PARTITION_ID,
    "MESSAGING_MESSAGE_ID": messaging.MESSAGING_MESSAGE_ID,
    "MESSAGING_BATCH_MESSAGE_COUNT": messaging.MESSAGING_BATCH_MESSAGE_COUNT,
    "MESSAGING_ROCKETMQ_MESSAGE_KEYS": messaging.MESSAGING_ROCKETMQ_MESSAGE_KEYS,
    "MESSAGING_ROCKETMQ_MESSAGE_TAG": messaging.MESSAGING_ROCKETMQ_MESSAGE_TAG,
    "MESSAGING_OPERATION_V1_24": messaging.MESSAGING_OPERATION,
    "SERVER_ADDRESS": server_attributes.SERVER_ADDRESS,
    "SERVER_PORT": server_attributes.SERVER_PORT,
    "ERROR_TYPE": error_attributes.ERROR_TYPE,
    "HTTP_RESPONSE_STATUS_CODE": http_attributes.HTTP_RESPONSE_STATUS_CODE,
    "HTTP_REQUEST_RESEND_COUNT": http_attributes.HTTP_REQUEST_RESEND_COUNT,
    "OPERATION_DURATION": messaging_metrics.MESSAGING_CLIENT_OPERATION_DURATION,
    "SENT_MESSAGES": messaging_metrics.MESSAGING_CLIENT_SENT_MESSAGES,
}


@pytest.mark.parametrize("name", sorted(CONVENTIONS))
def test_names_are_the_conventions(name: str) -> None:
    """Every conventional name the instrumentation emits is spelled as the conventions' package spells it."""
    assert getattr(_telemetry, name) == CONVENTIONS[name]


def test_values_are_the_conventions() -> None:
    """messaging.system and the operation types are the conventions' enumerated values."""
    assert messaging.MessagingSystemValues.ROCKETMQ.value == _telemetry.ROCKETMQ
    assert messaging.MessagingOperationTypeValues.SEND.value == "send"
    assert messaging.MessagingOperationTypeValues.RECEIVE.value == "receive"


def test_schema_url_is_a_published_version() -> None:
    """The schema URL the spans and metrics carry is one the conventions publish."""
    assert _telemetry.SEMCONV_SCHEMA_URL in {schema.value for schema in Schemas}


def test_own_names_live_in_the_package_namespace() -> None:
    """Names the conventions do not define are under `dms_rocketmq.`, as the conventions ask."""
    own = [_telemetry.ERROR_CODE, _telemetry.RETRY_DELAY, _telemetry.BATCH_FAILURE_COUNT, _telemetry.RETRY_EVENT]
    assert all(name.startswith("dms_rocketmq.") for name in [*own, _telemetry.THROTTLED_RESPONSES])


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        (None, "default"),
        ("", "default"),
        ("http", "default"),
        ("messaging", "messaging"),
        ("http, messaging ", "messaging"),
        ("messaging,messaging/dup", "messaging/dup"),
        (" messaging/dup ,database", "messaging/dup"),
        ("messagingx,Messaging", "default"),
    ],
)
def test_stability_opt_in_is_read_as_opentelemetry_reads_it(value: str | None, mode: str) -> None:
    """OTEL_SEMCONV_STABILITY_OPT_IN: a comma-separated list, values trimmed, `/dup` winning; others ignored."""
    environ = {} if value is None else {"OTEL_SEMCONV_STABILITY_OPT_IN": value}
    assert _telemetry.stability_mode(environ) == mode


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        (
            "https://dms.cn-north-4.myhuaweicloud.com",
            {"server.address": "dms.cn-north-4.myhuaweicloud.com", "server.port": 443},
        ),
        ("http://127.0.0.1:8765", {"server.address": "127.0.0.1", "server.port": 8765}),
        ("https://user:secret@host.example:9443/base", {"server.address": "host.example", "server.port": 9443}),
        ("https://[::1]:8443", {"server.address": "::1", "server.port": 8443}),
    ],
)
def test_server_attributes_of_an_endpoint(endpoint: str, expected: dict[str, object]) -> None:
    """server.address and server.port come from the endpoint, its default port included, never its user info."""
    assert dict(_telemetry._server(endpoint)) == expected
