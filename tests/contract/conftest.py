"""Fixtures of the contract tier: the target server and openapi.yaml loaded for it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from _contract_suite import build_schema, reproduce_hint
from _contract_target import EMULATOR_TLS, Target, network_from_env, target_from_env
from _recorder import RECORDER
from dms_rocketmq_emulator.pytest_plugin import start_emulator
from schemathesis.specs.openapi.schemas import OpenApiSchema


def pytest_report_header(config: pytest.Config) -> str:
    """The seed and size of the contract run, in the header of a run that starts in this directory."""
    return reproduce_hint()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything in this directory runs schemathesis (or the suite) against a server."""
    for item in items:
        if "tests/contract/" in item.nodeid:
            item.add_marker(pytest.mark.contract)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The run's transcript is written when the run ends, whatever its outcome."""
    RECORDER.write()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The transcript's path, at the end of the run's report."""
    if RECORDER.written is not None:
        count = len(RECORDER.entries)
        terminalreporter.write_line(f"contract transcript: {RECORDER.written} ({count} exchanges, HAR 1.2)")


CONTRACT_TOPIC = "orders"


@pytest.fixture(scope="session")
def contract_target() -> Iterator[Target]:
    """The real instance the environment configures, or else an emulator of the suite's own.

    The emulator is the plugin's (`start_emulator`, what `dms_emulator_factory` calls), started for this tier
    alone: in memory, auth on (an AK/SK pair and a token), topic `orders`. Not the shared `dms_emulator`:
    the suite stores dozens of messages (hundreds in a deep run), which must not show up in other tests' topics.
    """
    configured = target_from_env()
    if configured is not None:
        yield configured
        return
    tls = os.environ.get(EMULATOR_TLS, "").strip() == "1"
    emulator = start_emulator(memory=True, auth=True, topics=(CONTRACT_TOPIC,), tls=tls)
    network = network_from_env()
    if emulator.ca_file is not None and network["verify"] is True:
        network["verify"] = str(emulator.ca_file)
    try:
        yield Target(
            url=emulator.url,
            project_id=emulator.project_id,
            instance_id=emulator.instance_id,
            topic=CONTRACT_TOPIC,
            kind="emulator",
            ak=emulator.ak,
            sk=emulator.sk,
            token=emulator.token,
            **network,
        )
    finally:
        emulator.close()


@pytest.fixture(scope="session")
def contract_schema(contract_target: Target) -> OpenApiSchema:
    """openapi.yaml, configured for a run against the target (see _contract_suite.py)."""
    return build_schema(contract_target)
