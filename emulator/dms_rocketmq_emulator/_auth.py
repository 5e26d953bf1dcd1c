"""Authentication, as Huawei Cloud's API gateway does it in front of DMS.

Two ways in: an AK/SK signature (`Authorization: SDK-HMAC-SHA256 ...`) or an IAM token (`X-Auth-Token`).
The signature is checked here, written from the algorithm's description (openapi.yaml's `akskSignature`
scheme, facts file section 2) and deliberately *not* by importing the client's signer, so a bug in one
cannot hide in the other; both are checked against Huawei's official SDK in the tests.

Each step is a small function: canonical URI, canonical query, canonical headers, canonical request,
string to sign, signature. Failures say what was wrong but never quote an SK, a token or a signature.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import logging
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote

from dms_rocketmq_api.spec_rules import MAX_CLOCK_SKEW_SECONDS, SINGLE_HEADERS

from . import _exceptions as errors
from ._config import Credential

__all__ = [
    "ALGORITHM",
    "MAX_CLOCK_SKEW",
    "Authenticator",
    "canonical_headers",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "check_single_headers",
    "decode_query",
    "parse_authorization",
    "parse_sdk_date",
    "payload_hash",
    "query_pairs",
    "signature",
    "string_to_sign",
]

logger = logging.getLogger("dms_rocketmq_emulator.auth")

ALGORITHM = "SDK-HMAC-SHA256"
#: How far X-Sdk-Date may be from the emulator's clock, as on the gateway (openapi.yaml's
#: `x-max-clock-skew-seconds`).
MAX_CLOCK_SKEW = datetime.timedelta(seconds=MAX_CLOCK_SKEW_SECONDS)
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


def _encode(text: str) -> str:
    # RFC 3986: only unreserved characters stay; quote() keeps letters, digits and "_.-", plus "~" here.
    return quote(text, safe="~")


@functools.lru_cache(maxsize=4096)
def canonical_uri(raw_path: str) -> str:
    """The path percent-decoded, each segment encoded again, with a trailing `/`."""
    path = "/".join(_encode(segment) for segment in unquote(raw_path).split("/"))
    return path if path.endswith("/") else path + "/"


def decode_query(raw_query: bytes) -> str:
    """The query string's bytes as text: UTF-8, strictly; 400 DMS.00400062 for bytes that are not UTF-8.

    Decoded once per request, and that one text is both verified (the signature) and run (the query's
    parameters): a second reading (latin-1 for one, UTF-8 for the other) would let a signature over one
    query vouch for another.
    """
    try:
        return raw_query.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.invalid_parameter(None) from None


def check_single_headers(headers: Iterable[tuple[bytes, bytes]]) -> None:
    """400 APIGW.0201 naming the first credential header (the spec's `x-single-headers`) given twice.

    Which of two tokens, dates or signatures a server would take is anyone's guess, as for a repeated query
    parameter (refused too): the gateway takes neither.
    """
    seen: set[bytes] = set()
    for name, _ in headers:
        if name in seen and name.decode("latin-1") in SINGLE_HEADERS:
            shown = name.decode("latin-1")
            raise errors.DMSError(
                400, errors.GATEWAY_REFUSED, f"Bad request: the header {shown} is given more than once", gateway=True
            )
        seen.add(name)


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """The query's (key, value) pairs, percent-decoded, in order; a bare `+` is itself (openapi.yaml,
    akskSignature). The one reading of a query string: the signature check and the query's parameters both
    use it, so what is verified is what is run. A percent-escape that does not decode as UTF-8 (`%FF`) is
    400 DMS.00400062, rather than a replacement character that two different queries would share."""
    pairs = []
    try:
        for part in raw_query.split("&"):
            if not part:
                continue
            key, _, value = part.partition("=")
            pairs.append((unquote(key, errors="strict"), unquote(value, errors="strict")))
    except UnicodeDecodeError:
        raise errors.invalid_parameter(None) from None
    return pairs


def canonical_query(raw_query: str) -> str:
    """The query's (key, value) pairs decoded, sorted, encoded again and joined `k=v&k=v`."""
    return "&".join(f"{_encode(key)}={_encode(value)}" for key, value in sorted(query_pairs(raw_query)))


