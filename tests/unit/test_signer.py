"""The AK/SK signer against stored vectors (frozen date), step by step, and through its adapters."""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from dms_rocketmq import AKSKAuth, TokenAuth, _auth, sign_request
from dms_rocketmq.auth_requests import AKSKAuth as RequestsAKSKAuth
from dms_rocketmq.auth_requests import TokenAuth as RequestsTokenAuth

VECTORS = sorted((Path(__file__).parent / "vectors").glob("sign-*.json"))


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector_authorization(path: Path) -> None:
    """sign_request reproduces the Authorization header the official SDK computed for each stored vector."""
    v = load(path)
    added = sign_request(v["method"], v["url"], v["headers"], v["body"], v["ak"], v["sk"])
    assert added["Authorization"] == v["authorization"]
    assert "X-Sdk-Date" not in added  # the request's own date is kept


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector_intermediate_strings(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The canonical request and string to sign, logged at DEBUG, equal the SDK's; the secret is never logged."""
    v = load(path)
    with caplog.at_level(logging.DEBUG, logger="dms_rocketmq.auth"):
        sign_request(v["method"], v["url"], v["headers"], v["body"], v["ak"], v["sk"])
    logged = caplog.text
    # Credential headers (X-Security-Token) are signed but their values are masked in the log.
    credentials = [value for name, value in dict(v["headers"]).items() if name.lower() in _auth.SECRET_HEADERS]
    canonical = v["canonical_request"]
    for value in credentials:
        canonical = canonical.replace(value, "***")
        assert value not in logged
    assert canonical in logged
    assert v["string_to_sign"] in logged
    assert v["sk"] not in logged


def test_vectors_exist() -> None:
    """The vector directory holds the five stored cases (a lost file would silently shrink the suite)."""
    assert len(VECTORS) == 5


def test_steps_compose_to_the_vector() -> None:
    """Each named step produces its part of the SDK's canonical request for the send-message vector."""
    v = load(next(p for p in VECTORS if p.stem == "sign-send-message"))
    method, uri, query, *_rest = v["canonical_request"].split("\n")
    assert (
        _auth.canonical_uri(
            "/v2/rocketmq/0a1b2c3d4e5f60718293a4b5c6d7e8f9/instances/11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90/messages"
        )
        == uri
    )
    assert _auth.canonical_query("") == query == ""
    headers = [*v["headers"].items(), ("Host", "dms.cn-north-4.myhuaweicloud.com")]
    names = _auth.signed_header_names(headers)
    assert names == ["content-type", "host", "user-agent", "x-project-id", "x-sdk-date"]
    body_hash = _auth.payload_hash(v["body"].encode())
    canonical = _auth.canonical_request(method, uri, query, _auth.canonical_headers(headers, names), names, body_hash)
    assert canonical == v["canonical_request"]
    to_sign = _auth.string_to_sign("20260430T120000Z", canonical)
    assert to_sign == v["string_to_sign"]
    assert _auth.authorization_header(v["ak"], names, _auth.signature(v["sk"], to_sign)) == v["authorization"]


def test_canonical_uri_reencodes_segments() -> None:
    """The path is decoded then each segment re-encoded (RFC 3986, `~` kept), with a trailing slash added."""
    assert _auth.canonical_uri("/a%20b/c~d/é") == "/a%20b/c~d/%C3%A9/"
    assert _auth.canonical_uri("/already/") == "/already/"


def test_canonical_query_sorts_and_encodes() -> None:
    """Query pairs are sorted by key then value and both re-encoded; `+` in a query means a space."""
    assert _auth.canonical_query("b=2&a=z&a=y&c=x+y&d=%2B") == "a=y&a=z&b=2&c=x%20y&d=%2B"


def test_date_argument_used_when_request_has_none() -> None:
    """Without an X-Sdk-Date header the `date` argument is used, formatted in UTC, and returned to add."""
    moment = datetime(2026, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1)))
    added = sign_request("POST", "https://h/p", {}, b"x", "ak", "sk", moment)
    assert added["X-Sdk-Date"] == "20260102T030405Z"
    assert added["Host"] == "h"
    assert added == sign_request("POST", "https://h/p", {}, b"x", "ak", "sk", "20260102T030405Z")


def test_malformed_date_rejected() -> None:
    """A malformed X-Sdk-Date is refused with a message showing the expected format."""
    with pytest.raises(ValueError, match="20260131T235959Z"):
        sign_request("GET", "https://h/", {"X-Sdk-Date": "yesterday"}, None, "ak", "sk")


def test_empty_credentials_rejected() -> None:
    """An empty AK or SK is an error, not a signature the gateway would refuse later."""
    with pytest.raises(ValueError, match="ak and sk"):
        sign_request("GET", "https://h/", {}, None, "", "sk")
    with pytest.raises(ValueError, match="ak and sk"):
        AKSKAuth("ak", "")


