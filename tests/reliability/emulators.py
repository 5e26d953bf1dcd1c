"""What the reliability tests share: the emulator process launcher and the credentials the emulators accept.

The launcher is `scripts/crash_test.py`'s `EmulatorProcess`, shared with the crash test and the soak so that
all of them start the emulator the way a user does (the console script, a free port, the banner line).
"""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Callable

SCRIPTS = pathlib.Path(__file__).resolve().parents[2] / "scripts"
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

from crash_test import INSTANCE_ID, PROJECT_ID, EmulatorProcess, stored_messages  # noqa: E402 - needs the path

__all__ = ["AK", "INSTANCE_ID", "PROJECT_ID", "SK", "TOKEN", "EmulatorFactory", "EmulatorProcess", "stored_messages"]

#: Credentials the auth-on emulators accept: distinctive strings, so that a leak is easy to find in any output.
AK = "RELIABILITYAK0000001"
SK = "sk-SECRET-5f1c9a7e2b4d4e0f8a6c3b1d9e7f5a2c"
TOKEN = "tok-SECRET-0b9d8c7a6f5e4d3c2b1a09f8e7d6c5b4"

#: The `start_emulator` fixture: `start_emulator(*flags, auth=True, durable=False, log_level=None)`.
EmulatorFactory = Callable[..., EmulatorProcess]
