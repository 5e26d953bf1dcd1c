"""Every operation of Client and AsyncClient, on their default paths (no `transport=`), over every network route.

Routes: plain HTTP; HTTPS trusted by `verify=`; HTTPS trusted by `SSL_CERT_FILE`; HTTPS untrusted (a typed
`CertificateError`, nothing sent); HTTPS through a real HTTP CONNECT proxy (proxy.py) with basic auth, named
by `HTTPS_PROXY`. AsyncClient runs each in one event loop and in two successive `asyncio.run` calls with the
same client. The emulators and the proxy are shared by the whole module.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any, NamedTuple

import dms_rocketmq as dms
import pytest
from _shared.network import running_proxy
from dms_rocketmq_emulator import start_emulator

pytestmark = pytest.mark.integration

ROUTES = ["http", "https-verify", "https-env", "https-untrusted", "proxy"]
OPERATIONS = ["send", "send_many", "iter_send", "get_message", "query_messages", "confirm"]
PROXY_USER = "dms:s3cret-proxy"


class Servers(NamedTuple):
    plain: Any
    tls: Any
    proxy: str  # with its credentials


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    """An HTTP emulator, an HTTPS emulator with its own CA, and a proxy that asks for a user and password."""
    plain = start_emulator(auth=True)
    tls = start_emulator(auth=True, tls=True)
    try:
        with running_proxy(PROXY_USER) as proxy:
            user, password = PROXY_USER.split(":")
            yield Servers(plain, tls, proxy.replace("http://", f"http://{user}:{password}@"))
    finally:
        plain.close()
        tls.close()


def settings(emulator: Any) -> dict[str, Any]:
    return {
        "endpoint": emulator.url,
        "project_id": emulator.project_id,
        "instance_id": emulator.instance_id,
        "ak": emulator.ak,
        "sk": emulator.sk,
        "max_retries": 0,
    }


def client_options(servers: Servers, route: str) -> dict[str, Any]:
    """How a user configures the route; `environ={}` keeps this machine's own proxy and CA variables out."""
    if route == "http":
        return {**settings(servers.plain), "environ": {}}
    if route == "https-verify":
        return {**settings(servers.tls), "verify": str(servers.tls.ca_file), "environ": {}}
    if route == "https-env":
        # Everything from the environment, as `client_env()` gives it: the endpoint, credentials and the CA.
        environ = {k: v for k, v in servers.tls.client_env().items() if "proxy" not in k.lower()}
        return {"environ": environ, "max_retries": 0}
    if route == "https-untrusted":
        return {**settings(servers.tls), "environ": {}}  # the default trust store: the emulator's CA is not in it
    assert route == "proxy"
    environ = {"HTTPS_PROXY": servers.proxy, "SSL_CERT_FILE": str(servers.tls.ca_file)}
    return {**settings(servers.tls), "environ": environ}


def raise_failures(outcomes: list[Any]) -> None:
    for outcome in outcomes:
        if isinstance(outcome, dms.SendFailure):
            raise outcome.exception


def run_sync(client: dms.Client, operation: str) -> None:
    """One operation, checked; a failure is raised as the client raised it (a bulk outcome's exception)."""
    key = uuid.uuid4().hex
    messages = [{"topic": "orders", "body": f"m{n}", "keys": key} for n in range(3)]
    if operation == "send":
        assert client.send("orders", "hello", keys=key).topic == "orders"
    elif operation == "send_many":
        outcomes = client.send_many(messages, concurrency=2)
        raise_failures(outcomes)
        assert len(outcomes) == 3
    elif operation == "iter_send":
        outcomes = [outcome for _, outcome in client.iter_send(messages, concurrency=2)]
        raise_failures(outcomes)
        assert len(outcomes) == 3
    elif operation == "get_message":
        result = client.send("orders", "hello")
        stored = client.get_message("orders", result.msg_id)
        assert stored is not None
        assert stored.body == "hello"
    elif operation == "query_messages":
        client.send("orders", "hello", keys=key)
        assert [m.body for m in client.query_messages("orders", key=key)] == ["hello"]
    else:
        assert operation == "confirm"
        assert client.confirm(client.send("orders", "hello")).body == "hello"


async def run_async(client: dms.AsyncClient, operation: str) -> None:
    """`run_sync` for AsyncClient."""
    key = uuid.uuid4().hex
    messages = [{"topic": "orders", "body": f"m{n}", "keys": key} for n in range(3)]
    if operation == "send":
        assert (await client.send("orders", "hello", keys=key)).topic == "orders"
    elif operation == "send_many":
        outcomes = await client.send_many(messages, concurrency=2)
        raise_failures(outcomes)
        assert len(outcomes) == 3
    elif operation == "iter_send":
        outcomes = [outcome async for _, outcome in client.iter_send(messages, concurrency=2)]
        raise_failures(outcomes)
        assert len(outcomes) == 3
    elif operation == "get_message":
        result = await client.send("orders", "hello")
        stored = await client.get_message("orders", result.msg_id)
        assert stored is not None
        assert stored.body == "hello"
    elif operation == "query_messages":
        await client.send("orders", "hello", keys=key)
        assert [m.body async for m in client.query_messages("orders", key=key)] == ["hello"]
    else:
        assert operation == "confirm"
        assert (await client.confirm(await client.send("orders", "hello"))).body == "hello"


def expect_untrusted(error: BaseException) -> None:
    """The untrusted route's error: typed, nothing sent, saying how to trust the CA."""
    assert isinstance(error, dms.CertificateError), repr(error)
    assert error.request_sent is False
    assert "not trusted" in str(error)
    assert "verify=" in str(error)
    assert "--ca-bundle" in str(error)
    assert "SSL_CERT_FILE" in str(error)


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("route", ROUTES)
def test_client(servers: Servers, route: str, operation: str) -> None:
    """Client's operation works over the route, or (untrusted) raises CertificateError before sending."""
    with dms.Client(**client_options(servers, route)) as client:
        if route == "https-untrusted":
            with pytest.raises(dms.APIConnectionError) as caught:
                run_sync(client, operation)
            expect_untrusted(caught.value)
        else:
            run_sync(client, operation)


@pytest.mark.parametrize("loops", [1, 2])
@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("route", ROUTES)
def test_async_client(servers: Servers, route: str, operation: str, loops: int) -> None:
    """AsyncClient's operation works over the route in each of `loops` successive event loops with one client
    (or, untrusted, raises CertificateError before sending in each); nothing leaks (ResourceWarning is an error)."""
    client = dms.AsyncClient(**client_options(servers, route))
    try:
        for _ in range(loops):
            if route == "https-untrusted":
                with pytest.raises(dms.APIConnectionError) as caught:
                    asyncio.run(run_async(client, operation))
                expect_untrusted(caught.value)
            else:
                asyncio.run(run_async(client, operation))
    finally:
        asyncio.run(client.aclose())
