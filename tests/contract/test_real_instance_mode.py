"""The real-instance mode: the suite runs against whatever DMS_CONTRACT_* and the credentials name, and nothing else.

A second emulator stands in for the real service: other project id, other instance id, other topic than the
default emulator's, so a run can only pass (and store messages there) if it took every value from the
environment.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

import _contract_target as target
import pytest
from _suite_runner import run_suite, target_env

STAND_IN_PROJECT_ID = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"
STAND_IN_INSTANCE_ID = "7a1f3c9e-2b4d-4e6f-8a0c-1d3e5f7a9b2c"
STAND_IN_TOPIC = "contract-real-stand-in"


@pytest.mark.parametrize("credentials", ["aksk", "token"])
def test_suite_runs_against_the_instance_the_environment_names(
    dms_emulator_factory: Callable[..., Any], tmp_path: pathlib.Path, credentials: str
) -> None:
    """Configured only through DMS_CONTRACT_* and HUAWEICLOUD_SDK_AK/SK (or DMS_CONTRACT_TOKEN), the suite
    passes against the stand-in, and its positive cases published messages to the configured topic."""
    stand_in = dms_emulator_factory(
        memory=True,
        auth=True,
        project_id=STAND_IN_PROJECT_ID,
        instance_ids=(STAND_IN_INSTANCE_ID,),
        topics=(STAND_IN_TOPIC,),
    )
    secrets = {"ak": stand_in.ak, "sk": stand_in.sk} if credentials == "aksk" else {"token": stand_in.token}
    env = target_env(
        stand_in.url,
        project_id=STAND_IN_PROJECT_ID,
        instance_id=STAND_IN_INSTANCE_ID,
        topic=STAND_IN_TOPIC,
        **secrets,
    )
    run = run_suite(env, tmp_path)
    assert run.returncode == 0, run.output[-4000:]
    assert run.failed_checks == frozenset()
    published = stand_in.messages(STAND_IN_TOPIC)
    assert len(published) > 0
    assert stand_in.sk not in run.output
    assert stand_in.token not in run.output


def test_half_configured_environment_is_an_error() -> None:
    """An endpoint without the rest of the configuration names what is missing instead of silently testing
    the emulator."""
    with pytest.raises(target.TargetConfigurationError) as excinfo:
        target.target_from_env({target.ENDPOINT: "https://dms.example.invalid", target.TOPIC: "orders"})
    message = str(excinfo.value)
    assert target.PROJECT_ID in message
    assert target.INSTANCE_ID in message
    assert target.AK in message
    assert target.TOPIC not in message.split("missing:")[1]


def test_unset_endpoint_means_the_emulator() -> None:
    """Without DMS_CONTRACT_ENDPOINT the other variables are ignored and the default target is used."""
    assert target.target_from_env({target.TOPIC: "orders", target.AK: "AK", target.SK: "SK"}) is None


def test_target_repr_hides_secrets() -> None:
    """A configured target's repr, which pytest may print, holds neither the SK nor the token."""
    configured = target.target_from_env(
        {
            target.ENDPOINT: "https://dms.example.invalid/",
            target.PROJECT_ID: "p",
            target.INSTANCE_ID: "i",
            target.TOPIC: "orders",
            target.AK: "AKVALUE",
            target.SK: "SK-SECRET-VALUE",
            target.TOKEN: "TOKEN-SECRET-VALUE",
        }
    )
    assert configured is not None
    assert configured.url == "https://dms.example.invalid"
    assert "SK-SECRET-VALUE" not in repr(configured)
    assert "TOKEN-SECRET-VALUE" not in repr(configured)
