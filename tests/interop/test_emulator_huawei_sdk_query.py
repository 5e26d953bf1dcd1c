"""Huawei's official Python SDK queries the emulator: RocketMQClient.list_messages, signed, every field filled."""

from __future__ import annotations

import time
import zlib
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkrocketmq.v2 import (
    ListMessagesRequest,
    ListMessagesResponse,
    Message,
    MessagePropertyList,
    RocketMQClient,
    SendMessageProperties,
    SendMessageReq,
    SendMessageRequest,
)

pytestmark = pytest.mark.interop


def _client(emulator: Any) -> Any:
    config = HttpConfig.get_default_config()
    config.timeout = (5, 10)
    return (
        RocketMQClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(emulator.ak, emulator.sk, emulator.project_id))
        .with_endpoint(emulator.url)
        .build()
    )


def _send(client: Any, emulator: Any, body: str, keys: str) -> Any:
    request = SendMessageRequest(
        engine="rocketmq",
        instance_id=emulator.instance_id,
        body=SendMessageReq(
            topic="orders",
            body=body,
            property_list=[
                SendMessageProperties(name="KEYS", value=keys),
                SendMessageProperties(name="TAGS", value="created"),
            ],
        ),
    )
    return client.send_message(request)


def test_sdk_list_messages_by_msg_id_gets_every_field(dms_emulator: Any) -> None:
    """The SDK's list_messages by msg_id returns its own ListMessagesResponse with a Message whose every
    field is set, equal to what the send acknowledged."""
    client = _client(dms_emulator)
    sent = _send(client, dms_emulator, '{"order_id": 7}', "sdk-query-1 sdk-query-shared")
    response = client.list_messages(
        ListMessagesRequest(engine="rocketmq", instance_id=dms_emulator.instance_id, topic="orders", msg_id=sent.msg_id)
    )
    assert isinstance(response, ListMessagesResponse)
    assert response.total == 1
    [message] = response.messages
    assert isinstance(message, Message)
    unset = [name for name in Message.openapi_types if getattr(message, name) is None]
    assert unset == []
    assert (message.msg_id, message.topic, message.body) == (sent.msg_id, "orders", '{"order_id": 7}')
    assert (message.queue_id, message.queue_offset) == (int(sent.queue_id), int(sent.queue_offset))
    assert message.instance_id == dms_emulator.instance_id
    assert message.body_crc == zlib.crc32(b'{"order_id": 7}') & 0x7FFFFFFF
    assert message.store_size > len(message.body)
    assert message.reconsume_times == 0
    assert abs(message.store_timestamp - time.time() * 1000) < 60_000
    assert message.born_timestamp <= message.store_timestamp
    assert message.born_host.startswith("127.0.0.1:")
    assert message.store_host == "127.0.0.1:10911"
    assert all(isinstance(p, MessagePropertyList) for p in message.property_list)
    properties = {p.name: p.value for p in message.property_list}
    assert properties == {
        "KEYS": "sdk-query-1 sdk-query-shared",
        "TAGS": "created",
        "UNIQ_KEY": sent.msg_id,
        "CLUSTER": "DmsCluster",
    }


def test_sdk_list_messages_by_key_and_time_range_pages(dms_emulator: Any) -> None:
    """By one of several keys within a millisecond time range, limit/offset page through, total counts all."""
    client = _client(dms_emulator)
    start = int(time.time() * 1000) - 1
    sent = [_send(client, dms_emulator, f"paged {n}", f"sdk-page-{n} sdk-paged") for n in range(3)]
    end = int(time.time() * 1000) + 1

    def page(offset: int) -> Any:
        return client.list_messages(
            ListMessagesRequest(
                engine="rocketmq",
                instance_id=dms_emulator.instance_id,
                topic="orders",
                key="sdk-paged",
                start_time=str(start),
                end_time=str(end),
                limit=2,
                offset=offset,
            )
        )

    first, second = page(0), page(2)
    assert (first.total, second.total) == (3, 3)
    assert [m.msg_id for m in first.messages + second.messages] == [s.msg_id for s in sent]


def test_sdk_list_messages_without_a_range_is_a_client_request_exception(dms_emulator: Any) -> None:
    """A query with neither msg_id nor a time range reaches the SDK as 400 DMS.00400062 with our request id."""
    with pytest.raises(ClientRequestException) as caught:
        _client(dms_emulator).list_messages(
            ListMessagesRequest(engine="rocketmq", instance_id=dms_emulator.instance_id, topic="orders")
        )
    assert caught.value.status_code == 400
    assert caught.value.error_code == "DMS.00400062"
    assert len(caught.value.request_id) == 32
