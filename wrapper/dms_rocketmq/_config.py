"""Client settings: keyword arguments first, then the environment, then documented defaults."""

from __future__ import annotations

import argparse
import math
import os
import threading
from collections.abc import Mapping
from urllib.parse import urlsplit

import attrs
import httpx
from dms_rocketmq_api.spec_rules import ENGINES, operation_path

from ._constants import ENV
from ._exceptions import ConfigurationError

__all__ = [
    "CLI_FLAGS",
    "DEFAULT_ENGINE",
    "ENV",
    "PYTHON_ARGUMENTS",
    "REGION_ENDPOINTS",
    "Settings",
    "check_connections",
    "check_timeout",
    "endpoint_for_region",
    "resolve_settings",
]

#: The engine used when none is given: the first the spec lists (the others are its aliases).
DEFAULT_ENGINE = ENGINES[0]


#: How each setting is given to `Client(...)`/`AsyncClient(...)`: named in their configuration errors.
PYTHON_ARGUMENTS: Mapping[str, str | None] = {name: f"{name}=" for name in ENV}
#: How each setting is given to the `dms-rocketmq` command (None: only from the environment, as secrets
#: are): named in its configuration errors instead of the Python argument.
CLI_FLAGS: Mapping[str, str | None] = {
    "ak": "--ak",
    "sk": None,
    "security_token": None,
    "project_id": "--project-id",
    "endpoint": "--endpoint",
    "region": "--region",
    "instance_id": "--instance-id",
    "engine": "--engine",
    "token": None,
}

#: Copied from huaweicloudsdkrocketmq 3.1.219, v2/region/rocketmq_region.py.
REGION_ENDPOINTS: Mapping[str, str] = {
    "eu-west-101": "https://dms.eu-west-101.myhuaweicloud.eu",
    **{
        region: f"https://dms.{region}.myhuaweicloud.com"
        for region in (
            "cn-north-1",
            "cn-north-2",
            "cn-north-4",
            "cn-east-3",
            "cn-east-2",
            "cn-south-1",
            "cn-south-2",
            "cn-southwest-2",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "af-south-1",
            "ru-northwest-2",
            "cn-north-9",
            "la-south-2",
            "la-north-2",
            "ap-southeast-4",
            "tr-west-1",
            "ae-ad-1",
            "eu-west-0",
            "me-east-1",
            "na-mexico-1",
            "cn-east-5",
            "my-kualalumpur-1",
            "cn-east-4",
            "af-north-1",
            "ap-southeast-5",
            "ru-moscow-1",
            "sa-brazil-1",
            "cn-south-4",
            "cn-north-12",
            "cn-north-11",
            "cn-southwest-3",
        )
    },
}


@attrs.frozen(repr=False)
class Settings:
    """Resolved settings of a client. Exactly one of (`ak`, `sk`) and `token` is set."""

    endpoint: str
    project_id: str
    instance_id: str
    engine: str
    ak: str | None = None
    sk: str | None = None
    security_token: str | None = None
    token: str | None = None

    def __repr__(self) -> str:
        auth = f"ak={self.ak!r}, sk='***'" if self.ak else "token='***'"
        return (
            f"Settings(endpoint={self.endpoint!r}, project_id={self.project_id!r}, "
            f"instance_id={self.instance_id!r}, engine={self.engine!r}, {auth})"
        )


def endpoint_for_region(
    region: str, environ: Mapping[str, str] | None = None, *, spelling: Mapping[str, str | None] = PYTHON_ARGUMENTS
) -> str:
    """The endpoint of a region; `HUAWEICLOUD_SDK_REGION_ROCKETMQ_<REGION>` overrides it, as in the SDK."""
    environ = os.environ if environ is None else environ
    override = environ.get("HUAWEICLOUD_SDK_REGION_ROCKETMQ_" + region.replace("-", "_").upper())
    if override:
        return override.rstrip("/")
    try:
        return REGION_ENDPOINTS[region]
    except KeyError:
        raise ConfigurationError(
            f"Unknown region {region!r} (from {_origin('region', spelling)}). "
            f"Known regions: {', '.join(sorted(REGION_ENDPOINTS))}. "
            f"For another endpoint {_how('endpoint', spelling)}."
        ) from None


def _pick(name: str, value: object, environ: Mapping[str, str]) -> str | None:
    if value is None:
        value = environ.get(ENV[name]) or None
        origin = ENV[name]
    else:
        origin = f"{name}="
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string, got {type(value).__name__} (from {origin}).")
    return value


def _refuse_what_is_not_text(spelling: Mapping[str, str | None], **values: str | None) -> None:
    # A lone surrogate cannot be encoded: it is what Python makes of bytes that are not UTF-8 in argv or the
    # environment (`HUAWEICLOUD_SDK_SK=$'\xff'`). Refused here, it would fail later as a request not built.
    for name, value in values.items():
        if value is not None and any(0xD800 <= ord(char) <= 0xDFFF for char in value):
            raise ConfigurationError(
                f"{name} is not valid text (a byte that is not UTF-8, or a lone surrogate); "
                f"check {_origin(name, spelling)}."
            )


