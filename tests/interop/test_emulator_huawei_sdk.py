"""Huawei's official Python SDK against the emulator: signing, parsing of success and of errors."""

from __future__ import annotations

from typing import Any

import pytest
from dms_rocketmq_emulator import decode_msg_id
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException, ServerResponseException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkrocketmq.v2 import (
    RocketMQAsyncClient,
    RocketMQClient,
    SendMessageProperties,
    SendMessageReq,
    SendMessageRequest,
)

pytestmark = pytest.mark.interop


def _client(emulator: Any, *, sk: str | None = None) -> Any:
    config = HttpConfig.get_default_config()
    config.timeout = (5, 10)
    credentials = BasicCredentials(emulator.ak, sk or emulator.sk, emulator.project_id)
    return (
        RocketMQClient.new_builder()
        .with_http_config(config)
        .with_credentials(credentials)
        .with_endpoint(emulator.url)
        .build()
    )


def _request(emulator: Any, topic: str = "orders", engine: str = "rocketmq") -> Any:
    body = SendMessageReq(
        topic=topic,
        body='{"order_id": 1042}',
        property_list=[
            SendMessageProperties(name="KEYS", value="order-1042 customer-77"),
            SendMessageProperties(name="TAGS", value="created"),
        ],
    )
    return SendMessageRequest(engine=engine, instance_id=emulator.instance_id, body=body)


@pytest.mark.parametrize("engine", ["rocketmq", "reliability"])
def test_sdk_send_message_signed_succeeds_with_our_ids_and_offsets(dms_emulator: Any, engine: str) -> None:
    """The SDK's AK/SK-signed send_message is accepted and its parsed response carries our ids and offsets."""
    response = _client(dms_emulator).send_message(_request(dms_emulator, engine=engine))
    assert response.topic == "orders"
    assert response.body == '{"order_id": 1042}'
    stored = [m for m in dms_emulator.messages("orders") if m["msg_id"] == response.msg_id]
    assert len(stored) == 1
    assert int(response.queue_id) == stored[0]["queue_id"]
    assert int(response.queue_offset) == stored[0]["queue_offset"]
    assert response.broker_name == "broker-0"
    props = {p.name: p.value for p in response.property_list}
    assert props == {"KEYS": "order-1042 customer-77", "TAGS": "created", "UNIQ_KEY": response.msg_id}
    assert decode_msg_id(response.msg_id)["ip"] == "127.0.0.1"


def test_sdk_wrong_sk_raises_client_request_exception_with_our_code_and_request_id(dms_emulator: Any) -> None:
    """With a wrong SK the SDK raises ClientRequestException carrying APIGW.0301 and our X-Request-Id."""
    with pytest.raises(ClientRequestException) as caught:
        _client(dms_emulator, sk="not-the-secret-key").send_message(_request(dms_emulator))
    error = caught.value
    assert error.status_code == 401
    assert error.error_code == "APIGW.0301"
    assert error.error_msg == "Incorrect IAM authentication information: verify aksk signature fail"
    assert len(error.request_id) == 32
    assert int(error.request_id, 16) >= 0
    assert dms_emulator.sk not in str(error)


def test_sdk_unknown_topic_parsed_as_dms_error(dms_emulator: Any) -> None:
    """A send to a topic that does not exist reaches the SDK as DMS.00400876 with status 400."""
    with pytest.raises(ClientRequestException) as caught:
        _client(dms_emulator).send_message(_request(dms_emulator, topic="no-such-topic"))
    assert caught.value.status_code == 400
    assert caught.value.error_code == "DMS.00400876"


def test_sdk_parses_injected_503_as_server_response_exception(dms_emulator: Any) -> None:
    """An injected 503 reaches the SDK as ServerResponseException with DMS.00503000 and our request id."""
    dms_emulator.inject_faults(1, status=503, retry_after=1)
    with pytest.raises(ServerResponseException) as caught:
        _client(dms_emulator).send_message(_request(dms_emulator))
    assert caught.value.status_code == 503
    assert caught.value.error_code == "DMS.00503000"
    assert len(caught.value.request_id) == 32


def test_sdk_async_client_sends_signed(dms_emulator: Any) -> None:
    """The SDK's RocketMQAsyncClient (its own thread pool) also gets accepted, signed, with our offsets."""
    config = HttpConfig.get_default_config()
    config.timeout = (5, 10)
    client = (
        RocketMQAsyncClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(dms_emulator.ak, dms_emulator.sk, dms_emulator.project_id))
        .with_endpoint(dms_emulator.url)
        .build()
    )
    futures = [client.send_message_async(_request(dms_emulator, topic="payments")) for _ in range(5)]
    responses = [future.result() for future in futures]
    ids = {r.msg_id for r in responses}
    stored = {m["msg_id"]: m for m in dms_emulator.messages("payments")}
    assert ids <= set(stored)
    assert len(ids) == 5
    for response in responses:
        assert int(response.queue_offset) == stored[response.msg_id]["queue_offset"]
