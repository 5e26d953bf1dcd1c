"""Turning a send's HTTP answer into a `SendResult` or one exception (no I/O here).

`result_from_generated` takes an answer that came through the generated client (httpx); the direct aiohttp
sender's `result_from_content` (in `_fast_path`) ends in the same `send_result`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

import httpx
from dms_rocketmq_api.models.send_message_response import SendMessageResponse
from dms_rocketmq_api.spec_rules import MESSAGE_ID_PROPERTY
from dms_rocketmq_api.types import Response

from ._exceptions import APIError, MalformedResponseError, status_error_from_response
from ._models import SendResult
from ._transport import last_response

__all__ = ["LazyResponse", "parse_failure", "result_from_generated", "send_result"]

#: Builds the httpx.Response an exception carries, only when one is raised.
LazyResponse: TypeAlias = Callable[[], httpx.Response]


def _whole_number(name: str, value: object, response: httpx.Response) -> int:
    # The official SDK types these as float; accept 3.0 but not "3", True or 3.5.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise MalformedResponseError(f"200 response has {name}={value!r}, expected a whole number.", response=response)


def _text(name: str, value: object, response: httpx.Response) -> str:
    if isinstance(value, str):
        return value
    raise MalformedResponseError(f"200 response has {name}={value!r}, expected a string.", response=response)


def parse_failure(exc: Exception) -> APIError:
    """The generated parser raised on this response: name what was wrong with it."""
    raw = last_response.get()
    if raw is None:
        # No response arrived: building or sending the request failed before (a value httpx cannot encode
        # that the up-front checks missed). Still a DMSError, never a bare one; nothing was sent.
        return APIError(f"The request could not be built ({type(exc).__name__}: {exc}); nothing was sent.")
    if raw.status_code != 200:
        return status_error_from_response(raw)
    return MalformedResponseError(
        f"200 response is not a valid SendMessageResponse ({type(exc).__name__}: {exc}).", response=raw
    )


def send_result(
    parsed: SendMessageResponse,
    raw: httpx.Response | None,
    lazy: LazyResponse,
    request_id: str | None,
    retries_taken: int,
    request: bytes | None = None,
) -> SendResult:
    """Check the parsed 200 body's types (the generated parser does not) and build the SendResult.

    `request` is the request body as sent (JSON bytes), which the result keeps for `SendResult.sent`.
    """
    properties: dict[str, str] = {}
    for entry in parsed.property_list:
        if isinstance(entry.name, str) and isinstance(entry.value, str):
            properties[entry.name] = entry.value
    msg_id, topic, broker = parsed.msg_id, parsed.topic, parsed.broker_name
    queue_id, queue_offset = parsed.queue_id, parsed.queue_offset
    if not (
        type(msg_id) is str
        and type(topic) is str
        and type(broker) is str
        and type(queue_id) is int
        and type(queue_offset) is int
    ):
        response = raw if raw is not None else lazy()
        msg_id = _text("msg_id", msg_id, response)
        topic = _text("topic", topic, response)
        broker = _text("broker_name", broker, response)
        queue_id = _whole_number("queue_id", queue_id, response)
        queue_offset = _whole_number("queue_offset", queue_offset, response)
    return SendResult(
        msg_id=msg_id,
        queue_id=queue_id,
        queue_offset=queue_offset,
        broker_name=broker,
        uniq_key=properties.get(MESSAGE_ID_PROPERTY),
        topic=topic,
        properties=properties,
        request_id=request_id,
        retries_taken=retries_taken,
        request=request,
    )


def result_from_generated(generated: Response[Any], retries_taken: int) -> SendResult:
    """The SendResult of an answer the generated client parsed, or the exception its status maps to."""
    raw = last_response.get()
    assert raw is not None, "the response hook did not run"
    if raw.status_code != 200:
        raise status_error_from_response(raw)
    parsed = generated.parsed
    if not isinstance(parsed, SendMessageResponse):  # pragma: no cover - the generator guarantees it
        raise MalformedResponseError("200 response could not be parsed.", response=raw)
    request = raw.request.content  # the body as sent: httpx encoded the generated model's `json=`
    return send_result(parsed, raw, lambda: raw, raw.headers.get("X-Request-Id"), retries_taken, request)
