"""Why the gateway refused a signature: the likely causes of a 401 `APIGW.0301` that fit what the client knows.

The gateway says little (`verify aksk signature fail`, `ak X not exist`, `signature expired`), and the
causes users meet most are few: a clock too far off (openapi.yaml says how far), an AK the service does not
know, an SK that is not the AK's (or a request changed after signing). The client knows what it signed (the request,
whose `Authorization` names the AK and the signed headers) and, from the response, the server's clock
(`Date`, or the time quoted in the gateway's message): enough to say which causes fit, and how far off the
clock is. The canonical request is rebuilt with the signer's own steps (`_auth.signing_steps`), with
credential headers masked; the SK is never involved.
"""

from __future__ import annotations

import datetime
import email.utils
import logging
import re

import httpx
from dms_rocketmq_api.spec_rules import ERRORS, MAX_CLOCK_SKEW_SECONDS, error_msg_pattern

from ._auth import DATE_FORMAT, SigningSteps, signing_steps
from ._constants import ENV

__all__ = ["GATEWAY_AUTH_ERROR", "MAX_CLOCK_SKEW", "likely_causes", "signing_steps_of"]

logger = logging.getLogger("dms_rocketmq.auth")

#: The gateway's code for a refused AK/SK signature or token (the spec's Unauthorized examples).
GATEWAY_AUTH_ERROR = ERRORS["Unauthorized.badSignature"][0]
#: How far X-Sdk-Date may be from the gateway's clock (openapi.yaml's `x-max-clock-skew-seconds`).
MAX_CLOCK_SKEW = datetime.timedelta(seconds=MAX_CLOCK_SKEW_SECONDS)

_AUTHORIZATION = re.compile(r"Access=([^,\s]+),\s*SignedHeaders=([^,\s]+)")
# The gateway's wordings, as the spec's examples give them (the emulator answers with the same entries).
_SIGNATURE_MISMATCH = error_msg_pattern("Unauthorized.badSignature")
_UNKNOWN_AK = error_msg_pattern("Unauthorized.unknownAk")
_SIGNATURE_EXPIRED = error_msg_pattern("Unauthorized.signatureExpired")


def _request(response: httpx.Response) -> httpx.Request | None:
    try:
        return response.request
    except RuntimeError:  # a response built without its request
        return None


def _parse_sdk_date(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    try:
        return datetime.datetime.strptime(value.strip(), DATE_FORMAT).replace(tzinfo=datetime.UTC)
    except ValueError:
        return None


def _server_time(response: httpx.Response, error_msg: str) -> datetime.datetime | None:
    """The server's clock: its `Date` header, else the time the gateway's `signature expired` message quotes."""
    date = response.headers.get("Date")
    if date:
        try:
            return email.utils.parsedate_to_datetime(date).astimezone(datetime.UTC)
        except (TypeError, ValueError):
            pass
    match = _SIGNATURE_EXPIRED.search(error_msg)
    return _parse_sdk_date(match.group("server_time")) if match else None


def _duration(delta: datetime.timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    return " ".join(part for part in parts if part) or f"{seconds} s"


def signing_steps_of(request: httpx.Request) -> SigningSteps | None:
    """The signing steps of a request as it was sent (its signed headers only), or None if it was not signed."""
    match = _AUTHORIZATION.search(request.headers.get("Authorization", ""))
    if match is None:
        return None
    signed = set(match.group(2).split(";"))
    headers = [(name, value) for name, value in request.headers.multi_items() if name.lower() in signed]
    try:
        return signing_steps(request.method, str(request.url), headers, request.content)
    except (ValueError, httpx.RequestNotRead):
        return None


def likely_causes(response: httpx.Response, error_msg: str) -> list[str]:
    """What may have caused this 401 `APIGW.0301`, most likely first; empty when nothing known fits."""
    request = _request(response)
    headers = request.headers if request is not None else httpx.Headers()
    causes = []
    sent_at = _parse_sdk_date(headers.get("X-Sdk-Date"))
    server_at = _server_time(response, error_msg)
    if sent_at is not None and server_at is not None and abs(server_at - sent_at) > MAX_CLOCK_SKEW:
        direction = "behind" if sent_at < server_at else "ahead of"
        causes.append(
            f"clock skew: the request was signed at {sent_at.strftime(DATE_FORMAT)} (X-Sdk-Date), "
            f"{_duration(server_at - sent_at)} {direction} the server's clock ({server_at.strftime(DATE_FORMAT)}); "
            f"the gateway accepts {_duration(MAX_CLOCK_SKEW)}: set this machine's clock right (NTP)"
        )
    elif _SIGNATURE_EXPIRED.search(error_msg):
        causes.append(
            f"clock skew: X-Sdk-Date is more than {_duration(MAX_CLOCK_SKEW)} off the server's clock; "
            "set the clock right"
        )
    authorization = _AUTHORIZATION.search(headers.get("Authorization", ""))
    unknown = _UNKNOWN_AK.search(error_msg)
    if unknown is not None:
        causes.append(
            f"unknown AK: the service does not know the access key {unknown.group('ak')} "
            f"(check {ENV['ak']}: an AK of another account or a deleted one)"
        )
    elif _SIGNATURE_MISMATCH.search(error_msg) and authorization is not None:
        causes.append(
            f"signature mismatch: the SK is most likely not the one of AK {authorization.group(1)} "
            f"(check {ENV['sk']}), or something between here and the gateway changed the path, the query, the "
            f"body or a signed header ({authorization.group(2)}). Compare canonical requests: this error's "
            "canonical_request(), the dms_rocketmq.auth logger at DEBUG, or `dms-rocketmq sign --explain`"
        )
        if request is not None and logger.isEnabledFor(logging.DEBUG):
            steps = signing_steps_of(request)
            if steps is not None:
                logger.debug("refused request's canonical request:\n%s", steps.masked_canonical_request())
    if authorization is None and "X-Auth-Token" in headers and "token" in error_msg.lower():
        causes.append(
            "token refused: the gateway could not read the IAM token: expired, or not a token of this cloud "
            f"(check {ENV['token']})"
        )
    if authorization is None and "X-Auth-Token" not in headers and request is not None:
        causes.append("no credentials: the request had neither an Authorization nor an X-Auth-Token header")
    return causes
