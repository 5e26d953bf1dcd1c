"""The rules openapi.yaml states, as plain Python values: the one copy code imports.

Written by scripts/generate_rules.py (run by `make generate`) from openapi.yaml; never edit it by hand.
Patterns are the spec's own (ECMA-262 regular expressions, which these patterns read the same in Python's
`re`, except `\\s`: see the wrapper's WHITESPACE). Lengths count characters, as JSON Schema does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

__all__ = [
    "ASSUMPTIONS",
    "BODY_MAX_LENGTH",
    "BODY_MIN_LENGTH",
    "ENGINES",
    "ERRORS",
    "HEADER_MAX_BYTES",
    "INSTANCE_ID_PATTERN",
    "KEYS_PATTERN",
    "KEYS_PROPERTY",
    "KEY_MAX_LENGTH",
    "KEY_MIN_LENGTH",
    "MAX_CLOCK_SKEW_SECONDS",
    "MAX_QUEUES_PER_TOPIC",
    "MESSAGE_ID_PROPERTY",
    "OPERATIONS",
    "PROJECT_ID_PATTERN",
    "PROPERTY_NAMES",
    "PROPERTY_VALUE_MAX_LENGTH",
    "REQUEST_ID_PATTERN",
    "REQUEST_MAX_BYTES",
    "RESPONSE_HEADERS",
    "SINGLE_HEADERS",
    "TAGS_MAX_LENGTH",
    "TAGS_MIN_LENGTH",
    "TAGS_PATTERN",
    "TAGS_PER_MESSAGE_MAX",
    "TAGS_PROPERTY",
    "TOPIC_MAX_LENGTH",
    "TOPIC_MIN_LENGTH",
    "TOPIC_PATTERN",
    "TOPIC_RESERVED_NAMES",
    "TOPIC_RESERVED_PREFIXES",
    "error_msg",
    "error_msg_pattern",
    "operation_path",
    "unmet_conditions",
]


#: Every operation by operationId: method, path template, parameters, statuses.
OPERATIONS: dict[str, dict[str, Any]] = {
    "ListMessages": {
        "method": "GET",
        "path": "/v2/{engine}/{project_id}/instances/{instance_id}/messages",
        "parameters": {
            "engine": {
                "in": "path",
                "required": True,
                "schema": {"type": "string", "enum": ["rocketmq", "reliability"]},
            },
            "project_id": {
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"},
            },
            "instance_id": {
                "in": "path",
                "required": True,
                "schema": {
                    "type": "string",
                    "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
                },
            },
            "topic": {"in": "query", "required": True, "schema": {"type": "string", "minLength": 1}},
            "queue": {"in": "query", "required": False, "schema": {"type": "string", "pattern": "^[0-9]{1,9}$"}},
            "limit": {"in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "default": 10}},
            "offset": {"in": "query", "required": False, "schema": {"type": "integer", "minimum": 0, "default": 0}},
            "key": {"in": "query", "required": False, "schema": {"type": "string"}},
            "start_time": {"in": "query", "required": False, "schema": {"type": "string", "pattern": "^[0-9]{1,15}$"}},
            "end_time": {"in": "query", "required": False, "schema": {"type": "string", "pattern": "^[0-9]{1,15}$"}},
            "msg_id": {"in": "query", "required": False, "schema": {"type": "string"}},
        },
        "statuses": (200, 400, 401, 403, 404, 429, 500, 503),
        "required_one_of": (("msg_id",), ("start_time", "end_time")),
        "not_before": {"end_time": "start_time"},
    },
    "SendMessage": {
        "method": "POST",
        "path": "/v2/{engine}/{project_id}/instances/{instance_id}/messages",
        "parameters": {
            "engine": {
                "in": "path",
                "required": True,
                "schema": {"type": "string", "enum": ["rocketmq", "reliability"]},
            },
            "project_id": {
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"},
            },
            "instance_id": {
                "in": "path",
                "required": True,
                "schema": {
                    "type": "string",
                    "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
                },
            },
        },
        "statuses": (200, 400, 401, 403, 404, 413, 429, 500, 503),
        "required_one_of": (),
        "not_before": {},
    },
}

#: /components/schemas/Engine/enum
ENGINES: tuple[str, ...] = ("rocketmq", "reliability")

#: /components/parameters/ProjectId/schema/pattern
PROJECT_ID_PATTERN: str = "^[0-9a-fA-F]{32}$"

#: /components/parameters/InstanceId/schema/pattern
INSTANCE_ID_PATTERN: str = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

#: /components/headers/XRequestId/schema/pattern
REQUEST_ID_PATTERN: str = "^[0-9a-f]{32}$"

#: /components/schemas/TopicName/minLength
TOPIC_MIN_LENGTH: int = 3

#: /components/schemas/TopicName/maxLength
TOPIC_MAX_LENGTH: int = 64

#: /components/schemas/TopicName/pattern
TOPIC_PATTERN: str = "^[%|a-zA-Z0-9_-]+$"

#: /components/schemas/TopicName/not/anyOf: the `^prefix` patterns
TOPIC_RESERVED_PREFIXES: tuple[str, ...] = ("rmq_sys_",)

#: /components/schemas/TopicName/not/anyOf: the enum
TOPIC_RESERVED_NAMES: frozenset[str] = frozenset(
    (
        "BenchmarkTest",
        "OFFSET_MOVED_EVENT",
        "RMQ_SYS_TRACE_TOPIC",
        "RMQ_SYS_TRANS_HALF_TOPIC",
        "RMQ_SYS_TRANS_OP_HALF_TOPIC",
        "SCHEDULE_TOPIC_XXXX",
        "SELF_TEST_TOPIC",
        "TBW102",
        "TRANS_CHECK_MAX_TIME_TOPIC",
        "rmq_sys_offset_commit_event",
    )
)

#: /components/schemas/SendMessageRequestBody/properties/body/minLength
BODY_MIN_LENGTH: int = 1

#: /components/schemas/SendMessageRequestBody/properties/body/maxLength (its description applies it to the UTF-8 bytes too)
BODY_MAX_LENGTH: int = 4194304

#: /components/schemas/MessagePropertyName/enum
PROPERTY_NAMES: tuple[str, ...] = ("KEYS", "TAGS")

#: /components/schemas/SendMessagePropertiesReqEntity/properties/value/maxLength
PROPERTY_VALUE_MAX_LENGTH: int = 16384

#: /components/schemas/SendMessageRequestBody/properties/property_list/maxContains
TAGS_PER_MESSAGE_MAX: int = 1

#: /components/schemas/SendMessagePropertiesReqEntity/allOf: then, when name is KEYS: the property holding the message's keys
KEYS_PROPERTY: str = "KEYS"

#: /components/schemas/SendMessagePropertiesReqEntity/allOf: then, when name is TAGS: the property holding the message's tag
TAGS_PROPERTY: str = "TAGS"

#: /components/schemas/SendMessagePropertiesRespEntity/properties/name/x-message-id-property: the property the broker adds, holding the msg_id
MESSAGE_ID_PROPERTY: str = "UNIQ_KEY"

#: /components/schemas/SendMessageResponse/properties/queue_id/x-max-queues-per-topic (a topic has at least one)
MAX_QUEUES_PER_TOPIC: int = 50

#: /components/schemas/SendMessagePropertiesReqEntity/allOf: then, when name is KEYS
KEYS_PATTERN: str = "^[^\\s]{1,128}( [^\\s]{1,128})*$"

#: KEYS_PATTERN's {MIN,MAX} of one key
KEY_MIN_LENGTH: int = 1

#: KEYS_PATTERN's {MIN,MAX} of one key
KEY_MAX_LENGTH: int = 128

#: /components/schemas/SendMessagePropertiesReqEntity/allOf: then, when name is TAGS
TAGS_PATTERN: str = "^\\|?(?:[^\\s|]+\\|)*[^\\s|]*$"

#: /components/schemas/SendMessagePropertiesReqEntity/allOf: then, when name is TAGS
TAGS_MIN_LENGTH: int = 1

#: /components/schemas/SendMessagePropertiesReqEntity/allOf: then, when name is TAGS
TAGS_MAX_LENGTH: int = 128

#: /components/responses/PayloadTooLarge/x-max-request-bytes
REQUEST_MAX_BYTES: int = 12582912

#: /components/responses/BadRequest/x-max-header-bytes
HEADER_MAX_BYTES: int = 32768

#: /components/responses/BadRequest/x-single-headers
SINGLE_HEADERS: frozenset[str] = frozenset(
    ("authorization", "host", "x-auth-token", "x-sdk-content-sha256", "x-sdk-date", "x-security-token")
)

#: /x-assumptions: each unconfirmed choice by name
ASSUMPTIONS: dict[str, dict[str, Any]] = {
    "query-time-unit-ms": {
        "summary": "`start_time` and `end_time` are Unix milliseconds, compared with `store_timestamp`, both ends included.",
        "source": "No version of the reference gives the format; the sibling DMS Kafka query uses milliseconds.",
        "operation": "ListMessages",
        "fields": ("body:messages",),
        "when": {"time_range": "recorded"},
        "status": "unconfirmed",
        "confirmed": None,
    },
    "query-key-matches-any-key": {
        "summary": "`key` matches a message when it is any one of the space-separated keys of its `KEYS`.",
        "source": 'The reference says "a message key"; RocketMQ indexes every key.',
        "operation": "ListMessages",
        "fields": ("body:messages",),
        "when": {"query": ["key"]},
        "status": "unconfirmed",
        "confirmed": None,
    },
    "query-empty-msg-id-no-filter": {
        "summary": "An empty `msg_id` (or `key`) filters nothing, as if it were left out.",
        "source": "Not documented; a Java `StringUtils.isEmpty` check reads it so.",
        "operation": "ListMessages",
        "fields": ("body:messages",),
        "when": {"empty": ["msg_id"]},
        "status": "unconfirmed",
        "confirmed": None,
    },
    "query-results-oldest-first": {
        "summary": "A query lists its matches in store order, oldest first, and pages through them in that order.",
        "source": "Not documented.",
        "operation": "ListMessages",
        "fields": ("body:messages#order",),
        "when": {},
        "status": "unconfirmed",
        "confirmed": None,
    },
    "query-total-counts-all-matches": {
        "summary": "`total` counts every match of the query, not only the page.",
        "source": 'The reference\'s wording ("the number of matches"), with no example of more than one page.',
        "operation": "ListMessages",
        "fields": ("body:total",),
        "when": {},
        "status": "unconfirmed",
        "confirmed": None,
    },
    "query-unknown-topic-error": {
        "summary": 'A query of a topic that does not exist is refused with 400 DMS.00400876 "The topic does not exist.".',
        "source": "No error code is documented for the query; DMS.00400876 is listed for another feature.",
        "operation": "ListMessages",
        "fields": ("status", "body:error_code", "body:error_msg"),
        "when": {"error_code": "DMS.00400876"},
        "status": "unconfirmed",
        "confirmed": None,
    },
    "query-bad-parameter-error": {
        "summary": 'Every malformed query is refused with 400 DMS.00400062 "Invalid <parameter> parameter in the request.".',
        "source": "No error code is documented for the query; DMS.00400062 is the code of a bad field of a send.",
        "operation": "ListMessages",
        "fields": ("status", "body:error_code", "body:error_msg"),
        "when": {},
        "status": "unconfirmed",
        "confirmed": None,
    },
    "send-unknown-topic-error": {
        "summary": 'A send to a topic that does not exist is refused with 400 DMS.00400876 "The topic does not exist.".',
        "source": "The code is listed for another feature; what a real send to a missing topic returns is not confirmed.",
        "operation": "SendMessage",
        "fields": ("status", "body:error_code", "body:error_msg"),
        "when": {"error_code": "DMS.00400876"},
        "status": "unconfirmed",
        "confirmed": None,
    },
    "send-uniq-key-is-msg-id": {
        "summary": "A send's answer shows a `UNIQ_KEY` property equal to its `msg_id`.",
        "source": "The reference's example shows a 37-character UNIQ_KEY unlike its msg_id.",
        "operation": "SendMessage",
        "fields": ("body:property_list.UNIQ_KEY",),
        "when": {},
        "status": "unconfirmed",
        "confirmed": None,
    },
    "send-queue-round-robin": {
        "summary": "The broker picks a topic's queues in turn, from queue 0; offsets count up from 0 in each queue.",
        "source": "Not documented; RocketMQ's default producer selects queues round-robin.",
        "operation": "*",
        "fields": ("body:queue_id", "body:messages[].queue_id"),
        "when": {},
        "status": "unconfirmed",
        "confirmed": None,
    },
    "broker-added-properties": {
        "summary": "A stored message shows its sent properties plus `UNIQ_KEY`, `CLUSTER` (DmsCluster) and empty `KEYS`/`TAGS`.",
        "source": "The reference's one query example; which properties the broker adds in general is not documented.",
        "operation": "*",
        "fields": ("body:property_list.*", "body:messages[].property_list.*"),
        "when": {},
        "status": "unconfirmed",
        "confirmed": None,
    },
    "message-store-size": {
        "summary": "`store_size` is the size of RocketMQ's commit-log record of the message (91 bytes, body, properties, topic).",
        "source": "Matches the reference's example (175 for a 4-byte body); not documented.",
        "operation": "ListMessages",
        "fields": ("body:messages[].store_size",),
        "when": {},
        "status": "unconfirmed",
        "confirmed": None,
    },
    "request-id-on-every-response": {
        "summary": "Every response, success or error, carries `X-Request-Id`, 32 lowercase hexadecimal characters.",
        "source": "Observed on the real service; the reference does not document the header.",
        "operation": "*",
        "fields": ("header:X-Request-Id",),
        "when": {},
        "status": "unconfirmed",
        "confirmed": None,
    },
    "error-message-wording": {
        "summary": "Error messages are the wording of the service's error-code appendix.",
        "source": 'The appendix; real bodies are seen to differ in detail ("Invalid {0} parameter in the request.").',
        "operation": "*",
        "fields": ("body:error_msg",),
        "when": {},
        "status": "unconfirmed",
        "confirmed": None,
    },
    "query-visible-at-once": {
        "summary": "A message is visible to the query as soon as its send is answered.",
        "source": "The indexing lag is not documented; clients that read back poll with a deadline.",
        "operation": "ListMessages",
        "fields": (),
        "when": {},
        "status": "unconfirmed",
        "confirmed": None,
    },
    "gateway-head-limit": {
        "summary": "A request line and headers over 32 KiB (`x-max-header-bytes`), or a request that is not valid HTTP/1.1, get 400 APIGW.0201 and a close.",
        "source": "Huawei's references give neither a head limit nor the gateway's answer to malformed HTTP; 32 KiB is the emulator's choice.",
        "operation": "*",
        "fields": (),
        "when": {},
        "status": "unconfirmed",
        "confirmed": None,
    },
    "credential-headers-once": {
        "summary": "A credential header (`x-single-headers`) given twice, even with the same value, is refused with 400 APIGW.0201.",
        "source": "Not documented; which of two values a gateway takes is unknown, and a repeated query parameter is refused too.",
        "operation": "*",
        "fields": (),
        "when": {},
        "status": "unconfirmed",
        "confirmed": None,
    },
    "send-one-keys-entry": {
        "summary": "A send whose `property_list` has two `KEYS` entries is refused with 400 DMS.00400062.",
        "source": "What the service does with two is not documented (RocketMQ keeps properties in a map, so probably the last wins).",
        "operation": "SendMessage",
        "fields": (),
        "when": {},
        "status": "unconfirmed",
        "confirmed": None,
    },
}

#: each operation's documented response headers, by status
RESPONSE_HEADERS: dict[str, dict[int, tuple[str, ...]]] = {
    "ListMessages": {
        200: ("X-Request-Id",),
        400: ("X-Request-Id",),
        401: ("X-Request-Id",),
        403: ("X-Request-Id",),
        404: ("X-Request-Id",),
        429: ("Retry-After", "X-Request-Id"),
        500: ("X-Request-Id",),
        503: ("Retry-After", "X-Request-Id"),
    },
    "SendMessage": {
        200: ("X-Request-Id",),
        400: ("X-Request-Id",),
        401: ("X-Request-Id",),
        403: ("X-Request-Id",),
        404: ("X-Request-Id",),
        413: ("X-Request-Id",),
        429: ("Retry-After", "X-Request-Id"),
        500: ("X-Request-Id",),
        503: ("Retry-After", "X-Request-Id"),
    },
}

#: /components/securitySchemes/akskSignature/x-max-clock-skew-seconds
MAX_CLOCK_SKEW_SECONDS: int = 900

#: /components/responses/*/content/application/json/examples, by `Response.example`: (error_code, error_msg or its x-error-msg-templates entry, raised by the gateway, the message's pattern)
ERRORS: dict[str, tuple[str, str, bool, str]] = {
    "BadRequest.invalidParameter": (
        "DMS.00400062",
        "Invalid {field} parameter in the request.",
        False,
        "Invalid\\ (?P<field>\\S+)\\ parameter\\ in\\ the\\ request\\.",
    ),
    "BadRequest.emptyBody": (
        "DMS.00400004",
        "The request body is empty.",
        False,
        "The\\ request\\ body\\ is\\ empty\\.",
    ),
    "BadRequest.malformedJson": (
        "DMS.00400005",
        "The message body is not in JSON format or contains invalid characters.",
        False,
        "The\\ message\\ body\\ is\\ not\\ in\\ JSON\\ format\\ or\\ contains\\ invalid\\ characters\\.",
    ),
    "BadRequest.topicMissing": (
        "DMS.00400876",
        "The topic does not exist.",
        False,
        "The\\ topic\\ does\\ not\\ exist\\.",
    ),
    "BadRequest.messageTooLarge": (
        "DMS.10540011",
        "The message size is {size}, larger than the size limit {limit}.",
        False,
        "The\\ message\\ size\\ is\\ (?P<size>\\S+),\\ larger\\ than\\ the\\ size\\ limit\\ (?P<limit>\\S+)\\.",
    ),
    "BadRequest.malformedRequest": (
        "APIGW.0201",
        "Bad request: the request is not valid HTTP/1.1",
        True,
        "Bad\\ request:\\ the\\ request\\ is\\ not\\ valid\\ HTTP/1\\.1",
    ),
    "BadRequest.repeatedHeader": (
        "APIGW.0201",
        "Bad request: the header x-auth-token is given more than once",
        True,
        "Bad\\ request:\\ the\\ header\\ x\\-auth\\-token\\ is\\ given\\ more\\ than\\ once",
    ),
    "BadRequest.headersTooLarge": (
        "APIGW.0201",
        "Request headers too large: the request line and headers are over 32768 bytes",
        True,
        "Request\\ headers\\ too\\ large:\\ the\\ request\\ line\\ and\\ headers\\ are\\ over\\ 32768\\ bytes",
    ),
    "QueryBadRequest.invalidParameter": (
        "DMS.00400062",
        "Invalid start_time parameter in the request.",
        False,
        "Invalid\\ start_time\\ parameter\\ in\\ the\\ request\\.",
    ),
    "QueryBadRequest.topicMissing": (
        "DMS.00400876",
        "The topic does not exist.",
        False,
        "The\\ topic\\ does\\ not\\ exist\\.",
    ),
    "Unauthorized.badSignature": (
        "APIGW.0301",
        "Incorrect IAM authentication information: verify aksk signature fail",
        True,
        "Incorrect\\ IAM\\ authentication\\ information:\\ verify\\ aksk\\ signature\\ fail",
    ),
    "Unauthorized.unknownAk": (
        "APIGW.0301",
        "Incorrect IAM authentication information: ak {ak} not exist",
        True,
        "Incorrect\\ IAM\\ authentication\\ information:\\ ak\\ (?P<ak>\\S+)\\ not\\ exist",
    ),
    "Unauthorized.signatureExpired": (
        "APIGW.0301",
        "Incorrect IAM authentication information: calc aksk signature fail:signature expired, signature time:{signed_at},server time:{server_time}",
        True,
        "Incorrect\\ IAM\\ authentication\\ information:\\ calc\\ aksk\\ signature\\ fail:signature\\ expired,\\ signature\\ time:(?P<signed_at>\\S+),server\\ time:(?P<server_time>\\S+)",
    ),
    "Unauthorized.invalidToken": ("DMS.10240101", "Invalid token.", False, "Invalid\\ token\\."),
    "Forbidden.notAuthorized": (
        "APIGW.0302",
        "The IAM user is not authorized to access the API.",
        True,
        "The\\ IAM\\ user\\ is\\ not\\ authorized\\ to\\ access\\ the\\ API\\.",
    ),
    "Forbidden.denied": ("DMS.00403007", "Authorization denied.", False, "Authorization\\ denied\\."),
    "NotFound.instanceMissing": (
        "DMS.00404022",
        "This instance does not exist.",
        False,
        "This\\ instance\\ does\\ not\\ exist\\.",
    ),
    "NotFound.urlMissing": (
        "DMS.00404001",
        "The requested URL does not exist.",
        False,
        "The\\ requested\\ URL\\ does\\ not\\ exist\\.",
    ),
    "PayloadTooLarge.overLimit": ("APIGW.0201", "request body over 12 MB", True, "request\\ body\\ over\\ 12\\ MB"),
    "TooManyRequests.throttled": (
        "APIG.0308",
        "The throttling threshold has been reached.",
        True,
        "The\\ throttling\\ threshold\\ has\\ been\\ reached\\.",
    ),
    "InternalServerError.internal": ("DMS.00500000", "Internal service error.", False, "Internal\\ service\\ error\\."),
    "ServiceUnavailable.unavailable": (
        "DMS.00503000",
        "Service temporarily unavailable.",
        False,
        "Service\\ temporarily\\ unavailable\\.",
    ),
}


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
