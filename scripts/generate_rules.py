"""Write `spec_rules.py`: every rule openapi.yaml states that code applies, as plain Python values.

Run by scripts/generate.sh beside openapi-python-client, so that `make generate` writes it next to the
generated client and `make check-generated` guards it. The wrapper (which must not depend on PyYAML) and the
emulator import the rules from that module instead of keeping copies.

Every value is read from the spec by JSON pointer or by schema name; a value the spec lacks, or states in
a shape this script does not know, stops the generation with a message naming it, rather than falling back
to a remembered value.

Usage: generate_rules.py OPENAPI_YAML > spec_rules.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


class SpecError(Exception):
    """The spec lacks a rule, or states it in a shape this script does not read."""


def _unescape_pointer(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def at(spec: Any, pointer: str) -> Any:
    """The value at a JSON pointer (RFC 6901) such as `/components/schemas/TopicName/maxLength`."""
    node = spec
    for raw in pointer.lstrip("/").split("/"):
        token = _unescape_pointer(raw)
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise SpecError(f"openapi.yaml has no {pointer}")
    return node


def typed(spec: Any, pointer: str, kind: type | tuple[type, ...]) -> Any:
    """`at(spec, pointer)`, which must be of `kind`."""
    value = at(spec, pointer)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise SpecError(f"openapi.yaml's {pointer} is {value!r}, not of type {kind}")
    return value


def resolve(spec: Any, node: Any) -> Any:
    """`node` with every local `$ref` replaced by what it points at, recursively."""
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/"):
                raise SpecError(f"openapi.yaml has a $ref this script cannot follow: {ref!r}")
            return resolve(spec, at(spec, ref[1:]))
        return {key: resolve(spec, value) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(spec, item) for item in node]
    return node


def operations(spec: Any) -> dict[str, dict[str, Any]]:
    """Every operation by operationId: method, path, parameters (with their resolved schemas), statuses."""
    out: dict[str, dict[str, Any]] = {}
    for path, item in typed(spec, "/paths", dict).items():
        shared = item.get("parameters", [])
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            operation_id = operation.get("operationId")
            if not isinstance(operation_id, str):
                raise SpecError(f"openapi.yaml's {method.upper()} {path} has no operationId")
            parameters: dict[str, dict[str, Any]] = {}
            # Operation-level parameters override path-level ones of the same name and location.
            for raw in [*shared, *operation.get("parameters", [])]:
                parameter = resolve(spec, raw)
                parameters[parameter["name"]] = {
                    "in": parameter["in"],
                    "required": bool(parameter.get("required", False)),
                    "schema": _schema_rules(parameter.get("schema", {})),
                }
            template_names = re.findall(r"\{([^}]+)\}", path)
            declared = [name for name, p in parameters.items() if p["in"] == "path"]
            if sorted(template_names) != sorted(declared):
                raise SpecError(f"openapi.yaml's {path}: path parameters {declared} do not match the template")
            statuses = sorted(int(code) for code in operation.get("responses", {}) if str(code).isdigit())
            if not statuses:
                raise SpecError(f"openapi.yaml's {operation_id} documents no response status")
            out[operation_id] = {
                "method": method.upper(),
                "path": path,
                "parameters": parameters,
                "statuses": tuple(statuses),
                **_conditions(operation_id, operation, parameters),
            }
    if not out:
        raise SpecError("openapi.yaml has no operation")
    return dict(sorted(out.items()))


def _conditions(operation_id: str, operation: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """The conditions between parameters that OpenAPI cannot state: `x-required-one-of`, `x-not-before`."""
    groups = operation.get("x-required-one-of", [])
    not_before = operation.get("x-not-before", {})
    named = [name for group in groups for name in group] + [n for pair in not_before.items() for n in pair]
    unknown = sorted(set(named) - set(parameters))
    if unknown:
        raise SpecError(f"openapi.yaml's {operation_id} names conditions on unknown parameters {unknown}")
    return {
        "required_one_of": tuple(tuple(group) for group in groups),
        "not_before": dict(not_before),
    }


_SCHEMA_KEYWORDS = (
    "type",
    "format",
    "enum",
    "const",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "default",
)


_WHEN = {"query": list, "empty": list, "time_range": str, "error_code": str}
_ASSUMPTION_STATUSES = ("unconfirmed", "confirmed")


def assumptions(spec: Any, operation_ids: Any) -> dict[str, dict[str, Any]]:
    """`x-assumptions`: each unconfirmed choice by name, with what it governs (see its comment in the spec)."""
    out: dict[str, dict[str, Any]] = {}
    for name, raw in typed(spec, "/x-assumptions", dict).items():
        where = f"/x-assumptions/{name}"
        if not isinstance(raw, dict):
            raise SpecError(f"openapi.yaml's {where} is not a mapping")
        operation = typed(spec, f"{where}/operation", str)
        if operation != "*" and operation not in operation_ids:
            raise SpecError(f"openapi.yaml's {where}/operation names no operation: {operation!r}")
        fields = typed(spec, f"{where}/fields", list)
        if not all(isinstance(field, str) for field in fields):
            raise SpecError(f"openapi.yaml's {where}/fields are not all strings")
        when = raw.get("when", {})
        if not isinstance(when, dict) or any(not isinstance(v, _WHEN.get(k, ())) for k, v in when.items()):
            raise SpecError(f"openapi.yaml's {where}/when is not a mapping of {sorted(_WHEN)}")
        status = typed(spec, f"{where}/status", str)
        if status not in _ASSUMPTION_STATUSES:
            raise SpecError(f"openapi.yaml's {where}/status is {status!r}, not one of {_ASSUMPTION_STATUSES}")
        if status == "confirmed" and not isinstance(raw.get("confirmed"), str):
            raise SpecError(f"openapi.yaml's {where} is confirmed without `confirmed` saying by which run")
        out[name] = {
            "summary": typed(spec, f"{where}/summary", str),
            "source": typed(spec, f"{where}/source", str),
            "operation": operation,
            "fields": tuple(fields),
            "when": dict(when),
            "status": status,
            "confirmed": raw.get("confirmed"),
        }
    return out


def _schema_rules(schema: dict[str, Any]) -> dict[str, Any]:
    """The validating keywords of a parameter's schema (descriptions and examples left out)."""
    rules = {key: schema[key] for key in _SCHEMA_KEYWORDS if key in schema}
    for key in ("anyOf", "oneOf"):
        if key in schema:
            rules[key] = [_schema_rules(option) for option in schema[key]]
    return rules


