"""The generated `spec_rules` module: read from the spec by pointer, loud when the spec lacks a rule."""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from _shared.statuses import WRAPPER_ERRORS
from dms_rocketmq_api import spec_rules

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("generate_rules", ROOT / "scripts" / "generate_rules.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("generate_rules", module)
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()
SPEC = yaml.safe_load((ROOT / "openapi.yaml").read_text("utf-8"))


def test_every_operation_of_the_spec_is_listed_with_its_method_and_path() -> None:
    """OPERATIONS holds each operationId of the spec, with the method and path it sits under."""
    found = {
        operation["operationId"]: (method.upper(), path)
        for path, item in SPEC["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    }
    assert {name: (op["method"], op["path"]) for name, op in spec_rules.OPERATIONS.items()} == found


@pytest.mark.parametrize(
    "pointer",
    [
        "/components/schemas/TopicName/maxLength",
        "/components/schemas/Engine/enum",
        "/components/schemas/SendMessageRequestBody/properties/body/maxLength",
        "/components/parameters/InstanceId/schema/pattern",
        "/components/responses/PayloadTooLarge/x-max-request-bytes",
    ],
)
def test_generation_fails_naming_a_rule_the_spec_lacks(pointer: str) -> None:
    """No remembered fallback: a spec without the rule stops the generation with its pointer."""
    spec = copy.deepcopy(SPEC)
    *parents, last = pointer.strip("/").split("/")
    node = spec
    for part in parents:
        node = node[part]
    del node[last]
    with pytest.raises(GENERATOR.SpecError, match=pointer):
        GENERATOR.render(spec)


def test_generation_refuses_a_keys_pattern_it_cannot_read() -> None:
    """A KEYS rule in another shape is not guessed at."""
    spec = copy.deepcopy(SPEC)
    for branch in spec["components"]["schemas"]["SendMessagePropertiesReqEntity"]["allOf"]:
        if branch["if"]["properties"]["name"]["const"] == "KEYS":
            branch["then"]["properties"]["value"]["pattern"] = "^.+$"
    with pytest.raises(GENERATOR.SpecError, match="KEYS pattern"):
        GENERATOR.render(spec)


def test_generation_refuses_conditions_on_unknown_parameters() -> None:
    """`x-required-one-of` may only name the operation's own parameters."""
    spec = copy.deepcopy(SPEC)
    operation = next(
        op for item in spec["paths"].values() for op in item.values() if isinstance(op, dict) and "x-not-before" in op
    )
    operation["x-not-before"] = {"until": "since"}
    with pytest.raises(GENERATOR.SpecError, match="unknown parameters"):
        GENERATOR.render(spec)


def test_operation_path_fills_and_encodes_the_parameters() -> None:
    """Each path parameter is percent-encoded; a missing or unknown one is an error."""
    path = spec_rules.operation_path("SendMessage", engine="rocketmq", project_id="a/b", instance_id="x y")
    assert path == spec_rules.OPERATIONS["SendMessage"]["path"].format(
        engine="rocketmq", project_id="a%2Fb", instance_id="x%20y"
    )
    with pytest.raises(KeyError):
        spec_rules.operation_path("SendMessage", engine="rocketmq")
    with pytest.raises(KeyError):
        spec_rules.operation_path("SendMessage", engine="rocketmq", project_id="p", instance_id="i", colour="red")


@pytest.mark.parametrize(
    ("given", "problems"),
    [
        ({"topic": "orders", "msg_id": "A" * 32}, []),
        ({"topic": "orders", "start_time": "1", "end_time": "2"}, []),
        ({"topic": "orders", "start_time": "2", "end_time": "2"}, []),
        ({"topic": "orders", "start_time": "3", "end_time": "2"}, ["end_time is before start_time"]),
        ({"topic": "orders", "start_time": "1"}, ["give msg_id, or start_time and end_time"]),
        ({"msg_id": "A" * 32}, ["topic is required"]),
    ],
)
def test_list_messages_conditions_between_parameters(given: dict[str, str], problems: list[str]) -> None:
    """The query's conditions that OpenAPI cannot state come from the spec's x- keywords."""
    assert spec_rules.unmet_conditions("ListMessages", given) == problems


def test_every_documented_error_status_has_its_wrapper_error() -> None:
    """Each error status any operation documents is one the tiers expect a typed wrapper error for."""
    documented = {status for op in spec_rules.OPERATIONS.values() for status in op["statuses"] if status >= 400}
    assert documented <= set(WRAPPER_ERRORS)
