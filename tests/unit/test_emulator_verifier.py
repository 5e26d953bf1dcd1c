"""The emulator's verifier in-process, at its edges: the exact 401 a caller sees for each way a signature or a
token can be wrong, the 15-minute clock boundary with an injected clock, and the Authorization forms the
gateway accepts. Huawei's SDK signer is the peer (no sockets)."""

from __future__ import annotations

import datetime
import hashlib
import logging
from typing import Any

import pytest
from dms_rocketmq_emulator._auth import (
    MAX_CLOCK_SKEW,
    Authenticator,
    canonical_headers,
    canonical_request,
    canonical_uri,
    parse_authorization,
    parse_sdk_date,
    payload_hash,
    signature,
    string_to_sign,
)
from dms_rocketmq_emulator._config import Credential
from dms_rocketmq_emulator._exceptions import DMSError
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

PATH = "/v2/rocketmq/0a1b2c3d4e5f60718293a4b5c6d7e8f9/instances/11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90/messages"
SIGNED_AT = datetime.datetime(2026, 11, 26, 9, 30, tzinfo=datetime.UTC)
BODY = b'{"topic":"orders","body":"x"}'
PREFIX = "Incorrect IAM authentication information: "


def _clock(now: datetime.datetime) -> type[datetime.datetime]:
    class Clock(datetime.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            assert tz is datetime.UTC
            return now

    return Clock


def _verifier(now: datetime.datetime = SIGNED_AT) -> Authenticator:
    return Authenticator(
        [Credential("AK1", "secret-1"), Credential("AK2", "secret-2")], ["token-1", "token-2"], clock=_clock(now)
    )


def _signed(
    body: bytes = BODY, *, ak: str = "AK1", sk: str = "secret-1", extra: dict[str, str] | None = None
) -> dict[str, str]:
    """Lower-case headers as Huawei's SDK signs them, dated SIGNED_AT."""
    headers = {
        "Content-Type": "application/json",
        "X-Sdk-Date": SIGNED_AT.strftime("%Y%m%dT%H%M%SZ"),
        "X-Project-Id": "p",
        **(extra or {}),
    }
    request = SdkRequest(
        method="POST",
        schema="http",
        host="127.0.0.1:8765",
        resource_path=PATH,
        query_params=[],
        header_params=headers,
        body=body,
    )
    signed = Signer(BasicCredentials(ak, sk)).sign(request).header_params
    return {name.lower(): value for name, value in signed.items()}


def _refused(verifier: Authenticator, headers: dict[str, str], body: bytes = BODY) -> DMSError:
    with pytest.raises(DMSError) as caught:
        verifier.check("POST", PATH, "", headers, body)
    return caught.value


def _gateway_401(error: DMSError, detail: str) -> None:
    assert (error.status, error.error_code, error.error_msg) == (401, "APIGW.0301", PREFIX + detail)


# -- the clock ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("direction", [1, -1])
def test_signature_exactly_fifteen_minutes_old_or_ahead_is_accepted(direction: int) -> None:
    """A signature dated exactly 15 minutes from the server's clock (either way) passes."""
    assert datetime.timedelta(minutes=15) == MAX_CLOCK_SKEW
    _verifier(SIGNED_AT + direction * datetime.timedelta(minutes=15)).check("POST", PATH, "", _signed(), BODY)


@pytest.mark.parametrize("direction", [1, -1])
def test_signature_one_second_past_fifteen_minutes_is_expired(direction: int) -> None:
    """One second beyond 15 minutes (either way) is the gateway's 'signature expired', with both times shown."""
    now = SIGNED_AT + direction * datetime.timedelta(minutes=15, seconds=1)
    error = _refused(_verifier(now), _signed())
    _gateway_401(
        error,
        "calc aksk signature fail:signature expired, signature time:20261126T093000Z,"
        f"server time:{now.strftime('%Y%m%dT%H%M%SZ')}",
    )


def test_default_clock_is_the_real_utc_time() -> None:
    """Without an injected clock the verifier compares with now: a signature made now passes, a 2026 one not."""
    verifier = Authenticator([Credential("AK1", "secret-1")], [])
    now = datetime.datetime.now(tz=datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    request = SdkRequest(
        method="POST",
        schema="http",
        host="h",
        resource_path=PATH,
        query_params=[],
        header_params={"X-Sdk-Date": now, "Content-Type": "application/json"},
        body=BODY,
    )
    headers = {k.lower(): v for k, v in Signer(BasicCredentials("AK1", "secret-1")).sign(request).header_params.items()}
    verifier.check("POST", PATH, "", headers, BODY)
    _refused(verifier, _signed())


@pytest.mark.parametrize("value", ["20261126T093000", "2026-11-26T09:30:00Z", "20261126T096000Z", " "])
def test_malformed_sdk_date_is_refused_with_the_format(value: str) -> None:
    """A signed X-Sdk-Date that is not YYYYMMDDTHHMMSSZ is refused, saying the format expected."""
    headers = _signed()
    headers["x-sdk-date"] = value
    _gateway_401(_refused(_verifier(), headers), "X-Sdk-Date is not formatted YYYYMMDDTHHMMSSZ")


def test_sdk_date_parses_every_field_and_is_utc() -> None:
    """Each of the six fields lands in its place, in UTC; surrounding whitespace of the header is ignored."""
    assert parse_sdk_date("20240229T235958Z") == datetime.datetime(2024, 2, 29, 23, 59, 58, tzinfo=datetime.UTC)
    assert parse_sdk_date("20250229T000000Z") is None
    headers = _signed()
    headers["x-sdk-date"] = " " + headers["x-sdk-date"] + " "
    _verifier().check("POST", PATH, "", headers, BODY)
    assert parse_sdk_date(" 20261126T093000Z") is None


# -- the Authorization header ------------------------------------------------------------------------------


def test_parse_authorization_general_form() -> None:
    """Fields in any order, extra spaces and unknown fields are read as the gateway reads them."""
    value = "  SDK-HMAC-SHA256   Signature=abc ,SignedHeaders=host;x-sdk-date,  Access=AK1 , Other=1"
    assert parse_authorization(value) == ("AK1", ["host", "x-sdk-date"], "abc")


@pytest.mark.parametrize(
    ("value", "missing"),
    [
        ("SDK-HMAC-SHA256 Access=AK1, SignedHeaders=x-sdk-date", "Signature"),
        ("SDK-HMAC-SHA256 SignedHeaders=x-sdk-date, Signature=abc", "Access"),
        ("SDK-HMAC-SHA256 Access=AK1, Signature=abc", "SignedHeaders"),
        ("SDK-HMAC-SHA256 Access=, SignedHeaders=x-sdk-date, Signature=abc", "Access"),
        ("SDK-HMAC-SHA256", "Access, SignedHeaders, Signature"),
    ],
)
def test_authorization_missing_field_is_named(value: str, missing: str) -> None:
    """An Authorization header lacking a field (or with it empty) is refused naming each missing field."""
    with pytest.raises(DMSError) as caught:
        parse_authorization(value)
    _gateway_401(caught.value, f"Authorization header has no {missing}")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("AWS4-HMAC-SHA256 Credential=x", "'AWS4-HMAC-SHA256'"),
        ("Bearer abc", "'Bearer'"),
        ("X" * 40 + " Access=AK1", repr("X" * 32)),
        ("Bäd Access=AK1", "'?'"),
        ("Bad\x01 Access=AK1", "'?'"),
        ("sdk-hmac-sha256 Access=AK1, SignedHeaders=x-sdk-date, Signature=abc", "'sdk-hmac-sha256'"),
    ],
)
def test_unsupported_algorithm_is_named_short_and_printable(value: str, shown: str) -> None:
    """Another algorithm is refused quoting at most 32 printable ASCII characters of it, else '?'."""
    with pytest.raises(DMSError) as caught:
        parse_authorization(value)
    _gateway_401(caught.value, f"unsupported signing algorithm {shown}, expected SDK-HMAC-SHA256")


