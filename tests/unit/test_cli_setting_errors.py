"""Every `dms-rocketmq` setting, missing or invalid, gets an error naming its flag and its variable: a CLI
user is never told about Python arguments such as `endpoint=`."""

from __future__ import annotations

import re

import pytest
from dms_rocketmq._config import CLI_FLAGS, ENV
from dms_rocketmq.cli import main
from dms_rocketmq.cli._parser import build_parser

GOOD = {
    "DMS_ROCKETMQ_ENDPOINT": "http://127.0.0.1:9",
    "HUAWEICLOUD_SDK_PROJECT_ID": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    "DMS_ROCKETMQ_INSTANCE_ID": "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90",
    "HUAWEICLOUD_SDK_AK": "AK",
    "HUAWEICLOUD_SDK_SK": "SK-VALUE",
}
UNSET = object()

# (case, environment changes, extra flags, what the error must name)
CASES = [
    ("no endpoint", {"DMS_ROCKETMQ_ENDPOINT": UNSET}, [], ["--endpoint", "--region", ENV["endpoint"], ENV["region"]]),
    ("endpoint scheme", {}, ["--endpoint", "ftp://x"], ["--endpoint", ENV["endpoint"]]),
    ("endpoint line break", {"DMS_ROCKETMQ_ENDPOINT": "http://x\n"}, [], ["--endpoint", ENV["endpoint"]]),
    ("unknown region", {"DMS_ROCKETMQ_ENDPOINT": UNSET}, ["--region", "mars-1"], ["--region", ENV["region"]]),
    ("region env", {"DMS_ROCKETMQ_ENDPOINT": UNSET, "DMS_ROCKETMQ_REGION": "mars-1"}, [], ["--region", ENV["region"]]),
    ("no project", {"HUAWEICLOUD_SDK_PROJECT_ID": UNSET}, [], ["--project-id", ENV["project_id"]]),
    ("project line break", {}, ["--project-id", "a\nb"], ["--project-id", ENV["project_id"]]),
    ("no instance", {"DMS_ROCKETMQ_INSTANCE_ID": UNSET}, [], ["--instance-id", ENV["instance_id"]]),
    ("instance line break", {}, ["--instance-id", "a\rb"], ["--instance-id", ENV["instance_id"]]),
    ("engine", {}, ["--engine", "kafka"], ["--engine", ENV["engine"]]),
    ("engine env", {"DMS_ROCKETMQ_ENGINE": "kafka"}, [], ["--engine", ENV["engine"]]),
    (
        "no credentials",
        {"HUAWEICLOUD_SDK_AK": UNSET, "HUAWEICLOUD_SDK_SK": UNSET},
        [],
        ["--ak", ENV["ak"], ENV["sk"], ENV["token"]],
    ),
    ("ak without sk", {"HUAWEICLOUD_SDK_SK": UNSET}, [], [ENV["sk"]]),
    ("--ak without sk", {"HUAWEICLOUD_SDK_SK": UNSET}, ["--ak", "AK2"], [ENV["sk"]]),
    ("sk without ak", {"HUAWEICLOUD_SDK_AK": UNSET}, [], ["--ak", ENV["ak"]]),
    ("ak line break", {}, ["--ak", "A\nK"], ["--ak", ENV["ak"]]),
    ("sk line break", {"HUAWEICLOUD_SDK_SK": "S\nK"}, [], [ENV["sk"]]),
    ("security token line break", {"HUAWEICLOUD_SDK_SECURITY_TOKEN": "T\nT"}, [], [ENV["security_token"]]),
    ("token and ak", {"DMS_ROCKETMQ_TOKEN": "TOKEN"}, [], ["--ak", ENV["ak"], ENV["sk"], ENV["token"]]),
    (
        "token line break",
        {"HUAWEICLOUD_SDK_AK": UNSET, "HUAWEICLOUD_SDK_SK": UNSET, "DMS_ROCKETMQ_TOKEN": "T\nT"},
        [],
        [ENV["token"]],
    ),
    ("timeout", {}, ["--timeout", "0"], ["--timeout"]),
    ("timeout text", {}, ["--timeout", "soon"], ["--timeout"]),
    ("max retries", {}, ["--max-retries", "-1"], ["--max-retries"]),
    ("concurrency", {}, ["--file", "-", "--concurrency", "0"], ["--concurrency"]),
]


@pytest.mark.parametrize(("environment", "flags", "names"), [case[1:] for case in CASES], ids=[c[0] for c in CASES])
def test_setting_error_names_flag_and_variable(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environment: dict[str, object],
    flags: list[str],
    names: list[str],
) -> None:
    """The error exits 2 and names the flag and the variable, never the Python argument or a secret."""
    for variable in (*ENV.values(), *GOOD):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in (GOOD | environment).items():
        if value is not UNSET:
            monkeypatch.setenv(variable, str(value))
    try:
        code = main(["send", "--topic", "orders", "--body", "x", "--output", "json", *flags])
    except SystemExit as exit_:  # argparse's own refusals (types of --timeout, --max-retries)
        code = exit_.code
    error = capsys.readouterr().err
    assert code == 2, error
    for name in names:
        assert name in error
    assert not re.search(r"\b[a-z_]+=[ ,)]", error), error  # no `endpoint=`, `ak=` ...
    assert "SK-VALUE" not in error


def test_every_setting_has_a_spelling_and_every_flag_exists() -> None:
    """CLI_FLAGS covers every setting the client reads, and each flag it names is a flag of `send`."""
    assert set(CLI_FLAGS) == set(ENV)
    send_help = _send_help()
    for flag in filter(None, CLI_FLAGS.values()):
        assert flag in send_help, flag


def _send_help() -> str:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    return str(subparsers.choices["send"].format_help())  # type: ignore[attr-defined]
