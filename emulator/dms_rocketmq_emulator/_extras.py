"""What the emulator needs beyond the client: the `emulator` extra, and the message when it is missing.

Imports nothing but the standard library, so that the console script and the pytest plugin can say what to
install instead of failing with a traceback on `import starlette`.
"""

from __future__ import annotations

import importlib

__all__ = ["EXTRA_MODULES", "INSTALL_COMMAND", "missing_extra"]

#: The modules of the `emulator` extra the emulator cannot start without (pyproject.toml lists the extra).
EXTRA_MODULES = ("starlette", "uvicorn", "jsonschema_rs", "yaml")
INSTALL_COMMAND = "pip install 'dms-rocketmq[emulator]'"


def missing_extra() -> str | None:
    """None when the `emulator` extra is importable; otherwise what is missing and how to install it."""
    missing = []
    for name in EXTRA_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if not missing:
        return None
    return (
        f"dms-rocketmq-emulator needs the 'emulator' extra ({', '.join(missing)} not installed): "
        f"run {INSTALL_COMMAND} (from a checkout: pip install '.[emulator]')"
    )
