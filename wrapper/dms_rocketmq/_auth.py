"""AK/SK request signing (SDK-HMAC-SHA256) and token authentication.

`sign_request` is a pure function built from small named steps, each testable on its own; it produces the
same `Authorization` header as Huawei's official SDK (`huaweicloudsdkcore.signer.Signer`) for the same
request. `AKSKAuth` and `TokenAuth` plug it into httpx; `dms_rocketmq.auth_requests` plugs it into requests.

The query goes on the wire in one canonical encoding, the one that is signed (`canonical_url`): pairs sorted,
every byte but `A-Z a-z 0-9 - _ . ~` percent-encoded, so a space is `%20` and a plus `%2B`; a bare `+` never
leaves the client, and how a server reads one does not matter. Given a query, `+` is read as a space (as
httpx and requests write a space in `params=`), the way Huawei's SDK signer also sees it.

A header sent more than once is signed with its last value, as Huawei's signer does (it keeps one value per
name, the last one set); better not to repeat a signed header at all.

The canonical strings are logged at DEBUG level on the `dms_rocketmq.auth` logger; keys and secrets never are.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import logging
import time
from collections.abc import Generator, Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

import httpx

__all__ = [
    "ALGORITHM",
    "DATE_FORMAT",
    "AKSKAuth",
    "PrecomputedSigner",
    "SigningSteps",
    "TokenAuth",
    "authorization_header",
    "canonical_headers",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "canonical_url",
    "check_header_values",
    "format_date",
    "headers_to_sign",
    "mask_sent_secrets",
    "payload_hash",
    "sign_request",
    "signature",
    "signed_header_names",
    "signing_steps",
    "string_to_sign",
]

logger = logging.getLogger("dms_rocketmq.auth")

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_BODY_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

#: Headers the HTTP stack manages itself; the official SDK never signs them (its transport adds them after
#: signing), and signing hop-by-hop headers would break behind a proxy. The adapters leave them unsigned.
TRANSPORT_HEADERS = frozenset({"accept", "accept-encoding", "connection", "content-length", "transfer-encoding"})
_UNSIGNED = TRANSPORT_HEADERS | {"authorization"}
#: What AKSKAuth leaves out of a signer's fixed headers: the unsigned ones, and the date, which varies.
_UNSIGNED_BYTES = frozenset(name.encode("ascii") for name in (*_UNSIGNED, "x-sdk-date"))
#: Signed headers whose values are credentials: masked in the DEBUG log of the canonical request.
SECRET_HEADERS = frozenset({"x-security-token", "x-auth-token"})


def _masked(canonical: str) -> str:
    """The canonical request with the values of credential headers replaced by `***`, for logging."""
    lines = canonical.split("\n")
    for index, line in enumerate(lines):
        name, sep, _ = line.partition(":")
        if sep and name in SECRET_HEADERS:
            lines[index] = f"{name}:***"
    return "\n".join(lines)


Headers = Mapping[str, str] | Iterable[tuple[str, str]]

#: What a credential header's value reads once its request has been sent (httpx writes the same for
#: `Authorization` in a repr).
MASK = "[secure]"


def mask_sent_secrets(sent: httpx.Request | httpx.Response) -> None:
    """Overwrite the credential headers (`X-Auth-Token`, `X-Security-Token`) of a request already sent.

    httpx masks only `Authorization` in a repr: without this, `exc.response.request.headers`, printed or
    turned into a dict, would show a token. Given a response, its request and those of its redirects are
    masked. The request object is never sent again (a retry builds and signs a new one).
    """
    if isinstance(sent, httpx.Response):
        for earlier in sent.history:
            mask_sent_secrets(earlier)
        if sent._request is None:  # httpx has no public way to ask; `.request` raises when unset
            return
        sent = sent.request
    headers = sent.headers
    for name in SECRET_HEADERS:
        if name in headers:
            headers[name] = MASK


def check_header_values(owner: str, **values: str | None) -> None:
    """Raise ValueError when a credential that goes into a header is not printable ASCII (never quoting it).

    httpx, aiohttp and requests would fail later with a bare UnicodeEncodeError, or split the header.
    """
    for name, value in values.items():
        if value is not None and not (value.isascii() and value.isprintable()):
            raise ValueError(f"{owner}: {name} must be printable ASCII (it is sent in an HTTP header)")


def _url_encode(text: str) -> str:
    # RFC 3986 unreserved characters stay; so does `~`; everything else is %XX of its UTF-8 bytes.
    return quote(text, safe="~")


def format_date(moment: datetime | None = None) -> str:
    """Format a moment (default: now) as the `X-Sdk-Date` value, `YYYYMMDDTHHMMSSZ` in UTC."""
    if moment is None:
        # `time.time()`, as the signers' `_DateClock` and `datetime.now` read it: gmtime without an
        # argument reads the C library's `time()`, a coarser clock that can still say the previous second a few
        # milliseconds after the others have moved on.
        return time.strftime(DATE_FORMAT, time.gmtime(time.time()))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(DATE_FORMAT)


def canonical_uri(path: str) -> str:
    """Step 1: the path percent-decoded, each segment re-encoded, always ending with `/`."""
    encoded = "/".join(_url_encode(segment) for segment in unquote(path).split("/"))
    return encoded if encoded.endswith("/") else encoded + "/"


def canonical_query(query: str) -> str:
    """Step 2: the query's (key, value) pairs decoded, sorted, re-encoded and joined as `k=v&k=v`.

    Decoding reads `+` as a space, as `params=` in httpx and requests writes it; encoding writes a space as
    `%20` and a plus as `%2B`. The result is also what goes on the wire (`canonical_url`).
    """
    if not query:
        return ""
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{_url_encode(key)}={_url_encode(value)}" for key, value in pairs)


def canonical_url(url: str) -> str:
    """`url` with its query in the canonical encoding that `sign_request` signs: send the request there."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    return urlunsplit(parts._replace(query=canonical_query(parts.query)))


