"""Ctrl-C and SIGTERM while a file is sent: the first stops taking new lines and lets the sends in flight
finish, a second one abandons them (in doubt)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Iterator

from dms_rocketmq._bulk_policy import SendControl

__all__ = ["stopping_on_signals"]


@contextlib.contextmanager
def stopping_on_signals(loop: asyncio.AbstractEventLoop, control: SendControl) -> Iterator[None]:
    """Within the block, Ctrl-C and SIGTERM stop `control` (then abandon it); the handlers are removed after."""
    signals = 0

    def on_signal(name: str) -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            control.stop(f"interrupted by {name}")
            print(
                f"\ndms-rocketmq: {name}: no new lines are sent; waiting for the sends in flight "
                f"({name} again to abandon them)",
                file=sys.stderr,
            )
        else:
            control.abandon(f"interrupted by {name} twice")

    installed = []
    for signum, name in ((signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")):
        try:
            loop.add_signal_handler(signum, on_signal, name)
        except (NotImplementedError, RuntimeError):  # no signal handlers in this loop (Windows): Ctrl-C aborts
            continue
        installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
