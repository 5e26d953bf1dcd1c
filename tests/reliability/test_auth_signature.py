"""Authentication against the emulator with credentials on: every forged, stale or tampered request gets 401.

Requests are signed with Huawei's official SDK signer (`huaweicloudsdkcore`), independent of both our signer
and the emulator's verifier, then changed after signing. Each must get 401 APIGW.0301 "Incorrect IAM
authentication information: <detail>" with the gateway's `request_id` in the body, except a bad token, which
DMS itself refuses with 401 DMS.10240101.
"""

from __future__ import annotations

import ast
import datetime
import hashlib
import hmac
import inspect
import json
import textwrap
import types
from typing import Any

import httpx
import pytest
import rawhttp
from emulators import AK, INSTANCE_ID, PROJECT_ID, SK, TOKEN, EmulatorProcess
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from hypothesis import given, settings
from hypothesis import strategies as st
from rawhttp import REQUEST_ID

PATH = f"/v2/rocketmq/{PROJECT_ID}/instances/{INSTANCE_ID}/messages"
BODY = json.dumps({"topic": "orders", "body": "signed"}).encode()
PREFIX = "Incorrect IAM authentication information: "


def sdk_date(offset: datetime.timedelta = datetime.timedelta(0)) -> str:
    return (datetime.datetime.now(datetime.UTC) + offset).strftime("%Y%m%dT%H%M%SZ")


def signed(
    emulator: EmulatorProcess,
    *,
    body: bytes = BODY,
    path: str = PATH,
    query: list[tuple[str, str]] | None = None,
    date: str | None = None,
    ak: str = AK,
    sk: str = SK,
    extra_headers: dict[str, str] | None = None,
) -> tuple[str, dict[str, str]]:
    """(path?query, headers) of a request signed by the official SDK's signer."""
    host = emulator.url.removeprefix("http://")
    headers = {"Content-Type": "application/json", "X-Project-Id": PROJECT_ID, **(extra_headers or {})}
    if date is not None:
        headers["X-Sdk-Date"] = date
    request = SdkRequest(
        method="POST",
        schema="http",
        host=host,
        resource_path=path,
        query_params=query or [],
        header_params=headers,
        body=body,
    )
    Signer(types.SimpleNamespace(ak=ak, sk=sk)).sign(request)
    return request.uri, dict(request.header_params)


def post(emulator: EmulatorProcess, uri: str, headers: dict[str, str], body: bytes = BODY) -> httpx.Response:
    with httpx.Client(base_url=emulator.url, timeout=20) as client:
        return client.post(uri, content=body, headers=headers)


def assert_gateway_401(response: httpx.Response, detail: str | None = None) -> str:
    """401 APIGW.0301 with the gateway's wording and request_id; return the detail after the prefix."""
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error_code"] == "APIGW.0301", body
    assert body["error_msg"].startswith(PREFIX), body
    assert REQUEST_ID.fullmatch(response.headers["X-Request-Id"])
    assert body["request_id"] == response.headers["X-Request-Id"]
    said = body["error_msg"].removeprefix(PREFIX)
    assert said, body
    if detail is not None:
        assert detail in said, body
    return str(said)


def test_a_request_signed_by_the_official_sdk_is_accepted(auth_emulator: EmulatorProcess) -> None:
    """The baseline: the SDK-signed request gets a 200, so each 401 below is the tampering's doing."""
    uri, headers = signed(auth_emulator)
    response = post(auth_emulator, uri, headers)
    assert response.status_code == 200, response.text
    uri, headers = signed(auth_emulator, query=[("b", "2"), ("a", "x y")])
    assert post(auth_emulator, uri, headers).status_code == 200


@pytest.mark.parametrize("minutes", [-16, 16], ids=["16-minutes-old", "16-minutes-ahead"])
def test_a_replay_outside_the_15_minute_window_is_refused(auth_emulator: EmulatorProcess, minutes: int) -> None:
    """A correctly signed request whose X-Sdk-Date is 16 minutes old or ahead gets 401 "signature expired"."""
    uri, headers = signed(auth_emulator, date=sdk_date(datetime.timedelta(minutes=minutes)))
    assert_gateway_401(post(auth_emulator, uri, headers), "signature expired")


@pytest.mark.parametrize("minutes", [-14, 14])
def test_a_date_inside_the_window_is_accepted(auth_emulator: EmulatorProcess, minutes: int) -> None:
    """14 minutes of clock skew either way is still accepted: the window is 15 minutes, not "now"."""
    uri, headers = signed(auth_emulator, date=sdk_date(datetime.timedelta(minutes=minutes)))
    assert post(auth_emulator, uri, headers).status_code == 200


