"""How the contract suite loads openapi.yaml into schemathesis: phases, data, checks, auth and pinning.

Everything schemathesis is told lives here, in one place, so that the reason for each choice sits next to it.
The suite itself (`test_send_message_contract.py`) calls `case.call_and_validate()` with the checks of our own
(`configured_instance_is_found` here, the round trip's in `_round_trip.py`) and masks secrets in failure reports.

Knobs (environment), all optional:
- `DMS_CONTRACT_SEED`: the run's seed (default a fixed one, so `make test` is reproducible); `random` for a
  fresh one, which failure reports print so that the run can be replayed.
- `DMS_CONTRACT_MAX_EXAMPLES`: how many cases the fuzzing phase generates, positive and negative together (default 100).
- `DMS_CONTRACT_FAILURES_FILE`: where to append, one per line, the name of each check that fails (the
  broken-variant tests read it to learn which checks caught their planted defect).
- `DMS_CONTRACT_NO_SHRINK=1`: report the first failing case as found instead of shrinking it (faster).
- `DMS_CONTRACT_PHASES`: the phases to run, comma-separated, of examples, coverage, fuzzing and stateful
  (default all four; the round trip always runs, on what the phases sent).
- `DMS_CONTRACT_RECORD`: where to write the run's transcript (HAR 1.2; default `build/contract-transcript.har`,
  see `_recorder.py`).
- `DMS_CONTRACT_READ_TIMEOUT`: seconds to wait for an acknowledged message to show in the query (default 30;
  see `_round_trip.py`).
"""

from __future__ import annotations

import functools
import os
import pathlib
import random
import zlib
from typing import Any

import schemathesis
from _contract_target import Target
from _recorder import register as record_exchanges
from _round_trip import tag_with_run_key
from dms_rocketmq_api.spec_rules import BODY_MAX_LENGTH, PROPERTY_VALUE_MAX_LENGTH
from dms_rocketmq_emulator._positive_cases import fit_bytes, meet_query_conditions
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase
from schemathesis.specs.openapi.schemas import OpenApiSchema

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "openapi.yaml"
DEFAULT_SEED = 20261126
DEFAULT_MAX_EXAMPLES = 100
# One positive case in this many keeps its generated (well-formed, non-existent) instance id; see `pin_to_target`.
UNPINNED_SHARE = 4
# The body's byte limit (the spec's maxLength, applied to the UTF-8 bytes too, as its description says). The
# schema can only bound characters; see `pin_to_target`.
BODY_MAX_BYTES = BODY_MAX_LENGTH
# A property value's byte limit (its maxLength in UTF-8 bytes), likewise.
PROPERTY_MAX_BYTES = PROPERTY_VALUE_MAX_LENGTH

SEED = "DMS_CONTRACT_SEED"
MAX_EXAMPLES = "DMS_CONTRACT_MAX_EXAMPLES"
FAILURES_FILE = "DMS_CONTRACT_FAILURES_FILE"
NO_SHRINK = "DMS_CONTRACT_NO_SHRINK"
PHASES = "DMS_CONTRACT_PHASES"
ALL_PHASES = ("examples", "coverage", "fuzzing", "stateful")

# A query without `msg_id` needs a full time range (the spec's x-required-one-of; see `pin_to_target`): positive
# queries that lack one get it, from the epoch to the largest value the spec's pattern (15 digits) allows
# (`_positive_cases`, shared with the hooks module a QA team loads into its own schemathesis run).

