"""Our signer and Huawei's official one (huaweicloudsdkcore) agree on many generated requests."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import httpx
import pytest
from dms_rocketmq import AKSKAuth, sign_request
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

AK = "HPUAEXAMPLEAK0000001"
SK = "exampleSecretKey/For+Tests0000000000000000"
DATE = "20260430T120000Z"


class _Credentials:
    ak = AK
    sk = SK


def sdk_authorization(
    method: str, host: str, path: str, query: list[tuple[str, str]], headers: dict[str, str], body: bytes
) -> str:
    request = SdkRequest(
        method=method,
        schema="https",
        host=host,
        resource_path=path,
        query_params=list(query),
        header_params=dict(headers),
        body=body,
    )
    Signer(_Credentials).sign(request)
    return str(request.header_params["Authorization"])


text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
segments = st.lists(text, min_size=1, max_size=4)
query_pairs = st.lists(st.tuples(text, text), max_size=4)
header_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,15}", fullmatch=True).filter(
    lambda n: n.lower() not in {"host", "x-sdk-date", "content-type", "x-sdk-content-sha256", "authorization"}
)
header_values = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=20)
header_sets = st.dictionaries(header_names, header_values, max_size=5).filter(
    lambda d: len({k.lower() for k in d}) == len(d)
)
content_types = st.sampled_from(
    [
        None,
        "application/json",
        "application/json;charset=UTF-8",
        "application/bson",
        "text/plain",
        "application/octet-stream",
    ]
)
hosts = st.sampled_from(["dms.cn-north-4.myhuaweicloud.com", "127.0.0.1:8765", "dms.eu-west-101.myhuaweicloud.eu"])
methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(methods, hosts, segments, query_pairs, st.booleans(), header_sets, content_types, st.binary(max_size=64))
def test_sign_request_matches_official_signer(
    method: str,
    host: str,
    path_segments: list[str],
    query: list[tuple[str, str]],
    plus_encoding: bool,
    extra_headers: dict[str, str],
    content_type: str | None,
    body: bytes,
) -> None:
    """For any path, query (unicode, reserved characters), header set and body, the Authorization is the SDK's."""
    path = "/" + "/".join(quote(segment, safe="") for segment in path_segments)
    if plus_encoding:
        query_string = urlencode(query)  # how requests and httpx encode params (space as +)
    else:
        query_string = "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in query)  # the SDK's wire form
    url = f"https://{host}{path}" + (f"?{query_string}" if query_string else "")
    headers = {**extra_headers, "X-Sdk-Date": DATE}
    if content_type is not None:
        headers["Content-Type"] = content_type
    ours = sign_request(method, url, headers, body, AK, SK)
    assert ours["Authorization"] == sdk_authorization(method, host, path, query, headers, body)


@settings(max_examples=200)
@given(
    segments,
    query_pairs,
    header_sets.filter(lambda d: all(v == v.strip() and v.isascii() for v in d.values())),
    st.binary(min_size=1, max_size=64),
)
def test_httpx_auth_matches_official_signer(
    path_segments: list[str], query: list[tuple[str, str]], extra_headers: dict[str, str], body: bytes
) -> None:
    """AKSKAuth on a real httpx request signs what the SDK signs for the same method, URL, headers and body."""
    path = "/" + "/".join(quote(segment, safe="") for segment in path_segments)
    headers = {**extra_headers, "Content-Type": "application/json", "X-Sdk-Date": DATE, "User-Agent": "t"}
    request = httpx.Request(
        "POST", f"https://dms.cn-north-4.myhuaweicloud.com{path}", params=query, headers=headers, content=body
    )
    next(AKSKAuth(AK, SK).auth_flow(request))
    wire_path = request.url.raw_path.split(b"?")[0].decode("ascii")
    expected = sdk_authorization("POST", "dms.cn-north-4.myhuaweicloud.com", wire_path, query, headers, body)
    assert request.headers["Authorization"] == expected


