"""The contract suite over HTTPS: against an emulator serving TLS with its own CA, trusted through
DMS_CONTRACT_CA_BUNDLE, as a user behind a company CA would point it at a real instance."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

import _contract_suite as suite
import _contract_target as target
from _suite_runner import run_suite, target_env

TOPIC = "contract-https"


def test_suite_passes_over_https_with_the_ca_bundle(
    dms_emulator_factory: Callable[..., Any], tmp_path: pathlib.Path
) -> None:
    """A small run of the whole suite (every phase) passes over HTTPS and stores its positive sends there."""
    server = dms_emulator_factory(memory=True, auth=True, topics=(TOPIC,), tls=True)
    assert server.url.startswith("https://")
    env = target_env(
        server.url,
        project_id=server.project_id,
        instance_id=server.instance_id,
        topic=TOPIC,
        ak=server.ak,
        sk=server.sk,
    )
    env[target.CA_BUNDLE] = str(server.ca_file)
    run = run_suite(env, tmp_path, extra_env={suite.MAX_EXAMPLES: "3"})
    assert run.returncode == 0, run.output[-4000:]
    assert run.failed_checks == frozenset()
    assert len(server.messages(TOPIC)) > 0
    assert server.sk not in run.output
