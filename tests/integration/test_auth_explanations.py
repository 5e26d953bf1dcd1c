"""A 401 `APIGW.0301` says which likely causes fit, tested against the emulator's real gateway checks: a
clock off by more than 15 minutes (and by how much), an unknown AK, a wrong SK. The SK never shows."""

from __future__ import annotations

import asyncio
import datetime
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import dms_rocketmq as dms
import httpx
import pytest
from dms_rocketmq._auth import DATE_FORMAT
from dms_rocketmq._config import ENV
from dms_rocketmq._constants import USER_AGENT
from dms_rocketmq._exceptions import status_error_from_response
from dms_rocketmq_emulator.pytest_plugin import EmulatorProcess, start_emulator

pytestmark = pytest.mark.integration

WRONG_SK = "wrong-secret-key-never-shown"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    """An emulator with authentication on."""
    process = start_emulator(auth=True, topics=("orders",))
    try:
        yield process
    finally:
        process.close()


def _signed_at(emulator: EmulatorProcess, moment: datetime.datetime) -> httpx.Response:
    assert emulator.ak is not None
    assert emulator.sk is not None
    auth = dms.AKSKAuth(emulator.ak, emulator.sk, project_id=emulator.project_id)
    with httpx.Client(auth=auth) as client:
        return client.post(
            emulator.messages_url,
            json={"topic": "orders", "body": "x"},
            headers={"X-Sdk-Date": moment.strftime(DATE_FORMAT)},
        )


@pytest.mark.parametrize(("offset", "direction"), [(-2, "behind"), (3, "ahead of")])
def test_clock_skew_says_by_how_much(emulator: EmulatorProcess, offset: int, direction: str) -> None:
    """A request signed hours off the server's clock: the cause is clock skew, with the amount and direction."""
    response = _signed_at(emulator, datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=offset, minutes=1))
    assert response.status_code == 401
    assert "Date" in response.headers
    error = status_error_from_response(response)
    assert isinstance(error, dms.AuthenticationError)
    [cause] = error.likely_causes
    assert cause.startswith("clock skew")
    assert f"{abs(offset) - (1 if offset < 0 else 0)} h" in cause
    assert direction in cause
    assert "likely cause: clock skew" in str(error)
    # Without a Date header, the server time the gateway's message quotes serves as well.
    undated = httpx.Response(
        401,
        headers=[(k, v) for k, v in response.headers.multi_items() if k.lower() != "date"],
        content=response.content,
        request=response.request,
    )
    assert status_error_from_response(undated).likely_causes == error.likely_causes  # type: ignore[attr-defined]


def test_ten_minutes_off_is_not_blamed_on_the_clock(emulator: EmulatorProcess) -> None:
    """Within the gateway's 15 minutes the request passes: no cause is invented."""
    response = _signed_at(emulator, datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=10))
    assert response.status_code == 200


def _send_error(emulator: EmulatorProcess, *, asynchronous: bool, **credentials: str) -> dms.AuthenticationError:
    settings = {
        "endpoint": emulator.url,
        "project_id": emulator.project_id,
        "instance_id": emulator.instance_id,
        **credentials,
    }
    if asynchronous:

        async def run() -> dms.AuthenticationError:
            async with dms.AsyncClient(**settings) as client:
                with pytest.raises(dms.AuthenticationError) as caught:
                    await client.send("orders", "x")
            return caught.value

        return asyncio.run(run())
    with dms.Client(**settings) as client, pytest.raises(dms.AuthenticationError) as caught:
        client.send("orders", "x")
    return caught.value


@pytest.mark.parametrize("asynchronous", [False, True], ids=["Client", "AsyncClient"])
def test_unknown_ak(emulator: EmulatorProcess, asynchronous: bool) -> None:
    """An AK the service does not know: that cause alone, naming the AK and its variable."""
    error = _send_error(emulator, asynchronous=asynchronous, ak="NOSUCHAK", sk=WRONG_SK)
    assert error.error_code == "APIGW.0301"
    [cause] = error.likely_causes
    assert cause.startswith("unknown AK")
    assert "NOSUCHAK" in cause
    assert "HUAWEICLOUD_SDK_AK" in cause
    assert WRONG_SK not in str(error)


