"""The one owner of network settings: TLS, client certificate, proxy, timeouts, pool limits, and failures.

Every request of `Client` and `AsyncClient` (send, send_many, iter_send, get_message, query_messages, confirm)
goes out with what one `Network` decided, whichever HTTP library carries it. A sender:

- gets its TLS context from `network.ssl_context`: one `ssl.SSLContext`, built once in `Network.__init__`
  from `verify=` and `cert=` (or `SSL_CERT_FILE`/`SSL_CERT_DIR`, or the default trust store), shared by every
  pool and every event loop. Hand it to the library as is (httpx `verify=`, aiohttp `ssl=`,
  `http.client.HTTPSConnection(context=...)`); never build another.
- gets its proxy decision from `network.proxy`: a `Proxy` (the URL without credentials, host, port, the
  `Proxy-Authorization` header value, a masked form for messages) or None for a direct connection. It is
  decided once for the client's one endpoint: the `proxy=` argument, else `HTTPS_PROXY`/`HTTP_PROXY`
  (by the endpoint's scheme), else `ALL_PROXY`, unless `NO_PROXY` exempts the endpoint's host. The libraries
  must not read the environment again (httpx `trust_env=False`, aiohttp without `trust_env`).
- gets its timeouts from `network.timeout` (an `httpx.Timeout`: connect, read, write, pool) and its pool size
  from `network.max_connections`; `httpx_options()` and `aiohttp_connector()` apply all of the above to those
  two libraries.
- keeps one pool per event loop with `LoopPools` (a pool is closed when its loop shuts down or by `aclose`).
- maps any failure without an HTTP response with `network.failure(exc, request_sent=..., timeout_phase=...)`:
  TLS failures (found anywhere in the exception's cause chain) become `TLSError`/`CertificateError`, proxy
  failures `ProxyError`, the rest `APIConnectionError`/`APITimeoutError` worded by `connection_failure`.
  `network.httpx_failure(exc)` (blocking; `await network.httpx_failure_async(exc)` in a loop) and
  `await network.aiohttp_failure_async(exc)` decide `request_sent` and the timeout phase for those two
  libraries' exceptions first, and, when an http:// endpoint closed the connection without a word, probe
  whether its port speaks TLS (`speaks_tls`, bounded by `TLS_PROBE_SECONDS`) to say so. A sender with its own
  HTTP code does the same: `network.failure(...)`, then `network.tls_port_error()` if `may_be_tls_port(exc)`
  (closed or reset without a word) and `speaks_tls()`. A
  CONNECT answered with a status other than 2xx is `network.proxy_refused(status, reason)`.

This module imports only the standard library, httpx, the wrapper's exceptions and its argument checks
(`_config`) at import time (aiohttp and truststore when first needed), so that a sender can use it on its own.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import ssl
import urllib.request
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any, Generic, NamedTuple, TypeAlias, TypeVar
from urllib.parse import unquote, urlsplit

import httpx

from ._config import check_connections
from ._exceptions import APIConnectionError, APITimeoutError, CertificateError, ConfigurationError, ProxyError, TLSError

__all__ = [
    "CertTypes",
    "LoopPools",
    "Network",
    "Proxy",
    "VerifyTypes",
    "aiohttp_failure",
    "connection_failure",
    "default_trust",
    "failure_reason",
    "httpx_failure",
    "proxy_from_environment",
]

VerifyTypes: TypeAlias = bool | str | os.PathLike[str] | ssl.SSLContext
CertTypes: TypeAlias = str | os.PathLike[str] | tuple[str, str] | tuple[str, str, str] | None

#: The longest the probe for "http:// spoken to an HTTPS port" may take. A TLS server answers a ClientHello in
#: one round trip; a plain-HTTP server that closed a connection without answering (an idle keep-alive closed,
#: a crash) may instead sit on the probe, and that wait is added to the error the caller is waiting for.
TLS_PROBE_SECONDS = 1.0

#: The variables that name a trust store, as OpenSSL, httpx and requests read them: they replace the default.
CA_FILE_ENV = "SSL_CERT_FILE"
CA_DIR_ENV = "SSL_CERT_DIR"


def _env(environ: Mapping[str, str], name: str) -> str | None:
    """A proxy variable as curl and the standard library read it: the lower-case name first, then upper case."""
    for key in (name.lower(), name.upper()):
        value = environ.get(key)
        if value is not None:
            return value.strip()
    return None


def proxy_from_environment(url: str, environ: Mapping[str, str]) -> str | None:
    """The proxy for `url` from `environ`: `HTTPS_PROXY`/`HTTP_PROXY` by scheme, else `ALL_PROXY`; None when
    `NO_PROXY` exempts the host (the standard library's matching: suffixes, `*`, host:port) or none is set."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    no_proxy = _env(environ, "no_proxy")
    # proxy_bypass_environment is public in the standard library but missing from typeshed.
    bypass: Callable[[str, dict[str, str]], bool] = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if no_proxy and bypass(host, {"no": no_proxy}):
        return None
    return _env(environ, f"{parts.scheme}_proxy") or _env(environ, "all_proxy") or None


class Proxy(NamedTuple):
    """A proxy to reach the endpoint through: HTTP CONNECT for https:// endpoints, forwarding for http://."""

    url: str  # without credentials: scheme://host:port
    host: str
    port: int
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> Proxy:
        """Check and split a proxy URL (`http://[USER:PASSWORD@]HOST[:PORT]`); ConfigurationError if it is not one."""
        text = url if "://" in url else "http://" + url  # as curl: a bare host:port is an HTTP proxy
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as exc:
            raise ConfigurationError(f"proxy {_mask(url)!r} is not a URL: {exc}.") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"proxy must be an http:// or https:// URL with a host (http://HOST:PORT), got {_mask(url)!r}."
            )
        port = port or (443 if parts.scheme == "https" else 80)
        host = parts.hostname
        shown = f"[{host}]" if ":" in host else host
        user = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        address = f"{parts.scheme}://{shown}:{port}"
        try:  # what urlsplit lets through and httpx cannot encode (a control character, an invalid IDNA host)
            httpx.URL(address)
        except httpx.InvalidURL as exc:
            raise ConfigurationError(f"proxy {_mask(url)!r} is not a URL: {exc}.") from None
        return cls(address, host, port, user, password)

    @property
    def authorization(self) -> str | None:
        """The `Proxy-Authorization` header value (Basic), or None without credentials."""
        if self.username is None:
            return None
        pair = f"{self.username}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def __repr__(self) -> str:  # never the password
        return f"Proxy({self.display!r})"

    @property
    def display(self) -> str:
        """The proxy for messages: its URL, with the user name but never the password."""
        if self.username is None:
            return self.url
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://{self.username}:***@{rest}"


