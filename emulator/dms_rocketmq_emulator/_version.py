"""The distribution's version, read once from the installed metadata (pyproject.toml owns it).

A module of its own so that the modules that show it (`--version`, the console, HAR files) need not import the
package's `__init__`, which names them in turn.
"""

from __future__ import annotations

import importlib.metadata

__all__ = ["__version__"]

#: The distribution's version (pyproject.toml's, read from the installed metadata).
__version__ = importlib.metadata.version("dms-rocketmq")
