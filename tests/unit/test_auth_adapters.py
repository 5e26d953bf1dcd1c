"""The auth adapters a user plugs into httpx or requests: what each adds to a request, what it refuses, what
its repr shows; and every AK/SK-signed request is accepted by the emulator's own verifier (independent code),
in process (no sockets)."""

from __future__ import annotations

import datetime
import hashlib
import io
import logging
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import requests
from dms_rocketmq import AKSKAuth, TokenAuth, sign_request
from dms_rocketmq._auth import format_date
from dms_rocketmq.auth_requests import AKSKAuth as RequestsAKSKAuth
from dms_rocketmq.auth_requests import TokenAuth as RequestsTokenAuth
from dms_rocketmq_emulator._auth import Authenticator, parse_authorization
from dms_rocketmq_emulator._config import Credential

AK, SK = "AKADAPTER01", "adapter-secret"
URL = "http://127.0.0.1:8765/v2/rocketmq/p/instances/i/messages"
BODY = b'{"topic":"orders","body":"x"}'


def _verify(method: str, url: str, headers: Any, body: bytes | None) -> list[str]:
    """Check a request as the emulator would, at the time of its X-Sdk-Date; the names it signed."""
    lowered = {str(name).lower(): str(value) for name, value in headers.items()}
    parts = urlsplit(url)
    lowered.setdefault("host", parts.netloc)
    signed_at = datetime.datetime.strptime(lowered["x-sdk-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)

    class Clock(datetime.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return signed_at

    verifier = Authenticator([Credential(AK, SK)], [], clock=Clock)
    verifier.check(method, parts.path, parts.query, lowered, body or b"")
    return parse_authorization(lowered["authorization"])[1]


def _prepared(method: str = "POST", body: Any = BODY, **headers: str) -> requests.PreparedRequest:
    return requests.Request(method, URL, headers=headers, data=body).prepare()


# -- requests: AKSKAuth ----------------------------------------------------------------------------------------


def test_requests_signature_passes_the_verifier_with_every_option() -> None:
    """Project id and security token are added and signed; the verifier accepts the result."""
    prepared = RequestsAKSKAuth(AK, SK, "sec-token", project_id="proj")(
        _prepared(**{"Content-Type": "application/json"})
    )
    assert prepared.headers["X-Project-Id"] == "proj"
    assert prepared.headers["X-Security-Token"] == "sec-token"
    signed = _verify("POST", URL, prepared.headers, BODY)
    assert {"x-project-id", "x-security-token", "x-sdk-date", "host", "content-type"} <= set(signed)
    assert "authorization" not in signed


def test_requests_keeps_the_callers_project_id_and_date() -> None:
    """An X-Project-Id or X-Sdk-Date the caller set is signed as given, not replaced."""
    prepared = RequestsAKSKAuth(AK, SK, project_id="proj")(
        _prepared(**{"X-Project-Id": "mine", "X-Sdk-Date": "20261126T093000Z"})
    )
    assert prepared.headers["X-Project-Id"] == "mine"
    assert prepared.headers["X-Sdk-Date"] == "20261126T093000Z"
    assert "X-Security-Token" not in prepared.headers
    _verify("POST", URL, prepared.headers, BODY)


def test_requests_without_project_id_adds_none() -> None:
    """Without project_id no X-Project-Id is invented."""
    prepared = RequestsAKSKAuth(AK, SK)(_prepared())
    assert "X-Project-Id" not in prepared.headers
    _verify("POST", URL, prepared.headers, BODY)


def test_requests_signs_again_over_no_stale_signature() -> None:
    """Signing a request twice (a redirect or a retry) drops the old Authorization instead of signing it."""
    auth = RequestsAKSKAuth(AK, SK)
    prepared = auth(_prepared(**{"X-Sdk-Date": "20261126T093000Z"}))
    first = prepared.headers["Authorization"]
    prepared.body = b'{"topic":"orders","body":"y"}'
    auth(prepared)
    assert prepared.headers["Authorization"] != first
    assert "authorization" not in _verify("POST", URL, prepared.headers, prepared.body)


def test_requests_text_body_and_no_body() -> None:
    """A str body signs as its UTF-8 bytes; a GET without body signs the empty body."""
    as_text = RequestsAKSKAuth(AK, SK)(_prepared(body="é", **{"X-Sdk-Date": "20261126T093000Z"}))
    _verify("POST", URL, as_text.headers, "é".encode())
    get = RequestsAKSKAuth(AK, SK)(_prepared("GET", None))
    _verify("GET", URL, get.headers, None)


def test_requests_refuses_a_stream_body() -> None:
    """A file or generator body cannot be hashed up front: TypeError saying what is signed."""
    prepared = _prepared()
    prepared.body = io.BytesIO(b"x")  # type: ignore[assignment]
    with pytest.raises(TypeError, match=r"^AKSKAuth signs bodies given as bytes or str, not streams or files$"):
        RequestsAKSKAuth(AK, SK)(prepared)


def test_requests_without_a_method_signs_a_get() -> None:
    """A request prepared without a method (requests leaves it None) is signed as the GET it defaults to."""
    prepared = RequestsAKSKAuth(AK, SK)(requests.Request(url=URL).prepare())
    assert prepared.method is None
    _verify("GET", URL, prepared.headers, None)


def _answered(prepared: requests.PreparedRequest) -> requests.Response:
    """The response hooks run as requests runs them once an answer arrives (no socket)."""
    response = requests.Response()
    response.request = prepared
    return requests.hooks.dispatch_hook("response", prepared.hooks, response)


def test_requests_adapters_mask_sent_secrets_once_answered() -> None:
    """Once a response arrives, the request's security token or IAM token reads `[secure]`, whatever else it
    carries; a request signed without a security token keeps its headers as sent."""
    signed = RequestsAKSKAuth(AK, SK, "sec-token", project_id="proj")(_prepared())
    assert signed.headers["X-Security-Token"] == "sec-token"
    answered = _answered(signed).request.headers
    assert answered["X-Security-Token"] == "[secure]"
    assert answered["X-Project-Id"] == "proj"
    token = _answered(RequestsTokenAuth("tok", project_id="proj")(_prepared())).request.headers
    assert (token["X-Auth-Token"], token["X-Project-Id"]) == ("[secure]", "proj")
    plain = RequestsAKSKAuth(AK, SK)(_prepared(**{"X-Sdk-Date": "20261126T093000Z"}))
    _verify("POST", URL, _answered(plain).request.headers, BODY)


@pytest.mark.parametrize(("ak", "sk"), [("", "sk"), ("ak", ""), ("", "")])
def test_aksk_auth_needs_both_keys(ak: str, sk: str) -> None:
    """An empty AK or SK is refused when the auth is made, in both adapters."""
    for cls in (AKSKAuth, RequestsAKSKAuth):
        with pytest.raises(ValueError, match=r"^AKSKAuth needs a non-empty ak and sk$"):
            cls(ak, sk)


def test_reprs_show_no_secret() -> None:
    """The reprs name the AK and mask the SK, the security token and the IAM token."""
    assert repr(RequestsAKSKAuth("ak1", "sk1", "tok1")) == "AKSKAuth(ak='ak1', sk='***')"
    assert repr(AKSKAuth("ak1", "sk1", "tok1")) == "AKSKAuth(ak='ak1', sk='***', security_token=***)"
    assert repr(AKSKAuth("ak1", "sk1")) == "AKSKAuth(ak='ak1', sk='***', security_token=None)"
    assert repr(TokenAuth("tok1")) == "TokenAuth(token='***')"
    assert repr(RequestsTokenAuth("tok1")) == "TokenAuth(token='***')"


# -- token adapters ----------------------------------------------------------------------------------------------


def _httpx_token(auth: TokenAuth, **headers: str) -> httpx.Request:
    """The request as it goes on the wire (once answered, its credential headers may be masked)."""
    request = httpx.Request("POST", URL, headers=headers)
    flow = auth.auth_flow(request)
    assert next(flow) is request
    sent = httpx.Request("POST", URL, headers=request.headers)
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(200, request=request))
    return sent


def _requests_token(auth: RequestsTokenAuth, **headers: str) -> requests.PreparedRequest:
    return auth(_prepared(**headers))


def test_token_adapters_add_token_and_project_id() -> None:
    """X-Auth-Token always; X-Project-Id when given and the request has none; no Authorization."""
    for request in (
        _httpx_token(TokenAuth("tok", project_id="proj")),
        _requests_token(RequestsTokenAuth("tok", project_id="proj")),
    ):
        assert request.headers["X-Auth-Token"] == "tok"
        assert request.headers["X-Project-Id"] == "proj"
        assert "Authorization" not in request.headers


def test_token_adapters_keep_the_callers_project_id() -> None:
    """A request's own X-Project-Id (in any case) is kept; without project_id none is added."""
    for request in (
        _httpx_token(TokenAuth("tok", project_id="proj"), **{"x-PROJECT-id": "mine"}),
        _requests_token(RequestsTokenAuth("tok", project_id="proj"), **{"x-PROJECT-id": "mine"}),
    ):
        assert request.headers["X-Project-Id"] == "mine"
    for bare in (_httpx_token(TokenAuth("tok")), _requests_token(RequestsTokenAuth("tok"))):
        assert "X-Project-Id" not in bare.headers


def test_token_adapters_need_a_token() -> None:
    """An empty token is refused when the auth is made."""
    for cls in (TokenAuth, RequestsTokenAuth):
        with pytest.raises(ValueError, match=r"^TokenAuth needs a non-empty token$"):
            cls("")


# -- httpx: AKSKAuth ----------------------------------------------------------------------------------------------


def test_httpx_signature_passes_the_verifier_with_every_option() -> None:
    """The httpx adapter's project id and security token are added, signed and accepted by the verifier."""
    request = httpx.Request("POST", URL, content=BODY, headers={"Content-Type": "application/json"})
    AKSKAuth(AK, SK, "sec-token", project_id="proj").sign(request)
    assert request.headers["X-Project-Id"] == "proj"
    assert request.headers["X-Security-Token"] == "sec-token"
    signed = _verify("POST", URL, request.headers, BODY)
    assert {"x-project-id", "x-security-token", "x-sdk-date", "host", "content-type"} <= set(signed)


def test_httpx_signer_cache_is_per_method_and_url() -> None:
    """A GET then a POST (and another URL) through one auth are each signed for themselves."""
    auth = AKSKAuth(AK, SK, project_id="proj")
    for method, url, body in [
        ("GET", URL, b""),
        ("POST", URL, BODY),
        ("POST", URL + "/x", BODY),
        ("GET", URL, b""),
        ("POST", URL, BODY),
    ]:
        request = httpx.Request(method, url, content=body)
        auth.sign(request)
        _verify(method, url, request.headers, body)


def test_format_date(monkeypatch: pytest.MonkeyPatch) -> None:
    """X-Sdk-Date is YYYYMMDDTHHMMSSZ in UTC: an aware time is converted, a naive one taken as UTC, and the
    default is the clock's now (a frozen clock: the machine's may step between two readings)."""
    moment = datetime.datetime(2026, 11, 26, 17, 30, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=8)))
    assert format_date(moment) == "20261126T093005Z"
    assert format_date(datetime.datetime(2026, 1, 2, 3, 4, 5)) == "20260102T030405Z"
    frozen = datetime.datetime(2026, 12, 7, 15, 11, 45, tzinfo=datetime.UTC).timestamp()
    monkeypatch.setattr(time, "time", lambda: frozen + 0.999)
    assert format_date() == "20261207T151145Z"


