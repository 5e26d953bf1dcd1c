"""How a recorded answer and a replayed one are compared, and to which named assumption a difference points.

Plain Python, no I/O: `_drift.py` replays a transcript and hands each pair of answers here.

What is compared, for each exchange: the status; the headers the spec documents for that status
(`spec_rules.RESPONSE_HEADERS`; presence, and format where the spec gives one); the body's shape (keys and JSON
types) and values. Values that differ between any two runs are compared by identity, relation or format:

- identities: a `msg_id` seen first in an answer makes the recorded id and the replayed one the same message
  (`Identities.msg_ids`), so later requests naming it are replayed with the new id and a `UNIQ_KEY` or a listed
  message compares through it;
- timestamps (`store_timestamp`, `born_timestamp`): the same number of digits (the unit), and `born <= store`
  in both or in neither; store timestamps are learnt too, so a recorded time range is replayed as the same range
  of the replay's own messages;
- offsets (`queue_offset`): the distance from the first offset seen in the same queue;
- hosts (`born_host`, `store_host`) and request ids: their format.

A page of messages is matched message by message through the identities: the same matches in another order (or
the same `total` and other messages on the page) is an `order` divergence of `body:messages#order`; other
matches are a `membership` divergence of `body:messages`.

Field paths: `status`, `header:<Name>`, `body:<key>.<key>`, `body:messages[].<key>`, `body:property_list.<NAME>`
(property lists are compared as name -> value). Assumptions (`spec_rules.ASSUMPTIONS`) name the paths they
govern as globs, and conditions on the request or the answer (`when`); a divergence is attributed to the most
specific assumptions that match it.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from collections.abc import Mapping
from typing import Any

from dms_rocketmq_api.spec_rules import ASSUMPTIONS, MESSAGE_ID_PROPERTY, REQUEST_ID_PATTERN, RESPONSE_HEADERS

__all__ = [
    "Divergence",
    "Exchange",
    "Identities",
    "attribute",
    "compare",
    "exercised",
    "field_matches",
    "normalize_field",
]

_TIMESTAMPS = ("store_timestamp", "born_timestamp")
_HOSTS = ("born_host", "store_host")
_HOST = re.compile(r"^.+:[0-9]{1,5}$")
_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)
_INDEX = re.compile(r"\[[0-9]+\]")


@dataclasses.dataclass(frozen=True)
class Exchange:
    """One answer: status, headers (lowercase names), body text."""

    status: int
    headers: Mapping[str, str]
    body: str


@dataclasses.dataclass
class Divergence:
    """One way a replayed answer differs from the recorded one."""

    index: int
    operation: str
    method: str
    field: str
    kind: str
    recorded: Any
    replayed: Any
    assumptions: tuple[str, ...] = ()
    #: "known", "expired" (a known difference past its expiry) or "new".
    status: str = "new"
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Identities:
    """What a recorded value is in the replay: message ids, store timestamps, the first offset of each queue."""

    msg_ids: dict[str, str] = dataclasses.field(default_factory=dict)
    timestamps: dict[int, list[int]] = dataclasses.field(default_factory=dict)
    _images: set[str] = dataclasses.field(default_factory=set)
    _offset_bases: dict[tuple[str, Any, Any], int] = dataclasses.field(default_factory=dict)

    def ordinal(self, recorded_id: str) -> int | None:
        """Which message (1, 2, ...) a recorded id is, in the order identities were made."""
        for number, known in enumerate(self.msg_ids, start=1):
            if known == recorded_id:
                return number
        return None

    def learn_id(self, recorded: str, replayed: str) -> bool:
        """Pair two ids; False when either is already paired with another."""
        if recorded in self.msg_ids:
            return self.msg_ids[recorded] == replayed
        if replayed in self._images:
            return False
        self.msg_ids[recorded] = replayed
        self._images.add(replayed)
        return True

    def learn_timestamp(self, recorded: int, replayed: int) -> None:
        self.timestamps.setdefault(recorded, []).append(replayed)

    def offset_distance(self, side: str, topic: Any, queue: Any, offset: int) -> int:
        base = self._offset_bases.setdefault((side, topic, queue), offset)
        return offset - base

    def translate_time(self, value: int, *, end: bool) -> int | None:
        """A recorded time bound in the replay's time, when it lies within the recorded messages' times."""
        if not self.timestamps:
            return None
        if value in self.timestamps:
            images = self.timestamps[value]
            return max(images) if end else min(images)
        known = sorted(self.timestamps)
        if not known[0] <= value <= known[-1]:
            return None
        # Between two recorded timestamps: the same place between their images.
        for low, high in itertools.pairwise(known):
            if low <= value <= high:
                low_image, high_image = min(self.timestamps[low]), max(self.timestamps[high])
                share = (value - low) / (high - low) if high > low else 0.0
                return round(low_image + share * (high_image - low_image))
        return None


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _join(path: str, key: str) -> str:
    return path + key if path.endswith(":") else f"{path}.{key}"


def _properties(entries: Any) -> dict[str, str] | None:
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "name" in e for e in entries):
        return None
    out: dict[str, str] = {}
    for entry in entries:
        name = str(entry.get("name"))
        value = entry.get("value")
        out[name] = value if name not in out else f"{out[name]}\n{value}"
    return out


class _Comparison:
    def __init__(self, index: int, operation: str, method: str, ids: Identities) -> None:
        self.index = index
        self.operation = operation
        self.method = method
        self.ids = ids
        self.found: list[Divergence] = []

    def add(self, field: str, kind: str, recorded: Any, replayed: Any) -> None:
        self.found.append(Divergence(self.index, self.operation, self.method, field, kind, recorded, replayed))

    # -- values -----------------------------------------------------------------------------------------
    def value(self, path: str, key: str, recorded: Any, replayed: Any, context: tuple[Any, Any]) -> None:
        if key == "msg_id" and isinstance(recorded, str) and isinstance(replayed, str):
            if not self.ids.learn_id(recorded, replayed):
                self.add(path, "identity", recorded, replayed)
            return
        if key == MESSAGE_ID_PROPERTY and isinstance(recorded, str) and isinstance(replayed, str):
            if self.ids.msg_ids.get(recorded, recorded) != replayed:
                self.add(path, "value", recorded, replayed)
            return
        if json_type(recorded) != json_type(replayed):
            self.add(path, "type", json_type(recorded), json_type(replayed))
            return
        if key in _TIMESTAMPS and isinstance(recorded, int):
            if len(str(recorded)) != len(str(replayed)):
                self.add(path, "format", f"{len(str(recorded))} digits", f"{len(str(replayed))} digits")
            if key == "store_timestamp":
                self.ids.learn_timestamp(recorded, replayed)
            return
        if key in _HOSTS and isinstance(recorded, str):
            if bool(_HOST.match(recorded)) != bool(_HOST.match(replayed)):
                self.add(path, "format", recorded, replayed)
            return
        if key == "request_id" and isinstance(recorded, str):
            if bool(_REQUEST_ID.match(recorded)) != bool(_REQUEST_ID.match(replayed)):
                self.add(path, "format", recorded, replayed)
            return
        if key == "queue_offset" and isinstance(recorded, int):
            (recorded_parent, replayed_parent) = context
            distance_r = self.ids.offset_distance(
                "recorded", recorded_parent.get("topic"), recorded_parent.get("queue_id"), recorded
            )
            distance_p = self.ids.offset_distance(
                "replayed", replayed_parent.get("topic"), replayed_parent.get("queue_id"), replayed
            )
            if distance_r != distance_p:
                self.add(path, "relation", f"+{distance_r} in its queue", f"+{distance_p} in its queue")
            return
        if isinstance(recorded, dict):
            self.mapping(path, recorded, replayed)
            return
        if isinstance(recorded, list):
            self.sequence(path, key, recorded, replayed)
            return
        if recorded != replayed:
            self.add(path, "value", recorded, replayed)

    def mapping(self, path: str, recorded: dict[str, Any], replayed: dict[str, Any]) -> None:
        # msg_id first: the identity it makes is what the rest of the object compares through.
        keys = sorted(
            set(recorded) | set(replayed),
            key=lambda k: (k != "msg_id", list(recorded).index(k) if k in recorded else 999),
        )
        for key in keys:
            where = _join(path, key)
            if key not in replayed:
                self.add(where, "missing", recorded[key], None)
            elif key not in recorded:
                self.add(where, "extra", None, replayed[key])
            elif key == "messages" and isinstance(recorded[key], list) and isinstance(replayed[key], list):
                self.messages(where, recorded, replayed)
            elif key == "property_list":
                r_props, p_props = _properties(recorded[key]), _properties(replayed[key])
                if r_props is None or p_props is None:
                    self.value(where, key, recorded[key], replayed[key], (recorded, replayed))
                else:
                    self.mapping(where, dict(r_props), dict(p_props))
            else:
                self.value(where, key, recorded[key], replayed[key], (recorded, replayed))

    def sequence(self, path: str, key: str, recorded: list[Any], replayed: list[Any]) -> None:
        if len(recorded) != len(replayed):
            self.add(path, "length", len(recorded), len(replayed))
        for position, (r, p) in enumerate(zip(recorded, replayed, strict=False)):
            self.value(f"{path}[{position}]", key, r, p, ({}, {}))

    def messages(self, path: str, recorded_page: dict[str, Any], replayed_page: dict[str, Any]) -> None:
        recorded, replayed = recorded_page["messages"], replayed_page["messages"]

        def msg_id(message: Any) -> str | None:
            return message.get("msg_id") if isinstance(message, dict) else None

        if len(recorded) == 1 and len(replayed) == 1:  # a read back: the same message whatever its ids
            r, p = msg_id(recorded[0]), msg_id(replayed[0])
            if r is not None and p is not None:
                self.ids.learn_id(r, p)
        wanted = [self.ids.msg_ids.get(msg_id(m) or "", f"unmapped:{msg_id(m)}") for m in recorded]
        got = [msg_id(m) for m in replayed]
        same_total = recorded_page.get("total") == replayed_page.get("total")
        if sorted(map(str, wanted)) == sorted(map(str, got)):
            if wanted != got:
                self.add(f"{path}#order", "order", self._ordinals(wanted), self._ordinals(got))
        elif same_total and len(recorded) == len(replayed):
            self.add(f"{path}#order", "order", self._ordinals(wanted), self._ordinals(got))
        else:
            self.add(path, "membership", self._ordinals(wanted), self._ordinals(got))
        by_id = {msg_id(m): m for m in replayed}
        for message, image in zip(recorded, wanted, strict=True):
            twin = by_id.get(image)
            if twin is not None:
                self.mapping(f"{path}[]", message, twin)

    def _ordinals(self, images: list[Any]) -> list[str]:
        reverse = {image: number for number, image in enumerate(self.ids.msg_ids.values(), start=1)}
        return [f"#{reverse[image]}" if image in reverse else str(image) for image in images]


def _body(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return _NotJSON(text)


@dataclasses.dataclass(frozen=True)
class _NotJSON:
    text: str


def compare(
    index: int,
    operation: str,
    method: str,
    recorded: Exchange,
    replayed: Exchange,
    ids: Identities,
    *,
    headers: bool = True,
) -> list[Divergence]:
    """Every divergence of `replayed` from `recorded` (the `index`th exchange, of `operation`)."""
    comparison = _Comparison(index, operation, method, ids)
    if recorded.status != replayed.status:
        comparison.add("status", "value", recorded.status, replayed.status)
    if headers:
        documented = RESPONSE_HEADERS.get(operation, {})
        names = sorted(set(documented.get(recorded.status, ())) | set(documented.get(replayed.status, ())))
        for name in names:
            r, p = recorded.headers.get(name.lower()), replayed.headers.get(name.lower())
            if r is None and p is not None:
                comparison.add(f"header:{name}", "extra", None, p)
            elif p is None and r is not None:
                comparison.add(f"header:{name}", "missing", r, None)
            elif (
                r is not None
                and p is not None
                and name.lower() == "x-request-id"
                and bool(_REQUEST_ID.match(r)) != bool(_REQUEST_ID.match(p))
            ):
                comparison.add(f"header:{name}", "format", r, p)
    r_body, p_body = _body(recorded.body), _body(replayed.body)
    if isinstance(r_body, _NotJSON) or isinstance(p_body, _NotJSON):
        if recorded.body != replayed.body:
            comparison.add("body:", "value", recorded.body[:200], replayed.body[:200])
    else:
        comparison.value("body:", "", r_body, p_body, ({}, {}))
    return comparison.found


# -- attribution ----------------------------------------------------------------------------------------
def normalize_field(field: str) -> str:
    """A field path without array positions: what noise and known differences name."""
    return _INDEX.sub("[]", field)


def field_matches(pattern: str, field: str) -> bool:
    """Whether `field` (positions dropped) matches `pattern`, in which only `*` is special."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, normalize_field(field)) is not None


