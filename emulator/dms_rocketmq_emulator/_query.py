"""Querying stored messages (`ListMessages`): the query's rules, which messages match, how one is shown.

Plain Python, nothing about HTTP or SQLite (the stores run the query with their indexes, `_store/`; the
handler is `_query_responses.py`). The rules of the query come from the spec, through the generated
`dms_rocketmq_api.spec_rules`: each parameter of `ListMessages` is checked against its own schema there (type,
minimum, pattern), and the conditions between parameters ("`msg_id`, or both `start_time` and `end_time`";
"`end_time` not before `start_time`") by its `unmet_conditions`, so the spec and the emulator cannot disagree
about what a well-formed query is.

Choices where the real service is not documented (see docs/emulator.md):

- `start_time`/`end_time` are Unix milliseconds, compared with `store_timestamp`, both ends included.
- `key` matches a message when it is one of the space-separated keys of any of its `KEYS` entries.
- Every filter given applies (a `msg_id` query with a time range must match both).
- An empty `key` or `msg_id` is the same as leaving it out; an empty value that breaks a parameter's schema
  (`topic=`, `queue=`, `limit=`) is an error.
- Every bad query is the 400 of the spec's `QueryBadRequest` `invalidParameter` example, naming the
  parameter (the code the service uses for a bad field of a send); an unknown topic is its `topicMissing`.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import jsonschema_rs
from dms_rocketmq_api.spec_rules import (
    KEYS_PROPERTY,
    MESSAGE_ID_PROPERTY,
    OPERATIONS,
    TAGS_PROPERTY,
    unmet_conditions,
)

from . import _exceptions as errors
from ._auth import query_pairs
from .models import Property, StoredMessage

__all__ = [
    "CLUSTER_NAME",
    "STORE_PORT",
    "MessageQuery",
    "QueryRules",
    "body_crc",
    "list_response",
    "message_keys",
    "message_view",
    "query_rules",
    "record_size",
    "shown_properties",
]

#: The cluster name the reference's example shows in the `CLUSTER` property.
CLUSTER_NAME = "DmsCluster"
#: The port of `store_host`: RocketMQ's default broker port (the emulator has no broker port of its own).
STORE_PORT = 10911
# The fixed part of a RocketMQ commit-log record (CommitLog.calMsgLength, IPv4 hosts): total size 4, magic
# code 4, body CRC 4, queue id 4, flag 4, queue offset 8, physical offset 8, system flag 4, born timestamp 8,
# born host 8, store timestamp 8, store host 8, reconsume times 4, prepared transaction offset 8, body length 4,
# topic length 1, properties length 2.
_FIXED_RECORD_BYTES = 91
# Limits SQLite's LIMIT/OFFSET can take; any larger page or offset means "everything" / "past the end".
_MAX_PAGE = 2**62
# An integer query parameter as a URL writes one: decimal digits, any number of them, maybe a minus sign.
_INTEGER = re.compile(r"(-?)0*([0-9]+)")
# The spec sets no upper bound on `limit` or `offset`, so a number of any length is well formed. Past this many
# significant digits a number is read as +-10**19, beyond int64 and beyond every bound in the query's schemas:
# all a schema or a store can tell of it. So int() is never handed more digits than
# sys.get_int_max_str_digits() allows (a ValueError, then a 500) nor made to spend quadratic time on a long
# one, and jsonschema_rs, which compares huge integers as floats (it finds -10**5000 >= 0), never sees one.
_SIGNIFICANT_DIGITS = 19
_SATURATED = 10**_SIGNIFICANT_DIGITS
# Schema bounds QueryRules takes: exact as floats, far below the saturated value.
_MAX_BOUND = 2**53
_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def _integer(text: str) -> int | None:
    """The integer `text` writes, saturated at +-10**19; None if it is not decimal digits (with an optional -)."""
    match = _INTEGER.fullmatch(text)
    if match is None:
        return None
    sign, digits = match.groups()
    magnitude = _SATURATED if len(digits) > _SIGNIFICANT_DIGITS else int(digits)
    return -magnitude if sign else magnitude


def body_crc(body: bytes) -> int:
    """The body's CRC as RocketMQ stores it: `UtilAll.crc32`, Java's CRC32 masked with 0x7FFFFFFF."""
    return zlib.crc32(body) & 0x7FFFFFFF


def shown_properties(properties: Iterable[Property], msg_id: str) -> list[Property]:
    """The properties a query shows: the sent ones, `UNIQ_KEY`, `CLUSTER`, and empty `KEYS`/`TAGS` if unset.

    The order follows the reference's example for a message sent without properties: KEYS, UNIQ_KEY, CLUSTER,
    TAGS.
    """
    sent = [(name, value) for name, value in properties if name != MESSAGE_ID_PROPERTY]
    names = {name for name, _ in sent}
    shown = sent
    if KEYS_PROPERTY not in names:
        shown.append((KEYS_PROPERTY, ""))
    shown += [(MESSAGE_ID_PROPERTY, msg_id), ("CLUSTER", CLUSTER_NAME)]
    if TAGS_PROPERTY not in names:
        shown.append((TAGS_PROPERTY, ""))
    return shown


def record_size(body: bytes, topic: str, properties: Iterable[Property]) -> int:
    """`store_size`: the bytes of the message's commit-log record, as RocketMQ's CommitLog counts them.

    The properties are encoded as RocketMQ's MessageDecoder does: `name\\x01value\\x02` for each.
    """
    encoded = "".join([f"{name}\x01{value}\x02" for name, value in properties]) + topic
    size = len(encoded) if encoded.isascii() else len(encoded.encode("utf-8"))  # every send: skip encoding ASCII
    return _FIXED_RECORD_BYTES + len(body) + size


def message_keys(properties: Iterable[Property]) -> list[str]:
    """Every key of every `KEYS` entry (keys are separated by spaces), each once, in order."""
    keys: dict[str, None] = {}
    for name, value in properties:
        if name == KEYS_PROPERTY:
            for key in value.split(" "):
                if key:
                    keys[key] = None
    return list(keys)


def message_view(message: StoredMessage) -> dict[str, Any]:
    """A stored message as `ListMessages` shows it (the spec's `Message`, every field filled)."""
    return {
        "msg_id": message.msg_id,
        "instance_id": message.instance_id,
        "topic": message.topic,
        "store_timestamp": message.stored_at_ms,
        "born_timestamp": message.born_at_ms or message.stored_at_ms,
        # The emulator has no consumers: nothing is ever redelivered.
        "reconsume_times": 0,
        "body": message.body,
        "body_crc": message.body_crc,
        "store_size": message.store_size,
        "property_list": [
            {"name": name, "value": value} for name, value in shown_properties(message.properties, message.msg_id)
        ],
        "born_host": message.born_host,
        "store_host": message.store_host,
        "queue_id": message.queue_id,
        "queue_offset": message.queue_offset,
    }


def list_response(total: int, page: Iterable[StoredMessage]) -> dict[str, Any]:
    """The 200 body of `ListMessages`."""
    return {"messages": [message_view(m) for m in page], "total": total}


@dataclasses.dataclass(frozen=True, slots=True)
class MessageQuery:
    """One parsed query: which messages of one topic of one instance, and which page of them."""

    instance_id: str
    topic: str
    msg_id: str | None = None
    key: str | None = None
    #: The time range, Unix milliseconds, both ends included; None when the query is by `msg_id` alone.
    start_ms: int | None = None
    end_ms: int | None = None
    queue_id: int | None = None
    limit: int = 10
    offset: int = 0

    def matches(self, message: StoredMessage) -> bool:
        """Whether `message` is one of the query's matches (every filter given applies)."""
        if message.instance_id != self.instance_id or message.topic != self.topic:
            return False
        if self.msg_id is not None and message.msg_id != self.msg_id:
            return False
        if self.queue_id is not None and message.queue_id != self.queue_id:
            return False
        if self.start_ms is not None and message.stored_at_ms < self.start_ms:
            return False
        if self.end_ms is not None and message.stored_at_ms > self.end_ms:
            return False
        return self.key is None or self.key in message_keys(message.properties)


@dataclasses.dataclass(frozen=True, slots=True)
class _Parameter:
    name: str
    required: bool
    integer: bool
    default: Any
    validator: Any


class QueryRules:
    """The query parameters of `ListMessages` from the spec's rules; turns a query string into a `MessageQuery`."""

    def __init__(self, operation_id: str = "ListMessages") -> None:
        self._operation_id = operation_id
        operation = OPERATIONS[operation_id]
        self._parameters: list[_Parameter] = []
        for name, parameter in operation["parameters"].items():
            if parameter["in"] != "query":
                continue
            schema = parameter["schema"]
            if any(abs(schema.get(bound, 0)) > _MAX_BOUND for bound in _BOUNDS):
                # Comparing a saturated number with a bound this far out could give the wrong answer (_integer).
                raise ValueError(f"query parameter {name}: bounds beyond 2**53 are not supported")
            self._parameters.append(
                _Parameter(
                    name=name,
                    required=bool(parameter["required"]),
                    integer=schema.get("type") == "integer",
                    default=schema.get("default"),
                    validator=jsonschema_rs.Draft202012Validator(schema),
                )
            )
        self._groups: tuple[tuple[str, ...], ...] = tuple(operation["required_one_of"])

    @property
    def names(self) -> tuple[str, ...]:
        """The query parameters, in the spec's order."""
        return tuple(p.name for p in self._parameters)

    def parse(self, instance_id: str, query_string: str) -> MessageQuery:
        """The query `query_string` asks for, or 400 DMS.00400062 naming the first parameter that is wrong."""
        given: dict[str, str] = {}
        for name, text in query_pairs(query_string):
            if name in given:  # which of two values a server would take is anyone's guess: refuse
                raise errors.invalid_parameter(name)
            given[name] = text
        values: dict[str, Any] = {}
        for parameter in self._parameters:
            raw = given.get(parameter.name)
            if raw is None:
                if parameter.required:
                    raise errors.invalid_parameter(parameter.name)
                values[parameter.name] = parameter.default
                continue
            value: Any = raw
            if parameter.integer:
                value = _integer(raw)
                if value is None:
                    raise errors.invalid_parameter(parameter.name)
            if not parameter.validator.is_valid(value):
                raise errors.invalid_parameter(parameter.name)
            values[parameter.name] = None if value == "" else value
        present = {name: str(value) for name, value in values.items() if value is not None and name in given}
        problems = unmet_conditions(self._operation_id, present)
        if problems:
            raise errors.invalid_parameter(self._culprit(problems[0], present))
        start, end = values.get("start_time"), values.get("end_time")
        start_ms = None if start is None else int(start)
        end_ms = None if end is None else int(end)
        queue = values.get("queue")
        return MessageQuery(
            instance_id=instance_id,
            topic=values["topic"],
            msg_id=values.get("msg_id"),
            key=values.get("key"),
            start_ms=start_ms,
            end_ms=end_ms,
            queue_id=None if queue is None else int(queue),
            limit=min(int(values["limit"]), _MAX_PAGE),
            offset=min(int(values["offset"]), _MAX_PAGE),
        )

    def _culprit(self, problem: str, present: Mapping[str, str]) -> str:
        """The parameter an error message names for one of `unmet_conditions`' problems."""
        first = problem.split(" ", 1)[0]
        if first in present or any(first == p.name for p in self._parameters):
            return first  # "<name> is required", "<name> is before <other>"
        # No group of required_one_of is whole: name what is missing from the most nearly whole one (the
        # later group on a tie: with nothing given, the time range rather than an id nobody has yet).
        group = max(reversed(self._groups), key=lambda names: sum(n in present for n in names) / len(names))
        return next(name for name in group if name not in present)


@functools.cache
def query_rules() -> QueryRules:
    """The query rules, from the spec's generated rules, once per process."""
    return QueryRules()
