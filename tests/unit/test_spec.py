"""openapi.yaml encodes Tables 1-5 of the API reference, the errors and the security of the real service."""

from __future__ import annotations

import pathlib
import re
from typing import Any

import jsonschema_rs
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC: dict[str, Any] = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
PATH = "/v2/{engine}/{project_id}/instances/{instance_id}/messages"
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow one local $ref, if the node is one."""
    ref = node.get("$ref")
    if ref is None:
        return node
    target: Any = SPEC
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return resolve(target)


def operation() -> dict[str, Any]:
    return SPEC["paths"][PATH]["post"]


def request_validator() -> Any:
    """A validator for the request body, built from the spec's own schemas (their $refs resolve as written)."""
    return jsonschema_rs.Draft202012Validator(
        {"$ref": "#/components/schemas/SendMessageRequestBody", "components": SPEC["components"]}
    )


def test_operation_is_send_message() -> None:
    """POST on the documented URI is SendMessage, with its operationId, tag, summary and description."""
    op = operation()
    assert set(SPEC["paths"]) == {PATH}
    assert set(SPEC["paths"][PATH]) == {"parameters", "get", "post"}
    assert op["operationId"] == "SendMessage"
    assert op["tags"] == ["Messages"]
    assert op["summary"]
    assert op["description"]


@pytest.mark.parametrize("name", ["engine", "project_id", "instance_id"])
def test_table1_path_parameters(name: str) -> None:
    """Table 1: each path parameter is present, mandatory, a string and described with the doc's content."""
    params = {p["name"]: p for p in map(resolve, SPEC["paths"][PATH]["parameters"])}
    param = params[name]
    assert param["in"] == "path"
    assert param["required"] is True
    assert resolve(param["schema"])["type"] == "string"
    for part in ("Definition", "Range", "Default"):
        assert part in param["description"], f"{name}: description lacks {part}"


def test_table1_engine_enum() -> None:
    """Table 1: engine is exactly rocketmq or reliability."""
    params = {p["name"]: p for p in map(resolve, SPEC["paths"][PATH]["parameters"])}
    assert resolve(params["engine"]["schema"])["enum"] == ["rocketmq", "reliability"]


def test_table2_request_body() -> None:
    """Table 2: topic and body are required strings; property_list is an optional array of Table 3 entries."""
    body = resolve(operation()["requestBody"]["content"]["application/json"]["schema"])
    assert operation()["requestBody"]["required"] is True
    assert set(body["required"]) == {"topic", "body"}
    props = body["properties"]
    assert resolve(props["topic"])["type"] == "string"
    assert props["body"]["type"] == "string"
    assert props["property_list"]["type"] == "array"
    assert props["property_list"]["items"] == {"$ref": "#/components/schemas/SendMessagePropertiesReqEntity"}


def test_table3_request_property_entity() -> None:
    """Table 3: name (KEYS or TAGS) and value (string) are both optional, as the reference says."""
    entity = SCHEMAS["SendMessagePropertiesReqEntity"]
    assert "required" not in entity
    assert resolve(entity["properties"]["name"])["enum"] == ["KEYS", "TAGS"]
    assert entity["properties"]["value"]["type"] == "string"


def test_table4_response_body() -> None:
    """Table 4: every response field is present, with whole-number queue_id (int32) and queue_offset (int64)."""
    response = resolve(operation()["responses"]["200"]["content"]["application/json"]["schema"])
    props = response["properties"]
    expected = {"topic", "body", "property_list", "msg_id", "queue_id", "queue_offset", "broker_name"}
    assert set(props) == expected
    assert set(response["required"]) == expected
    for name in ("topic", "body", "msg_id", "broker_name"):
        assert props[name]["type"] == "string"
    assert (props["queue_id"]["type"], props["queue_id"]["format"]) == ("integer", "int32")
    assert (props["queue_offset"]["type"], props["queue_offset"]["format"]) == ("integer", "int64")
    assert props["property_list"]["items"] == {"$ref": "#/components/schemas/SendMessagePropertiesRespEntity"}
    assert response.get("additionalProperties", True) is not False, "extra response fields must be allowed"


def test_table5_response_property_entity_is_forward_compatible() -> None:
    """Table 5: name documents KEYS, TAGS and UNIQ_KEY but is a free string, so new names still parse."""
    entity = SCHEMAS["SendMessagePropertiesRespEntity"]
    name = entity["properties"]["name"]
    assert name["type"] == "string"
    assert "enum" not in name
    for known in ("KEYS", "TAGS", "UNIQ_KEY"):
        assert known in name["description"]
    assert entity["properties"]["value"]["type"] == "string"


def test_seed_examples_are_named_and_exact() -> None:
    """The API reference's request and response are kept, unchanged, as the named example `seed`."""
    op = operation()
    request = op["requestBody"]["content"]["application/json"]["examples"]["seed"]["value"]
    assert request == {"topic": "aaaaaaaaaaaa", "body": "test", "property_list": []}
    response = op["responses"]["200"]["content"]["application/json"]["examples"]["seed"]["value"]
    assert response == {
        "topic": "aaaaaaaaaaaa",
        "body": "test",
        "property_list": [{"name": "UNIQ_KEY", "value": "644F0069A35A0FC5A0FC5AB7244F4573A03FA"}],
        "msg_id": "644F0E2A315323EAB33D8F4733110009",
        "queue_id": 0,
        "queue_offset": 0,
        "broker_name": "broker-0",
    }