def test_a_request_replayed_verbatim_within_the_window_is_accepted_again(auth_emulator: EmulatorProcess) -> None:
    """Like the gateway (no nonce), the same signed request replayed within 15 minutes is stored again."""
    uri, headers = signed(auth_emulator, body=json.dumps({"topic": "orders", "body": "replayed"}).encode())
    body = json.dumps({"topic": "orders", "body": "replayed"}).encode()
    first, second = post(auth_emulator, uri, headers, body), post(auth_emulator, uri, headers, body)
    assert first.status_code == second.status_code == 200
    assert first.json()["msg_id"] != second.json()["msg_id"]


def test_a_body_changed_after_signing_is_refused(auth_emulator: EmulatorProcess) -> None:
    """The body is hashed into the signature: changing one character gets 401 "verify aksk signature fail"."""
    uri, headers = signed(auth_emulator)
    tampered = BODY.replace(b"signed", b"signer")
    assert_gateway_401(post(auth_emulator, uri, headers, tampered), "verify aksk signature fail")


def test_a_path_changed_after_signing_is_refused(auth_emulator: EmulatorProcess) -> None:
    """Sending the signature to another valid path (the `reliability` engine alias) gets 401."""
    uri, headers = signed(auth_emulator)
    other = uri.replace("/v2/rocketmq/", "/v2/reliability/")
    assert post(auth_emulator, other, {**signed(auth_emulator, path=other)[1]}).status_code == 200
    assert_gateway_401(post(auth_emulator, other, headers), "verify aksk signature fail")


@pytest.mark.parametrize(
    ("signed_query", "sent_query"),
    [([("a", "1")], "?a=2"), ([], "?a=1"), ([("a", "1")], ""), ([("a", "1"), ("b", "2")], "?a=1")],
    ids=["value-changed", "added", "removed", "one-dropped"],
)
def test_a_query_changed_after_signing_is_refused(
    auth_emulator: EmulatorProcess, signed_query: list[tuple[str, str]], sent_query: str
) -> None:
    """The canonical query is signed: changing, adding or removing a parameter gets 401."""
    _, headers = signed(auth_emulator, query=signed_query)
    assert_gateway_401(post(auth_emulator, PATH + sent_query, headers), "verify aksk signature fail")


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Project-Id", "ffffffffffffffffffffffffffffffff"),
        ("Content-Type", "application/json;charset=UTF-8"),
        ("Host", "dms.cn-north-4.myhuaweicloud.com"),
    ],
)
def test_a_signed_header_changed_after_signing_is_refused(
    auth_emulator: EmulatorProcess, header: str, value: str
) -> None:
    """Every signed header is in the signature: changing X-Project-Id, Content-Type or Host afterwards gets 401."""
    uri, headers = signed(auth_emulator)
    assert "x-project-id" in headers["Authorization"]
    assert_gateway_401(post(auth_emulator, uri, {**headers, header: value}), "verify aksk signature fail")


def test_an_unsigned_x_sdk_content_sha256_cannot_vouch_for_a_swapped_body(auth_emulator: EmulatorProcess) -> None:
    """An unsigned X-Sdk-Content-Sha256 added to a captured request cannot vouch for a swapped body: 401."""
    uri, headers = signed(auth_emulator)
    swapped = json.dumps({"topic": "orders", "body": "swapped-by-an-attacker"}).encode()
    for declared in (hashlib.sha256(BODY).hexdigest(), "UNSIGNED-PAYLOAD"):
        forged = {**headers, "X-Sdk-Content-Sha256": declared}
        assert_gateway_401(post(auth_emulator, uri, forged, swapped), "verify aksk signature fail")


def test_a_signed_payload_hash_must_match_the_body(auth_emulator: EmulatorProcess) -> None:
    """A signed hex X-Sdk-Content-Sha256 must be the hash of the body sent with it, else 401."""
    declared = hashlib.sha256(BODY).hexdigest()
    uri, headers = signed(auth_emulator, extra_headers={"X-Sdk-Content-Sha256": declared})
    assert "x-sdk-content-sha256" in headers["Authorization"]
    assert post(auth_emulator, uri, headers).status_code == 200
    swapped = json.dumps({"topic": "orders", "body": "swapped-under-a-signed-hash"}).encode()
    assert_gateway_401(post(auth_emulator, uri, headers, swapped))


