"""The user's test of docs/wrapper.md ("One test, the emulator or a real instance") runs as printed, configured
only by the environment, against an emulator standing in for a real instance."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "wrapper.md"
STAND_IN_PROJECT_ID = "6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d"
STAND_IN_INSTANCE_ID = "3c1f3c9e-2b4d-4e6f-8a0c-1d3e5f7a9b2d"
STAND_IN_TOPIC = "docs-orders"


def _users_test() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    [block] = [block for block in blocks if block.startswith("# test_orders.py")]
    return block


def test_the_documented_users_test_runs_unchanged(
    dms_emulator_factory: Callable[..., Any], tmp_path: pathlib.Path
) -> None:
    """The documented test passes against an instance named only by DMS_ROCKETMQ_* and HUAWEICLOUD_SDK_*
    variables (other ids and topic than the defaults), and its messages are in that topic."""
    stand_in = dms_emulator_factory(
        memory=True,
        auth=True,
        project_id=STAND_IN_PROJECT_ID,
        instance_ids=(STAND_IN_INSTANCE_ID,),
        topics=(STAND_IN_TOPIC,),
    )
    (tmp_path / "test_orders.py").write_text(_users_test(), encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DMS_", "HUAWEICLOUD_SDK_"))}
    env.update(
        DMS_ROCKETMQ_ENDPOINT=stand_in.url,
        HUAWEICLOUD_SDK_PROJECT_ID=STAND_IN_PROJECT_ID,
        DMS_ROCKETMQ_INSTANCE_ID=STAND_IN_INSTANCE_ID,
        HUAWEICLOUD_SDK_AK=stand_in.ak,
        HUAWEICLOUD_SDK_SK=stand_in.sk,
        ORDERS_TOPIC=STAND_IN_TOPIC,
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_orders.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
    assert len(stand_in.messages(STAND_IN_TOPIC)) == 3
