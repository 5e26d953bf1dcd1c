"""Crash safety of the durable emulator: SIGKILL it mid-load, restart it, check nothing acknowledged is lost.

The logic lives in `dms_rocketmq_emulator._crash_test` (the test suite imports its checker); this is its
command line. Short form (run by the test suite): `python scripts/crash_test.py --cycles 3 --seconds 2`.
Long form (`make soak`): `python scripts/crash_test.py --cycles 10 --seconds 5`.
"""

from __future__ import annotations

import sys

from dms_rocketmq_emulator._crash_test import main

if __name__ == "__main__":
    sys.exit(main())
