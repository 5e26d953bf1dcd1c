"""TLS and proxy failures explain themselves, typed under APIConnectionError with `request_sent` False, on every
path (Client and AsyncClient, sending and reading back: httpx and aiohttp) and in the CLI.

The peers are real: emulators serving HTTPS with a certificate from their local CA, with one issued for another
host, with an expired one; a plain-HTTP emulator; proxy.py asking for a user and password.
"""

from __future__ import annotations

import asyncio
import datetime
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import dms_rocketmq as dms
import pytest
from _shared.cli import command
from _shared.network import HANG_UPS, running_proxy, tls_port_hanging_up
from dms_rocketmq_emulator import start_emulator
from dms_rocketmq_emulator._tls import issue, local_ca, server_files

pytestmark = pytest.mark.integration

PROXY_USER, PROXY_PASSWORD = "dms", "proxy-pa55"


class Peers(NamedTuple):
    plain: Any
    tls: Any
    wrong_host: Any
    expired: Any
    ca: Path
    proxy: str  # without credentials


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peers]:
    folder = tmp_path_factory.mktemp("tls")
    ca = local_ca(folder)
    now = datetime.datetime.now(datetime.UTC)
    issue(ca, folder / "other.pem", folder / "other-key.pem", hosts=["other.example"])
    issue(
        ca,
        folder / "expired.pem",
        folder / "expired-key.pem",
        not_before=now - datetime.timedelta(days=30),
        not_after=now - datetime.timedelta(days=1),
    )
    started: list[Any] = []
    try:
        for extra in (
            (),
            ("--tls-dir", str(folder)),
            ("--tls-cert", str(folder / "other.pem"), "--tls-key", str(folder / "other-key.pem")),
            ("--tls-cert", str(folder / "expired.pem"), "--tls-key", str(folder / "expired-key.pem")),
        ):
            started.append(start_emulator(auth=True, extra_args=extra))
        with running_proxy(f"{PROXY_USER}:{PROXY_PASSWORD}") as proxy:
            yield Peers(*started, ca=ca[0], proxy=proxy)
    finally:
        for emulator in started:
            emulator.close()


def options(emulator: Any, **extra: Any) -> dict[str, Any]:
    return {
        "endpoint": emulator.url,
        "project_id": emulator.project_id,
        "instance_id": emulator.instance_id,
        "ak": emulator.ak,
        "sk": emulator.sk,
        "max_retries": 0,
        "environ": {},
        **extra,
    }


def _http_url(emulator: Any) -> str:
    return emulator.url.replace("https://", "http://")


#: Each failure: the client's options, the exception class and words its message must hold.
CASES: dict[str, Callable[[Peers], tuple[dict[str, Any], type[Exception], list[str]]]] = {
    "untrusted": lambda p: (options(p.tls), dms.CertificateError, ["not trusted", "verify=", "--ca-bundle"]),
    "wrong-host": lambda p: (
        options(p.wrong_host, verify=str(p.ca)),
        dms.CertificateError,
        ["not issued for '127.0.0.1'"],
    ),
    "expired": lambda p: (options(p.expired, verify=str(p.ca)), dms.CertificateError, ["has expired"]),
    "https-to-http-port": lambda p: (
        options(p.plain, endpoint=p.plain.url.replace("http://", "https://")),
        dms.TLSError,
        ["does not speak TLS", p.plain.url],
    ),
    "http-to-https-port": lambda p: (
        options(p.tls, endpoint=_http_url(p.tls)),
        dms.TLSError,
        ["speaks HTTPS", p.tls.url],
    ),
    "proxy-unreachable": lambda p: (
        options(p.tls, verify=str(p.ca), proxy="http://127.0.0.1:9"),
        dms.ProxyError,
        ["Cannot connect to the proxy http://127.0.0.1:9"],
    ),
    "proxy-asks-auth": lambda p: (
        options(p.tls, verify=str(p.ca), proxy=p.proxy),
        dms.ProxyError,
        ["407", "http://USER:PASSWORD@HOST:PORT"],
    ),
    "proxy-wrong-password": lambda p: (
        options(p.tls, verify=str(p.ca), proxy=p.proxy.replace("//", f"//{PROXY_USER}:wrong@")),
        dms.ProxyError,
        ["407", "does not accept"],
    ),
    "all-proxy-from-environment": lambda p: (
        options(p.tls, verify=str(p.ca), environ={"ALL_PROXY": "http://127.0.0.1:9"}),
        dms.ProxyError,
        ["proxy http://127.0.0.1:9"],
    ),
}


def _call(kind: str, operation: str, client_options: dict[str, Any]) -> None:
    if kind == "Client":
        with dms.Client(**client_options) as client:
            client.send("orders", "x") if operation == "send" else client.get_message("orders", "A" * 32)
        return

    async def run() -> None:
        async with dms.AsyncClient(**client_options) as client:
            if operation == "send":
                await client.send("orders", "x")
            else:
                await client.get_message("orders", "A" * 32)

    asyncio.run(run())


