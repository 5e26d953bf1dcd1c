"""Bad settings given to the wrapper end in ConfigurationError (a DMSError), never a bare Python exception.

Extends tests/unit/test_wrapper_config.py to numeric edge cases of `timeout` and `max_retries`, checked at
construction and per call, for both clients (no sockets: nothing is sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from typing import Any

import httpx
import pytest
from _shared.fake_dms import stored
from dms_rocketmq import AsyncClient, Client, ConfigurationError, DMSError
from hypothesis import given, settings
from hypothesis import strategies as st

OPTIONS: dict[str, Any] = {
    "endpoint": "http://dms.test",
    "project_id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    "instance_id": "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90",
    "token": "t",
    "environ": {},
}
BAD_TIMEOUTS = [-1, 0, math.nan, math.inf, -math.inf, 1e309, "5", True, httpx.Timeout(5.0, read=math.inf)]


def never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"a request was sent: {request}")


@pytest.mark.parametrize("timeout", BAD_TIMEOUTS, ids=repr)
def test_a_bad_client_timeout_is_a_configuration_error(timeout: Any) -> None:
    """Negative, zero, NaN, infinite or non-numeric timeouts are refused when the client is made."""
    with pytest.raises(ConfigurationError):
        Client(**OPTIONS, timeout=timeout, transport=httpx.MockTransport(never_called))
    with pytest.raises(ConfigurationError):
        AsyncClient(**OPTIONS, timeout=timeout)


@pytest.mark.parametrize("timeout", BAD_TIMEOUTS, ids=repr)
def test_a_bad_per_call_timeout_is_a_configuration_error(timeout: Any) -> None:
    """The same values given to one `send` are refused before anything is sent."""
    with Client(**OPTIONS, transport=httpx.MockTransport(never_called)) as client, pytest.raises(ConfigurationError):
        client.send("orders", "x", timeout=timeout)

    async def run() -> None:
        async with AsyncClient(**OPTIONS) as client:
            await client.send("orders", "x", timeout=timeout)

    with pytest.raises(ConfigurationError):
        asyncio.run(run())


@pytest.mark.parametrize("max_retries", [-1, 1.5, math.inf, "2", True, None])
def test_a_bad_max_retries_is_a_configuration_error(max_retries: Any) -> None:
    """max_retries must be a whole number >= 0 (None only means "the client's" per call)."""
    with pytest.raises(ConfigurationError):
        Client(**OPTIONS, max_retries=max_retries, transport=httpx.MockTransport(never_called))
    if max_retries is not None:
        with (
            Client(**OPTIONS, transport=httpx.MockTransport(never_called)) as client,
            pytest.raises(ConfigurationError),
        ):
            client.send("orders", "x", max_retries=max_retries)


CONTROL_CHARACTERS = ["\r\nX-Injected: 1", "\n", "\x00", "\t\x7f"]
FIELDS = {
    "project_id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    "instance_id": "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90",
    "token": "tok-SECRET-value",
    "ak": "AKEXAMPLE",
    "sk": "sk-SECRET-value",
    "security_token": "sectok-SECRET-value",
    "endpoint": "http://dms.test",
}


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("bad", CONTROL_CHARACTERS, ids=repr)
def test_a_setting_with_a_control_character_is_a_configuration_error(field: str, bad: str) -> None:
    """A control character in an id, credential or endpoint is a ConfigurationError naming the setting."""
    settings: dict[str, Any] = {"environ": {}, **{key: FIELDS[key] for key in ("project_id", "instance_id")}}
    settings["endpoint"] = FIELDS["endpoint"]
    if field in ("ak", "sk", "security_token"):
        settings |= {"ak": FIELDS["ak"], "sk": FIELDS["sk"], "security_token": FIELDS["security_token"]}
    else:
        settings["token"] = FIELDS["token"]
    settings[field] = FIELDS[field] + bad
    for client_class in (Client, AsyncClient):
        with pytest.raises(ConfigurationError) as refused:
            client_class(**settings)
        assert field in str(refused.value)
        assert "SECRET" not in str(refused.value)


_any_text = st.text(max_size=12)  # every code point: non-ASCII, controls, lone surrogates
_settings_values = {
    "ak": st.one_of(st.just("AKEXAMPLE0000001"), _any_text),
    "sk": st.one_of(st.just("secret"), _any_text),
    "security_token": st.one_of(st.none(), _any_text),
    "project_id": st.one_of(st.just("0a1b2c3d4e5f60718293a4b5c6d7e8f9"), _any_text),
    "instance_id": st.one_of(st.just("11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90"), _any_text),
    "endpoint": st.one_of(st.just("http://dms.test"), _any_text.map(lambda host: f"http://{host}")),
}
_inputs = st.one_of(st.none(), _any_text, st.binary(max_size=8), st.integers(), st.lists(_any_text, max_size=3))


@settings(max_examples=300)
@given(
    values=st.fixed_dictionaries(_settings_values),
    token=st.one_of(st.none(), _any_text),
    topic=st.one_of(st.just("orders"), _inputs),
    body=st.one_of(st.just("x"), _inputs),
    keys=_inputs,
    tags=_inputs,
)
def test_no_settings_or_inputs_raise_outside_the_dms_error_tree(
    values: dict[str, Any], token: str | None, topic: Any, body: Any, keys: Any, tags: Any
) -> None:
    """Whatever the settings and send arguments (non-ASCII, controls, surrogates, wrong types), only DMSErrors."""
    options: dict[str, Any] = {**values, "environ": {}, "max_retries": 0}
    if token is not None:
        options = {**options, "ak": None, "sk": None, "security_token": None, "token": token}

    def handler(request: httpx.Request) -> httpx.Response:
        return stored(request)

    with contextlib.suppress(DMSError), Client(**options, transport=httpx.MockTransport(handler)) as client:
        client.send(topic, body, keys=keys, tags=tags)

    async def run() -> None:
        async with AsyncClient(**options, transport=httpx.MockTransport(handler)) as client:
            await client.send(topic, body, keys=keys, tags=tags)

    with contextlib.suppress(DMSError):
        asyncio.run(run())


@pytest.mark.parametrize("field", ["ak", "project_id", "instance_id", "token", "security_token"])
@pytest.mark.parametrize("bad", ["é", "ü", "\u2028", "\ud800", "€"], ids=repr)
def test_a_non_ascii_setting_sent_in_a_header_or_the_url_is_a_configuration_error(field: str, bad: str) -> None:
    """An AK, project, instance, token or security token that is not ASCII is refused when the client is made."""
    settings: dict[str, Any] = {"environ": {}, **{key: FIELDS[key] for key in ("project_id", "instance_id")}}
    settings["endpoint"] = FIELDS["endpoint"]
    if field in ("ak", "security_token"):
        settings |= {"ak": FIELDS["ak"], "sk": FIELDS["sk"], "security_token": FIELDS["security_token"]}
    else:
        settings["token"] = FIELDS["token"]
    settings[field] = FIELDS[field] + bad
    for client_class in (Client, AsyncClient):
        with pytest.raises(ConfigurationError) as refused:
            client_class(**settings)
        assert field in str(refused.value)
        assert "SECRET" not in str(refused.value)


def test_a_request_that_cannot_be_built_is_an_api_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """An encoding failure while the request is built (no response yet) is an APIError, not a bare one."""
    from dms_rocketmq import APIError
    from dms_rocketmq_api.api.messages import send_message

    def unbuildable(*args: Any, **kwargs: Any) -> Any:
        raise UnicodeEncodeError("ascii", "é", 0, 1, "ordinal not in range(128)")

    monkeypatch.setattr(send_message, "sync_detailed", unbuildable)
    with Client(**OPTIONS, transport=httpx.MockTransport(never_called)) as client, pytest.raises(APIError) as failed:
        client.send("orders", "x")
    assert "nothing was sent" in str(failed.value)