def _sdk_and_ours(headers: list[tuple[str, str]], body: bytes, query: list[tuple[str, str]]) -> tuple[str, str, str]:
    """The SDK's Authorization, sign_request's and AKSKAuth's for one POST with these headers (in this order)."""
    host = "dms.cn-north-4.myhuaweicloud.com"
    url = f"https://{host}/v2/p/messages"
    sdk = sdk_authorization("POST", host, "/v2/p/messages", query, dict(headers), body)
    request = httpx.Request("POST", url, params=query, headers=headers, content=body)
    pairs = [(k, v) for k, v in request.headers.raw]
    next(AKSKAuth(AK, SK).auth_flow(request))
    signed = [(k.decode(), v.decode()) for k, v in pairs if k.lower() != b"content-length"]
    return (
        sdk,
        sign_request("POST", url + ("?" + urlencode(query) if query else ""), signed, body, AK, SK)["Authorization"],
        request.headers["Authorization"],
    )


content_type_names = st.sampled_from(["Content-Type", "content-type", "CONTENT-TYPE", "Content-type"])


@settings(max_examples=100)
@given(content_type_names, content_types.filter(lambda c: c is not None), st.binary(min_size=1, max_size=32))
def test_content_type_spelling_signs_as_the_sdk(name: str, content_type: str, body: bytes) -> None:
    """A Content-Type header in any spelling makes sign_request and AKSKAuth sign what the SDK signs."""
    headers = [("Host", "dms.cn-north-4.myhuaweicloud.com"), (name, content_type), ("X-Sdk-Date", DATE)]
    sdk, ours, httpx_auth = _sdk_and_ours(headers, body, [])
    assert ours == sdk
    assert httpx_auth == sdk


@pytest.mark.parametrize("date", ["20261201T010203Z", "2026121T010203Z", "2026121T1023Z", "20260102T3456Z"])
def test_caller_supplied_loose_date_signs_as_the_sdk(date: str) -> None:
    """A caller's loosely formatted X-Sdk-Date (which strptime still reads) is signed by both as by the SDK."""
    headers = [("Host", "dms.cn-north-4.myhuaweicloud.com"), ("Content-Type", "application/json"), ("X-Sdk-Date", date)]
    sdk, ours, httpx_auth = _sdk_and_ours(headers, b"{}", [("a", "b")])
    assert ours == sdk
    assert httpx_auth == sdk


def test_case_variant_repeated_header_signs_as_the_sdk() -> None:
    """Two spellings of one header (the SDK's only way to repeat one) are signed by both as by the SDK."""
    headers = [
        ("Host", "dms.cn-north-4.myhuaweicloud.com"),
        ("X-Sdk-Date", DATE),
        ("X-Trace", "first"),
        ("x-trace", "second"),
    ]
    sdk, ours, httpx_auth = _sdk_and_ours(headers, b"{}", [])
    assert ours == sdk
    assert httpx_auth == sdk


def test_httpx_auth_signer_cache_keeps_methods_apart() -> None:
    """A GET then a POST (and a GET again) to one URL with one AKSKAuth are each signed for their own method."""
    auth = AKSKAuth(AK, SK)
    url = "https://dms.cn-north-4.myhuaweicloud.com/v2/p/messages"
    for method in ("GET", "POST", "GET", "PUT"):
        request = httpx.Request(method, url, headers={"X-Sdk-Date": DATE}, content=b"{}")
        next(auth.auth_flow(request))
        unsigned = (b"authorization", b"content-length")
        pairs = [(k.decode(), v.decode()) for k, v in request.headers.raw if k.lower() not in unsigned]
        assert request.headers["Authorization"] == sign_request(method, url, pairs, b"{}", AK, SK)["Authorization"]
        assert request.headers["Authorization"] == sdk_authorization(
            method, "dms.cn-north-4.myhuaweicloud.com", "/v2/p/messages", [], dict(pairs), b"{}"
        )
