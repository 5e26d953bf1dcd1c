"""openapi.yaml encodes the query operation (ListMessages) as the reference and Huawei's SDK describe it."""

from __future__ import annotations

import pathlib
from typing import Any

import jsonschema_rs
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC: dict[str, Any] = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
PATH = "/v2/{engine}/{project_id}/instances/{instance_id}/messages"
QUERY = SPEC["paths"][PATH]["get"]
SEND = SPEC["paths"][PATH]["post"]
SDK_MESSAGE_FIELDS = {
    "msg_id",
    "instance_id",
    "topic",
    "store_timestamp",
    "born_timestamp",
    "reconsume_times",
    "body",
    "body_crc",
    "store_size",
    "property_list",
    "born_host",
    "store_host",
    "queue_id",
    "queue_offset",
}


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow one local $ref, if the node is one."""
    ref = node.get("$ref")
    if ref is None:
        return node
    target: Any = SPEC
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return resolve(target)


def validator(schema_name: str) -> Any:
    """A validator for one component schema, its $refs resolved in the spec."""
    return jsonschema_rs.Draft202012Validator(
        {"$ref": f"#/components/schemas/{schema_name}", "components": SPEC["components"]}
    )


def query_parameters() -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in map(resolve, QUERY["parameters"])}


def test_list_messages_is_get_on_the_send_path() -> None:
    """ListMessages is GET on the path of SendMessage, tagged like it, and the title names both operations."""
    assert QUERY["operationId"] == "ListMessages"
    assert QUERY["tags"] == SEND["tags"]
    assert "requestBody" not in QUERY
    assert "Send" in SPEC["info"]["title"]
    assert "query" in SPEC["info"]["title"].lower()


def test_every_query_parameter_of_the_reference() -> None:
    """The eight query parameters, only topic required; msg_id/time range's condition is written down."""
    params = query_parameters()
    assert set(params) == {"topic", "queue", "limit", "offset", "key", "start_time", "end_time", "msg_id"}
    assert all(p["in"] == "query" for p in params.values())
    assert {name for name, p in params.items() if p.get("required")} == {"topic"}
    assert params["limit"]["schema"]["default"] == 10
    assert params["offset"]["schema"]["default"] == 0
    assert params["offset"]["schema"]["minimum"] == 0
    assert "msg_id" in QUERY["description"]
    assert "start_time" in QUERY["description"]


@pytest.mark.parametrize("name", ["start_time", "end_time"])
def test_time_format_is_marked_unconfirmed(name: str) -> None:
    """The time format is no fact of the reference: the description says so and names the reading chosen."""
    description = query_parameters()[name]["description"]
    assert "unconfirmed" in description
    assert "milliseconds" in description


def test_response_200_has_messages_total_and_every_sdk_field() -> None:
    """The 200 body is {messages, total}; a Message lists every field of the SDK's model."""
    body = resolve(QUERY["responses"]["200"]["content"]["application/json"]["schema"])
    assert set(body["required"]) == {"messages", "total"}
    message = resolve(body["properties"]["messages"]["items"])
    assert set(message["properties"]) == SDK_MESSAGE_FIELDS


def test_errors_security_and_request_id_like_send() -> None:
    """Every error status of sending but 413 (no body), each with X-Request-Id; global security applies."""
    assert set(QUERY["responses"]) == set(SEND["responses"]) - {"413"}
    for status, response in QUERY["responses"].items():
        response = resolve(response)
        assert "X-Request-Id" in response["headers"], status
        if status != "200":
            assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    assert "security" not in QUERY  # inherits the document's AK/SK or token


@pytest.mark.parametrize("field", ["reconsume_times", "queue_id", "queue_offset"])
@pytest.mark.parametrize(
    ("value", "valid"), [(3, True), ("3", True), (0, True), ("x", False), (-1, False), ("", False)]
)
def test_drifting_fields_take_integer_or_digits(field: str, value: object, valid: bool) -> None:
    """The fields that were strings in 2023 and integers since accept both shapes, and nothing else."""
    document = {"msg_id": "A", "topic": "orders", "body": "b", field: value}
    assert validator("Message").is_valid(document) is valid


def test_examples_are_valid_messages() -> None:
    """Every 200 example validates, the older (string) shape included."""
    check = validator("ListMessagesResponse")
    examples = QUERY["responses"]["200"]["content"]["application/json"]["examples"]
    assert {"seed", "olderVersion"} <= set(examples)
    for example in examples.values():
        check.validate(example["value"])


def test_send_links_to_the_query_by_msg_id() -> None:
    """SendMessage's 200 links to ListMessages: the topic from the request body, msg_id from the response."""
    link = SEND["responses"]["200"]["links"]["ListMessagesByMsgId"]
    assert link["operationId"] == "ListMessages"
    assert link["parameters"]["topic"] == "$request.body#/topic"
    assert link["parameters"]["msg_id"] == "$response.body#/msg_id"
    for name in ("engine", "project_id", "instance_id"):
        assert link["parameters"][name] == f"$request.path.{name}"
