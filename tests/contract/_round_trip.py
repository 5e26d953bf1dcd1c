"""The round trip: what the server acknowledged is read back with ListMessages and compared, by checks that
schemathesis runs and reports like its own.

- `record_acknowledged` (a check that never fails) writes each SendMessage 200 for the target's topic into the
  `Ledger`: the request (body, KEYS, TAGS) and the acknowledgement (msg_id, queue, offset).
- On every ListMessages 200, in every phase: `query_total_is_consistent` (a page never lists more than `limit`
  nor more than `total` says match past `offset`, and is not empty while `total` says more) and
  `query_filters_are_applied` (every listed message matches the topic, msg_id, key, queue and time range asked).
- On a query by the msg_id of an acknowledged message: `acknowledged_message_is_stored` (it is listed) and
  `stored_message_equals_sent` (body, keys, tags, topic, queue and offset are those sent and acknowledged).
- `Reader` polls a query until its answer shows what is expected or the read deadline passes
  (`DMS_CONTRACT_READ_TIMEOUT`, default `DEFAULT_READ_TIMEOUT` s): a real instance indexes messages with a lag.
- `RUN_KEY` is added to the KEYS of every positive send, so that a run's key query sees that run's messages only.
"""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import schemathesis
from _contract_target import Target

READ_TIMEOUT = "DMS_CONTRACT_READ_TIMEOUT"
#: Seconds to wait for an acknowledged message to become visible to the query. The emulator shows a message
#: at once; the real service's indexing lag is not documented, and is usually well under this.
DEFAULT_READ_TIMEOUT = 30.0
FIRST_POLL_S = 0.05
MAX_POLL_S = 1.0
#: The query parameters' defaults, as the spec states them.
DEFAULT_LIMIT = 10
DEFAULT_OFFSET = 0

#: One key per run (a process), added to every positive send: the run's messages, and no one else's.
RUN_KEY = f"contract-run-{uuid.uuid4().hex}"

Check = Callable[[schemathesis.CheckContext, Any, schemathesis.Case], None]


def read_timeout_from_env() -> float:
    """DMS_CONTRACT_READ_TIMEOUT in seconds, else DEFAULT_READ_TIMEOUT."""
    value = os.environ.get(READ_TIMEOUT, "").strip()
    return float(value) if value else DEFAULT_READ_TIMEOUT


def tag_with_run_key(body: dict[str, Any], *, max_value_bytes: int) -> dict[str, Any]:
    """A positive SendMessage body with RUN_KEY among its KEYS (added to the last KEYS entry, or as a new one);
    a KEYS value that would grow past `max_value_bytes` of UTF-8 becomes RUN_KEY alone."""
    entries = body.get("property_list")
    entries = list(entries) if isinstance(entries, list) else []
    for index in range(len(entries) - 1, -1, -1):
        entry = entries[index]
        if isinstance(entry, dict) and entry.get("name") == "KEYS" and isinstance(entry.get("value"), str):
            value = f"{entry['value']} {RUN_KEY}"
            entries[index] = {**entry, "value": value if len(value.encode("utf-8")) <= max_value_bytes else RUN_KEY}
            break
    else:
        entries.append({"name": "KEYS", "value": RUN_KEY})
    return {**body, "property_list": entries}


def _properties(entries: object) -> dict[str, str]:
    """Property entries as a mapping; a later entry of the same name wins, as in RocketMQ's property map."""
    found: dict[str, str] = {}
    if isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("value"), str):
                found[entry["name"]] = entry["value"]
    return found


def _keys(properties: dict[str, str]) -> tuple[str, ...]:
    return tuple(key for key in properties.get("KEYS", "").split(" ") if key)


def _whole(value: object) -> int | None:
    """An integer, or a string of digits (the 2023 reference's type), as an int; else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


@dataclasses.dataclass(frozen=True)
class Acknowledged:
    """A send the server answered 200: what the request carried and where the answer said it was stored."""

    msg_id: str
    topic: str
    body: str
    keys: tuple[str, ...]
    tags: str | None
    queue_id: int | None
    queue_offset: int | None


class Ledger:
    """Every acknowledged send of the run, by msg_id."""

    def __init__(self) -> None:
        self.entries: dict[str, Acknowledged] = {}

    def with_key(self, key: str) -> list[Acknowledged]:
        """The acknowledged sends whose KEYS hold `key`."""
        return [entry for entry in self.entries.values() if key in entry.keys]


class Reader:
    """Polls a query until its answer shows what is expected, at most `timeout` seconds per read.

    After one read has timed out, later reads of the same reader query once: a server that stores nothing must
    not cost `timeout` per message.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.gave_up = False
        self.reads = 0

    def read(self, call: Callable[[], Any], done: Callable[[Any], bool]) -> Any:
        """The first answer of `call()` for which `done` holds, or the last one at the deadline."""
        self.reads += 1
        deadline = time.monotonic() + (0.0 if self.gave_up else self.timeout)
        interval = FIRST_POLL_S
        response = call()
        while not done(response):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.gave_up = True
                return response
            time.sleep(min(interval, remaining))
            interval = min(interval * 1.5, MAX_POLL_S)
            response = call()
        return response


