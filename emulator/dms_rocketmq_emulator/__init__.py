"""A local server that behaves like the Send-a-message API of DMS for RocketMQ.

Run it with `dms-rocketmq-emulator`, or embed it: `create_app(Settings(...))` is an ASGI application.
"""

from ._app import EmulatorApp, create_app
from ._config import Credential, InstanceSettings, Settings, TopicSettings
from .models import decode_msg_id

__version__ = "0.1.0"

__all__ = [
    "Credential",
    "EmulatorApp",
    "InstanceSettings",
    "Settings",
    "TopicSettings",
    "__version__",
    "create_app",
    "decode_msg_id",
]