@pytest.mark.parametrize("asynchronous", [False, True], ids=["Client", "AsyncClient"])
def test_wrong_sk(emulator: EmulatorProcess, asynchronous: bool, caplog: pytest.LogCaptureFixture) -> None:
    """A wrong SK: a signature mismatch naming the AK, the SK's variable and the signed headers; the canonical
    request is on the error on request and in the DEBUG log, the SK in neither."""
    assert emulator.ak is not None
    with caplog.at_level(logging.DEBUG, logger="dms_rocketmq.auth"):
        error = _send_error(emulator, asynchronous=asynchronous, ak=emulator.ak, sk=WRONG_SK)
    [cause] = error.likely_causes
    assert cause.startswith("signature mismatch")
    assert emulator.ak in cause
    assert "HUAWEICLOUD_SDK_SK" in cause
    assert "x-sdk-date" in cause  # the signed headers
    canonical = error.canonical_request()
    assert canonical is not None
    path = urlsplit(emulator.messages_url).path + "/"  # the canonical URI ends with a slash
    assert canonical.startswith(f"POST\n{path}\n")
    assert "refused request's canonical request" in caplog.text
    for text in (str(error), canonical, caplog.text):
        assert WRONG_SK not in text


def test_cli_prints_the_likely_cause(emulator: EmulatorProcess) -> None:
    """`dms-rocketmq send` with a wrong SK prints the cause on stderr."""
    env = emulator.client_env(**{ENV["sk"]: WRONG_SK})
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dms-rocketmq"), "send", "--topic", "orders", "--body", "x"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "likely cause: signature mismatch" in done.stderr
    assert WRONG_SK not in done.stderr + done.stdout


def _sign(emulator: EmulatorProcess, *args: str, sk: str | None = None) -> subprocess.CompletedProcess[str]:
    env = emulator.client_env(**{ENV["sk"]: sk or str(emulator.sk)})
    return subprocess.run(
        [str(Path(sys.executable).parent / "dms-rocketmq"), "sign", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )


def _printed_headers(output: str) -> dict[str, str]:
    lines = output.split("headers to add:\n")[-1].splitlines()
    return dict(line.split(": ", 1) for line in lines if line)


def test_sign_prints_headers_the_gateway_accepts(emulator: EmulatorProcess) -> None:
    """The headers `dms-rocketmq sign` prints, added to the send Client makes, are accepted by the emulator."""
    body = '{"topic":"orders","body":"signed by the CLI"}'
    done = _sign(emulator, "--body", body)
    added = _printed_headers(done.stdout)
    assert set(added) == {"X-Sdk-Date", "Host", "Authorization"}
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    headers |= {"X-Project-Id": emulator.project_id, **added}
    answer = httpx.post(emulator.messages_url, content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert str(emulator.sk) not in done.stdout + done.stderr


def test_sign_explain_matches_the_refused_request(emulator: EmulatorProcess) -> None:
    """`sign --explain` of the request a wrong SK sent shows the canonical request the error shows, every
    step named, the security token masked, and never the SK."""
    assert emulator.ak is not None
    error = _send_error(emulator, asynchronous=False, ak=emulator.ak, sk=WRONG_SK)
    sent = error.response.request
    done = _sign(
        emulator,
        "--explain",
        "--body",
        sent.content.decode(),
        "--date",
        sent.headers["X-Sdk-Date"],
        sk=WRONG_SK,
    )
    assert f"canonical request:\n{error.canonical_request()}\n\nstring to sign:\nSDK-HMAC-SHA256\n" in done.stdout
    assert "SignedHeaders: content-type;host;user-agent;x-project-id;x-sdk-date\n" in done.stdout
    assert _printed_headers(done.stdout)["Authorization"] == sent.headers["Authorization"]
    assert WRONG_SK not in done.stdout + done.stderr
    token = "X-Security-Token: tok-secret"
    masked = _sign(emulator, "--explain", "--url", "http://h/p", "--header", token, sk=WRONG_SK)
    assert "x-security-token:***" in masked.stdout
    assert "tok-secret" not in masked.stdout


def test_expired_token_is_named(emulator: EmulatorProcess) -> None:
    """A token the gateway cannot decrypt (APIGW.0301 `decrypt token fail`) is named as a refused token."""
    response = httpx.Response(
        401,
        json={"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication information: decrypt token fail"},
        request=httpx.Request("POST", emulator.messages_url, headers={"X-Auth-Token": "expired-token-value"}),
    )
    error = status_error_from_response(response)
    assert isinstance(error, dms.AuthenticationError)
    [cause] = error.likely_causes
    assert cause.startswith("token refused")
    assert "DMS_ROCKETMQ_TOKEN" in cause
    assert "expired-token-value" not in str(error)
