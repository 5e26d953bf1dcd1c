"""Client-side validation: it accepts exactly the requests openapi.yaml accepts, and says what to change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dms_rocketmq as dms
import jsonschema_rs
import pytest
import yaml
from _shared.fake_dms import stored, sync_client
from dms_rocketmq._base import request_body
from dms_rocketmq._constants import WHITESPACE
from dms_rocketmq._validation import message_from
from dms_rocketmq_api.spec_rules import BODY_MAX_LENGTH as MAX_BODY_BYTES
from dms_rocketmq_api.spec_rules import TOPIC_RESERVED_NAMES as RESERVED_TOPICS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SPEC = yaml.safe_load((Path(__file__).parents[2] / "openapi.yaml").read_text(encoding="utf-8"))
REQUEST_SCHEMA = jsonschema_rs.Draft202012Validator(
    {"$ref": "#/components/schemas/SendMessageRequestBody", "components": SPEC["components"]}
)


def schema_accepts(topic: str, body: str, keys: str | None, tags: str | None) -> bool:
    properties = []
    if keys is not None:
        properties.append({"name": "KEYS", "value": keys})
    if tags is not None:
        properties.append({"name": "TAGS", "value": tags})
    return bool(REQUEST_SCHEMA.is_valid({"topic": topic, "body": body, "property_list": properties}))


def wrapper_accepts(topic: str, body: str, keys: str | None, tags: str | None) -> bool:
    try:
        request_body(topic, body, keys, tags)
    except dms.ValidationError:
        return False
    return True


# Characters near every rule's edge: topic characters, white space (ECMA and Python's differing sets),
# the tag separator, unicode.
EDGY = st.sampled_from(sorted(WHITESPACE) + list("%|-_aZ09 .#é世\x1c\x85") + ["\U0001f600"])
edgy_text = st.text(st.one_of(EDGY, st.characters(exclude_categories=("Cs",))), max_size=20)
topics = st.one_of(
    st.from_regex(r"[%|a-zA-Z0-9_-]{3,64}", fullmatch=True),
    st.from_regex(r"[%|a-zA-Z0-9_-]{1,70}", fullmatch=True),
    st.sampled_from(sorted(RESERVED_TOPICS)),
    st.from_regex(r"rmq_sys_[a-z]{0,10}", fullmatch=True),
    edgy_text,
)
keys_values = st.one_of(
    st.none(),
    st.lists(st.from_regex(r"[^\s]{1,130}", fullmatch=True), min_size=1, max_size=3).map(" ".join),
    edgy_text,
    st.text(st.sampled_from("ab |\t\ufeff\x1c"), max_size=6),
)
tag_values = st.one_of(
    st.none(),
    st.text(st.sampled_from("ab|\u00a0\x85 "), max_size=6),
    st.from_regex(r"[a-z|]{1,130}", fullmatch=True),
    edgy_text,
)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(topics, st.text(max_size=8), keys_values, tag_values)
def test_validation_agrees_with_request_schema(topic: str, body: str, keys: str | None, tags: str | None) -> None:
    """For any topic, body, KEYS and TAGS value, the wrapper accepts the message iff the spec's schema does."""
    assert wrapper_accepts(topic, body, keys, tags) == schema_accepts(topic, body, keys, tags)


@pytest.mark.parametrize(
    ("topic", "fragment"),
    [
        ("ab", "3 to 64 characters"),
        ("a" * 65, "3 to 64 characters"),
        ("my topic", "may only use letters"),
        ("rmq_sys_orders", "reserves"),
        ("TBW102", "reserves"),
        (5, "must be a string"),
    ],
)
def test_topic_messages(topic: Any, fragment: str) -> None:
    """A bad topic is refused before sending, with a message that says what the rule is."""
    with pytest.raises(dms.ValidationError, match=fragment):
        request_body(topic, "x", None, None)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("", "must not be empty"),
        (b"\xff\xfe", "not valid UTF-8"),
        ({"a": 1}, "use send_json"),
        ("\ud800", "lone surrogate"),
        ("é" * (MAX_BODY_BYTES // 2 + 1), f"over the limit of {MAX_BODY_BYTES}"),
    ],
)
def test_body_messages(body: Any, fragment: str) -> None:
    """Empty, non-UTF-8, non-text and over-4-MiB bodies are refused with a reason."""
    with pytest.raises(dms.ValidationError, match=fragment):
        request_body("orders", body, None, None)