def test_requests_adapter_without_requests_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the requests package the adapter module's base class lookup names the package to install."""
    from dms_rocketmq import auth_requests

    monkeypatch.setitem(sys.modules, "requests.auth", None)
    with pytest.raises(ImportError) as caught:
        auth_requests._auth_base()
    assert str(caught.value) == "dms_rocketmq.auth_requests needs the `requests` package: pip install requests"


def test_debug_log_masks_credentials_even_with_a_colon(caplog: pytest.LogCaptureFixture) -> None:
    """The signer's DEBUG log of the canonical request shows signed headers but masks the security token."""
    with caplog.at_level(logging.DEBUG, logger="dms_rocketmq.auth"):
        RequestsAKSKAuth(AK, SK, "sec:tok:en", project_id="p r")(_prepared())
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "dms_rocketmq.auth")
    assert "x-security-token:***\n" in text
    assert "x-project-id:p r\n" in text
    assert "sec:tok" not in text
    assert SK not in text


# -- sign_request, the step under both adapters -----------------------------------------------------------------


def test_sign_request_needs_both_keys() -> None:
    """An empty AK or SK is refused before anything is signed."""
    with pytest.raises(ValueError, match=r"^sign_request needs a non-empty ak and sk$"):
        sign_request("POST", URL, {}, BODY, "", SK)