def _httpx_request(**headers: str) -> httpx.Request:
    return httpx.Request(
        "POST",
        "http://127.0.0.1:8765/v2/reliability/p/instances/i/messages",
        headers={"Content-Type": "application/json", **headers},
        content='{"topic":"orders","body":"h\u00e9llo \u4e16\u754c"}'.encode(),
    )


def test_httpx_auth_matches_vector() -> None:
    """AKSKAuth signs an httpx request like the SDK (transport-managed headers left unsigned)."""
    v = load(next(p for p in VECTORS if p.stem == "sign-emulator-port"))
    request = _httpx_request(**{"X-Sdk-Date": "20260101T000000Z"})
    flow = AKSKAuth(v["ak"], v["sk"]).auth_flow(request)
    signed = next(flow)
    assert signed.headers["Authorization"] == v["authorization"]
    assert signed.headers["X-Sdk-Date"] == "20260101T000000Z"
    assert "x-project-id" not in signed.headers


def test_httpx_auth_adds_project_and_security_token() -> None:
    """AKSKAuth adds X-Project-Id and X-Security-Token and signs both, as the SDK's credentials do."""
    request = _httpx_request()
    flow = AKSKAuth("ak", "sk", "temp-token", project_id="proj").auth_flow(request)
    next(flow)  # kept open: once the flow ends, the sent request's token is masked
    assert request.headers["X-Project-Id"] == "proj"
    assert request.headers["X-Security-Token"] == "temp-token"
    assert (
        "SignedHeaders=content-type;host;x-project-id;x-sdk-date;x-security-token,"
        in (request.headers["Authorization"])
    )
    expected = sign_request(
        "POST",
        str(request.url),
        [(k, v) for k, v in request.headers.items() if k not in ("authorization", *_auth.TRANSPORT_HEADERS)],
        request.content,
        "ak",
        "sk",
    )
    assert request.headers["Authorization"] == expected["Authorization"]


def test_httpx_auth_requires_body_and_hides_secret() -> None:
    """AKSKAuth asks httpx for the body (it hashes it) and its repr never shows the secret or the token."""
    auth = AKSKAuth("my-ak", "my-secret", "my-temp-token")
    assert AKSKAuth.requires_request_body is True
    assert "my-secret" not in repr(auth)
    assert "my-temp-token" not in repr(auth)
    assert "secret-token-value" not in repr(TokenAuth("secret-token-value"))


def test_httpx_auth_signs_each_retry_afresh() -> None:
    """Sending through a client twice signs each request with its own date and signature."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    with httpx.Client(auth=AKSKAuth("ak", "sk"), transport=httpx.MockTransport(handler)) as client:
        client.post("http://h/p", headers={"X-Sdk-Date": "20260101T000000Z"}, content=b"a")
        client.post("http://h/p", headers={"X-Sdk-Date": "20260101T000001Z"}, content=b"a")
    assert seen[0].headers["Authorization"] != seen[1].headers["Authorization"]


def test_token_auth_sets_header() -> None:
    """TokenAuth sends the token in X-Auth-Token (and the project ID), never in Authorization."""
    request = httpx.Request("POST", "http://h/p")
    flow = TokenAuth("tok", project_id="proj").auth_flow(request)
    next(flow)
    assert request.headers["X-Auth-Token"] == "tok"
    assert request.headers["X-Project-Id"] == "proj"
    assert "authorization" not in request.headers


@pytest.mark.parametrize("auth", [TokenAuth("S3CR3T"), AKSKAuth("ak", "sk", "S3CR3T")], ids=["token", "security-token"])
def test_a_sent_request_shows_its_token_masked(auth: httpx.Auth) -> None:
    """Once answered, a request's X-Auth-Token / X-Security-Token read [secure], in its repr and in dict()."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.extend(request.headers.get_list("x-auth-token") + request.headers.get_list("x-security-token"))
        return httpx.Response(401, request=request)

    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as http:
        response = http.post("http://h/p", content=b"{}")
    assert seen == ["S3CR3T"]
    assert "S3CR3T" not in repr(response.request.headers)
    assert "S3CR3T" not in str(dict(response.request.headers))


def test_requests_adapter_matches_vector() -> None:
    """The requests adapter signs a prepared request exactly like the stored SDK vector, Host included."""
    v = load(next(p for p in VECTORS if p.stem == "sign-emulator-port"))
    prepared = requests.Request("POST", v["url"], headers=v["headers"], data=v["body"].encode("utf-8")).prepare()
    RequestsAKSKAuth(v["ak"], v["sk"])(prepared)
    assert prepared.headers["Authorization"] == v["authorization"]
    assert prepared.headers["Host"] == "127.0.0.1:8765"


