"""Fixtures of the reliability tier: emulators as child processes whose pid, output and memory we can see."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest
from dms_rocketmq_emulator import start_emulator as start_emulator_process
from emulators import AK, SK, TOKEN, EmulatorFactory, EmulatorProcess


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything in this directory starts a real server on a loopback port."""
    here = pathlib.Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="module")
def start_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorFactory]:
    """Start emulators for one module (`start_emulator(*flags, auth=True, durable=False)`); stop them after."""
    started: list[EmulatorProcess] = []

    def start(*flags: str, auth: bool = True, durable: bool = False, log_level: str | None = None) -> EmulatorProcess:
        emulator = start_emulator_process(
            memory=not durable,
            data_dir=tmp_path_factory.mktemp("data") if durable else None,
            auth=auth,
            topics=("orders:4",),
            ak=AK,
            sk=SK,
            token=TOKEN,
            extra_args=[*flags, *(["--log-level", log_level] if log_level else [])],
        )
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.close()


@pytest.fixture(scope="module")
def open_emulator(start_emulator: EmulatorFactory) -> EmulatorProcess:
    """A memory-store emulator with authentication off, so that bad bodies reach the body parser."""
    return start_emulator(auth=False)


@pytest.fixture(scope="module")
def auth_emulator(start_emulator: EmulatorFactory) -> EmulatorProcess:
    """A memory-store emulator that requires an AK/SK signature or the IAM token."""
    return start_emulator(auth=True)