@pytest.mark.parametrize("status", ["200", "400", "401", "403", "404", "413", "429", "500", "503"])
def test_every_response_has_request_id_header(status: str) -> None:
    """Every documented response, success or error, carries the X-Request-Id header."""
    response = resolve(operation()["responses"][status])
    header = resolve(response["headers"]["X-Request-Id"])
    assert header["required"] is True
    assert header["schema"]["pattern"] == "^[0-9a-f]{32}$"


@pytest.mark.parametrize("status", ["400", "401", "403", "404", "413", "429", "500", "503"])
def test_errors_use_the_huawei_error_body_with_realistic_examples(status: str) -> None:
    """Each error status uses the Huawei error body, and every example has a SERVICE.code of the facts file."""
    content = resolve(operation()["responses"][status])["content"]["application/json"]
    assert content["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    assert content["examples"]
    for example in content["examples"].values():
        assert re.fullmatch(r"(DMS|APIGW|APIG)\.\d+", example["value"]["error_code"])
        assert example["value"]["error_msg"]


def test_error_body_shape() -> None:
    """The error body requires error_code and error_msg; request_id is optional."""
    body = SCHEMAS["ErrorBody"]
    assert set(body["required"]) == {"error_code", "error_msg"}
    assert set(body["properties"]) == {"error_code", "error_msg", "request_id"}


def test_security_schemes() -> None:
    """Both ways to authenticate are declared, and the signing algorithm is spelled out step by step."""
    schemes = SPEC["components"]["securitySchemes"]
    assert schemes["iamToken"] == {**schemes["iamToken"], "type": "apiKey", "in": "header", "name": "X-Auth-Token"}
    aksk = schemes["akskSignature"]
    assert (aksk["type"], aksk["in"], aksk["name"]) == ("apiKey", "header", "Authorization")
    for needle in ("SDK-HMAC-SHA256", "X-Sdk-Date", "Canonical request", "String to sign", "15 minutes"):
        assert needle in aksk["description"]
    assert SPEC["security"] == [{"akskSignature": []}, {"iamToken": []}]


def test_servers() -> None:
    """The regional endpoint with its region variable, and the local emulator."""
    urls = [server["url"] for server in SPEC["servers"]]
    assert urls == ["https://dms.{region}.myhuaweicloud.com", "http://127.0.0.1:8765"]
    assert "region" in SPEC["servers"][0]["variables"]


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"topic": "orders", "body": "x"}, True),
        ({"topic": "a%b|c-d_e", "body": "x"}, True),
        ({"topic": "ab", "body": "x"}, False),
        ({"topic": "o" * 64, "body": "x"}, True),
        ({"topic": "o" * 65, "body": "x"}, False),
        ({"topic": "or ders", "body": "x"}, False),
        ({"topic": "rmq_sys_orders", "body": "x"}, False),
        ({"topic": "TBW102", "body": "x"}, False),
        ({"topic": "orders", "body": ""}, False),
        ({"topic": "orders"}, False),
        ({"body": "x"}, False),
        ({"topic": "orders", "body": "x", "property_list": [{"name": "KEYS", "value": "k1 k2"}]}, True),
        ({"topic": "orders", "body": "x", "property_list": [{"name": "KEYS", "value": "k1  k2"}]}, False),
        ({"topic": "orders", "body": "x", "property_list": [{"name": "KEYS", "value": "k" * 129}]}, False),
        ({"topic": "orders", "body": "x", "property_list": [{"name": "TAGS", "value": "a|b"}]}, True),
        ({"topic": "orders", "body": "x", "property_list": [{"name": "TAGS", "value": "a||b"}]}, False),
        ({"topic": "orders", "body": "x", "property_list": [{"name": "TAGS", "value": "a b"}]}, False),
        ({"topic": "orders", "body": "x", "property_list": [{"name": "TAGS", "value": "t" * 129}]}, False),
        (
            {"topic": "orders", "body": "x", "property_list": [{"name": "TAGS", "value": "a"}] * 2},
            False,
        ),
        (
            {"topic": "orders", "body": "x", "property_list": [{"name": "TAGS", "value": "a"}, {"name": "TAGS"}]},
            True,
        ),
        ({"topic": "orders", "body": "x", "property_list": [{"name": "UNIQ_KEY", "value": "a"}]}, False),
        ({"topic": "orders", "body": "x", "property_list": [{}]}, True),
    ],
)
def test_request_schema_encodes_dms_rules(body: dict[str, Any], valid: bool) -> None:
    """The request schema itself says DMS's topic, body, KEYS and TAGS rules, so every tool applies them alike."""
    assert request_validator().is_valid(body) is valid
