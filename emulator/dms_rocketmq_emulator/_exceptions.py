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

`models.py` raises these; `_responses.py` turns them into HTTP responses.
"""

from __future__ import annotations

from dms_rocketmq_api.spec_rules import BODY_MAX_LENGTH, REQUEST_MAX_BYTES

__all__ = [
    "FAULT_STATUSES",
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
    "signature_failure",
    "topic_not_found",
    "url_not_found",
]

#: The largest message body DMS takes, in UTF-8 bytes (the spec's limit on the body).
MAX_MESSAGE_BYTES = BODY_MAX_LENGTH
#: The largest request the API gateway reads; larger ones get 413 before they are read.
MAX_REQUEST_BYTES = REQUEST_MAX_BYTES
# The gateway's own wording, as the spec's PayloadTooLarge example quotes it (it writes MiB as "MB").
_REQUEST_TOO_LARGE = f"request body over {MAX_REQUEST_BYTES // (1024 * 1024)} MB"


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
    """405: the URL exists but not with this method."""

    def __init__(self, allow: str | None = None) -> None:
        super().__init__(405, "DMS.00405001", "This request method is not allowed.")
        #: The `Allow` header: the methods the URL takes, or None when not known.
        self.allow = allow


class PayloadTooLargeError(DMSError):
    """413: the request is over the gateway's limit (the spec's `x-max-request-bytes`)."""

    def __init__(self) -> None:
        super().__init__(413, "APIGW.0201", _REQUEST_TOO_LARGE, gateway=True)


class InjectedFaultError(DMSError):
    """A failure asked for through `POST /_emulator/faults`."""


def empty_body() -> BadRequestError:
    """400 DMS.00400004: the request has no body."""
    return BadRequestError("DMS.00400004", "The request body is empty.")


def malformed_json() -> BadRequestError:
    """400 DMS.00400005: the body is not JSON (or not valid UTF-8)."""
    return BadRequestError("DMS.00400005", "The message body is not in JSON format or contains invalid characters.")


def invalid_parameter(field: str | None) -> BadRequestError:
    """400 DMS.00400062: a field is missing or breaks the schema."""
    if field is None:
        return BadRequestError("DMS.00400062", "Invalid request parameter.")
    return BadRequestError("DMS.00400062", f"Invalid {field} parameter in the request.")


def message_too_large(size: int) -> BadRequestError:
    """400 DMS.10540011: the message body is over the spec's limit once encoded as UTF-8."""
    return BadRequestError(
        "DMS.10540011", f"The message size is {size}, larger than the size limit {MAX_MESSAGE_BYTES}."
    )


def topic_not_found() -> BadRequestError:
    """400 DMS.00400876: the instance has no such topic (sending never creates one)."""
    return BadRequestError("DMS.00400876", "The topic does not exist.")


def project_id_format() -> BadRequestError:
    """400 DMS.00400002: the project id is not 32 hexadecimal characters."""
    return BadRequestError("DMS.00400002", "The project ID format is invalid.")


def instance_id_format() -> BadRequestError:
    """400 DMS.00400030: the instance id is not a UUID."""
    return BadRequestError("DMS.00400030", "Invalid DMS instance id. The id must be a uuid.")


def instance_not_found() -> NotFoundError:
    """404 DMS.00404022: no such instance in this project."""
    return NotFoundError("DMS.00404022", "This instance does not exist.")


def url_not_found() -> NotFoundError:
    """404 DMS.00404001: the URL names no API (for example an unknown engine)."""
    return NotFoundError("DMS.00404001", "The requested URL does not exist.")


def method_not_allowed(allow: str | None = None) -> MethodNotAllowedError:
    """405 DMS.00405001; `allow` lists the methods the URL takes."""
    return MethodNotAllowedError(allow)


def not_implemented(operation_id: str) -> DMSError:
    """501 DMS.00501000: an operation the spec documents that the emulator does not serve yet."""
    return DMSError(501, "DMS.00501000", f"The emulator does not implement {operation_id}.")


def request_too_large() -> PayloadTooLargeError:
    """413 APIGW.0201."""
    return PayloadTooLargeError()


def signature_failure(detail: str) -> UnauthorizedError:
    """401 APIGW.0301 with the gateway's wording and a detail saying what was wrong (never a secret)."""
    return UnauthorizedError("APIGW.0301", f"Incorrect IAM authentication information: {detail}", gateway=True)


def bad_token() -> UnauthorizedError:
    """401 DMS.10240101: the X-Auth-Token is not one the emulator was given."""
    return UnauthorizedError("DMS.10240101", "Invalid token.", gateway=False)


def internal_error(detail: str | None = None) -> DMSError:
    """500 DMS.00500000: a bug in the emulator or a failed store (never the answer to bad input).

    `detail`, when given, follows the service's message: what the emulator knows went wrong.
    """
    return DMSError(500, "DMS.00500000", "Internal service error." + (f" {detail}" if detail else ""))


# The body each injectable status answers with: the codes the real service or its gateway uses for that
# status, and for 502/503/504 (whose real codes are not documented) the emulator's own.
_FAULT_BODIES: dict[int, tuple[str, str, bool]] = {
    400: ("DMS.00400062", "Invalid request parameter.", False),
    401: ("APIGW.0301", "Incorrect IAM authentication information: verify aksk signature fail", True),
    403: ("APIGW.0302", "The IAM user is not authorized to access the API.", True),
    404: ("DMS.00404022", "This instance does not exist.", False),
    413: ("APIGW.0201", _REQUEST_TOO_LARGE, True),
    429: ("APIG.0308", "The throttling threshold has been reached.", True),
    500: ("DMS.00500000", "Internal service error.", False),
    502: ("DMS.00502000", "Bad gateway.", False),
    503: ("DMS.00503000", "Service temporarily unavailable.", False),
    504: ("DMS.00504000", "Gateway timeout.", False),
}

#: The statuses `POST /_emulator/faults` can inject (200 means: delay only, then send normally).
FAULT_STATUSES = frozenset(_FAULT_BODIES)


def fault_for_status(status: int, retry_after: int | None) -> InjectedFaultError:
    """The injected failure for `status`, with the Huawei body that status carries."""
    error_code, error_msg, gateway = _FAULT_BODIES[status]
    return InjectedFaultError(status, error_code, error_msg, gateway=gateway, retry_after=retry_after)
