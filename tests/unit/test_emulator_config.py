"""Emulator settings: flags, TOML, precedence and validation (no sockets)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from dms_rocketmq_emulator._cli import build_parser, settings_from_args
from dms_rocketmq_emulator._config import (
    DEFAULT_INSTANCE_ID,
    DEFAULT_PROJECT_ID,
    ConfigError,
    Credential,
    Settings,
    TopicSettings,
    parse_credential,
    parse_topic,
)
from dms_rocketmq_emulator._schema import request_schema


def _settings(*argv: str) -> Settings:
    return settings_from_args(build_parser().parse_args(list(argv))).validate(request_schema().is_topic_name)


def test_defaults() -> None:
    """Without flags: 127.0.0.1:8765, the fixed project and instance, a durable store, auth off."""
    settings = _settings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8765)
    assert settings.project_id == DEFAULT_PROJECT_ID
    assert [i.instance_id for i in settings.instances] == [DEFAULT_INSTANCE_ID]
    assert settings.instances[0].broker_name == "broker-0"
    assert settings.data_dir == Path(".dms-rocketmq-emulator")
    assert settings.auth_enabled is False


def test_flags() -> None:
    """Flags set every setting; list flags repeat; --memory means no data dir."""
    settings = _settings(
        "--memory",
        "--port",
        "0",
        "--topic",
        "orders",
        "--topic",
        "payments:3",
        "--credential",
        "AK1:SK:with:colons",
        "--token",
        "t1",
        "--instance-id",
        "aaaaaaaa-1111-4222-8333-444444444444",
    )
    assert settings.data_dir is None
    assert settings.topics == (TopicSettings("orders", 8), TopicSettings("payments", 3))
    assert settings.credentials == (Credential("AK1", "SK:with:colons"),)
    assert settings.tokens == ("t1",)
    assert settings.auth_enabled


def test_toml_and_flag_precedence(tmp_path: Path) -> None:
    """Flags win over the TOML file; list flags add to the file's lists; data_dir is relative to the file."""
    config = tmp_path / "e.toml"
    config.write_text(
        'port = 9000\nhost = "127.0.0.2"\ndata_dir = "store"\ntopics = ["a-topic"]\ntokens = ["file-token"]\n'
        '[[instances]]\nid = "aaaaaaaa-1111-4222-8333-444444444444"\nbroker_name = "broker-3"\n'
        'topics = [{name = "own", queues = 2}]\n'
    )
    settings = _settings("--config", str(config), "--port", "9100", "--token", "flag-token", "--topic", "b-topic")
    assert settings.port == 9100
    assert settings.host == "127.0.0.2"
    assert settings.data_dir == tmp_path / "store"
    assert settings.tokens == ("file-token", "flag-token")
    assert [t.name for t in settings.topics] == ["a-topic", "b-topic"]
    instance = settings.instances[0]
    assert (instance.instance_id, instance.broker_name) == ("aaaaaaaa-1111-4222-8333-444444444444", "broker-3")
    assert [t.name for t in settings.topics_of(instance)] == ["own", "a-topic", "b-topic"]


def test_instance_topic_overrides_shared_topic_queues() -> None:
    """An instance's own topic settings win over a shared topic of the same name."""
    settings = Settings(topics=(TopicSettings("orders", 8),))
    instance = settings.instances[0].__class__(DEFAULT_INSTANCE_ID, topics=(TopicSettings("orders", 2),))
    assert settings.topics_of(instance) == (TopicSettings("orders", 2),)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (Settings(project_id="has space"), "project id"),
        (Settings(project_id="my-project"), "does not match"),
        (Settings(instances=()), "at least one instance"),
        (Settings(topics=(TopicSettings("orders", 51),)), "queues must be 1-50"),
        (Settings(credentials=(Credential("AK", "SK"), Credential("AK", "other"))), "configured twice"),
        (Settings(credentials=(Credential("A K", "SK"),)), "white space"),
        (Settings(tokens=("",)), "token may not be empty"),
        (Settings(port=70000), "out of range"),
    ],
)
def test_validation_errors(settings: Settings, message: str) -> None:
    """Invalid settings raise ConfigError with a message that names the problem."""
    with pytest.raises(ConfigError, match=message):
        settings.validate(request_schema().is_topic_name)


def test_secrets_not_in_repr() -> None:
    """The repr of settings and credentials never shows an SK or a token."""
    settings = Settings(credentials=(Credential("AK", "super-secret"),), tokens=("tok-secret",))
    assert "super-secret" not in repr(settings)
    assert "tok-secret" not in repr(settings)
    assert "super-secret" not in repr(Credential("AK", "super-secret"))


def test_parsers() -> None:
    """NAME[:QUEUES] and AK:SK parse, and bad forms raise ConfigError."""
    assert parse_topic("t:5") == TopicSettings("t", 5)
    assert parse_credential("A:B") == Credential("A", "B")
    for bad in ("A", ":B", "A:"):
        with pytest.raises(ConfigError):
            parse_credential(bad)


def test_client_env_replaces_every_client_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`client_env` drops every variable the client reads (none leaks from the caller's shell), sets the
    emulator's endpoint, IDs and AK/SK under the client's own names, and keeps the rest of the environment."""
    from dms_rocketmq._config import ENV, resolve_settings
    from dms_rocketmq_emulator._process import EmulatorProcess

    for name in ENV.values():
        monkeypatch.setenv(name, "from-the-shell")
    monkeypatch.setenv("UNRELATED_SETTING", "kept")
    process = EmulatorProcess(args=[], workdir=tmp_path, ak="AKEMULATOR", sk="sk-emulator")
    process.url = "http://127.0.0.1:1"
    env = process.client_env(EXTRA="x")
    assert "from-the-shell" not in env.values()
    assert env["UNRELATED_SETTING"] == "kept"
    assert env["EXTRA"] == "x"
    settings = resolve_settings(environ=env)
    assert (settings.endpoint, settings.project_id, settings.instance_id) == (
        process.url,
        process.project_id,
        process.instance_id,
    )


def test_the_emulator_launcher_does_not_import_the_client() -> None:
    """The launcher imports the client's names only when `client_env` is called: the emulator runs without it."""
    code = "import sys, dms_rocketmq_emulator._process; sys.exit('dms_rocketmq' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
