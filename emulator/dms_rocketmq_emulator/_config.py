"""The emulator's settings, from command-line flags and an optional TOML file.

Precedence: a flag given on the command line wins over the TOML file, which wins over the defaults.
List flags (`--instance-id`, `--topic`, `--credential`, `--token`) add to what the file lists.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dms_rocketmq_api.spec_rules import (
    INSTANCE_ID_PATTERN,
    MAX_QUEUES_PER_TOPIC,
    PROJECT_ID_PATTERN,
    TOPIC_MAX_LENGTH,
    TOPIC_MIN_LENGTH,
    TOPIC_PATTERN,
    TOPIC_RESERVED_PREFIXES,
)

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_BROKER_NAME",
    "DEFAULT_DATA_DIR",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_HOST",
    "DEFAULT_INSTANCE_ID",
    "DEFAULT_PORT",
    "DEFAULT_PROJECT_ID",
    "DEFAULT_QUEUES",
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "ConfigError",
    "Credential",
    "InstanceSettings",
    "Settings",
    "TopicSettings",
    "is_loopback",
    "load_toml",
    "parse_credential",
    "parse_topic",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_PROJECT_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
DEFAULT_INSTANCE_ID = "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90"
DEFAULT_BROKER_NAME = "broker-0"
DEFAULT_DATA_DIR = Path(".dms-rocketmq-emulator")
#: Queues per topic when none are given: the open-source broker's default (DMS documents none).
DEFAULT_QUEUES = 8
#: Queues a topic may have: at least one, at most the spec's limit.
MIN_QUEUES, MAX_QUEUES = 1, MAX_QUEUES_PER_TOPIC

#: Read deadlines and the graceful stop's bound, in seconds (docs/emulator.md, "Connections").
DEFAULT_HEADER_TIMEOUT = 15.0
DEFAULT_BODY_TIMEOUT = 15.0
DEFAULT_SHUTDOWN_TIMEOUT = 10.0
_TIMEOUTS = ("header_timeout", "body_timeout", "shutdown_timeout")

_INSTANCE_ID = re.compile(INSTANCE_ID_PATTERN)
_PROJECT_ID = re.compile(PROJECT_ID_PATTERN)
_BROKER_NAME = re.compile(r"^[0-9a-zA-Z_.-]{1,64}$")


class ConfigError(ValueError):
    """A setting is not valid; the message says which and why (never quoting a secret)."""


@dataclasses.dataclass(frozen=True, slots=True)
class TopicSettings:
    """A topic and its number of queues."""

    name: str
    queues: int = DEFAULT_QUEUES


@dataclasses.dataclass(frozen=True, slots=True)
class Credential:
    """An AK/SK pair the emulator accepts signatures from."""

    ak: str
    sk: str = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True, slots=True)
class InstanceSettings:
    """A DMS for RocketMQ instance: its id, its broker's name and its own topics."""

    instance_id: str
    broker_name: str = DEFAULT_BROKER_NAME
    topics: tuple[TopicSettings, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Everything the emulator is configured with."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    #: Where the SQLite store lives; None keeps everything in memory.
    data_dir: Path | None = DEFAULT_DATA_DIR
    project_id: str = DEFAULT_PROJECT_ID
    #: Every instance gets its own topics plus `topics`.
    instances: tuple[InstanceSettings, ...] = (InstanceSettings(DEFAULT_INSTANCE_ID),)
    #: Topics that exist in every instance.
    topics: tuple[TopicSettings, ...] = ()
    auto_create_topics: bool = False
    credentials: tuple[Credential, ...] = dataclasses.field(default=(), repr=False)
    tokens: tuple[str, ...] = dataclasses.field(default=(), repr=False)
    #: Seconds the request line and headers may take from their first byte (or from the connection).
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    #: Seconds between two pieces of a request body.
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    #: Seconds a graceful stop waits for the requests already received before it cancels them.
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT
    #: Serve the web console at /_emulator/console: None serves it only while `host` is a loopback address.
    console: bool | None = None
    #: Let the console reset the emulator and arm faults; without it the console only reads.
    console_actions: bool = False

    @property
    def console_enabled(self) -> bool:
        """Whether the console is served: as `console` says, or (not said) when listening on loopback only."""
        return self.console if self.console is not None else is_loopback(self.host)

    @property
    def auth_enabled(self) -> bool:
        """Authentication is on when any credential or token is configured."""
        return bool(self.credentials or self.tokens)

    def topics_of(self, instance: InstanceSettings) -> tuple[TopicSettings, ...]:
        """The topics of `instance`: its own, then the shared ones it does not define itself."""
        own = {topic.name for topic in instance.topics}
        return instance.topics + tuple(topic for topic in self.topics if topic.name not in own)

    def validate(self, is_topic_name: Any = None) -> Settings:
        """Check the settings as a whole; `is_topic_name` checks names against the spec. Returns self."""
        if not _PROJECT_ID.fullmatch(self.project_id):
            raise ConfigError(
                f"project id {self.project_id!r} does not match {PROJECT_ID_PATTERN}, as openapi.yaml requires"
            )
        if not self.instances:
            raise ConfigError("at least one instance is needed")
        seen: set[str] = set()
        for instance in self.instances:
            if not _INSTANCE_ID.fullmatch(instance.instance_id):
                raise ConfigError(
                    f"instance id {instance.instance_id!r} is not a UUID "
                    f"({INSTANCE_ID_PATTERN}, as openapi.yaml requires)"
                )
            if instance.instance_id in seen:
                raise ConfigError(f"instance id {instance.instance_id!r} is configured twice")
            seen.add(instance.instance_id)
            if not _BROKER_NAME.fullmatch(instance.broker_name):
                raise ConfigError(f"broker name {instance.broker_name!r} is not valid")
        for topic in (*self.topics, *(t for i in self.instances for t in i.topics)):
            if not MIN_QUEUES <= topic.queues <= MAX_QUEUES:
                raise ConfigError(f"topic {topic.name!r}: queues must be {MIN_QUEUES}-{MAX_QUEUES}")
            if is_topic_name is not None and not is_topic_name(topic.name):
                raise ConfigError(
                    f"topic name {topic.name!r} breaks DMS's rules ({TOPIC_MIN_LENGTH}-{TOPIC_MAX_LENGTH} characters "
                    f"matching {TOPIC_PATTERN}; no reserved name, no {' or '.join(TOPIC_RESERVED_PREFIXES)} prefix)"
                )
        akss = [credential.ak for credential in self.credentials]
        if len(set(akss)) != len(akss):
            raise ConfigError("an AK is configured twice")
        for credential in self.credentials:
            if not credential.ak or not credential.sk:
                raise ConfigError("a credential needs a non-empty AK and SK")
            if any(c.isspace() or c in ",=" for c in credential.ak):
                raise ConfigError("an AK may not contain white space, ',' or '='")
        if any(not token for token in self.tokens):
            raise ConfigError("a token may not be empty")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port} is out of range")
        for name in _TIMEOUTS:
            seconds = getattr(self, name)
            # At most a day: asyncio's timers take any float, but a deadline of years is no deadline.
            if not 0 < seconds <= 86400:
                raise ConfigError(
                    f"{name.replace('_', '-')} must be more than 0 and at most 86400 seconds, not {seconds}"
                )
        return self


