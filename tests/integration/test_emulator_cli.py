"""The command line: TOML config with several instances, the banner, and clear refusals of bad settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from dms_rocketmq_emulator.pytest_plugin import start_emulator

pytestmark = pytest.mark.integration

FIRST = "aaaaaaaa-1111-4222-8333-444444444444"
SECOND = "bbbbbbbb-1111-4222-8333-444444444444"

CONFIG = f"""
project_id = "ffeeddccbbaa99887766554433221100"
topics = ["shared:2"]
tokens = ["toml-token"]

[[instances]]
id = "{FIRST}"
broker_name = "broker-0"
topics = ["orders:4", {{ name = "audit", queues = 1 }}]

[[instances]]
id = "{SECOND}"
broker_name = "broker-7"
topics = ["billing:50"]

[[credentials]]
ak = "TOMLAK"
sk = "toml-secret"
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dms_rocketmq_emulator", "--port", "0", "--memory", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_toml_config_with_several_instances(tmp_path: Path) -> None:
    """A TOML file sets the project, two instances with their own brokers and topics, shared topics and auth."""
    config = tmp_path / "emulator.toml"
    config.write_text(CONFIG)
    emulator = start_emulator(
        auth=False,
        topics=(),
        project_id="ffeeddccbbaa99887766554433221100",
        instance_ids=(FIRST,),
        extra_args=("--config", str(config)),
    )
    try:
        headers = {"X-Auth-Token": "toml-token"}
        base = f"{emulator.url}/v2/rocketmq/ffeeddccbbaa99887766554433221100/instances"

        def send(instance: str, topic: str) -> httpx.Response:
            return httpx.post(f"{base}/{instance}/messages", json={"topic": topic, "body": "x"}, headers=headers)

        assert send(FIRST, "orders").json()["broker_name"] == "broker-0"
        assert send(SECOND, "billing").json()["broker_name"] == "broker-7"
        assert send(SECOND, "shared").status_code == 200
        assert send(FIRST, "shared").status_code == 200
        assert send(SECOND, "orders").json()["error_code"] == "DMS.00400876"
        assert [send(FIRST, "audit").json()["queue_id"] for _ in range(2)] == [0, 0]
        unauthenticated = httpx.post(f"{base}/{FIRST}/messages", json={"topic": "orders", "body": "x"})
        assert unauthenticated.status_code == 401
        banner = emulator.log_path.read_text()
        assert FIRST in banner
        assert SECOND in banner
        assert "billing (50 queues)" in banner
        assert "audit (1 queue)" in banner
        assert "auth        ON" in banner
        assert "toml-secret" not in banner
        assert "toml-token" not in banner
    finally:
        emulator.close()


def test_banner_prints_endpoint_line_for_parent_processes() -> None:
    """The banner ends with DMS_ROCKETMQ_ENDPOINT=http://127.0.0.1:PORT, the real port of --port 0."""
    emulator = start_emulator(auth=False, topics=("orders",))
    try:
        lines = emulator.log_path.read_text().splitlines()
        endpoint_lines = [line for line in lines if line.startswith("DMS_ROCKETMQ_ENDPOINT=")]
        assert endpoint_lines == [f"DMS_ROCKETMQ_ENDPOINT={emulator.url}"]
        assert emulator.url.startswith("http://127.0.0.1:")
        assert not emulator.url.endswith(":0")
        text = "\n".join(lines)
        assert "project id  0a1b2c3d4e5f60718293a4b5c6d7e8f9" in text
        assert "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90" in text
        assert "orders (8 queues)" in text
    finally:
        emulator.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--topic", "orders:51"), "queues must be 1-50"),
        (("--topic", "orders:0"), "queues must be 1-50"),
        (("--topic", "orders:many"), "is not a number"),
        (("--topic", "TBW102"), "breaks DMS's rules"),
        (("--topic", "x"), "breaks DMS's rules"),
        (("--instance-id", "not-a-uuid"), "is not a UUID"),
        (("--credential", "no-colon"), "AK:SK"),
        (("--project-id", "bad project"), "project id"),
        (("--config", "/nonexistent/emulator.toml"), "cannot read config file"),
    ],
)
def test_bad_settings_exit_2_with_a_clear_message(args: tuple[str, ...], message: str) -> None:
    """Invalid flags stop the emulator before it serves, with exit code 2 and a message naming the problem."""
    result = _run(*args)
    assert result.returncode == 2
    assert message in result.stderr


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("port = 'eighty'", "'port' has the wrong type"),
        ("colour = 'blue'", "unknown settings colour"),
        ("[[instances]]\nbroker_name = 'b'", "needs an 'id'"),
        ("topics = [{ name = 'orders', queues = 'x' }]", "a topic is a string"),
        ("[[credentials]]\nak = 'A'", "string 'ak' and 'sk'"),
        ("this is not toml", "is not valid TOML"),
    ],
)
def test_bad_toml_exit_2_with_a_clear_message(tmp_path: Path, toml: str, message: str) -> None:
    """A TOML file with a wrong type, an unknown key or bad syntax is refused with exit code 2."""
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    result = _run("--config", str(config))
    assert result.returncode == 2
    assert message in result.stderr


def test_port_in_use_exits_1(tmp_path: Path) -> None:
    """A port that is taken is refused with exit code 1 and a message, not a traceback."""
    emulator = start_emulator(auth=False)
    try:
        port = emulator.url.rsplit(":", 1)[1]
        result = subprocess.run(
            [sys.executable, "-m", "dms_rocketmq_emulator", "--port", port, "--memory"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 1
        assert "cannot listen on" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        emulator.close()


def test_help_lists_the_fixed_flags() -> None:
    """--help documents every flag other tools rely on."""
    result = subprocess.run(
        [sys.executable, "-m", "dms_rocketmq_emulator", "--help"], capture_output=True, text=True, check=True
    )
    for flag in (
        "--host",
        "--port",
        "--data-dir",
        "--memory",
        "--project-id",
        "--instance-id",
        "--topic",
        "--auto-create-topics",
        "--credential",
        "--token",
        "--config",
    ):
        assert flag in result.stdout


def test_corrupt_store_exits_1_with_a_clear_message(tmp_path: Path) -> None:
    """A data directory whose database is not SQLite is refused with exit code 1, not a traceback."""
    (tmp_path / "messages.sqlite3").write_bytes(b"not a database" * 1000)
    result = subprocess.run(
        [sys.executable, "-m", "dms_rocketmq_emulator", "--port", "0", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "cannot open the store" in result.stderr
    assert "Traceback" not in result.stderr