def _document(response: Any) -> dict[str, Any] | None:
    """The JSON object of a 200 ListMessagesResponse, or None (response_schema_conformance reports the rest)."""
    if response.status_code != 200:
        return None
    try:
        document = response.json()
    except ValueError:
        return None
    if not isinstance(document, dict) or not isinstance(document.get("messages"), list):
        return None
    return document


def is_query(case: schemathesis.Case) -> bool:
    """Whether `case` is a ListMessages request."""
    return case.operation.method.upper() == "GET"


def listed(response: Any, msg_id: str) -> dict[str, Any] | None:
    """The message with `msg_id` (as its msg_id or its UNIQ_KEY) in a ListMessages answer, or None."""
    document = _document(response)
    for message in document["messages"] if document else ():
        if isinstance(message, dict) and (
            message.get("msg_id") == msg_id or _properties(message.get("property_list")).get("UNIQ_KEY") == msg_id
        ):
            return message
    return None


def record_acknowledged(ledger: Ledger, target: Target) -> Check:
    """A check that never fails: it writes each SendMessage 200 for the target's topic and instance into `ledger`."""

    def record_acknowledged(ctx: schemathesis.CheckContext, response: Any, case: schemathesis.Case) -> None:
        if is_query(case) or response.status_code != 200:
            return
        path = case.path_parameters or {}
        body = case.body
        if path.get("project_id") != target.project_id or path.get("instance_id") != target.instance_id:
            return
        if not isinstance(body, dict) or body.get("topic") != target.topic or not isinstance(body.get("body"), str):
            return
        try:
            answer = response.json()
        except ValueError:
            return
        if not isinstance(answer, dict) or not isinstance(answer.get("msg_id"), str):
            return  # a malformed acknowledgement is response_schema_conformance's to report
        sent = _properties(body.get("property_list"))
        ledger.entries[answer["msg_id"]] = Acknowledged(
            msg_id=answer["msg_id"],
            topic=body["topic"],
            body=body["body"],
            keys=_keys(sent),
            tags=sent.get("TAGS") or None,
            queue_id=_whole(answer.get("queue_id")),
            queue_offset=_whole(answer.get("queue_offset")),
        )

    return record_acknowledged


def _page_parameters(case: schemathesis.Case) -> tuple[int, int] | None:
    query = case.query or {}
    offset = _whole(query.get("offset", DEFAULT_OFFSET))
    limit = _whole(query.get("limit", DEFAULT_LIMIT))
    if offset is None or limit is None:
        return None
    return offset, limit


def query_total_is_consistent(expected_at_least: int | None = None) -> Check:
    """A check of each ListMessages 200: `total` agrees with the page (and, given `expected_at_least`, counts
    at least that many matches: the acknowledged messages the query must find)."""

    def query_total_is_consistent(ctx: schemathesis.CheckContext, response: Any, case: schemathesis.Case) -> None:
        document = _document(response) if is_query(case) else None
        page = _page_parameters(case)
        total = _whole(document.get("total")) if document else None
        if document is None or page is None or total is None:
            return
        offset, limit = page
        count = len(document["messages"])
        problems = []
        if count > limit:
            problems.append(f"the page lists {count} messages, more than limit={limit}")
        if count and total < offset + count:
            problems.append(
                f"total is {total}, but the page at offset {offset} lists {count}, so at least {offset + count} match"
            )
        if count == 0 and offset < total and limit > 0:
            problems.append(f"total says {total} messages match, but the page at offset {offset} is empty")
        if expected_at_least is not None and total < expected_at_least:
            problems.append(
                f"total is {total}, but {expected_at_least} messages that match were acknowledged and each is "
                "listed by a query by its msg_id"
            )
        if problems:
            raise AssertionError("The query's `total` disagrees with its `messages`: " + "; ".join(problems) + ".")

    return query_total_is_consistent