def test_an_unknown_ak_is_refused_and_named(auth_emulator: EmulatorProcess) -> None:
    """A valid signature made with an AK the emulator does not know gets 401 "ak <AK> not exist"."""
    uri, headers = signed(auth_emulator, ak="UNKNOWNAK00000000001", sk=SK)
    assert_gateway_401(post(auth_emulator, uri, headers), "ak UNKNOWNAK00000000001 not exist")


def test_the_right_ak_with_the_wrong_sk_is_refused(auth_emulator: EmulatorProcess) -> None:
    """A signature made with the wrong SK gets 401 "verify aksk signature fail"."""
    uri, headers = signed(auth_emulator, sk=SK + "x")
    assert_gateway_401(post(auth_emulator, uri, headers), "verify aksk signature fail")


def test_a_missing_authorization_is_refused(auth_emulator: EmulatorProcess) -> None:
    """A request with neither Authorization nor X-Auth-Token gets 401 APIGW.0301."""
    uri, headers = signed(auth_emulator)
    del headers["Authorization"]
    assert_gateway_401(post(auth_emulator, uri, headers))


def test_a_missing_x_sdk_date_is_refused(auth_emulator: EmulatorProcess) -> None:
    """A signed request whose X-Sdk-Date header is removed gets 401 (the signed date is missing)."""
    uri, headers = signed(auth_emulator)
    del headers["X-Sdk-Date"]
    assert_gateway_401(post(auth_emulator, uri, headers), "x-sdk-date")


def test_a_signature_that_does_not_cover_x_sdk_date_is_refused(auth_emulator: EmulatorProcess) -> None:
    """A signature whose SignedHeaders leave out x-sdk-date (so the date could be swapped) gets 401."""
    uri, headers = signed(auth_emulator)
    headers["Authorization"] = headers["Authorization"].replace(";x-sdk-date", "")
    assert_gateway_401(post(auth_emulator, uri, headers), "x-sdk-date")


def test_a_signed_header_missing_from_the_request_is_refused(auth_emulator: EmulatorProcess) -> None:
    """Removing a header listed in SignedHeaders (X-Project-Id) gets 401, not a KeyError."""
    uri, headers = signed(auth_emulator)
    del headers["X-Project-Id"]
    assert_gateway_401(post(auth_emulator, uri, headers))


MALFORMED_AUTHORIZATIONS = {
    "empty": "",
    "algorithm only": "SDK-HMAC-SHA256",
    "basic auth": "Basic dXNlcjpwYXNz",
    "other algorithm": "SDK-HMAC-SM3 Access=A, SignedHeaders=x-sdk-date, Signature=00",
    "no signature": f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;x-sdk-date",
    "empty fields": "SDK-HMAC-SHA256 Access=, SignedHeaders=, Signature=",
    "no separators": f"SDK-HMAC-SHA256 Access={AK} SignedHeaders=host Signature=abc",
    "garbage": "SDK-HMAC-SHA256 ,,,===,,,",
    "non-hex signature": f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;x-sdk-date, Signature=zz",
    "non-ascii": f"SDK-HMAC-SHA256 Access=\u00e9\u00e8, SignedHeaders=host;x-sdk-date, Signature={'a' * 64}",
    "long": f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders={'h;' * 2000}x-sdk-date, Signature={'a' * 64}",
    "signed names odd": f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=;;x-sdk-date;;Host, Signature={'a' * 64}",
}


@pytest.mark.parametrize("authorization", MALFORMED_AUTHORIZATIONS.values(), ids=MALFORMED_AUTHORIZATIONS.keys())
def test_a_malformed_authorization_is_refused(auth_emulator: EmulatorProcess, authorization: str) -> None:
    """Any malformed Authorization value gets 401 APIGW.0301 with a detail, never a 400 or a 500."""
    uri, headers = signed(auth_emulator)
    headers["Authorization"] = authorization
    raw = {name: value.encode("utf-8") for name, value in headers.items()}  # bytes: httpx sends them as they are
    detail = assert_gateway_401(post(auth_emulator, uri, raw))  # type: ignore[arg-type]
    assert SK not in detail


header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=300
).map(str.strip)


