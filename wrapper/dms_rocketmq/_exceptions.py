"""The exceptions of `dms_rocketmq`, all rooted in `DMSError`.

```
DMSError
├── ConfigurationError          a required setting is missing or invalid (names the argument and env var)
├── ValidationError             a message or query breaks a DMS rule; raised before sending (also ValueError)
├── SendCancelledError          send_many stopped before this message's answer: not sent, or in doubt
├── ConfirmationError           `confirm` could not show that the service stored what was sent
│   ├── MessageNotVisibleError  the query did not find the message before the deadline
│   └── MessageMismatchError    the stored message differs from the sent one; `differences` names each field
└── APIError                    a request failed; carries `request_id` when the server sent one
    ├── APIConnectionError      no HTTP response: connection refused, reset, DNS, TLS...
    │   ├── APITimeoutError     the request timed out
    │   ├── TLSError            the TLS handshake failed (HTTPS spoken to a plain-HTTP port, or the reverse)
    │   │   └── CertificateError    the server's certificate is untrusted, expired or for another host
    │   └── ProxyError          the proxy refused the connection or asked for authentication
    ├── MalformedResponseError  a 200 whose body is not the documented JSON
    └── APIStatusError          a non-success status; `status_code`, `error_code`, `error_msg`, `response`
        ├── BadRequestError         400
        ├── AuthenticationError     401 (`likely_causes` of an APIGW.0301)
        ├── PermissionDeniedError   403
        ├── NotFoundError           404
        ├── PayloadTooLargeError    413
        ├── RateLimitError          429
        ├── InternalServerError     >= 500
        └── UnexpectedStatusError   any other status the API does not document
```

`status_error_from_response` is the one place that picks the class for a response.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from ._auth_failures import GATEWAY_AUTH_ERROR, likely_causes, signing_steps_of

if TYPE_CHECKING:
    from ._models import StoredMessage

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CertificateError",
    "ConfigurationError",
    "ConfirmationError",
    "DMSError",
    "InternalServerError",
    "MalformedResponseError",
    "MessageMismatchError",
    "MessageNotVisibleError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "ProxyError",
    "RateLimitError",
    "SendCancelledError",
    "TLSError",
    "UnexpectedStatusError",
    "ValidationError",
    "parse_error_body",
    "status_error_from_response",
]


class DMSError(Exception):
    """The base class of every exception raised by `dms_rocketmq`."""


class ConfigurationError(DMSError):
    """A setting the client needs is missing or invalid; the message names the argument and the env var."""


class ValidationError(DMSError, ValueError):
    """The message breaks a rule of DMS for RocketMQ; nothing was sent. The message says what to change."""


class SendCancelledError(DMSError):
    """`send_many` stopped (Ctrl-C, cancellation, a fail-fast stop) before this message got an answer.

    `request_sent` is False when the message was never sent (sending it again cannot duplicate it), True
    when its send was abandoned in flight: it may have been stored. `reason` says why sending stopped.
    """

    request_sent: bool
    reason: str

    def __init__(self, reason: str, *, request_sent: bool) -> None:
        what = "abandoned in flight, it may have been stored" if request_sent else "not sent"
        super().__init__(f"{what}: {reason}")
        self.request_sent = request_sent
        self.reason = reason


class ConfirmationError(DMSError):
    """`confirm` could not show that the service stored the message as it was sent.

    `msg_id` and `topic` name the message; see the two subclasses for which way it failed.
    """

    msg_id: str
    topic: str

    def __init__(self, message: str, *, msg_id: str, topic: str) -> None:
        super().__init__(message)
        self.msg_id = msg_id
        self.topic = topic


class MessageNotVisibleError(ConfirmationError):
    """The query did not return the message within `timeout` seconds (`attempts` queries were made).

    The send was acknowledged, so the message may still appear: the service indexes messages with a lag.
    """

    timeout: float
    attempts: int

    def __init__(self, message: str, *, msg_id: str, topic: str, timeout: float, attempts: int) -> None:
        super().__init__(message, msg_id=msg_id, topic=topic)
        self.timeout = timeout
        self.attempts = attempts


class MessageMismatchError(ConfirmationError):
    """The service stored the message, but not as it was sent.

    `differences` maps each field that differs (`body`, `keys`, `tags`, `topic`, `queue_id`,
    `queue_offset`) to the pair `(sent, stored)`; `stored` is the message as the service returned it.
    """

    differences: Mapping[str, tuple[Any, Any]]
    stored: StoredMessage

    def __init__(
        self,
        message: str,
        *,
        msg_id: str,
        topic: str,
        differences: Mapping[str, tuple[Any, Any]],
        stored: StoredMessage,
    ) -> None:
        super().__init__(message, msg_id=msg_id, topic=topic)
        self.differences = differences
        self.stored = stored


class APIError(DMSError):
    """A request failed. `request_id` is the server's `X-Request-Id` when a response arrived, else None."""

    request_id: str | None

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


class APIConnectionError(APIError):
    """No HTTP response was received (connection refused or reset, DNS or TLS failure...).

    `request_sent` is False when the failure certainly happened before the request left the client (so the
    message was not stored), True when it may have reached the server.
    """

    request_sent: bool

    def __init__(self, message: str = "Connection error.", *, request_sent: bool = True) -> None:
        super().__init__(message)
        self.request_sent = request_sent


