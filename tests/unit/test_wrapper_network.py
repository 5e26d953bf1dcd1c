"""The network settings module: one reading of the proxy variables, one TLS context, clear refusals."""

from __future__ import annotations

import ssl
from pathlib import Path

import dms_rocketmq as dms
import httpx
import pytest
from dms_rocketmq._network import Network, Proxy, proxy_from_environment
from dms_rocketmq_emulator._tls import local_ca

ENDPOINT = "https://dms.cn-north-4.myhuaweicloud.com"


def network(**options: object) -> Network:
    settings: dict[str, object] = {"timeout": httpx.Timeout(5.0), "max_connections": 4, "environ": {}}
    settings.update(options)
    return Network(ENDPOINT, **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"HTTPS_PROXY": "http://p:1"}, "http://p:1"),
        ({"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:1"}, "http://lower:1"),
        ({"HTTP_PROXY": "http://p:1"}, None),  # an https:// endpoint's proxy is HTTPS_PROXY's
        ({"ALL_PROXY": "http://all:1"}, "http://all:1"),
        ({"all_proxy": "http://all:1", "HTTPS_PROXY": "http://p:1"}, "http://p:1"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "myhuaweicloud.com"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".myhuaweicloud.com"}, None),
        ({"HTTPS_PROXY": "http://p:1", "no_proxy": "*"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, "http://p:1"),
        ({"ALL_PROXY": "http://all:1", "NO_PROXY": "dms.cn-north-4.myhuaweicloud.com"}, None),
    ],
)
def test_proxy_from_environment(environ: dict[str, str], expected: str | None) -> None:
    """HTTPS_PROXY (lower case first), else ALL_PROXY; NO_PROXY exempts by host suffix or `*`."""
    assert proxy_from_environment(ENDPOINT + "/v2/x", environ) == expected


def test_http_endpoint_reads_http_proxy() -> None:
    """An http:// endpoint's proxy is HTTP_PROXY's, then ALL_PROXY's."""
    assert proxy_from_environment("http://127.0.0.1:80", {"HTTP_PROXY": "http://p:1"}) == "http://p:1"
    assert proxy_from_environment("http://127.0.0.1:80", {"HTTPS_PROXY": "http://p:1"}) is None


def test_explicit_proxy_wins_and_empty_means_direct() -> None:
    """proxy= overrides the environment; proxy='' goes direct even when the environment names one."""
    environ = {"HTTPS_PROXY": "http://env:1"}
    assert network(environ=environ).proxy == Proxy.parse("http://env:1")
    assert network(environ=environ, proxy="http://arg:2").proxy == Proxy.parse("http://arg:2")
    assert network(environ=environ, proxy="").proxy is None


def test_proxy_credentials_never_shown() -> None:
    """A proxy password is sent as Basic auth but never appears in a repr or in the client's repr."""
    proxy = Proxy.parse("http://user:s%40cret@proxy.internal:3128")
    assert (proxy.username, proxy.password, proxy.port) == ("user", "s@cret", 3128)
    assert proxy.authorization == "Basic dXNlcjpzQGNyZXQ="
    assert "cret" not in repr(proxy)
    assert "cret" not in proxy.display
    assert "cret" not in repr(network(proxy="http://user:s%40cret@proxy.internal:3128"))


@pytest.mark.parametrize("bad", ["socks5://p:1", "ftp://p", "http://", "http://p:notaport"])
def test_bad_proxy_is_refused(bad: str) -> None:
    """A proxy that is not an http(s):// URL with a host is a ConfigurationError naming it."""
    with pytest.raises(dms.ConfigurationError, match="proxy"):
        network(proxy=bad)


