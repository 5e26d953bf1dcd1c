"""Our signer and Huawei's official one (huaweicloudsdkcore) agree on many generated requests."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import httpx
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


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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


@settings(max_examples=200, deadline=None)
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