def test_body_limit_is_utf8_bytes() -> None:
    """The limit counts UTF-8 bytes: exactly 4 MiB of ASCII passes, and bytes bodies are decoded."""
    request = request_body("orders", b"a" * MAX_BODY_BYTES, None, None)
    assert len(request.body) == MAX_BODY_BYTES


@pytest.mark.parametrize(
    ("keys", "fragment"),
    [
        ("", "must not be empty"),
        ("a  b", "double space"),
        (" a", "leading"),
        (["ok", "has space"], "white space, which separates keys in KEYS; split it into several keys"),
        ("ok has\ttab", "separate keys with one space, or pass them as a list"),
        (["k" * 129], "over the limit of 128"),
        ([""], "must not be empty"),
        ([1], "must be a string"),
        (5, "string or a list"),
        (["k" * 128] * 130, "over the property limit of 16384"),
    ],
)
def test_keys_messages(keys: Any, fragment: str) -> None:
    """Bad keys are refused with what to change."""
    with pytest.raises(dms.ValidationError, match=fragment):
        request_body("orders", "x", keys, None)


def test_keys_joined_with_one_space() -> None:
    """Several keys become one KEYS value joined by single spaces; an empty list means no KEYS."""
    request = request_body("orders", "x", ("order-1", "customer-7"), None)
    assert request.to_dict()["property_list"] == [{"name": "KEYS", "value": "order-1 customer-7"}]
    assert request_body("orders", "x", [], None).to_dict()["property_list"] == []


@pytest.mark.parametrize(
    ("tags", "fragment"),
    [
        ("", "must not be empty"),
        ("a b", "white space"),
        ("a||b", "'||'"),
        ("t" * 129, "over the limit of 128"),
        (["a", "b"], "one tag"),
    ],
)
def test_tag_messages(tags: Any, fragment: str) -> None:
    """Bad tags are refused with what to change."""
    with pytest.raises(dms.ValidationError, match=fragment):
        request_body("orders", "x", None, tags)


def test_validation_error_is_value_error() -> None:
    """ValidationError is also a ValueError, so generic input handling catches it."""
    assert issubclass(dms.ValidationError, ValueError)


def _keys_of_bytes(total: int, char: str = "k") -> list[str]:
    """Keys of 128 `char`s (then ASCII fillers) whose KEYS value is exactly `total` UTF-8 bytes."""
    width = len(char.encode())
    keys: list[str] = []
    size = -1  # no space before the first key
    while size + 1 + 128 * width <= total:
        keys.append(char * 128)
        size += 1 + 128 * width
    while size < total:
        room = total - size - 1
        keys.append("a" * min(128, room))
        size += 1 + min(128, room)
    assert size == total
    assert len(" ".join(keys).encode()) == total
    return keys


@pytest.mark.parametrize(
    ("topic", "keys", "tags"),
    [
        ("t" * 64, None, None),
        ("abc", None, None),
        ("RMQ_SYS_orders", None, None),  # the reserved prefix is lower-case rmq_sys_, and the rule is case-sensitive
        ("Rmq_sys_orders", None, None),
        ("orders", ["k" * 128], "t" * 128),
        ("orders", _keys_of_bytes(16384), None),
        ("orders", _keys_of_bytes(16384, "é"), None),
        ("orders", _keys_of_bytes(16384, "\U0001f600"), None),
    ],
    ids=["topic-64", "topic-3", "upper-RMQ_SYS", "mixed-Rmq_sys", "key-and-tag-128", "keys-16384", "é", "emoji"],
)
def test_each_limit_accepts_its_exact_end(topic: str, keys: list[str] | None, tags: str | None) -> None:
    """A value exactly at a limit (or a look-alike of a reserved name the rule allows) is accepted, as by the spec."""
    request = request_body(topic, "x", keys, tags)
    assert request.topic == topic
    assert schema_accepts(topic, "x", None if keys is None else " ".join(keys), tags)


@pytest.mark.parametrize("char", ["é", "世", "\U0001f600"])
def test_the_property_limit_counts_utf8_bytes(char: str) -> None:
    """KEYS of 16,385 UTF-8 bytes is refused even though it has far fewer than 16,384 characters."""
    keys = _keys_of_bytes(16385, char)
    assert len(" ".join(keys)) < 16384
    with pytest.raises(dms.ValidationError, match="16385 bytes in UTF-8, over the property limit of 16384"):
        request_body("orders", "x", keys, None)


