"""DMS's rules for a message, checked before anything is sent, with errors that say what to change.

The rules' values come from openapi.yaml through `dms_rocketmq_api.spec_rules` (written by `make generate`);
the unit tests prove these checks accept the same requests as the spec's request schema, plus the one a
JSON schema cannot express: the body's limit also bounds its UTF-8 encoding.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from dms_rocketmq_api.models.send_message_request_body import SendMessageRequestBody
from dms_rocketmq_api.spec_rules import BODY_MAX_LENGTH as MAX_BODY_BYTES
from dms_rocketmq_api.spec_rules import KEY_MAX_LENGTH as MAX_KEY_CHARS
from dms_rocketmq_api.spec_rules import PROPERTY_VALUE_MAX_LENGTH as MAX_PROPERTY_BYTES
from dms_rocketmq_api.spec_rules import REQUEST_MAX_BYTES as MAX_REQUEST_BYTES
from dms_rocketmq_api.spec_rules import TAGS_MAX_LENGTH as MAX_TAG_CHARS
from dms_rocketmq_api.spec_rules import TOPIC_MAX_LENGTH as MAX_TOPIC_CHARS
from dms_rocketmq_api.spec_rules import TOPIC_MIN_LENGTH as MIN_TOPIC_CHARS
from dms_rocketmq_api.spec_rules import TOPIC_PATTERN
from dms_rocketmq_api.spec_rules import TOPIC_RESERVED_NAMES as RESERVED_TOPICS
from dms_rocketmq_api.spec_rules import TOPIC_RESERVED_PREFIXES as SYSTEM_TOPIC_PREFIXES

from ._constants import WHITESPACE
from ._exceptions import ValidationError
from ._models import Message

__all__ = ["body_text", "check_request_size", "json_body", "keys_value", "message_from", "tag_value", "topic_name"]

_MESSAGE_FIELDS = frozenset({"topic", "body", "keys", "tags"})
#: The spec's pattern for a whole name; matched one character at a time too, to name the ones it refuses.
TOPIC_CHARACTERS = re.compile(TOPIC_PATTERN)


def _check_encodable(what: str, text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"{what} contains a character that UTF-8 cannot encode at position {exc.start} "
            "(a lone surrogate); remove it."
        ) from None


def topic_name(topic: object) -> str:
    """Return the topic if DMS accepts its name, else raise `ValidationError` saying why."""
    if not isinstance(topic, str):
        raise ValidationError(f"topic must be a string, got {type(topic).__name__}.")
    return _checked_topic(topic)


@functools.lru_cache(maxsize=256)
def _checked_topic(topic: str) -> str:
    # Cached: an application sends to a handful of topics, again and again. Refusals are not cached.
    if not MIN_TOPIC_CHARS <= len(topic) <= MAX_TOPIC_CHARS:
        raise ValidationError(
            f"topic must be {MIN_TOPIC_CHARS} to {MAX_TOPIC_CHARS} characters long, got {len(topic)} ({topic[:80]!r})."
        )
    if TOPIC_CHARACTERS.fullmatch(topic) is None:
        bad = sorted({c for c in topic if TOPIC_CHARACTERS.fullmatch(c) is None})
        raise ValidationError(
            f"topic {topic!r} contains {', '.join(map(repr, bad))}; "
            "a topic name may only use letters a-z and A-Z, digits, %, |, - and _."
        )
    for prefix in SYSTEM_TOPIC_PREFIXES:
        if topic.startswith(prefix):
            raise ValidationError(f"topic {topic!r} starts with {prefix!r}, which DMS reserves.")
    if topic in RESERVED_TOPICS:
        raise ValidationError(f"topic {topic!r} is a name DMS reserves for its own use; choose another.")
    return topic


def body_text(body: object) -> str:
    """Return the body as text if DMS accepts it (not empty, at most the spec's limit in UTF-8 bytes), else raise."""
    if isinstance(body, bytes | bytearray | memoryview):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError(
                f"body bytes are not valid UTF-8 (at byte {exc.start}); the API carries text, so "
                "encode binary data first (for example with base64)."
            ) from None
    if not isinstance(body, str):
        raise ValidationError(
            f"body must be str or bytes, got {type(body).__name__}; use send_json() for other objects."
        )
    if not body:
        raise ValidationError("body must not be empty.")
    if body.isascii():
        size = len(body)
    else:
        _check_encodable("body", body)
        size = len(body.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        raise ValidationError(
            f"body is {size} bytes in UTF-8, over the limit of {MAX_BODY_BYTES}; "
            "split the message or store the payload elsewhere and send a reference."
        )
    return body


def json_body(obj: Any) -> str:
    """Serialise a JSON-compatible object as a compact JSON body; raise `ValidationError` if it is not."""
    try:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"send_json needs a JSON-compatible object: {exc}.") from exc


def _has_whitespace(text: str) -> bool:
    return not WHITESPACE.isdisjoint(text)


def _check_key(key: object, *, in_list: bool) -> str:
    if not isinstance(key, str):
        raise ValidationError(f"each key must be a string, got {type(key).__name__}.")
    if not key:
        raise ValidationError("a key must not be empty.")
    if len(key) > MAX_KEY_CHARS:
        raise ValidationError(f"key {key[:40]!r}... is {len(key)} characters, over the limit of {MAX_KEY_CHARS}.")
    if _has_whitespace(key):
        if in_list:
            raise ValidationError(
                f"key {key!r} contains white space, which separates keys in KEYS; "
                "split it into several keys or remove the white space."
            )
        raise ValidationError(
            f"key {key!r} contains white space other than single spaces between keys; "
            "separate keys with one space, or pass them as a list."
        )
    _check_encodable("key", key)
    return key


#: A plain key (see `keys_value`) this long or shorter is within both the key and the property limit.
_PLAIN_KEY_MAX = min(MAX_KEY_CHARS, MAX_PROPERTY_BYTES)


def keys_value(keys: str | Iterable[str] | None) -> str | None:
    """The `KEYS` property value for `keys`: several keys joined by one space, or None for no keys.

    A string is taken as the KEYS value itself, so `"a b"` means the two keys `a` and `b`.
    """
    if keys is None:
        return None
    if isinstance(keys, str):
        if 0 < len(keys) <= _PLAIN_KEY_MAX and keys.isascii() and keys.isprintable() and " " not in keys:
            return keys  # one key of printable ASCII without a space: no white space, nothing to refuse
        if not keys:
            raise ValidationError("keys must not be empty; pass None for no keys.")
        parts = keys.split(" ")
        if "" in parts:
            raise ValidationError(
                f"keys {keys[:80]!r} has a leading, trailing or double space; separate keys with one space."
            )
    elif isinstance(keys, Iterable) and not isinstance(keys, bytes | bytearray | Mapping):
        parts = list(keys)
        if not parts:
            return None
    else:
        raise ValidationError(f"keys must be a string or a list of strings, got {type(keys).__name__}.")
    in_list = not isinstance(keys, str)
    value = " ".join(_check_key(key, in_list=in_list) for key in parts)
    # The limit is in UTF-8 bytes, as the body's (openapi.yaml, SendMessagePropertiesReqEntity.value).
    size = len(value) if value.isascii() else len(value.encode("utf-8"))
    if size > MAX_PROPERTY_BYTES:
        raise ValidationError(
            f"keys are {size} bytes in UTF-8, over the property limit of {MAX_PROPERTY_BYTES}; send fewer keys."
        )
    return value


#: A character takes at most 6 bytes in compact JSON: a control character is written `\u00XX`.
_MAX_JSON_BYTES_PER_CHAR = 6
#: What the rest of a request (topic, KEYS, TAGS, field names) can take, escaped, at most.
_MAX_REST_OF_REQUEST = _MAX_JSON_BYTES_PER_CHAR * (MAX_TOPIC_CHARS + 2 * MAX_PROPERTY_BYTES) + 1024


def check_request_size(request: SendMessageRequestBody) -> None:
    """Refuse a request whose JSON (compact, UTF-8, as both transports write it) is over the gateway's limit.

    The body's own limit counts its UTF-8 bytes, but on the wire it is JSON-escaped: 2,097,147 control
    characters are 2 MB of text and 12.6 MB of request, which the gateway refuses with a 413.
    """
    if _MAX_JSON_BYTES_PER_CHAR * len(request.body) + _MAX_REST_OF_REQUEST <= MAX_REQUEST_BYTES:
        return  # too short to escape past the limit: the common case costs nothing
    size = len(json.dumps(request.to_dict(), ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > MAX_REQUEST_BYTES:
        raise ValidationError(
            f"the request is {size} bytes once the body is written as JSON (control characters, quotes and "
            f"backslashes are escaped), over the {MAX_REQUEST_BYTES}-byte request limit; encode the body "
            "first (for example with base64) or send less."
        )


def tag_value(tags: object) -> str | None:
    """The `TAGS` property value: one tag of at most the spec's length, without white space or `||`."""
    if tags is None:
        return None
    if not isinstance(tags, str):
        raise ValidationError(f"tags must be one tag as a string, got {type(tags).__name__}; a message has one tag.")
    if not tags:
        raise ValidationError("tags must not be empty; pass None for no tag.")
    if len(tags) > MAX_TAG_CHARS:
        raise ValidationError(f"tag {tags[:40]!r}... is {len(tags)} characters, over the limit of {MAX_TAG_CHARS}.")
    if _has_whitespace(tags):
        raise ValidationError(f"tag {tags!r} contains white space; a message has one tag, without spaces.")
    if "||" in tags:
        raise ValidationError(f"tag {tags!r} contains '||', the separator of RocketMQ tag filters; remove it.")
    _check_encodable("tag", tags)
    return tags


def message_from(item: object) -> Message:
    """Turn an input of `send_many` (a `Message` or a mapping with its fields) into a `Message`."""
    if isinstance(item, Message):
        return item
    if isinstance(item, Mapping):
        unknown = set(item) - _MESSAGE_FIELDS
        if unknown:
            raise ValidationError(
                f"unknown message field(s) {', '.join(sorted(map(str, unknown)))}; "
                "a message has topic, body, keys and tags."
            )
        missing = [name for name in ("topic", "body") if name not in item]
        if missing:
            raise ValidationError(f"message is missing {' and '.join(missing)}.")
        return Message(item["topic"], item["body"], keys=item.get("keys"), tags=item.get("tags"))
    raise ValidationError(f"each message must be a Message or a mapping, got {type(item).__name__}.")
