"""What the emulator verifies is what it runs: one reading of the query string for the signature and the query.

Awkward query bytes (raw UTF-8, bytes that are not UTF-8, percent-escapes of both, `+`, `&`, `=`) are sent on a
raw socket to a ListMessages URL, signed by Huawei's official SDK signer over the pairs the spec's reading gives
(UTF-8, percent-decoded, a bare `+` itself). The emulator must refuse bytes that have no such reading with 400;
must never refuse for its signature a request signed over the reading it runs; and must refuse (401) one signed
over any other reading of the same bytes, such as latin-1's.
"""

from __future__ import annotations

import types
import urllib.parse

import rawhttp
from emulators import AK, INSTANCE_ID, PROJECT_ID, SK, EmulatorProcess
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PATH = f"/v2/rocketmq/{PROJECT_ID}/instances/{INSTANCE_ID}/messages"
BASE = b"topic=orders&start_time=0&end_time=1&key="

TOKENS = [
    b"k",
    b"+",
    b"=",
    b"&x=",
    b"%2B",
    b"%26",
    b"%3D",
    b"%20",
    b"%25",
    "é".encode(),
    "日".encode(),
    "é".encode("latin-1"),
    b"%C3%A9",
    b"%E6%97%A5",
    b"\xff",
    b"%FF",
    b"\xc3",
    b"%C3",
    b"\xc3\x83\xc2\xa9",  # the latin-1 reading of UTF-8 "é", as UTF-8
]


def spec_reading(query: bytes) -> list[tuple[str, str]] | None:
    """The pairs openapi.yaml's akskSignature reads from `query`; None when the bytes have no such reading."""
    try:
        text = query.decode("utf-8")
        pairs = []
        for part in text.split("&"):
            if part:
                key, _, value = part.partition("=")
                pairs.append((urllib.parse.unquote(key, errors="strict"), urllib.parse.unquote(value, errors="strict")))
    except UnicodeDecodeError:
        return None
    return pairs


def latin1_reading(query: bytes) -> list[tuple[str, str]]:
    """The pairs a verifier that decoded the bytes as latin-1 would have checked."""
    pairs = []
    for part in query.decode("latin-1").split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((urllib.parse.unquote(key), urllib.parse.unquote(value)))
    return pairs


def signed_get(emulator: EmulatorProcess, query: bytes, pairs: list[tuple[str, str]]) -> rawhttp.Reply | None:
    """GET PATH?query on a raw socket, with the headers the official signer makes for `pairs`."""
    host = emulator.url.removeprefix("http://")
    request = SdkRequest(
        method="GET", schema="http", host=host, resource_path=PATH, query_params=pairs, header_params={}
    )
    Signer(types.SimpleNamespace(ak=AK, sk=SK)).sign(request)
    headers = [(name, value) for name, value in request.header_params.items() if name.lower() != "host"]
    data = rawhttp.request_bytes(
        method="GET",
        path=PATH + "?" + query.decode("latin-1"),
        headers=headers,
        content_type=None,
        content_length=False,
    )
    return rawhttp.exchange(emulator.url, data.replace(b"Host: 127.0.0.1", f"Host: {host}".encode()))


@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
@given(tokens=st.lists(st.sampled_from(TOKENS), min_size=1, max_size=6))
def test_the_signature_covers_the_query_that_is_run(auth_emulator: EmulatorProcess, tokens: list[bytes]) -> None:
    """Signed over the spec's reading: never a 401 (a 200, or a 400 from the query's own rules); bytes with no
    UTF-8 reading: 400; signed over the latin-1 reading, where that differs: 401."""
    query = BASE + b"".join(tokens)
    pairs = spec_reading(query)
    if pairs is None:
        reply = signed_get(auth_emulator, query, latin1_reading(query))
        body = rawhttp.assert_huawei_error(reply, 400)
        # DMS's invalid parameter, or the gateway's 400 for bytes HTTP does not allow in a request line.
        assert body["error_code"] in ("DMS.00400062", "APIGW.0201"), body
        return
    reply = signed_get(auth_emulator, query, pairs)
    assert reply is not None
    assert reply.status != 401, reply.body
    assert reply.status in (200, 400), reply.body
    if reply.status == 400 and reply.json()["error_code"] == "APIGW.0201":
        return  # bytes HTTP does not allow in a request line (the gateway's 400): no signature is read
    other = latin1_reading(query)
    if sorted(other) != sorted(pairs):
        rawhttp.assert_huawei_error(signed_get(auth_emulator, query, other), 401)
