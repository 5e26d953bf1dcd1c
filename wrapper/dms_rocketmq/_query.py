"""Reading stored messages back (ListMessages): query arguments, paging, and parsing into `StoredMessage` (no I/O).

The clients pass `query_arguments` to the generated `list_messages.sync_detailed`/`asyncio_detailed` and turn
each answer into a `Page` with `page_from_generated`; `Paging` says which page to ask for next. The service's
types drifted across versions of its reference (`queue_id`, `queue_offset`, `reconsume_times` were strings in
2023; the SDK reads timestamps as floats): every whole-number field accepts an integer, a whole float or a
string of digits, and anything else is a `MalformedResponseError` naming the field.
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Mapping
from typing import Any, TypeAlias

import attrs
import httpx
from dms_rocketmq_api.models.list_messages_response import ListMessagesResponse
from dms_rocketmq_api.models.message import Message as GeneratedMessage
from dms_rocketmq_api.spec_rules import KEYS_PROPERTY, OPERATIONS, TAGS_PROPERTY, unmet_conditions
from dms_rocketmq_api.types import Response, Unset

from ._constants import QUERY_END_MARGIN_MS
from ._exceptions import APIError, MalformedResponseError, ValidationError, status_error_from_response
from ._models import StoredMessage, split_keys
from ._transport import last_response
from ._validation import keys_value, topic_name

__all__ = [
    "Page",
    "Paging",
    "TimeTypes",
    "epoch_ms",
    "find_message",
    "page_from_generated",
    "query_arguments",
    "query_parse_failure",
    "stored_message",
]

#: A point in time for a query's range: an aware or naive `datetime` (naive means UTC, as in X-Sdk-Date:
#: one rule whatever the machine's time zone), or milliseconds since the Unix epoch.
TimeTypes: TypeAlias = datetime.datetime | int

_DIGITS = re.compile(r"[0-9]{1,19}")
#: The query's parameters as the spec states them (patterns of start_time, end_time, queue...).
_PARAMETERS: dict[str, Any] = OPERATIONS["ListMessages"]["parameters"]


def _as_parameter(name: str, shown: str, value: int) -> str:
    """`value` as the text of query parameter `name`, if the spec's pattern for it allows it."""
    text = str(value)
    pattern = _PARAMETERS[name]["schema"].get("pattern")
    if value < 0 or (pattern is not None and re.search(pattern, text) is None):
        raise ValidationError(f"{shown} {value} is out of the range the API accepts ({name}: {pattern}).")
    return text


def epoch_ms(name: str, value: object) -> int:
    """`value` (a datetime or epoch milliseconds) as whole milliseconds since the Unix epoch."""
    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)
        try:
            return int(moment.timestamp() * 1000)
        except (ValueError, OverflowError, OSError) as exc:  # datetime.min, or an offset that leaves year 1
            raise ValidationError(
                f"{name} {value.isoformat()} is out of the range a query can ask for ({exc})."
            ) from None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValidationError(
        f"{name} must be a datetime or milliseconds since the epoch (an int), got {type(value).__name__}."
    )


def _one_key(key: object) -> str:
    if not isinstance(key, str):
        raise ValidationError(f"key must be one key as a string, got {type(key).__name__}.")
    value = keys_value(key)
    if value is None or " " in value:
        raise ValidationError(f"key must be one key, without spaces, got {key[:80]!r}.")
    return value


def _whole_number(name: str, value: object, minimum: int = 0) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValidationError(f"{name} must be at least {minimum}, got {value}.")
    raise ValidationError(f"{name} must be a whole number, got {type(value).__name__}.")


