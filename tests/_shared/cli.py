"""Running the installed `dms-rocketmq` command against an emulator, as users run it."""

from __future__ import annotations

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
    env: dict[str, str] = emulator.client_env(**extra)
    return env
