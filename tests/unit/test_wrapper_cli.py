"""The dms-rocketmq command line without a server: help, usage and configuration errors (exit code 2)."""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import urlsplit

import dms_rocketmq as dms
import pytest
from dms_rocketmq._constants import DEFAULT_MAX_RETRIES
from dms_rocketmq.cli import main

NO_RICH = "import sys; sys.modules['rich'] = None; from dms_rocketmq.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.parametrize("argv", [["--help"], ["send", "--help"]])
def test_help_works_without_rich(argv: list[str]) -> None:
    """--help works when the `cli` extra (rich) is not installed, and documents env vars and exit codes."""
    done = subprocess.run([sys.executable, "-c", NO_RICH, *argv], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "HUAWEICLOUD_SDK_SK" in done.stdout
    assert "exit codes" in done.stdout


def test_no_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """Running without a command is a usage error: exit code 2."""
    with pytest.raises(SystemExit) as caught:
        main([])
    assert caught.value.code == 2


def test_sk_flag_does_not_exist(capsys: pytest.CaptureFixture[str]) -> None:
    """There is no --sk flag: secrets never go on the command line."""
    with pytest.raises(SystemExit) as caught:
        main(["send", "--topic", "orders", "--body", "x", "--sk", "secret"])
    assert caught.value.code == 2


def test_missing_configuration_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Without endpoint or credentials the CLI names what to set and exits 2 before any network call."""
    for name in ("DMS_ROCKETMQ_ENDPOINT", "DMS_ROCKETMQ_REGION", "HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"):
        monkeypatch.delenv(name, raising=False)
    assert main(["send", "--topic", "orders", "--body", "x"]) == 2
    assert "DMS_ROCKETMQ_ENDPOINT" in capsys.readouterr().err


def test_ak_without_sk_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """--ak without HUAWEICLOUD_SDK_SK in the environment is a configuration error naming the variable."""
    monkeypatch.delenv("HUAWEICLOUD_SDK_SK", raising=False)
    code = main(
        [
            "send",
            "--endpoint",
            "http://127.0.0.1:9",
            "--project-id",
            "p",
            "--instance-id",
            "i",
            "--ak",
            "AK",
            "--topic",
            "orders",
            "--body",
            "x",
        ]
    )
    assert code == 2
    assert "HUAWEICLOUD_SDK_SK" in capsys.readouterr().err


def test_invalid_message_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A message DMS would refuse (bad topic) is reported with what to change, exit 2, nothing sent."""
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "sk-secret-value")
    code = main(
        [
            "send",
            "--endpoint",
            "http://127.0.0.1:9",
            "--project-id",
            "p",
            "--instance-id",
            "i",
            "--ak",
            "AK",
            "--topic",
            "bad topic",
            "--body",
            "x",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "may only use letters" in err
    assert "sk-secret-value" not in err


def test_unreadable_file_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A --file that cannot be read is a usage error (exit 2)."""
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "sk")
    code = main(
        [
            "send",
            "--endpoint",
            "http://127.0.0.1:9",
            "--project-id",
            "p",
            "--instance-id",
            "i",
            "--ak",
            "AK",
            "--topic",
            "orders",
            "--file",
            "/nonexistent/messages.jsonl",
        ]
    )
    assert code == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--body", "x", "--failures", "f.jsonl"], "--failures only apply to sending a file"),
        (["--body", "x", "--results", "r.jsonl", "--rate", "5"], "--results, --rate only apply"),
        (["--file", "in.jsonl", "--resume"], "--resume needs --results"),
        (["--file", "in.jsonl", "--results", "r.jsonl", "--resend-in-doubt"], "only applies with --resume"),
        (["--file", "in.jsonl", "--rate", "0"], "--rate must be"),
        (["--file", "in.jsonl", "--max-connection-failures", "0"], "--max-connection-failures must be"),
    ],
)
def test_file_options_without_a_file_or_out_of_place_are_usage_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    """File-sending options without --file, or in combinations that cannot work, exit 2 and say why."""
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "sk")
    base = ["send", "--endpoint", "http://127.0.0.1:9", "--project-id", "p", "--instance-id", "i", "--ak", "AK"]
    code = main([*base, "--topic", "orders", *extra])
    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("query", ["a=b+c", "z=1&a=2", "k=%7e&k=x y", "only", "t=%2B&e="])
def test_sign_explain_prints_the_url_that_was_signed(
    query: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sign --explain` prints the URL to send with the query exactly as signed (the canonical request's
    query line), not as typed: a `+` typed in the query is signed, and must be sent, as `%20`."""
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "sk")
    typed = f"http://127.0.0.1:9/v2/p/messages?{query}"
    assert main(["sign", "--explain", "--ak", "AK", "--date", "20260101T000000Z", "--url", typed]) == 0
    printed = capsys.readouterr().out
    method_and_url, canonical = printed.split("\n\ncanonical request:\n", 1)
    url = method_and_url.split(" ", 1)[1]
    assert url == dms.canonical_url(typed)
    assert urlsplit(url).query == canonical.split("\n")[2]


def test_sign_and_send_take_the_same_connection_flags() -> None:
    """`sign` accepts every connection flag `send` has (one definition), and `--max-retries` states the
    default the client uses and retries nothing that could store a message twice (no 503)."""
    send_help = subprocess.run([sys.executable, "-m", "dms_rocketmq", "send", "--help"], capture_output=True, text=True)
    sign_help = subprocess.run([sys.executable, "-m", "dms_rocketmq", "sign", "--help"], capture_output=True, text=True)
    for flag in ("--endpoint", "--region", "--project-id", "--instance-id", "--engine", "--ak"):
        assert flag in send_help.stdout
        assert flag in sign_help.stdout
    retries = " ".join(send_help.stdout.split("--max-retries N")[-1].split("\n  --", 1)[0].split())
    assert f"(default {DEFAULT_MAX_RETRIES})" in retries
    assert "503" not in retries