def _when_holds(when: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    query: Mapping[str, str] = context.get("query", {})
    for condition, value in when.items():
        if condition == "query" and not all(query.get(name) for name in value):
            return False
        if condition == "empty" and not all(query.get(name) == "" for name in value):
            return False
        if condition == "time_range" and value == "recorded" and not context.get("recorded_time_range"):
            return False
        if condition == "error_code" and value not in context.get("error_codes", ()):
            return False
    return True


def _applies(assumption: Mapping[str, Any], operation: str, context: Mapping[str, Any]) -> bool:
    return assumption["operation"] in ("*", operation) and _when_holds(assumption["when"], context)


def attribute(divergences: list[Divergence], context: Mapping[str, Any]) -> None:
    """Set each divergence's `assumptions`: the most specific named assumptions whose fields and conditions
    match it. In a page whose messages differ, `total` follows the messages' attribution."""
    for divergence in divergences:
        best: list[str] = []
        best_score = -1
        for name, assumption in ASSUMPTIONS.items():
            if not _applies(assumption, divergence.operation, context):
                continue
            patterns = [p for p in assumption["fields"] if field_matches(p, divergence.field)]
            if not patterns:
                continue
            score = 2 * len(assumption["when"]) + (1 if any("*" not in p for p in patterns) else 0)
            if score > best_score:
                best, best_score = [name], score
            elif score == best_score:
                best.append(name)
        divergence.assumptions = tuple(best)
    # One cause, one attribution: another status explains every other difference of the exchange.
    status = next((d for d in divergences if d.field == "status" and d.assumptions), None)
    if status is not None:
        for divergence in divergences:
            divergence.assumptions = status.assumptions
        return
    pages = {d.assumptions for d in divergences if d.field == "body:messages" and d.assumptions}
    if pages:
        for divergence in divergences:
            if divergence.field == "body:total":
                divergence.assumptions = tuple(sorted({name for names in pages for name in names}))


def exercised(operation: str, context: Mapping[str, Any]) -> list[str]:
    """The assumptions an exchange puts to the test (its operation and conditions match)."""
    return [
        name
        for name, assumption in ASSUMPTIONS.items()
        if assumption["fields"] and _applies(assumption, operation, context)
    ]