def response_headers(spec: Any) -> dict[str, dict[int, tuple[str, ...]]]:
    """The headers each operation documents on each status (their schemas are the spec's, e.g. REQUEST_ID_PATTERN)."""
    out: dict[str, dict[int, tuple[str, ...]]] = {}
    for item in typed(spec, "/paths", dict).values():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            statuses: dict[int, tuple[str, ...]] = {}
            for code, response in operation.get("responses", {}).items():
                if str(code).isdigit():
                    statuses[int(code)] = tuple(sorted(resolve(spec, response).get("headers", {})))
            out[operation["operationId"]] = dict(sorted(statuses.items()))
    return dict(sorted(out.items()))


def _property_rule(spec: Any, entity: str, name: str) -> dict[str, Any]:
    """The `then` schema of `value` that the entity's `allOf` applies when the property's name is `name`."""
    pointer = f"/components/schemas/{entity}/allOf"
    for index, branch in enumerate(typed(spec, pointer, list)):
        condition = branch.get("if", {}).get("properties", {}).get("name", {})
        if condition.get("const") == name:
            return dict(typed(spec, f"{pointer}/{index}/then/properties/value", dict))
    raise SpecError(f"openapi.yaml's {pointer} has no rule for {name}")


def _property_name(spec: Any, name: str) -> str:
    """`name`, checked to be one the spec lets a sender set (MessagePropertyName's enum)."""
    if name not in typed(spec, "/components/schemas/MessagePropertyName/enum", list):
        raise SpecError(f"/components/schemas/MessagePropertyName/enum: no {name}")
    return name


def _rule_value(rule: dict[str, Any], keyword: str, name: str, kind: type) -> Any:
    value = rule.get(keyword)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise SpecError(f"openapi.yaml's rule for {name} values has no {keyword} of type {kind.__name__}")
    return value


