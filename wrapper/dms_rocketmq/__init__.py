"""Python client for the HTTP message API of Huawei Cloud DMS for RocketMQ: send, query, confirm.

```python
from dms_rocketmq import Client

with Client() as client:  # settings from HUAWEICLOUD_SDK_* and DMS_ROCKETMQ_* environment variables
    result = client.send("orders", "hello", keys="order-1042")
    print(client.confirm(result).stored_at)  # read back and compared with what was sent
```
"""

from ._auth import AKSKAuth, TokenAuth, canonical_url, sign_request
from ._client import AsyncClient, Client
from ._config import REGION_ENDPOINTS, Settings
from ._constants import VERSION
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CertificateError,
    ConfigurationError,
    ConfirmationError,
    DMSError,
    InternalServerError,
    MalformedResponseError,
    MessageMismatchError,
    MessageNotVisibleError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    ProxyError,
    RateLimitError,
    SendCancelledError,
    TLSError,
    UnexpectedStatusError,
    ValidationError,
)
from ._models import Message, SendFailure, SendOutcome, SendResult, StoredMessage
from ._retry import set_testing

__version__ = VERSION

__all__ = [
    "REGION_ENDPOINTS",
    "AKSKAuth",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "CertificateError",
    "Client",
    "ConfigurationError",
    "ConfirmationError",
    "DMSError",
    "InternalServerError",
    "MalformedResponseError",
    "Message",
    "MessageMismatchError",
    "MessageNotVisibleError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "ProxyError",
    "RateLimitError",
    "SendCancelledError",
    "SendFailure",
    "SendOutcome",
    "SendResult",
    "Settings",
    "StoredMessage",
    "TLSError",
    "TokenAuth",
    "UnexpectedStatusError",
    "ValidationError",
    "__version__",
    "canonical_url",
    "set_testing",
    "sign_request",
]
