"""Network peers for the HTTPS and proxy tests: a real HTTP CONNECT proxy (proxy.py) on a loopback port."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def running_proxy(basic_auth: str | None = None) -> Iterator[str]:
    """A proxy.py process on a free loopback port (with `USER:PASSWORD` basic auth when given); yields its URL."""
    with tempfile.TemporaryDirectory(prefix="dms-proxy-") as folder:
        port_file = Path(folder) / "port"
        log = Path(folder) / "proxy.log"
        command = [
            sys.executable,
            "-m",
            "proxy",
            "--hostname",
            "127.0.0.1",
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--num-acceptors",
            "1",
            "--num-workers",
            "1",
        ]
        if basic_auth is not None:
            command += ["--basic-auth", basic_auth]
        with log.open("wb") as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not (port_file.is_file() and port_file.read_text().strip()):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"proxy.py did not start:\n{log.read_text(errors='replace')}")
                time.sleep(0.02)
            yield f"http://127.0.0.1:{port_file.read_text().strip()}"
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
