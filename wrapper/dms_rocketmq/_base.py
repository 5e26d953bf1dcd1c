"""What `Client` and `AsyncClient` share: settings, authentication, the request body and the retry decision."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Generic, TypeAlias, TypeVar

import attrs
import httpx
from dms_rocketmq_api import AuthenticatedClient
from dms_rocketmq_api import Client as GeneratedClient
from dms_rocketmq_api.models.engine import Engine
from dms_rocketmq_api.models.message_property_name import MessagePropertyName
from dms_rocketmq_api.models.send_message_properties_req_entity import SendMessagePropertiesReqEntity
from dms_rocketmq_api.models.send_message_request_body import SendMessageRequestBody

from ._auth import MASK, AKSKAuth, TokenAuth
from ._bulk_policy import may_have_been_stored
from ._config import Settings, check_connections, check_timeout, resolve_settings
from ._constants import DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, USER_AGENT
from ._exceptions import APIError, APIStatusError, ConfigurationError, RateLimitError
from ._flight import retrying
from ._network import CertTypes, Network, VerifyTypes
from ._rate import throttle_listener
from ._retry import retry_delay, should_retry
from ._transport import TimeoutTypes, as_timeout
from ._validation import body_text, check_request_size, keys_value, tag_value, topic_name

__all__ = ["ApiClient", "BaseClient", "request_body"]

logger = logging.getLogger("dms_rocketmq")

ApiClient: TypeAlias = GeneratedClient | AuthenticatedClient
#: The httpx transport a client takes in place of its own: a sync one for `Client`, an async one for `AsyncClient`.
TransportT = TypeVar("TransportT", httpx.BaseTransport, httpx.AsyncBaseTransport)


@attrs.define(repr=False)
class _TokenApiClient(AuthenticatedClient):
    """The generated `AuthenticatedClient`, whose attrs repr would print the IAM token, with a masked one."""

    def __repr__(self) -> str:
        name = self.auth_header_name
        return f"AuthenticatedClient(base_url={self._base_url!r}, token={MASK!r}, auth_header_name={name!r})"


def request_body(topic: str, body: str | bytes, keys: Any, tags: Any) -> SendMessageRequestBody:
    """The generated request model of one send, after the local checks of every field."""
    properties = []
    keys_text = keys_value(keys)
    if keys_text is not None:
        properties.append(SendMessagePropertiesReqEntity(name=MessagePropertyName.KEYS, value=keys_text))
    tag = tag_value(tags)
    if tag is not None:
        properties.append(SendMessagePropertiesReqEntity(name=MessagePropertyName.TAGS, value=tag))
    request = SendMessageRequestBody(topic=topic_name(topic), body=body_text(body), property_list=properties)
    check_request_size(request)
    return request


def _check_options(timeout: object, max_connections: object, transport: object, **texts: object) -> None:
    """Refuse, at construction, the options a send would otherwise trip over much later."""
    check_timeout(timeout)
    check_connections(max_connections)
    for name, value in texts.items():  # paths and URLs: text the system can name (no NUL, no lone surrogate)
        for part in value if isinstance(value, tuple) else (value,):
            if isinstance(part, str) and any(char == "\x00" or 0xD800 <= ord(char) <= 0xDFFF for char in part):
                raise ConfigurationError(f"{name} is not a path or URL the system can name (a NUL, a lone surrogate).")
    if transport is not None and not isinstance(transport, httpx.BaseTransport | httpx.AsyncBaseTransport):
        raise ConfigurationError(f"transport must be an httpx transport, got {type(transport).__name__}.")


def _retry_statuses(statuses: object) -> frozenset[int]:
    """The statuses a caller opted in to retry, checked: error statuses (400-599) as whole numbers."""
    if isinstance(statuses, str | bytes | Mapping) or not isinstance(statuses, Iterable):
        raise ConfigurationError(f"retry_statuses must be a collection of HTTP statuses, got {statuses!r}.")
    checked = frozenset(statuses)
    for status in checked:
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
            raise ConfigurationError(f"retry_statuses must hold error statuses (400-599), got {status!r}.")
    return checked


class BaseClient(Generic[TransportT]):
    """Settings, authentication and the retry decision shared by `Client` and `AsyncClient` (no I/O here).

    The one constructor of both: every argument is checked and resolved here, then `_connect` (each client's)
    opens what that client sends with. `TransportT` is the kind of httpx transport the client takes.
    """

    _api: ApiClient

    def __init__(
        self,
        *,
        region: str | None = None,
        endpoint: str | None = None,
        project_id: str | None = None,
        instance_id: str | None = None,
        ak: str | None = None,
        sk: str | None = None,
        security_token: str | None = None,
        token: str | None = None,
        engine: str | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_statuses: Iterable[int] = (),
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        transport: TransportT | None = None,
        environ: Mapping[str, str] | None = None,
        verify: VerifyTypes = True,
        cert: CertTypes = None,
        proxy: str | None = None,
    ) -> None:
        _check_options(timeout, max_connections, transport, verify=verify, cert=cert, proxy=proxy)
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise ConfigurationError(f"max_retries must be a whole number >= 0, got {max_retries!r}.")
        self.retry_statuses = _retry_statuses(retry_statuses)
        self._settings = resolve_settings(
            region=region,
            endpoint=endpoint,
            project_id=project_id,
            instance_id=instance_id,
            ak=ak,
            sk=sk,
            security_token=security_token,
            token=token,
            engine=engine,
            environ=environ,
        )
        settings = self._settings
        self._engine = Engine(settings.engine)
        self.timeout = as_timeout(timeout)
        self.max_retries = max_retries
        # TLS, proxy, timeouts and pool size of every request, read from the same `environ` as the settings.
        self._network = Network(
            settings.endpoint,
            verify=verify,
            cert=cert,
            proxy=proxy,
            timeout=self.timeout,
            max_connections=max_connections,
            environ=environ,
        )
        self._auth: httpx.Auth
        if settings.token:
            self._auth = TokenAuth(settings.token, project_id=settings.project_id)
            self._api = _TokenApiClient(
                base_url=settings.endpoint,
                token=settings.token,
                prefix="",
                auth_header_name="X-Auth-Token",
                timeout=self.timeout,
            )
        else:
            assert settings.ak is not None
            assert settings.sk is not None
            self._auth = AKSKAuth(settings.ak, settings.sk, settings.security_token, project_id=settings.project_id)
            self._api = GeneratedClient(base_url=settings.endpoint, timeout=self.timeout)
        self._connect(transport)

    def _connect(self, transport: TransportT | None) -> None:
        """Open what the client sends with (its HTTP clients, its direct sender), given `transport` or None."""
        raise NotImplementedError

    @property
    def settings(self) -> Settings:
        """The resolved settings (secrets masked in its repr)."""
        return self._settings

    @property
    def api_client(self) -> ApiClient:
        """The generated `dms_rocketmq_api` client, authenticated, for anything the wrapper does not cover."""
        return self._api

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._settings!r})"

    @property
    def network(self) -> Network:
        """The network settings every request goes out with: TLS context, proxy, timeouts, pool size."""
        return self._network

    def _http_options(self, transport: object = None) -> dict[str, Any]:
        network = self._network.httpx_options()
        if transport is not None:
            network["proxy"] = None  # httpx would route proxied requests around the given transport
        return {
            **network,
            "base_url": self._settings.endpoint,
            "auth": self._auth,
            "timeout": self.timeout,
            # X-Project-Id as a default header: the auth classes would add it to every request otherwise.
            "headers": {"User-Agent": USER_AGENT, "X-Project-Id": self._settings.project_id},
            "follow_redirects": False,
        }

    @staticmethod
    def _retries_for(max_retries: int | None, default: int) -> int:
        if max_retries is None:
            return default
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise ConfigurationError(f"max_retries must be a whole number >= 0, got {max_retries!r}.")
        return max_retries

    def _next_delay(
        self, error: APIError, retries_taken: int, max_retries: int, *, idempotent: bool = False
    ) -> float | None:
        """Seconds to wait before retrying after `error`, or None when it must be raised.

        The one decision of every retry loop (`_client._call_with_retries`). A send to be retried is off the
        wire during the backoff, and in doubt from then on if this attempt may have stored it (`_flight`).
        """
        if isinstance(error, RateLimitError):
            listener = throttle_listener.get()
            if listener is not None:  # send_many slows down on 429s, not only retries them
                listener()
        if retries_taken >= max_retries or not should_retry(error, self.retry_statuses, idempotent=idempotent):
            return None
        retry_after = error.response.headers.get("Retry-After") if isinstance(error, APIStatusError) else None
        delay = retry_delay(retries_taken, retry_after)
        what = "Query" if idempotent else "Send"
        logger.info("%s failed (%s); retry %d of %d in %.2f s", what, error, retries_taken + 1, max_retries, delay)
        if not idempotent:
            retrying(may_have_been_stored(error))
        return delay