# Checks, and why each is configured as it is. Every built-in check of schemathesis 4.32 is listed: none is
# left out, so each one runs whenever it has something to look at.
CHECKS: dict[str, Any] = {
    # A 5xx is never the right answer to a request this suite can build. The default expectation (2xx, 3xx,
    # 4xx) is kept as it is.
    "not_a_server_error": {"enabled": True},
    # The status is one the operation documents (SendMessage: 200, 400, 401, 403, 404, 413, 429, 500, 503;
    # ListMessages: the same but 413).
    "status_code_conformance": {"enabled": True},
    # The Content-Type is the one documented for that status (application/json for all of them).
    "content_type_conformance": {"enabled": True},
    # The body matches the documented schema: SendMessageResponse or ListMessagesResponse for 200, ErrorBody for
    # every error.
    "response_schema_conformance": {"enabled": True, "validate-formats": True},
    # The documented headers are present and valid: X-Request-Id (32 lowercase hex) on every response and
    # Retry-After, when sent, on 429/503.
    "response_headers_conformance": {"enabled": True},
    # A request valid against the schema, with valid credentials and an existing topic, must be accepted.
    # Narrowed from schemathesis's default (2xx, 3xx, 401, 403, 404, 409, 429, 5xx): this API never redirects
    # or conflicts (3xx, 409), and positive cases carry valid credentials, so a 401 or 403 would be a real
    # finding (a signing mismatch). Kept: 404, the right answer for the share of positive cases whose
    # well-formed ids name no instance (see `pin_to_target`; a 404 for the configured instance is caught by the
    # suite's own check, `configured_instance_is_found`); 429, because throttling answers load, not data; and
    # 5xx, because a server error is reported by not_a_server_error and must not be reported twice.
    "positive_data_acceptance": {"enabled": True, "expected-statuses": ["200", "404", "429", "5xx"]},
    # A request the schema forbids must be refused. Narrowed from schemathesis's default (which also allows
    # 405, 406, 409, 415, 422 and 428, statuses this API never documents, so status_code_conformance would
    # flag them anyway) to the statuses that are a correct refusal here: 400 (invalid body or path parameter),
    # 401 (credentials negated), 403 (a real gateway may deny), 404 (a negated path parameter names no
    # instance or no URL, e.g. an unknown engine or an empty segment). Added: 413, the gateway's refusal of a
    # request over 12 MB, the right answer to an oversized negative body. Kept: 429 (throttling, as above) and
    # 5xx (reported by not_a_server_error, not twice).
    "negative_data_rejection": {
        "enabled": True,
        "expected-statuses": ["400", "401", "403", "404", "413", "429", "5xx"],
    },
    # Declared security is enforced: after a request is accepted, schemathesis re-sends it without credentials
    # and with invalid ones (an invalid Authorization, an invalid X-Auth-Token); each must get a 401. No AK is
    # used in those probes, so a real gateway's lock-out of an AK after failed attempts cannot be triggered.
    "ignored_auth": {"enabled": True},
    # Methods the path does not document get 405 (PUT, DELETE, ... on the messages URL); the real service answers
    # them with 405 DMS.00405001.
    "unsupported_method": {"enabled": True},
    # A 405 names the allowed methods in an Allow header.
    "allow_header_conformance": {"enabled": True},
    # This operation declares no required request headers besides its security schemes; the check finds
    # nothing to remove otherwise, and costs nothing.
    "missing_required_header": {"enabled": True},
    # The next three look at resources across operations (delete then read, create then read, one user's
    # object read by another). The API has a POST linked to a GET that reads its message back; the stateful
    # phase follows that link (test_send_message_contract.py), and the round trip's own checks compare what is
    # read with what was sent (_round_trip.py).
    "use_after_free": {"enabled": True},
    "ensure_resource_availability": {"enabled": True},
    "object_level_authorization": {"enabled": True},
    # `max_response_time` stays off: the suite makes no timed assertions (a slow shared CI machine is not a
    # contract violation); latency is measured by the benchmarks.
}


@functools.cache
def seed_from_env() -> int:
    """The run's seed: DMS_CONTRACT_SEED, a fresh random one for `random`, else the fixed default.

    A random seed is drawn here rather than left to schemathesis so that it can be reported (see
    `reproduce_hint`) and a failing deep run replayed with DMS_CONTRACT_SEED.
    """
    value = os.environ.get(SEED, "").strip()
    if value.lower() == "random":
        return random.SystemRandom().randrange(2**32)
    return int(value) if value else DEFAULT_SEED


def reproduce_hint() -> str:
    """How to replay this run, for failure reports."""
    return f"contract run: seed {seed_from_env()}, max examples {max_examples_from_env()} (replay with {SEED}=...)"


def max_examples_from_env() -> int:
    value = os.environ.get(MAX_EXAMPLES, "").strip()
    return int(value) if value else DEFAULT_MAX_EXAMPLES


def phases_from_env() -> frozenset[str]:
    """The phases DMS_CONTRACT_PHASES names (all of them by default); an unknown name is an error."""
    value = os.environ.get(PHASES, "").strip()
    names = frozenset(name.strip() for name in value.split(",") if name.strip()) if value else frozenset(ALL_PHASES)
    unknown = names - set(ALL_PHASES)
    if unknown:
        choices = ", ".join(ALL_PHASES)
        raise ValueError(f"{PHASES}: unknown phase(s) {', '.join(sorted(unknown))}; choose from {choices}")
    return names


