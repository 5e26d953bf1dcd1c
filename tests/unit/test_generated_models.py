"""The generated low-level client round-trips the spec's examples and parses what a newer service may send."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import httpx
import yaml
from dms_rocketmq_api import Client
from dms_rocketmq_api.api.messages import send_message
from dms_rocketmq_api.models import (
    Engine,
    ErrorBody,
    ListMessagesResponse,
    Message,
    MessageProperty,
    MessagePropertyName,
    SendMessagePropertiesReqEntity,
    SendMessageRequestBody,
    SendMessageResponse,
)
from dms_rocketmq_api.types import UNSET

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC: dict[str, Any] = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
OPERATION = SPEC["paths"]["/v2/{engine}/{project_id}/instances/{instance_id}/messages"]["post"]
REQUEST_EXAMPLES = OPERATION["requestBody"]["content"]["application/json"]["examples"]
RESPONSE_EXAMPLES = OPERATION["responses"]["200"]["content"]["application/json"]["examples"]


def test_request_examples_round_trip() -> None:
    """Every request example, the seed included, goes through the generated model unchanged."""
    for example in REQUEST_EXAMPLES.values():
        assert SendMessageRequestBody.from_dict(example["value"]).to_dict() == example["value"]


def test_response_examples_round_trip() -> None:
    """Every 200 example, the seed included, goes through the generated model unchanged."""
    for example in RESPONSE_EXAMPLES.values():
        assert SendMessageResponse.from_dict(example["value"]).to_dict() == example["value"]


def test_seed_response_fields() -> None:
    """The seed response parses into typed fields: whole-number queue id and offset, UNIQ_KEY listed."""
    parsed = SendMessageResponse.from_dict(RESPONSE_EXAMPLES["seed"]["value"])
    assert parsed.msg_id == "644F0E2A315323EAB33D8F4733110009"
    assert (parsed.queue_id, parsed.queue_offset, parsed.broker_name) == (0, 0, "broker-0")
    assert [(p.name, p.value) for p in parsed.property_list] == [("UNIQ_KEY", "644F0069A35A0FC5A0FC5AB7244F4573A03FA")]


def test_request_model_builds_the_wire_body() -> None:
    """A request built from the generated models serialises to the JSON the service expects."""
    body = SendMessageRequestBody(
        topic="orders",
        body="hello",
        property_list=[SendMessagePropertiesReqEntity(name=MessagePropertyName.TAGS, value="created")],
    )
    assert body.to_dict() == {
        "topic": "orders",
        "body": "hello",
        "property_list": [{"name": "TAGS", "value": "created"}],
    }


def test_unknown_property_name_and_extra_field_parse() -> None:
    """A 200 with a property name and a field the spec does not know yet still parses, keeping both."""
    payload = {
        **RESPONSE_EXAMPLES["seed"]["value"],
        "property_list": [
            {"name": "UNIQ_KEY", "value": "644F0E2A315323EAB33D8F4733110009"},
            {"name": "TRACE_ON", "value": "true", "since": "v3"},
        ],
        "store_timestamp": 1764150000000,
    }
    parsed = SendMessageResponse.from_dict(payload)
    assert parsed.property_list[1].name == "TRACE_ON"
    assert parsed.property_list[1].additional_properties == {"since": "v3"}
    assert parsed.additional_properties == {"store_timestamp": 1764150000000}


def test_generated_client_parses_a_200_over_http() -> None:
    """The generated sync_detailed sends the documented request and parses a 200 with unknown additions."""
    seen: list[httpx.Request] = []
    payload = {**RESPONSE_EXAMPLES["seed"]["value"], "new_field": {"nested": True}}
    payload["property_list"] = [*payload["property_list"], {"name": "NEW_PROPERTY", "value": "x"}]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=payload, headers={"X-Request-Id": "0" * 32})

    client = Client(base_url="http://dms.test").set_httpx_client(
        httpx.Client(base_url="http://dms.test", transport=httpx.MockTransport(handler))
    )
    response = send_message.sync_detailed(
        Engine.ROCKETMQ,
        "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90",
        client=client,
        body=SendMessageRequestBody.from_dict(REQUEST_EXAMPLES["seed"]["value"]),
    )
    assert isinstance(response.parsed, SendMessageResponse)
    assert response.parsed.property_list[-1].name == "NEW_PROPERTY"
    assert response.parsed.additional_properties == {"new_field": {"nested": True}}
    (request,) = seen
    assert request.method == "POST"
    assert request.url.path == (
        "/v2/rocketmq/0a1b2c3d4e5f60718293a4b5c6d7e8f9/instances/11c55a3e-5b4a-4f0c-9d3e-2f7b8e6a1c90/messages"
    )
    assert json.loads(request.content) == REQUEST_EXAMPLES["seed"]["value"]


def test_generated_client_parses_error_bodies() -> None:
    """Every documented error example parses into the generated ErrorBody."""
    for status, response in OPERATION["responses"].items():
        if status == "200":
            continue
        ref = response["$ref"].rsplit("/", 1)[-1]
        for example in SPEC["components"]["responses"][ref]["content"]["application/json"]["examples"].values():
            parsed = ErrorBody.from_dict(example["value"])
            assert parsed.error_code == example["value"]["error_code"]
            assert parsed.to_dict() == example["value"]


QUERY_EXAMPLES = SPEC["paths"]["/v2/{engine}/{project_id}/instances/{instance_id}/messages"]["get"]["responses"]["200"][
    "content"
]["application/json"]["examples"]


def test_query_examples_round_trip() -> None:
    """Every ListMessages 200 example, new and 2023 shapes, goes through the generated model unchanged."""
    for example in QUERY_EXAMPLES.values():
        assert ListMessagesResponse.from_dict(example["value"]).to_dict() == example["value"]


def test_query_model_parses_both_shapes_of_drifting_fields() -> None:
    """queue_id, queue_offset and reconsume_times parse as integers (2026) and as digit strings (2023)."""
    new = ListMessagesResponse.from_dict(QUERY_EXAMPLES["seed"]["value"]).messages[0]
    old = ListMessagesResponse.from_dict(QUERY_EXAMPLES["olderVersion"]["value"]).messages[0]
    assert (new.queue_id, new.queue_offset, new.reconsume_times) == (2, 0, 0)
    assert (old.queue_id, old.queue_offset, old.reconsume_times) == ("3", "41", "0")
    assert isinstance(old.property_list[0], MessageProperty)


def test_query_model_takes_a_message_with_only_its_identity() -> None:
    """A Message that leaves out every optional field still parses (a deployment may omit some)."""
    parsed = Message.from_dict({"msg_id": "ID", "topic": "orders", "body": "b", "new_field": 1})
    assert parsed.queue_id is UNSET
    assert parsed.property_list is UNSET
    assert parsed.additional_properties == {"new_field": 1}
