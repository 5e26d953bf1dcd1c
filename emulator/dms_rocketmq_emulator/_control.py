"""The control API beside the real one (not in openapi.yaml): health, inspect, reset, inject faults.

No authentication: it is the emulator's side door for tests on the same machine.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import _exceptions as errors
from ._exceptions import FAULT_STATUSES, DMSError
from ._query import message_view
from ._responses import RequestIds, loads_json
from ._store import Store
from .models import Fault, FaultPlan, Registry

__all__ = ["ControlAPI", "json_response"]

DEFAULT_PAGE = 1000
MAX_PAGE = 100_000
MAX_FAULT_COUNT = 1_000_000
MAX_DELAY_MS = 600_000
MAX_CONTROL_BODY = 64 * 1024


def json_response(content: Any, request_id: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with its X-Request-Id."""
    return Response(
        json.dumps(content, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers={"X-Request-Id": request_id, **(headers or {})},
    )


def error_json(error: DMSError, request_id: str) -> Response:
    """The Huawei error body for `error`."""
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}
    if error.status == 413:
        headers["Connection"] = "close"
    return json_response(error.body(request_id), request_id, error.status, headers)


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.invalid_parameter(name) from None
    if not low <= value <= high:
        raise errors.invalid_parameter(name)
    return value


async def _small_body(request: Request) -> bytes:
    """The body of a control request; a control request has no reason to be large (413 past 64 KiB)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_CONTROL_BODY:
            raise errors.request_too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _field(document: dict[str, Any], name: str, default: Any, check: Any) -> Any:
    value = document.get(name, default)
    if not check(value):
        raise errors.invalid_parameter(name)
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class ControlAPI:
    """Routes under `/_emulator/`."""

    def __init__(
        self,
        *,
        registry: Registry,
        store: Store,
        faults: FaultPlan,
        request_ids: RequestIds,
        auth_enabled: bool,
    ) -> None:
        self.registry = registry
        self.store = store
        self.faults = faults
        self.request_ids = request_ids
        self.auth_enabled = auth_enabled

    def routes(self) -> list[Route]:
        """The Starlette routes of the control API."""
        return [
            Route("/_emulator/health", self.health, methods=["GET"]),
            Route("/_emulator/info", self.info, methods=["GET"]),
            Route("/_emulator/messages", self.messages, methods=["GET"]),
            Route("/_emulator/reset", self.reset, methods=["POST"]),
            Route("/_emulator/faults", self.faults_endpoint, methods=["GET", "POST"]),
        ]

    async def health(self, request: Request) -> Response:
        """`{"status": "ok"}` once the emulator serves; 503 `{"status": "broken", "reason": ...}` once its store
        can keep nothing (every send then answers 500)."""
        if self.store.broken is not None:
            return json_response({"status": "broken", "reason": self.store.broken}, self.request_ids.next(), 503)
        return json_response({"status": "ok"}, self.request_ids.next())

    async def info(self, request: Request) -> Response:
        """The project, instances and topics, and whether authentication is on."""
        return json_response(
            {
                "project_id": self.registry.project_id,
                "auth": self.auth_enabled,
                "auto_create_topics": self.registry.auto_create_topics,
                "store": self.store.description,
                "store_stats": dict(getattr(self.store, "stats", {})),
                "instances": [
                    {
                        "instance_id": instance.instance_id,
                        "broker_name": instance.broker_name,
                        "topics": [{"name": t.name, "queues": t.queues} for t in instance.topics.values()],
                    }
                    for instance in self.registry.instances.values()
                ],
            },
            self.request_ids.next(),
        )

    async def messages(self, request: Request) -> Response:
        """One page of stored messages of every topic, in store order, with the total that match."""
        request_id = self.request_ids.next()
        try:
            limit = _int_param(request, "limit", DEFAULT_PAGE, 0, MAX_PAGE)
            offset = _int_param(request, "offset", 0, 0, 2**62)
        except DMSError as exc:
            return error_json(exc, request_id)
        instance_id = request.query_params.get("instance_id") or None
        topic = request.query_params.get("topic") or None
        total, page = await self.store.messages(instance_id, topic, limit, offset)
        # The public query's fields (`property_list`, `store_timestamp`...), then the control API's own.
        messages = [{**message_view(m), **m.as_json()} for m in page]
        return json_response({"total": total, "messages": messages}, request_id)

    async def reset(self, request: Request) -> Response:
        """Forget every message, offset and round-robin position, and disarm faults (topics stay)."""
        # Faults too: a test that stopped half-way must not leave the next test's sends failing.
        self.faults.arm(0, self.faults.fault)
        await self.store.reset()
        return json_response({"status": "ok"}, self.request_ids.next())

    async def faults_endpoint(self, request: Request) -> Response:
        """GET: the faults still armed. POST: make the next `count` sends fail as described."""
        request_id = self.request_ids.next()
        if request.method == "GET":
            return json_response(self.faults.as_json(), request_id)
        try:
            fault, count = self._parse_fault(await _small_body(request))
        except DMSError as exc:
            return error_json(exc, request_id)
        self.faults.arm(count, fault)
        return json_response(self.faults.as_json(), request_id)

    @staticmethod
    def _parse_fault(raw: bytes) -> tuple[Fault, int]:
        if not raw.strip():
            raise errors.empty_body()
        try:
            document = loads_json(raw)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the json module follows
            raise errors.malformed_json() from None
        if not isinstance(document, dict):
            raise errors.invalid_parameter(None)
        count = _field(document, "count", 1, lambda v: _is_int(v) and 0 <= v <= MAX_FAULT_COUNT)
        status = _field(document, "status", 503, lambda v: _is_int(v) and (v == 200 or v in FAULT_STATUSES))
        retry_after = _field(document, "retry_after", None, lambda v: v is None or (_is_int(v) and v >= 0))
        delay_ms = _field(document, "delay_ms", 0, lambda v: _is_int(v) and 0 <= v <= MAX_DELAY_MS)
        drop = _field(document, "drop_connection", False, lambda v: isinstance(v, bool))
        return Fault(status, retry_after, delay_ms, drop), count