def _mask(url: str) -> str:
    """`url` with the password of its user part replaced by `***`."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, hostpart = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{hostpart}"


def default_trust() -> ssl.SSLContext:
    """The default trust store: the operating system's, through truststore (as pip does).

    A company CA installed the way the operating system trusts it (update-ca-certificates, the macOS keychain,
    the Windows store) is then trusted by every path of the client, and the Huawei endpoints' public CAs
    are in every system store. certifi's bundle would ignore such a CA; `SSL_CERT_FILE`, `verify=` and
    `--ca-bundle` name another bundle explicitly.
    """
    import truststore

    context: ssl.SSLContext = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return context


def _ca_context(cafile: str | None, capath: str | None, origin: str) -> ssl.SSLContext:
    for path, kind in ((cafile, "file"), (capath, "directory")):
        # os.path's checks are False for a name the system refuses (too long...), where Path's raise.
        if path is not None and not (os.path.isfile(path) if kind == "file" else os.path.isdir(path)):
            raise ConfigurationError(f"{origin} names {path!r}, which is not a readable CA {kind}.")
    try:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigurationError(f"{origin} names {cafile or capath!r}, which holds no usable CA: {exc}.") from None


def build_ssl_context(verify: VerifyTypes, cert: CertTypes, environ: Mapping[str, str]) -> tuple[ssl.SSLContext, str]:
    """The one TLS context of a client, and a description of what it trusts (for error messages)."""
    if isinstance(verify, ssl.SSLContext):
        if cert is not None:
            raise ConfigurationError(
                "give cert= or load the client certificate into your verify= SSLContext, not both."
            )
        return verify, "the SSLContext given as verify="
    if isinstance(verify, bool):
        if not verify:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            trust = "nothing: certificate checks are off (verify=False)"
        elif environ.get(CA_FILE_ENV) or environ.get(CA_DIR_ENV):
            cafile, capath = environ.get(CA_FILE_ENV) or None, environ.get(CA_DIR_ENV) or None
            named = " and ".join(f"{n}={v}" for n, v in ((CA_FILE_ENV, cafile), (CA_DIR_ENV, capath)) if v)
            context = _ca_context(cafile, capath, named)
            trust = f"the CAs of {named}"
        else:
            context = default_trust()
            trust = "the operating system's trust store"
    elif isinstance(verify, str | os.PathLike):
        path = os.fspath(verify)
        if os.path.isdir(path):  # False for a name the system refuses (too long...): _ca_context then says why
            context = _ca_context(None, path, f"verify={path!r}")
        else:
            context = _ca_context(path, None, f"verify={path!r}")
        trust = f"the CAs of {path}"
    else:
        raise ConfigurationError(
            f"verify must be True, False, a CA file or directory path, or an ssl.SSLContext, got {verify!r}."
        )
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None:
        _load_client_certificate(context, cert)
    return context, trust


def _load_client_certificate(context: ssl.SSLContext, cert: CertTypes) -> None:
    if isinstance(cert, str | os.PathLike):
        certfile, keyfile, password = os.fspath(cert), None, None
    elif isinstance(cert, tuple) and len(cert) in (2, 3) and all(isinstance(part, str) for part in cert):
        certfile, keyfile = cert[0], cert[1]
        password = cert[2] if len(cert) == 3 else None
    else:
        raise ConfigurationError(
            "cert must be a PEM file path (certificate and key), or (certificate file, key file[, password])."
        )
    try:
        context.load_cert_chain(certfile, keyfile, password)
    except (ssl.SSLError, OSError) as exc:
        # Never the password; the file names only.
        raise ConfigurationError(
            f"cert: cannot load the client certificate {certfile!r}: {exc.strerror or exc}."
        ) from None


class Network:
    """What every request of one client goes out with; see the module docstring for how a sender uses it.

    `environ` is where `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY` and `SSL_CERT_FILE`/`SSL_CERT_DIR`
    are read (the client's own `environ`, `os.environ` by default), once, here.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        verify: VerifyTypes = True,
        cert: CertTypes = None,
        proxy: str | None = None,
        timeout: httpx.Timeout,
        max_connections: int,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        check_connections(max_connections)
        source: Mapping[str, str] = os.environ if environ is None else environ
        self.endpoint = endpoint
        self.timeout = timeout
        self.max_connections = max_connections
        self.ssl_context, self.trust = build_ssl_context(verify, cert, source)
        self.verify_off = verify is False
        if proxy is not None and not isinstance(proxy, str):
            raise ConfigurationError(f"proxy must be a URL such as http://HOST:PORT, or '' for none, got {proxy!r}.")
        chosen = proxy if proxy is not None else proxy_from_environment(endpoint, source)
        self.proxy: Proxy | None = Proxy.parse(chosen) if chosen else None

    def __repr__(self) -> str:
        proxy = self.proxy.display if self.proxy is not None else None
        return f"Network(endpoint={self.endpoint!r}, proxy={proxy!r}, trust={self.trust!r})"

    @property
    def tls(self) -> bool:
        """Whether the endpoint is https://."""
        return self.endpoint.startswith("https://")

    # -- the two libraries ------------------------------------------------------------------------------
    def httpx_options(self) -> dict[str, Any]:
        """httpx.Client / AsyncClient options: this TLS context, proxy, pool limits; no second look at the env."""
        return {
            "verify": self.ssl_context,
            "proxy": self.httpx_proxy(),
            "trust_env": False,
            "limits": httpx.Limits(
                max_connections=self.max_connections, max_keepalive_connections=self.max_connections
            ),
        }

    def httpx_proxy(self) -> httpx.Proxy | None:
        """The proxy as httpx (and httpx-aiohttp) take it, or None."""
        if self.proxy is None:
            return None
        # Credentials as a header rather than in the URL: httpx-aiohttp would pass them to aiohttp as
        # `proxy_auth`, which aiohttp deprecates.
        authorization = self.proxy.authorization
        return httpx.Proxy(self.proxy.url, headers={"Proxy-Authorization": authorization} if authorization else None)

    def aiohttp_connector(self) -> Any:
        """An aiohttp.TCPConnector with this TLS context and pool size (make one per event loop)."""
        import aiohttp

        return aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0, ssl=self.ssl_context)

    def aiohttp_proxy(self) -> tuple[str | None, Mapping[str, str] | None]:
        """aiohttp's `proxy=` and `proxy_headers=` request arguments (the credentials as a header)."""
        if self.proxy is None:
            return None, None
        authorization = self.proxy.authorization
        return self.proxy.url, {"Proxy-Authorization": authorization} if authorization else None

    # -- failures ---------------------------------------------------------------------------------------
    def failure(
        self, exc: BaseException, *, request_sent: bool, timeout_phase: str | None = None
    ) -> APIConnectionError:
        """The one mapping of a failure without an HTTP response (any library), naming endpoint and proxy."""
        explained = _explain_tls_or_proxy(exc, self)
        if explained is not None:
            return explained
        if self.proxy is not None and not request_sent and timeout_phase is None and _os_error(exc) is not None:
            # Connections go to the proxy first: an OS-level connection failure is the proxy's.
            return ProxyError(
                f"Cannot connect to the proxy {self.proxy.display} (for {self.endpoint}): {failure_reason(exc)}."
            )
        return connection_failure(self.endpoint, exc, request_sent=request_sent, timeout_phase=timeout_phase)

    def proxy_refused(self, status: int, reason: str) -> ProxyError:
        """The proxy answered CONNECT (or a forwarded request) with `status`: say what to set."""
        shown = self.proxy.display if self.proxy is not None else "the proxy"
        text = f"The proxy {shown} refused the connection to {self.endpoint}: {status} {reason}".rstrip()
        if status == 407:
            if self.proxy is not None and self.proxy.username is not None:
                return ProxyError(f"{text}. It does not accept the user and password in its URL.")
            return ProxyError(
                f"{text}. It asks for a user and password: give them in the proxy URL, "
                "http://USER:PASSWORD@HOST:PORT (proxy=, --proxy or HTTPS_PROXY)."
            )
        return ProxyError(f"{text}.")

    def httpx_failure(self, exc: Exception) -> APIConnectionError:
        """Map an httpx transport exception (httpx's own transport or httpx-aiohttp's); may probe the port."""
        error = httpx_failure(exc, self)
        if self.may_be_tls_port(exc) and self.speaks_tls():
            return self.tls_port_error()
        return error

    async def httpx_failure_async(self, exc: Exception) -> APIConnectionError:
        """`httpx_failure` for an event loop (the probe does not block it)."""
        error = httpx_failure(exc, self)
        if self.may_be_tls_port(exc) and await self.speaks_tls_async():
            return self.tls_port_error()
        return error

    async def aiohttp_failure_async(
        self, exc: BaseException, *, request_sent: bool | None = None
    ) -> APIConnectionError:
        """Map an aiohttp exception; `request_sent` is decided from its class unless given."""
        error = aiohttp_failure(exc, self, request_sent=request_sent)
        if self.may_be_tls_port(exc) and await self.speaks_tls_async():
            return self.tls_port_error()
        return error

    # -- http:// spoken to an HTTPS port ----------------------------------------------------------------
    def may_be_tls_port(self, exc: BaseException) -> bool:
        """A TLS server closes (or resets) a connection that starts in plain text without a word: only then is
        the port probed."""
        if self.tls or self.proxy is not None:
            return False
        for current in _chain(exc):
            name = type(current).__name__
            if name == "ServerDisconnectedError" or (
                isinstance(current, httpx.RemoteProtocolError) and "without sending a response" in str(current)
            ):
                return True
            # The TLS server may also reset the connection, as the plain-text request reaches it (a FIN or a
            # reset is the operating system's choice, by timing): reading or writing then fails.
            if isinstance(current, ConnectionResetError | BrokenPipeError):
                return True
        return False

    def _probe_address(self) -> tuple[str, int, float]:
        parts = urlsplit(self.endpoint)
        connect = self.timeout.connect
        limit = TLS_PROBE_SECONDS if connect is None else min(connect, TLS_PROBE_SECONDS)
        return parts.hostname or "", parts.port or 80, limit

    @staticmethod
    def _probe_context() -> ssl.SSLContext:
        # Only to learn whether the port speaks TLS at all: nothing is sent over it, so nothing is verified.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context

    def speaks_tls(self) -> bool:
        """Whether the endpoint's port completes a TLS handshake (within `TLS_PROBE_SECONDS`, or the connect
        timeout if shorter)."""
        import socket

        host, port, limit = self._probe_address()
        try:
            with (
                socket.create_connection((host, port), timeout=limit) as raw,
                self._probe_context().wrap_socket(raw, server_hostname=host),
            ):
                return True
        except (OSError, ValueError):
            return False

    async def speaks_tls_async(self) -> bool:
        """`speaks_tls` without blocking the event loop."""
        host, port, limit = self._probe_address()
        try:
            async with asyncio.timeout(limit):
                _, writer = await asyncio.open_connection(host, port, ssl=self._probe_context(), server_hostname=host)
        except (OSError, ValueError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
        return True

    def tls_port_error(self) -> TLSError:
        """http:// spoken to a port that speaks TLS: the server closed the connection unread."""
        https = self.endpoint.replace("http://", "https://", 1)
        return TLSError(
            f"{self.endpoint} speaks HTTPS, not plain HTTP: the server closed the connection without reading "
            f"the request. Use {https}."
        )


# -- failure wording ----------------------------------------------------------------------------------------
def _chain(exc: BaseException) -> list[BaseException]:
    seen: set[int] = set()
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found.append(current)
        nested = getattr(current, "certificate_error", None) or getattr(current, "os_error", None)
        current = current.__cause__ or current.__context__ or (nested if isinstance(nested, BaseException) else None)
    return found


def _os_error(exc: BaseException) -> OSError | None:
    for current in _chain(exc):
        if isinstance(current, OSError) and not isinstance(current, ssl.SSLError) and current.errno is not None:
            return current
    return None


def failure_reason(exc: BaseException) -> str:
    """What went wrong, the same for every library: the operating system's words when there are some.

    Each library wraps the OSError (`Connection refused`, `Name or service not known`...) in its own
    exceptions with its own wording; the innermost errno's text reads the same on every path. TLS errors
    are not read by their errno (an `SSLCertVerificationError`'s errno 1 is not EPERM).
    """
    for current in _chain(exc):
        if isinstance(current, ssl.SSLError):
            return str(current.reason or current)
        if isinstance(current, OSError) and current.errno is not None:
            # asyncio words a refused connection "Connect call failed (...)"; the errno's own text does not
            # depend on the stack. DNS errors (negative codes) keep the resolver's text.
            if current.errno > 0:
                return os.strerror(current.errno)
            if current.strerror:
                return current.strerror
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def connection_failure(
    endpoint: str, exc: BaseException, *, request_sent: bool, timeout_phase: str | None = None
) -> APIConnectionError:
    """The one wording of a failure without an HTTP response, on every path, naming the endpoint.

    `timeout_phase` (`connecting`, `waiting for the response`...) makes it an `APITimeoutError`. TLS failures
    found in the exception's chain are explained (`TLSError`, `CertificateError`) whatever the caller knew.
    """
    if timeout_phase is not None:
        return APITimeoutError(f"Timed out {timeout_phase} to {endpoint}.", request_sent=request_sent)
    explained = _explain_tls_or_proxy(exc, None, endpoint)
    if explained is not None:
        return explained
    reason = failure_reason(exc)
    if request_sent:
        return APIConnectionError(
            f"Connection to {endpoint} failed; the request may have been sent: {reason}.", request_sent=True
        )
    return APIConnectionError(f"Cannot connect to {endpoint}: {reason}.", request_sent=False)


#: OpenSSL's verify codes (X509_V_ERR_*) of a certificate whose issuer is not trusted.
_UNTRUSTED = {2, 18, 19, 20, 21, 27}
_EXPIRED, _NOT_YET_VALID, _HOSTNAME_MISMATCH, _IP_MISMATCH = 10, 9, 62, 64
#: What OpenSSL says when the peer's first bytes are not TLS: the server speaks plain HTTP.
_NOT_TLS = {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL"}


def _how_to_trust(network: Network | None) -> str:
    trusted = f" (trusted: {network.trust})" if network is not None else ""
    return (
        f"{trusted}. To trust its CA: Client(verify='ca.pem'), dms-rocketmq --ca-bundle ca.pem, "
        "or SSL_CERT_FILE=ca.pem (docs/wrapper.md, HTTPS)"
    )


def _explain_tls_or_proxy(
    exc: BaseException, network: Network | None, endpoint: str | None = None
) -> APIConnectionError | None:
    endpoint = network.endpoint if network is not None else (endpoint or "the endpoint")
    host = urlsplit(endpoint).hostname or endpoint
    for current in _chain(exc):
        proxy_status = _proxy_status(current)
        if proxy_status is not None:
            status, text = proxy_status
            if network is not None:
                return network.proxy_refused(status, text)
            return ProxyError(f"The proxy refused the connection to {endpoint}: {status} {text}.")
        if type(current).__module__.startswith("aiohttp"):
            # aiohttp's TLS errors subclass ssl's without their fields: the ssl error is their cause.
            continue
        if isinstance(current, ssl.SSLCertVerificationError):
            code = current.verify_code
            detail = current.verify_message or current.reason or "certificate verify failed"
            if code in (_HOSTNAME_MISMATCH, _IP_MISMATCH):
                return CertificateError(
                    f"The certificate of {endpoint} is not issued for {host!r} ({detail}): connect with a host "
                    "name the certificate names, or ask for a certificate that names this one."
                )
            if code == _EXPIRED:
                return CertificateError(
                    f"The certificate of {endpoint} has expired ({detail}): the server must renew it "
                    "(or the clock of this machine is wrong)."
                )
            if code == _NOT_YET_VALID:
                return CertificateError(
                    f"The certificate of {endpoint} is not valid yet ({detail}): check this machine's clock."
                )
            if code in _UNTRUSTED:
                return CertificateError(
                    f"The certificate of {endpoint} is not trusted: {detail}{_how_to_trust(network)}."
                )
            return CertificateError(f"The certificate of {endpoint} was refused: {detail}{_how_to_trust(network)}.")
        if isinstance(current, ssl.SSLError):
            reason = str(current.reason or "")
            if reason in _NOT_TLS:
                return TLSError(
                    f"{endpoint} does not speak TLS ({reason}): it looks like a plain-HTTP port. "
                    f"Use {endpoint.replace('https://', 'http://', 1)} if it serves HTTP, or check the port."
                )
            return TLSError(f"The TLS handshake with {endpoint} failed: {current.reason or current}.")
    return None


def _proxy_status(exc: BaseException) -> tuple[int, str] | None:
    """The status of a refused CONNECT, from httpx's ProxyError text or aiohttp's ClientHttpProxyError."""
    module = type(exc).__module__
    if module.startswith("aiohttp") and type(exc).__name__ == "ClientHttpProxyError":
        return int(getattr(exc, "status", 0)), str(getattr(exc, "message", ""))
    if isinstance(exc, httpx.ProxyError) and not module.startswith("aiohttp"):
        words = str(exc).split(" ", 1)
        if words and words[0].isdigit():
            return int(words[0]), words[1] if len(words) > 1 else ""
    return None


_HTTPX_TIMEOUT_PHASES: tuple[tuple[type[httpx.TimeoutException], str], ...] = (
    (httpx.ConnectTimeout, "connecting"),
    (httpx.PoolTimeout, "waiting for a free connection"),
    (httpx.WriteTimeout, "sending the request"),
    (httpx.ReadTimeout, "waiting for the response"),
)


def httpx_failure(exc: Exception, where: Network | str) -> APIConnectionError:
    """Map an httpx transport exception; `request_sent` is False only when the message cannot have left."""
    cause = exc.__cause__
    from_aiohttp = cause is not None and type(cause).__module__.startswith("aiohttp")
    if from_aiohttp:
        # httpx-aiohttp reports aiohttp's disconnects ("Server disconnected", before or after the request
        # was written) as ConnectTimeout; aiohttp's own exception says what happened.
        assert cause is not None
        return aiohttp_failure(cause, where)
    sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.ProxyError)
    phase = None
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        phase = next((name for kind, name in _HTTPX_TIMEOUT_PHASES if isinstance(exc, kind)), "waiting")
    if isinstance(where, Network):
        return where.failure(exc, request_sent=sent, timeout_phase=phase)
    return connection_failure(where, exc, request_sent=sent, timeout_phase=phase)


def aiohttp_failure(
    exc: BaseException, where: Network | str, *, request_sent: bool | None = None
) -> APIConnectionError:
    """Map an aiohttp failure with `connection_failure`'s wording (aiohttp imported only when called).

    `request_sent` is False, unless given, only for aiohttp's "could not connect" errors (TLS and proxy
    failures included: they happen before the request is written).
    """
    import aiohttp

    if request_sent is None:
        request_sent = not isinstance(
            exc, aiohttp.ConnectionTimeoutError | aiohttp.ClientConnectorError | aiohttp.ClientHttpProxyError
        )
    phase = None
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        phase = "connecting"
    elif isinstance(exc, TimeoutError):
        phase = "waiting for the response"
    if isinstance(where, Network):
        return where.failure(exc, request_sent=request_sent, timeout_phase=phase)
    return connection_failure(where, exc, request_sent=request_sent, timeout_phase=phase)


# -- one pool per event loop ----------------------------------------------------------------------------------
PoolT = TypeVar("PoolT")


class _Held(NamedTuple, Generic[PoolT]):
    loop: asyncio.AbstractEventLoop
    pool: Any  # PoolT (NamedTuple generics are not checked by mypy on 3.11)
    closer: AsyncGenerator[None, None]


async def _finalise(closer: AsyncGenerator[None, None]) -> None:
    await closer.aclose()


class LoopPools(Generic[PoolT]):
    """One pool (an aiohttp session, an httpx.AsyncClient...) per event loop, made on first use in that loop.

    A pool belongs to the loop it was opened in: it is closed when that loop shuts down (`asyncio.run`
    returning: the loop finalises the async generator that holds it) or by `aclose`, whichever comes first,
    so two successive `asyncio.run` calls with one client each get a pool of their own and leak nothing.
    """

    def __init__(self, open_pool: Callable[[], PoolT], close_pool: Callable[[PoolT], Awaitable[None]]) -> None:
        self._open = open_pool
        self._close = close_pool
        # The pool of the loop used last (one attribute, so that a thread never pairs one loop's pool with
        # another's), and the pools of every loop still open.
        self._current: _Held[PoolT] | None = None
        self._held: dict[asyncio.AbstractEventLoop, _Held[PoolT]] = {}
        self.closed = False

    def current(self, loop: asyncio.AbstractEventLoop) -> PoolT | None:
        """The pool of `loop` if it was the last one used (the cheap path of every request)."""
        held = self._current
        if held is not None and held.loop is loop:
            pool: PoolT = held.pool
            return pool
        return None

    async def get(self) -> PoolT:
        """The running loop's pool, opened if it has none; RuntimeError once closed."""
        if self.closed:
            raise RuntimeError("this AsyncClient is closed; create a new one to send again.")
        loop = asyncio.get_running_loop()
        held = self._held.get(loop)
        if held is None:
            pool = self._open()
            closer = self._close_with_its_loop(loop, pool)
            await closer.__anext__()  # now suspended in this loop: its shutdown will finalise it
            held = _Held(loop, pool, closer)
            self._held[loop] = held
        self._current = held
        result: PoolT = held.pool
        return result

    async def _close_with_its_loop(self, loop: asyncio.AbstractEventLoop, pool: PoolT) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            self._held.pop(loop, None)
            current = self._current
            if current is not None and current.loop is loop:
                self._current = None
            await self._close(pool)

    async def aclose(self) -> None:
        """Close the pool of every loop still open; `get` raises RuntimeError afterwards."""
        self.closed = True
        self._current = None
        running = asyncio.get_running_loop()
        held, self._held = list(self._held.values()), {}
        for item in held:
            if item.loop is running:
                await item.closer.aclose()
            elif item.loop.is_running():  # a loop in another thread: close its pool there
                closing = asyncio.run_coroutine_threadsafe(_finalise(item.closer), item.loop)
                with contextlib.suppress(Exception):
                    await asyncio.wrap_future(closing)
            # A loop that is not running any more closed its pool when it shut down (or cannot be reached).
