"""The HTTP side of the spec's `ListMessages` operation (its method and path come from `_routes.py`).

The messages handler (`_responses.py`) matches the route and hands ListMessages here, so both operations share
one router, one error path and one X-Request-Id sequence. Checks run in the order of the service's layers: the
gateway's size limit, authentication, the instance, the query parameters (rules from the spec, `_query.py`),
the topic.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

from . import _exceptions as errors
from ._auth import Authenticator, decode_query
from ._query import QueryRules, list_response, query_rules
from ._responses import ASGIReceive, _content_length, _header_map, _read_body, _Reply
from ._store import Store
from .models import Registry, StoredMessage

__all__ = ["ListMessagesHandler"]

Scope = MutableMapping[str, Any]
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class ListMessagesHandler:
    """Answers one ListMessages request whose URL the messages handler has already checked."""

    def __init__(
        self,
        *,
        registry: Registry,
        store: Store,
        auth: Authenticator,
        rules: QueryRules | None = None,
    ) -> None:
        self.registry = registry
        self.store = store
        self.auth = auth
        self.rules = rules or query_rules()

    async def handle(self, scope: Scope, receive: ASGIReceive, project_id: str, instance_id: str) -> _Reply:
        """The 200 with one page of matches; raises the service's error (DMSError) for a bad request."""
        # A GET has no body, but one may be sent: it is read (under the gateway's limit) and signed, not used.
        body = await _read_body(receive, _content_length(scope))
        # One reading of the query, both verified and run.
        query_string = decode_query(scope.get("query_string", b""))
        if self.auth.enabled:
            raw_path = scope.get("raw_path")
            path = raw_path.decode("latin-1") if raw_path else scope["path"]
            self.auth.check("GET", path, query_string, _header_map(scope), body)
        answer = await self.answer(project_id, instance_id, query_string)
        return _Reply(200, _dumps(answer).encode("utf-8"))

    async def answer(self, project_id: str, instance_id: str, query_string: str) -> dict[str, Any]:
        """The 200 body for `query_string`, once the request is authenticated (the console asks here too)."""
        return list_response(*await self.search(project_id, instance_id, query_string))

    async def search(self, project_id: str, instance_id: str, query_string: str) -> tuple[int, list[StoredMessage]]:
        """(number of matches, the page asked for) of `query_string`; the service's error for a bad one."""
        instance = self.registry.instance(project_id, instance_id)
        query = self.rules.parse(instance.instance_id, query_string)
        if query.topic not in instance.topics:
            # A query never creates a topic, even with --auto-create-topics.
            raise errors.topic_not_found()
        return await self.store.query(query)