def signed_header_names(headers: Iterable[tuple[str, str]]) -> list[str]:
    """Step 3: the names of the headers to sign: lowercased, sorted, those containing `_` left out."""
    return sorted(name.lower() for name, _ in headers if "_" not in name)


def canonical_headers(headers: Iterable[tuple[str, str]], names: list[str]) -> str:
    """Step 4: `name:value` for each signed header, values stripped, one per line, ending with a newline.

    A repeated header counts with its last value, as in Huawei's signer.
    """
    values = {name.lower(): str(value).strip() for name, value in headers}
    return "".join(f"{name}:{values[name]}\n" for name in names)


def payload_hash(body: bytes, content_sha256: str | None = None) -> str:
    """Step 5: the hex SHA-256 of the body, or the `X-Sdk-Content-Sha256` value when that header is set."""
    if not body:
        return EMPTY_BODY_HASH
    if content_sha256:
        return content_sha256
    return hashlib.sha256(body).hexdigest()


def canonical_request(method: str, uri: str, query: str, headers_block: str, names: list[str], body_hash: str) -> str:
    """Step 6: the six parts of the canonical request, one per line."""
    return f"{method.upper()}\n{uri}\n{query}\n{headers_block}\n{';'.join(names)}\n{body_hash}"


def string_to_sign(date: str, canonical: str) -> str:
    """Step 7: the algorithm, the date and the hex SHA-256 of the canonical request."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{date}\n{digest}"


def signature(sk: str, to_sign: str) -> str:
    """Step 8: the hex HMAC-SHA256 of the string to sign, keyed with the secret key."""
    return hmac.new(sk.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def authorization_header(ak: str, names: list[str], signature_hex: str) -> str:
    """Step 9: the `Authorization` header value."""
    return f"{ALGORITHM} Access={ak}, SignedHeaders={';'.join(names)}, Signature={signature_hex}"


def _normalise_date(value: str) -> str:
    # The SDK parses a caller's X-Sdk-Date and formats it again; doing the same rejects a malformed date
    # here rather than as a 401 from the gateway.
    try:
        return datetime.strptime(value, DATE_FORMAT).strftime(DATE_FORMAT)
    except ValueError:
        raise ValueError(f"X-Sdk-Date must look like 20260131T235959Z, got {value!r}") from None


def _find(pairs: list[tuple[str, str]], name: str) -> str | None:
    # The first match, case-insensitively, as the SDK's `_get_header_ignore_case`.
    for key, value in pairs:
        if key.lower() == name:
            return value
    return None


def _content_type(pairs: Iterable[tuple[str, str]]) -> str | None:
    # The SDK looks up `Content-Type` with this exact spelling (a dict lookup, not `_get_header_ignore_case`):
    # a `content-type` spelled otherwise does not make the payload UNSIGNED, and the body's hash is signed.
    value = None
    for key, found in pairs:
        if key == "Content-Type":
            value = found
    return value


def _signs_unsigned_payload(content_type: str | None) -> bool:
    return bool(content_type) and not str(content_type).startswith(("application/json", "application/bson"))


@dataclasses.dataclass(frozen=True, slots=True)
class SigningSteps:
    """What signing a request computes before the secret key is used: each step's result, for explaining.

    `canonical_request` may hold credential headers a caller chose to sign (`X-Security-Token`); show it
    with `masked_canonical_request()`. Nothing here depends on the SK.
    """

    canonical_request: str
    string_to_sign: str
    signed_headers: list[str]
    #: Headers signing adds to the request (`X-Sdk-Date`, `Host`, `X-Sdk-Content-Sha256`), not `Authorization`.
    added: dict[str, str]

    def masked_canonical_request(self) -> str:
        """The canonical request with the values of credential headers replaced by `***`."""
        return _masked(self.canonical_request)


def signing_steps(
    method: str,
    url: str,
    headers: Headers,
    body: bytes | str | None,
    date: datetime | str | None = None,
) -> SigningSteps:
    """Steps 1-7 for a request, as `sign_request` runs them (see there for `headers`, `body` and `date`)."""
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    payload = body.encode("utf-8") if isinstance(body, str) else (body or b"")
    added: dict[str, str] = {}

    if _signs_unsigned_payload(_content_type(pairs)):
        # Other content types are sent unsigned, as the SDK does.
        pairs = [(k, v) for k, v in pairs if k.lower() != "x-sdk-content-sha256"]
        added["X-Sdk-Content-Sha256"] = UNSIGNED_PAYLOAD
    existing_date = _find(pairs, "x-sdk-date")
    if existing_date is not None:
        sdk_date = _normalise_date(existing_date)
    else:
        sdk_date = _normalise_date(date) if isinstance(date, str) else format_date(date)
        added["X-Sdk-Date"] = sdk_date
    parts = urlsplit(url)
    if _find(pairs, "host") is None:
        added["Host"] = parts.netloc.rpartition("@")[2]
    pairs.extend(added.items())

    names = signed_header_names(pairs)
    canonical = canonical_request(
        method,
        canonical_uri(parts.path or "/"),
        canonical_query(parts.query),
        canonical_headers(pairs, names),
        names,
        payload_hash(payload, _find(pairs, "x-sdk-content-sha256")),
    )
    return SigningSteps(canonical, string_to_sign(sdk_date, canonical), names, added)


def sign_request(
    method: str,
    url: str,
    headers: Headers,
    body: bytes | str | None,
    ak: str,
    sk: str,
    date: datetime | str | None = None,
) -> dict[str, str]:
    """Sign a request with AK/SK, the way Huawei's official SDK does, and return the headers to add.

    Every header given is signed except those whose name contains `_` (as the SDK does), so pass the
    headers that will be sent. An `X-Sdk-Date` already among the headers is kept and signed as the SDK
    signs it (the value as given in the header line, the date read from it in the string to sign);
    otherwise `date` (a datetime, or a string in `YYYYMMDDTHHMMSSZ`) or the current time is used. A
    `Content-Type` (spelled so, as the SDK looks it up) other than JSON or BSON makes the payload
    `UNSIGNED-PAYLOAD`. The result always holds `Authorization`, plus `X-Sdk-Date`, `Host` (from the URL) and
    `X-Sdk-Content-Sha256` when the request lacks them and they are needed. Nothing is mutated.

    The signature covers the query in its canonical encoding: send the request to `canonical_url(url)`
    (the httpx and requests adapters do that themselves).
    """
    if not ak or not sk:
        raise ValueError("sign_request needs a non-empty ak and sk")
    steps = signing_steps(method, url, headers, body, date)
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "canonical request:\n%s\nstring to sign:\n%s", steps.masked_canonical_request(), steps.string_to_sign
        )
    added = dict(steps.added)
    added["Authorization"] = authorization_header(ak, steps.signed_headers, signature(sk, steps.string_to_sign))
    return added


def headers_to_sign(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers an adapter signs: all but those the HTTP stack manages and a previous Authorization."""
    return [(name, value) for name, value in headers if name.lower() not in _UNSIGNED]