def test_sdk_authorization_in_general_form_still_verifies() -> None:
    """The SDK's signature with its Authorization fields reordered and spaced out still passes."""
    headers = _signed()
    ak, names, given = parse_authorization(headers["authorization"])
    headers["authorization"] = f"SDK-HMAC-SHA256  Signature={given},Access={ak} , SignedHeaders={';'.join(names)}"
    _verifier().check("POST", PATH, "", headers, BODY)


# -- what is refused, and how --------------------------------------------------------------------------------


def test_each_configured_credential_verifies_with_its_own_sk() -> None:
    """Every configured AK is checked with its own SK, not another's."""
    _verifier().check("POST", PATH, "", _signed(ak="AK2", sk="secret-2"), BODY)
    _gateway_401(_refused(_verifier(), _signed(ak="AK2", sk="secret-1")), "verify aksk signature fail")


@pytest.mark.parametrize(
    ("ak", "shown"),
    [("NOPE", "NOPE"), ("A" * 80, "A" * 64), ("ÄK", "<unprintable>"), ("A\tK", "<unprintable>")],
)
def test_unknown_ak_is_named_short_and_printable(ak: str, shown: str) -> None:
    """An unknown AK is refused as the gateway words it, quoting at most 64 printable ASCII characters."""
    headers = _signed()
    headers["authorization"] = headers["authorization"].replace("Access=AK1", f"Access={ak}")
    if not ak.isprintable():
        headers["authorization"] = f"SDK-HMAC-SHA256 Access={ak}, SignedHeaders=x-sdk-date, Signature=abc"
    _gateway_401(_refused(_verifier(), headers), f"ak {shown} not exist")


