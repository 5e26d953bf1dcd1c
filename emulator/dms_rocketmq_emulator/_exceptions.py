"""The errors the emulator answers with, in the shape of Huawei Cloud's error body.

Every error is one `DMSError`: an HTTP status, an `error_code` and an `error_msg`, plus whether the API
gateway (rather than the DMS service behind it) raised it, in which case the body also carries
`request_id`, as the real gateway's bodies do::

    DMSError                     status, error_code, error_msg, gateway, retry_after
    ├── BadRequestError          400 DMS.004000xx / DMS.10540011
    ├── UnauthorizedError        401 APIGW.0301 (signature) / DMS.1024010x (token)
    ├── NotFoundError            404 DMS.00404001 (URL) / DMS.00404022 (instance)
    ├── MethodNotAllowedError    405 DMS.00405001
    ├── PayloadTooLargeError     413 APIGW.0201
    └── InjectedFaultError       any status chosen through the control API

`models.py` raises these; `_responses.py` turns them into HTTP responses. The codes and wording the spec's
error examples show come from there (`spec_rules.ERRORS`); the client reads the same entries back.
"""

from __future__ import annotations

from dms_rocketmq_api.spec_rules import BODY_MAX_LENGTH, ERRORS, REQUEST_MAX_BYTES, error_msg

__all__ = [
    "FAULT_STATUSES",
    "GATEWAY_REFUSED",
    "MAX_MESSAGE_BYTES",
    "MAX_REQUEST_BYTES",
    "BadRequestError",
    "DMSError",
    "InjectedFaultError",
    "MethodNotAllowedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "UnauthorizedError",
    "bad_token",
    "empty_body",
    "fault_for_status",
    "instance_id_format",
    "instance_not_found",
    "internal_error",
    "invalid_parameter",
    "malformed_json",
    "message_too_large",
    "method_not_allowed",
    "not_implemented",
    "project_id_format",
    "request_too_large",
    "signature_expired",
    "signature_failure",
    "signature_mismatch",
    "topic_not_found",
    "unknown_ak",
    "url_not_found",
]

#: The largest message body DMS takes, in UTF-8 bytes (the spec's limit on the body).
MAX_MESSAGE_BYTES = BODY_MAX_LENGTH
#: The gateway's code for a request it refuses before any operation sees it (the spec's PayloadTooLarge
#: example; the spec's BadRequest says it answers malformed HTTP with the same code).
GATEWAY_REFUSED = ERRORS["PayloadTooLarge.overLimit"][0]
#: The largest request the API gateway reads; larger ones get 413 before they are read.
MAX_REQUEST_BYTES = REQUEST_MAX_BYTES
# What a refused signature's message starts with, before what was wrong: the gateway's own wording.
_SIGNATURE_REFUSED = error_msg("Unauthorized.badSignature").partition(": ")[0] + ": "