class _DateClock:
    """The current `X-Sdk-Date`, formatted at most once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._date = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            self._date = time.strftime(DATE_FORMAT, time.gmtime(second))
            self._second = second
        return self._date


class AKSKAuth(httpx.Auth):
    """Sign every httpx request with an access key and secret key (SDK-HMAC-SHA256).

    Produces the signature of Huawei's official SDK: it keeps an `X-Sdk-Date` the request already has,
    adds `X-Project-Id` when `project_id` is given (and the request has none) and `X-Security-Token` for
    temporary credentials. A retried request is signed again, with a fresh date. Raises ValueError for an
    empty `ak` or `sk`, and for an `ak`, `security_token` or `project_id` that is not printable ASCII.
    """

    requires_request_body = True

    def __init__(self, ak: str, sk: str, security_token: str | None = None, *, project_id: str | None = None) -> None:
        if not ak or not sk:
            raise ValueError("AKSKAuth needs a non-empty ak and sk")
        check_header_values("AKSKAuth", ak=ak, security_token=security_token, project_id=project_id)
        self.ak = ak
        self._sk = sk
        self.security_token = security_token
        self.project_id = project_id
        self._security_token_bytes = security_token.encode("utf-8") if security_token else None
        self._dates = _DateClock()
        self._signers: dict[tuple[str, bytes, tuple[tuple[bytes, bytes], ...]], PrecomputedSigner] = {}

    def __repr__(self) -> str:
        return f"AKSKAuth(ak={self.ak!r}, sk='***', security_token={'***' if self.security_token else None})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign the request (httpx calls this for every request, retries included).

        Once it has been sent, the request's `X-Security-Token` reads `[secure]` (see `mask_sent_secrets`).
        """
        self.sign(request)
        try:
            response = yield request
            mask_sent_secrets(response)
        finally:
            mask_sent_secrets(request)

    def sign(self, request: httpx.Request) -> None:
        """Put the query in its canonical encoding and add `X-Sdk-Date`, `X-Project-Id`, `X-Security-Token`
        and `Authorization` to an httpx request."""
        query = request.url.query
        if query:
            canonical = _canonical_query_bytes(query)
            if canonical != query:
                request.url = request.url.copy_with(query=canonical)
        headers = request.headers
        present = {name.lower(): value for name, value in headers.raw}
        raw_date = present.get(b"x-sdk-date")
        header_date = None
        if raw_date is None:
            date = self._dates.now()
            headers["X-Sdk-Date"] = date
        else:
            # As the SDK: the header line carries the value as sent, the string to sign the date read from it.
            given = raw_date.decode(headers.encoding)
            date = _normalise_date(given)
            header_date = given.strip()
        if self.project_id and b"x-project-id" not in present:
            headers["X-Project-Id"] = self.project_id
        if self.security_token and present.get(b"x-security-token") != self._security_token_bytes:
            headers["X-Security-Token"] = self.security_token
        content_type = None
        for name, value in headers.raw:
            if name == b"Content-Type":  # spelled so, as the SDK looks it up (see `sign_request`)
                content_type = value
        if (
            content_type
            and not content_type.startswith((b"application/json", b"application/bson"))
            and present.get(b"x-sdk-content-sha256") != b"UNSIGNED-PAYLOAD"
        ):
            headers["X-Sdk-Content-Sha256"] = UNSIGNED_PAYLOAD

        # Every send of a client has the same method, URL and headers but for the date (and the transport's
        # Content-Length): the canonical request's fixed parts are built once per such combination.
        fixed = tuple((name.lower(), value) for name, value in headers.raw if name.lower() not in _UNSIGNED_BYTES)
        key = (request.method, request.url.raw_path, fixed)
        signer = self._signers.get(key)
        if signer is None:
            encoding = headers.encoding
            signer = PrecomputedSigner(
                self.ak,
                self._sk,
                request.method,
                str(request.url),
                [(name.decode(encoding), value.decode(encoding)) for name, value in fixed],
            )
            if len(self._signers) < 64:
                self._signers[key] = signer
        headers["Authorization"] = signer.authorization(request.content, date, header_date=header_date)