@pytest.mark.parametrize("operation", ["send", "get_message"])
@pytest.mark.parametrize("kind", ["Client", "AsyncClient"])
@pytest.mark.parametrize("case", list(CASES))
def test_failure_is_typed_and_explained(peers: Peers, case: str, kind: str, operation: str) -> None:
    """The failure is its own APIConnectionError subclass, nothing was sent, and the message says what to do."""
    client_options, expected, words = CASES[case](peers)
    with pytest.raises(dms.APIConnectionError) as caught:
        _call(kind, operation, client_options)
    error = caught.value
    assert type(error) is expected, repr(error)
    assert error.request_sent is False
    for word in words:
        assert word in str(error)
    assert "Operation not permitted" not in str(error)  # an SSL error's errno 1 is not EPERM
    assert PROXY_PASSWORD not in str(error)


@pytest.mark.parametrize("kind", ["Client", "AsyncClient"])
def test_proxy_with_credentials_and_no_proxy(peers: Peers, kind: str) -> None:
    """Through the proxy with its user and password the send is stored; NO_PROXY sends around a dead proxy."""
    authenticated = peers.proxy.replace("//", f"//{PROXY_USER}:{PROXY_PASSWORD}@")
    _call(kind, "send", options(peers.tls, verify=str(peers.ca), proxy=authenticated))
    bypassed = {"HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "localhost,127.0.0.1"}
    _call(kind, "send", options(peers.tls, verify=str(peers.ca), environ=bypassed))
    _call(kind, "get_message", options(peers.tls, verify=str(peers.ca), environ=bypassed))


def _cli(peers: Peers, *flags: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = peers.tls.client_env()
    environment.pop("SSL_CERT_FILE", None)
    environment.pop("SSL_CERT_DIR", None)
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        environment.pop(name, None)
    environment.update(env or {})
    return subprocess.run(
        [*command(), "send", "--topic", "orders", "--body", "hi", "--max-retries", "0", *flags],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_untrusted_says_how_to_trust(peers: Peers) -> None:
    """`dms-rocketmq send` to an untrusted HTTPS endpoint fails saying the certificate is not trusted and how."""
    done = _cli(peers)
    assert done.returncode != 0
    assert "not trusted" in done.stderr
    assert "--ca-bundle" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_ca_bundle_insecure_and_proxy(peers: Peers) -> None:
    """--ca-bundle trusts the CA; --insecure sends with a warning on stderr; --proxy goes through the proxy."""
    trusted = _cli(peers, "--ca-bundle", str(peers.ca))
    assert trusted.returncode == 0, trusted.stderr
    insecure = _cli(peers, "--insecure")
    assert insecure.returncode == 0, insecure.stderr
    assert "warning: --insecure" in insecure.stderr
    authenticated = peers.proxy.replace("//", f"//{PROXY_USER}:{PROXY_PASSWORD}@")
    proxied = _cli(peers, "--ca-bundle", str(peers.ca), "--proxy", authenticated)
    assert proxied.returncode == 0, proxied.stderr
    refused = _cli(peers, "--ca-bundle", str(peers.ca), "--proxy", peers.proxy)
    assert refused.returncode != 0
    assert "407" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_cli_http_spoken_to_https_port(peers: Peers) -> None:
    """The CLI names the fix when the endpoint says http:// but the port speaks HTTPS."""
    done = _cli(peers, "--endpoint", _http_url(peers.tls))
    assert done.returncode != 0
    assert "speaks HTTPS" in done.stderr


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return server_files(tmp_path_factory.mktemp("hang-up"))


@pytest.mark.parametrize(
    "path", ["Client.send", "Client.get_message", "AsyncClient.send", "AsyncClient.get_message", "CLI"]
)
@pytest.mark.parametrize("how", HANG_UPS)
def test_http_spoken_to_https_port_is_named_however_the_server_hangs_up(
    peers: Peers, tls_files: Any, how: str, path: str
) -> None:
    """A TLS server closes a plain-text request with a FIN or a reset, as timing falls: on every path, either
    way, the message names the fix."""
    with tls_port_hanging_up(tls_files.cert, tls_files.key, how) as port:
        endpoint = f"http://127.0.0.1:{port}"
        if path == "CLI":
            done = _cli(peers, "--endpoint", endpoint)
            assert done.returncode != 0
            assert "speaks HTTPS" in done.stderr, done.stderr
            assert "Traceback" not in done.stderr
            return
        kind, operation = path.split(".")
        with pytest.raises(dms.TLSError) as caught:
            _call(kind, operation, options(peers.tls, endpoint=endpoint))
    assert "speaks HTTPS" in str(caught.value)
    assert f"https://127.0.0.1:{port}" in str(caught.value)
    assert caught.value.request_sent is False