def test_x_sdk_date_must_be_signed() -> None:
    """A signature that does not cover X-Sdk-Date is refused even if it is otherwise right."""
    headers = _signed()
    headers["authorization"] = headers["authorization"].replace("x-sdk-date", "x-project-id")
    _gateway_401(_refused(_verifier(), headers), "x-sdk-date must be one of the SignedHeaders")


@pytest.mark.parametrize(("name", "shown"), [("x-project-id", "'x-project-id'"), ("x-é", "'?'"), ("x" * 70, None)])
def test_signed_header_missing_from_request_is_named(name: str, shown: str | None) -> None:
    """A header named in SignedHeaders but absent from the request is refused, named (64 printable chars)."""
    headers = _signed()
    ak, names, given = parse_authorization(headers["authorization"])
    headers.pop(name, None)
    names = sorted({*names, name})
    headers["authorization"] = f"SDK-HMAC-SHA256 Access={ak}, SignedHeaders={';'.join(names)}, Signature={given}"
    _gateway_401(
        _refused(_verifier(), headers), f"signed header {shown or repr(name[:64])} is missing from the request"
    )


def test_altered_body_method_path_or_query_breaks_the_signature() -> None:
    """Each part of the canonical request is covered: body, method, path and query."""
    headers = _signed()
    verifier = _verifier()
    for method, path, query, body in [
        ("POST", PATH, "", BODY + b" "),
        ("PUT", PATH, "", BODY),
        ("POST", PATH + "x", "", BODY),
        ("POST", PATH, "a=1", BODY),
    ]:
        with pytest.raises(DMSError, match="verify aksk signature fail"):
            verifier.check(method, path, query, headers, body)
    verifier.check("post", PATH, "", headers, BODY)  # the method is compared upper-cased


def test_wrong_signature_is_refused_and_logs_the_canonical_request_masked(caplog: pytest.LogCaptureFixture) -> None:
    """A mismatch logs the canonical request at DEBUG for the user, with signed token headers masked."""
    headers = _signed(b"{}", extra={"X-Security-Token": "sec-tok", "X-Auth-Token": "iam:tok"})
    headers["x-project-id"] = "q r"
    with caplog.at_level(logging.DEBUG, logger="dms_rocketmq_emulator.auth"):
        _gateway_401(_refused(_verifier(), headers, b"{}"), "verify aksk signature fail")
    (record,) = [r for r in caplog.records if r.name == "dms_rocketmq_emulator.auth"]
    assert record.levelno == logging.DEBUG
    text = record.getMessage()
    assert text.startswith("signature mismatch for ak AK1; canonical request:\nPOST\n" + canonical_uri(PATH))
    assert "x-security-token:***\n" in text
    assert "x-auth-token:***\n" in text
    assert "x-project-id:q r\n" in text
    assert "sec-tok" not in text
    assert "iam:tok" not in text
    assert "secret-1" not in text


def test_signed_content_sha256_must_match_the_body() -> None:
    """A signed X-Sdk-Content-Sha256 that is not the body's hash is refused; the body's own hash passes."""
    verifier = _verifier()
    right = hashlib.sha256(BODY).hexdigest()
    verifier.check("POST", PATH, "", _signed(extra={"X-Sdk-Content-Sha256": right}), BODY)
    wrong = hashlib.sha256(b"other").hexdigest()
    headers = _signed(extra={"X-Sdk-Content-Sha256": wrong})
    _gateway_401(_refused(verifier, headers), "X-Sdk-Content-Sha256 does not match the request body")


def test_unsigned_payload_is_the_only_opt_out() -> None:
    """UNSIGNED-PAYLOAD, signed, lets any body through: the signature then does not cover the body."""
    verifier = _verifier()
    headers = _signed(extra={"X-Sdk-Content-Sha256": "UNSIGNED-PAYLOAD"})
    verifier.check("POST", PATH, "", headers, BODY)
    verifier.check("POST", PATH, "", headers, b'{"other":1}')


def test_unsigned_content_sha256_vouches_for_nothing() -> None:
    """An X-Sdk-Content-Sha256 added after signing is ignored: the real body's hash is what counts."""
    headers = _signed()
    headers["x-sdk-content-sha256"] = "UNSIGNED-PAYLOAD"
    _verifier().check("POST", PATH, "", headers, BODY)
    _gateway_401(_refused(_verifier(), headers, BODY + b" "), "verify aksk signature fail")
    headers["x-sdk-content-sha256"] = hashlib.sha256(b"another body").hexdigest()
    _verifier().check("POST", PATH, "", headers, BODY)


