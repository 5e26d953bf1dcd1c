"""Authentication for the `requests` library, built on the same signer as the httpx classes.

```python
import requests
from dms_rocketmq.auth_requests import AKSKAuth

requests.post(url, json=message, auth=AKSKAuth(ak, sk, project_id=project_id))
```

`requests` is not a dependency of `dms-rocketmq`: install it yourself (schemathesis brings it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._auth import MASK, SECRET_HEADERS, canonical_url, check_header_values, headers_to_sign, sign_request

if TYPE_CHECKING:
    from requests import PreparedRequest

__all__ = ["AKSKAuth", "TokenAuth"]


def _auth_base() -> type[Any]:
    # Imported lazily so that `import dms_rocketmq` works without requests installed.
    try:
        from requests.auth import AuthBase
    except ImportError as exc:  # pragma: no cover - exercised only without requests
        raise ImportError("dms_rocketmq.auth_requests needs the `requests` package: pip install requests") from exc
    return AuthBase


def _mask_sent_secrets(response: Any, *_args: Any, **_kwargs: Any) -> Any:
    # A response hook: once sent, the request's credential headers read `[secure]`, so that printing
    # `response.request.headers` (or an HTTPError's) shows no token; requests masks none itself.
    headers = response.request.headers
    for name in SECRET_HEADERS:
        if name in headers:
            headers[name] = MASK
    return response


class AKSKAuth(_auth_base()):  # type: ignore[misc]
    """A `requests` auth that signs each request with AK/SK (SDK-HMAC-SHA256), like the httpx `AKSKAuth`."""

    def __init__(self, ak: str, sk: str, security_token: str | None = None, *, project_id: str | None = None) -> None:
        if not ak or not sk:
            raise ValueError("AKSKAuth needs a non-empty ak and sk")
        check_header_values("AKSKAuth", ak=ak, security_token=security_token, project_id=project_id)
        self.ak = ak
        self._sk = sk
        self.security_token = security_token
        self.project_id = project_id

    def __repr__(self) -> str:
        return f"AKSKAuth(ak={self.ak!r}, sk='***')"

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        """Sign a prepared request in place (requests calls this again for each redirect or retry).

        The query is put in its canonical encoding first (space `%20`, plus `%2B`, pairs sorted): what is
        signed is exactly what is sent.
        """
        request.url = canonical_url(request.url or "")
        headers = request.headers
        # A stale signature from an earlier call must not be signed over; an X-Sdk-Date is kept on purpose.
        headers.pop("Authorization", None)
        if self.project_id and "X-Project-Id" not in headers:
            headers["X-Project-Id"] = self.project_id
        if self.security_token:
            headers["X-Security-Token"] = self.security_token
        body = request.body
        if body is not None and not isinstance(body, bytes | str):
            raise TypeError("AKSKAuth signs bodies given as bytes or str, not streams or files")
        pairs = headers_to_sign((str(k), str(v)) for k, v in headers.items())
        # requests leaves Host to http.client; sign_request adds it from the URL and we send it as signed.
        added = sign_request(request.method or "GET", request.url or "", pairs, body, self.ak, self._sk)
        headers.update(added)
        if self.security_token:
            request.register_hook("response", _mask_sent_secrets)
        return request


class TokenAuth(_auth_base()):  # type: ignore[misc]
    """A `requests` auth that sends an IAM token in `X-Auth-Token`."""

    def __init__(self, token: str, *, project_id: str | None = None) -> None:
        if not token:
            raise ValueError("TokenAuth needs a non-empty token")
        check_header_values("TokenAuth", token=token, project_id=project_id)
        self._token = token
        self.project_id = project_id

    def __repr__(self) -> str:
        return "TokenAuth(token='***')"

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        """Add the token (and `X-Project-Id` when known) to a prepared request."""
        request.headers["X-Auth-Token"] = self._token
        if self.project_id and "X-Project-Id" not in request.headers:
            request.headers["X-Project-Id"] = self.project_id
        request.register_hook("response", _mask_sent_secrets)
        return request
