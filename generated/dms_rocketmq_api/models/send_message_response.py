from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.send_message_properties_resp_entity import SendMessagePropertiesRespEntity


T = TypeVar("T", bound="SendMessageResponse")


@_attrs_define
class SendMessageResponse:
    """Where the message was stored (Table 4 of the API reference). A client should ignore fields it does not
    know: the service may add some.

        Attributes:
            topic (str): The name of the topic the message was sent to.
            body (str): The message content, as sent.
            property_list (list[SendMessagePropertiesRespEntity]): The message's properties: those that were sent (`KEYS`,
                `TAGS`) and those the broker added
                (`UNIQ_KEY`). May hold names not listed here.
            msg_id (str): The message ID, in RocketMQ's unique-key layout, as uppercase hexadecimal: the producer's IPv4
                address (4 bytes; 16 for IPv6), process ID (2 bytes), class-loader hash (4 bytes), milliseconds
                since the start of the month (4 bytes) and a counter (2 bytes), so 32 characters (56 for IPv6).
            queue_id (int): The ID of the queue, within the topic, that holds the message (a topic has 1 to 50 queues).
            queue_offset (int): The message's offset in its queue: 0 for the first message of a queue, then one more for
                each message.
            broker_name (str): The name of the broker that stored the message, such as `broker-0`.
    """

    topic: str
    body: str
    property_list: list[SendMessagePropertiesRespEntity]
    msg_id: str
    queue_id: int
    queue_offset: int
    broker_name: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        topic = self.topic

        body = self.body

        property_list = []
        for property_list_item_data in self.property_list:
            property_list_item = property_list_item_data.to_dict()
            property_list.append(property_list_item)

        msg_id = self.msg_id

        queue_id = self.queue_id

        queue_offset = self.queue_offset

        broker_name = self.broker_name

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "topic": topic,
                "body": body,
                "property_list": property_list,
                "msg_id": msg_id,
                "queue_id": queue_id,
                "queue_offset": queue_offset,
                "broker_name": broker_name,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.send_message_properties_resp_entity import SendMessagePropertiesRespEntity  # noqa: PLC0415

        d = dict(src_dict)
        topic = d.pop("topic")

        body = d.pop("body")

        property_list = []
        _property_list = d.pop("property_list")
        for property_list_item_data in _property_list:
            property_list_item = SendMessagePropertiesRespEntity.from_dict(property_list_item_data)

            property_list.append(property_list_item)

        msg_id = d.pop("msg_id")

        queue_id = d.pop("queue_id")

        queue_offset = d.pop("queue_offset")

        broker_name = d.pop("broker_name")

        send_message_response = cls(
            topic=topic,
            body=body,
            property_list=property_list,
            msg_id=msg_id,
            queue_id=queue_id,
            queue_offset=queue_offset,
            broker_name=broker_name,
        )

        send_message_response.additional_properties = d
        return send_message_response

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