def test_requests_adapter_through_a_session() -> None:
    """Within a requests Session the adapter leaves the session's transport headers unsigned."""
    prepared = requests.Session().prepare_request(
        requests.Request("POST", "http://h:81/x", json={"a": 1}, auth=RequestsAKSKAuth("ak", "sk", project_id="p"))
    )
    assert "SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date," in prepared.headers["Authorization"]


def test_requests_token_adapter() -> None:
    """The requests token adapter sends X-Auth-Token."""
    prepared = requests.Request("POST", "http://h/x", auth=RequestsTokenAuth("tok")).prepare()
    assert prepared.headers["X-Auth-Token"] == "tok"


# The precomputed signer serves JSON sends only: the vectors whose body is signed (not UNSIGNED-PAYLOAD).
JSON_VECTORS = [p for p in VECTORS if "json" in load(p)["headers"].get("Content-Type", "json")]


@pytest.mark.parametrize("path", JSON_VECTORS, ids=lambda p: p.stem)
def test_precomputed_signer_matches_vector(path: Path) -> None:
    """The precomputed signer used by AsyncClient gives the SDK's Authorization for the same request."""
    v = load(path)
    headers = {k: val for k, val in v["headers"].items() if k != "X-Sdk-Date"}
    signer = _auth.PrecomputedSigner(v["ak"], v["sk"], v["method"], v["url"], headers)
    signed = signer.sign(v["body"].encode("utf-8"), v["headers"]["X-Sdk-Date"])
    assert signed["Authorization"] == v["authorization"]
    assert signer.sign(b"x")["X-Sdk-Date"] != ""  # a fresh date when none is given
    assert v["sk"] not in repr(signer)


@pytest.mark.parametrize("length", [0, 1, 20, 40, 63, 64, 65, 128, 200])
def test_the_precomputed_hmac_is_hmac_sha256(length: int) -> None:
    """The signer's HMAC from precomputed key paddings equals the standard library's, for keys shorter than,
    as long as and longer than SHA-256's block (a longer key is hashed first)."""
    sk = "".join(chr(ord("a") + i % 26) for i in range(length))
    keyed = _auth._KeyedSHA256(sk.encode("utf-8"))
    for message in ("", "SDK-HMAC-SHA256\n20260101T000000Z\n" + "0" * 64, "é" * 100):
        assert keyed.hexdigest(message.encode("utf-8")) == _auth.signature(sk, message)
    assert keyed.hexdigest(b"twice") == keyed.hexdigest(b"twice")  # the precomputed states are not consumed
    assert sk not in repr(keyed) or not sk


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: AKSKAuth("akè", "sk"), "AKSKAuth: ak"),
        (lambda: AKSKAuth("ak", "sk", "tok\u2028en"), "AKSKAuth: security_token"),
        (lambda: AKSKAuth("ak", "sk", project_id="p\n"), "AKSKAuth: project_id"),
        (lambda: TokenAuth("tokén"), "TokenAuth: token"),
        (lambda: TokenAuth("tok", project_id="\ud800"), "TokenAuth: project_id"),
        (lambda: RequestsAKSKAuth("akè", "sk"), "AKSKAuth: ak"),
        (lambda: RequestsAKSKAuth("ak", "sk", "tok\ten"), "AKSKAuth: security_token"),
        (lambda: RequestsAKSKAuth("ak", "sk", project_id="pé"), "AKSKAuth: project_id"),
        (lambda: RequestsTokenAuth("tok\x00"), "TokenAuth: token"),
        (lambda: RequestsTokenAuth("tok", project_id="p\r\n"), "TokenAuth: project_id"),
    ],
)
def test_auth_refuses_what_a_header_cannot_carry(make: Any, message: str) -> None:
    """A non-ASCII or unprintable credential is a ValueError when the auth is made, naming the auth class and
    the argument (never quoting the value), never a bare encoding error."""
    expected = f"{message} must be printable ASCII (it is sent in an HTTP header)"
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        make()


def test_mask_sent_secrets_covers_redirects_and_a_response_without_request() -> None:
    """Given a response, the tokens of its request and of each redirect before it read [secure], other headers
    stay; a response that has no request is left as it is, without error."""
    first = httpx.Request("GET", "http://h/a", headers={"X-Auth-Token": "S3CR3T"})
    final = httpx.Request("GET", "http://h/b", headers={"X-Security-Token": "S3CR3T", "X-Project-Id": "p"})
    response = httpx.Response(200, request=final, history=[httpx.Response(302, request=first)])
    _auth.mask_sent_secrets(response)
    assert first.headers["X-Auth-Token"] == "[secure]"
    assert (final.headers["X-Security-Token"], final.headers["X-Project-Id"]) == ("[secure]", "p")
    _auth.mask_sent_secrets(httpx.Response(200))