class APITimeoutError(APIConnectionError):
    """The request timed out (connecting, writing, reading or waiting for a pooled connection)."""

    def __init__(self, message: str = "Request timed out.", *, request_sent: bool = True) -> None:
        super().__init__(message, request_sent=request_sent)


class TLSError(APIConnectionError):
    """The TLS handshake with the endpoint (or the proxy) failed: nothing was sent (`request_sent` is False)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, request_sent=False)


class CertificateError(TLSError):
    """The server's certificate could not be verified: untrusted, expired, or issued for another host.

    The message says which, and how to trust a private CA (`verify=`, `--ca-bundle`, `SSL_CERT_FILE`).
    """


class ProxyError(APIConnectionError):
    """The proxy could not be reached, refused the tunnel, or asked for authentication (`request_sent` False)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, request_sent=False)


class MalformedResponseError(APIError):
    """The server answered 200 but the body is not the documented JSON; the message may have been stored."""

    status_code: int
    response: httpx.Response

    def __init__(self, message: str, *, response: httpx.Response) -> None:
        super().__init__(message, request_id=response.headers.get("X-Request-Id"))
        self.status_code = response.status_code
        self.response = response


class APIStatusError(APIError):
    """The server answered with a status other than 200.

    `error_code` and `error_msg` come from the Huawei error body (`{"error_code", "error_msg"}`); when the
    body is not JSON, as the official SDK does, `error_msg` is the raw text and `error_code` the status.
    """

    status_code: int
    error_code: str
    error_msg: str
    response: httpx.Response

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        error_code: str,
        error_msg: str,
        request_id: str | None,
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.status_code = response.status_code
        self.error_code = error_code
        self.error_msg = error_msg
        self.response = response


class BadRequestError(APIStatusError):
    """400: the request is invalid (unknown topic, bad field, malformed JSON, message too large...)."""


class AuthenticationError(APIStatusError):
    """401: the signature, the AK or the token was refused.

    For the gateway's `APIGW.0301`, `likely_causes` lists the causes that fit what the client knows (clock
    skew and by how much, an unknown AK, a signature that did not verify), and the message ends with them.
    """

    likely_causes: tuple[str, ...] = ()

    def canonical_request(self) -> str | None:
        """The canonical request the client signed, credential headers masked (None if it was not signed)."""
        try:
            request = self.response.request
        except RuntimeError:
            return None
        steps = signing_steps_of(request)
        return None if steps is None else steps.masked_canonical_request()


class PermissionDeniedError(APIStatusError):
    """403: authenticated, but not allowed to send (or the tenant is frozen)."""


class NotFoundError(APIStatusError):
    """404: the instance, the engine or the URL does not exist."""


class PayloadTooLargeError(APIStatusError):
    """413: the request is larger than the gateway accepts (see the spec's PayloadTooLarge)."""


class RateLimitError(APIStatusError):
    """429: throttled; retried automatically when the code is the gateway's `APIG.0308`."""


class InternalServerError(APIStatusError):
    """A 5xx status; retried only when the client was given it in `retry_statuses` (it may have been stored)."""


class UnexpectedStatusError(APIStatusError):
    """A status the API does not document (such as 405, 409 or a redirect)."""


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: PayloadTooLargeError,
    429: RateLimitError,
}

#: The code/message pairs the official SDK tries, in its order (exception_handler.py).
_ERROR_FIELD_PAIRS = (("error_code", "error_msg"), ("errorCode", "errorMsg"), ("code", "message"))


def parse_error_body(status_code: int, content: bytes) -> tuple[str, str]:
    """Return `(error_code, error_msg)` from an error body, the way Huawei's official SDK reads it."""
    text = content.decode("utf-8", errors="replace")
    try:
        document: Any = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the json module can follow
        return str(status_code), text
    if isinstance(document, dict):
        for code_field, msg_field in _ERROR_FIELD_PAIRS:
            code = document.get(code_field)
            if code is not None:
                msg = document.get(msg_field)
                return str(code), "" if msg is None else str(msg)
    return str(status_code), text


def status_error_from_response(response: httpx.Response) -> APIStatusError:
    """Build the `APIStatusError` subclass that matches a response's status (not raised: returned)."""
    status = response.status_code
    cls = _STATUS_CLASSES.get(status)
    if cls is None:
        cls = InternalServerError if status >= 500 else UnexpectedStatusError
    error_code, error_msg = parse_error_body(status, response.content)
    request_id = response.headers.get("X-Request-Id")
    message = f"{status} {error_code}: {error_msg}"
    if request_id:
        message += f" (request id {request_id})"
    causes: list[str] = []
    if cls is AuthenticationError and error_code == GATEWAY_AUTH_ERROR:
        causes = likely_causes(response, error_msg)
        message += "".join(f"\n  likely cause: {cause}" for cause in causes)
    error = cls(message, response=response, error_code=error_code, error_msg=error_msg, request_id=request_id)
    if isinstance(error, AuthenticationError):
        error.likely_causes = tuple(causes)
    return error
