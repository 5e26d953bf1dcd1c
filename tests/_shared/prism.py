"""Start Prism (npm `@stoplight/prism-cli`, pinned in package.json) on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import subprocess
import threading
from collections.abc import Iterator

ROOT = pathlib.Path(__file__).resolve().parents[2]
PRISM = ROOT / "node_modules" / ".bin" / "prism"
LISTENING = re.compile(r"Prism is listening on (http://127\.0\.0\.1:\d+)")
START_TIMEOUT_S = 60.0


@contextlib.contextmanager
def prism(*args: str) -> Iterator[str]:
    """Run `prism <args> --host 127.0.0.1 --port 0` (Prism binds a free port and logs it); yield its URL."""
    if not PRISM.exists():
        raise RuntimeError(f"{PRISM} is missing: run `npm ci` (or `make test`, which runs it) first")
    process = subprocess.Popen(
        [str(PRISM), *args, "--host", "127.0.0.1", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    found: list[str] = []
    seen: list[str] = []
    ready = threading.Event()

    def read_output() -> None:
        # Prism logs every request; the pipe is drained for its whole life so that it never blocks.
        assert process.stdout is not None
        with process.stdout:  # closed once Prism has exited: no leaked pipe
            for line in process.stdout:
                if not ready.is_set():
                    seen.append(line)
                    match = LISTENING.search(line)
                    if match:
                        found.append(match.group(1))
                        ready.set()
        ready.set()

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    try:
        ready.wait(START_TIMEOUT_S)
        if not found:
            raise RuntimeError("Prism did not start:\n" + "".join(seen[-20:]))
        yield found[0]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=5)
