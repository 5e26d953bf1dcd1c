"""Huawei's official SDK over HTTPS: it sends to and queries an emulator serving TLS, trusting the emulator's
CA with its own `ssl_ca_cert`, and refuses it without; our client sees the same messages over the same TLS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dms_rocketmq as dms
import pytest
from dms_rocketmq_emulator import start_emulator
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import SslHandShakeException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkrocketmq.v2 import (
    ListMessagesRequest,
    RocketMQClient,
    SendMessageProperties,
    SendMessageReq,
    SendMessageRequest,
)

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def tls_emulator() -> Iterator[Any]:
    process = start_emulator(auth=True, tls=True)
    try:
        yield process
    finally:
        process.close()


def _sdk(emulator: Any, *, trust: bool = True) -> Any:
    config = HttpConfig.get_default_config()
    config.timeout = (5, 10)
    if trust:
        config.ssl_ca_cert = str(emulator.ca_file)
    credentials = BasicCredentials(emulator.ak, emulator.sk, emulator.project_id)
    return (
        RocketMQClient.new_builder()
        .with_http_config(config)
        .with_credentials(credentials)
        .with_endpoint(emulator.url)
        .build()
    )


def test_sdk_sends_and_queries_over_https(tls_emulator: Any) -> None:
    """The SDK's signed send and list_messages work over HTTPS with ssl_ca_cert; our client reads the same."""
    assert tls_emulator.url.startswith("https://")
    sdk = _sdk(tls_emulator)
    body = SendMessageReq(
        topic="orders", body="over TLS", property_list=[SendMessageProperties(name="KEYS", value="tls-1")]
    )
    sent = sdk.send_message(SendMessageRequest(engine="rocketmq", instance_id=tls_emulator.instance_id, body=body))
    listed = sdk.list_messages(
        ListMessagesRequest(engine="rocketmq", instance_id=tls_emulator.instance_id, topic="orders", msg_id=sent.msg_id)
    )
    assert [m.body for m in listed.messages] == ["over TLS"]
    with dms.Client(environ=tls_emulator.client_env()) as client:
        stored = client.get_message("orders", sent.msg_id)
    assert stored is not None
    assert stored.keys == ("tls-1",)


def test_sdk_without_the_ca_refuses_the_certificate(tls_emulator: Any) -> None:
    """Without ssl_ca_cert the SDK refuses the emulator's certificate as it would an untrusted real one."""
    body = SendMessageReq(topic="orders", body="x", property_list=[])
    with pytest.raises(SslHandShakeException):
        _sdk(tls_emulator, trust=False).send_message(
            SendMessageRequest(engine="rocketmq", instance_id=tls_emulator.instance_id, body=body)
        )
