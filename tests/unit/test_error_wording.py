"""The gateway's and the service's error wording has one owner, the spec's error examples: the emulator
answers with them, and the wrapper reads what varies in them back out."""

from __future__ import annotations

import datetime

import httpx
from dms_rocketmq._auth_failures import GATEWAY_AUTH_ERROR, likely_causes
from dms_rocketmq_api.spec_rules import ERRORS, error_msg_pattern
from dms_rocketmq_emulator import _exceptions as errors
from hypothesis import given
from hypothesis import strategies as st

# The emulator's error for each spec example, built with the values the example shows.
EMULATOR_ERRORS = {
    "BadRequest.invalidParameter": lambda: errors.invalid_parameter("topic"),
    "BadRequest.emptyBody": errors.empty_body,
    "BadRequest.malformedJson": errors.malformed_json,
    "BadRequest.topicMissing": errors.topic_not_found,
    "BadRequest.messageTooLarge": lambda: errors.message_too_large(errors.MAX_MESSAGE_BYTES + 1),
    "Unauthorized.badSignature": errors.signature_mismatch,
    "Unauthorized.unknownAk": lambda: errors.unknown_ak("ABCDEFGHIJ0123456789"),
    "Unauthorized.signatureExpired": lambda: errors.signature_expired("20260101T000000Z", "20260101T001601Z"),
    "Unauthorized.invalidToken": errors.bad_token,
    "NotFound.instanceMissing": errors.instance_not_found,
    "NotFound.urlMissing": errors.url_not_found,
    "PayloadTooLarge.overLimit": errors.request_too_large,
    "InternalServerError.internal": errors.internal_error,
}
SPEC_EXAMPLE_VALUES = {
    "BadRequest.invalidParameter": {"field": "topic"},
    "BadRequest.messageTooLarge": {"size": errors.MAX_MESSAGE_BYTES + 1, "limit": errors.MAX_MESSAGE_BYTES},
    "Unauthorized.unknownAk": {"ak": "ABCDEFGHIJ0123456789"},
    "Unauthorized.signatureExpired": {"signed_at": "20260101T000000Z", "server_time": "20260101T001601Z"},
}
TOKEN = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=40)
SDK_DATE = st.datetimes(min_value=datetime.datetime(2000, 1, 1), max_value=datetime.datetime(2099, 1, 1)).map(
    lambda moment: moment.strftime("%Y%m%dT%H%M%SZ")
)


def test_the_emulator_answers_each_spec_example_as_the_spec_words_it() -> None:
    """Each error the spec shows an example of is the emulator's answer, code, wording and gateway flag alike."""
    for example, make in EMULATOR_ERRORS.items():
        code, template, gateway, _ = ERRORS[example]
        error = make()
        values = SPEC_EXAMPLE_VALUES.get(example, {})
        assert (error.error_code, error.error_msg, error.gateway) == (code, template.format(**values), gateway)


@given(ak=TOKEN)
def test_an_unknown_ak_the_emulator_names_is_the_ak_the_wrapper_reads(ak: str) -> None:
    """Whatever the AK, the wrapper finds it in the emulator's message and names it among the likely causes."""
    error = errors.unknown_ak(ak)
    assert error_msg_pattern("Unauthorized.unknownAk").search(error.error_msg)["ak"] == ak  # type: ignore[index]
    response = httpx.Response(401, request=httpx.Request("POST", "http://dms.test/"))
    causes = likely_causes(response, error.error_msg)
    assert any(f"access key {ak} " in cause for cause in causes)


@given(signed_at=SDK_DATE, server_time=SDK_DATE)
def test_the_server_time_the_emulator_quotes_is_the_one_the_wrapper_reads(signed_at: str, server_time: str) -> None:
    """The wrapper reads the gateway's clock out of the emulator's `signature expired` message."""
    error = errors.signature_expired(signed_at, server_time)
    assert error.error_code == GATEWAY_AUTH_ERROR
    found = error_msg_pattern("Unauthorized.signatureExpired").search(error.error_msg)
    assert found is not None
    assert (found["signed_at"], found["server_time"]) == (signed_at, server_time)
    request = httpx.Request("POST", "http://dms.test/", headers={"X-Sdk-Date": signed_at})
    causes = likely_causes(httpx.Response(401, request=request), error.error_msg)
    assert causes
    assert causes[0].startswith("clock skew")


def test_a_signature_mismatch_is_read_as_one() -> None:
    """The emulator's mismatch message is the one the wrapper explains as an SK that is not the AK's."""
    request = httpx.Request(
        "POST",
        "http://dms.test/",
        headers={"Authorization": "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;x-sdk-date, Signature=00"},
    )
    causes = likely_causes(httpx.Response(401, request=request), errors.signature_mismatch().error_msg)
    assert [cause.split(":")[0] for cause in causes] == ["signature mismatch"]