def config_for(target: Target) -> schemathesis.Config:
    """The schemathesis configuration of a run against `target`."""
    phases = phases_from_env()
    generation: dict[str, Any] = {
        # Positive (schema-valid) and negative (schema-violating) data, in every phase.
        "mode": "all",
        "max-examples": max_examples_from_env(),
        # No example database: a run depends on its seed only, and writes nothing into the checkout.
        "database": "none",
        "no-shrink": os.environ.get(NO_SHRINK, "") == "1",
    }
    data: dict[str, Any] = {
        "base-url": target.url,
        "request-timeout": 30,
        "generation": generation,
        "phases": {
            "examples": {"enabled": "examples" in phases},
            "coverage": {"enabled": "coverage" in phases},
            "fuzzing": {"enabled": "fuzzing" in phases},
            # Stateful testing follows the spec's link from SendMessage to ListMessages; it runs as its own test
            # (test_stateful_send_then_read_back), with the round trip's checks added.
            "stateful": {"enabled": "stateful" in phases},
        },
        "checks": CHECKS,
        "seed": seed_from_env(),
        # Hypothesis's too_slow health check times data generation, which on a machine shared by parallel
        # jobs says more about the load than about the spec; the other health checks stay on.
        "suppress-health-check": ["too_slow"],
        # HTTPS and proxy as the target says (DMS_CONTRACT_CA_BUNDLE, DMS_CONTRACT_INSECURE, DMS_CONTRACT_PROXY).
        "tls-verify": target.verify,
    }
    if target.proxy is not None:
        data["proxy"] = target.proxy
    return schemathesis.Config.from_dict(data)


def _fit_byte_limit(text: str, limit: int = BODY_MAX_BYTES) -> str:
    """`text` shortened, if needed, to at most `limit` bytes of UTF-8 (never cutting a character)."""
    return fit_bytes(text, limit)


def _keeps_generated_instance_id(phase: TestPhase, path: dict[str, Any]) -> bool:
    """Whether a positive case keeps its generated instance id (one in UNPINNED_SHARE, never for examples)."""
    if phase == TestPhase.EXAMPLES:
        return False
    return zlib.crc32(str(path.get("instance_id")).encode()) % UNPINNED_SHARE == 0


def configured_instance_is_found(target: Target) -> Any:
    """A check: a request to the configured (existing) project and instance never gets a 404.

    positive_data_acceptance must accept 404 for the unpinned share of positive cases (their instance does not
    exist); this check keeps a 404 for the instance that does exist from slipping through.
    """

    def configured_instance_is_found(ctx: schemathesis.CheckContext, response: Any, case: schemathesis.Case) -> None:
        path = case.path_parameters or {}
        addresses_target = (
            path.get("engine") in ("rocketmq", "reliability")
            and path.get("project_id") == target.project_id
            and path.get("instance_id") == target.instance_id
        )
        if addresses_target and response.status_code == 404:
            raise AssertionError(
                f"The configured instance {target.instance_id} of project {target.project_id} exists, but the "
                f"server answered 404: {response.text[:300]}"
            )

    return configured_instance_is_found


