"""Signatures on the wire: Huawei's official SDK and our clients checked against each other's signer.

A recording HTTP server on a loopback port captures exactly what each client sends. The SDK's requests are
re-signed with our `sign_request`; ours (Client, AsyncClient, the requests adapter) are re-signed with the SDK's
`Signer`. Each pair must produce the same Authorization header.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dms_rocketmq as dms
import pytest
import requests
from dms_rocketmq import sign_request
from dms_rocketmq._auth import headers_to_sign
from dms_rocketmq.auth_requests import AKSKAuth as RequestsAKSKAuth
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

pytestmark = [pytest.mark.interop, pytest.mark.integration]

AK = "HPUAWIREAK0000000001"
SK = "wire-test-secret-key/+="
PROJECT_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
INSTANCE_ID = "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90"
PATH = f"/v2/rocketmq/{PROJECT_ID}/instances/{INSTANCE_ID}/messages"


class Recorded:
    def __init__(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.method, self.path, self.headers, self.body = method, path, headers, body

    def header(self, name: str) -> str:
        return next(value for key, value in self.headers if key.lower() == name.lower())


class RecordingServer:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        recorded = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                recorded.append(Recorded("POST", self.path, list(self.headers.items()), body))
                sent = json.loads(body or b"{}")
                answer = json.dumps(
                    {
                        "topic": sent.get("topic", "orders"),
                        "body": sent.get("body", ""),
                        "property_list": [],
                        "msg_id": "7F00000100C8A1B2C3D4000A51E00001",
                        "queue_id": 0,
                        "queue_offset": 0,
                        "broker_name": "broker-0",
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.send_header("X-Request-Id", "5d0f0c2b8a6e4f1c9b7a3e2d1c0b9a8f")
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    recording = RecordingServer()
    yield recording
    recording.close()


class _Credentials:
    ak = AK
    sk = SK


def sdk_resign(server: RecordingServer, recorded: Recorded) -> str:
    """The Authorization Huawei's Signer computes for a recorded request, from the headers it says it signed."""
    signed = recorded.header("Authorization").split("SignedHeaders=")[1].split(",")[0].split(";")
    headers = {name: recorded.header(name) for name in signed}
    request = SdkRequest(
        method=recorded.method,
        schema="http",
        host=server.url.removeprefix("http://"),
        resource_path=recorded.path,
        query_params=[],
        header_params=headers,
        body=recorded.body,
    )
    Signer(_Credentials).sign(request)
    return str(request.header_params["Authorization"])


def test_official_sdk_request_resigned_by_us(server: RecordingServer) -> None:
    """What the official RocketMQ client sends, re-signed by sign_request (transport headers left out), matches."""
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from huaweicloudsdkrocketmq.v2 import RocketMQClient, SendMessageProperties, SendMessageReq, SendMessageRequest

    client = (
        RocketMQClient.new_builder()
        .with_http_config(HttpConfig.get_default_config())
        .with_credentials(BasicCredentials(AK, SK, PROJECT_ID))
        .with_endpoint(server.url)
        .build()
    )
    client.send_message(
        SendMessageRequest(
            engine="rocketmq",
            instance_id=INSTANCE_ID,
            body=SendMessageReq(
                topic="orders", body="héllo 世界", property_list=[SendMessageProperties(name="KEYS", value="order-1")]
            ),
        )
    )
    [recorded] = server.requests
    pairs = [(k, v) for k, v in headers_to_sign(recorded.headers) if k.lower() != "authorization"]
    ours = sign_request(recorded.method, server.url + recorded.path, pairs, recorded.body, AK, SK)
    assert ours["Authorization"] == recorded.header("Authorization")
    assert "SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date," in ours["Authorization"]


def test_client_request_verified_by_sdk(server: RecordingServer) -> None:
    """Client's signed request, re-signed by the SDK's Signer, gives the same Authorization."""
    with dms.Client(
        endpoint=server.url,
        project_id=PROJECT_ID,
        instance_id=INSTANCE_ID,
        ak=AK,
        sk=SK,
        security_token="temporary-token",
        environ={},
    ) as client:
        client.send("orders", "héllo", keys=["a", "b"], tags="t")
    [recorded] = server.requests
    assert recorded.header("X-Security-Token") == "temporary-token"
    assert sdk_resign(server, recorded) == recorded.header("Authorization")


def test_async_client_request_verified_by_sdk(server: RecordingServer) -> None:
    """AsyncClient's aiohttp path (precomputed signer) produces a signature the SDK's Signer agrees with."""

    async def main() -> None:
        async with dms.AsyncClient(
            endpoint=server.url, project_id=PROJECT_ID, instance_id=INSTANCE_ID, ak=AK, sk=SK, environ={}
        ) as client:
            await client.send("orders", "héllo 世界", keys="k1 k2")
            await client.send_json("orders", {"n": 1})

    asyncio.run(main())
    assert len(server.requests) == 2
    for recorded in server.requests:
        assert sdk_resign(server, recorded) == recorded.header("Authorization")
        assert recorded.header("X-Project-Id") == PROJECT_ID


def test_requests_adapter_verified_by_sdk(server: RecordingServer) -> None:
    """A request signed by the requests adapter is signed the same by the SDK's Signer."""
    response = requests.post(
        server.url + PATH,
        json={"topic": "orders", "body": "x"},
        auth=RequestsAKSKAuth(AK, SK, project_id=PROJECT_ID),
        timeout=10,
    )
    assert response.status_code == 200
    [recorded] = server.requests
    assert sdk_resign(server, recorded) == recorded.header("Authorization")
