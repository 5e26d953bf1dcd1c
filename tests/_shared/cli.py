"""Running the installed `dms-rocketmq` command against an emulator, as users run it."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any


def command() -> list[str]:
    """The installed console script (next to this interpreter), else `python -m dms_rocketmq`."""
    script = Path(sys.executable).with_name("dms-rocketmq")
    if script.exists():
        return [str(script)]
    found = shutil.which("dms-rocketmq")
    return [found] if found else [sys.executable, "-m", "dms_rocketmq"]


def environment(emulator: Any, **extra: str) -> dict[str, str]:
    """This process's environment without DMS settings, plus the emulator's endpoint, IDs and AK/SK."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD_SDK_", "DMS_ROCKETMQ_"))}
    env.update(
        DMS_ROCKETMQ_ENDPOINT=emulator.url,
        HUAWEICLOUD_SDK_PROJECT_ID=emulator.project_id,
        DMS_ROCKETMQ_INSTANCE_ID=emulator.instance_id,
        HUAWEICLOUD_SDK_AK=emulator.ak,
        HUAWEICLOUD_SDK_SK=emulator.sk,
    )
    env.update(extra)
    return env