@settings(max_examples=60)
@given(
    authorization=header_text
    | st.builds(
        "SDK-HMAC-SHA256 Access={}, SignedHeaders={}, Signature={}".format,
        header_text,
        header_text,
        header_text,
    ),
    date=st.none() | header_text | st.sampled_from(["99991231T235959Z", "00010101T000000Z", "20261301T000000Z"]),
)
def test_any_authorization_and_date_garbage_gets_a_gateway_401(
    auth_emulator: EmulatorProcess, authorization: str, date: str | None
) -> None:
    """Arbitrary Authorization and X-Sdk-Date values (any Latin-1 text, odd dates) get 401 APIGW.0301."""
    headers = [("Authorization", authorization), ("X-Project-Id", PROJECT_ID)]
    if date is not None:
        headers.append(("X-Sdk-Date", date))
    head = rawhttp.request_bytes(BODY, headers=[(name, value) for name, value in headers if value])
    reply = rawhttp.exchange(auth_emulator.url, head)
    body = rawhttp.assert_huawei_error(reply, 401)
    assert body["error_code"] == "APIGW.0301", body
    assert body["error_msg"].startswith(PREFIX), body


def test_a_wrong_token_is_refused_by_dms_and_the_right_one_accepted(auth_emulator: EmulatorProcess) -> None:
    """X-Auth-Token: the configured token gets a 200, any other 401 DMS.10240101 "Invalid token."."""
    headers = {"Content-Type": "application/json", "X-Auth-Token": TOKEN}
    assert post(auth_emulator, PATH, headers).status_code == 200
    for wrong in (TOKEN[:-1], TOKEN + "x", "", "not-a-token", "x" * 5000):
        response = post(auth_emulator, PATH, {**headers, "X-Auth-Token": wrong})
        assert response.status_code == 401, (wrong[:20], response.text)
        assert response.json()["error_code"] in ("DMS.10240101", "APIGW.0301"), response.text


def test_a_forged_signature_never_stores_anything(auth_emulator: EmulatorProcess) -> None:
    """After a run of refused requests, none of their bodies was stored."""
    marker = b'{"topic":"orders","body":"forged-must-not-store"}'
    uri, headers = signed(auth_emulator, sk="not-the-sk")
    assert_gateway_401(post(auth_emulator, uri, headers, marker))
    uri, headers = signed(auth_emulator, date=sdk_date(datetime.timedelta(minutes=-30)), body=marker)
    assert_gateway_401(post(auth_emulator, uri, headers, marker))
    with httpx.Client(base_url=auth_emulator.url) as client:
        stored = client.get("/_emulator/messages", params={"topic": "orders", "limit": 1000}).json()["messages"]
    assert all(message["body"] != "forged-must-not-store" for message in stored)


# --- constant-time comparison ------------------------------------------------------------------------------


def test_the_verifier_compares_signatures_and_tokens_with_hmac_compare_digest() -> None:
    """The emulator's signature and token checks call hmac.compare_digest and never compare a secret with ==."""
    from dms_rocketmq_emulator import _auth

    for method in (_auth.Authenticator._check_signature, _auth.Authenticator._check_token):
        tree = ast.parse(textwrap.dedent(inspect.getsource(method)))
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "compare_digest"
        ]
        assert calls, f"{method.__qualname__} does not call hmac.compare_digest"
        secret_names = {"given", "expected", "token", "known", "signature", "sk"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
                assert not names & secret_names, f"{method.__qualname__} compares {names & secret_names} with =="


def test_every_signature_check_goes_through_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both a right and a forged signature are compared with hmac.compare_digest; only the right one passes."""
    from dms_rocketmq_emulator import _auth, _exceptions
    from dms_rocketmq_emulator._config import Credential

    compared: list[tuple[Any, Any]] = []

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return hmac.compare_digest(a, b)

    class HmacWithSpy:
        compare_digest = staticmethod(spy)

        def __getattr__(self, name: str) -> Any:
            return getattr(hmac, name)

    monkeypatch.setattr(_auth, "hmac", HmacWithSpy())
    authenticator = _auth.Authenticator([Credential(AK, SK)], [])
    emulator = types.SimpleNamespace(url="http://127.0.0.1:8765")
    uri, headers = signed(emulator)  # type: ignore[arg-type]
    lower = {name.lower(): value for name, value in headers.items()}
    authenticator.check("POST", uri, "", lower, BODY)
    good_signature = headers["Authorization"].rsplit("Signature=", 1)[1]
    assert len(compared) == 1
    assert good_signature.encode() in compared[0]

    forged = {**lower, "authorization": lower["authorization"].replace(good_signature, "0" * 64)}
    with pytest.raises(_exceptions.DMSError) as refused:
        authenticator.check("POST", uri, "", forged, BODY)
    assert refused.value.status == 401
    assert len(compared) == 2
    assert b"0" * 64 in compared[1]