def canonical_headers(headers: Mapping[str, str], signed: Iterable[str]) -> str:
    """`name:value` (value trimmed) for each signed header, each followed by a newline."""
    return "".join(f"{name}:{headers[name].strip()}\n" for name in signed)


def payload_hash(headers: Mapping[str, str], body: bytes, signed: Iterable[str] = ()) -> str:
    """SHA-256 of the body, the empty body's hash, or the X-Sdk-Content-Sha256 value (UNSIGNED-PAYLOAD).

    The declared value counts only when X-Sdk-Content-Sha256 is one of the `signed` headers: an unsigned
    one, added to a captured request, would otherwise vouch for any body.
    """
    if not body:
        return _EMPTY_SHA256
    declared = headers.get("x-sdk-content-sha256") if "x-sdk-content-sha256" in signed else None
    if declared:
        return declared
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    signed: list[str],
    body: bytes,
) -> str:
    """The canonical request: method, URI, query, headers, signed header names, payload hash."""
    return "\n".join(
        (
            method.upper(),
            canonical_uri(raw_path),
            canonical_query(raw_query),
            canonical_headers(headers, signed),
            ";".join(signed),
            payload_hash(headers, body, signed),
        )
    )


def string_to_sign(sdk_date: str, canonical: str) -> str:
    """`SDK-HMAC-SHA256`, the X-Sdk-Date, and the hex SHA-256 of the canonical request."""
    return f"{ALGORITHM}\n{sdk_date}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def signature(sk: str, to_sign: str) -> str:
    """Hex HMAC-SHA256 of the string to sign, keyed with the SK."""
    return hmac.digest(sk.encode("utf-8"), to_sign.encode("utf-8"), "sha256").hex()


_SDK_DATE = re.compile(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z")


@functools.lru_cache(maxsize=256)
def parse_sdk_date(value: str) -> datetime.datetime | None:
    """The UTC time of an X-Sdk-Date (`YYYYMMDDTHHMMSSZ`), or None if it is not one."""
    # Cached: every request of the same second carries the same value, and strptime is slow.
    match = _SDK_DATE.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.UTC)
    except ValueError:
        return None


_AUTHORIZATION_FIELD = re.compile(r"\s*([A-Za-z]+)=([^,]*)")


# The exact form Huawei's SDKs write, matched in one step; anything else goes through the general parser.
_AUTHORIZATION_USUAL = re.compile(r"SDK-HMAC-SHA256 Access=([^,\s]+), SignedHeaders=([^,\s]+), Signature=(\S+)")


@functools.lru_cache(maxsize=256)
def _split_signed(names: str) -> list[str]:
    return names.split(";")


def parse_authorization(value: str) -> tuple[str, list[str], str]:
    """(AK, signed header names, signature) from `SDK-HMAC-SHA256 Access=.., SignedHeaders=.., Signature=..`."""
    usual = _AUTHORIZATION_USUAL.fullmatch(value)
    if usual is not None:
        return usual.group(1), _split_signed(usual.group(2)), usual.group(3)
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        shown = algorithm[:32] if algorithm.isascii() and algorithm.isprintable() else "?"
        raise errors.signature_failure(f"unsupported signing algorithm {shown!r}, expected {ALGORITHM}")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        match = _AUTHORIZATION_FIELD.match(part)
        if match is not None:
            fields[match.group(1)] = match.group(2).strip()
    missing = [name for name in ("Access", "SignedHeaders", "Signature") if not fields.get(name)]
    if missing:
        raise errors.signature_failure(f"Authorization header has no {', '.join(missing)}")
    return fields["Access"], _split_signed(fields["SignedHeaders"]), fields["Signature"]


#: Signed headers whose values are credentials: masked in the DEBUG log of the canonical request.
_SECRET_HEADERS = frozenset({"x-security-token", "x-auth-token"})