class DMSError(Exception):
    """An error the emulator answers with: HTTP status plus Huawei's `error_code` and `error_msg`."""

    def __init__(
        self,
        status: int,
        error_code: str,
        error_msg: str,
        *,
        gateway: bool = False,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(f"{status} {error_code}: {error_msg}")
        self.status = status
        self.error_code = error_code
        self.error_msg = error_msg
        #: Raised by the API gateway: the body then also carries `request_id`.
        self.gateway = gateway
        #: Seconds for the `Retry-After` header, or None for no header.
        self.retry_after = retry_after

    def body(self, request_id: str) -> dict[str, str]:
        """The JSON error body, Huawei's shape."""
        body = {"error_code": self.error_code, "error_msg": self.error_msg}
        if self.gateway:
            body["request_id"] = request_id
        return body


class BadRequestError(DMSError):
    """400: the request is not valid."""

    def __init__(self, error_code: str, error_msg: str) -> None:
        super().__init__(400, error_code, error_msg)


class UnauthorizedError(DMSError):
    """401: authentication failed."""

    def __init__(self, error_code: str, error_msg: str, *, gateway: bool) -> None:
        super().__init__(401, error_code, error_msg, gateway=gateway)


class NotFoundError(DMSError):
    """404: no such URL or instance."""

    def __init__(self, error_code: str, error_msg: str) -> None:
        super().__init__(404, error_code, error_msg)


class MethodNotAllowedError(DMSError):
    """405: the URL exists but not with this method (the spec shows no 405: the code is the emulator's)."""

    def __init__(self, allow: str | None = None) -> None:
        super().__init__(405, "DMS.00405001", "This request method is not allowed.")
        #: The `Allow` header: the methods the URL takes, or None when not known.
        self.allow = allow


class PayloadTooLargeError(DMSError):
    """413: the request is over the gateway's limit (the spec's `x-max-request-bytes`)."""

    def __init__(self) -> None:
        code, message, gateway, _ = ERRORS["PayloadTooLarge.overLimit"]
        super().__init__(413, code, message, gateway=gateway)


class InjectedFaultError(DMSError):
    """A failure asked for through `POST /_emulator/faults`."""


def _code(example: str) -> str:
    return ERRORS[example][0]


def empty_body() -> BadRequestError:
    """400: the request has no body."""
    return BadRequestError(_code("BadRequest.emptyBody"), error_msg("BadRequest.emptyBody"))


def malformed_json() -> BadRequestError:
    """400: the body is not JSON (or not valid UTF-8)."""
    return BadRequestError(_code("BadRequest.malformedJson"), error_msg("BadRequest.malformedJson"))


def invalid_parameter(field: str | None) -> BadRequestError:
    """400: a field is missing or breaks the schema (without a field: the emulator's own wording)."""
    code = _code("BadRequest.invalidParameter")
    if field is None:
        return BadRequestError(code, "Invalid request parameter.")
    return BadRequestError(code, error_msg("BadRequest.invalidParameter", field=field))


def message_too_large(size: int) -> BadRequestError:
    """400: the message body is over the spec's limit once encoded as UTF-8."""
    example = "BadRequest.messageTooLarge"
    return BadRequestError(_code(example), error_msg(example, size=size, limit=MAX_MESSAGE_BYTES))


def topic_not_found() -> BadRequestError:
    """400: the instance has no such topic (sending never creates one)."""
    return BadRequestError(_code("BadRequest.topicMissing"), error_msg("BadRequest.topicMissing"))


def project_id_format() -> BadRequestError:
    """400 DMS.00400002: the project id is not 32 hexadecimal characters (the spec's ProjectId parameter)."""
    return BadRequestError("DMS.00400002", "The project ID format is invalid.")


def instance_id_format() -> BadRequestError:
    """400 DMS.00400030: the instance id is not a UUID (the spec's InstanceId parameter)."""
    return BadRequestError("DMS.00400030", "Invalid DMS instance id. The id must be a uuid.")


def instance_not_found() -> NotFoundError:
    """404: no such instance in this project."""
    return NotFoundError(_code("NotFound.instanceMissing"), error_msg("NotFound.instanceMissing"))


def url_not_found() -> NotFoundError:
    """404: the URL names no API (for example an unknown engine)."""
    return NotFoundError(_code("NotFound.urlMissing"), error_msg("NotFound.urlMissing"))


def method_not_allowed(allow: str | None = None) -> MethodNotAllowedError:
    """405 DMS.00405001; `allow` lists the methods the URL takes."""
    return MethodNotAllowedError(allow)


def not_implemented(operation_id: str) -> DMSError:
    """501 DMS.00501000: an operation the spec documents that the emulator does not serve yet."""
    return DMSError(501, "DMS.00501000", f"The emulator does not implement {operation_id}.")


def request_too_large() -> PayloadTooLargeError:
    """413: the request is over the gateway's limit."""
    return PayloadTooLargeError()


def signature_failure(detail: str) -> UnauthorizedError:
    """401 with the gateway's wording and a detail saying what was wrong (never a secret)."""
    return UnauthorizedError(_code("Unauthorized.badSignature"), _SIGNATURE_REFUSED + detail, gateway=True)


def signature_mismatch() -> UnauthorizedError:
    """401: the signature does not verify with the AK's SK (the gateway's wording, the spec's example)."""
    return UnauthorizedError(_code("Unauthorized.badSignature"), error_msg("Unauthorized.badSignature"), gateway=True)


def unknown_ak(shown_ak: str) -> UnauthorizedError:
    """401: the gateway does not know the AK (`shown_ak`: as much of it as may be shown)."""
    example = "Unauthorized.unknownAk"
    return UnauthorizedError(_code(example), error_msg(example, ak=shown_ak), gateway=True)


def signature_expired(signed_at: str, server_time: str) -> UnauthorizedError:
    """401: X-Sdk-Date (`signed_at`, as sent) is too far from the gateway's clock (`server_time`)."""
    example = "Unauthorized.signatureExpired"
    return UnauthorizedError(
        _code(example), error_msg(example, signed_at=signed_at, server_time=server_time), gateway=True
    )


def bad_token() -> UnauthorizedError:
    """401: the X-Auth-Token is not one the emulator was given."""
    return UnauthorizedError(_code("Unauthorized.invalidToken"), error_msg("Unauthorized.invalidToken"), gateway=False)


def internal_error(detail: str | None = None) -> DMSError:
    """500: a bug in the emulator or a failed store (never the answer to bad input).

    `detail`, when given, follows the service's message: what the emulator knows went wrong.
    """
    code, message, _, _ = ERRORS["InternalServerError.internal"]
    return DMSError(500, code, message + (f" {detail}" if detail else ""))


# The body each injectable status answers with: the spec's example of that status, and for 502/504 (whose
# real codes are not documented) the emulator's own.
_FAULT_BODIES: dict[int, tuple[str, str, bool]] = {
    400: (_code("BadRequest.invalidParameter"), "Invalid request parameter.", False),
    **{
        status: ERRORS[example][:3]
        for status, example in {
            401: "Unauthorized.badSignature",
            403: "Forbidden.notAuthorized",
            404: "NotFound.instanceMissing",
            413: "PayloadTooLarge.overLimit",
            429: "TooManyRequests.throttled",
            500: "InternalServerError.internal",
            503: "ServiceUnavailable.unavailable",
        }.items()
    },
    502: ("DMS.00502000", "Bad gateway.", False),
    504: ("DMS.00504000", "Gateway timeout.", False),
}

#: The statuses `POST /_emulator/faults` can inject (200 means: delay only, then send normally).
FAULT_STATUSES = frozenset(_FAULT_BODIES)


def fault_for_status(status: int, retry_after: int | None) -> InjectedFaultError:
    """The injected failure for `status`, with the Huawei body that status carries."""
    error_code, message, gateway = _FAULT_BODIES[status]
    return InjectedFaultError(status, error_code, message, gateway=gateway, retry_after=retry_after)