def _reserved(spec: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The TopicName's reserved prefixes (`not: anyOf: - pattern: ^prefix`) and reserved names (`- enum`)."""
    pointer = "/components/schemas/TopicName/not/anyOf"
    prefixes: list[str] = []
    names: list[str] = []
    for index, option in enumerate(typed(spec, pointer, list)):
        if set(option) == {"pattern"}:
            match = re.fullmatch(r"\^([A-Za-z0-9_%-]+)", option["pattern"])
            if match is None:
                raise SpecError(f"openapi.yaml's {pointer}/{index}/pattern is not `^` and a literal prefix")
            prefixes.append(match.group(1))
        elif set(option) == {"enum"}:
            names.extend(option["enum"])
        else:
            raise SpecError(f"openapi.yaml's {pointer}/{index} is neither a prefix pattern nor an enum")
    if not prefixes or not names:
        raise SpecError(f"openapi.yaml's {pointer} lacks the reserved prefix or the reserved names")
    return tuple(prefixes), tuple(sorted(names))


def _keys_lengths(pattern: str) -> tuple[int, int]:
    """The per-key lengths of the KEYS pattern `^[^\\s]{MIN,MAX}( [^\\s]{MIN,MAX})*$`."""
    match = re.fullmatch(r"\^\[\^\\s\]\{(\d+),(\d+)\}\( \[\^\\s\]\{(\d+),(\d+)\}\)\*\$", pattern)
    if match is None or match.group(1, 2) != match.group(3, 4):
        raise SpecError(f"the KEYS pattern {pattern!r} is not `^[^\\s]{{MIN,MAX}}( [^\\s]{{MIN,MAX}})*$`")
    return int(match.group(1)), int(match.group(2))


def _template_pattern(template: str) -> str:
    """A regular expression matching the messages `template` words, each `{name}` a named group."""
    parts = re.split(r"\{(\w+)\}", template)
    return "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>\\S+)" for index, part in enumerate(parts))


def _errors(spec: Any) -> dict[str, tuple[str, str, bool, str]]:
    """Every error example of the spec's responses, by `Response.example`: (error_code, error_msg, gateway, pattern).

    `error_msg` is the response's `x-error-msg-templates` entry for the example when it has one (and the example
    must read as that template filled in); gateway: the example carries `request_id`, as the gateway's errors do;
    pattern: the regular expression that finds such a message, each `{name}` a named group.
    """
    found: dict[str, tuple[str, str, bool, str]] = {}
    for response_name, response in typed(spec, "/components/responses", dict).items():
        templates = response.get("x-error-msg-templates", {})
        examples = response.get("content", {}).get("application/json", {}).get("examples", {})
        for name in templates:
            if name not in examples:
                raise SpecError(f"/components/responses/{response_name}/x-error-msg-templates/{name}: no such example")
        for name, example in examples.items():
            value = example["value"]
            if "error_code" not in value:
                continue
            message = value["error_msg"]
            template = templates.get(name, message)
            pattern = _template_pattern(template)
            if re.fullmatch(pattern, message) is None:
                raise SpecError(f"/components/responses/{response_name}: example {name} does not read as {template!r}")
            found[f"{response_name}.{name}"] = (value["error_code"], template, "request_id" in value, pattern)
    return found


def _header_names(names: list[Any]) -> list[str]:
    """Header names as ASGI servers give them: lowercase strings."""
    if not names or not all(isinstance(name, str) and name == name.lower() for name in names):
        raise SpecError(f"openapi.yaml's x-single-headers must be lowercase header names, not {names!r}")
    return sorted(names)


