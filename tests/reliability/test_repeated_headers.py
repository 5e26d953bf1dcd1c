"""One rule for repeated credentials: a header of the spec's `x-single-headers` given twice is refused, as a
repeated query parameter is; any other header counts with its last value, as Huawei's signer signs it.

Raw sockets against an emulator with authentication on; requests signed by Huawei's official SDK signer.
"""

from __future__ import annotations

import json
import types

import pytest
import rawhttp
from dms_rocketmq_api.spec_rules import SINGLE_HEADERS
from emulators import AK, PROJECT_ID, SK, TOKEN, EmulatorProcess
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BODY = json.dumps({"topic": "orders", "body": "repeated-headers"}).encode()


def sdk_signed_headers(emulator: EmulatorProcess, extra: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The headers of a send signed by the official SDK (Host included), in the order it sets them."""
    host = emulator.url.removeprefix("http://")
    request = SdkRequest(
        method="POST",
        schema="http",
        host=host,
        resource_path=rawhttp.SEND_PATH,
        query_params=[],
        header_params={"Content-Type": "application/json", "X-Project-Id": PROJECT_ID, **(extra or {})},
        body=BODY,
    )
    Signer(types.SimpleNamespace(ak=AK, sk=SK)).sign(request)
    return list(request.header_params.items())


def send(emulator: EmulatorProcess, headers: list[tuple[str, str]]) -> rawhttp.Reply | None:
    """POST the body with exactly `headers` (and Content-Length, Connection: close) on a raw socket."""
    lines = [f"POST {rawhttp.SEND_PATH} HTTP/1.1", "Connection: close", f"Content-Length: {len(BODY)}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return rawhttp.exchange(emulator.url, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + BODY)


def with_host(emulator: EmulatorProcess, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if any(name.lower() == "host" for name, _ in headers):
        return headers
    return [("Host", emulator.url.removeprefix("http://")), *headers]


def assert_repeat_refused(reply: rawhttp.Reply | None, header: str) -> None:
    body = rawhttp.assert_huawei_error(reply, 400)
    assert body["error_code"] == "APIGW.0201", body
    assert header in body["error_msg"], body


def test_the_signed_request_and_the_token_alone_are_accepted(auth_emulator: EmulatorProcess) -> None:
    """The requests below differ from these only by the repeated header."""
    reply = send(auth_emulator, with_host(auth_emulator, sdk_signed_headers(auth_emulator)))
    assert reply is not None
    assert reply.status == 200, reply.body
    reply = send(
        auth_emulator, with_host(auth_emulator, [("Content-Type", "application/json"), ("X-Auth-Token", TOKEN)])
    )
    assert reply is not None
    assert reply.status == 200, reply.body


@pytest.mark.parametrize("order", ["invalid-then-valid", "valid-then-invalid", "valid-twice"])
def test_two_tokens_are_refused(auth_emulator: EmulatorProcess, order: str) -> None:
    """Two X-Auth-Token headers, whichever comes first and even when equal, get 400: neither is taken."""
    tokens = {"invalid-then-valid": ["nope", TOKEN], "valid-then-invalid": [TOKEN, "nope"], "valid-twice": [TOKEN] * 2}
    headers = [("Content-Type", "application/json"), *(("X-Auth-Token", token) for token in tokens[order])]
    assert_repeat_refused(send(auth_emulator, with_host(auth_emulator, headers)), "x-auth-token")


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.sampled_from(sorted(SINGLE_HEADERS)),
    first=st.booleans(),
    same_value=st.booleans(),
    spelling=st.sampled_from([str.lower, str.upper, str.title]),
)
def test_any_credential_header_given_twice_is_refused(
    auth_emulator: EmulatorProcess, header: str, first: bool, same_value: bool, spelling: object
) -> None:
    """Each `x-single-headers` header repeated (before or after the signed one, same value or not, any spelling)
    on an otherwise valid signed request gets 400 naming it; never a 200 or a 401."""
    extra = {"X-Security-Token": "sts-token"} if header == "x-security-token" else None
    headers = with_host(auth_emulator, sdk_signed_headers(auth_emulator, extra))
    value = next((v for name, v in headers if name.lower() == header), None)
    if value is None:  # the SDK did not set it (X-Sdk-Content-Sha256 for a JSON body): a signed request may add it
        headers.append((header, "UNSIGNED-PAYLOAD"))
        value = "UNSIGNED-PAYLOAD"
    copy = (spelling(header), value if same_value else value + "x")  # type: ignore[operator]
    headers = [copy, *headers] if first else [*headers, copy]
    assert_repeat_refused(send(auth_emulator, headers), header)


def test_another_signed_header_given_twice_counts_with_its_last_value(auth_emulator: EmulatorProcess) -> None:
    """A header outside `x-single-headers`, signed by the SDK with the last of its two values, is accepted."""
    headers = with_host(auth_emulator, sdk_signed_headers(auth_emulator, {"X-Trace": "second"}))
    reply = send(auth_emulator, [("X-Trace", "first"), *headers])
    assert reply is not None
    assert reply.status == 200, reply.body
