"""schemathesis hooks for a plain `schemathesis run openapi.yaml`, so that a correct server reports nothing.

    SCHEMATHESIS_HOOKS=dms_rocketmq_emulator.schemathesis_hooks schemathesis run openapi.yaml --url URL --checks all

What plain schemathesis cannot know, and this module tells it (the same way the project's contract suite does,
`tests/contract/_contract_suite.py`, through `_positive_cases`):

- the conditions between the query's parameters (`x-required-one-of`: `msg_id` or a full time range;
  `x-not-before`: `end_time` not before `start_time`): a schema-valid query that breaks them is refused, and
  schemathesis would report it as "Schema-valid request rejected";
- which project, instance and topic exist: the schema can say what a well-formed one is, not which ones exist,
  and the server refuses the others; positive cases are pointed at the ones named by the environment;
- the UTF-8 byte limits of a body and a property value (the schema's maxLength counts characters);
- how to authenticate: each request is signed with AK/SK (or carries the IAM token), registered with
  schemathesis's auth mechanism, so its probes without or with invalid credentials stay as they are.

Environment (the contract suite's variables, docs/contract.md): `DMS_CONTRACT_PROJECT_ID`,
`DMS_CONTRACT_INSTANCE_ID`, `DMS_CONTRACT_TOPIC`, and `HUAWEICLOUD_SDK_AK`/`HUAWEICLOUD_SDK_SK` (optionally
`HUAWEICLOUD_SDK_SECURITY_TOKEN`) or `DMS_CONTRACT_TOKEN`. Importing this module registers the hooks: load it
only through SCHEMATHESIS_HOOKS.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from dms_rocketmq_api.spec_rules import BODY_MAX_LENGTH, PROPERTY_VALUE_MAX_LENGTH
from schemathesis.core.parameters import ParameterLocation

from ._positive_cases import fit_bytes, meet_query_conditions

__all__: list[str] = []

_PROJECT_ID = os.environ.get("DMS_CONTRACT_PROJECT_ID", "").strip()
_INSTANCE_ID = os.environ.get("DMS_CONTRACT_INSTANCE_ID", "").strip()
_TOPIC = os.environ.get("DMS_CONTRACT_TOPIC", "").strip()


def _register_auth() -> None:
    from dms_rocketmq.auth_requests import AKSKAuth, TokenAuth

    ak = os.environ.get("HUAWEICLOUD_SDK_AK", "").strip()
    sk = os.environ.get("HUAWEICLOUD_SDK_SK", "").strip()
    security_token = os.environ.get("HUAWEICLOUD_SDK_SECURITY_TOKEN", "").strip() or None
    token = os.environ.get("DMS_CONTRACT_TOKEN", "").strip()
    project = _PROJECT_ID or None
    # The global auth storage (schemathesis.auth), as `schema.auth` is in the suite; typed as a function there.
    storage: Any = schemathesis.auth
    if ak and sk:
        storage.set_from_requests(AKSKAuth(ak, sk, security_token, project_id=project))
    elif token:
        storage.set_from_requests(TokenAuth(token, project_id=project))


def _is_positive(case: Any, location: ParameterLocation) -> bool:
    meta = case.meta
    if meta is None:
        return True
    component = meta.components.get(location)
    mode = component.mode if component is not None else meta.generation.mode
    return not mode.is_negative


def _fit_properties(entries: Any) -> Any:
    if not isinstance(entries, list):
        return entries
    # A KEYS value cut after a separator would end in a space, which its pattern refuses.
    return [
        {**entry, "value": fit_bytes(entry["value"], PROPERTY_VALUE_MAX_LENGTH).rstrip(" ")}
        if isinstance(entry, dict) and isinstance(entry.get("value"), str)
        else entry
        for entry in entries
    ]


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: Any) -> Any:
    """Make a positive case one a correct server accepts: existing ids and topic, conditions met, bytes fitted."""
    if _is_positive(case, ParameterLocation.PATH) and case.path_parameters:
        path = dict(case.path_parameters)
        if _PROJECT_ID:
            path["project_id"] = _PROJECT_ID
        if _INSTANCE_ID:
            path["instance_id"] = _INSTANCE_ID
        case.path_parameters = path
    if case.operation.method.upper() == "GET" and _is_positive(case, ParameterLocation.QUERY):
        query = dict(case.query or {})
        if _TOPIC:
            query["topic"] = _TOPIC
        case.query = meet_query_conditions(query)
    body = case.body
    if (
        case.operation.method.upper() == "POST"
        and _is_positive(case, ParameterLocation.BODY)
        and isinstance(body, dict)
    ):
        fitted = dict(body)
        if _TOPIC:
            fitted["topic"] = _TOPIC
        text = fitted.get("body")
        if isinstance(text, str):
            fitted["body"] = fit_bytes(text, BODY_MAX_LENGTH)
        if "property_list" in fitted:
            fitted["property_list"] = _fit_properties(fitted["property_list"])
        case.body = fitted
    return case


@schemathesis.hook
def before_add_examples(context: schemathesis.HookContext, examples: list[Any]) -> None:
    """The spec's own examples (added without `map_case`) are made positive the same way."""
    examples[:] = [map_case(context, example) for example in examples]


_register_auth()
