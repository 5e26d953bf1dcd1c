"""`dms-rocketmq sign` prints what works: its output alone, pasted into an HTTP client that shares none of
our code (the standard library's http.client, and curl when it is installed), makes a request the
emulator's own verifier accepts, for a send and for a query with awkward query values."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from _shared.cli import command
from dms_rocketmq._config import ENV
from dms_rocketmq_emulator.pytest_plugin import EmulatorProcess, start_emulator

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    """An emulator with authentication on (AK/SK)."""
    process = start_emulator(auth=True, topics=("orders",))
    try:
        yield process
    finally:
        process.close()


def sign(emulator: EmulatorProcess, *args: str) -> tuple[str, str, dict[str, str]]:
    """Run `dms-rocketmq sign` as a user does; return the method, URL and headers it printed."""
    env = emulator.client_env(**{ENV["sk"]: str(emulator.sk)})
    done = subprocess.run([*command(), "sign", *args], env=env, capture_output=True, text=True, timeout=60, check=True)
    request_line, rest = done.stdout.split("\n", 1)
    method, url = request_line.split(" ", 1)
    printed = rest.split("headers to send:\n", 1)[1]
    headers = dict(line.split(": ", 1) for line in printed.splitlines() if line)
    assert str(emulator.sk) not in done.stdout + done.stderr
    return method, url, headers


def with_http_client(method: str, url: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    parts = urlsplit(url)
    assert parts.hostname is not None
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=body or None, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def with_curl(method: str, url: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    flags = [flag for name, value in headers.items() for flag in ("-H", f"{name}: {value}")]
    done = subprocess.run(
        [
            curl,
            "-sS",
            "--globoff",
            "-X",
            method,
            *flags,
            *(["--data-binary", "@-"] if body else []),
            "-w",
            "\n%{http_code}",
            url,
        ],
        input=body,
        capture_output=True,
        timeout=60,
        check=True,
    )
    content, _, status = done.stdout.rpartition(b"\n")
    return int(status), content


CLIENTS = {"http.client": with_http_client, "curl": with_curl}


@pytest.mark.parametrize("client", CLIENTS)
def test_a_signed_send_pasted_into_another_client_is_stored(emulator: EmulatorProcess, client: str) -> None:
    """sign's default request (a send to the configured instance) with every printed header is a 200."""
    body = json.dumps({"topic": "orders", "body": f"pasted from sign via {client}"}).encode()
    method, url, headers = sign(emulator, "--body", body.decode())
    status, content = CLIENTS[client](method, url, headers, body)
    assert status == 200, content
    assert json.loads(content)["msg_id"]


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("key", ["k+1", "k 1", "ключ", "k%2B1", "~k*'()"])
def test_a_signed_query_with_awkward_values_pasted_into_another_client_is_accepted(
    emulator: EmulatorProcess, client: str, key: str
) -> None:
    """A query URL typed with `+`, a space, non-ASCII text or escapes is printed as signed, and that URL
    with the printed headers is accepted (200)."""
    typed = f"{emulator.messages_url}?topic=orders&start_time=0&end_time={int(time.time() * 1000) + 60_000}&key={key}"
    method, url, headers = sign(emulator, "--method", "GET", "--url", typed)
    assert method == "GET"
    status, content = CLIENTS[client](method, url, headers, b"")
    assert status == 200, content
