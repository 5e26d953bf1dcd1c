"""The emulator's own signature check, step by step, against Huawei's SDK signer (no sockets)."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import quote

import pytest
from dms_rocketmq_emulator._auth import (
    Authenticator,
    canonical_query,
    canonical_uri,
    parse_authorization,
    parse_sdk_date,
)
from dms_rocketmq_emulator._config import Credential
from dms_rocketmq_emulator._exceptions import DMSError
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

PATH = "/v2/rocketmq/0a1b2c3d4e5f60718293a4b5c6d7e8f9/instances/11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90/messages"
NOW = datetime.datetime(2026, 11, 26, 9, 30, tzinfo=datetime.UTC)


class FrozenClock(datetime.datetime):
    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return NOW


def _sdk_sign(
    path: str, body: bytes, sk: str, headers: dict[str, str], query: list[Any] | None = None
) -> dict[str, str]:
    request = SdkRequest(
        method="POST",
        schema="http",
        host="127.0.0.1:8765",
        resource_path=path,
        query_params=query or [],
        header_params=dict(headers),
        body=body,
    )
    return dict(Signer(BasicCredentials("AK1", sk)).sign(request).header_params)


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


AUTH = Authenticator([Credential("AK1", "secret-1")], ["token-1"], clock=FrozenClock)
BASE = {"Content-Type": "application/json", "X-Sdk-Date": "20261126T093000Z", "X-Project-Id": "p"}


@pytest.mark.parametrize(
    ("path", "query", "raw_query"),
    [
        (PATH, [], ""),
        ("/v2/a b/ü/~x", [], ""),
        (PATH, [("b", "2"), ("a", "x y"), ("a", "0")], "b=2&a=x%20y&a=0"),
    ],
)
def test_accepts_what_the_sdk_signs(path: str, query: list[Any], raw_query: str) -> None:
    """For paths with odd characters and for queries, the verifier accepts the SDK's signature."""
    body = b'{"topic":"orders","body":"x"}'
    headers = _sdk_sign(path, body, "secret-1", BASE, query)
    raw_path = quote(path, safe="/~")
    AUTH.check("POST", raw_path, raw_query, _lower(headers), body)


def test_rejects_sdk_signature_with_other_sk() -> None:
    """The SDK's signature made with another SK is refused with 'verify aksk signature fail'."""
    body = b"{}"
    headers = _sdk_sign(PATH, body, "other", BASE)
    with pytest.raises(DMSError, match="verify aksk signature fail"):
        AUTH.check("POST", PATH, "", _lower(headers), body)


def test_rejects_changed_header_value() -> None:
    """Changing a signed header after signing breaks the signature."""
    body = b"{}"
    headers = _lower(_sdk_sign(PATH, body, "secret-1", BASE))
    headers["x-project-id"] = "q"
    with pytest.raises(DMSError, match="verify aksk signature fail"):
        AUTH.check("POST", PATH, "", headers, body)


def test_empty_body_hashes_as_empty_string() -> None:
    """An empty body is signed with the empty string's hash, as the SDK does."""
    headers = _sdk_sign(PATH, b"", "secret-1", BASE)
    AUTH.check("POST", PATH, "", _lower(headers), b"")


def test_canonical_parts() -> None:
    """Canonical URI ends with '/', keeps '~', re-encodes; canonical query is sorted and encoded."""
    assert canonical_uri("/v2/a%20b/c~d") == "/v2/a%20b/c~d/"
    assert canonical_uri("/x/") == "/x/"
    assert canonical_query("b=2&a=x%2Ay&a=0") == "a=0&a=x%2Ay&b=2"
    assert canonical_query("") == ""


def test_parse_authorization() -> None:
    """The Authorization header splits into AK, signed header names and signature."""
    value = "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=content-type;host;x-sdk-date, Signature=abc"
    assert parse_authorization(value) == ("AK1", ["content-type", "host", "x-sdk-date"], "abc")


@pytest.mark.parametrize("value", ["20261126T093000", "2026-11-26T09:30:00Z", "20261332T093000Z", ""])
def test_parse_sdk_date_rejects_bad_values(value: str) -> None:
    """Anything but a valid YYYYMMDDTHHMMSSZ parses to None."""
    assert parse_sdk_date(value) is None


def test_token_check_and_auth_off() -> None:
    """A configured token passes, another raises DMS.10240101; with nothing configured all passes."""
    AUTH.check("POST", PATH, "", {"x-auth-token": "token-1"}, b"")
    with pytest.raises(DMSError) as caught:
        AUTH.check("POST", PATH, "", {"x-auth-token": "token-2"}, b"")
    assert caught.value.error_code == "DMS.10240101"
    Authenticator([], []).check("POST", PATH, "", {}, b"")


def test_repr_hides_secrets() -> None:
    """The authenticator's repr names AKs and counts tokens, never an SK or a token."""
    assert "secret-1" not in repr(AUTH)
    assert "token-1" not in repr(AUTH)


def test_a_bare_plus_in_the_query_reads_as_itself() -> None:
    """The verifier reads a bare `+` as a plus (RFC 3986), as the spec states; clients never send one."""
    assert canonical_query("a=b+c") == "a=b%2Bc"
    assert canonical_query("a=b%20c&a=b%2Bc") == "a=b%20c&a=b%2Bc"


def test_a_repeated_header_counts_with_its_last_value() -> None:
    """Sent twice, a header maps to its last value, the one Huawei's signer signs (not the values joined)."""
    from dms_rocketmq_emulator._responses import _header_map

    scope = {"headers": [(b"x-trace", b"first"), (b"host", b"h"), (b"x-trace", b"second")]}
    assert _header_map(scope) == {"x-trace": "second", "host": "h"}