def pin_to_target(target: Target) -> Any:
    """A `map_case` hook: positive components are pointed at the target's existing instance and topic.

    The schema can say what a well-formed project id, instance id or topic name is, not which ones exist; the
    server accepts only existing ones. So when a case's body was generated as valid, `topic` becomes the
    target's, always: a well-formed topic that does not exist is refused with 400 (DMS.00400876), which no
    schema can foresee. When a case's path parameters were generated as valid, `project_id` becomes the
    target's (the credentials belong to that project: a real gateway answers another project with 401/403,
    rightly) and so does `instance_id`, except in one case out of UNPINNED_SHARE (chosen from the generated
    value, so the seed decides): those keep their well-formed, generated instance id and must get 404, which
    tests that the server accepts as well-formed every id the schema allows (a 400 there means the schema and
    the server disagree on the format). The engine stays as generated: `rocketmq` and `reliability` are both
    valid. The spec's own examples (examples phase) are always pinned. Components generated as invalid
    (negative) keep their values, so the server's refusal of them is still tested.

    Two more adjustments, for the rules the schema cannot state: `body` is limited to 4 MiB of UTF-8 and a
    property value to 16 KB of UTF-8, while JSON Schema's maxLength counts characters (the spec says so in their
    descriptions). A positive body or property value whose UTF-8 encoding is over its limit is shortened to
    fit; without it, a correct server's documented refusal (DMS.10540011, DMS.00400062) would be reported as a
    positive case rejected. And a query needs `msg_id` or a full time range (ListMessages' description): a
    positive query without `msg_id`, or with half a range, gets the range or the bound it lacks (RANGE_START,
    RANGE_END), in order. A positive query's `topic` is the target's, as a body's is.

    Every positive send also gets the run's key (`_round_trip.RUN_KEY`) among its KEYS, after the fitting, so
    that the round trip can find this run's messages, and only them, by key.
    """

    def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
        meta = case.meta
        if meta is None:
            return case

        def is_positive(location: ParameterLocation) -> bool:
            # Explicit examples record no per-component mode; the case's own mode then covers every component.
            component = meta.components.get(location)
            mode = component.mode if component is not None else meta.generation.mode
            return not mode.is_negative

        if case.operation.method.upper() == "GET" and is_positive(ParameterLocation.QUERY):
            case.query = _pinned_query(dict(case.query or {}), target)
        path = dict(case.path_parameters or {})
        if is_positive(ParameterLocation.PATH):
            path["project_id"] = target.project_id
            if not _keeps_generated_instance_id(meta.phase.name, path):
                path["instance_id"] = target.instance_id
            case.path_parameters = path
        body = case.body
        if is_positive(ParameterLocation.BODY) and isinstance(body, dict):
            pinned = {**body, "topic": target.topic}
            if isinstance(pinned.get("body"), str):
                pinned["body"] = _fit_byte_limit(pinned["body"])
            entries = pinned.get("property_list")
            if isinstance(entries, list):
                # A KEYS value cut after a separator would end in a space, which its pattern refuses.
                pinned["property_list"] = [
                    {**entry, "value": _fit_byte_limit(entry["value"], PROPERTY_MAX_BYTES).rstrip(" ")}
                    if isinstance(entry, dict) and isinstance(entry.get("value"), str)
                    else entry
                    for entry in entries
                ]
            case.body = tag_with_run_key(pinned, max_value_bytes=PROPERTY_MAX_BYTES)
        return case

    return map_case


def _pinned_query(query: dict[str, Any], target: Target) -> dict[str, Any]:
    """A positive ListMessages query aimed at the target's topic, meeting the spec's conditions between
    parameters (`spec_rules.unmet_conditions`: msg_id or a full range, end not before start)."""
    query["topic"] = target.topic
    return meet_query_conditions(query)


def pin_examples_to_target(target: Target) -> Any:
    """A `before_add_examples` hook doing for the examples phase what `pin_to_target` does for the others.

    The spec's own examples are added to the test as explicit cases, which schemathesis does not pass through
    `map_case`; this hook maps them in place before they are added.
    """
    map_case = pin_to_target(target)

    def before_add_examples(context: schemathesis.HookContext, examples: list[schemathesis.Case]) -> None:
        examples[:] = [map_case(context, example) for example in examples]

    return before_add_examples


def redact(text: str, secrets: list[str]) -> str:
    """`text` with every secret in `secrets` replaced by `[Filtered]`, schemathesis's own mask."""
    for secret in secrets:
        text = text.replace(secret, "[Filtered]")
    return text


def record_failures(path: str) -> Any:
    """An `after_validate` hook that appends the name of each failed check to the file at `path`."""

    def after_validate(context: schemathesis.HookContext, case: schemathesis.Case, response: Any, results: Any) -> None:
        failed = [result.name for result in results if result.failure is not None]
        if failed:
            with open(path, "a", encoding="utf-8") as out:
                out.writelines(f"{name}\n" for name in failed)

    return after_validate


def build_schema(target: Target) -> OpenApiSchema:
    """openapi.yaml loaded for a run against `target`: configured, authenticated, pinned."""
    schema = schemathesis.openapi.from_path(SPEC_PATH, config=config_for(target))
    # The project's own signer, registered through schemathesis's auth mechanism: schemathesis then knows the
    # requests are authenticated, leaves credentials off the cases it generates without them (negative security
    # tests), and its ignored_auth probes remove them. A signer applied behind schemathesis's back would make
    # those negative cases look like accepted bad data.
    schema.auth.set_from_requests(target.requests_auth())
    schema.hook(pin_to_target(target))
    schema.hook(pin_examples_to_target(target))
    # Every exchange goes into the run's transcript (`_recorder.py`).
    record_exchanges(schema, target, seed_from_env())
    failures_file = os.environ.get(FAILURES_FILE, "").strip()
    if failures_file:
        schema.hook(record_failures(failures_file))
    return schema