def test_a_signature_that_is_not_text_is_a_401() -> None:
    """A given signature with a character UTF-8 cannot encode is refused as a mismatch, not a crash."""
    headers = _signed()
    ak, names, _ = parse_authorization(headers["authorization"])
    headers["authorization"] = f"SDK-HMAC-SHA256 Access={ak}, SignedHeaders={';'.join(names)}, Signature=\udcff"
    _gateway_401(_refused(_verifier(), headers), "verify aksk signature fail")


def test_payload_hash_rules() -> None:
    """Empty body: the empty string's hash; a declared hash counts only when signed and non-empty."""
    empty = hashlib.sha256(b"").hexdigest()
    assert payload_hash({"x-sdk-content-sha256": "D"}, b"", ["x-sdk-content-sha256"]) == empty
    assert payload_hash({"x-sdk-content-sha256": "D"}, b"b", ["x-sdk-content-sha256"]) == "D"
    assert payload_hash({"x-sdk-content-sha256": "D"}, b"b") == hashlib.sha256(b"b").hexdigest()
    assert (
        payload_hash({"x-sdk-content-sha256": ""}, b"b", ["x-sdk-content-sha256"]) == hashlib.sha256(b"b").hexdigest()
    )


def test_signing_steps_match_the_algorithm() -> None:
    """Canonical headers, canonical request, string to sign and signature, each step exactly as specified."""
    headers = {"host": " h ", "x-sdk-date": "20261126T093000Z"}
    assert canonical_headers(headers, ["host", "x-sdk-date"]) == "host:h\nx-sdk-date:20261126T093000Z\n"
    canonical = canonical_request("post", "/a b", "b=1&a=2", headers, ["host", "x-sdk-date"], b"x")
    assert canonical == (
        "POST\n/a%20b/\na=2&b=1\nhost:h\nx-sdk-date:20261126T093000Z\n\nhost;x-sdk-date\n"
        + hashlib.sha256(b"x").hexdigest()
    )
    to_sign = string_to_sign("20261126T093000Z", canonical)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    assert to_sign == f"SDK-HMAC-SHA256\n20261126T093000Z\n{digest}"
    import hmac

    assert signature("sk", to_sign) == hmac.new(b"sk", to_sign.encode(), "sha256").hexdigest()
    assert signature("ü", "é") == hmac.new("ü".encode(), "é".encode(), "sha256").hexdigest()


def test_canonical_uri_and_query_encoding() -> None:
    """Unreserved characters stay, everything else is %XX (upper-case) of its UTF-8; empty query parts go."""
    assert canonical_uri("/a~b/ü/") == "/a~b/%C3%BC/"
    assert canonical_uri("") == "/"
    from dms_rocketmq_emulator._auth import canonical_query

    assert canonical_query("&a=%7E~&&b") == "a=~~&b="
    assert canonical_query("k=a%2Fb") == "k=a%2Fb"


# -- tokens and the way in ------------------------------------------------------------------------------------


def test_request_without_credentials_is_refused_saying_so() -> None:
    """Neither Authorization nor X-Auth-Token: 401 APIGW.0301 naming both."""
    _gateway_401(
        _refused(_verifier(), {"content-type": "application/json"}),
        "the request has neither an Authorization nor an X-Auth-Token header",
    )


def test_every_configured_token_passes_trimmed() -> None:
    """Each configured token passes, with surrounding whitespace ignored; a near miss is DMS.10240101."""
    verifier = _verifier()
    verifier.check("POST", PATH, "", {"x-auth-token": "token-1"}, b"")
    verifier.check("POST", PATH, "", {"x-auth-token": " token-2\t"}, b"")
    for wrong in ["token-3", "token-", "", "token-1token-2"]:
        error = _refused(verifier, {"x-auth-token": wrong})
        assert (error.status, error.error_code, error.error_msg) == (401, "DMS.10240101", "Invalid token.")


def test_a_signature_is_checked_even_beside_a_valid_token() -> None:
    """With both headers, the Authorization signature decides: a valid token does not rescue a bad one."""
    headers = _signed()
    headers["x-project-id"] = "q"
    headers["x-auth-token"] = "token-1"
    _gateway_401(_refused(_verifier(), headers), "verify aksk signature fail")


def test_tokens_only_or_credentials_only_enable_checking() -> None:
    """Configuring only tokens, or only credentials, turns checking on; nothing configured lets all in."""
    assert Authenticator([], ["t"]).enabled
    assert Authenticator([Credential("a", "s")], []).enabled
    assert not Authenticator([], []).enabled
    with pytest.raises(DMSError):
        Authenticator([], ["t"]).check("POST", PATH, "", {}, b"")
    Authenticator([], []).check("POST", PATH, "", {"authorization": "garbage"}, b"")


def test_repr_names_aks_and_counts_tokens() -> None:
    """The repr lists the AKs, sorted, and the number of tokens: never an SK or a token."""
    assert repr(_verifier()) == "Authenticator(aks=['AK1', 'AK2'], tokens=2)"