def _masked(canonical: str) -> str:
    lines = canonical.split("\n")
    for index, line in enumerate(lines):
        name, sep, _ = line.partition(":")
        if sep and name in _SECRET_HEADERS:
            lines[index] = f"{name}:***"
    return "\n".join(lines)


def _shown_ak(ak: str) -> str:
    # An AK is not a secret (the gateway itself quotes it), but it is user input: keep it short and printable.
    return ak[:64] if ak.isascii() and ak.isprintable() else "<unprintable>"


class Authenticator:
    """Checks a request's AK/SK signature or token against the configured ones."""

    def __init__(
        self,
        credentials: Iterable[Credential],
        tokens: Iterable[str],
        *,
        clock: type[datetime.datetime] = datetime.datetime,
    ) -> None:
        self._secrets = {credential.ak: credential.sk for credential in credentials}
        self._tokens = [token.encode("utf-8") for token in tokens]
        self._clock = clock
        #: Authentication is off when nothing is configured: every request is let in.
        self.enabled = bool(self._secrets or self._tokens)

    def __repr__(self) -> str:
        return f"Authenticator(aks={sorted(self._secrets)!r}, tokens={len(self._tokens)})"

    def check(
        self,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        """Return if the request may pass; raise a 401 `DMSError` saying why not otherwise.

        `headers` maps lowercase names to values decoded as UTF-8.
        """
        if not self.enabled:
            return
        authorization = headers.get("authorization")
        if authorization is not None:
            self._check_signature(method, raw_path, raw_query, headers, body, authorization)
            return
        token = headers.get("x-auth-token")
        if token is not None:
            self._check_token(token)
            return
        raise errors.signature_failure("the request has neither an Authorization nor an X-Auth-Token header")

    def _check_token(self, token: str) -> None:
        given = token.strip().encode("utf-8")
        # Compare with every token, always, so the time taken says nothing about which one nearly matched.
        matched = False
        for known in self._tokens:
            matched |= hmac.compare_digest(given, known)
        if not matched:
            raise errors.bad_token()

    def _check_signature(
        self,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: Mapping[str, str],
        body: bytes,
        authorization: str,
    ) -> None:
        ak, signed, given = parse_authorization(authorization)
        sk = self._secrets.get(ak)
        if sk is None:
            raise errors.unknown_ak(_shown_ak(ak))
        if "x-sdk-date" not in signed:
            raise errors.signature_failure("x-sdk-date must be one of the SignedHeaders")
        for name in signed:
            if name not in headers:
                shown = name[:64] if name.isascii() and name.isprintable() else "?"
                raise errors.signature_failure(f"signed header {shown!r} is missing from the request")
        sdk_date = headers["x-sdk-date"].strip()
        signed_at = parse_sdk_date(sdk_date)
        if signed_at is None:
            raise errors.signature_failure("X-Sdk-Date is not formatted YYYYMMDDTHHMMSSZ")
        now = self._clock.now(tz=datetime.UTC)
        if abs(now - signed_at) > MAX_CLOCK_SKEW:
            raise errors.signature_expired(sdk_date, now.strftime(_DATE_FORMAT))
        canonical = canonical_request(method, raw_path, raw_query, headers, signed, body)
        expected = signature(sk, string_to_sign(sdk_date, canonical))
        if not hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace")):
            # The canonical request is what a user needs to find a signing bug; credential headers a client
            # chose to sign (X-Security-Token, X-Auth-Token) are masked in it.
            logger.debug("signature mismatch for ak %s; canonical request:\n%s", _shown_ak(ak), _masked(canonical))
            raise errors.signature_mismatch()
        declared = headers.get("x-sdk-content-sha256", "").strip() if "x-sdk-content-sha256" in signed else ""
        if body and declared and declared != UNSIGNED_PAYLOAD and declared != hashlib.sha256(body).hexdigest():
            # A signed hash stands for the body: it must be this body's (UNSIGNED-PAYLOAD is the only opt-out).
            raise errors.signature_failure("X-Sdk-Content-Sha256 does not match the request body")
