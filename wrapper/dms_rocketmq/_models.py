"""What users send (`Message`) and what they get back (`SendResult`, `SendFailure`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

import attrs

__all__ = ["Message", "SendFailure", "SendOutcome", "SendResult"]


def _keys_converter(keys: Any) -> Any:
    # Lists become tuples so that a Message stays hashable and immutable; anything else is kept as given
    # and checked by validation when the message is sent.
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

    @property
    def ok(self) -> bool:
        """Always True: the message was stored."""
        return True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dictionary of every field."""
        data = attrs.asdict(self)
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