def is_loopback(host: str) -> bool:
    """Whether `host` (a listen address or a Host header's name) is this machine only: localhost, 127.0.0.0/8, ::1."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_topic(text: str) -> TopicSettings:
    """Parse `NAME[:QUEUES]` (the `--topic` flag)."""
    name, sep, queues = text.partition(":")
    if not sep:
        return TopicSettings(name)
    try:
        count = int(queues)
    except ValueError:
        raise ConfigError(f"topic {name!r}: queues {queues!r} is not a number") from None
    return TopicSettings(name, count)


def parse_credential(text: str) -> Credential:
    """Parse `AK:SK` (the `--credential` flag)."""
    ak, sep, sk = text.partition(":")
    if not sep or not ak or not sk:
        raise ConfigError("a credential is written AK:SK")
    return Credential(ak, sk)


def _topic_from_toml(value: Any, where: str) -> TopicSettings:
    if isinstance(value, str):
        return parse_topic(value)
    if isinstance(value, Mapping):
        name = value.get("name")
        queues = value.get("queues", DEFAULT_QUEUES)
        if not isinstance(name, str) or not isinstance(queues, int) or isinstance(queues, bool):
            raise ConfigError(f"{where}: a topic is a string 'NAME[:QUEUES]' or {{name=..., queues=N}}")
        return TopicSettings(name, queues)
    raise ConfigError(f"{where}: a topic is a string 'NAME[:QUEUES]' or {{name=..., queues=N}}")


def _topics_from_toml(values: Any, where: str) -> tuple[TopicSettings, ...]:
    if values is None:
        return ()
    if not isinstance(values, list):
        raise ConfigError(f"{where}: 'topics' must be a list")
    return tuple(_topic_from_toml(value, where) for value in values)


def _expect(table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = table.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool) != (kind is bool)):
        raise ConfigError(f"{where}: {key!r} has the wrong type")
    return value


_TOP_KEYS = {
    "host",
    "port",
    "data_dir",
    "memory",
    "project_id",
    "auto_create_topics",
    "topics",
    "instances",
    "credentials",
    "tokens",
    *_TIMEOUTS,
    "console",
    "console_actions",
}


def load_toml(path: Path) -> dict[str, Any]:
    """Read a TOML config file into keyword arguments for `Settings` (see docs/emulator.md)."""
    try:
        with path.open("rb") as file:
            raw = tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    where = str(path)
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown settings {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for key, kind in (
        ("host", str),
        ("port", int),
        ("project_id", str),
        ("auto_create_topics", bool),
        ("console", bool),
        ("console_actions", bool),
    ):
        value = _expect(raw, key, kind, where)
        if value is not None:
            out[key] = value
    for key in _TIMEOUTS:
        value = _expect(raw, key, (int, float), where)
        if value is not None:
            out[key] = float(value)
    if _expect(raw, "memory", bool, where):
        out["data_dir"] = None
    elif (data_dir := _expect(raw, "data_dir", str, where)) is not None:
        out["data_dir"] = (path.parent / data_dir) if not Path(data_dir).is_absolute() else Path(data_dir)
    out["topics"] = _topics_from_toml(raw.get("topics"), where)
    instances = []
    for index, table in enumerate(_expect(raw, "instances", list, where) or []):
        here = f"{where}: instances[{index}]"
        if not isinstance(table, Mapping):
            raise ConfigError(f"{here} must be a table")
        extra = sorted(set(table) - {"id", "broker_name", "topics"})
        if extra:
            raise ConfigError(f"{here}: unknown settings {', '.join(extra)}")
        instance_id = _expect(table, "id", str, here)
        if instance_id is None:
            raise ConfigError(f"{here} needs an 'id'")
        broker = _expect(table, "broker_name", str, here) or DEFAULT_BROKER_NAME
        instances.append(InstanceSettings(instance_id, broker, _topics_from_toml(table.get("topics"), here)))
    if instances:
        out["instances"] = tuple(instances)
    credentials = []
    for index, table in enumerate(_expect(raw, "credentials", list, where) or []):
        here = f"{where}: credentials[{index}]"
        if not isinstance(table, Mapping) or not isinstance(table.get("ak"), str):
            raise ConfigError(f"{here} must be a table with string 'ak' and 'sk'")
        if not isinstance(table.get("sk"), str):
            raise ConfigError(f"{here} must be a table with string 'ak' and 'sk'")
        credentials.append(Credential(table["ak"], table["sk"]))
    out["credentials"] = tuple(credentials)
    tokens = _expect(raw, "tokens", list, where) or []
    if not all(isinstance(token, str) for token in tokens):
        raise ConfigError(f"{where}: 'tokens' must be a list of strings")
    out["tokens"] = tuple(tokens)
    return out


def merge_lists(*parts: Iterable[Any]) -> tuple[Any, ...]:
    """Concatenate list settings, dropping exact duplicates but keeping order."""
    out: list[Any] = []
    for part in parts:
        for item in part:
            if item not in out:
                out.append(item)
    return tuple(out)
