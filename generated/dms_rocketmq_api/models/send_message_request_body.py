from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.send_message_properties_req_entity import SendMessagePropertiesReqEntity


T = TypeVar("T", bound="SendMessageRequestBody")


@_attrs_define
class SendMessageRequestBody:
    """The message to send (Table 2 of the API reference).

    Attributes:
        topic (str): Definition: the name of the topic to send to.
            Constraints: the topic must already exist on the instance (sending never creates one). DMS's naming
            rules: 3 to 64 characters, each a letter, a digit, `%`, `|`, `-` or `_`; not starting with
            `rmq_sys_`; not one of the reserved names TBW102, SCHEDULE_TOPIC_XXXX, BenchmarkTest,
            RMQ_SYS_TRANS_HALF_TOPIC, RMQ_SYS_TRACE_TOPIC, RMQ_SYS_TRANS_OP_HALF_TOPIC,
            TRANS_CHECK_MAX_TIME_TOPIC, SELF_TEST_TOPIC, OFFSET_MOVED_EVENT, rmq_sys_offset_commit_event.
            Range: as the constraints say. Default: none; the value is mandatory.
        body (str): Definition: the message content, sent as it is.
            Constraints: mandatory and not empty. At most 4 MiB (4,194,304 bytes) once encoded as UTF-8; the
            schema can only bound characters, so a body of at most 4,194,304 characters whose UTF-8 encoding is
            longer is still refused, with DMS.10540011.
            Range: any text. Default: none.
        property_list (list[SendMessagePropertiesReqEntity] | Unset): Definition: the message's properties (features),
            such as its keys and its tag.
            Constraints: at most one `TAGS` entry and at most one `KEYS` entry (several keys go in one entry,
            separated by single spaces). Range: entries of SendMessagePropertiesReqEntity.
            Default: no properties.

            Two `KEYS` entries: Huawei's references do not say what the service does with them (unconfirmed).
            RocketMQ keeps a message's properties in a map, so the second would probably replace the first;
            joining them is another possible reading. The emulator refuses them (DMS.00400062), so that a
            client never depends on either reading; a client reading a message back (ListMessages) takes the
            keys of every `KEYS` entry it lists, in order, which is right under both readings.
    """

    topic: str
    body: str
    property_list: list[SendMessagePropertiesReqEntity] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        topic = self.topic

        body = self.body

        property_list: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.property_list, Unset):
            property_list = []
            for property_list_item_data in self.property_list:
                property_list_item = property_list_item_data.to_dict()
                property_list.append(property_list_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "topic": topic,
                "body": body,
            }
        )
        if property_list is not UNSET:
            field_dict["property_list"] = property_list

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.send_message_properties_req_entity import SendMessagePropertiesReqEntity  # noqa: PLC0415

        d = dict(src_dict)
        topic = d.pop("topic")

        body = d.pop("body")

        _property_list = d.pop("property_list", UNSET)
        property_list: list[SendMessagePropertiesReqEntity] | Unset = UNSET
        if _property_list is not UNSET:
            property_list = []
            for property_list_item_data in _property_list:
                property_list_item = SendMessagePropertiesReqEntity.from_dict(property_list_item_data)

                property_list.append(property_list_item)

        send_message_request_body = cls(
            topic=topic,
            body=body,
            property_list=property_list,
        )

        send_message_request_body.additional_properties = d
        return send_message_request_body

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