def test_sign_request_host_and_path_from_the_url() -> None:
    """Host comes from the URL without its user info; a URL without a path signs the path `/`."""
    added = sign_request("GET", "http://user:pw@h:81", {}, None, AK, SK, "20261126T093000Z")
    assert added["Host"] == "h:81"
    _verify("GET", "http://h:81/", added, None)


def test_sign_request_unsigned_payload_replaces_a_callers_hash() -> None:
    """For a non-JSON body the SDK sends UNSIGNED-PAYLOAD: a caller's own X-Sdk-Content-Sha256 is not signed."""
    caller = {
        "Content-Type": "text/plain",
        "X-Sdk-Content-Sha256": hashlib.sha256(BODY).hexdigest(),
        "X-Sdk-Date": "20261126T093000Z",
    }
    added = sign_request("POST", URL, caller, BODY, AK, SK)
    assert added["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    _verify("POST", URL, {**caller, **added}, BODY)


def test_httpx_keeps_the_callers_project_id() -> None:
    """The httpx adapter does not replace an X-Project-Id the request already has."""
    request = httpx.Request("POST", URL, content=BODY, headers={"x-project-id": "mine"})
    AKSKAuth(AK, SK, project_id="proj").sign(request)
    assert request.headers["X-Project-Id"] == "mine"
    _verify("POST", URL, request.headers, BODY)


def test_httpx_signs_what_it_adds() -> None:
    """An X-Project-Id the adapter adds is signed too, with or without a security token."""
    request = httpx.Request("POST", URL, content=BODY)
    AKSKAuth(AK, SK, project_id="proj").sign(request)
    assert "x-project-id" in _verify("POST", URL, request.headers, BODY)


def test_httpx_keeps_a_callers_security_token_when_it_has_none() -> None:
    """Without a configured security token, one the request carries is left as it is and signed."""
    request = httpx.Request("POST", URL, content=BODY, headers={"X-Security-Token": "callers"})
    AKSKAuth(AK, SK).sign(request)
    assert request.headers["X-Security-Token"] == "callers"
    assert "x-security-token" in _verify("POST", URL, request.headers, BODY)


def test_httpx_sends_a_non_json_body_unsigned_as_the_sdk_does() -> None:
    """A body that is not JSON gets X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD, as Huawei's SDK sends it."""
    request = httpx.Request("POST", URL, content=b"plain", headers={"Content-Type": "text/plain"})
    AKSKAuth(AK, SK).sign(request)
    assert request.headers["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    _verify("POST", URL, request.headers, b"plain")


def test_the_date_signed_is_utc_whatever_the_local_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the local time zone is not UTC (here UTC+8), every adapter still signs the current UTC time."""
    monkeypatch.setenv("TZ", "XYZ-8")
    time.tzset()
    try:
        request = httpx.Request("POST", URL, content=BODY)
        before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        AKSKAuth(AK, SK).sign(request)
        prepared = RequestsAKSKAuth(AK, SK)(_prepared())
        for headers in (request.headers, prepared.headers):
            signed = datetime.datetime.strptime(headers["X-Sdk-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
            assert before <= signed <= before + datetime.timedelta(seconds=2)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_httpx_replaces_a_callers_payload_hash_for_a_non_json_body() -> None:
    """A caller's own X-Sdk-Content-Sha256 on a non-JSON body (a hash, or UNSIGNED-PAYLOAD in another case)
    is sent as UNSIGNED-PAYLOAD, as the SDK sends it, and the verifier accepts the result."""
    for given in (hashlib.sha256(b"plain").hexdigest(), "unsigned-payload"):
        request = httpx.Request(
            "POST", URL, content=b"plain", headers={"Content-Type": "text/plain", "X-Sdk-Content-Sha256": given}
        )
        AKSKAuth(AK, SK).sign(request)
        assert request.headers["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
        _verify("POST", URL, request.headers, b"plain")