def query_filters_are_applied(ctx: schemathesis.CheckContext, response: Any, case: schemathesis.Case) -> None:
    """A check of each ListMessages 200: every listed message matches the topic, msg_id, key, queue and time
    range of the query."""
    document = _document(response) if is_query(case) else None
    if document is None:
        return
    # An empty parameter filters nothing: whether the service reads `msg_id=` as "no filter" or as "the id ''"
    # is not documented, and the first is what the emulator (and a Java `StringUtils.isEmpty` check) does.
    query = {name: value for name, value in (case.query or {}).items() if value != ""}
    start, end = _whole(query.get("start_time")), _whole(query.get("end_time"))
    problems = []
    for index, message in enumerate(document["messages"]):
        if not isinstance(message, dict):
            continue
        properties = _properties(message.get("property_list"))
        where = f"messages[{index}] ({message.get('msg_id')})"
        if "topic" in query and message.get("topic") != query["topic"]:
            problems.append(f"{where} is in topic {message.get('topic')!r}, not {query['topic']!r}")
        if "msg_id" in query and query["msg_id"] not in (message.get("msg_id"), properties.get("UNIQ_KEY")):
            problems.append(f"{where} is not message {query['msg_id']!r}")
        if "key" in query and query["key"] not in _keys(properties):
            problems.append(f"{where} has KEYS {properties.get('KEYS', '')!r}, without the key {query['key']!r}")
        if "queue" in query and _whole(message.get("queue_id")) != _whole(query["queue"]):
            problems.append(f"{where} is in queue {message.get('queue_id')!r}, not {query['queue']!r}")
        stored_at = _whole(message.get("store_timestamp"))
        if start is not None and end is not None and stored_at is not None and not start <= stored_at <= end:
            problems.append(f"{where} was stored at {stored_at}, outside [{start}, {end}]")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise AssertionError(f"The query lists messages that do not match it: {shown}.")


def _acknowledged_for(ledger: Ledger, case: schemathesis.Case, response: Any) -> Acknowledged | None:
    """The acknowledged send a query reads back: by its msg_id, with no other filter that could leave it out."""
    if not is_query(case) or response.status_code != 200:
        return None
    query = case.query or {}
    entry = ledger.entries.get(str(query.get("msg_id")))
    if entry is None or query.get("topic") != entry.topic or _whole(query.get("offset", 0)) != 0:
        return None
    if "key" in query and query["key"] not in entry.keys:
        return None
    if "queue" in query and _whole(query["queue"]) != entry.queue_id:
        return None
    if "start_time" in query or "end_time" in query:
        return None  # the acknowledgement does not say when the message was stored
    return entry


def read_back_query(entry: Acknowledged) -> dict[str, Any]:
    """The query that reads an acknowledged message back: its topic and msg_id, as the spec's link says."""
    return {"topic": entry.topic, "msg_id": entry.msg_id}


def acknowledged_message_is_stored(ledger: Ledger, reader: Reader) -> Check:
    """A check of a query by an acknowledged msg_id: the message is listed."""

    def acknowledged_message_is_stored(ctx: schemathesis.CheckContext, response: Any, case: schemathesis.Case) -> None:
        entry = _acknowledged_for(ledger, case, response)
        if entry is None or _document(response) is None or listed(response, entry.msg_id) is not None:
            return
        raise AssertionError(
            f"The server acknowledged message {entry.msg_id} (200 to SendMessage: queue {entry.queue_id}, offset "
            f"{entry.queue_offset}), but a query by its msg_id does not list it (read for up to "
            f"{reader.timeout:g} s, {READ_TIMEOUT}): the message was not stored, or cannot be found."
        )

    return acknowledged_message_is_stored


def stored_message_equals_sent(ledger: Ledger) -> Check:
    """A check of a query by an acknowledged msg_id: the listed message is the one sent and acknowledged."""

    def stored_message_equals_sent(ctx: schemathesis.CheckContext, response: Any, case: schemathesis.Case) -> None:
        entry = _acknowledged_for(ledger, case, response)
        message = listed(response, entry.msg_id) if entry is not None else None
        if entry is None or message is None:
            return
        properties = _properties(message.get("property_list"))
        stored = {
            "topic": message.get("topic"),
            "body": message.get("body"),
            "keys": _keys(properties),
            "tags": properties.get("TAGS") or None,
            "queue_id": _whole(message.get("queue_id")),
            "queue_offset": _whole(message.get("queue_offset")),
        }
        expected = {name: getattr(entry, name) for name in stored}
        differences = [
            f"{name}: sent/acknowledged {_short(expected[name])}, stored {_short(stored[name])}"
            for name in stored
            if stored[name] != expected[name]
        ]
        if differences:
            raise AssertionError(
                f"Message {entry.msg_id} is stored differently from how it was sent and acknowledged: "
                + "; ".join(differences)
                + "."
            )

    return stored_message_equals_sent


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 120 else f"{text[:117]}..."


def read_back_checks(ledger: Ledger, reader: Reader, *, expected_total: int | None = None) -> list[Check]:
    """The round trip's checks, for a query's answer."""
    return [
        query_total_is_consistent(expected_total),
        query_filters_are_applied,
        acknowledged_message_is_stored(ledger, reader),
        stored_message_equals_sent(ledger),
    ]
