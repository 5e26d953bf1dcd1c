"""Authentication over real HTTP: AK/SK signatures (signed by Huawei's SDK signer), tokens, and 401s."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from dms_rocketmq_api.spec_rules import ENGINES, operation_path
from dms_rocketmq_emulator.pytest_plugin import EmulatorProcess, start_emulator
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

pytestmark = pytest.mark.integration

DOCUMENT = {"topic": "orders", "body": "signed"}


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    process = start_emulator(memory=True, auth=True)
    try:
        yield process
    finally:
        process.close()


@pytest.fixture
def client(emulator: EmulatorProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, timeout=10) as http:
        yield http


def _path(emulator: EmulatorProcess) -> str:
    return urlsplit(emulator.messages_url).path


def sdk_signed_headers(
    url: str,
    path: str,
    body: bytes,
    ak: str,
    sk: str,
    *,
    date: datetime.datetime | None = None,
    query: list[tuple[str, Any]] | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """Headers signed by Huawei's own SDK signer (independent of the emulator's verifier)."""
    headers = {"Content-Type": "application/json;charset=UTF-8", "X-Project-Id": "p", **(extra or {})}
    if date is not None:
        headers["X-Sdk-Date"] = date.strftime("%Y%m%dT%H%M%SZ")
    request = SdkRequest(
        method="POST",
        schema="http",
        host=urlsplit(url).netloc,
        resource_path=path,
        query_params=query or [],
        header_params=headers,
        body=body,
    )
    signed = Signer(BasicCredentials(ak, sk)).sign(request)
    return dict(signed.header_params)


def _post(
    client: httpx.Client, emulator: EmulatorProcess, headers: dict[str, str], body: bytes, path: str | None = None
) -> httpx.Response:
    return client.post(path or _path(emulator), content=body, headers=headers)


def _unauthorized(response: httpx.Response, code: str = "APIGW.0301") -> str:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error_code"] == code
    if code == "APIGW.0301":
        assert body["request_id"] == response.headers["x-request-id"]
    return str(body["error_msg"])


def test_sdk_signed_request_is_accepted(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """A request signed with the official SDK's signer and a configured AK/SK is stored."""
    body = json.dumps(DOCUMENT).encode()
    headers = sdk_signed_headers(emulator.url, _path(emulator), body, emulator.ak or "", emulator.sk or "")
    response = _post(client, emulator, headers, body)
    assert response.status_code == 200, response.text
    assert response.json()["body"] == "signed"


def test_signed_request_with_query_and_percent_encoded_path_is_accepted(
    client: httpx.Client, emulator: EmulatorProcess
) -> None:
    """Canonical query (sorted, re-encoded) and URI (decoded, re-encoded) match the SDK's."""
    body = json.dumps(DOCUMENT).encode()
    query = [("z", "last value"), ("a", "x~y*z")]
    headers = sdk_signed_headers(emulator.url, _path(emulator), body, emulator.ak or "", emulator.sk or "", query=query)
    response = client.post(_path(emulator) + "?z=last%20value&a=x~y%2Az", content=body, headers=headers)
    assert response.status_code == 200, response.text