def rules(spec: Any) -> dict[str, tuple[str, Any]]:
    """Each rule's name, with the comment that says where in the spec it comes from and its value."""
    topic = "/components/schemas/TopicName"
    body = "/components/schemas/SendMessageRequestBody/properties/body"
    entity = "SendMessagePropertiesReqEntity"
    keys_at = f"/components/schemas/{entity}/allOf: then, when name is KEYS"
    tags_at = f"/components/schemas/{entity}/allOf: then, when name is TAGS"
    resp_name = "/components/schemas/SendMessagePropertiesRespEntity/properties/name"
    queue_id = "/components/schemas/SendMessageResponse/properties/queue_id"
    keys = _property_rule(spec, entity, "KEYS")
    tags = _property_rule(spec, entity, "TAGS")
    prefixes, names = _reserved(spec)
    key_min, key_max = _keys_lengths(_rule_value(keys, "pattern", "KEYS", str))
    ops = operations(spec)
    return {
        "OPERATIONS": ("Every operation by operationId: method, path template, parameters, statuses.", ops),
        "ENGINES": ("/components/schemas/Engine/enum", tuple(typed(spec, "/components/schemas/Engine/enum", list))),
        "PROJECT_ID_PATTERN": (
            "/components/parameters/ProjectId/schema/pattern",
            typed(spec, "/components/parameters/ProjectId/schema/pattern", str),
        ),
        "INSTANCE_ID_PATTERN": (
            "/components/parameters/InstanceId/schema/pattern",
            typed(spec, "/components/parameters/InstanceId/schema/pattern", str),
        ),
        "REQUEST_ID_PATTERN": (
            "/components/headers/XRequestId/schema/pattern",
            typed(spec, "/components/headers/XRequestId/schema/pattern", str),
        ),
        "TOPIC_MIN_LENGTH": (f"{topic}/minLength", typed(spec, f"{topic}/minLength", int)),
        "TOPIC_MAX_LENGTH": (f"{topic}/maxLength", typed(spec, f"{topic}/maxLength", int)),
        "TOPIC_PATTERN": (f"{topic}/pattern", typed(spec, f"{topic}/pattern", str)),
        "TOPIC_RESERVED_PREFIXES": (f"{topic}/not/anyOf: the `^prefix` patterns", prefixes),
        "TOPIC_RESERVED_NAMES": (f"{topic}/not/anyOf: the enum", names),
        "BODY_MIN_LENGTH": (f"{body}/minLength", typed(spec, f"{body}/minLength", int)),
        "BODY_MAX_LENGTH": (
            f"{body}/maxLength (its description applies it to the UTF-8 bytes too)",
            typed(spec, f"{body}/maxLength", int),
        ),
        "PROPERTY_NAMES": (
            "/components/schemas/MessagePropertyName/enum",
            tuple(typed(spec, "/components/schemas/MessagePropertyName/enum", list)),
        ),
        "PROPERTY_VALUE_MAX_LENGTH": (
            f"/components/schemas/{entity}/properties/value/maxLength",
            typed(spec, f"/components/schemas/{entity}/properties/value/maxLength", int),
        ),
        "TAGS_PER_MESSAGE_MAX": (
            "/components/schemas/SendMessageRequestBody/properties/property_list/maxContains",
            typed(spec, "/components/schemas/SendMessageRequestBody/properties/property_list/maxContains", int),
        ),
        "KEYS_PROPERTY": (f"{keys_at}: the property holding the message's keys", _property_name(spec, "KEYS")),
        "TAGS_PROPERTY": (f"{tags_at}: the property holding the message's tag", _property_name(spec, "TAGS")),
        "MESSAGE_ID_PROPERTY": (
            f"{resp_name}/x-message-id-property: the property the broker adds, holding the msg_id",
            typed(spec, f"{resp_name}/x-message-id-property", str),
        ),
        "MAX_QUEUES_PER_TOPIC": (
            f"{queue_id}/x-max-queues-per-topic (a topic has at least one)",
            typed(spec, f"{queue_id}/x-max-queues-per-topic", int),
        ),
        "KEYS_PATTERN": (keys_at, _rule_value(keys, "pattern", "KEYS", str)),
        "KEY_MIN_LENGTH": ("KEYS_PATTERN's {MIN,MAX} of one key", key_min),
        "KEY_MAX_LENGTH": ("KEYS_PATTERN's {MIN,MAX} of one key", key_max),
        "TAGS_PATTERN": (tags_at, _rule_value(tags, "pattern", "TAGS", str)),
        "TAGS_MIN_LENGTH": (tags_at, _rule_value(tags, "minLength", "TAGS", int)),
        "TAGS_MAX_LENGTH": (tags_at, _rule_value(tags, "maxLength", "TAGS", int)),
        "REQUEST_MAX_BYTES": (
            "/components/responses/PayloadTooLarge/x-max-request-bytes",
            typed(spec, "/components/responses/PayloadTooLarge/x-max-request-bytes", int),
        ),
        "HEADER_MAX_BYTES": (
            "/components/responses/BadRequest/x-max-header-bytes",
            typed(spec, "/components/responses/BadRequest/x-max-header-bytes", int),
        ),
        "SINGLE_HEADERS": (
            "/components/responses/BadRequest/x-single-headers",
            tuple(_header_names(typed(spec, "/components/responses/BadRequest/x-single-headers", list))),
        ),
        "ASSUMPTIONS": ("/x-assumptions: each unconfirmed choice by name", assumptions(spec, ops)),
        "RESPONSE_HEADERS": ("each operation's documented response headers, by status", response_headers(spec)),
        "MAX_CLOCK_SKEW_SECONDS": (
            "/components/securitySchemes/akskSignature/x-max-clock-skew-seconds",
            typed(spec, "/components/securitySchemes/akskSignature/x-max-clock-skew-seconds", int),
        ),
        "ERRORS": (
            "/components/responses/*/content/application/json/examples, by `Response.example`: (error_code,"
            " error_msg or its x-error-msg-templates entry, raised by the gateway, the message's pattern)",
            _errors(spec),
        ),
    }


