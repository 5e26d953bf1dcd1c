from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.message_property import MessageProperty


T = TypeVar("T", bound="Message")


@_attrs_define
class Message:
    """A message as the broker stored it. Every version of the reference lists all these fields; only the
    ones that identify the message are required here, so that a deployment that leaves one out still
    parses. Three fields were strings in the 2023-08 reference and are integers since (`reconsume_times`,
    `queue_id`, `queue_offset`): both are accepted.

        Attributes:
            msg_id (str): The message ID; for a message sent over HTTP, the UNIQ_KEY-layout ID the send returned.
            topic (str): The topic.
            body (str): The message content.
            instance_id (str | Unset): The ID of the instance.
            store_timestamp (int | Unset): When the broker stored the message, in milliseconds since the Unix epoch.
            born_timestamp (int | Unset): When the producer created the message, in milliseconds since the Unix epoch.
            reconsume_times (int | str | Unset): A whole number from 0 that some versions of the reference give as a JSON
                string of digits (the
                2023-08 version: `"3"`) and later ones as a JSON integer (`3`). Both are accepted; a client should
                read either. Used for `reconsume_times` (delivery retries so far), `queue_id` (the queue) and
                `queue_offset` (the offset in that queue).
            body_crc (int | Unset): The CRC32 of the body's UTF-8 bytes as RocketMQ keeps it (`UtilAll.crc32`: the CRC32
                masked with `0x7FFFFFFF`, so 0 to 2,147,483,647).
            store_size (int | Unset): The bytes the broker used to store the message (its record in the commit log: body,
                properties and headers).
            property_list (list[MessageProperty] | Unset): The message's properties: those that were sent (`KEYS`, `TAGS`)
                and those the broker added
                (`UNIQ_KEY`, `CLUSTER` and others). May hold names not listed here; a `KEYS` or `TAGS` entry may
                have an empty value when the message had none.
            born_host (str | Unset): The producer's address, `ip:port`.
            store_host (str | Unset): The broker's address, `ip:port`.
            queue_id (int | str | Unset): A whole number from 0 that some versions of the reference give as a JSON string of
                digits (the
                2023-08 version: `"3"`) and later ones as a JSON integer (`3`). Both are accepted; a client should
                read either. Used for `reconsume_times` (delivery retries so far), `queue_id` (the queue) and
                `queue_offset` (the offset in that queue).
            queue_offset (int | str | Unset): A whole number from 0 that some versions of the reference give as a JSON
                string of digits (the
                2023-08 version: `"3"`) and later ones as a JSON integer (`3`). Both are accepted; a client should
                read either. Used for `reconsume_times` (delivery retries so far), `queue_id` (the queue) and
                `queue_offset` (the offset in that queue).
    """

    msg_id: str
    topic: str
    body: str
    instance_id: str | Unset = UNSET
    store_timestamp: int | Unset = UNSET
    born_timestamp: int | Unset = UNSET
    reconsume_times: int | str | Unset = UNSET
    body_crc: int | Unset = UNSET
    store_size: int | Unset = UNSET
    property_list: list[MessageProperty] | Unset = UNSET
    born_host: str | Unset = UNSET
    store_host: str | Unset = UNSET
    queue_id: int | str | Unset = UNSET
    queue_offset: int | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        msg_id = self.msg_id

        topic = self.topic

        body = self.body

        instance_id = self.instance_id

        store_timestamp = self.store_timestamp

        born_timestamp = self.born_timestamp

        reconsume_times: int | str | Unset
        if isinstance(self.reconsume_times, Unset):
            reconsume_times = UNSET
        else:
            reconsume_times = self.reconsume_times

        body_crc = self.body_crc

        store_size = self.store_size

        property_list: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.property_list, Unset):
            property_list = []
            for property_list_item_data in self.property_list:
                property_list_item = property_list_item_data.to_dict()
                property_list.append(property_list_item)

        born_host = self.born_host

        store_host = self.store_host

        queue_id: int | str | Unset
        if isinstance(self.queue_id, Unset):
            queue_id = UNSET
        else:
            queue_id = self.queue_id

        queue_offset: int | str | Unset
        if isinstance(self.queue_offset, Unset):
            queue_offset = UNSET
        else:
            queue_offset = self.queue_offset

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "msg_id": msg_id,
                "topic": topic,
                "body": body,
            }
        )
        if instance_id is not UNSET:
            field_dict["instance_id"] = instance_id
        if store_timestamp is not UNSET:
            field_dict["store_timestamp"] = store_timestamp
        if born_timestamp is not UNSET:
            field_dict["born_timestamp"] = born_timestamp
        if reconsume_times is not UNSET:
            field_dict["reconsume_times"] = reconsume_times
        if body_crc is not UNSET:
            field_dict["body_crc"] = body_crc
        if store_size is not UNSET:
            field_dict["store_size"] = store_size
        if property_list is not UNSET:
            field_dict["property_list"] = property_list
        if born_host is not UNSET:
            field_dict["born_host"] = born_host
        if store_host is not UNSET:
            field_dict["store_host"] = store_host
        if queue_id is not UNSET:
            field_dict["queue_id"] = queue_id
        if queue_offset is not UNSET:
            field_dict["queue_offset"] = queue_offset

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.message_property import MessageProperty  # noqa: PLC0415

        d = dict(src_dict)
        msg_id = d.pop("msg_id")

        topic = d.pop("topic")

        body = d.pop("body")

        instance_id = d.pop("instance_id", UNSET)

        store_timestamp = d.pop("store_timestamp", UNSET)

        born_timestamp = d.pop("born_timestamp", UNSET)

        def _parse_reconsume_times(data: object) -> int | str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(int | str | Unset, data)

        reconsume_times = _parse_reconsume_times(d.pop("reconsume_times", UNSET))

        body_crc = d.pop("body_crc", UNSET)

        store_size = d.pop("store_size", UNSET)

        _property_list = d.pop("property_list", UNSET)
        property_list: list[MessageProperty] | Unset = UNSET
        if _property_list is not UNSET:
            property_list = []
            for property_list_item_data in _property_list:
                property_list_item = MessageProperty.from_dict(property_list_item_data)

                property_list.append(property_list_item)

        born_host = d.pop("born_host", UNSET)

        store_host = d.pop("store_host", UNSET)

        def _parse_queue_id(data: object) -> int | str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(int | str | Unset, data)

        queue_id = _parse_queue_id(d.pop("queue_id", UNSET))

        def _parse_queue_offset(data: object) -> int | str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(int | str | Unset, data)

        queue_offset = _parse_queue_offset(d.pop("queue_offset", UNSET))

        message = cls(
            msg_id=msg_id,
            topic=topic,
            body=body,
            instance_id=instance_id,
            store_timestamp=store_timestamp,
            born_timestamp=born_timestamp,
            reconsume_times=reconsume_times,
            body_crc=body_crc,
            store_size=store_size,
            property_list=property_list,
            born_host=born_host,
            store_host=store_host,
            queue_id=queue_id,
            queue_offset=queue_offset,
        )

        message.additional_properties = d
        return message

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
