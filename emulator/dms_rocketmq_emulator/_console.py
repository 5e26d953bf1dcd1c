"""The web console: a page at `/_emulator/console` to look at topics, queues and messages.

The page is plain HTML, CSS and JavaScript shipped in the package (`console/`): no CDN, no build step. It
reads JSON endpoints under `/_emulator/console/api/`:

- `overview`: the instances, their topics and per queue the min and max offset and the message count, the
  store, authentication, the faults armed now and health;
- `messages`: the public `ListMessages` itself (`ListMessagesHandler.answer`: the same rules, the same store
  query, the same answer), for the instance named by `instance_id`;
- `message`: one message by id, with the `dms-rocketmq send` line that would send it again;
- `tail`: server-sent events, one per message as the store keeps it (`MessageFeed`, an observer of the
  store while a tail is open: nothing polls);
- `reset`, `faults` (POST): the control API's own handlers, only with `--console-actions`.

Safe by construction: every response carries a Content-Security-Policy that allows scripts from this
origin only (no inline script, no eval) and the page writes data with `textContent` alone; the console is
not served when the emulator listens beyond loopback unless `--console` says so, and then (on loopback) it
answers only requests whose Host names this machine, so that a web page elsewhere cannot rebind a name of
its own to 127.0.0.1 and read the messages; actions are refused by the server without
`--console-actions`, and need a header a cross-site form cannot send. Errors are the house's Huawei-shaped
bodies with `X-Request-Id`.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import json
import shlex
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from dms_rocketmq_api.spec_rules import TAGS_PROPERTY
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from . import _exceptions as errors
from ._config import Settings, is_loopback
from ._control import ControlAPI, error_json, json_response
from ._exceptions import FAULT_STATUSES, DMSError
from ._query import message_keys, message_view
from ._query_responses import ListMessagesHandler
from ._responses import RequestIds
from ._store import DurableStore, Store
from ._version import __version__
from .models import Registry, StoredMessage

__all__ = ["CONSOLE_PATH", "Console", "MessageFeed", "console_line", "send_command"]

#: Where the page is served.
CONSOLE_PATH = "/_emulator/console"
_API = CONSOLE_PATH + "/api"
_ASSETS = {"console.js": "text/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"}
#: Scripts and styles from this origin only: no inline script or style, no eval, nothing from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
#: The header the page's action requests carry: a cross-site form cannot send it, and a cross-site script
#: that tries needs a CORS preflight, which the console never grants.
ACTION_HEADER = "X-DMS-Console"
#: Messages a live tail holds for a browser that reads slower than they arrive; past it they are dropped
#: (and counted in a `dropped` event) rather than held without bound.
TAIL_BUFFER = 1000
#: Seconds between keep-alive comments on an idle tail (they also find browsers that went away).
TAIL_KEEPALIVE_S = 15.0
#: The largest body `send_command` passes as `--body`: Linux takes at most 128 KiB in one argument.
_MAX_ARGUMENT_BYTES = 100_000


def _console_off() -> DMSError:
    return DMSError(
        403,
        "DMS.00403001",
        "The console is off: the emulator listens beyond loopback (or was started with --no-console); "
        "start it with --console to serve the console there.",
    )


def _foreign_host(host: str) -> DMSError:
    return DMSError(
        403,
        "DMS.00403002",
        f"The console answers only requests addressed to a loopback name (Host {host!r} is not one); "
        "start the emulator with --console to serve it under other names.",
    )


def _read_only() -> DMSError:
    return DMSError(
        403,
        "DMS.00403003",
        "The console is read-only: start the emulator with --console-actions to reset it or arm faults from the page.",
    )


def _cross_site() -> DMSError:
    return DMSError(
        403,
        "DMS.00403004",
        f"A console action needs the {ACTION_HEADER} header and a request from the console's own page.",
    )


def _message_not_found() -> DMSError:
    return DMSError(404, "DMS.00404050", "The message does not exist in this topic.")


def console_line(settings: Settings, endpoint: str) -> str:
    """The banner's description of the console: its URL and what it may do, or why it is off."""
    if not settings.console_enabled:
        return f"off: listening on {settings.host}, beyond loopback (give --console to serve it there)"
    mode = "reset and faults allowed" if settings.console_actions else "read-only; --console-actions allows reset"
    return f"{endpoint}{CONSOLE_PATH} ({mode})"


