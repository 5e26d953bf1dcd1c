"""The API's routes, built from the spec's operations (`dms_rocketmq_api.spec_rules.OPERATIONS`).

No path is written here: each operation's path template becomes a regular expression, and a request is
matched against them as the real service's layers do: a URL that names no API (no template matches, or a
path parameter is outside its `enum`, such as an unknown engine) gets 404 DMS.00404001; a URL that exists
with another method gets 405 with `Allow`. Path parameters with a `pattern` (project and instance ids) are
left to the models, which refuse them with the service's own 400s.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from dms_rocketmq_api.spec_rules import OPERATIONS

from . import _exceptions as errors

__all__ = ["Route", "Routes"]

_PLACEHOLDER = re.compile(r"\{([^}]+)\}")


@dataclasses.dataclass(frozen=True, slots=True)
class Route:
    """A matched request: the operation it calls and its path parameters, as sent (percent-decoded)."""

    operation_id: str
    parameters: dict[str, str]


@dataclasses.dataclass(frozen=True, slots=True)
class _PathTemplate:
    regex: re.Pattern[str]
    #: Method to operationId.
    methods: dict[str, str]
    #: Path parameter name to the values its `enum` allows (only parameters that have one).
    enums: dict[str, frozenset[str]]
    allow: str


def _regex(template: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(template)
    # split() alternates literal text and parameter names: even indexes are literal.
    pattern = "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)" for index, part in enumerate(parts))
    return re.compile(pattern)


class Routes:
    """The routes of every operation of `operations` (the spec's, by default).

    `Allow` lists every method the spec documents for a path, implemented by the emulator or not: a route the
    emulator does not serve yet is its handler's to refuse (501), not a method the URL lacks.
    """

    def __init__(self, operations: Mapping[str, Mapping[str, Any]] = OPERATIONS) -> None:
        by_path: dict[str, dict[str, str]] = {}
        enums: dict[str, dict[str, frozenset[str]]] = {}
        for operation_id, operation in operations.items():
            path = operation["path"]
            by_path.setdefault(path, {})[operation["method"]] = operation_id
            enums[path] = {
                name: frozenset(parameter["schema"]["enum"])
                for name, parameter in operation["parameters"].items()
                if parameter["in"] == "path" and "enum" in parameter["schema"]
            }
        self._templates = tuple(
            _PathTemplate(_regex(path), methods, enums[path], ", ".join(sorted(methods)))
            for path, methods in sorted(by_path.items())
        )
        #: The literal start of every path (up to its first parameter): a request that starts with none is no API call.
        self.prefixes: tuple[str, ...] = tuple(sorted({_PLACEHOLDER.split(path)[0] for path in by_path}))

    def serves(self, path: str) -> bool:
        """Whether `path` may be an API call (it starts as one of the operations' paths does)."""
        return path.startswith(self.prefixes)

    def match(self, method: str, path: str) -> Route:
        """The route of a request; 404 DMS.00404001 for a URL that names no API, 405 for a wrong method."""
        for template in self._templates:
            found = template.regex.fullmatch(path)
            if found is None:
                continue
            parameters = found.groupdict()
            for name, allowed in template.enums.items():
                if parameters[name] not in allowed:
                    raise errors.url_not_found()
            operation_id = template.methods.get(method)
            if operation_id is None:
                raise errors.method_not_allowed(template.allow)
            return Route(operation_id, parameters)
        raise errors.url_not_found()