def cli_path(text: str) -> str:
    """A command-line PATH argument the system can name (argparse `type=`): no NUL byte, and no lone
    surrogate that no file name can carry (bytes that are not UTF-8 arrive as encodable surrogates)."""
    if "\0" in text:
        raise argparse.ArgumentTypeError("a path cannot contain a NUL byte")
    try:
        os.fsencode(text)
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError("not a path this system can name (a lone surrogate)") from None
    return text


#: The longest wait a timeout may ask for: the platform's own bound on a blocking wait (longer ones
#: overflow the C time type of sockets and locks).
MAX_TIMEOUT = threading.TIMEOUT_MAX


def check_timeout(timeout: object, name: str = "timeout") -> None:
    """Refuse a timeout that is not None, a number of seconds or an httpx.Timeout with each part in
    [0, MAX_TIMEOUT] (None: no timeout); a ConfigurationError naming the argument."""
    if timeout is None:  # every send without a per-call timeout: nothing to check
        return
    if isinstance(timeout, httpx.Timeout):
        parts = {"connect": timeout.connect, "read": timeout.read, "write": timeout.write, "pool": timeout.pool}
    elif isinstance(timeout, int | float) and not isinstance(timeout, bool):
        parts = {"": timeout}
    else:
        raise ConfigurationError(
            f"{name} must be a number of seconds, None or an httpx.Timeout, got {type(timeout).__name__}."
        )
    for part, value in parts.items():
        if value is None:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool) or not (0 <= value <= MAX_TIMEOUT):
            shown = f"{name}.{part}" if part else name
            bad = value if isinstance(value, int | float) and not math.isnan(value) else repr(value)
            raise ConfigurationError(
                f"{shown} must be a number of seconds from 0 to {MAX_TIMEOUT:g} (or None: no timeout), got {bad}."
            )


def check_connections(max_connections: object) -> int:
    """`max_connections` when it is a whole number >= 1 (0 or less would leave every send waiting)."""
    if not isinstance(max_connections, int) or isinstance(max_connections, bool) or max_connections < 1:
        raise ConfigurationError(f"max_connections must be a whole number >= 1, got {max_connections!r}.")
    return max_connections


def _how(name: str, spelling: Mapping[str, str | None]) -> str:
    """How to give setting `name`: `pass --endpoint or set DMS_ROCKETMQ_ENDPOINT`, or only the variable."""
    given = spelling.get(name)
    return f"pass {given} or set {ENV[name]}" if given else f"set {ENV[name]}"


def _origin(name: str, spelling: Mapping[str, str | None]) -> str:
    """Where setting `name` came from: `--endpoint or DMS_ROCKETMQ_ENDPOINT`, or only the variable."""
    given = spelling.get(name)
    return f"{given} or {ENV[name]}" if given else ENV[name]


def _missing(name: str, what: str, spelling: Mapping[str, str | None]) -> ConfigurationError:
    return ConfigurationError(f"Missing {what}: {_how(name, spelling)}.")


def _refuse_control_characters(spelling: Mapping[str, str | None], **values: str | None) -> None:
    # A line break or other control character cannot go on the wire (it would split a header: aiohttp and
    # httpx refuse it at send time); it usually is a stray newline read from a file. Never quote the value.
    for name, value in values.items():
        if value is not None and any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
            given = spelling.get(name)
            where = f"{given} or {ENV[name]}" if given else ENV[name]
            raise ConfigurationError(f"{name} contains a control character (such as a line break); check {where}.")


def _refuse_what_headers_cannot_carry(spelling: Mapping[str, str | None], **values: str | None) -> None:
    # These settings travel in HTTP headers (the AK inside Authorization, the project ID in X-Project-Id, the
    # tokens as they are) or in the URL path: HTTP carries ASCII there, and httpx or aiohttp would fail with
    # a bare UnicodeEncodeError at send time. A header value also cannot start or end with white space.
    # Positions only, never the value: some of these are secrets.
    for name, value in values.items():
        if value is None:
            continue
        if not value.isascii():
            position = next(index for index, char in enumerate(value) if not char.isascii())
            raise ConfigurationError(
                f"{name} contains a character that is not ASCII (at position {position}); it is sent in an "
                f"HTTP header or the URL, which carry ASCII only. Check {_origin(name, spelling)}."
            )
        if value != value.strip(" \t"):
            raise ConfigurationError(
                f"{name} starts or ends with white space, which an HTTP header cannot carry; "
                f"check {_origin(name, spelling)}."
            )


