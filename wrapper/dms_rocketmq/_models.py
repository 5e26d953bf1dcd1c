"""What users send (`Message`) and what they get back (`SendResult`, `SendFailure`, `StoredMessage`)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

import attrs
from dms_rocketmq_api.spec_rules import KEYS_PROPERTY, MESSAGE_ID_PROPERTY, TAGS_PROPERTY

__all__ = ["Message", "SendFailure", "SendOutcome", "SendResult", "StoredMessage", "split_keys"]


def split_keys(value: str) -> list[str]:
    """The keys of one `KEYS` property value: split at its spaces, empty pieces dropped."""
    return [key for key in value.split(" ") if key]


def _keys_converter(keys: Any) -> Any:
    # Lists become tuples so that a Message stays hashable and immutable; anything else is kept as given
    # and checked by validation when the message is sent. One key or none, the common cases, are answered
    # before the ABC checks, which cost more than the rest of building a Message (bulk callers build one per
    # message).
    if keys is None or type(keys) is str:
        return keys
    if isinstance(keys, Iterable) and not isinstance(keys, str | bytes | bytearray | Mapping):
        return tuple(keys)
    return keys


@attrs.frozen
class Message:
    """One message for `send_many`: a topic, a body (str, or bytes in UTF-8), optional keys and one tag."""

    topic: str
    body: str | bytes
    keys: str | tuple[str, ...] | None = attrs.field(default=None, converter=_keys_converter)
    tags: str | None = None


@attrs.frozen
class SendResult:
    """Where the broker stored a message.

    `msg_id` is the message ID, `queue_id`/`queue_offset` its position in the topic, `uniq_key` the
    `UNIQ_KEY` property, `properties` every property the service echoed (KEYS, TAGS, UNIQ_KEY...),
    `request_id` the server's `X-Request-Id`, and `retries_taken` how many times the send was retried.

    `sent` is the message as the request carried it (topic, body as text, KEYS as one space-separated string,
    TAGS), which `confirm` compares with what the service stored; None for a result built by hand. It takes
    no part in equality, the repr or `to_dict`: a result says where a message is, the message is the input.
    """

    msg_id: str
    queue_id: int
    queue_offset: int
    broker_name: str
    uniq_key: str | None
    topic: str
    properties: Mapping[str, str]
    request_id: str | None
    retries_taken: int = 0
    # The request body as sent (its JSON bytes; private: its form is the wire's). `sent` is decoded from it
    # only when asked for: the send path makes no second model per message, and a batch of results holds no
    # object graph per message for the garbage collector to scan again and again (bytes are not tracked).
    _request: bytes | None = attrs.field(default=None, eq=False, repr=False, alias="request")

    @property
    def ok(self) -> bool:
        """Always True: the message was stored."""
        return True

    @property
    def sent(self) -> Message | None:
        """The message as the request carried it, or None for a result built by hand."""
        if self._request is None:
            return None
        request = json.loads(self._request)
        properties = {entry["name"]: entry["value"] for entry in request.get("property_list", ())}
        return Message(
            request["topic"], request["body"], keys=properties.get(KEYS_PROPERTY), tags=properties.get(TAGS_PROPERTY)
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dictionary of every field."""
        data = attrs.asdict(self, filter=lambda attribute, _value: attribute.name != "_request")
        data["properties"] = dict(self.properties)
        return data


@attrs.frozen
class SendFailure:
    """A message of `send_many` that was not sent: the input as given, and the exception that stopped it."""

    message: Message | Mapping[str, Any] | Any
    exception: Exception

    @property
    def ok(self) -> bool:
        """Always False: the message may not have been stored (see `exception`)."""
        return False


#: One outcome of `send_many`, in the order of its input.
SendOutcome: TypeAlias = SendResult | SendFailure


def _utc(milliseconds: int | None) -> datetime.datetime | None:
    if milliseconds is None:
        return None
    return datetime.datetime.fromtimestamp(milliseconds / 1000, tz=datetime.UTC)


@attrs.frozen
class StoredMessage:
    """A message as the service stored it, read back by `get_message`, `query_messages` or `confirm`.

    `keys` are the message's keys (every `KEYS` entry listed, in order, split at its spaces; `()` for none:
    openapi.yaml's `property_list` allows one entry, and what the service makes of two is not published), `tags` its tag
    (None for none), `properties` every property the service lists (KEYS, TAGS, UNIQ_KEY, CLUSTER...).
    Timestamps are milliseconds since the Unix epoch (`stored_at`/`born_at` give them as UTC datetimes),
    `body_crc` RocketMQ's CRC32 of the body, `store_size` the bytes the broker used, hosts `ip:port`.
    A field the service left out is None: the spec requires only `msg_id`, `topic` and `body`.
    """

    msg_id: str
    topic: str
    body: str
    keys: tuple[str, ...]
    tags: str | None
    queue_id: int | None
    queue_offset: int | None
    store_timestamp: int | None
    born_timestamp: int | None
    reconsume_times: int | None
    body_crc: int | None
    store_size: int | None
    born_host: str | None
    store_host: str | None
    instance_id: str | None
    properties: Mapping[str, str]

    @property
    def uniq_key(self) -> str | None:
        """The `UNIQ_KEY` property: the id the send returned, for a message sent over HTTP."""
        return self.properties.get(MESSAGE_ID_PROPERTY)

    @property
    def stored_at(self) -> datetime.datetime | None:
        """`store_timestamp` as an aware UTC datetime."""
        return _utc(self.store_timestamp)

    @property
    def born_at(self) -> datetime.datetime | None:
        """`born_timestamp` as an aware UTC datetime."""
        return _utc(self.born_timestamp)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dictionary of every field (`keys` as a list)."""
        data = attrs.asdict(self)
        data["keys"] = list(self.keys)
        data["properties"] = dict(self.properties)
        return data