def test_unsigned_payload_content_type_is_accepted(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """With a non-JSON Content-Type the SDK signs UNSIGNED-PAYLOAD, and the emulator honours it."""
    body = json.dumps(DOCUMENT).encode()
    headers = sdk_signed_headers(
        emulator.url, _path(emulator), body, emulator.ak or "", emulator.sk or "", extra={"Content-Type": "text/plain"}
    )
    assert headers["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    assert _post(client, emulator, headers, body).status_code == 200


def test_wrong_sk_is_verify_aksk_signature_fail(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """A signature made with another SK gets 401 APIGW.0301 "verify aksk signature fail"."""
    body = json.dumps(DOCUMENT).encode()
    headers = sdk_signed_headers(emulator.url, _path(emulator), body, emulator.ak or "", "wrong-secret")
    message = _unauthorized(_post(client, emulator, headers, body))
    assert message == "Incorrect IAM authentication information: verify aksk signature fail"


def test_tampered_body_fails_the_signature(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """Changing the body after signing breaks the payload hash: 401, nothing stored."""
    before = len(emulator.messages())
    body = json.dumps(DOCUMENT).encode()
    headers = sdk_signed_headers(emulator.url, _path(emulator), body, emulator.ak or "", emulator.sk or "")
    tampered = json.dumps({**DOCUMENT, "body": "tampered"}).encode()
    assert "verify aksk signature fail" in _unauthorized(_post(client, emulator, headers, tampered))
    assert len(emulator.messages()) == before


def test_unknown_ak_says_ak_not_exist(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """An AK the emulator does not know gets "ak <AK> not exist"."""
    body = json.dumps(DOCUMENT).encode()
    headers = sdk_signed_headers(emulator.url, _path(emulator), body, "UNKNOWNAK123", "whatever")
    assert _unauthorized(_post(client, emulator, headers, body)).endswith("ak UNKNOWNAK123 not exist")


@pytest.mark.parametrize("minutes", [-16, 16])
def test_date_over_15_minutes_away_is_signature_expired(
    client: httpx.Client, emulator: EmulatorProcess, minutes: int
) -> None:
    """An X-Sdk-Date more than 15 minutes from the emulator's clock, either way, is refused as expired."""
    date = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(minutes=minutes)
    body = json.dumps(DOCUMENT).encode()
    headers = sdk_signed_headers(emulator.url, _path(emulator), body, emulator.ak or "", emulator.sk or "", date=date)
    message = _unauthorized(_post(client, emulator, headers, body))
    assert "signature expired" in message
    assert date.strftime("%Y%m%dT%H%M%SZ") in message


def test_date_14_minutes_old_is_accepted(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """An X-Sdk-Date within 15 minutes of the emulator's clock is accepted."""
    date = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=14)
    body = json.dumps(DOCUMENT).encode()
    headers = sdk_signed_headers(emulator.url, _path(emulator), body, emulator.ak or "", emulator.sk or "", date=date)
    assert _post(client, emulator, headers, body).status_code == 200


def test_missing_credentials_is_401_saying_so(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """Neither Authorization nor X-Auth-Token: 401 APIGW.0301 naming both headers."""
    message = _unauthorized(client.post(_path(emulator), json=DOCUMENT))
    assert "neither an Authorization nor an X-Auth-Token header" in message


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        ("Bearer abc", "unsupported signing algorithm 'Bearer'"),
        ("SDK-HMAC-SHA256 Access=AK", "no SignedHeaders, Signature"),
        ("SDK-HMAC-SHA256 garbage", "no Access, SignedHeaders, Signature"),
    ],
)
def test_malformed_authorization_header_is_401(
    client: httpx.Client, emulator: EmulatorProcess, authorization: str, detail: str
) -> None:
    """A malformed Authorization header gets 401 APIGW.0301 saying what is missing."""
    assert detail in _unauthorized(
        client.post(_path(emulator), json=DOCUMENT, headers={"Authorization": authorization})
    )


def test_unsigned_or_missing_x_sdk_date_is_401(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """x-sdk-date must be signed and present."""
    body = json.dumps(DOCUMENT).encode()
    headers = sdk_signed_headers(emulator.url, _path(emulator), body, emulator.ak or "", emulator.sk or "")
    without_date = dict(headers)
    del without_date["X-Sdk-Date"]
    assert "'x-sdk-date' is missing" in _unauthorized(_post(client, emulator, without_date, body))
    unsigned = dict(headers)
    unsigned["Authorization"] = re.sub(
        r"SignedHeaders=[^,]*", "SignedHeaders=content-type;host", headers["Authorization"]
    )
    assert "x-sdk-date must be one of the SignedHeaders" in _unauthorized(_post(client, emulator, unsigned, body))


def test_malformed_date_is_401(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """An X-Sdk-Date not in YYYYMMDDTHHMMSSZ gets 401 saying so."""
    body = json.dumps(DOCUMENT).encode()
    headers = sdk_signed_headers(emulator.url, _path(emulator), body, emulator.ak or "", emulator.sk or "")
    headers["X-Sdk-Date"] = "yesterday"
    assert "X-Sdk-Date is not formatted" in _unauthorized(_post(client, emulator, headers, body))


def test_token_is_accepted_and_wrong_token_is_dms_10240101(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """A configured X-Auth-Token passes; another one gets 401 DMS.10240101 "Invalid token."."""
    ok = client.post(_path(emulator), json=DOCUMENT, headers={"X-Auth-Token": emulator.token or ""})
    assert ok.status_code == 200, ok.text
    bad = client.post(_path(emulator), json=DOCUMENT, headers={"X-Auth-Token": "not-a-token"})
    assert _unauthorized(bad, "DMS.10240101") == "Invalid token."


def test_secrets_never_appear_in_error_bodies_or_logs(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """Failed attempts carrying the real SK's signature or a token never echo the SK or a token."""
    body = json.dumps(DOCUMENT).encode()
    headers = sdk_signed_headers(emulator.url, _path(emulator), body, emulator.ak or "", emulator.sk or "")
    texts = [
        _post(client, emulator, headers, body + b" ").text,
        client.post(_path(emulator), json=DOCUMENT, headers={"X-Auth-Token": (emulator.token or "") + "x"}).text,
    ]
    texts.append(emulator.log_path.read_text())
    for text in texts:
        assert (emulator.sk or "?") not in text
        assert (emulator.token or "?") not in text


def test_auth_runs_before_instance_and_body_checks(client: httpx.Client, emulator: EmulatorProcess) -> None:
    """Like the gateway, a request without credentials gets 401 even to an unknown instance with a bad body."""
    unknown = "00000000-0000-4000-8000-000000000000"
    path = operation_path("SendMessage", engine=ENGINES[0], project_id=emulator.project_id, instance_id=unknown)
    _unauthorized(client.post(path, content=b"{bad"))


def test_auth_off_accepts_any_request(dms_emulator_factory: Any) -> None:
    """With no credential and no token configured, an unsigned request is stored and the banner says auth is off."""
    emulator = dms_emulator_factory(auth=False)
    response = httpx.post(emulator.messages_url, json=DOCUMENT, timeout=10)
    assert response.status_code == 200
    assert "auth        OFF" in emulator.log_path.read_text()
