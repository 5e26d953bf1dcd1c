"""The wrapper's signers and the emulator's verifier (independent code) agree, in process (no sockets).

Each signer puts the query on the wire in its canonical encoding and signs exactly that; the verifier,
reading what is on the wire, must accept it. The same over real HTTP, with hypothesis, lives in
tests/integration/test_signer_verifier.py.
"""

from __future__ import annotations

import datetime
from typing import Any

import httpx
import pytest
import requests
from dms_rocketmq import AKSKAuth, auth_requests, canonical_url, sign_request
from dms_rocketmq_emulator._auth import MAX_CLOCK_SKEW, Authenticator
from dms_rocketmq_emulator._config import Credential
from dms_rocketmq_emulator._exceptions import DMSError
from dms_rocketmq_emulator._responses import _header_map

AK = "AKAGREE0000000000001"
SK = "agreement/secret+key"
NOW = datetime.datetime(2026, 11, 26, 9, 30, tzinfo=datetime.UTC)
DATE = "20261126T093000Z"
URL = "http://127.0.0.1:8765/v2/rocketmq/p/instances/i/messages"
BODY = b'{"topic":"orders","body":"x"}'


class FrozenClock(datetime.datetime):
    moment = NOW

    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return cls.moment


VERIFIER = Authenticator([Credential(AK, SK)], [], clock=FrozenClock)


def _verify_httpx(request: httpx.Request) -> None:
    """Check a request as the emulator would see it on the wire (lowercase names, repeats as sent)."""
    raw_path, _, raw_query = request.url.raw_path.partition(b"?")
    scope = {"headers": [(name.lower(), value) for name, value in request.headers.raw]}
    if "host" not in request.headers:
        scope["headers"].append((b"host", request.url.netloc))
    VERIFIER.check(request.method, raw_path.decode(), raw_query.decode(), _header_map(scope), request.content)


QUERIES = [
    {"a": "b c"},
    {"a": "b+c"},
    [("k", "1"), ("k", "0"), ("e", "")],
    {"percent": "100%", "uni": "ü€😀", "tilde": "~*!'()"},
]


@pytest.mark.parametrize("params", QUERIES)
def test_httpx_auth_params_pass_the_verifier(params: Any) -> None:
    """AKSKAuth with `params=` holding spaces, plus signs, repeats and unicode is accepted by the verifier."""
    request = httpx.Request("POST", URL, params=params, headers={"X-Sdk-Date": DATE}, json={"a": 1})
    next(AKSKAuth(AK, SK).auth_flow(request))
    assert b"+" not in request.url.query
    _verify_httpx(request)


@pytest.mark.parametrize("query", ["a=b+c", "a=b%2Bc&a=b c", "z=1&a=%7e&m", "x=%zz&y=%2b"])
def test_httpx_auth_literal_query_passes_the_verifier(query: str) -> None:
    """A query typed into the URL, `+` included, goes on the wire canonical and verifies."""
    request = httpx.Request("POST", f"{URL}?{query}", headers={"X-Sdk-Date": DATE}, content=BODY)
    next(AKSKAuth(AK, SK).auth_flow(request))
    _verify_httpx(request)


def test_httpx_auth_writes_space_as_20_and_plus_as_2b() -> None:
    """On the wire a space is %20 and a plus %2B, pairs sorted: exactly the signed canonical query."""
    request = httpx.Request("GET", URL, params={"b": "x+y", "a": "b c"}, headers={"X-Sdk-Date": DATE})
    next(AKSKAuth(AK, SK).auth_flow(request))
    assert request.url.query == b"a=b%20c&b=x%2By"


@pytest.mark.parametrize("params", QUERIES)
def test_requests_auth_params_pass_the_verifier(params: Any) -> None:
    """The requests adapter with `params=` holding spaces and plus signs is accepted by the verifier."""
    prepared = requests.Request("POST", URL, params=params, headers={"X-Sdk-Date": DATE}, json={"a": 1}).prepare()
    signed = auth_requests.AKSKAuth(AK, SK)(prepared)
    raw_path, _, raw_query = (signed.path_url or "").partition("?")
    assert "+" not in raw_query
    headers = {str(k).lower(): str(v) for k, v in signed.headers.items()}
    body = signed.body if isinstance(signed.body, bytes) else str(signed.body).encode()
    VERIFIER.check("POST", raw_path, raw_query, headers, body)


@pytest.mark.parametrize("query", ["a=b+c", "a=b%20c&b=+", "q=%2B%2b+"])
def test_sign_request_with_canonical_url_passes_the_verifier(query: str) -> None:
    """sign_request's headers, sent to canonical_url(url), are accepted by the verifier."""
    url = f"{URL}?{query}"
    headers = {"Content-Type": "application/json", "X-Sdk-Date": DATE}
    added = sign_request("POST", url, headers, BODY, AK, SK)
    wire = httpx.URL(canonical_url(url))
    assert wire.query.count(b"+") == 0
    sent = {k.lower(): v for k, v in {**headers, **added}.items()}
    VERIFIER.check("POST", wire.path, wire.query.decode(), sent, BODY)


def test_repeated_header_last_value_is_signed_and_verified() -> None:
    """A header sent twice is signed with its last value (Huawei's signer's rule) and the verifier agrees."""
    headers = [("X-Sdk-Date", DATE), ("X-Trace", "first"), ("x-trace", "second"), ("Content-Type", "application/json")]
    request = httpx.Request("POST", URL, headers=headers, content=BODY)
    next(AKSKAuth(AK, SK).auth_flow(request))
    assert request.headers.get_list("x-trace") == ["first", "second"]
    _verify_httpx(request)
    pairs = [*headers, ("Host", "127.0.0.1:8765")]
    assert sign_request("POST", URL, pairs, BODY, AK, SK)["Authorization"] == request.headers["Authorization"]


@pytest.mark.parametrize("offset", [MAX_CLOCK_SKEW, -MAX_CLOCK_SKEW])
def test_verifier_accepts_a_date_exactly_fifteen_minutes_off(offset: datetime.timedelta) -> None:
    """A signature dated exactly 15 minutes before or after the emulator's clock is accepted."""
    request = httpx.Request("POST", URL, headers={"X-Sdk-Date": DATE}, content=BODY)
    next(AKSKAuth(AK, SK).auth_flow(request))
    FrozenClock.moment = NOW + offset
    try:
        _verify_httpx(request)
    finally:
        FrozenClock.moment = NOW


ONE_SECOND = datetime.timedelta(seconds=1)


@pytest.mark.parametrize("offset", [MAX_CLOCK_SKEW + ONE_SECOND, -MAX_CLOCK_SKEW - ONE_SECOND])
def test_verifier_refuses_a_date_one_second_past_fifteen_minutes(offset: datetime.timedelta) -> None:
    """One second beyond 15 minutes either way the signature has expired (401, 'signature expired')."""
    request = httpx.Request("POST", URL, headers={"X-Sdk-Date": DATE}, content=BODY)
    next(AKSKAuth(AK, SK).auth_flow(request))
    FrozenClock.moment = NOW + offset
    try:
        with pytest.raises(DMSError, match="signature expired"):
            _verify_httpx(request)
    finally:
        FrozenClock.moment = NOW
