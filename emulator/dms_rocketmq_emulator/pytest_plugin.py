"""pytest plugin: fixtures that run the emulator as a real server on a free loopback port.

Installed with the package and loaded automatically (entry point `pytest11`). Two fixtures:

- `dms_emulator` (session): one emulator for the whole test session, durable store in a temporary
  folder, authentication on (an AK/SK pair and a token), topics `orders` and `payments`.
- `dms_emulator_factory` (function): `dms_emulator_factory(memory=True, auth=True, topics=(...), ...)`
  starts another emulator with other options and stops it when the test ends; `tls=True` serves https://
  with a local CA (`ca_file`, and `SSL_CERT_FILE` in `client_env()`).

Both give an `EmulatorProcess` (the project's one emulator launcher, from `_process`): `url`, `project_id`,
`instance_id`, `ak`, `sk`, `token`, `topics`, `data_dir`, `ca_file`, `pid`, `output`, and `messages(topic=None)`,
`query_messages(topic, ...)`, `get_message(topic, msg_id)`, `reset()`, `inject_faults(...)`, `stop()`, `kill()`,
`restart()`. Messages are read back through the public query API (ListMessages), as a test against a real
instance would; only what the real service has no API for (every topic at once, reset, faults) goes through
the emulator's control API. The emulator runs in a subprocess, exactly
as `dms-rocketmq-emulator` runs for users.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ._extras import missing_extra
from ._process import EmulatorProcess, start_emulator

__all__ = ["EmulatorProcess", "dms_emulator", "dms_emulator_factory", "start_emulator"]


def _require_extra() -> None:
    # A short failure naming the install command, rather than the subprocess's ImportError traceback.
    missing = missing_extra()
    if missing is not None:
        pytest.fail(missing, pytrace=False)


@pytest.fixture(scope="session")
def dms_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """One emulator for the session: durable store, auth on (AK/SK and token), topics orders and payments."""
    _require_extra()
    process = start_emulator(memory=False, data_dir=tmp_path_factory.mktemp("dms-emulator-data"), auth=True)
    try:
        yield process
    finally:
        process.close()


@pytest.fixture
def dms_emulator_factory() -> Iterator[Callable[..., EmulatorProcess]]:
    """Start more emulators with `start_emulator`'s options; each is stopped when the test ends."""
    _require_extra()
    started: list[EmulatorProcess] = []

    def factory(**options: Any) -> EmulatorProcess:
        process = start_emulator(**options)
        started.append(process)
        return process

    try:
        yield factory
    finally:
        for process in started:
            process.close()