@pytest.mark.parametrize("where", ["key", "tag"])
@pytest.mark.parametrize("surrogate", ["\ud800", "x\udfff", "a\udc80b"], ids=["high", "low", "inside"])
def test_a_lone_surrogate_in_a_key_or_tag_is_refused(where: str, surrogate: str) -> None:
    """A lone surrogate (not encodable as UTF-8) in a key or the tag is a ValidationError, like in the body."""
    keys, tags = ([surrogate], None) if where == "key" else (None, surrogate)
    with pytest.raises(dms.ValidationError, match=f"{where} contains .* lone surrogate"):
        request_body("orders", "x", keys, tags)


def test_a_body_that_json_escapes_past_the_request_limit_is_refused() -> None:
    """2,097,147 control characters (2 MB of UTF-8, 12.6 MB once JSON-escaped) are refused locally."""
    with pytest.raises(dms.ValidationError, match="over the 12582912-byte request limit"):
        request_body("orders", "\x01" * 2_097_147, None, None)


def test_a_request_of_exactly_the_request_limit_is_sent() -> None:
    """A body whose JSON request is exactly 12 MiB is accepted and sent whole; one byte more is refused."""
    import httpx

    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sizes.append(len(request.read()))
        return stored(request)

    one_char = request_body("orders", "x", None, None).to_dict()
    overhead = len(json.dumps(one_char, ensure_ascii=False, separators=(",", ":")).encode()) - 1
    escaped = (12 * 1024 * 1024 - overhead) // 6
    body = "\x01" * escaped + "a" * (12 * 1024 * 1024 - overhead - 6 * escaped)
    with sync_client(handler) as client:
        client.send("orders", body)
        with pytest.raises(dms.ValidationError, match="request limit"):
            client.send("orders", body + "a")
    assert sizes == [12 * 1024 * 1024]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"topic": "t", "body": "b", "tag": "x", "Keys": "k"}, "unknown message field(s) Keys, tag; "),
        ({"topic": "t", "body": "b", 3: "x"}, "unknown message field(s) 3; "),
        ({"tags": "x"}, "message is missing topic and body."),
        ({"topic": "t"}, "message is missing body."),
    ],
)
def test_a_message_mapping_with_unknown_or_missing_fields_is_refused_naming_them(
    item: dict[Any, str], message: str
) -> None:
    """A mapping given as a message with fields a message does not have (listed sorted), or without topic or
    body, is a ValidationError that names them."""
    if message.startswith("unknown"):
        message += "a message has topic, body, keys and tags."
    with pytest.raises(dms.ValidationError) as caught:
        message_from(item)
    assert str(caught.value) == message


def test_a_message_mapping_becomes_the_message_it_spells() -> None:
    """Every field of a mapping given as a message is kept (keys and tags too); anything but a Message or a
    mapping is a ValidationError naming its type."""
    assert message_from({"topic": "t", "body": "b", "keys": ["k1", "k2"], "tags": "x"}) == dms.Message(
        "t", "b", keys=["k1", "k2"], tags="x"
    )
    assert message_from({"topic": "t", "body": "b"}) == dms.Message("t", "b")
    with pytest.raises(dms.ValidationError) as caught:
        message_from(42)
    assert str(caught.value) == "each message must be a Message or a mapping, got int."


class _StrSubclass(str):
    pass


message_keys = st.one_of(
    st.none(),
    st.text(max_size=5),
    st.text(max_size=5).map(_StrSubclass),
    st.binary(max_size=5),
    st.lists(st.text(max_size=5), max_size=3),
    st.lists(st.text(max_size=5), max_size=3).map(tuple),
    st.frozensets(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    st.integers(),
)


@given(message_keys)
def test_message_keys_become_a_tuple_only_when_they_are_a_collection_of_keys(keys: Any) -> None:
    """Message keeps one key (a str or subclass), None, bytes, a mapping or a non-iterable as given, and turns
    any other iterable into a tuple, so that a Message built from a list stays hashable."""
    message = dms.Message("orders", "body", keys=keys)
    collection = not isinstance(keys, str | bytes | bytearray | dict | int | type(None))
    if collection:
        assert type(message.keys) is tuple
        assert message.keys == tuple(keys)
        hash(message)
    else:
        assert message.keys is keys