def send_command(message: StoredMessage) -> str | None:
    """The `dms-rocketmq send` line (POSIX shell) that sends `message` again: same instance, topic, body, keys and tag.

    A body too long for one argument goes in a here-document on stdin (the command removes the newline that
    ends it). None when no shell line can carry the body: a NUL character, or (on stdin) a final carriage
    return, which the command would remove too.
    """
    # `--flag=value`, never `--flag value`: argparse would take a value that starts with "-" for a flag.
    words = ["dms-rocketmq", "send", f"--instance-id={message.instance_id}", f"--topic={message.topic}"]
    words += [f"--key={key}" for key in message_keys(message.properties)]
    tag = next((value for name, value in message.properties if name == TAGS_PROPERTY and value), None)
    if tag is not None:
        words.append(f"--tag={tag}")
    body = message.body
    if "\0" in body:
        return None
    if len(body.encode("utf-8")) <= _MAX_ARGUMENT_BYTES:
        return shlex.join([*words, f"--body={body}"])
    if body.endswith("\r"):
        return None
    lines = set(body.split("\n"))
    delimiter = "DMS_BODY"
    while delimiter in lines:
        delimiter += "_"
    return f"{shlex.join(words)} <<'{delimiter}'\n{body}\n{delimiter}"


class _Subscription:
    """One live tail: the messages of one topic (or every topic) of one instance, as they are kept."""

    def __init__(self, instance_id: str, topic: str | None) -> None:
        self.instance_id = instance_id
        self.topic = topic
        self.queue: asyncio.Queue[StoredMessage | None] = asyncio.Queue(TAIL_BUFFER)
        #: Messages that did not fit in the queue since the last `dropped` event.
        self.dropped = 0

    def offer(self, message: StoredMessage) -> None:
        if message.instance_id != self.instance_id or (self.topic is not None and message.topic != self.topic):
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1

    def end(self) -> None:
        # The end marker must get through even to a full queue: make room for it.
        while self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class MessageFeed:
    """Every message the store keeps, handed to the live tails once kept (after the commit).

    While at least one tail is open the feed is subscribed to the store (`Store.subscribe`), so a send costs
    nothing extra while nobody watches. The store calls it on the event loop's thread, as the tails run.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._subscriptions: set[_Subscription] = set()
        self._closed = False

    @property
    def watching(self) -> bool:
        """Whether a tail is open (and so the feed is subscribed to the store)."""
        return bool(self._subscriptions)

    def subscribe(self, instance_id: str, topic: str | None) -> _Subscription:
        """A new tail; it gets every message kept from now on until `unsubscribe` (or `close`)."""
        subscription = _Subscription(instance_id, topic)
        if self._closed:
            subscription.end()
            return subscription
        if not self._subscriptions:
            self._store.subscribe(self._offer)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: _Subscription) -> None:
        """Stop feeding `subscription`; the last one gone, the feed leaves the store."""
        if subscription not in self._subscriptions:
            return
        self._subscriptions.discard(subscription)
        if not self._subscriptions:
            self._store.unsubscribe(self._offer)

    def close(self) -> None:
        """End every tail now and refuse new ones (the server is stopping)."""
        self._closed = True
        for subscription in list(self._subscriptions):
            subscription.end()
            self.unsubscribe(subscription)

    def _offer(self, message: StoredMessage) -> None:
        for subscription in tuple(self._subscriptions):
            subscription.offer(message)


Handler = Callable[[Request], Awaitable[Response]]


class Console:
    """The console's routes: the page, its two assets and its JSON and event-stream endpoints."""

    def __init__(
        self,
        *,
        settings: Settings,
        registry: Registry,
        store: Store,
        control: ControlAPI,
        list_messages: ListMessagesHandler,
        request_ids: RequestIds,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.store = store
        self.control = control
        self.list_messages = list_messages
        self.request_ids = request_ids
        self.feed = MessageFeed(store)
        files = importlib.resources.files(__package__).joinpath("console")
        self._page = files.joinpath("index.html").read_bytes()
        self._assets = {name: files.joinpath(name).read_bytes() for name in _ASSETS}

    def routes(self) -> list[Route]:
        """The Starlette routes of the console (every one refuses while the console is off)."""
        return [
            Route(CONSOLE_PATH, self._guarded(self.page), methods=["GET"]),
            Route(CONSOLE_PATH + "/", self._guarded(self.page), methods=["GET"]),
            *(Route(f"{CONSOLE_PATH}/{name}", self._guarded(self.asset), methods=["GET"]) for name in _ASSETS),
            Route(_API + "/overview", self._guarded(self.overview), methods=["GET"]),
            Route(_API + "/messages", self._guarded(self.messages), methods=["GET"]),
            Route(_API + "/message", self._guarded(self.message), methods=["GET"]),
            Route(_API + "/tail", self._guarded(self.tail), methods=["GET"]),
            Route(_API + "/reset", self._guarded(self.reset, action=True), methods=["POST"]),
            Route(_API + "/faults", self._guarded(self.faults, action=True), methods=["POST"]),
        ]

    def close_streams(self) -> None:
        """End every live tail (the server is stopping: a graceful stop waits for open responses)."""
        self.feed.close()

    # -- gatekeeping ----------------------------------------------------------------------------------
    def _guarded(self, handler: Handler, *, action: bool = False) -> Handler:
        async def guarded(request: Request) -> Response:
            try:
                self._check(request, action=action)
                response = await handler(request)
            except DMSError as exc:
                response = error_json(exc, self.request_ids.next())
            for name, value in _SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return guarded

    def _check(self, request: Request, *, action: bool) -> None:
        if not self.settings.console_enabled:
            raise _console_off()
        if self.settings.console is None:
            # Served because the emulator listens on loopback: only to requests that name this machine.
            host = request.headers.get("host", "")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if not is_loopback(name):
                raise _foreign_host(host)
        if not action:
            return
        if not self.settings.console_actions:
            raise _read_only()
        if request.headers.get(ACTION_HEADER) != "1":
            raise _cross_site()
        origin = request.headers.get("origin")
        if origin is not None and urllib.parse.urlsplit(origin).netloc != request.headers.get("host"):
            raise _cross_site()
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            raise _cross_site()

    def _instance_id(self, request: Request) -> str:
        """The instance a request names (`instance_id`, once), or the first configured one."""
        given = request.query_params.getlist("instance_id")
        if len(given) > 1:
            raise errors.invalid_parameter("instance_id")
        if not given:
            return next(iter(self.registry.instances))
        instance = self.registry.instance(self.registry.project_id, given[0])
        return instance.instance_id

    # -- the page -------------------------------------------------------------------------------------
    async def page(self, request: Request) -> Response:
        """The console's HTML (scripts and styles come from the two assets)."""
        return Response(self._page, media_type="text/html; charset=utf-8")

    async def asset(self, request: Request) -> Response:
        """`console.js` or `console.css`."""
        name = request.url.path.rsplit("/", 1)[1]
        return Response(self._assets[name], headers={"Content-Type": _ASSETS[name]})

    # -- reading --------------------------------------------------------------------------------------
    async def overview(self, request: Request) -> Response:
        """The instances, topics, queues (offsets and counts), store, authentication, faults and health."""
        store = self.store
        document = {
            "version": __version__,
            "project_id": self.registry.project_id,
            "auth": self.control.auth_enabled,
            "auto_create_topics": self.registry.auto_create_topics,
            "store": {
                "kind": "durable" if isinstance(store, DurableStore) else "memory",
                "description": store.description,
                "path": str(store.path) if isinstance(store, DurableStore) else None,
                "stats": dict(getattr(store, "stats", {})),
            },
            "health": {"status": "ok"} if store.broken is None else {"status": "broken", "reason": store.broken},
            "faults": self.control.faults.as_json(),
            # What the page needs to arm faults: the statuses the control API takes and the action header.
            "console": {
                "actions": self.settings.console_actions,
                "action_header": ACTION_HEADER,
                "fault_statuses": sorted(FAULT_STATUSES),
            },
            "instances": [
                {
                    "instance_id": instance.instance_id,
                    "broker_name": instance.broker_name,
                    "topics": [
                        _topic_overview(store, instance.instance_id, topic.name, topic.queues, topic.auto_created)
                        for topic in instance.topics.values()
                    ],
                }
                for instance in self.registry.instances.values()
            ],
        }
        return json_response(document, self.request_ids.next())

    async def messages(self, request: Request) -> Response:
        """One page of `ListMessages` for the instance `instance_id`: its parameters, rules and answer."""
        instance_id = self._instance_id(request)
        query_string = request.scope.get("query_string", b"").decode("utf-8", "replace")
        answer = await self.list_messages.answer(self.registry.project_id, instance_id, query_string)
        return json_response(answer, self.request_ids.next())

    async def message(self, request: Request) -> Response:
        """`{"message": Message, "send_command": "dms-rocketmq send ..."}` for `topic` and `msg_id`."""
        instance_id = self._instance_id(request)
        params = request.query_params
        msg_id = params.get("msg_id", "")
        if not msg_id:
            raise errors.invalid_parameter("msg_id")
        query = urllib.parse.urlencode({"topic": params.get("topic", ""), "msg_id": msg_id, "limit": "1"})
        _, found = await self.list_messages.search(self.registry.project_id, instance_id, query)
        if not found:
            raise _message_not_found()
        stored = found[0]
        return json_response(
            {"message": message_view(stored), "send_command": send_command(stored)}, self.request_ids.next()
        )

    async def tail(self, request: Request) -> Response:
        """Server-sent events: `message` (a `Message`) for each message kept from now on, `dropped` when a slow
        reader missed some, `closed` when the emulator stops."""
        instance_id = self._instance_id(request)
        topic = request.query_params.get("topic") or None
        if topic is not None and topic not in self.registry.instances[instance_id].topics:
            raise errors.topic_not_found()
        return StreamingResponse(
            self._events(instance_id, topic),
            media_type="text/event-stream",
            headers={"X-Request-Id": self.request_ids.next(), "X-Accel-Buffering": "no"},
        )

    async def _events(self, instance_id: str, topic: str | None) -> AsyncIterator[str]:
        # Subscribed here, not in `tail`: a response that is never streamed (the client left first) then
        # never subscribes, rather than leaving a subscription (and the store wrapped) behind for good.
        subscription = self.feed.subscribe(instance_id, topic)
        try:
            # The browser reconnects a second after a lost stream; `ready` tells the page the tail is live.
            yield "retry: 1000\nevent: ready\ndata: {}\n\n"
            while True:
                try:
                    message = await asyncio.wait_for(subscription.queue.get(), TAIL_KEEPALIVE_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if subscription.dropped:
                    yield f"event: dropped\ndata: {json.dumps({'count': subscription.dropped})}\n\n"
                    subscription.dropped = 0
                if message is None:
                    yield "event: closed\ndata: {}\n\n"
                    return
                yield f"event: message\ndata: {_dumps(message_view(message))}\n\n"
        finally:
            self.feed.unsubscribe(subscription)

    # -- actions (only with --console-actions) ------------------------------------------------------
    async def reset(self, request: Request) -> Response:
        """The control API's reset."""
        return await self.control.reset(request)

    async def faults(self, request: Request) -> Response:
        """The control API's fault injection (POST)."""
        return await self.control.faults_endpoint(request)


def _dumps(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _topic_overview(store: Store, instance_id: str, name: str, queues: int, auto_created: bool) -> dict[str, Any]:
    """A topic and its queues (`Store.queue_offsets`; a queue nothing was sent to yet is empty at 0)."""
    placed = store.queue_offsets(instance_id, name)
    rows = [
        {"queue_id": q.queue_id, "min_offset": q.min_offset, "max_offset": q.max_offset, "messages": q.messages}
        for q in placed
    ]
    rows += [
        {"queue_id": queue_id, "min_offset": 0, "max_offset": 0, "messages": 0} for queue_id in range(len(rows), queues)
    ]
    return {
        "name": name,
        "queues": queues,
        "auto_created": auto_created,
        "messages": sum(row["messages"] for row in rows),
        "queue_offsets": rows,
    }
