"""Start-up of `dms-rocketmq-emulator` as a new user meets it: settings checked before the port is taken,
the real address in the port error, a banner whose every line works when pasted, and a clear message when
the `emulator` extra is missing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dms_rocketmq_emulator._extras import EXTRA_MODULES, INSTALL_COMMAND
from dms_rocketmq_emulator.pytest_plugin import EmulatorProcess, start_emulator

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another process is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def _run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dms_rocketmq_emulator", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
        cwd=cwd,
    )


def test_port_taken_from_a_flag_names_the_address(taken_port: int) -> None:
    """A busy --port exits 1 naming host:port as configured, not `None:None`."""
    result = _run("--memory", "--port", str(taken_port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{taken_port}: Address already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_port_taken_from_the_toml_file_names_the_address(tmp_path: Path, taken_port: int) -> None:
    """A busy port that comes from the TOML file (no --host/--port flag) is named as well."""
    config = tmp_path / "emulator.toml"
    config.write_text(f"port = {taken_port}\nmemory = true\n")
    result = _run("--config", str(config))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{taken_port}:" in result.stderr


@pytest.mark.parametrize(
    ("args", "toml", "message"),
    [
        (("--instance-id", "notauuid"), "", "instance id 'notauuid' is not a UUID"),
        ((), 'topics = ["orders:51"]', "topic 'orders': queues must be 1-50"),
        ((), '[[instances]]\nid = "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90"\ntopics = ["TBW102"]', "breaks DMS's rules"),
        (("--project-id", "short"), "", "project id 'short'"),
    ],
)
def test_bad_settings_are_reported_even_when_the_port_is_taken(
    tmp_path: Path, taken_port: int, args: tuple[str, ...], toml: str, message: str
) -> None:
    """Every setting is checked before binding: a bad one exits 2 with its own message, not the port error."""
    config = tmp_path / "emulator.toml"
    config.write_text(f"port = {taken_port}\nmemory = true\n{toml}\n")
    result = _run("--config", str(config), *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "cannot listen" not in result.stderr


def _banner(emulator: EmulatorProcess) -> list[str]:
    lines = emulator.log_path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# dms-rocketmq-emulator"))
    end = next(i for i, line in enumerate(lines) if line.startswith("dms-rocketmq send"))
    return lines[start : end + 1]


def _clean_environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD_", "DMS_ROCKETMQ_", "DMS_CONTRACT_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env | extra


def _paste(banner: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the banner's lines, unchanged, as a POSIX shell script (what pasting them does)."""
    return subprocess.run(
        ["/bin/sh", "-eu"], input="\n".join(banner) + "\n", capture_output=True, text=True, env=env, timeout=60
    )


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_pasting_the_banner_sends_a_message_with_auth_off() -> None:
    """With authentication off, pasting every banner line as printed sends a message with the CLI."""
    emulator = start_emulator(auth=False, topics=("orders",))
    try:
        result = _paste(_banner(emulator), _clean_environment())
        assert result.returncode == 0, result.stderr
        [message] = emulator.messages("orders")
        assert message["body"] == "hello"
    finally:
        emulator.close()


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_pasting_the_banner_with_auth_on_needs_only_the_sk() -> None:
    """With authentication on, the banner names everything but the SK; with the SK set, its lines send."""
    emulator = start_emulator(auth=True, topics=("orders",))
    try:
        assert emulator.sk is not None
        banner = _banner(emulator)
        assert not any(emulator.sk in line for line in banner)
        assert f"HUAWEICLOUD_SDK_AK={emulator.ak}" in banner
        result = _paste(banner, _clean_environment(HUAWEICLOUD_SDK_SK=emulator.sk))
        assert result.returncode == 0, result.stderr
        assert len(emulator.messages("orders")) == 1
        without_sk = _paste(banner, _clean_environment())
        assert without_sk.returncode == 2
        assert "HUAWEICLOUD_SDK_SK" in without_sk.stderr
    finally:
        emulator.close()


def _blocking(tmp_path: Path, modules: tuple[str, ...]) -> dict[str, str]:
    """An environment whose Python cannot import `modules`, as if the `emulator` extra were not installed."""
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n\n\n"
        "class _Blocker:\n"
        f"    blocked = {modules!r}\n\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] in self.blocked:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "        return None\n\n\n"
        "sys.meta_path.insert(0, _Blocker())\n"
    )
    env = _clean_environment()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    return env


@pytest.mark.parametrize("module", EXTRA_MODULES)
def test_console_script_without_the_extra_says_what_to_install(tmp_path: Path, module: str) -> None:
    """Without a module of the `emulator` extra, the console script prints the pip command, not a traceback."""
    result = subprocess.run(
        [str(BIN / "dms-rocketmq-emulator"), "--memory", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=_blocking(tmp_path, (module,)),
    )
    assert result.returncode == 1
    assert INSTALL_COMMAND in result.stderr
    assert module in result.stderr
    assert "Traceback" not in result.stderr


def test_fixture_without_the_extra_says_what_to_install(tmp_path: Path) -> None:
    """The `dms_emulator` fixture fails with the pip command, not the subprocess's ImportError traceback."""
    site = tmp_path / "site"
    site.mkdir()
    test_file = tmp_path / "test_uses_emulator.py"
    test_file.write_text("def test_it(dms_emulator):\n    pass\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=_blocking(site, ("starlette",)),
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert INSTALL_COMMAND in result.stdout
    assert "ModuleNotFoundError" not in result.stdout


def test_info_log_names_the_dms_error_code() -> None:
    """At --log-level info a refused request is logged with its DMS error code, not only `400 Bad Request`."""
    emulator = start_emulator(auth=False, topics=("orders",), extra_args=("--log-level", "info"))
    try:
        answer = httpx.post(emulator.messages_url, json={"topic": "nosuchtopic", "body": "x"})
        assert answer.status_code == 400
        emulator.stop()
        assert "400 DMS.00400876" in emulator.log_path.read_text()
    finally:
        emulator.close()
