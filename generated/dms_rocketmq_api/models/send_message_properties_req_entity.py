from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.message_property_name import MessagePropertyName
from ..types import UNSET, Unset

T = TypeVar("T", bound="SendMessagePropertiesReqEntity")


@_attrs_define
class SendMessagePropertiesReqEntity:
    """One property of the message to send (Table 3 of the API reference). Both fields are optional, as the
    reference says; an entry without a name or without a value sets nothing.

        Attributes:
            name (MessagePropertyName | Unset): The name of a property that a sender may set.
                `KEYS`: one or more message keys that identify the message, usually the service's primary key; several
                keys are separated by one space. `TAGS`: one tag that classifies the message within its topic.
            value (str | Unset): Definition: the property's value.
                Constraints: at most 16 KB, that is 16,384 bytes once encoded as UTF-8, counted as the body's 4 MiB
                is: Huawei states both limits in byte units (KB, MB), and RocketMQ stores and bounds properties as
                UTF-8 bytes. The schema can only bound characters, so a value of at most 16,384 characters whose
                UTF-8 encoding is longer is still refused, with DMS.00400062 (unconfirmed on the real service,
                which may count characters: a client that keeps to bytes is accepted under either reading). For
                `KEYS`, one or more keys separated by single spaces, each key 1 to
                128 characters without white space. For `TAGS`, one tag of 1 to 128 characters without white space
                and without `||` (the separator of RocketMQ's tag filters).
                Range: as the constraints say. Default: none.
    """

    name: MessagePropertyName | Unset = UNSET
    value: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name: str | Unset = UNSET
        if not isinstance(self.name, Unset):
            name = self.name.value

        value = self.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if name is not UNSET:
            field_dict["name"] = name
        if value is not UNSET:
            field_dict["value"] = value

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        _name = d.pop("name", UNSET)
        name: MessagePropertyName | Unset
        if isinstance(_name, Unset):
            name = UNSET
        else:
            name = MessagePropertyName(_name)

        value = d.pop("value", UNSET)

        send_message_properties_req_entity = cls(
            name=name,
            value=value,
        )

        send_message_properties_req_entity.additional_properties = d
        return send_message_properties_req_entity

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
