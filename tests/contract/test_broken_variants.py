"""The suite catches what it exists to catch: run against deliberately broken emulators, it reports each defect.

Each variant is the real emulator app behind one small ASGI middleware (see `_broken_emulators.py`), served on a
loopback port; the suite runs in a pytest subprocess pointed at it through the DMS_CONTRACT_* variables.
"""

from __future__ import annotations

import pathlib

import _broken_emulators as broken
import pytest
from _suite_runner import run_suite, target_env

# A broken server fails at its first bad response (all planted defects show in the examples and coverage phases);
# shrinking it to the smallest example, fuzzing or the stateful phase would only cost time.
FAST = {"DMS_CONTRACT_NO_SHRINK": "1", "DMS_CONTRACT_MAX_EXAMPLES": "30", "DMS_CONTRACT_PHASES": "examples,coverage"}
# The round trip's defects show on what the spec's own examples send; a server that stores nothing must not cost
# the default read timeout.
ROUND_TRIP = {**FAST, "DMS_CONTRACT_PHASES": "examples", "DMS_CONTRACT_READ_TIMEOUT": "1"}
VARIANT_TOKEN = "tok-BROKEN-VARIANT-SECRET-7d2a90c4e1"

VARIANTS = [
    pytest.param(broken.queue_offset_as_string, "response_schema_conformance", False, id="queue_offset-string"),
    pytest.param(broken.server_error_for_malformed_body, "not_a_server_error", False, id="500-malformed-body"),
    # Token auth: this variant rewrites the body, which an AK/SK signature (it hashes the body) would refuse.
    pytest.param(broken.accepts_body_without_topic, "negative_data_rejection", True, id="200-without-topic"),
    pytest.param(broken.drops_request_id, "response_headers_conformance", False, id="no-X-Request-Id"),
]
# The round trip's planted defects, each with the check made for it.
ROUND_TRIP_VARIANTS = [
    pytest.param(broken.acknowledges_without_storing, "acknowledged_message_is_stored", False, id="not-stored"),
    # Token auth: these rewrite the body or the query string, which an AK/SK signature covers.
    pytest.param(broken.stores_a_different_body, "stored_message_equals_sent", True, id="different-body"),
    pytest.param(broken.query_total_is_page_length, "query_total_is_consistent", False, id="total-is-page-length"),
    pytest.param(broken.query_ignores_key, "query_filters_are_applied", True, id="key-ignored"),
]


@pytest.mark.parametrize(
    ("variant", "expected_check", "use_token", "knobs"),
    [
        *[pytest.param(*p.values, FAST, id=p.id) for p in VARIANTS],
        *[pytest.param(*p.values, ROUND_TRIP, id=p.id) for p in ROUND_TRIP_VARIANTS],
    ],
)
def test_suite_reports_the_planted_defect(
    variant: broken.Variant,
    expected_check: str,
    use_token: bool,
    knobs: dict[str, str],
    tmp_path: pathlib.Path,
) -> None:
    """Against an emulator with one planted defect the suite fails, the check made for that defect is among
    the failed ones, and no secret appears in the report."""
    token = VARIANT_TOKEN if use_token else None
    with broken.serve(broken.build(variant, token=token)) as url:
        credentials = {"token": token} if token else {"ak": broken.AK, "sk": broken.SK}
        env = target_env(
            url, project_id=broken.PROJECT_ID, instance_id=broken.INSTANCE_ID, topic=broken.TOPIC, **credentials
        )
        run = run_suite(env, tmp_path, extra_env=knobs)
    assert run.returncode == 1, run.output[-3000:]
    assert expected_check in run.failed_checks, (sorted(run.failed_checks), run.output[-3000:])
    assert broken.SK not in run.output
    assert VARIANT_TOKEN not in run.output


def test_pass_through_middleware_passes(tmp_path: pathlib.Path) -> None:
    """The middleware machinery alone changes nothing: the emulator behind a pass-through rewrite passes the
    suite, so the failures above come from the planted defects, not from the harness."""

    def pass_through(app: broken.ASGIApp) -> broken.ASGIApp:
        return broken.rewrite_responses(app, lambda status, headers, body: (status, headers, body))

    with broken.serve(broken.build(pass_through)) as url:
        env = target_env(
            url,
            project_id=broken.PROJECT_ID,
            instance_id=broken.INSTANCE_ID,
            topic=broken.TOPIC,
            ak=broken.AK,
            sk=broken.SK,
        )
        run = run_suite(env, tmp_path, extra_env=FAST)
    assert run.returncode == 0, run.output[-3000:]
    assert run.failed_checks == frozenset()


def test_suite_reports_a_server_that_ignores_authentication(tmp_path: pathlib.Path) -> None:
    """An emulator with authentication off, to which the suite still sends signed requests, is reported by
    ignored_auth: its probes without credentials and with invalid ones are accepted. (This also shows that the
    signer is registered through schemathesis's auth mechanism: the probes could remove it.)"""
    with broken.serve(broken.build(broken.unchanged, auth=False)) as url:
        env = target_env(
            url,
            project_id=broken.PROJECT_ID,
            instance_id=broken.INSTANCE_ID,
            topic=broken.TOPIC,
            ak=broken.AK,
            sk=broken.SK,
        )
        run = run_suite(env, tmp_path, extra_env=FAST)
    assert run.returncode == 1, run.output[-3000:]
    assert "ignored_auth" in run.failed_checks, (sorted(run.failed_checks), run.output[-3000:])
    assert broken.SK not in run.output
