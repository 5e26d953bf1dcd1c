"""What the reliability tests share: the credentials the emulators accept, and the project's emulator launcher.

The launcher is the package's `EmulatorProcess` (the one the pytest plugin, the demo, the bench, the crash test
and the soak use), so that all of them start the emulator the way a user does.
"""

from __future__ import annotations

from collections.abc import Callable

from dms_rocketmq_emulator import EmulatorProcess
from dms_rocketmq_emulator._config import DEFAULT_INSTANCE_ID as INSTANCE_ID
from dms_rocketmq_emulator._config import DEFAULT_PROJECT_ID as PROJECT_ID

__all__ = ["AK", "INSTANCE_ID", "PROJECT_ID", "SK", "TOKEN", "EmulatorFactory", "EmulatorProcess"]

#: Credentials the auth-on emulators accept: distinctive strings, so that a leak is easy to find in any output.
AK = "RELIABILITYAK0000001"
SK = "sk-SECRET-5f1c9a7e2b4d4e0f8a6c3b1d9e7f5a2c"
TOKEN = "tok-SECRET-0b9d8c7a6f5e4d3c2b1a09f8e7d6c5b4"

#: The `start_emulator` fixture: `start_emulator(*flags, auth=True, durable=False, log_level=None)`.
EmulatorFactory = Callable[..., EmulatorProcess]