def query_arguments(
    topic: object,
    *,
    msg_id: object = None,
    key: object = None,
    start: object = None,
    end: object = None,
    queue: object = None,
    limit: object,
    offset: int = 0,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """The keyword arguments of the generated `list_messages` for one query, after the local checks.

    The service needs `msg_id` or a time range. Without `msg_id`, a missing `start` is the epoch and a missing
    `end` is now plus `QUERY_END_MARGIN_MS` (the broker's clock may run ahead of this machine's), so that
    "every message with this key" needs no range from the caller.
    """
    arguments: dict[str, Any] = {"topic": topic_name(topic), "limit": _whole_number("page_size", limit, 1)}
    arguments["offset"] = _whole_number("offset", offset)
    if msg_id is not None:
        if not isinstance(msg_id, str) or not msg_id:
            raise ValidationError(f"msg_id must be a non-empty string, got {type(msg_id).__name__}.")
        if any(0xD800 <= ord(char) <= 0xDFFF for char in msg_id):
            raise ValidationError("msg_id is not valid text (a byte that is not UTF-8, or a lone surrogate).")
        arguments["msg_id"] = msg_id
    if key is not None:
        arguments["key"] = _one_key(key)
    if queue is not None:
        arguments["queue"] = _as_parameter("queue", "queue", _whole_number("queue", queue))
    if msg_id is None or start is not None or end is not None:
        if now_ms is None:
            now_ms = time.time_ns() // 1_000_000
        start_ms = 0 if start is None else epoch_ms("start", start)
        end_ms = now_ms + QUERY_END_MARGIN_MS if end is None else epoch_ms("end", end)
        arguments["start_time"] = _as_parameter("start_time", "start", start_ms)
        arguments["end_time"] = _as_parameter("end_time", "end", end_ms)
    # The conditions between parameters (msg_id or a full range; end not before start) are the spec's.
    problems = unmet_conditions("ListMessages", {name: str(value) for name, value in arguments.items()})
    if problems:
        raise ValidationError(f"this query cannot be sent: {'; '.join(problems)} (start {start!r}, end {end!r}).")
    return arguments


@attrs.frozen
class Page:
    """One answer of the query: its messages, the number of matches in all, the server's request id."""

    messages: tuple[StoredMessage, ...]
    total: int
    request_id: str | None


def _malformed(where: str, name: str, value: object, expected: str, response: httpx.Response) -> MalformedResponseError:
    return MalformedResponseError(
        f"200 response has {where}{name}={value!r:.80}, expected {expected}.", response=response
    )


def _count(where: str, name: str, value: object, response: httpx.Response) -> int | None:
    """A whole-number field in any of the shapes the service has used; None when it is left out."""
    if value is None or isinstance(value, Unset):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    raise _malformed(where, name, value, "a whole number (or a string of digits)", response)


def _text(where: str, name: str, value: object, response: httpx.Response) -> str | None:
    if value is None or isinstance(value, Unset):
        return None
    return _required_text(where, name, value, response)


def _required_text(where: str, name: str, value: object, response: httpx.Response) -> str:
    if isinstance(value, str):
        return value
    raise _malformed(where, name, value, "a string", response)


def stored_message(generated: GeneratedMessage, response: httpx.Response, index: int = 0) -> StoredMessage:
    """One message of a 200 answer, with every field checked and typed."""
    where = f"messages[{index}]."
    properties: dict[str, str] = {}
    keys: list[str] = []
    entries = generated.property_list
    if not isinstance(entries, Unset | None):
        if not isinstance(entries, list):
            raise _malformed(where, "property_list", entries, "a list", response)
        for entry in entries:
            name, value = getattr(entry, "name", None), getattr(entry, "value", None)
            if isinstance(name, str) and isinstance(value, str):
                properties[name] = value
                if name == KEYS_PROPERTY:
                    keys += split_keys(value)
    return StoredMessage(
        msg_id=_required_text(where, "msg_id", generated.msg_id, response),
        topic=_required_text(where, "topic", generated.topic, response),
        body=_required_text(where, "body", generated.body, response),
        keys=tuple(keys),
        tags=properties.get(TAGS_PROPERTY) or None,
        queue_id=_count(where, "queue_id", generated.queue_id, response),
        queue_offset=_count(where, "queue_offset", generated.queue_offset, response),
        store_timestamp=_count(where, "store_timestamp", generated.store_timestamp, response),
        born_timestamp=_count(where, "born_timestamp", generated.born_timestamp, response),
        reconsume_times=_count(where, "reconsume_times", generated.reconsume_times, response),
        body_crc=_count(where, "body_crc", generated.body_crc, response),
        store_size=_count(where, "store_size", generated.store_size, response),
        born_host=_text(where, "born_host", generated.born_host, response),
        store_host=_text(where, "store_host", generated.store_host, response),
        instance_id=_text(where, "instance_id", generated.instance_id, response),
        properties=properties,
    )


def query_parse_failure(exc: Exception) -> APIError:
    """The generated parser raised on a query's answer: name what was wrong with it."""
    raw = last_response.get()
    if raw is None:  # pragma: no cover - the response hook runs before any parsing
        raise exc
    if raw.status_code != 200:
        return status_error_from_response(raw)
    return MalformedResponseError(
        f"200 response is not a valid ListMessagesResponse ({type(exc).__name__}: {exc}).", response=raw
    )


def page_from_generated(generated: Response[Any]) -> Page:
    """The `Page` of an answer the generated client parsed, or the exception its status maps to."""
    raw = last_response.get()
    assert raw is not None, "the response hook did not run"
    if raw.status_code != 200:
        raise status_error_from_response(raw)
    parsed = generated.parsed
    if not isinstance(parsed, ListMessagesResponse):  # pragma: no cover - the generator guarantees it
        raise MalformedResponseError("200 response could not be parsed.", response=raw)
    # The generated parser iterates `messages` whatever it is, so an object ({}) would pass as an empty list.
    document = raw.json()
    if not isinstance(document.get("messages"), list):
        raise _malformed("", "messages", document.get("messages"), "a list", raw)
    total = _count("", "total", parsed.total, raw)
    if total is None:
        raise _malformed("", "total", parsed.total, "a whole number", raw)
    messages = tuple(stored_message(message, raw, index) for index, message in enumerate(parsed.messages))
    return Page(messages=messages, total=total, request_id=raw.headers.get("X-Request-Id"))


def find_message(page: Page, msg_id: str) -> StoredMessage | None:
    """The message of a query by `msg_id` that has that id (as `msg_id` or as its UNIQ_KEY), or None."""
    for message in page.messages:
        if message.msg_id == msg_id or message.uniq_key == msg_id:
            return message
    return None


class Paging:
    """Which page of a query to ask for next: `offset` advances by each page's length until `total` is reached.

    The bounds are fixed when iteration starts: the time range by `query_arguments`, and the number of
    matches by the first page's `total`. Messages stored while the pages are read may raise later pages'
    `total`; they are not waited for, so a query ends even while producers outpace it. It stops at an empty
    page too, so a server whose `total` overstates the matches cannot loop it forever.
    """

    def __init__(self, arguments: Mapping[str, Any]) -> None:
        self._arguments = dict(arguments)
        self.offset: int = self._arguments["offset"]
        self.done = False
        self._end: int | None = None  # the matches the first page counted

    def next_arguments(self) -> dict[str, Any] | None:
        """The arguments of the next page's query, or None when every page has been read."""
        if self.done:
            return None
        return {**self._arguments, "offset": self.offset}

    def advance(self, page: Page) -> tuple[StoredMessage, ...]:
        """Take in the page just read; its messages within the query's bounds (the first page's count)."""
        if self._end is None:
            self._end = page.total
        messages = page.messages[: max(self._end - self.offset, 0)]
        self.offset += len(messages)
        if not messages or self.offset >= min(page.total, self._end):
            self.done = True
        return messages
