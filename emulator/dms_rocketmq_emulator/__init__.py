"""A local server that behaves like the Send-a-message and Querying-messages APIs of DMS for RocketMQ.

Run it with `dms-rocketmq-emulator`, or embed it: `create_app(Settings(...))` is an ASGI application.
`start_emulator(...)` runs it as a child process on a free loopback port and returns its `EmulatorProcess`.

The names below are imported lazily: the pytest plugin (`pytest_plugin`, loaded by every pytest run
where this package is installed) must import without the `emulator` extra (Starlette, uvicorn...).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from ._app import EmulatorApp, create_app
    from ._config import Credential, InstanceSettings, Settings, TopicSettings
    from ._process import EmulatorProcess, start_emulator
    from .models import decode_msg_id

__all__ = [
    "Credential",
    "EmulatorApp",
    "EmulatorProcess",
    "InstanceSettings",
    "Settings",
    "TopicSettings",
    "__version__",
    "create_app",
    "decode_msg_id",
    "start_emulator",
]

_HOMES = {
    "EmulatorApp": "._app",
    "create_app": "._app",
    "Credential": "._config",
    "InstanceSettings": "._config",
    "Settings": "._config",
    "TopicSettings": "._config",
    "decode_msg_id": ".models",
    "EmulatorProcess": "._process",
    "start_emulator": "._process",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value