def test_verify_options(tmp_path: Path) -> None:
    """verify= takes True, False, a CA file, a CA folder or an SSLContext; SSL_CERT_FILE replaces the default."""
    ca, _ = local_ca(tmp_path)
    assert network().trust == "the operating system's trust store"
    assert network(verify=str(ca)).trust == f"the CAs of {ca}"
    assert network(verify=tmp_path).trust == f"the CAs of {tmp_path}"
    assert network(environ={"SSL_CERT_FILE": str(ca)}).trust == f"the CAs of SSL_CERT_FILE={ca}"
    off = network(verify=False).ssl_context
    assert (off.verify_mode, off.check_hostname) == (ssl.CERT_NONE, False)
    mine = ssl.create_default_context()
    assert network(verify=mine).ssl_context is mine


def test_one_context_for_every_library() -> None:
    """httpx and aiohttp are handed the same SSLContext object, and httpx never reads the environment again."""
    settings = network()
    options = settings.httpx_options()
    assert options["verify"] is settings.ssl_context
    assert options["trust_env"] is False


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"verify": "/nonexistent/ca.pem"}, "not a readable CA file"),
        ({"environ": {"SSL_CERT_FILE": "/nonexistent/ca.pem"}}, "SSL_CERT_FILE=/nonexistent/ca.pem"),
        ({"verify": 3}, "verify must be"),
        ({"cert": "/nonexistent/client.pem"}, "cannot load the client certificate"),
        ({"cert": ("a", 1)}, "cert must be"),
        ({"verify": ssl.create_default_context(), "cert": "c.pem"}, "not both"),
    ],
)
def test_bad_tls_settings_are_refused(options: dict[str, object], words: str) -> None:
    """A CA or client certificate that cannot be used is a ConfigurationError at construction, naming it."""
    with pytest.raises(dms.ConfigurationError, match=words.replace("(", r"\(")):
        network(**options)


def test_client_takes_the_options(tmp_path: Path) -> None:
    """Client and AsyncClient take verify=, cert= and proxy=, and both use one Network."""
    ca, _ = local_ca(tmp_path)
    settings = {"endpoint": ENDPOINT, "project_id": "p" * 32, "instance_id": "i", "ak": "a", "sk": "s", "environ": {}}
    with dms.Client(**settings, verify=str(ca), proxy="http://proxy.internal:3128") as client:
        assert client.network.trust == f"the CAs of {ca}"
        assert client.network.proxy == Proxy.parse("http://proxy.internal:3128")
    asynchronous = dms.AsyncClient(**settings, verify=False)
    assert asynchronous.network.verify_off
    assert asynchronous._sender._network is asynchronous.network  # type: ignore[attr-defined]


def test_the_async_helper_runs_the_default_path() -> None:
    """The unit tests' AsyncClient sends and reads back on aiohttp (its default path), answered in memory."""
    import asyncio

    from _shared.fake_dms import async_client, stored

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            return stored(request)
        return httpx.Response(200, json={"messages": [], "total": 0}, headers={"X-Request-Id": "r"})

    async def run() -> None:
        async with async_client(handler) as client:
            assert client._direct  # type: ignore[attr-defined]
            await client.send("orders", "hello")
            await client.get_message("orders", "A" * 32)
            assert client._sender._pools.current(asyncio.get_running_loop()) is not None  # type: ignore[attr-defined]

    asyncio.run(run())
    assert [request.method for request in seen] == ["POST", "GET"]
    assert seen[0].headers["User-Agent"].startswith("dms-rocketmq")


@pytest.mark.parametrize("connect", [None, 0.2, 10.0, 300.0])
def test_the_https_port_probe_is_bounded_whatever_the_connect_timeout(connect: float | None) -> None:
    """The probe that tells "http:// spoken to an HTTPS port" never adds more than TLS_PROBE_SECONDS (or a
    shorter connect timeout) to a failure the caller waits for: a plain server may sit on the probe."""
    from dms_rocketmq._network import TLS_PROBE_SECONDS

    network = Network("http://127.0.0.1:9", timeout=httpx.Timeout(5.0, connect=connect), max_connections=1, environ={})
    _, _, limit = network._probe_address()
    assert limit == (TLS_PROBE_SECONDS if connect is None else min(connect, TLS_PROBE_SECONDS))
    assert limit <= TLS_PROBE_SECONDS
