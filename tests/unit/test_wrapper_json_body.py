"""send_json's body: compact JSON, non-ASCII kept as UTF-8 (it counts against the byte limit as sent), and
anything JSON cannot carry (NaN, infinities, objects) refused locally with one clear message (no sockets)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from dms_rocketmq import ValidationError
from dms_rocketmq._validation import json_body


def test_json_body_is_compact_and_keeps_unicode() -> None:
    """No spaces after separators, non-ASCII characters as themselves, not as \\u escapes."""
    assert json_body({"a": [1, "é 😀"], "b": None}) == '{"a":[1,"é 😀"],"b":null}'


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, object(), {1j: 1}, b"x"])
def test_json_body_refuses_what_json_cannot_carry(value: Any) -> None:
    """NaN and the infinities (not JSON) and non-serialisable objects raise ValidationError, naming send_json."""
    with pytest.raises(ValidationError, match=r"^send_json needs a JSON-compatible object: .+\.$") as caught:
        json_body({"v": value})
    assert isinstance(caught.value.__cause__, TypeError | ValueError)


def test_key_refusals_say_exactly_what_is_wrong() -> None:
    """Each refused key gets its own message, as a user reads it."""
    from dms_rocketmq._validation import MAX_KEY_CHARS, keys_value

    long = "k" * (MAX_KEY_CHARS + 1)
    cases = [
        ([1], "each key must be a string, got int."),
        (["a", ""], "a key must not be empty."),
        ([long], f"key {long[:40]!r}... is {MAX_KEY_CHARS + 1} characters, over the limit of {MAX_KEY_CHARS}."),
        (
            ["ok\udc80"],
            "key contains a character that UTF-8 cannot encode at position 2 (a lone surrogate); remove it.",
        ),
    ]
    for keys, message in cases:
        with pytest.raises(ValidationError) as caught:
            keys_value(keys)
        assert str(caught.value) == message