@functools.lru_cache(maxsize=256)
def _canonical_query_bytes(query: bytes) -> bytes:
    return canonical_query(query.decode("ascii")).encode("ascii")


class TokenAuth(httpx.Auth):
    """Authenticate every httpx request with an IAM token in `X-Auth-Token`.

    Raises ValueError for an empty token, and for a token or `project_id` that is not printable ASCII.
    """

    def __init__(self, token: str, *, project_id: str | None = None) -> None:
        if not token:
            raise ValueError("TokenAuth needs a non-empty token")
        check_header_values("TokenAuth", token=token, project_id=project_id)
        self._token = token
        self.project_id = project_id

    def __repr__(self) -> str:
        return "TokenAuth(token='***')"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add `X-Auth-Token` (and `X-Project-Id` when known) to the request.

        Once it has been sent, the request's `X-Auth-Token` reads `[secure]` (see `mask_sent_secrets`).
        """
        request.headers["X-Auth-Token"] = self._token
        if self.project_id and "x-project-id" not in request.headers:
            request.headers["X-Project-Id"] = self.project_id
        try:
            response = yield request
            mask_sent_secrets(response)
        finally:
            mask_sent_secrets(request)


#: HMAC's key paddings (RFC 2104) as byte translation tables, as the standard library's `hmac` builds them.
_INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))


class _KeyedSHA256:
    """HMAC-SHA256 with one key: the SHA-256 states after the inner and outer padded key, computed once.

    The same digest as `hmac.new(key, message, hashlib.sha256)` (tests/unit/test_signer.py), for a few C calls
    per message: copying a keyed `hmac.HMAC` is three Python calls and an object the garbage collector tracks,
    once per message of a bulk send.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        block = hashlib.sha256().block_size
        if len(key) > block:
            key = hashlib.sha256(key).digest()
        key = key.ljust(block, b"\0")
        self._inner = hashlib.sha256(key.translate(_INNER_PAD))
        self._outer = hashlib.sha256(key.translate(_OUTER_PAD))

    def __repr__(self) -> str:
        return "_KeyedSHA256(key='***')"

    def hexdigest(self, message: bytes) -> str:
        """The hex HMAC-SHA256 of `message`."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


class PrecomputedSigner:
    """Signs requests whose method, URL and headers are fixed and only the body and date change.

    Everything `sign_request` would compute from the fixed parts (canonical URI and query, the canonical
    header lines, the signed header list) is computed once; each request then costs two SHA-256 and one
    HMAC. The result is the same as `sign_request` for the same request (the unit tests compare them).
    """

    def __init__(self, ak: str, sk: str, method: str, url: str, headers: Headers) -> None:
        if not ak or not sk:
            raise ValueError("PrecomputedSigner needs a non-empty ak and sk")
        parts = urlsplit(url)
        given = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        pairs = [(name, value) for name, value in given if name.lower() != "x-sdk-date"]
        if _find(pairs, "host") is None:
            pairs.append(("Host", parts.netloc.rpartition("@")[2]))
        self.headers = dict(pairs)
        names = signed_header_names([*pairs, ("X-Sdk-Date", "")])
        values = {name.lower(): str(value).strip() for name, value in pairs}
        self._content_sha256 = _find(pairs, "x-sdk-content-sha256")
        before = "".join(f"{n}:{values[n]}\n" for n in names if n < "x-sdk-date")
        after = "".join(f"{n}:{values[n]}\n" for n in names if n > "x-sdk-date")
        start = f"{method.upper()}\n{canonical_uri(parts.path or '/')}\n{canonical_query(parts.query)}\n"
        self._head = f"{start}{before}x-sdk-date:"
        self._tail = f"\n{after}\n{';'.join(names)}\n"
        self._authorization = f"{ALGORITHM} Access={ak}, SignedHeaders={';'.join(names)}, Signature="
        self._hmac = _KeyedSHA256(sk.encode("utf-8"))
        self._dates = _DateClock()

    def __repr__(self) -> str:
        return f"PrecomputedSigner(headers={sorted(self.headers)!r}, sk='***')"

    def authorization(self, body: bytes, date: str, *, header_date: str | None = None) -> str:
        """The `Authorization` value for `body` sent at `date` (an `X-Sdk-Date` string).

        `header_date` is the X-Sdk-Date header's own value when it differs from `date` (a caller's loosely
        formatted date, which the SDK signs as given in the header line and as read in the string to sign).
        """
        body_hash = EMPTY_BODY_HASH if not body else self._content_sha256 or hashlib.sha256(body).hexdigest()
        canonical = f"{self._head}{date if header_date is None else header_date}{self._tail}{body_hash}"
        to_sign = f"{ALGORITHM}\n{date}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("canonical request:\n%s\nstring to sign:\n%s", _masked(canonical), to_sign)
        return self._authorization + self._hmac.hexdigest(to_sign.encode("utf-8"))

    def sign(self, body: bytes, date: str | None = None) -> dict[str, str]:
        """Every header to send with `body`: the fixed ones, `X-Sdk-Date` and `Authorization`."""
        sdk_date = self._dates.now() if date is None else date
        return {**self.headers, "X-Sdk-Date": sdk_date, "Authorization": self.authorization(body, sdk_date)}
