"""Request validation against the packaged `openapi.yaml`, compiled once at start-up.

The spec's `components.schemas` become the `$defs` of one JSON Schema 2020-12 document (OpenAPI 3.1
schemas are 2020-12 schemas), `#/components/schemas/X` references are rewritten to `#/$defs/X`, and
jsonschema-rs compiles it. Nothing is copied by hand: change the spec and the emulator follows.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Callable
from typing import Any

import jsonschema_rs
import yaml
from dms_rocketmq_api.spec_rules import OPERATIONS

from ._exceptions import BadRequestError, invalid_parameter

__all__ = ["RequestSchema", "load_spec", "request_schema"]

_REF_PREFIX = "#/components/schemas/"


def load_spec() -> dict[str, Any]:
    """Read the `openapi.yaml` shipped inside the package."""
    text = (importlib.resources.files("dms_rocketmq_emulator") / "openapi.yaml").read_text("utf-8")
    spec = yaml.safe_load(text)
    if not isinstance(spec, dict):
        raise RuntimeError("openapi.yaml is not a mapping")
    return spec


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_REF_PREFIX):
                out[key] = "#/$defs/" + value[len(_REF_PREFIX) :]
            else:
                out[key] = _rewrite_refs(value)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


def _document(schemas: dict[str, Any], root: str) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": f"#/$defs/{root}",
        "$defs": schemas,
    }


def _field_of(error: Any) -> str | None:
    """The request field an error is about, written `property_list[1].value`; None for the whole body."""
    path = list(error.instance_path)
    kind = error.kind
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Required):
        path.append(kind.property)
    if not path:
        return None
    field = ""
    for part in path:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    return field


class RequestSchema:
    """The compiled request schema of `SendMessage` and the spec's other facts the emulator needs."""

    def __init__(self, spec: dict[str, Any]) -> None:
        schemas = _rewrite_refs(spec["components"]["schemas"])
        send_message = OPERATIONS["SendMessage"]
        operation = spec["paths"][send_message["path"]][send_message["method"].lower()]
        body_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        root = body_ref[len(_REF_PREFIX) :]
        self._validator = jsonschema_rs.Draft202012Validator(_document(schemas, root))
        self._is_valid: Callable[[Any], bool] = self._validator.is_valid
        self._topic = jsonschema_rs.Draft202012Validator(_document(schemas, "TopicName"))

    def check(self, document: Any) -> None:
        """Raise DMS.00400062 naming the first field that breaks the schema; return if the body is valid."""
        try:
            if self._is_valid(document):
                return
            error = next(iter(self._validator.iter_errors(document)), None)
        except ValueError:
            # jsonschema-rs refuses values nested deeper than its recursion limit; no valid request is that deep.
            raise invalid_parameter(None) from None
        raise invalid_parameter(_field_of(error) if error is not None else None)

    def first_error(self, document: Any) -> BadRequestError | None:
        """The error `check` would raise, or None."""
        try:
            self.check(document)
        except BadRequestError as exc:
            return exc
        return None

    def is_topic_name(self, name: str) -> bool:
        """Whether `name` follows DMS's topic naming rules (the spec's TopicName)."""
        return bool(self._topic.is_valid(name))


@functools.cache
def request_schema() -> RequestSchema:
    """The request schema, compiled from the packaged spec once per process."""
    return RequestSchema(load_spec())
