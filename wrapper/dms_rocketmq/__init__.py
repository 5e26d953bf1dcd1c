"""Python client for the Send-a-message HTTP API of Huawei Cloud DMS for RocketMQ."""

from ._auth import AKSKAuth, TokenAuth, sign_request
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    DMSError,
    InternalServerError,
    MalformedResponseError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    UnexpectedStatusError,
    ValidationError,
)

__all__ = [
    "AKSKAuth",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "DMSError",
    "InternalServerError",
    "MalformedResponseError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "TokenAuth",
    "UnexpectedStatusError",
    "ValidationError",
    "sign_request",
]