def resolve_settings(
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
    environ: Mapping[str, str] | None = None,
    spelling: Mapping[str, str | None] = PYTHON_ARGUMENTS,
) -> Settings:
    """Merge arguments with the environment and check them; raise `ConfigurationError` saying what to set.

    `spelling` names each setting the way the caller's user gives it (`PYTHON_ARGUMENTS`, `CLI_FLAGS`).
    """
    if environ is not None and not isinstance(environ, Mapping):
        raise ConfigurationError(f"environ must be a mapping of names to strings, got {type(environ).__name__}.")
    env = os.environ if environ is None else environ
    sp = spelling
    if region is not None:  # read only without an endpoint, but a wrong type is a mistake either way
        _pick("region", region, env)

    endpoint = _pick("endpoint", endpoint, env)
    if endpoint is None:
        region = _pick("region", region, env)
        if region is None:
            raise ConfigurationError(
                f"Missing endpoint: pass {sp['endpoint']} or {sp['region']} "
                f"(or set {ENV['endpoint']} or {ENV['region']})."
            )
        _refuse_what_is_not_text(sp, region=region)
        endpoint = endpoint_for_region(region, env, spelling=sp)
    _refuse_what_is_not_text(sp, endpoint=endpoint)
    endpoint = endpoint.rstrip("/")
    if not endpoint.startswith(("https://", "http://")):
        raise ConfigurationError(
            f"endpoint must start with https:// or http://, got {endpoint!r} (from {_origin('endpoint', sp)})."
        )
    try:
        host = httpx.URL(endpoint).host
        # The signer, the proxy lookup and the telemetry split the endpoint with the standard library, which
        # refuses what httpx lets through (an unbalanced `[` or `]`): it must be a URL to both.
        urlsplit(endpoint).port  # noqa: B018 - read for the ValueError it raises
    except (httpx.InvalidURL, ValueError) as exc:  # an IDNA host it cannot encode, a bad port...
        raise ConfigurationError(
            f"endpoint {endpoint!r} (from {_origin('endpoint', sp)}) is not a valid URL: {exc}."
        ) from None
    if not host:
        raise ConfigurationError(f"endpoint {endpoint!r} (from {_origin('endpoint', sp)}) has no host.")

    project = _pick("project_id", project_id, env)
    if not project:
        raise _missing("project_id", "project ID", sp)
    instance = _pick("instance_id", instance_id, env)
    if not instance:
        raise _missing("instance_id", "instance ID", sp)
    engine_name = _pick("engine", engine, env) or DEFAULT_ENGINE
    if engine_name not in ENGINES:
        raise ConfigurationError(
            f"engine must be one of {', '.join(ENGINES)}, got {engine_name!r} (from {_origin('engine', sp)})."
        )

    # Explicit arguments win over the environment as a whole, so that passing token= is not mixed with an
    # AK found in the environment.
    if ak is not None or sk is not None or token is not None:
        env_credentials: Mapping[str, str] = {}
    else:
        env_credentials = env
    ak = _pick("ak", ak, env_credentials)
    sk = _pick("sk", sk, env_credentials)
    token = _pick("token", token, env_credentials)
    security_token = _pick("security_token", security_token, env_credentials if ak else {})
    _refuse_what_is_not_text(
        sp, project_id=project, instance_id=instance, ak=ak, sk=sk, token=token, security_token=security_token
    )
    _refuse_control_characters(
        sp,
        endpoint=endpoint,
        project_id=project,
        instance_id=instance,
        ak=ak,
        sk=sk,
        token=token,
        security_token=security_token,
    )
    _refuse_what_headers_cannot_carry(
        sp, project_id=project, instance_id=instance, ak=ak, token=token, security_token=security_token
    )
    try:  # what the URL cannot carry (a project ID of 100,000 characters) is refused now, not at send time
        httpx.URL(
            endpoint + operation_path("SendMessage", engine=engine_name, project_id=project, instance_id=instance)
        )
    except httpx.InvalidURL as exc:
        raise ConfigurationError(
            f"the endpoint, project ID and instance ID do not make a valid URL ({exc}); check "
            f"{_origin('project_id', sp)} and {_origin('instance_id', sp)}."
        ) from None
    if token and (ak or sk):
        raise ConfigurationError(
            f"Give either an AK/SK pair ({_how('ak', sp)}; {_how('sk', sp)}) or an IAM token "
            f"({_how('token', sp)}), not both."
        )
    if token:
        return Settings(endpoint=endpoint, project_id=project, instance_id=instance, engine=engine_name, token=token)
    if ak and not sk:
        raise _missing("sk", "secret key", sp)
    if sk and not ak:
        raise _missing("ak", "access key", sp)
    if not ak or not sk:
        raise ConfigurationError(
            f"Missing credentials: an AK/SK pair ({_how('ak', sp)}; {_how('sk', sp)}) "
            f"or an IAM token ({_how('token', sp)})."
        )
    return Settings(
        endpoint=endpoint,
        project_id=project,
        instance_id=instance,
        engine=engine_name,
        ak=ak,
        sk=sk,
        security_token=security_token,
    )
