"""The ASGI application: the messages API (send and query), the control API, and Huawei-shaped 404/405/500s."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from . import _exceptions as errors
from ._auth import Authenticator
from ._config import Settings
from ._console import Console
from ._control import ControlAPI, error_json
from ._http import shutting_down
from ._query_responses import ListMessagesHandler
from ._responses import ASGIReceive, ASGISend, OperationRouter, RequestIds, error_response, send_reply
from ._schema import RequestSchema, request_schema
from ._store import Store, make_store
from .models import FaultPlan, Registry

__all__ = ["EmulatorApp", "create_app"]

logger = logging.getLogger("dms_rocketmq_emulator")


class EmulatorApp:
    """The emulator as one ASGI application.

    Requests whose path starts as the spec's operations' paths do go straight to the messages handler (the send
    hot path, which matches them against the spec's routes itself and hands ListMessages to the query handler);
    everything else, and the lifespan, goes through a Starlette app with the control API.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        schema: RequestSchema | None = None,
        on_ready: Callable[[EmulatorApp], None] | None = None,
    ) -> None:
        self.settings = settings
        self.schema = schema or request_schema()
        settings.validate(self.schema.is_topic_name)
        self.registry = Registry(settings)
        self.store = store or make_store(settings.data_dir, ip=_store_ip(settings.host))
        self.faults = FaultPlan()
        self.request_ids = RequestIds()
        self.auth = Authenticator(settings.credentials, settings.tokens)
        self.send_message = OperationRouter(
            registry=self.registry,
            store=self.store,
            schema=self.schema,
            auth=self.auth,
            faults=self.faults,
            request_ids=self.request_ids,
            list_messages=ListMessagesHandler(registry=self.registry, store=self.store, auth=self.auth),
        )
        self.control = ControlAPI(
            registry=self.registry,
            store=self.store,
            faults=self.faults,
            request_ids=self.request_ids,
            auth_enabled=self.auth.enabled,
        )
        self.console = Console(
            settings=settings,
            registry=self.registry,
            store=self.store,
            control=self.control,
            list_messages=ListMessagesHandler(registry=self.registry, store=self.store, auth=self.auth),
            request_ids=self.request_ids,
        )
        self._on_ready = on_ready
        self.starlette = Starlette(
            routes=[*self.control.routes(), *self.console.routes()],
            exception_handlers={HTTPException: self._http_error, Exception: self._crash},
            lifespan=self._lifespan,
        )

    async def __call__(self, scope: Any, receive: ASGIReceive, send: ASGISend) -> None:
        try:
            if scope["type"] == "http" and self.send_message.routes.serves(scope["path"]):
                await self.send_message(scope, receive, send)
                return
            await self.starlette(scope, receive, send)
        except asyncio.CancelledError:
            if scope["type"] != "http":
                raise
            # uvicorn cancels the requests still running when a stop outlasts --shutdown-timeout, then answers a
            # plain-text 500 itself: the request gets the gateway's 503 instead, and its task ends here.
            with contextlib.suppress(Exception):  # the response may have started: then the connection just closes
                request_id = self.request_ids.next()
                await send_reply(send, error_response(shutting_down(), request_id), request_id)

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        await self.store.start()
        for instance_id, name, queues in self.store.restored_topics():
            self.registry.add_restored_topic(instance_id, name, queues)
        if self._on_ready is not None:
            self._on_ready(self)
        try:
            yield
        finally:
            await self.store.close()

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        error: errors.DMSError
        if status == 405:
            error = errors.method_not_allowed()
        elif status == 404:
            error = errors.url_not_found()
        else:
            error = errors.DMSError(status, f"DMS.00{status}000", str(getattr(exc, "detail", "")))
        response = error_json(error, self.request_ids.next())
        allow = (getattr(exc, "headers", None) or {}).get("Allow")
        if allow:
            response.headers["Allow"] = allow
        return response

    async def _crash(self, request: Request, exc: Exception) -> Response:
        logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_json(errors.internal_error(), self.request_ids.next())


def _store_ip(host: str) -> str:
    # The message id's IP field: the address the emulator serves on, 127.0.0.1 when that is not one IPv4.
    parts = host.split(".")
    if len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts) and host != "0.0.0.0":  # noqa: S104
        return host
    return "127.0.0.1"


def create_app(settings: Settings | None = None, **kwargs: Any) -> EmulatorApp:
    """An emulator ASGI app for `settings` (defaults: in memory, default project, instance and no topics)."""
    return EmulatorApp(settings or Settings(data_dir=None), **kwargs)