_HEADER = '''"""The rules openapi.yaml states, as plain Python values: the one copy code imports.

Written by scripts/generate_rules.py (run by `make generate`) from openapi.yaml; never edit it by hand.
Patterns are the spec's own (ECMA-262 regular expressions, which these patterns read the same in Python's
`re`, except `\\\\s`: see the wrapper's WHITESPACE). Lengths count characters, as JSON Schema does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

__all__ = [
{names}
    "error_msg",
    "error_msg_pattern",
    "operation_path",
    "unmet_conditions",
]

'''

_FOOTER = '''

def unmet_conditions(operation_id: str, given: Mapping[str, str]) -> list[str]:
    """What the parameters `given` to an operation lack: required ones, one group of `required_one_of`, order.

    Empty when every condition the spec states is met. The values' own schemas are checked elsewhere.
    """
    operation = OPERATIONS[operation_id]
    problems = [
        f"{name} is required"
        for name, parameter in operation["parameters"].items()
        if parameter["required"] and parameter["in"] != "path" and name not in given
    ]
    groups = operation["required_one_of"]
    if groups and not any(all(name in given for name in group) for group in groups):
        problems.append("give " + ", or ".join(" and ".join(group) for group in groups))
    for later, earlier in operation["not_before"].items():
        if later in given and earlier in given and _number(given[later]) < _number(given[earlier]):
            problems.append(f"{later} is before {earlier}")
    return problems


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return float("nan")  # compares false both ways: a malformed value is its own schema's error

def error_msg(example: str, **values: object) -> str:
    """The `error_msg` of the spec's error example `example` (`Response.example`), its `{names}` filled in."""
    return ERRORS[example][1].format(**values)


def error_msg_pattern(example: str) -> re.Pattern[str]:
    """A regular expression that finds the `error_msg` of `example` in a message, each `{name}` a group."""
    return re.compile(ERRORS[example][3])


def operation_path(operation_id: str, **parameters: str) -> str:
    """The path of an operation with its path parameters filled in, each percent-encoded."""
    path: str = OPERATIONS[operation_id]["path"]
    for name, value in parameters.items():
        placeholder = "{" + name + "}"
        if placeholder not in path:
            raise KeyError(f"{operation_id} has no path parameter {name!r}")
        path = path.replace(placeholder, quote(value, safe=""))
    if "{" in path:
        raise KeyError(f"{operation_id} needs more path parameters: {path}")
    return path
'''

_ANNOTATIONS = {
    "OPERATIONS": "dict[str, dict[str, Any]]",
    "ASSUMPTIONS": "dict[str, dict[str, Any]]",
    "RESPONSE_HEADERS": "dict[str, dict[int, tuple[str, ...]]]",
    "ENGINES": "tuple[str, ...]",
    "TOPIC_RESERVED_PREFIXES": "tuple[str, ...]",
    "TOPIC_RESERVED_NAMES": "frozenset[str]",
    "SINGLE_HEADERS": "frozenset[str]",
    "PROPERTY_NAMES": "tuple[str, ...]",
    "ERRORS": "dict[str, tuple[str, str, bool, str]]",
}


def render(spec: Any) -> str:
    """The module's text (before formatting)."""
    values = rules(spec)
    names = "\n".join(f'    "{name}",' for name in sorted(values))
    lines = [_HEADER.format(names=names)]
    for name, (source, value) in values.items():
        annotation = _ANNOTATIONS.get(name, type(value).__name__)
        literal = f"frozenset({value!r})" if annotation.startswith("frozenset") else repr(value)
        lines.append(f"#: {source}\n{name}: {annotation} = {literal}\n")
    return "\n".join(lines) + _FOOTER


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    spec = yaml.safe_load(Path(argv[1]).read_text("utf-8"))
    try:
        sys.stdout.write(render(spec))
    except SpecError as exc:
        print(f"generate_rules.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
