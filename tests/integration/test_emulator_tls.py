"""`dms-rocketmq-emulator --tls`: HTTPS with a local CA, a banner whose pasted lines trust it, a CA kept across
restarts, and clear refusals of unusable TLS flags."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dms_rocketmq as dms
import pytest
from dms_rocketmq_emulator.pytest_plugin import start_emulator

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


def _clean_environment(**extra: str) -> dict[str, str]:
    """No DMS settings, no CA or proxy of this machine's own: only what the banner gives."""
    dropped = ("HUAWEICLOUD_", "DMS_ROCKETMQ_", "DMS_CONTRACT_", "SSL_CERT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped) and "proxy" not in k.lower()}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env | extra


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_pasting_the_tls_banner_sends_over_https() -> None:
    """The banner of `--tls` names https:// and SSL_CERT_FILE; pasting its lines sends a message over HTTPS."""
    emulator = start_emulator(auth=False, topics=("orders",), tls=True)
    try:
        assert emulator.url.startswith("https://")
        lines = emulator.log_path.read_text().splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("# dms-rocketmq-emulator"))
        end = next(i for i, line in enumerate(lines) if line.startswith("dms-rocketmq send"))
        banner = lines[start : end + 1]
        assert f"SSL_CERT_FILE={emulator.ca_file}" in banner
        done = subprocess.run(
            ["/bin/sh", "-eu"],
            input="\n".join(banner) + "\n",
            capture_output=True,
            text=True,
            env=_clean_environment(),
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        [message] = emulator.messages("orders")
        assert message["body"] == "hello"
    finally:
        emulator.close()


def test_restart_keeps_the_ca_a_client_trusts() -> None:
    """After a restart the emulator serves a certificate from the same CA: a client made before still sends."""
    emulator = start_emulator(auth=True, tls=True)
    try:
        ca = emulator.ca_file
        assert ca is not None
        before = ca.read_bytes()
        emulator.restart()
        assert ca.read_bytes() == before
        with dms.Client(environ=emulator.client_env()) as client:
            assert client.send("orders", "after restart").topic == "orders"
    finally:
        emulator.close()


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--tls-cert", "cert.pem"], "--tls-cert and --tls-key go together"),
        (["--tls", "--tls-cert", "c.pem", "--tls-key", "k.pem"], "either --tls or --tls-cert"),
        (["--tls-cert", "missing.pem", "--tls-key", "missing-key.pem"], "cannot load them"),
    ],
)
def test_unusable_tls_flags_are_refused(tmp_path: Path, flags: list[str], words: str) -> None:
    """Bad TLS flags stop the emulator with exit 2 and a message naming them, never a traceback."""
    done = subprocess.run(
        [sys.executable, "-m", "dms_rocketmq_emulator", "--port", "0", "--memory", *flags],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2
    assert words in done.stderr
    assert "Traceback" not in done.stderr
